package invoker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aloft-dev/aloft/internal/function"
	"github.com/aloft-dev/aloft/internal/ids"
	"github.com/aloft-dev/aloft/internal/keepalive"
	"github.com/aloft-dev/aloft/internal/sandbox"
)

// Line is one log event.
type Line struct {
	Time int64 // ms since the epoch
	Text string
}

// LogSink receives each invocation's log events for a stream of a group.
// It must not block on I/O.
type LogSink func(group, stream string, lines []Line)

// Meter records the usage of one invocation.
type Meter interface {
	Record(function string, billedMs int64, memoryMB int)
}

// Deps are the invoker's collaborators.
type Deps struct {
	Driver sandbox.Driver
	// Command returns the program, arguments and extra environment that start
	// a runtime of family for code in codeDir.
	Command func(runtime, codeDir string) (argv, env []string, err error)
	// CodeDir returns the unpacked code stored under key.
	CodeDir func(ctx context.Context, key string) (string, error)
	// Layers returns the directory holding the layer versions arns name,
	// merged in order; nil fails the start of functions with layers.
	Layers func(ctx context.Context, arns []string) (string, error)
	// Env returns platform variables for a function's instances (its
	// credentials and the address of Aloft's APIs, say), which users may
	// override where not reserved, and when the credentials among them
	// expire (zero for never): an idle instance is not used again within
	// CredentialMargin of that, a new one with fresh credentials is
	// started instead. An error (the execution role cannot be assumed)
	// fails the start.
	Env func(cfg *function.Config) (env []string, expires time.Time, err error)
	// Expose, when set, is called with the private network namespace of
	// each instance (drivers that give them one, sandbox.Networker) before
	// the function starts, to serve there what a function may reach of the
	// platform: Aloft's APIs at the AWS_ENDPOINT_URL Env gives. The closer
	// ends that when the instance is gone.
	Expose func(sandbox.Network) (io.Closer, error)
	// RuntimeDir is what LAMBDA_RUNTIME_DIR names.
	RuntimeDir string
	// WorkDir holds per-instance scratch directories.
	WorkDir   string
	Logs      LogSink
	Meter     Meter
	Logger    *slog.Logger
	KeepAlive time.Duration // 0: ten minutes; the fallback of the adaptive policy
	// MinPreWarm is the shortest pre-warm window worth unloading an idle
	// instance for (0: one minute); below it the instance stays loaded.
	MinPreWarm time.Duration
	// KeepAlivePolicy tunes the adaptive keep-alive; its zero value takes
	// keepalive's defaults, with Fallback set from KeepAlive.
	KeepAlivePolicy keepalive.Config
	// ConcurrencyLimit is the account's concurrent executions (0: 1,000).
	ConcurrencyLimit int
	// IdleMemoryMB bounds the memory (by MemorySize) of idle instances
	// kept warm; beyond it the least valuable go first (see evict). 0
	// means no bound.
	IdleMemoryMB int
	// Starts bounds how many instance starts run at once (0: two per
	// CPU), and StartHold how long one keeps its turn (0: one second);
	// see turns.
	Starts    int
	StartHold time.Duration
	InitLimit time.Duration // 0: ten seconds, as Lambda
	Now       func() time.Time
	// Observe, when set, is called once as each invocation ends (throttled
	// and failed ones too) with what it did, for metrics and traces. It
	// runs on the invoking goroutine, so it must be quick; the
	// Observation is only valid during the call. Nil observes nothing.
	Observe func(*Observation)
}

// Request is one synchronous invocation.
type Request struct {
	Config        *function.Config // the function as stored; never modified
	Revision      uint64           // orders Configs of one function; later is higher
	Reserved      *int             // the function's reserved concurrency, if any
	ReservedTotal int              // concurrency reserved by all functions
	Region        string
	CodeKey       string // the key CodeDir takes
	InvokedARN    string
	Payload       []byte
	ClientContext string // decoded JSON
	Tail          bool   // return the end of the log
	// TraceID is the X-Amzn-Trace-Id the invocation carries (Root,
	// Parent: the caller's segment, Sampled), as an ingress or event
	// source set it; "" gets an unsampled one of the invocation's own.
	TraceID string
	// RequestID is the invocation's request id as its caller already
	// announced it (the Invoke API's x-amzn-RequestId), which the
	// function and its log lines then carry, as on Lambda; "" gets a new
	// one.
	RequestID string
	// Stream, when set, receives a response the function streams as it
	// arrives (see stream.go); nil buffers it.
	Stream Stream
	// Answer, when set, is handed the response of an invocation that
	// completed (without Tail) as soon as it is known, before the
	// invocation's ending (metering, its END and REPORT lines) is
	// written; Invoke then returns the same response. The caller sends
	// its answer from Answer; when Answer was not called, it answers
	// from what Invoke returns, as it does without Answer.
	Answer func(*Response)
}

