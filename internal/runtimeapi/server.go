package runtimeapi

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"
)

// MaxResponse is the largest response a function may post (6 MiB + 100 B).
const MaxResponse = 6*1024*1024 + 100

// Invocation is one event handed to the runtime.
type Invocation struct {
	RequestID       string
	Payload         []byte
	Deadline        time.Time
	FunctionARN     string
	TraceID         string
	ClientContext   string // JSON, already decoded from base64
	CognitoIdentity string // JSON
	// Stream, when set, receives a response the runtime streams
	// (Lambda-Runtime-Function-Response-Mode: streaming) as it arrives;
	// without it such a response is buffered like any other.
	Stream Sink
	// Answered, when set, is called with the runtime's answer by the
	// goroutine that received it, before Invoke returns that answer
	// (and only then), and before the runtime is told the answer was
	// taken (its 202): the caller's answer can go out from there first,
	// without waiting for the invoking goroutine to be scheduled.
	// Invoke returns once Answered has returned; an answer that arrives
	// as Invoke gives up is still returned, not dropped. Not called for
	// a streamed response.
	Answered func(Result)
	// Expire makes Deadline the end of Invoke's wait too: it then returns
	// context.DeadlineExceeded, as for a ctx that expired, with a timer
	// of the package's own rather than a context for every invocation.
	Expire bool
}

// Result is what the runtime answered.
type Result struct {
	Payload   []byte
	Error     bool   // posted to .../error (or the response was refused)
	ErrorType string // Lambda-Runtime-Function-Error-Type, when given
	// Streamed is set when the body went to Invocation.Stream; Payload
	// then holds only the error document of a stream that failed.
	Streamed bool
}

// Errors returned by Invoke.
var (
	ErrAborted = errors.New("runtimeapi: invocation aborted")
	ErrClosed  = errors.New("runtimeapi: server closed")
	// ErrNotDelivered means the runtime never took the invocation: it is
	// safe to run it elsewhere.
	ErrNotDelivered = errors.New("runtimeapi: invocation not delivered")
)

// Server is the Runtime API of one instance.
//
// An invocation meets a runtime's poll in one of two orders. When the
// runtime's GET .../next is already waiting, Invoke takes that poll and
// writes the event to its connection itself; when Invoke comes first, its
// call waits in a queue and the connection's goroutine writes the event as
// soon as it has read the GET. Either way the event is written by a
// goroutine that is running already: no hand-off, no extra wake-up, and
// the one goroutine woken per invocation is Invoke's, by the answer.
//
// A poll counts only while its connection is open. Each connection's
// goroutine stays blocked in Read while its poll waits, so a runtime that
// drops the connection is seen at once: the poll is withdrawn under mu
// before any Invoke can take it, and an event whose write fails (the
// connection ended while it was written) goes back to the front of the
// queue for the next poll. Either way an invocation is counted delivered
// only once its event has been written to a connection that was open when
// it was taken, which is what ErrNotDelivered relies on. What remains is
// the instant between a runtime closing its connection and the close
// reaching this side: an event written then is accepted by the kernel and
// counted delivered, as a runtime that took it and died would be; the two
// cannot be told apart from here.
type Server struct {
	ready     chan struct{} // closed on the runtime's first /next
	readyOnce sync.Once
	initErr   chan Result // receives a posted init error
	closed    chan struct{}
	closeOnce sync.Once

	mu    sync.Mutex
	cur   *call                     // guarded by mu: handed out and not yet answered
	queue []*call                   // guarded by mu: invocations waiting for a poll, oldest first
	polls []*conn                   // guarded by mu: connections whose /next waits, newest last
	lns   map[net.Listener]struct{} // guarded by mu
	conns map[*conn]struct{}        // guarded by mu
	wg    sync.WaitGroup            // the connections' goroutines

	headerTimeout time.Duration // readHeaderTimeout; tests shorten it
}

// At any time either queue or polls is empty: an invocation that finds a
// poll takes it, and a poll that finds an invocation takes it.

