// Package fastpath serves the front door's most frequent requests without
// net/http's per-request machinery, and hands every other connection to
// net/http unchanged.
//
// The Server accepts the listener's connections and reads each request
// head itself. A head its Takes function accepts, with the plainest shape
// (HTTP/1.1, a body of known length, nothing net/http would treat
// specially: see parseHead), it serves with the same handler as net/http:
// it builds the *http.Request net/http would have built, and answers
// through a ResponseWriter that sends head and body in one write. On
// any other head it hands the connection, from that request's first
// byte, to net/http (Handoff), which serves it from then on as if it had
// accepted it: malformed requests, streaming uploads, 100-continue and
// everything else keep net/http's behaviour exactly.
//
// What a served request saves against net/http: the goroutine and
// one-byte read that watch every request for its caller hanging up, the
// context and map work of the generic reader, and a buffered writer per
// connection. The hang-up watch is kept where it matters: a request
// whose handler is still running WatchAfter after its body was read is
// watched (within half that again), as net/http watches every request,
// and its context is cancelled if the caller goes.
package fastpath

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aloft-dev/aloft/internal/sockio"
)

// Server serves one listener's connections; see the package comment.
type Server struct {
	// Handler serves the requests Takes accepts.
	Handler http.Handler
	// Takes reports whether the server serves a request with this method
	// and target (as they stand in the request line) itself.
	Takes func(method, target []byte) bool
	// ReadHeaderTimeout bounds the reading of a head from its first
	// byte; ReadTimeout that of a whole request; IdleTimeout the wait
	// for the next request on a kept-alive connection.
	ReadHeaderTimeout, ReadTimeout, IdleTimeout time.Duration
	// WatchAfter is how long a handler runs after its request's body
	// was read before the connection is watched for the caller hanging
	// up (a second when zero).
	WatchAfter time.Duration
	// Log gets handler panics.
	Log *slog.Logger

	handoff  handoff
	mu       sync.Mutex
	conns    map[*conn]struct{}
	ln       net.Listener
	closing  atomic.Bool
	done     chan struct{} // closed when Serve has returned
	initOnce sync.Once
}

// maxHead is the largest head the server reads itself; a larger one goes
// to net/http, which allows more.
const maxHead = 8 << 10

// maxDiscard is how much of a body the handler left unread is read and
// dropped to keep the connection; after a longer one it is closed.
const maxDiscard = 256 << 10

func (s *Server) init() {
	s.initOnce.Do(func() {
		s.handoff.conns = make(chan net.Conn)
		s.handoff.closed = make(chan struct{})
		s.handoff.s = s
		s.conns = make(map[*conn]struct{})
		s.done = make(chan struct{})
	})
}

// Handoff is the listener net/http serves: it accepts the connections
// the server hands over. Close it (http.Server.Shutdown does) after
// Shutdown.
func (s *Server) Handoff() net.Listener {
	s.init()
	return &s.handoff
}

// Serve accepts ln's connections until ln is closed, and returns
// http.ErrServerClosed after Shutdown. It is called once.
func (s *Server) Serve(ln net.Listener) error {
	s.init()
	defer close(s.done)
	s.mu.Lock()
	s.ln = ln
	s.mu.Unlock()
	if s.closing.Load() {
		ln.Close()
		return http.ErrServerClosed
	}
	stop := make(chan struct{})
	defer close(stop)
	go s.watchLoop(stop)
	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.closing.Load() {
				return http.ErrServerClosed
			}
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			// Out of descriptors or buffers, or another passing
			// failure: wait and accept again, as net/http does.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			if s.Log != nil {
				s.Log.Warn("accept failed; retrying", "err", err, "delay", delay)
			}
			time.Sleep(delay)
			continue
		}
		delay = 0
		c := &conn{s: s, nc: nc, io: sockio.New(nc), remote: nc.RemoteAddr().String(), store: make([]byte, 4<<10)}
		s.mu.Lock()
		if s.closing.Load() {
			s.mu.Unlock()
			nc.Close()
			continue
		}
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		go c.serve()
	}
}

