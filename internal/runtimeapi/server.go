package runtimeapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
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
type Server struct {
	srv *http.Server

	work      chan *call    // hands one invocation to a waiting /next
	ready     chan struct{} // closed on the runtime's first /next
	readyOnce sync.Once
	initErr   chan Result // receives a posted init error
	closed    chan struct{}
	closeOnce sync.Once

	mu  sync.Mutex
	cur *call // guarded by mu: handed out and not yet answered
}

type call struct {
	inv   *Invocation
	done  chan Result
	abort <-chan struct{} // the instance died
	out   streamState     // of a streamed response
}

// Address is where the Runtime API listens inside an instance's private
// network namespace, as on Lambda's port.
const Address = "127.0.0.1:9001"

// New returns a server that answers once Serve is given a listener.
func New() *Server {
	s := &Server{
		work:    make(chan *call),
		ready:   make(chan struct{}),
		initErr: make(chan Result, 1),
		closed:  make(chan struct{}),
	}
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second, ErrorLog: nil}
	return s
}

// Serve answers requests on ln until Close, which closes ln. It always
// returns nil after Close.
func (s *Server) Serve(ln net.Listener) error {
	err := s.srv.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Close stops the server and fails pending calls.
func (s *Server) Close() error {
	s.closeOnce.Do(func() { close(s.closed) })
	return s.srv.Close()
}

// Ready is closed once the runtime has asked for its first invocation,
// which is when its initialisation is over.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// InitError delivers an error the runtime posted to /runtime/init/error.
func (s *Server) InitError() <-chan Result { return s.initErr }

// Invoke hands inv to the runtime and waits for its answer, for ctx to end
// or for abort to close (the instance died). If abort closes or the server
// closes before the runtime took inv, the error is ErrNotDelivered.
func (s *Server) Invoke(ctx context.Context, inv *Invocation, abort <-chan struct{}) (Result, error) {
	c := &call{inv: inv, done: make(chan Result, 1), abort: abort}
	select { // an instance that already died must not look like it took inv
	case <-abort:
		return Result{}, ErrNotDelivered
	default:
	}
	select {
	case s.work <- c:
	case <-ctx.Done():
		return Result{}, ctx.Err()
	case <-abort:
		return Result{}, ErrNotDelivered
	case <-s.closed:
		return Result{}, ErrNotDelivered
	}
	select {
	case r := <-c.done:
		return r, nil
	case <-ctx.Done():
		s.forget(c)
		return Result{}, ctx.Err()
	case <-abort:
		s.forget(c)
		return Result{}, ErrAborted
	case <-s.closed:
		s.forget(c)
		return Result{}, ErrClosed
	}
}

// forget drops c, which Invoke gives up on; a stream it was sending
// stops reaching Invocation.Stream before forget returns.
func (s *Server) forget(c *call) {
	s.mu.Lock()
	if s.cur == c {
		s.cur = nil
	}
	s.mu.Unlock()
	if c.inv.Stream != nil {
		c.out.cut()
	}
}

const (
	prefix     = "/2018-06-01/runtime/"
	invPrefix  = prefix + "invocation/"
	nextPath   = invPrefix + "next"
	initErrURL = prefix + "init/error"
)

// ServeHTTP routes the Runtime API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case p == nextPath:
		if r.Method != http.MethodGet {
			writeError(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "use GET")
			return
		}
		s.next(w, r)
	case strings.HasPrefix(p, invPrefix):
		rest := p[len(invPrefix):]
		i := strings.IndexByte(rest, '/')
		if i < 0 || r.Method != http.MethodPost {
			writeError(w, http.StatusNotFound, "NotFound", "unknown path")
			return
		}
		switch rest[i+1:] {
		case "response":
			s.answer(w, r, rest[:i], false)
		case "error":
			s.answer(w, r, rest[:i], true)
		default:
			writeError(w, http.StatusNotFound, "NotFound", "unknown path")
		}
	case p == initErrURL && r.Method == http.MethodPost:
		body, _ := readBody(r, MaxResponse)
		select {
		case s.initErr <- Result{Payload: body, Error: true, ErrorType: errorType(r)}:
		default:
		}
		writeAccepted(w)
	default:
		writeError(w, http.StatusNotFound, "NotFound", "unknown path")
	}
}