type call struct {
	inv *Invocation
	// res is the answer, set once by finish before done is signalled.
	res   Result
	done  chan struct{}   // buffered: finish never waits
	abort <-chan struct{} // the instance died
	out   streamState     // of a streamed response
	// delivered is guarded by Server.mu: the event was handed to a poll
	// (and is being or has been written to its connection).
	delivered bool
	// answered is guarded by Server.mu: finish took the call's answer,
	// which done will signal.
	answered bool
}

// MaxConns bounds the connections the server holds open for one
// instance: a runtime uses one or two, and the function's code, which can
// reach the Runtime API too, must not make the server hold a goroutine
// and buffers for each of thousands. Connections beyond it are closed as
// soon as they are accepted.
const MaxConns = 64

// Address is where the Runtime API listens inside an instance's private
// network namespace, as on Lambda's port.
const Address = "127.0.0.1:9001"

// New returns a server that answers once Serve is given a listener.
func New() *Server {
	return &Server{
		ready:   make(chan struct{}),
		initErr: make(chan Result, 1),
		closed:  make(chan struct{}),
		lns:     make(map[net.Listener]struct{}),
		conns:   make(map[*conn]struct{}),

		headerTimeout: readHeaderTimeout,
	}
}

// Serve answers requests on ln until Close, which closes ln. It always
// returns nil after Close; it returns sooner, with the error, only if ln
// fails otherwise than for lack of resources.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.isClosed() {
		s.mu.Unlock()
		ln.Close()
		return nil
	}
	s.lns[ln] = struct{}{}
	s.mu.Unlock()
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.isClosed() {
				return nil
			}
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			// Out of descriptors or an aborted handshake: wait a little
			// and go on, as net/http does.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			select {
			case <-time.After(backoff):
			case <-s.closed:
				return nil
			}
			continue
		}
		backoff = 0
		s.mu.Lock()
		if s.isClosed() {
			s.mu.Unlock()
			nc.Close()
			return nil
		}
		if len(s.conns) >= MaxConns { // a runtime needs one or two
			s.mu.Unlock()
			nc.Close()
			continue
		}
		c := newConn(s, nc)
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go c.serve()
	}
}

func (s *Server) isClosed() bool {
	select {
	case <-s.closed:
		return true
	default:
		return false
	}
}

// Close stops the server and fails pending calls. It closes the listeners
// and every connection; it does not wait for the connections' goroutines,
// one of which may be handing a stream to a Sink.
func (s *Server) Close() error {
	s.closeOnce.Do(func() { close(s.closed) })
	s.mu.Lock()
	var err error
	for ln := range s.lns {
		if e := ln.Close(); e != nil && !errors.Is(e, net.ErrClosed) && err == nil {
			err = e
		}
		delete(s.lns, ln)
	}
	for c := range s.conns {
		c.nc.Close()
	}
	s.mu.Unlock()
	return err
}

// Ready is closed once the runtime has asked for its first invocation,
// which is when its initialisation is over.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// InitError delivers an error the runtime posted to /runtime/init/error.
func (s *Server) InitError() <-chan Result { return s.initErr }

// Invoke hands inv to the runtime and waits for its answer, for ctx to end
// (or, with inv.Expire, inv.Deadline to pass: context.DeadlineExceeded)
// or for abort to close (the instance died). If abort closes or the server
// closes before the runtime took inv, the error is ErrNotDelivered.
//
// When a poll is waiting, the event is written to its connection from the
// caller's goroutine; an event of more than a few kilobytes is written
// under a deadline of inv.Deadline, so a runtime that stops reading cannot
// hold Invoke past it.
func (s *Server) Invoke(ctx context.Context, inv *Invocation, abort <-chan struct{}) (Result, error) {
	select { // an instance that already died must not look like it took inv
	case <-abort:
		return Result{}, ErrNotDelivered
	default:
	}
	c := &call{inv: inv, done: make(chan struct{}, 1), abort: abort}
	s.mu.Lock()
	if s.isClosed() {
		s.mu.Unlock()
		return Result{}, ErrNotDelivered
	}
	if n := len(s.polls); n > 0 {
		p := s.polls[n-1]
		s.polls[n-1] = nil
		s.polls = s.polls[:n-1]
		s.cur, c.delivered = c, true
		s.mu.Unlock()
		s.deliver(p, c)
	} else {
		s.queue = append(s.queue, c)
		s.mu.Unlock()
	}
	var expired <-chan time.Time
	if inv.Expire {
		t := expiry(time.Until(inv.Deadline))
		defer unexpire(t)
		expired = t.C
	}
	select {
	case <-c.done:
		return c.res, nil
	case <-ctx.Done():
		return s.leave(c, ctx.Err(), ctx.Err())
	case <-expired:
		return s.leave(c, context.DeadlineExceeded, context.DeadlineExceeded)
	case <-abort:
		return s.leave(c, ErrNotDelivered, ErrAborted)
	case <-s.closed:
		return s.leave(c, ErrNotDelivered, ErrClosed)
	}
}

