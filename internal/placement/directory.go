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

// pool is one pool's idle instances in a summary.
type pool struct {
	Key  string `json:"k"` // PoolKey
	Rev  string `json:"v"` // RevisionID
	Idle int    `json:"n"`
}

// peer is what the directory knows of another node.
type peer struct {
	idle       map[string]pool // by key
	running    map[string]int
	unreserved int
	seen       time.Time
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
	_, known := d.peers[s.Node]
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
// revision rev, the one with the most, and counts one of them taken, so
// that invocations arriving together before the next summary spread over
// the instances advertised rather than all go to one; "" when none does.
func (d *directory) warm(key, rev string) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	best, most := "", 0
	for name, p := range d.peers {
		if x, ok := p.idle[key]; ok && x.Rev == rev && x.Idle > most {
			best, most = name, x.Idle
		}
	}
	if best != "" {
		x := d.peers[best].idle[key]
		x.Idle--
		d.peers[best].idle[key] = x
	}
	return best
}

// roomy returns a member whose share of a limit leaves room by its last
// summary, and counts one more invocation running there; "" when none
// does. fn names the function; reserved is its reservation, or nil for
// the account's unreserved concurrency, of which unreserved is left
// after the reservations. except is a node not to pick.
func (d *directory) roomy(m members, fn string, reserved *int, unreserved int, except string) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	for i, name := range m.names {
		p := d.peers[name]
		if p == nil || name == except {
			continue
		}
		if reserved != nil {
			if p.running[fn] < Share(*reserved, i, len(m.names)) {
				if p.running == nil {
					p.running = map[string]int{}
				}
				p.running[fn]++
				return name
			}
		} else if p.unreserved < Share(unreserved, i, len(m.names)) {
			p.unreserved++
			return name
		}
	}
	return ""
}