// requestID returns the invocation's request id: the caller's, or a new
// one.
func (req *Request) requestID() string {
	if req.RequestID != "" {
		return req.RequestID
	}
	return ids.New()
}

// Response is the outcome of an invocation. A function error is a Response
// with FunctionError set, not a Go error.
type Response struct {
	Payload       []byte
	FunctionError string // "Unhandled" when the function failed
	// Failure, when set, is why the invocation failed outside the
	// function's own code; Payload is then its rendering (Failure.Payload).
	Failure   *Failure
	LogTail   []byte // the last 4 KB of the invocation's log, when asked
	Version   string
	RequestID string
	Streamed  bool // the body went to Request.Stream; Payload is only an error's
}

// FailureKind is a way an invocation fails outside the function's code.
type FailureKind uint8

// Failure kinds, with the error types Lambda reports for them.
const (
	FailTimeout           FailureKind = iota + 1 // Sandbox.Timedout: the function ran out of time
	FailExit                                     // Runtime.ExitError: the runtime's process ended
	FailOutOfMemory                              // Runtime.OutOfMemory: ended by its memory limit
	FailInvalidEntrypoint                        // Runtime.InvalidEntrypoint: the runtime could not start
	FailUnknown                                  // Runtime.Unknown: the runtime broke its protocol
)

// ErrorType returns the error type Lambda reports for k.
func (k FailureKind) ErrorType() string {
	switch k {
	case FailTimeout:
		return "Sandbox.Timedout"
	case FailExit:
		return "Runtime.ExitError"
	case FailOutOfMemory:
		return "Runtime.OutOfMemory"
	case FailInvalidEntrypoint:
		return "Runtime.InvalidEntrypoint"
	}
	return "Runtime.Unknown"
}

// Failure is an invocation's failure outside the function's own code.
type Failure struct {
	Kind    FailureKind
	Message string // as Lambda words it, "RequestId: ... Error: ..."
}

// Payload renders f as Lambda's error document: errorType and
// errorMessage.
func (f *Failure) Payload() []byte {
	b, _ := json.Marshal(struct {
		Type    string `json:"errorType"`
		Message string `json:"errorMessage"`
	}{f.Kind.ErrorType(), f.Message})
	return b
}

// failed returns the response of an invocation that failed as f says.
func failed(f *Failure, version, reqID string) *Response {
	return &Response{Payload: f.Payload(), FunctionError: "Unhandled", Failure: f, Version: version, RequestID: reqID}
}

// Invoker owns every instance on this node.
type Invoker struct {
	d   Deps
	log *slog.Logger

	// logHeld counts the bytes of function output read and not yet
	// handed to Logs, across instances; logPipe keeps it under
	// maxLogHeld by dropping lines.
	logHeld atomic.Int64

	mu     sync.RWMutex
	pools  map[string]*pool       // guarded by mu; by function name
	live   map[*instance]struct{} // guarded by mu; every instance not yet shut down
	closed bool                   // guarded by mu

	admitMu    sync.Mutex
	fns        map[string]*fnState // guarded by admitMu: by function name
	unreserved int                 // guarded by admitMu: running invocations of functions without a reservation
	running    int                 // guarded by admitMu: running invocations of all functions

	turns *turns // of instance starts

	wg      sync.WaitGroup // the reaper and background stops; no Add after closed
	stop    chan struct{}
	stopped sync.Once
}

