package placement

import (
	"slices"
	"sync"
	"time"
)

// summary is what one node publishes of its invoker.
type summary struct {
	Node string `json:"n"`
	// Idle lists the pools with idle instances.
	Idle []pool `json:"i,omitempty"`
	// Running counts the running invocations of each function, by name.
	Running map[string]int `json:"r,omitempty"`
	// Unreserved counts the running invocations of functions without a
	// reservation.
	Unreserved int `json:"u,omitempty"`
}

// pool is one pool's idle and provisioned instances in a summary.
type pool struct {
	Key  string `json:"k"` // PoolKey
	Rev  string `json:"v"` // RevisionID
	Idle int    `json:"n,omitempty"`
	// Provisioned instances asked of the node, and ready.
	Wanted int `json:"pw,omitempty"`
	Ready  int `json:"pr,omitempty"`
}

// peer is what the directory knows of another node.
type peer struct {
	idle       map[string]pool // by key
	running    map[string]int
	unreserved int
	seen       time.Time
	// inflight counts, by pool, the invocations this node has forwarded
	// to the peer's idle instances and not yet had answered: those
	// instances are taken, whatever the peer's last summary says.
	inflight map[string]int
}

// members is the cluster as this node sees it: the live nodes, sorted by
// name, and this node's place among them.
type members struct {
	names []string
	self  int
}

// directory holds the other nodes' summaries.
type directory struct {
	self string
	ttl  time.Duration

	mu    sync.Mutex
	peers map[string]*peer // guarded by mu; by node name
}

func newDirectory(self string, ttl time.Duration) *directory {
	return &directory{self: self, ttl: ttl, peers: map[string]*peer{}}
}

// put records a summary heard at now and reports whether it came from a
// node the directory did not know.
func (d *directory) put(s *summary, now time.Time) (joined bool) {
	if s.Node == "" || s.Node == d.self {
		return false
	}
	p := &peer{idle: make(map[string]pool, len(s.Idle)), running: s.Running, unreserved: s.Unreserved, seen: now}
	for _, x := range s.Idle {
		p.idle[x.Key] = x
	}
	d.mu.Lock()
	old, known := d.peers[s.Node]
	if known {
		p.inflight = old.inflight
	}
	d.peers[s.Node] = p
	d.mu.Unlock()
	return !known
}

// expire forgets the nodes not heard from since now less the TTL and
// reports whether it forgot any.
func (d *directory) expire(now time.Time) (left bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for name, p := range d.peers {
		if now.Sub(p.seen) > d.ttl {
			delete(d.peers, name)
			left = true
		}
	}
	return left
}

// forget removes node and reports whether it was known.
func (d *directory) forget(node string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, ok := d.peers[node]
	delete(d.peers, node)
	return ok
}

// live reports whether node is known (heard from within the TTL).
func (d *directory) live(node string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, ok := d.peers[node]
	return ok
}

// members returns the live nodes and this one, sorted by name.
func (d *directory) members() members {
	d.mu.Lock()
	names := make([]string, 0, len(d.peers)+1)
	for name := range d.peers {
		names = append(names, name)
	}
	d.mu.Unlock()
	names = append(names, d.self)
	slices.Sort(names)
	return members{names: names, self: slices.Index(names, d.self)}
}

// warm returns a node that advertises an idle instance of pool key at
// revision rev, the one with the most not taken by invocations this node
// forwarded there, and counts one more taken until release, so that
// invocations arriving together spread over the instances advertised
// rather than all go to one; "" when none does.
func (d *directory) warm(key, rev string) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var best *peer
	name, most := "", 0
	for n, p := range d.peers {
		x, ok := p.idle[key]
		if !ok || x.Rev != rev {
			continue
		}
		if free := x.Idle - p.inflight[key]; free > most {
			best, name, most = p, n, free
		}
	}
	if best != nil {
		if best.inflight == nil {
			best.inflight = map[string]int{}
		}
		best.inflight[key]++
	}
	return name
}

// provisioned sums the provisioned instances of pool key the other nodes
// were asked for and have ready.
func (d *directory) provisioned(key string) (wanted, ready int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, p := range d.peers {
		if x, ok := p.idle[key]; ok {
			wanted, ready = wanted+x.Wanted, ready+x.Ready
		}
	}
	return wanted, ready
}

// release ends what warm counted taken at node.
func (d *directory) release(node, key string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if p := d.peers[node]; p != nil && p.inflight[key] > 0 {
		if p.inflight[key]--; p.inflight[key] == 0 {
			delete(p.inflight, key)
		}
	}
}

// roomy returns the member whose share of a limit leaves the most room
// by its last summary and the invocations this node forwarded there
// since: one with room if any, else the least over its share, since a
// summary may be up to an interval old and the member decides for
// itself; "" when no other member has a share. fn names the function;
// reserved is its reservation, or nil for the account's unreserved
// concurrency, of which unreserved is left after the reservations. except
// is a node not to pick.
func (d *directory) roomy(m members, fn string, reserved *int, unreserved int, except string) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	best, room := "", 0
	for i, name := range m.names {
		p := d.peers[name]
		if p == nil || name == except {
			continue
		}
		var share, used int
		if reserved != nil {
			share, used = Share(*reserved, i, len(m.names)), p.running[fn]
		} else {
			share, used = Share(unreserved, i, len(m.names)), p.unreserved
		}
		if share == 0 {
			continue
		}
		if r := share - used; best == "" || r > room {
			best, room = name, r
		}
	}
	return best
}

// started counts an invocation of fn (reserved or not) forwarded to node
// as running there until ended, whether or not its next summary counts it
// yet.
func (d *directory) started(node, fn string, reserved bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	p := d.peers[node]
	if p == nil {
		return
	}
	if p.running == nil {
		p.running = map[string]int{}
	}
	p.running[fn]++
	if !reserved {
		p.unreserved++
	}
}

// ended counts an invocation forwarded to node as ended: whether node's
// last summary counted it or started did, it runs no more.
func (d *directory) ended(node, fn string, reserved bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	p := d.peers[node]
	if p == nil {
		return
	}
	if p.running[fn] > 0 {
		p.running[fn]--
	}
	if !reserved && p.unreserved > 0 {
		p.unreserved--
	}
}