func (s *Server) next(w http.ResponseWriter, r *http.Request) {
	s.readyOnce.Do(func() { close(s.ready) })
	var c *call
	select {
	case c = <-s.work:
	case <-r.Context().Done():
		return
	case <-s.closed:
		return
	}
	s.mu.Lock()
	s.cur = c
	s.mu.Unlock()
	inv := c.inv
	h := w.Header()
	h["Content-Type"] = jsonType
	h["Lambda-Runtime-Aws-Request-Id"] = []string{inv.RequestID}
	h["Lambda-Runtime-Deadline-Ms"] = []string{strconv.FormatInt(inv.Deadline.UnixMilli(), 10)}
	h["Lambda-Runtime-Invoked-Function-Arn"] = []string{inv.FunctionARN}
	if inv.TraceID != "" {
		h["Lambda-Runtime-Trace-Id"] = []string{inv.TraceID}
	}
	if inv.ClientContext != "" {
		h["Lambda-Runtime-Client-Context"] = []string{inv.ClientContext}
	}
	if inv.CognitoIdentity != "" {
		h["Lambda-Runtime-Cognito-Identity"] = []string{inv.CognitoIdentity}
	}
	h["Content-Length"] = []string{strconv.Itoa(len(inv.Payload))}
	w.WriteHeader(http.StatusOK)
	w.Write(inv.Payload)
}

var (
	jsonType = []string{"application/json"}
	accepted = []byte(`{"status":"OK"}` + "\n")
)

func (s *Server) answer(w http.ResponseWriter, r *http.Request, id string, isErr bool) {
	s.mu.Lock()
	c := s.cur
	if c == nil || c.inv.RequestID != id {
		s.mu.Unlock()
		writeError(w, http.StatusBadRequest, "InvalidRequestID", "Invalid request ID")
		return
	}
	s.mu.Unlock()
	if !isErr && streaming(r) {
		s.stream(w, r, c)
		return
	}
	body, err := readBody(r, MaxResponse)
	if errors.Is(err, errTooLarge) {
		s.finish(c, Result{Error: true, ErrorType: "Function.ResponseSizeTooLarge",
			Payload: []byte(`{"errorMessage":"Response payload size exceeded maximum allowed payload size (6291556 bytes).","errorType":"Function.ResponseSizeTooLarge"}`)})
		writeError(w, http.StatusRequestEntityTooLarge, "Function.ResponseSizeTooLarge",
			"Response payload size exceeded maximum allowed payload size (6291556 bytes).")
		return
	}
	if err != nil {
		return // the connection broke; the instance's exit or the deadline decides
	}
	res := Result{Payload: body}
	if isErr {
		res.Error, res.ErrorType = true, errorType(r)
	}
	if !s.finish(c, res) {
		writeError(w, http.StatusBadRequest, "InvalidRequestID", "Invalid request ID")
		return
	}
	writeAccepted(w)
}

// finish answers c once; it reports false if c was already answered.
func (s *Server) finish(c *call, res Result) bool {
	s.mu.Lock()
	if s.cur != c {
		s.mu.Unlock()
		return false
	}
	s.cur = nil
	s.mu.Unlock()
	c.done <- res
	return true
}

func errorType(r *http.Request) string {
	if t := r.Header.Get("Lambda-Runtime-Function-Error-Type"); t != "" {
		return t
	}
	return r.Trailer.Get("Lambda-Runtime-Function-Error-Type")
}

var errTooLarge = errors.New("body too large")

// readBody reads the whole body, up to limit bytes.
func readBody(r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, errTooLarge
	}
	if r.ContentLength >= 0 {
		b := make([]byte, r.ContentLength)
		if _, err := io.ReadFull(r.Body, b); err != nil {
			return nil, err
		}
		return b, nil
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, errTooLarge
	}
	return b, nil
}

func writeAccepted(w http.ResponseWriter) {
	h := w.Header()
	h["Content-Type"] = jsonType
	w.WriteHeader(http.StatusAccepted)
	w.Write(accepted)
}

func writeError(w http.ResponseWriter, status int, typ, msg string) {
	h := w.Header()
	h["Content-Type"] = jsonType
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"errorMessage":%q,"errorType":%q}`+"\n", msg, typ)
}