// New returns an invoker; call Start to run its keep-alive reaper.
func New(d Deps) (*Invoker, error) {
	if d.Driver == nil || d.Command == nil || d.CodeDir == nil {
		return nil, errors.New("invoker: Driver, Command and CodeDir are required")
	}
	if d.KeepAlive <= 0 {
		d.KeepAlive = 10 * time.Minute
	}
	if d.MinPreWarm <= 0 {
		d.MinPreWarm = time.Minute
	}
	if d.KeepAlivePolicy.Fallback == 0 {
		d.KeepAlivePolicy.Fallback = d.KeepAlive
	}
	d.KeepAlivePolicy = d.KeepAlivePolicy.WithDefaults()
	if err := d.KeepAlivePolicy.Validate(); err != nil {
		return nil, fmt.Errorf("invoker: keep-alive policy: %w", err)
	}
	if d.ConcurrencyLimit <= 0 {
		d.ConcurrencyLimit = 1000
	}
	if d.InitLimit <= 0 {
		d.InitLimit = 10 * time.Second
	}
	if d.Starts <= 0 {
		d.Starts = 2 * runtime.GOMAXPROCS(0)
	}
	if d.StartHold <= 0 {
		d.StartHold = time.Second
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Logs == nil {
		d.Logs = func(string, string, []Line) {}
	}
	if err := os.MkdirAll(d.WorkDir, 0o755); err != nil {
		return nil, fmt.Errorf("invoker: %w", err)
	}
	return &Invoker{
		d: d, log: d.Logger, pools: map[string]*pool{}, live: map[*instance]struct{}{}, fns: map[string]*fnState{},
		turns: newTurns(d.Starts, d.StartHold), stop: make(chan struct{}),
	}, nil
}

// Start runs the keep-alive reaper until Close.
func (iv *Invoker) Start() {
	iv.wg.Add(1)
	go func() {
		defer iv.wg.Done()
		tick := iv.d.KeepAlive / 4
		tick = max(min(tick, 5*time.Second), 50*time.Millisecond)
		t := time.NewTicker(tick)
		defer t.Stop()
		for {
			select {
			case <-iv.stop:
				return
			case <-t.C:
				iv.reap()
			}
		}
	}()
}

// ErrClosed is returned by Invoke after Close.
var ErrClosed = errors.New("invoker: closed")

// Invoke runs req on an idle instance of its function, or on a new one. It
// refuses with a throttling error (429) when the function's reserved
// concurrency, or the account's unreserved concurrency, is in use.
func (iv *Invoker) Invoke(ctx context.Context, req *Request) (*Response, error) {
	if iv.d.Observe == nil {
		return iv.invoke(ctx, req, nil)
	}
	o := observations.Get().(*Observation)
	*o = Observation{
		Function: req.Config.FunctionName, Qualifier: qualifier(req.InvokedARN), Version: req.Config.Version,
		MemorySizeMB: req.Config.MemorySize, Arrived: iv.d.Now(), TraceID: req.TraceID,
	}
	resp, err := iv.invoke(ctx, req, o)
	iv.observe(o, resp, err)
	*o = Observation{}
	observations.Put(o)
	return resp, err
}

// invoke is Invoke, filling o (when not nil) as it goes.
func (iv *Invoker) invoke(ctx context.Context, req *Request, o *Observation) (*Response, error) {
	if err := iv.admit(req, o); err != nil {
		return nil, err
	}
	released := false
	defer func() {
		if !released {
			iv.release(req)
		}
	}()
	p, err := iv.pool(req)
	if err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		in, resp, err := iv.acquire(ctx, p, req)
		if err != nil || resp != nil {
			if o != nil && resp != nil { // the start failed: a cold start that never served
				o.Cold = true
				o.Acquired = iv.d.Now()
				o.InitDuration = o.Acquired.Sub(o.Arrived)
			}
			return resp, err
		}
		if o != nil {
			in.observeStart(o, p)
		}
		var answer func(*Response)
		if req.Answer != nil {
			// req.Answer sends the answer as soon as the runtime's is
			// in, from the goroutine that received it, and the
			// invocation's ending is written after, here. Its
			// concurrency is free from then on; the instance counts as
			// returning until it is back in the pool, so a request
			// arriving for it meanwhile waits for it rather than
			// starting another.
			answer = func(resp *Response) {
				p.mu.Lock()
				p.returning++
				p.mu.Unlock()
				iv.release(req)
				released = true
				req.Answer(resp)
			}
		}
		resp, delivered := in.invoke(req, o, answer)
		if in.later.set {
			in.finishLater()
			p.giveBack(in)
			return resp, nil
		}
		p.give(in)
		if delivered {
			return resp, nil
		}
		// The runtime exited before it took the event (say, it ended after
		// its previous answer was refused): run the event elsewhere, but
		// not forever.
		if attempt == 2 {
			reqID := req.requestID()
			f := &Failure{FailExit, "RequestId: " + reqID + " Error: Runtime exited before it took the invocation"}
			return failed(f, p.cfg.Version, reqID), nil
		}
	}
}

