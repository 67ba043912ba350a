package placement

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/aloft-dev/aloft/internal/fault"
	"github.com/aloft-dev/aloft/internal/function"
	"github.com/aloft-dev/aloft/internal/invoke"
)

// Local is this node's invoker, as placement uses it.
type Local interface {
	Invoke(ctx context.Context, req *invoke.Invocation) (*invoke.Response, error)
	// IdleFor reports the idle instances an invocation of cfg would find.
	IdleFor(cfg *function.Config) int
	// IdlePools appends the pools with idle instances to dst.
	IdlePools(dst []invoke.PoolIdle) []invoke.PoolIdle
	// Snapshot reports each function's running invocations, and those of
	// functions without a reservation.
	Snapshot() (fns []invoke.FunctionState, unreserved int)
}

// Deps are a Placer's collaborators and settings.
type Deps struct {
	Conn  *nats.Conn // the backbone's connection
	Node  string     // this node's name, unique in the cluster
	Local Local
	// Resolve returns a request that invokes version (a version number
	// or $LATEST) of the named function as this node's registry has it,
	// for forwarded invocations.
	Resolve func(name, version string) (*invoke.Invocation, error)
	// ConcurrencyLimit is the account's concurrent executions in the whole
	// cluster (0: 1,000), as the local invoker was given it.
	ConcurrencyLimit int
	// OnMembers, when set, is called (on a goroutine of the Placer's)
	// whenever the cluster's live nodes change, with the new members.
	OnMembers func(names []string, self int)
	// Every, when set, is called about once a second on the Placer's
	// goroutine until Close, for the wiring's periodic chores.
	Every  func()
	Logger *slog.Logger
	// Interval is how often the summary is looked at (0: 200 ms), TTL how
	// long a silent node is remembered (0: three seconds), StartWait how
	// long a forward waits to be started (0: one second).
	Interval, TTL, StartWait time.Duration
}

// Placer runs invocations where the cluster has them warm, within the
// cluster's concurrency limits. Its Invoke takes the place of the local
// invoker's for the APIs, the gateway and the event sources.
type Placer struct {
	d     Deps
	dir   *directory
	view  atomic.Pointer[members]
	reply string // the prefix of this node's answer subjects
	seq   atomic.Uint64

	mu      sync.Mutex
	waiting map[string]chan *nats.Msg // guarded by mu; by answer subject's last token
	claimed sync.Map                  // of *atomic.Int32 by pool key: idle instances claimed here (Invoke)
	last    []byte                    // guarded by mu: the summary published last
	lastAt  time.Time                 // guarded by mu: when
	closed  bool                      // guarded by mu: no more invocations for other nodes

	cb     sync.RWMutex // held to call OnMembers
	cbDone bool         // guarded by cb: Close was called

	subs   []*nats.Subscription
	ctx    context.Context // ends at Close, for invocations run for other nodes
	cancel context.CancelFunc
	stop   chan struct{}
	kicked chan struct{}  // asks for a summary before the next interval
	wg     sync.WaitGroup // the publisher and invocations run for other nodes
	once   sync.Once

	// Counters, for tests and benchmarks.
	forwards, fallbacks, served atomic.Int64
}