// leave ends Invoke's wait for c: with undelivered when the runtime
// never took it, with its answer when one was taken meanwhile, and with
// err otherwise.
func (s *Server) leave(c *call, undelivered, err error) (Result, error) {
	if s.withdraw(c) {
		return Result{}, undelivered
	}
	if s.forget(c) {
		<-c.done
		return c.res, nil
	}
	return Result{}, err
}

// expiries keeps the timers of Invocation.Expire, each stopped.
var expiries = sync.Pool{New: func() any {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return t
}}

// expiry returns a timer from expiries, started for d; unexpire gives it
// back.
func expiry(d time.Duration) *time.Timer {
	t := expiries.Get().(*time.Timer)
	t.Reset(d)
	return t
}

// unexpire stops t and gives it back to expiries. Since Go 1.23 a
// stopped timer keeps no value to receive; the drain is for a server run
// with GODEBUG=asynctimerchan=1, where it would.
func unexpire(t *time.Timer) {
	t.Stop()
	select {
	case <-t.C:
	default:
	}
	expiries.Put(t)
}

// deliver writes c's event to p, whose /next both were paired with under
// mu (p taken from polls or p's goroutine taking c from the queue). If the
// write fails the connection is gone: c was not delivered, and goes to the
// newest other poll or back to the front of the queue.
func (s *Server) deliver(p *conn, c *call) {
	for {
		err := p.writeNext(c.inv)
		s.mu.Lock()
		p.polling = false
		if p.waiting { // p's goroutine holds a pipelined request until now
			p.waiting = false
			p.nc.SetReadDeadline(longAgo) // wakes it from its read
			select {                      // or from its wait for a full buffer
			case p.wake <- struct{}{}:
			default:
			}
		}
		if err == nil || s.cur != c {
			// Written, or Invoke gave up on c meanwhile.
			s.mu.Unlock()
			return
		}
		s.cur, c.delivered = nil, false
		s.mu.Unlock()
		p.nc.Close()
		s.mu.Lock()
		if n := len(s.polls); n > 0 {
			p = s.polls[n-1]
			s.polls[n-1] = nil
			s.polls = s.polls[:n-1]
			s.cur, c.delivered = c, true
			s.mu.Unlock()
			continue
		}
		s.queue = append(s.queue, nil)
		copy(s.queue[1:], s.queue)
		s.queue[0] = c
		s.mu.Unlock()
		return
	}
}

// withdraw takes c out of the queue if it was never delivered, and
// reports whether it was.
func (s *Server) withdraw(c *call) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.delivered {
		return false
	}
	for i, q := range s.queue {
		if q == c {
			copy(s.queue[i:], s.queue[i+1:])
			s.queue[len(s.queue)-1] = nil
			s.queue = s.queue[:len(s.queue)-1]
			break
		}
	}
	return true
}

// forget drops c, which Invoke gives up on; a stream it was sending
// stops reaching Invocation.Stream before forget returns. It reports
// whether finish took c's answer first, which done then signals.
func (s *Server) forget(c *call) (answered bool) {
	s.mu.Lock()
	if s.cur == c {
		s.cur = nil
	}
	answered = c.answered
	s.mu.Unlock()
	if c.inv.Stream != nil {
		c.out.cut()
	}
	return answered
}