// Shutdown stops accepting, closes connections that wait for a request,
// and waits for those serving one to finish it (or ctx to end, when it
// closes them all). Connections already handed to net/http are its own
// to drain.
func (s *Server) Shutdown(ctx context.Context) error {
	s.init()
	s.closing.Store(true)
	s.mu.Lock()
	ln := s.ln
	s.mu.Unlock()
	if ln != nil {
		ln.Close()
		<-s.done
	}
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		s.mu.Lock()
		for c := range s.conns {
			if c.idle.Load() {
				c.nc.Close()
			}
		}
		n := len(s.conns)
		s.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			s.mu.Lock()
			for c := range s.conns {
				c.nc.Close()
			}
			s.mu.Unlock()
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// watchLoop starts the hang-up watch of every request whose handler has
// run WatchAfter since its body was read, looking twice per WatchAfter,
// until stop closes.
func (s *Server) watchLoop(stop <-chan struct{}) {
	after := s.watchAfter()
	tick := time.NewTicker(max(after/2, time.Millisecond))
	defer tick.Stop()
	var due []*conn
	for {
		select {
		case <-stop:
			return
		case now := <-tick.C:
			s.mu.Lock()
			for c := range s.conns {
				if c.due(now, after) {
					due = append(due, c)
				}
			}
			s.mu.Unlock()
			for i, c := range due {
				go c.watchHangUp()
				due[i] = nil
			}
			due = due[:0]
		}
	}
}

func (s *Server) forget(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

func (s *Server) watchAfter() time.Duration {
	if s.WatchAfter > 0 {
		return s.WatchAfter
	}
	return time.Second
}

// conn is one connection the server reads: buf holds what was read of
// it and not yet consumed.
type conn struct {
	s      *Server
	nc     net.Conn
	io     *sockio.Conn // reads heads and writes small answers on nc
	remote string       // nc's remote address
	buf    []byte       // read and not yet consumed, within store
	store  []byte
	idle   atomic.Bool // waiting for a request's first byte
	// wbuf and body are the response buffers, reused from request to
	// request: the head and what follows it, and a body held back.
	wbuf, body []byte

	// The hang-up watch of the request being served.
	mu       sync.Mutex
	cancel   context.CancelFunc // nil between requests
	armed    bool               // the request's body is read: watch it
	armedAt  time.Time          // when it was
	watching chan struct{}      // closed when a started watch is over
	gone     bool               // the watch saw the caller hang up
	got      [1]byte            // a byte the watch read: the next request's
	gotOne   bool
}

func (c *conn) serve() {
	defer c.s.forget(c)
	for first := true; ; first = false {
		h, ok, err := c.readHead(first)
		if err != nil {
			c.nc.Close()
			return
		}
		if !ok {
			c.handOff()
			return
		}
		switch c.serveOne(&h) {
		case keepOpen:
		case closeNow:
			c.nc.Close()
			return
		case closeLingering:
			c.closeLingering()
			return
		}
	}
}

// What becomes of a connection after a request.
type fate int

const (
	keepOpen fate = iota
	closeNow
	closeLingering // request bytes are left unread
)

// lingerTime is how long a connection closed with request bytes unread
// is drained after its write side is shut, so that the client reads the
// answer before a reset could discard it.
const lingerTime = 500 * time.Millisecond

func (c *conn) closeLingering() {
	if cw, ok := c.nc.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
		c.nc.SetReadDeadline(time.Now().Add(lingerTime))
		io.Copy(io.Discard, c.nc)
	}
	c.nc.Close()
}

// readHead reads up to the end of the next head, which it parses when it
// is one the server serves. ok false leaves every byte of it in buf for
// net/http.
//
// A connection's first head must come within ReadHeaderTimeout of its
// accept; a later one may be IdleTimeout coming (ReadTimeout when that is
// zero, as net/http has it), and has ReadHeaderTimeout from its first
// read on. A head cut short by its deadline closes the connection.
func (c *conn) readHead(first bool) (h head, ok bool, err error) {
	if len(c.buf) == 0 {
		c.buf = c.store[:0] // read into the whole array
	}
	c.idle.Store(len(c.buf) == 0)
	if c.s.closing.Load() && c.idle.Load() {
		return h, false, net.ErrClosed
	}
	wait := c.s.IdleTimeout
	if wait == 0 {
		wait = c.s.ReadTimeout
	}
	if first && c.s.ReadHeaderTimeout > 0 {
		wait = c.s.ReadHeaderTimeout
	}
	if wait > 0 {
		c.nc.SetReadDeadline(time.Now().Add(wait))
	}
	for reads := 0; ; reads++ {
		if i := bytes.Index(c.buf, headEnd); i >= 0 {
			c.idle.Store(false)
			h, ok := parseHead(c.buf[:i+len(headEnd)], c.s.Takes)
			if ok {
				c.buf = c.buf[i+len(headEnd):]
			}
			return h, ok, nil
		}
		if len(c.buf) >= maxHead || len(c.buf) > 0 && (c.buf[0] < 'A' || c.buf[0] > 'Z') || bareLF(c.buf) {
			c.idle.Store(false)
			return h, false, nil // not a head of ours: TLS, HTTP/2, junk
		}
		if len(c.buf) > 0 && reads == 1 && c.s.ReadHeaderTimeout > 0 {
			// The head did not come in one read: the rest of it has
			// ReadHeaderTimeout.
			c.nc.SetReadDeadline(time.Now().Add(c.s.ReadHeaderTimeout))
		}
		c.room()
		n, err := c.io.Read(c.buf[len(c.buf):cap(c.buf)])
		c.buf = c.buf[:len(c.buf)+n]
		if n > 0 {
			c.idle.Store(false)
		}
		if err != nil {
			if len(c.buf) > 0 && !isTimeout(err) {
				return h, false, nil // net/http answers what there is
			}
			return h, false, err
		}
	}
}

var headEnd = []byte("\r\n\r\n")

// room makes space after buf's bytes for a read: it moves them to the
// front of the connection's array, or to one twice their size when they
// would fill it.
func (c *conn) room() {
	if len(c.buf) < cap(c.buf) {
		return
	}
	if len(c.buf) >= len(c.store) {
		c.store = make([]byte, 2*len(c.buf))
	}
	n := copy(c.store, c.buf)
	c.buf = c.store[:n]
}

// bareLF reports whether b has a line feed without its carriage return,
// a line end net/http accepts and the server leaves to it.
func bareLF(b []byte) bool {
	for i := bytes.IndexByte(b, '\n'); i >= 0; {
		if i == 0 || b[i-1] != '\r' {
			return true
		}
		j := bytes.IndexByte(b[i+1:], '\n')
		if j < 0 {
			return false
		}
		i += 1 + j
	}
	return false
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// handOff gives the connection, with the bytes read of it, to net/http.
func (c *conn) handOff() {
	c.nc.SetReadDeadline(time.Time{})
	rc := &replayConn{Conn: c.nc, buf: c.buf}
	select {
	case c.s.handoff.conns <- rc:
	case <-c.s.handoff.closed:
		c.nc.Close()
	}
}

// serveOne serves the request h heads, and says what becomes of the
// connection.
func (c *conn) serveOne(h *head) fate {
	if rt := c.s.ReadTimeout; rt > 0 && int64(len(c.buf)) < h.length {
		c.nc.SetReadDeadline(time.Now().Add(rt))
	}
	ctx, cancel := context.WithCancel(context.Background())
	c.mu.Lock()
	c.cancel, c.gone = cancel, false
	c.mu.Unlock()
	body := &body{c: c, left: h.length, live: true}
	// WithContext is the only way to give a request its context, and it
	// copies: copying the zero request makes the copy the one request
	// allocated.
	r := zeroRequest.WithContext(ctx)
	r.Method, r.URL, r.Header = h.method, h.url, h.header
	r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/1.1", 1, 1
	r.Body, r.ContentLength, r.Close = body, h.length, h.close
	r.Host, r.RemoteAddr, r.RequestURI = h.host, c.remote, h.target
	if h.length == 0 {
		r.Body = http.NoBody
		c.arm()
	}
	w := &response{c: c, body: body, header: make(http.Header, 8), close: h.close}
	ok := c.run(w, r)
	body.live = false
	gone := c.disarm()
	cancel()
	if !ok { // the handler panicked: nothing more is written
		return closeNow
	}
	// Written even to a caller seen to hang up: it may have shut only
	// its sending side.
	written := w.finish()
	switch {
	case body.left > 0:
		return closeLingering
	case !written || gone || w.close:
		return closeNow
	}
	return keepOpen
}

// zeroRequest is what each request is copied from; it is never changed.
var zeroRequest http.Request

// run calls the handler, recovering a panic as net/http does: the
// connection closes with no more written.
func (c *conn) run(w *response, r *http.Request) (ok bool) {
	defer func() {
		if p := recover(); p != nil {
			if p != http.ErrAbortHandler && c.s.Log != nil {
				c.s.Log.Error("panic serving a request", "remote", r.RemoteAddr, "path", r.URL.Path, "panic", p, "stack", string(debug.Stack()))
			}
			ok = false
		}
	}()
	c.s.Handler.ServeHTTP(w, r)
	return true
}

// arm starts the hang-up watch's clock once the request's body is read.
// No timer is set per request (setting and stopping one would wake the
// runtime's poller): the server's watch loop looks at the clocks.
func (c *conn) arm() {
	now := time.Now()
	c.mu.Lock()
	c.armed, c.armedAt = true, now
	c.mu.Unlock()
}

// due reports whether c's request has run WatchAfter since its body was
// read, with no watch yet.
func (c *conn) due(now time.Time, after time.Duration) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.armed && c.watching == nil && now.Sub(c.armedAt) >= after
}

// watchHangUp reads the connection while the handler still runs: an end
// of file or an error cancels the request's context; a byte (a pipelined
// request's) ends the watch and is kept.
func (c *conn) watchHangUp() {
	c.mu.Lock()
	cancel := c.cancel
	if !c.armed || cancel == nil || c.watching != nil {
		c.mu.Unlock()
		return
	}
	// Cleared before the watch is seen, so that disarm's deadline, set
	// after, is the one the read keeps.
	c.nc.SetReadDeadline(time.Time{})
	done := make(chan struct{})
	c.watching = done
	c.mu.Unlock()
	defer close(done)
	n, err := c.nc.Read(c.got[:])
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case n == 1:
		c.gotOne = true
	case isTimeout(err): // disarm stopped it
	default:
		c.gone = true
		cancel()
	}
}