// acquire returns an instance for req: an idle one, or else whichever
// comes first of an instance another request gives back and one started
// for req. A start that has begun goes on in the background either way, so
// a burst of short invocations is served by instances as they free up
// while new ones come up for whatever remains; one still waiting for its
// turn is dropped. When the start req asked for fails before any instance
// reached it, the failure is req's answer.
func (iv *Invoker) acquire(ctx context.Context, p *pool, req *Request) (*instance, *Response, error) {
	if in := p.take(); in != nil { // the warm path allocates nothing here
		return in, nil, nil
	}
	w := make(waiter, 1)
	in, covered := p.takeOrWait(w)
	if in != nil {
		return in, nil, nil
	}
	if covered { // an instance on its way back is w's
		select {
		case in := <-w:
			return in, nil, nil
		case <-ctx.Done():
			if !p.unwait(w) {
				p.give(<-w)
			}
			return nil, nil, ctx.Err()
		}
	}
	type outcome struct {
		resp *Response
		err  error
	}
	failed := make(chan outcome, 1)
	left := make(chan struct{}) // closed once req needs its start no more
	p.mu.Lock()
	p.starting++
	p.mu.Unlock()
	done := func() {
		p.mu.Lock()
		p.starting--
		p.mu.Unlock()
	}
	started := iv.background(func() {
		in, resp, err := iv.coldStart(context.WithoutCancel(ctx), p, req, left)
		if errors.Is(err, errNotNeeded) {
			done()
			return
		}
		if err != nil || resp != nil {
			done()
			failed <- outcome{resp, err}
			return
		}
		p.give(in) // to the first waiter, or idle
		done()
	})
	if !started {
		done()
		p.unwait(w)
		return nil, nil, ErrClosed
	}
	defer close(left)
	select {
	case in := <-w:
		return in, nil, nil
	case o := <-failed:
		if !p.unwait(w) {
			return <-w, nil, nil // an instance was handed over meanwhile
		}
		return nil, o.resp, o.err
	case <-ctx.Done():
		if !p.unwait(w) {
			p.give(<-w)
		}
		return nil, nil, ctx.Err()
	}
}

// fnState is what the invoker remembers of a function across revisions:
// how many of its invocations run now, when the last one ended, and the
// keep-alive policy learned from its idle times.
type fnState struct {
	running int
	// keeps are the keep-alive states of the function's $LATEST and
	// versions, by pool key (PoolKey): each learns its own arrivals.
	keeps map[string]*keepState
}

// keepState is what the keep-alive policy of one version knows.
type keepState struct {
	running int
	lastEnd time.Time
	policy  *keepalive.Policy
}

func (iv *Invoker) fn(name string) *fnState {
	f := iv.fns[name]
	if f == nil {
		f = &fnState{keeps: map[string]*keepState{}}
		iv.fns[name] = f
	}
	return f
}

// keep returns the keep-alive state of the version (PoolKey) key of
// function name; the caller holds admitMu.
func (iv *Invoker) keep(name, key string) *keepState {
	f := iv.fn(name)
	k := f.keeps[key]
	if k == nil {
		k = &keepState{policy: keepalive.New(iv.d.KeepAlivePolicy)}
		f.keeps[key] = k
	}
	return k
}

// admit counts req as running if there is concurrency for it, and feeds
// the function's idle time to its keep-alive policy. It gives o (when not
// nil) the concurrency with req counted.
func (iv *Invoker) admit(req *Request, o *Observation) error {
	name := req.Config.FunctionName
	iv.admitMu.Lock()
	defer iv.admitMu.Unlock()
	f := iv.fn(name)
	if r := req.Reserved; r != nil {
		if f.running >= *r {
			return function.Throttled(function.ReasonReserved)
		}
	} else {
		if iv.unreserved >= iv.d.ConcurrencyLimit-req.ReservedTotal {
			return function.Throttled(function.ReasonAccount)
		}
		iv.unreserved++
	}
	k := iv.keep(name, PoolKey(req.Config))
	if k.running == 0 && !k.lastEnd.IsZero() {
		k.policy.Observe(iv.d.Now().Sub(k.lastEnd))
	}
	k.running++
	f.running++
	iv.running++
	if o != nil {
		o.Concurrency, o.AccountConcurrency = f.running, iv.running
		if req.Reserved == nil {
			o.UnreservedConcurrency = iv.unreserved
		}
	}
	return nil
}

func (iv *Invoker) release(req *Request) {
	iv.admitMu.Lock()
	if req.Reserved == nil {
		iv.unreserved--
	}
	iv.running--
	iv.fn(req.Config.FunctionName).running--
	k := iv.keep(req.Config.FunctionName, PoolKey(req.Config))
	if k.running--; k.running == 0 {
		k.lastEnd = iv.d.Now()
	}
	iv.admitMu.Unlock()
}

// KeepAlive reports the keep-alive policy state of a function's $LATEST,
// or given name:N of its version N.
func (iv *Invoker) KeepAlive(name string) keepalive.State {
	iv.admitMu.Lock()
	defer iv.admitMu.Unlock()
	fn, _, _ := strings.Cut(name, ":")
	return iv.keep(fn, name).policy.State()
}