// New returns a Placer; Start begins publishing and serving.
func New(d Deps) (*Placer, error) {
	if d.Conn == nil || d.Local == nil || d.Resolve == nil || d.Node == "" {
		return nil, errors.New("placement: Conn, Local, Resolve and Node are required")
	}
	if d.ConcurrencyLimit <= 0 {
		d.ConcurrencyLimit = 1000
	}
	if d.Interval <= 0 {
		d.Interval = 100 * time.Millisecond
	}
	if d.TTL <= 0 {
		d.TTL = 3 * time.Second
	}
	if d.StartWait <= 0 {
		d.StartWait = time.Second
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	p := &Placer{d: d, dir: newDirectory(d.Node, d.TTL), waiting: map[string]chan *nats.Msg{}, stop: make(chan struct{}), kicked: make(chan struct{}, 1)}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	m := p.dir.members()
	p.view.Store(&m)
	return p, nil
}

// Start subscribes to the directory, to forwards for this node and to
// their answers, asks the other nodes for their summaries, and starts
// publishing this node's.
func (p *Placer) Start() error {
	nc := p.d.Conn
	p.reply = nats.NewInbox() + "." // answers come to <inbox>.<sequence>
	for _, s := range []struct {
		subject string
		h       nats.MsgHandler
	}{
		{summarySubject + "*", p.onSummary},
		{helloSubject, p.onHello},
		{byeSubject, p.onBye},
		{invokeSubject + p.d.Node, p.onInvoke},
		{p.reply + "*", p.onAnswer},
	} {
		sub, err := nc.Subscribe(s.subject, s.h)
		if err != nil {
			p.unsubscribe()
			return fmt.Errorf("placement: subscribe to %s: %w", s.subject, err)
		}
		p.subs = append(p.subs, sub)
	}
	if err := nc.Flush(); err != nil {
		p.unsubscribe()
		return fmt.Errorf("placement: %w", err)
	}
	p.publish(true)
	nc.Publish(helloSubject, []byte(p.d.Node))
	p.wg.Add(1)
	go p.run()
	return nil
}

// Close stops publishing and serving forwards, and waits for the
// invocations run for other nodes to end or ctx to.
func (p *Placer) Close(ctx context.Context) error {
	p.once.Do(func() {
		p.mu.Lock()
		p.closed = true
		p.mu.Unlock()
		p.cb.Lock() // no OnMembers call after Close
		p.cbDone = true
		p.cb.Unlock()
		close(p.stop)
		p.unsubscribe()
		// The others forget this node now rather than after the TTL.
		p.d.Conn.Publish(byeSubject, []byte(p.d.Node))
		p.d.Conn.Flush()
	})
	done := make(chan struct{})
	go func() { p.wg.Wait(); close(done) }()
	select {
	case <-done:
		p.cancel()
		return nil
	case <-ctx.Done():
		p.cancel()
		<-done
		return fmt.Errorf("placement: close: %w", ctx.Err())
	}
}

func (p *Placer) unsubscribe() {
	for _, s := range p.subs {
		s.Unsubscribe()
	}
	p.subs = nil
}

// Members returns the cluster's live nodes, sorted, and this node's
// index among them.
func (p *Placer) Members() (names []string, self int) {
	m := p.view.Load()
	return m.names, m.self
}

// Stats counts forwards sent, forwards that ran here instead, and
// invocations run for other nodes.
func (p *Placer) Stats() (forwards, fallbacks, served int64) {
	return p.forwards.Load(), p.fallbacks.Load(), p.served.Load()
}

// kick asks run for a summary now, as an instance may have started: a
// cold start costs far more than the message, and the sooner the others
// know of the instance, the fewer start their own.
func (p *Placer) kick() {
	select {
	case p.kicked <- struct{}{}:
	default:
	}
}

// run publishes this node's summary and expires silent nodes until Close.
func (p *Placer) run() {
	defer p.wg.Done()
	t := time.NewTicker(p.d.Interval)
	defer t.Stop()
	var every time.Time
	var soon <-chan time.Time // a look again after a kick
	tries := 0
	for {
		select {
		case <-p.stop:
			return
		case <-p.kicked:
			// The instance is given back to its pool as its invocation
			// ends, perhaps a moment after: look again shortly until the
			// summary changes.
			if !p.publish(false) {
				soon, tries = time.After(2*time.Millisecond), 10
			}
		case <-soon:
			soon = nil
			if tries--; !p.publish(false) && tries > 0 {
				soon = time.After(2 * time.Millisecond)
			}
		case now := <-t.C:
			p.publish(false)
			if p.dir.expire(now) {
				p.membersChanged()
			}
			if p.d.Every != nil && now.Sub(every) >= time.Second {
				every = now
				p.d.Every()
			}
		}
	}
}

// publish sends this node's summary when it changed, when a second has
// passed since the last, or when force is set, and reports whether it
// sent one.
func (p *Placer) publish(force bool) bool {
	b := p.summary()
	now := time.Now()
	p.mu.Lock()
	same := bytes.Equal(b, p.last) && now.Sub(p.lastAt) < time.Second
	if !same || force {
		p.last, p.lastAt = b, now
	}
	p.mu.Unlock()
	if same && !force {
		return false
	}
	if err := p.d.Conn.Publish(summarySubject+p.d.Node, b); err != nil {
		p.d.Logger.Debug("could not publish the placement summary", "err", err)
	}
	return true
}

// summary encodes this node's summary.
func (p *Placer) summary() []byte {
	s := summary{Node: p.d.Node}
	for _, x := range p.d.Local.IdlePools(nil) {
		s.Idle = append(s.Idle, pool{Key: x.Key, Rev: x.RevisionID, Idle: x.Idle, Wanted: x.ProvisionedWanted, Ready: x.ProvisionedReady})
	}
	fns, unreserved := p.d.Local.Snapshot()
	for _, f := range fns {
		if f.Running > 0 {
			if s.Running == nil {
				s.Running = map[string]int{}
			}
			s.Running[f.Function] = f.Running
		}
	}
	s.Unreserved = unreserved
	// Sorted, so that an unchanged summary encodes the same.
	slices.SortFunc(s.Idle, func(a, b pool) int { return strings.Compare(a.Key, b.Key) })
	b, _ := json.Marshal(&s) // maps are encoded sorted
	return b
}

// onSummary records another node's summary.
func (p *Placer) onSummary(m *nats.Msg) {
	var s summary
	if err := json.Unmarshal(m.Data, &s); err != nil {
		p.d.Logger.Debug("a placement summary could not be read", "subject", m.Subject, "err", err)
		return
	}
	if p.dir.put(&s, time.Now()) {
		p.membersChanged()
	}
}

// onHello answers a starting node with this node's summary.
func (p *Placer) onHello(m *nats.Msg) {
	if string(m.Data) != p.d.Node {
		p.publish(true)
	}
}

// membersChanged takes the directory's live nodes as the cluster's
// members and tells OnMembers when they differ from the last.
func (p *Placer) membersChanged() {
	m := p.dir.members()
	if old := p.view.Load(); slices.Equal(old.names, m.names) {
		return
	}
	p.view.Store(&m)
	p.d.Logger.Info("cluster members for placement", "members", m.names)
	if p.d.OnMembers != nil {
		p.cb.RLock()
		if !p.cbDone {
			p.d.OnMembers(m.names, m.self)
		}
		p.cb.RUnlock()
	}
}

// onBye forgets a node that is stopping.
func (p *Placer) onBye(m *nats.Msg) {
	if node := string(m.Data); node != p.d.Node && p.dir.forget(node) {
		p.membersChanged()
	}
}

// ShareOf returns this node's share of limit among the cluster's members.
func (p *Placer) ShareOf(limit int) int {
	m := p.view.Load()
	return Share(limit, m.self, len(m.names))
}

// Provisioned reports the provisioned instances of pool key (PoolKey)
// the other nodes were asked for and have ready, by their last summaries.
func (p *Placer) Provisioned(key string) (requested, ready int) {
	return p.dir.provisioned(key)
}

// Invoke runs req where the cluster has an idle instance of it, or here;
// see the package doc.
func (p *Placer) Invoke(ctx context.Context, req *invoke.Invocation) (*invoke.Response, error) {
	m := p.view.Load()
	if len(m.names) < 2 || req.Stream != nil {
		return p.runLocal(ctx, req, m)
	}
	var tried string
	// Invocations arriving together each claim one of this node's idle
	// instances while they run here; those that find none claimable look
	// for one elsewhere. (A claim outlives the instance's taking, so for a
	// moment this node may look one instance short and forward.)
	key := invoke.PoolKey(req.Config)
	claims := p.claims(key)
	started := false // an instance is started here for req
	if p.d.Local.IdleFor(req.Config) >= int(claims.Add(1)) {
		defer claims.Add(-1)
	} else {
		claims.Add(-1)
		started = true
		if node := p.dir.warm(key, req.Config.RevisionID); node != "" {
			tried = node
			resp, err, ran := p.forward(ctx, node, req)
			p.dir.release(node, key)
			if ran && fault.KindOf(err) != fault.Throttled {
				return resp, err
			}
			if !ran {
				p.d.Logger.Info("a forwarded invocation was not started; running it here", "node", node, "function", req.Config.FunctionName)
				// In the rare case that the other node started it after
				// all, the two runs must not share a request id (nor
				// the trace segments made from it).
				req.RequestID = ""
			}
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
		}
	}
	resp, err := p.runLocal(ctx, req, m)
	if fault.KindOf(err) != fault.Throttled {
		if started {
			p.kick() // the others learn of the new instance at once
		}
		return resp, err
	}
	// This node's share is used up: another's may not be.
	var node string
	if req.Reserved != nil {
		node = p.dir.roomy(*m, req.Config.FunctionName, req.Reserved, 0, tried)
	} else {
		node = p.dir.roomy(*m, req.Config.FunctionName, nil, p.d.ConcurrencyLimit-req.ReservedTotal, tried)
	}
	if node == "" {
		return resp, err
	}
	if fresp, ferr, ran := p.forward(ctx, node, req); ran {
		return fresp, ferr
	}
	p.d.Logger.Info("a forwarded invocation was not started; throttled", "node", node, "function", req.Config.FunctionName)
	return resp, err
}

// claims returns the count of this node's idle instances of pool key
// claimed by invocations running here.
func (p *Placer) claims(key string) *atomic.Int32 {
	if c, ok := p.claimed.Load(key); ok {
		return c.(*atomic.Int32)
	}
	c, _ := p.claimed.LoadOrStore(key, new(atomic.Int32))
	return c.(*atomic.Int32)
}

// runLocal runs req on this node's invoker within this node's shares of
// the function's reservation and of the account's unreserved
// concurrency.
func (p *Placer) runLocal(ctx context.Context, req *invoke.Invocation, m *members) (*invoke.Response, error) {
	n := len(m.names)
	if n < 2 {
		return p.d.Local.Invoke(ctx, req)
	}
	r := *req
	if req.Reserved != nil {
		share := Share(*req.Reserved, m.self, n)
		r.Reserved = &share
	} else {
		// The invoker allows ConcurrencyLimit-ReservedTotal unreserved
		// invocations: make that this node's share.
		share := Share(p.d.ConcurrencyLimit-req.ReservedTotal, m.self, n)
		r.ReservedTotal = p.d.ConcurrencyLimit - share
	}
	return p.d.Local.Invoke(ctx, &r)
}

// forward runs req on node. ran is false when node did not start it (no
// node listens, no answer in time, it refused, or it was forgotten while
// it ran): the caller then runs it elsewhere.
func (p *Placer) forward(ctx context.Context, node string, req *invoke.Invocation) (resp *invoke.Response, err error, ran bool) {
	if len(req.Payload)+64<<10 > int(p.d.Conn.MaxPayload()) {
		return nil, nil, false // too big for the backbone: run it here
	}
	p.forwards.Add(1)
	ran = true
	reserved := req.Reserved != nil
	p.dir.started(node, req.Config.FunctionName, reserved)
	defer p.dir.ended(node, req.Config.FunctionName, reserved)
	defer func() {
		if !ran {
			p.fallbacks.Add(1)
		}
	}()
	f := forwarded{
		From: p.d.Node, Function: req.Config.FunctionName, Version: req.Config.Version, Revision: req.Config.RevisionID,
		Region: req.Region, InvokedARN: req.InvokedARN, ClientContext: req.ClientContext, Tail: req.Tail, TraceID: req.TraceID,
		RequestID: req.RequestID, StartBy: time.Now().Add(p.d.StartWait).UnixMilli(),
	}
	h, err := header(&f)
	if err != nil {
		return nil, nil, false
	}
	token := strconv.FormatUint(p.seq.Add(1), 36)
	ch := make(chan *nats.Msg, 2)
	p.mu.Lock()
	p.waiting[token] = ch
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.waiting, token)
		p.mu.Unlock()
	}()
	if err := p.d.Conn.PublishMsg(&nats.Msg{Subject: invokeSubject + node, Reply: p.reply + token, Header: h, Data: req.Payload}); err != nil {
		p.d.Logger.Debug("could not forward an invocation", "node", node, "err", err)
		return nil, nil, false
	}
	started := time.NewTimer(p.d.StartWait)
	defer started.Stop()
	// Once started, the function's own timeout bounds the wait, with a
	// margin for the start of an instance and the way back.
	limit := time.Duration(req.Config.Timeout)*time.Second + 15*time.Second
	var deadline <-chan time.Time
	alive := time.NewTicker(500 * time.Millisecond)
	defer alive.Stop()
	for {
		select {
		case msg := <-ch:
			if msg.Header.Get("Status") == "503" { // no node listens
				return nil, nil, false
			}
			var a answer
			if err := meta(msg, &a); err != nil {
				p.d.Logger.Warn("a forwarded invocation's answer could not be read", "node", node, "err", err)
				return nil, function.AsError(err), true
			}
			switch a.Kind {
			case answerStarted:
				started.Stop()
				if deadline == nil {
					t := time.NewTimer(limit)
					defer t.Stop()
					deadline = t.C
				}
			case answerRefused:
				p.d.Logger.Debug("a forwarded invocation was refused", "node", node, "why", a.Why)
				return nil, nil, false
			default:
				resp, err := a.outcome(msg.Data)
				return resp, err, true
			}
		case <-started.C:
			if deadline == nil {
				return nil, nil, false // not started in time: the receiver will refuse it
			}
		case <-alive.C:
			if !p.dir.live(node) {
				p.d.Logger.Warn("a node running a forwarded invocation is gone; running it here", "node", node, "function", f.Function)
				return nil, nil, false
			}
		case <-deadline:
			return nil, function.Errorf(fault.Internal, "ServiceException", "node %s did not answer an invocation of %s in time", node, f.Function), true
		case <-ctx.Done():
			return nil, ctx.Err(), true
		}
	}
}