// poll registers p's GET .../next: it takes the oldest waiting invocation
// and writes it at once, or waits for Invoke to take it.
func (s *Server) poll(p *conn, closeAfter bool) {
	s.readyOnce.Do(func() { close(s.ready) })
	p.closeAfterNext = closeAfter
	s.mu.Lock()
	p.polling = true
	if len(s.queue) > 0 {
		c := s.queue[0]
		copy(s.queue, s.queue[1:])
		s.queue[len(s.queue)-1] = nil
		s.queue = s.queue[:len(s.queue)-1]
		s.cur, c.delivered = c, true
		s.mu.Unlock()
		s.deliver(p, c)
		return
	}
	s.polls = append(s.polls, p)
	s.mu.Unlock()
}

// unpoll takes p out of polls, if it is there. s.mu is held.
func (s *Server) unpoll(p *conn) {
	for i, q := range s.polls {
		if q == p {
			copy(s.polls[i:], s.polls[i+1:])
			s.polls[len(s.polls)-1] = nil
			s.polls = s.polls[:len(s.polls)-1]
			return
		}
	}
}

// current returns the call whose request ID is id, if it is the one
// handed out and not yet answered.
func (s *Server) current(id []byte) *call {
	s.mu.Lock()
	c := s.cur
	s.mu.Unlock()
	if c == nil || c.inv.RequestID != string(id) {
		return nil
	}
	return c
}

// finish answers c once; it reports false if c was already answered.
func (s *Server) finish(c *call, res Result) bool {
	if !s.claim(c, res) {
		return false
	}
	s.complete(c)
	return true
}

// claim takes res as c's answer, unless c was answered or given up
// already; complete must follow.
func (s *Server) claim(c *call, res Result) bool {
	s.mu.Lock()
	if s.cur != c {
		s.mu.Unlock()
		return false
	}
	s.cur, c.answered = nil, true
	s.mu.Unlock()
	c.res = res
	return true
}

// complete hands the answer claim took to Invocation.Answered and to
// Invoke.
func (s *Server) complete(c *call) {
	if f := c.inv.Answered; f != nil && !c.res.Streamed {
		f(c.res)
	}
	c.done <- struct{}{}
}

const (
	prefix     = "/2018-06-01/runtime/"
	invPrefix  = prefix + "invocation/"
	nextPath   = invPrefix + "next"
	initErrURL = prefix + "init/error"
)

var errTooLarge = errors.New("body too large")

var tooLargeDoc = []byte(`{"errorMessage":"Response payload size exceeded maximum allowed payload size (6291556 bytes).","errorType":"Function.ResponseSizeTooLarge"}`)

const tooLargeMessage = "Response payload size exceeded maximum allowed payload size (6291556 bytes)."

// answer takes the runtime's POST .../{id}/response or .../{id}/error.
// It reports whether the connection can go on.
func (s *Server) answer(p *conn, id []byte, isErr bool) bool {
	c := s.current(id)
	if c == nil {
		return p.writeError(400, "InvalidRequestID", "Invalid request ID")
	}
	if !isErr && p.req.streaming() {
		return s.stream(p, c)
	}
	body, err := p.readBody(MaxResponse)
	if errors.Is(err, errTooLarge) {
		s.finish(c, Result{Error: true, ErrorType: "Function.ResponseSizeTooLarge", Payload: tooLargeDoc})
		p.writeError(413, "Function.ResponseSizeTooLarge", tooLargeMessage)
		return false
	}
	if err != nil {
		// The connection broke (or spoke no HTTP); the instance's exit or
		// the deadline decides.
		return p.failBody(err)
	}
	res := Result{Payload: body}
	if isErr {
		res.Error, res.ErrorType = true, p.req.errorType()
	}
	if !s.claim(c, res) {
		return p.writeError(400, "InvalidRequestID", "Invalid request ID")
	}
	// The caller's answer goes first, from here, and the runtime's 202
	// right after: the caller waits on this answer, while the runtime's
	// next poll waits for the next event anyway. (The other order cost a
	// sequential caller the 202's write, 20-30 µs, and gained nothing in
	// throughput.)
	s.complete(c)
	return p.writeAccepted()
}

// initError takes the runtime's POST /runtime/init/error.
func (s *Server) initError(p *conn) bool {
	body, err := p.readBody(MaxResponse)
	if err != nil && !errors.Is(err, errTooLarge) {
		return p.failBody(err)
	}
	select {
	case s.initErr <- Result{Payload: body, Error: true, ErrorType: p.req.errorType()}:
	default:
	}
	return p.writeAccepted()
}