// windows returns, for the instances of a configuration ($LATEST's or a
// version's), when their last invocation ended and the keep-alive window
// their policy gives now.
func (iv *Invoker) windows(cfg *function.Config) (lastEnd time.Time, w keepalive.Window, running bool) {
	iv.admitMu.Lock()
	defer iv.admitMu.Unlock()
	k := iv.keep(cfg.FunctionName, PoolKey(cfg))
	return k.lastEnd, k.policy.Window(), k.running > 0
}

// pool returns the pool for req's function, replacing one that serves an
// older revision. A request that carries an older revision than the pool
// (it read the function just before a change) runs on the newer pool.
func (iv *Invoker) pool(req *Request) (*pool, error) {
	name := PoolKey(req.Config)
	iv.mu.RLock()
	p, closed := iv.pools[name], iv.closed
	iv.mu.RUnlock()
	if closed {
		return nil, ErrClosed
	}
	if p != nil && (p.cfg.RevisionID == req.Config.RevisionID || req.Revision < p.rev) {
		return p, nil
	}
	iv.mu.Lock()
	if iv.closed {
		iv.mu.Unlock()
		return nil, ErrClosed
	}
	p = iv.pools[name]
	if p != nil && (p.cfg.RevisionID == req.Config.RevisionID || req.Revision < p.rev) {
		iv.mu.Unlock()
		return p, nil
	}
	var idle []*instance
	if p != nil {
		idle = iv.retireLocked(p)
	}
	p = &pool{iv: iv, cfg: req.Config, rev: req.Revision, codeKey: req.CodeKey}
	iv.pools[name] = p
	iv.mu.Unlock()
	iv.stopAll(idle)
	return p, nil
}

// PoolKey names the instances of a configuration: a function's name
// for $LATEST, name:N for a published version, whose instances are its
// own.
func PoolKey(cfg *function.Config) string {
	if cfg.PoolKey != "" {
		return cfg.PoolKey // derived once by the registry
	}
	if cfg.Version == "" || cfg.Version == function.LatestVersion {
		return cfg.FunctionName
	}
	return cfg.FunctionName + ":" + cfg.Version
}

// Retire stops the instances of the named function, of every version:
// idle ones now, busy ones when they finish. The next invocation starts
// fresh instances. Given name:N it stops those of version N only.
func (iv *Invoker) Retire(name string) {
	iv.mu.Lock()
	var idle []*instance
	for key, p := range iv.pools {
		if key == name || !strings.Contains(name, ":") && strings.HasPrefix(key, name+":") {
			idle = append(idle, iv.retireLocked(p)...)
		}
	}
	iv.mu.Unlock()
	iv.stopAll(idle)
}

// RetireChanged stops the instances of the named function that a change
// to it leaves behind: those of $LATEST, and those of versions whose
// network is no longer current's (a version's code and configuration
// never change, but the function's tags give all of them their network).
func (iv *Invoker) RetireChanged(current *function.Config) {
	name := current.FunctionName
	iv.mu.Lock()
	var idle []*instance
	for key, p := range iv.pools {
		stale := key == name
		if strings.HasPrefix(key, name+":") {
			stale = p.cfg.Network != current.Network || !slices.Equal(p.cfg.AllowNet, current.AllowNet)
		}
		if stale {
			idle = append(idle, iv.retireLocked(p)...)
		}
	}
	iv.mu.Unlock()
	iv.stopAll(idle)
}

// retireLocked removes p from the pools and returns its idle instances,
// which the caller stops after unlocking iv.mu.
func (iv *Invoker) retireLocked(p *pool) []*instance {
	if key := PoolKey(p.cfg); iv.pools[key] == p {
		delete(iv.pools, key)
	}
	return p.retire()
}

func (iv *Invoker) stopAll(ins []*instance) {
	for _, in := range ins {
		iv.stopAsync(in)
	}
}

// Provision keeps n instances of req's function (at req's revision)
// initialised, starting missing ones in the background; 0 releases them to
// the keep-alive. It returns at once.
func (iv *Invoker) Provision(req *Request, n int) error {
	p, err := iv.pool(req)
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.provisioned = n
	p.provWanted.Store(int32(n))
	// Release instances beyond n that are idle now.
	for _, in := range p.idle {
		if p.provLive <= n {
			break
		}
		if in.provisioned {
			in.provisioned = false
			p.provLive--
			p.provReady--
		}
	}
	p.mu.Unlock()
	iv.replenish(p)
	return nil
}