// onAnswer hands an answer to the forward waiting for it.
func (p *Placer) onAnswer(m *nats.Msg) {
	token := m.Subject[len(p.reply):]
	p.mu.Lock()
	ch := p.waiting[token]
	p.mu.Unlock()
	if ch != nil {
		select {
		case ch <- m:
		default: // an answer nobody waits for any more
		}
	}
}

// onInvoke runs an invocation another node forwarded, on this node's
// invoker, and answers with its outcome.
func (p *Placer) onInvoke(m *nats.Msg) {
	if m.Reply == "" {
		return
	}
	var f forwarded
	if err := meta(m, &f); err != nil {
		p.respond(m.Reply, &answer{Kind: answerRefused, Why: err.Error()}, nil)
		return
	}
	if time.Now().UnixMilli() > f.StartBy {
		p.respond(m.Reply, &answer{Kind: answerRefused, Why: "arrived after its sender stopped waiting"}, nil)
		return
	}
	req, err := p.d.Resolve(f.Function, f.Version)
	if err != nil || req.Config.RevisionID != f.Revision {
		p.respond(m.Reply, &answer{Kind: answerRefused, Why: "this node has another revision of the function"}, nil)
		return
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		p.respond(m.Reply, &answer{Kind: answerRefused, Why: "this node is stopping"}, nil)
		return
	}
	p.wg.Add(1)
	p.mu.Unlock()
	req.Region, req.InvokedARN, req.ClientContext, req.Tail, req.TraceID, req.RequestID = f.Region, f.InvokedARN, f.ClientContext, f.Tail, f.TraceID, f.RequestID
	req.Payload = m.Data
	p.served.Add(1)
	p.respond(m.Reply, &answer{Kind: answerStarted}, nil)
	go func() {
		defer p.wg.Done()
		resp, err := p.runLocal(p.ctx, req, p.view.Load())
		var payload []byte
		if err == nil {
			payload = resp.Payload
		}
		p.respond(m.Reply, answerOf(resp, err), payload)
	}()
}

// respond sends an answer to subject.
func (p *Placer) respond(subject string, a *answer, payload []byte) {
	h, err := header(a)
	if err == nil {
		err = p.d.Conn.PublishMsg(&nats.Msg{Subject: subject, Header: h, Data: payload})
	}
	if errors.Is(err, nats.ErrMaxPayload) {
		e := function.Errorf(fault.Internal, "ServiceException", "the response is larger than the backbone carries between nodes (%d bytes)", p.d.Conn.MaxPayload())
		if h, err = header(answerOf(nil, e)); err == nil {
			err = p.d.Conn.PublishMsg(&nats.Msg{Subject: subject, Header: h})
		}
	}
	if err != nil {
		p.d.Logger.Warn("could not answer a forwarded invocation", "err", err)
	}
}