// disarm ends the request's watch; it reports whether the caller hung up.
func (c *conn) disarm() (gone bool) {
	c.mu.Lock()
	c.cancel, c.armed = nil, false
	watching := c.watching
	c.mu.Unlock()
	if watching != nil {
		c.nc.SetReadDeadline(aLongTimeAgo)
		<-watching
		c.nc.SetReadDeadline(time.Time{})
		c.mu.Lock()
		c.watching = nil
		if c.gotOne {
			c.gotOne = false
			c.room()
			c.buf = append(c.buf, c.got[0])
		}
		c.mu.Unlock()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gone
}

var aLongTimeAgo = time.Unix(1, 0)

// body reads a request's body: what buf holds of it, then the
// connection, never past its end.
type body struct {
	c    *conn
	left int64
	err  error
	live bool // the handler runs: its end of the body arms the watch
}

func (b *body) Read(p []byte) (int, error) {
	if b.left == 0 {
		return 0, io.EOF
	}
	if b.err != nil {
		return 0, b.err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	var n int
	if len(b.c.buf) > 0 {
		n = copy(p, b.c.buf)
		b.c.buf = b.c.buf[n:]
	} else {
		var err error
		n, err = b.c.nc.Read(p)
		if err != nil && n < len(p) {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			b.err = err
		}
	}
	b.left -= int64(n)
	if b.left == 0 {
		if b.live {
			b.c.arm()
		}
		return n, io.EOF
	}
	if n == 0 {
		return 0, b.err
	}
	return n, nil
}

func (b *body) Close() error { return nil }

// discard reads and drops what the handler left of the body, up to
// maxDiscard; false when the connection must close instead.
func (b *body) discard() bool {
	if b.left > maxDiscard || b.err != nil {
		return false
	}
	_, err := io.Copy(io.Discard, b)
	return err == nil && b.left == 0
}

// handoff is the listener of the connections handed to net/http.
type handoff struct {
	conns     chan net.Conn
	closed    chan struct{}
	closeOnce sync.Once
	s         *Server
}

func (l *handoff) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *handoff) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	return nil
}

// Addr is the address of the listener the server serves.
func (l *handoff) Addr() net.Addr {
	l.s.mu.Lock()
	defer l.s.mu.Unlock()
	if l.s.ln != nil {
		return l.s.ln.Addr()
	}
	return &net.TCPAddr{}
}

// replayConn reads buf before its connection: the bytes the server read
// before it handed the connection over.
type replayConn struct {
	net.Conn
	buf []byte
}

func (c *replayConn) Read(p []byte) (int, error) {
	if len(c.buf) > 0 {
		n := copy(p, c.buf)
		c.buf = c.buf[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// ReadFrom writes r's bytes to the connection with the connection's own
// ReadFrom (sendfile or splice for a TCP connection), which net/http
// uses when a handler copies a file into its answer.
func (c *replayConn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{c.Conn}, r)
}

// CloseWrite lets net/http's lingering close reach the TCP connection.
func (c *replayConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