// Provisioned reports how many instances of the named function are asked
// for and how many are initialised.
func (iv *Invoker) Provisioned(name string) (requested, ready int) {
	iv.mu.RLock()
	p := iv.pools[name]
	iv.mu.RUnlock()
	if p == nil {
		return 0, 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.provisioned, p.provReady
}

// replenish starts provisioned instances until the pool has as many as it
// should.
func (iv *Invoker) replenish(p *pool) {
	p.mu.Lock()
	missing := p.provisioned - p.provLive
	if p.retired || missing <= 0 {
		p.mu.Unlock()
		return
	}
	p.provLive += missing
	p.mu.Unlock()
	for range missing {
		iv.background(func() {
			in, resp, err := iv.start(context.Background(), p, &Request{Config: p.cfg}, true, nil)
			if err != nil || resp != nil {
				p.mu.Lock()
				p.provLive--
				p.mu.Unlock()
				if resp != nil {
					iv.log.Warn("provisioned instance failed to initialise", "function", p.cfg.FunctionName, "error", string(resp.Payload))
				}
				return
			}
			in.fresh = false // its initialisation belongs to no invocation
			p.mu.Lock()
			p.provReady++
			p.mu.Unlock()
			p.give(in) // started counted it busy; now it waits, initialised
		})
	}
}

// Stats describes the instances of one function.
type Stats struct {
	Idle, Busy int
	Starting   int // starts set off by requests and not yet done
}

// Stats returns the instance counts of the named function.
func (iv *Invoker) Stats(name string) Stats {
	iv.mu.RLock()
	p := iv.pools[name]
	iv.mu.RUnlock()
	if p == nil {
		return Stats{}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return Stats{Idle: len(p.idle), Busy: p.busy, Starting: p.starting}
}

// freezeAfter is how long an instance stays idle before it is frozen: long
// enough that a steady stream of invocations never pays for a thaw.
const freezeAfter = time.Second

// reap applies each function's keep-alive window: instances idle past it
// stop, and with a pre-warm window the function is unloaded after an
// invocation and loaded again just before the next one is expected. It also
// freezes instances idle for a while.
func (iv *Invoker) reap() {
	now := iv.d.Now()
	iv.mu.RLock()
	pools := make([]*pool, 0, len(iv.pools))
	for _, p := range iv.pools {
		pools = append(pools, p)
	}
	iv.mu.RUnlock()
	keeps := make(map[*pool]time.Duration, len(pools))
	for _, p := range pools {
		lastEnd, w, running := iv.windows(p.cfg)
		keep := iv.d.KeepAlive
		if w.Adaptive {
			keep = w.KeepAlive
		}
		cutoff := now.Add(-keep)
		if w.Adaptive && w.PreWarm >= iv.d.MinPreWarm && !running {
			switch since := now.Sub(lastEnd); {
			case since < w.PreWarm:
				cutoff = now // unload until the pre-warm window opens
			case since < w.KeepAlive && !p.loaded():
				iv.prewarm(p)
			}
		}
		for _, in := range p.expired(cutoff) {
			iv.stopAsync(in)
		}
		p.freezeIdle(now.Add(-freezeAfter))
		iv.replenish(p) // provisioned instances that failed to start
		keeps[p] = keep
	}
	for _, in := range evict(keeps, iv.d.IdleMemoryMB) {
		iv.log.Info("idle instance stopped to keep within the memory budget",
			"function", in.cfg.FunctionName, "instance", in.stream, "budget_mb", iv.d.IdleMemoryMB)
		iv.stopAsync(in)
	}
}

// evict takes idle instances out of their pools until the memory of those
// left, counted by MemorySize, is within budgetMB (0: no budget), and
// returns them. The least valuable go first: those whose keep-alive
// window, keeps[pool], ends soonest, as their function is the least
// likely to be invoked before it would have let them go anyway.
// Provisioned instances are not counted and never evicted.
func evict(keeps map[*pool]time.Duration, budgetMB int) []*instance {
	if budgetMB <= 0 {
		return nil
	}
	type cand struct {
		p     *pool
		in    *instance
		until time.Time
	}
	var cands []cand
	used := 0
	for p, keep := range keeps {
		p.mu.Lock()
		for _, in := range p.idle {
			if !in.provisioned {
				cands = append(cands, cand{p, in, in.lastUsed.Add(keep)})
				used += in.cfg.MemorySize
			}
		}
		p.mu.Unlock()
	}
	if used <= budgetMB {
		return nil
	}
	sort.Slice(cands, func(i, j int) bool { return cands[i].until.Before(cands[j].until) })
	var out []*instance
	for _, c := range cands {
		if used <= budgetMB {
			break
		}
		if c.p.remove(c.in) {
			out = append(out, c.in)
			used -= c.in.cfg.MemorySize
		}
	}
	return out
}

// remove takes in out of the idle list, reporting whether it was there (a
// request may have taken it meanwhile).
func (p *pool) remove(in *instance) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, x := range p.idle {
		if x == in {
			copy(p.idle[i:], p.idle[i+1:])
			p.idle[len(p.idle)-1] = nil
			p.idle = p.idle[:len(p.idle)-1]
			return true
		}
	}
	return false
}

// loaded reports whether the pool has an instance idle, busy or starting.
func (p *pool) loaded() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.idle) > 0 || p.busy > 0 || p.warming
}

// prewarm starts one instance ahead of the invocation the policy expects.
func (iv *Invoker) prewarm(p *pool) {
	p.mu.Lock()
	if p.retired || p.warming {
		p.mu.Unlock()
		return
	}
	p.warming = true
	p.mu.Unlock()
	iv.background(func() {
		in, resp, err := iv.start(context.Background(), p, &Request{Config: p.cfg}, false, nil)
		p.mu.Lock()
		p.warming = false
		p.mu.Unlock()
		if err != nil || resp != nil {
			return
		}
		in.fresh = false // its initialisation belongs to no invocation
		p.give(in)
	})
}

// stopAsync stops an instance in the background; once the invoker is
// closed it stops it before returning.
func (iv *Invoker) stopAsync(in *instance) {
	if !iv.background(func() { in.shutdown(time.Second) }) {
		in.shutdown(0)
	}
}

// background runs fn in a goroutine Close waits for, unless the invoker is
// closed; it reports whether fn was started.
func (iv *Invoker) background(fn func()) bool {
	iv.mu.Lock()
	if iv.closed {
		iv.mu.Unlock()
		return false
	}
	iv.wg.Add(1)
	iv.mu.Unlock()
	go func() {
		defer iv.wg.Done()
		fn()
	}()
	return true
}

// track registers a new instance; it fails once the invoker is closed.
func (iv *Invoker) track(in *instance) error {
	iv.mu.Lock()
	defer iv.mu.Unlock()
	if iv.closed {
		return ErrClosed
	}
	iv.live[in] = struct{}{}
	return nil
}

func (iv *Invoker) untrack(in *instance) {
	iv.mu.Lock()
	delete(iv.live, in)
	iv.mu.Unlock()
}

// Close stops every instance, idle or busy, and waits for the invoker's
// goroutines. Busy invocations end with Runtime.ExitError.
func (iv *Invoker) Close(ctx context.Context) error {
	iv.mu.Lock()
	iv.closed = true
	for _, p := range iv.pools {
		p.retire()
	}
	clear(iv.pools)
	live := make([]*instance, 0, len(iv.live))
	for in := range iv.live {
		live = append(live, in)
	}
	iv.mu.Unlock()
	iv.stopped.Do(func() { close(iv.stop) })
	done := make(chan struct{})
	go func() {
		var wg sync.WaitGroup
		for _, in := range live {
			wg.Add(1)
			go func() { defer wg.Done(); in.shutdown(time.Second) }()
		}
		wg.Wait()
		iv.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("invoker: close: %w", ctx.Err())
	}
}

// pool holds the instances of one revision of one function.
type pool struct {
	iv      *Invoker
	cfg     *function.Config
	rev     uint64 // the registry revision of cfg
	codeKey string

	// provWanted mirrors provisioned for readers without mu (the
	// observation of an invocation).
	provWanted atomic.Int32

	mu          sync.Mutex
	idle        []*instance // guarded by mu; most recently used last
	busy        int         // guarded by mu
	retired     bool        // guarded by mu
	provisioned int         // guarded by mu: instances to keep initialised
	provLive    int         // guarded by mu: provisioned instances starting, idle or busy
	provReady   int         // guarded by mu: provisioned instances initialised
	warming     bool        // guarded by mu: a pre-warm start is under way
	waiters     []waiter    // guarded by mu: requests waiting for an instance, oldest first
	starting    int         // guarded by mu: starts set off by requests, not yet done
	returning   int         // guarded by mu: busy instances whose answer is sent, ending being written
}

// waiter receives the instance a waiting request is handed.
type waiter chan *instance

// takeOrWait returns an idle instance, or registers w to be handed the
// next instance given back and returns nil, with covered set when an
// instance already on its way back (returning) will be w's.
func (p *pool) takeOrWait(w waiter) (in *instance, covered bool) {
	for {
		if in := p.take(); in != nil {
			return in, false
		}
		p.mu.Lock()
		if len(p.idle) > 0 { // given back since take looked
			p.mu.Unlock()
			continue
		}
		p.waiters = append(p.waiters, w)
		covered = len(p.waiters) <= p.returning
		p.mu.Unlock()
		return nil, covered
	}
}

// unwait withdraws w, reporting false when it was handed an instance
// already (which the caller must then receive from w).
func (p *pool) unwait(w waiter) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, x := range p.waiters {
		if x == w {
			p.waiters = append(p.waiters[:i], p.waiters[i+1:]...)
			return true
		}
	}
	return false
}

// CredentialMargin is how long before its credentials expire an idle
// instance stops being used.
const CredentialMargin = 10 * time.Minute

// take pops the most recently used idle instance whose process is still
// alive and whose credentials are not about to expire, or returns nil.
// The others are stopped.
func (p *pool) take() *instance {
	var dead []*instance
	defer func() { p.iv.stopAll(dead) }() // after p.mu is released
	p.mu.Lock()
	defer p.mu.Unlock()
	for n := len(p.idle); n > 0; n = len(p.idle) {
		in := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		select {
		case <-in.sb.Done():
			dead = append(dead, in)
			continue
		default:
		}
		if !in.credsExpire.IsZero() && p.iv.d.Now().Add(CredentialMargin).After(in.credsExpire) {
			dead = append(dead, in)
			continue
		}
		if in.frozen {
			if err := in.sb.(sandbox.Freezer).Thaw(); err != nil {
				p.iv.log.Warn("could not thaw an instance", "instance_id", in.id, "err", err)
				dead = append(dead, in)
				continue
			}
			in.frozen = false
		}
		p.busy++
		return in
	}
	return nil
}

// started counts a newly started instance as busy. It serves the request
// that started it even if the pool was retired meanwhile; give stops it.
func (p *pool) started() {
	p.mu.Lock()
	p.busy++
	p.mu.Unlock()
}

// give returns a busy instance: it goes to the oldest waiting request if
// there is one, still busy (even in a retired pool: those requests came
// for its revision); otherwise a dead one or one of a retired pool stops,
// and any other becomes idle.
func (p *pool) give(in *instance) {
	p.mu.Lock()
	if !in.dead && len(p.waiters) > 0 {
		w := p.waiters[0]
		p.waiters[0] = nil
		p.waiters = p.waiters[1:]
		p.mu.Unlock()
		w <- in
		return
	}
	p.busy--
	if in.dead || p.retired {
		lost := in.provisioned && !p.retired
		if in.provisioned {
			in.provisioned = false
			p.provLive--
			p.provReady--
		}
		p.mu.Unlock()
		p.iv.stopAsync(in)
		if lost {
			p.iv.replenish(p) // keep the provisioned count
		}
		return
	}
	in.lastUsed = p.iv.d.Now()
	p.idle = append(p.idle, in)
	p.mu.Unlock()
}

// giveBack is give for an instance that was returning (its answer sent,
// its ending written since).
func (p *pool) giveBack(in *instance) {
	p.mu.Lock()
	p.returning--
	p.mu.Unlock()
	p.give(in)
}

// retire marks the pool retired and returns its idle instances.
func (p *pool) retire() []*instance {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.retired = true
	idle := p.idle
	p.idle = nil
	return idle
}

// freezeIdle freezes idle instances last used before cutoff, when the
// sandbox can: they then use no CPU until taken again.
func (p *pool) freezeIdle(cutoff time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, in := range p.idle {
		f, ok := in.sb.(sandbox.Freezer)
		if !ok || in.frozen || !in.lastUsed.Before(cutoff) {
			continue
		}
		if err := f.Freeze(); err != nil {
			p.iv.log.Warn("could not freeze an instance", "instance_id", in.id, "err", err)
			continue
		}
		in.frozen = true
	}
}

// expired removes and returns idle instances last used before cutoff.
func (p *pool) expired(cutoff time.Time) []*instance {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []*instance
	keep := p.idle[:0]
	for _, in := range p.idle {
		if in.lastUsed.Before(cutoff) && !in.provisioned {
			out = append(out, in)
		} else {
			keep = append(keep, in)
		}
	}
	clear(p.idle[len(keep):])
	p.idle = keep
	return out
}

// instanceDir returns a new instance's scratch directory.
func (iv *Invoker) instanceDir(id string) string { return filepath.Join(iv.d.WorkDir, id) }
