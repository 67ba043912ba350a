package runtimeapi

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// raw is a runtime speaking HTTP/1.1 by hand on one connection.
type raw struct {
	t  *testing.T
	nc net.Conn
	br *bufio.Reader
}

func dialRaw(t *testing.T, addr string) *raw {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	return &raw{t: t, nc: nc, br: bufio.NewReader(nc)}
}

func (r *raw) send(s string) {
	r.t.Helper()
	if _, err := io.WriteString(r.nc, s); err != nil {
		r.t.Fatal(err)
	}
}

// response reads one response with its body.
func (r *raw) response() (*http.Response, string) {
	r.t.Helper()
	resp, err := http.ReadResponse(r.br, nil)
	if err != nil {
		r.t.Fatalf("reading a response: %v", err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		r.t.Fatalf("reading a response body: %v", err)
	}
	return resp, string(b)
}

// closed reports whether the server closed the connection.
func (r *raw) closed() bool {
	r.nc.SetReadDeadline(time.Now().Add(2 * time.Second))
	_, err := r.br.ReadByte()
	return errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || isReset(err)
}

func isReset(err error) bool { return err != nil && strings.Contains(err.Error(), "reset") }

const nextReq = "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n"

func postReq(id, kind, body string, extra ...string) string {
	return "POST /2018-06-01/runtime/invocation/" + id + "/" + kind + " HTTP/1.1\r\nHost: x\r\n" +
		strings.Join(append(extra, ""), "\r\n") + fmt.Sprintf("Content-Length: %d\r\n\r\n", len(body)) + body
}

// invokeAsync runs Invoke in the background.
func invokeAsync(s *Server, inv *Invocation, abort <-chan struct{}) <-chan invoked {
	ch := make(chan invoked, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		r, err := s.Invoke(ctx, inv, abort)
		ch <- invoked{r, err}
	}()
	return ch
}

type invoked struct {
	res Result
	err error
}

func wait(t *testing.T, ch <-chan invoked) invoked {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("Invoke did not return")
		return invoked{}
	}
}

// waitFor polls cond until it holds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func (s *Server) pollCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.polls)
}

func (s *Server) queued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue)
}

// settled waits for every connection goroutine of s to end, after Close.
func settled(t *testing.T, s *Server) {
	t.Helper()
	s.Close()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("a connection's goroutine outlived Close")
	}
}

// A runtime whose connection drops while its /next waits did not take the
// next invocation: Invoke does not count it delivered.
func TestDroppedPollNotDelivered(t *testing.T) {
	s := start(t)
	rt := dialRaw(t, s.Addr())
	rt.send(nextReq)
	waitFor(t, "the poll", func() bool { return s.pollCount() == 1 })
	rt.nc.Close()
	waitFor(t, "the poll's withdrawal", func() bool { return s.pollCount() == 0 })
	abort := make(chan struct{})
	ch := invokeAsync(s.Server, &Invocation{RequestID: "d1", Payload: []byte(`{}`)}, abort)
	waitFor(t, "the queued invocation", func() bool { return s.queued() == 1 })
	close(abort)
	if r := wait(t, ch); r.err != ErrNotDelivered {
		t.Fatalf("got %v, want ErrNotDelivered", r.err)
	}
	settled(t, s.Server)
}

// An invocation whose poll's connection dropped goes to the runtime's
// next poll, on a new connection.
func TestDroppedPollRedelivered(t *testing.T) {
	s := start(t)
	old := dialRaw(t, s.Addr())
	old.send(nextReq)
	waitFor(t, "the poll", func() bool { return s.pollCount() == 1 })
	old.nc.Close()
	waitFor(t, "the poll's withdrawal", func() bool { return s.pollCount() == 0 })
	ch := invokeAsync(s.Server, &Invocation{RequestID: "d2", Payload: []byte(`"again"`)}, nil)
	rt := dialRaw(t, s.Addr())
	rt.send(nextReq)
	resp, body := rt.response()
	if id := resp.Header.Get("Lambda-Runtime-Aws-Request-Id"); id != "d2" || body != `"again"` {
		t.Fatalf("the new poll got %q %q", id, body)
	}
	rt.send(postReq("d2", "response", `"done"`))
	if resp, _ := rt.response(); resp.StatusCode != 202 {
		t.Fatalf("response got %d", resp.StatusCode)
	}
	if r := wait(t, ch); r.err != nil || string(r.res.Payload) != `"done"` {
		t.Fatalf("got %+v, %v", r.res, r.err)
	}
}

// failConn fails its writes once armed, as a connection that broke while
// the event was written.
type failConn struct {
	net.Conn
	mu    sync.Mutex
	armed bool
}

func (f *failConn) Write(p []byte) (int, error) {
	f.mu.Lock()
	armed := f.armed
	f.mu.Unlock()
	if armed {
		return 0, errors.New("broken pipe")
	}
	return f.Conn.Write(p)
}

// wrapListener gives the server each accepted connection as wrap makes it,
// and the test the same on conns.
type wrapListener[C net.Conn] struct {
	net.Listener
	wrap  func(net.Conn) C
	conns chan C
}

func listenWrapped[C net.Conn](t *testing.T, wrap func(net.Conn) C) *wrapListener[C] {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return &wrapListener[C]{Listener: ln, wrap: wrap, conns: make(chan C, 4)}
}

func (l *wrapListener[C]) Accept() (net.Conn, error) {
	nc, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	c := l.wrap(nc)
	l.conns <- c
	return c, nil
}

// An event whose write to the poll's connection fails is not delivered:
// it waits for the next poll, from whichever side wrote it.
func TestFailedWriteNotDelivered(t *testing.T) {
	for _, invokeFirst := range []bool{false, true} {
		t.Run(fmt.Sprintf("invokeFirst=%v", invokeFirst), func(t *testing.T) {
			fl := listenWrapped(t, func(nc net.Conn) *failConn { return &failConn{Conn: nc} })
			ln := fl.Listener
			s := New()
			go s.Serve(fl)
			defer s.Close()
			var ch <-chan invoked
			if invokeFirst {
				ch = invokeAsync(s, &Invocation{RequestID: "w1"}, nil)
				waitFor(t, "the queued invocation", func() bool { return s.queued() == 1 })
			}
			bad := dialRaw(t, ln.Addr().String())
			fc := <-fl.conns
			fc.mu.Lock()
			fc.armed = true
			fc.mu.Unlock()
			bad.send(nextReq)
			if !invokeFirst {
				waitFor(t, "the poll", func() bool { return s.pollCount() == 1 })
				ch = invokeAsync(s, &Invocation{RequestID: "w1"}, nil)
			}
			waitFor(t, "the event back in the queue", func() bool { return s.queued() == 1 })
			good := dialRaw(t, ln.Addr().String())
			<-fl.conns
			good.send(nextReq)
			if resp, _ := good.response(); resp.Header.Get("Lambda-Runtime-Aws-Request-Id") != "w1" {
				t.Fatalf("the good poll got %v", resp.Header)
			}
			good.send(postReq("w1", "response", "1"))
			good.response()
			if r := wait(t, ch); r.err != nil || string(r.res.Payload) != "1" {
				t.Fatalf("got %+v, %v", r.res, r.err)
			}
		})
	}
}

// slowConn counts what the server reads from it and, while hold is set,
// keeps each of the server's writes from returning until hold closes: a
// deliverer that has written the event and not yet been run again.
type slowConn struct {
	net.Conn
	read atomic.Int64
	hold atomic.Pointer[chan struct{}]
}

func (c *slowConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.read.Add(int64(n))
	return n, err
}

func (c *slowConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if h := c.hold.Load(); h != nil {
		<-*h
	}
	return n, err
}

// A runtime answers its event with a large body while the deliverer that
// wrote the event has not returned: the answer fills the buffer of what
// comes behind a /next, and waits there for the deliverer instead of
// ending the connection (which lost the invocation: the runtime moved on
// to its next poll and the caller waited for its timeout).
func TestAnswerBeforeDelivererReturns(t *testing.T) {
	sl := listenWrapped(t, func(nc net.Conn) *slowConn { return &slowConn{Conn: nc} })
	s := New()
	go s.Serve(sl)
	defer s.Close()
	rt := dialRaw(t, sl.Addr().String())
	sc := <-sl.conns
	rt.send(nextReq)
	waitFor(t, "the poll", func() bool { return s.pollCount() == 1 })
	release := make(chan struct{})
	sc.hold.Store(&release)
	ch := invokeAsync(s, &Invocation{RequestID: "a1", Payload: []byte("{}")}, nil)
	if resp, _ := rt.response(); resp.Header.Get("Lambda-Runtime-Aws-Request-Id") != "a1" {
		t.Fatalf("the poll got %v", resp.Header)
	}
	answer := strings.Repeat("x", 256<<10)
	go io.WriteString(rt.nc, postReq("a1", "response", answer))
	waitFor(t, "the server to fill its buffer", func() bool {
		return sc.read.Load() >= int64(len(nextReq)+maxHeaderBytes)
	})
	sc.hold.Store(nil)
	close(release)
	if resp, _ := rt.response(); resp.StatusCode != 202 {
		t.Fatalf("the answer got %d", resp.StatusCode)
	}
	if r := wait(t, ch); r.err != nil || string(r.res.Payload) != answer {
		t.Fatalf("Invoke got %d bytes, %v", len(r.res.Payload), r.err)
	}
	settled(t, s)
}

// A runtime that asks before the event comes and one that asks after are
// both answered, with the headers of today's Runtime API.
func TestNextHeaders(t *testing.T) {
	s := start(t)
	rt := dialRaw(t, s.Addr())
	deadline := time.UnixMilli(1700000000123)
	ch := invokeAsync(s.Server, &Invocation{RequestID: "h1", Payload: []byte(`{"k":1}`), Deadline: deadline,
		FunctionARN: "arn:aws:lambda:us-east-1:000000000000:function:f", TraceID: "Root=1-2-3",
		ClientContext: "{\"a\":\r\n1}", CognitoIdentity: `{"id":"x"}`}, nil)
	rt.send(nextReq)
	resp, body := rt.response()
	want := map[string]string{
		"Content-Type":                        "application/json",
		"Lambda-Runtime-Aws-Request-Id":       "h1",
		"Lambda-Runtime-Deadline-Ms":          "1700000000123",
		"Lambda-Runtime-Invoked-Function-Arn": "arn:aws:lambda:us-east-1:000000000000:function:f",
		"Lambda-Runtime-Trace-Id":             "Root=1-2-3",
		"Lambda-Runtime-Client-Context":       `{"a":  1}`, // a newline cannot end the header
		"Lambda-Runtime-Cognito-Identity":     `{"id":"x"}`,
		"Content-Length":                      "7",
	}
	for k, v := range want {
		if got := resp.Header.Get(k); got != v {
			t.Errorf("%s: got %q, want %q", k, got, v)
		}
	}
	if len(resp.Header) != len(want) || body != `{"k":1}` || resp.StatusCode != 200 {
		t.Errorf("got %d %v %q", resp.StatusCode, resp.Header, body)
	}
	rt.send(postReq("h1", "error", `{"errorType":"E"}`, "lambda-runtime-function-error-type: Function.E"))
	if resp, body := rt.response(); resp.StatusCode != 202 || body != "{\"status\":\"OK\"}\n" {
		t.Fatalf("got %d %q", resp.StatusCode, body)
	}
	if r := wait(t, ch); r.err != nil || !r.res.Error || r.res.ErrorType != "Function.E" {
		t.Fatalf("got %+v, %v", r.res, r.err)
	}
}

// A client sending Expect: 100-continue gets its go-ahead before the body
// is read, and a large event is written whole.
func TestExpectContinue(t *testing.T) {
	s := start(t)
	big := bytes.Repeat([]byte("e"), 3<<20)
	ch := invokeAsync(s.Server, &Invocation{RequestID: "x1", Payload: big, Deadline: time.Now().Add(10 * time.Second)}, nil)
	rt := dialRaw(t, s.Addr())
	rt.send(nextReq)
	if _, body := rt.response(); body != string(big) {
		t.Fatalf("got an event of %d bytes, want %d", len(body), len(big))
	}
	rt.send("POST /2018-06-01/runtime/invocation/x1/response HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
	resp, _ := rt.response()
	if resp.StatusCode != 100 {
		t.Fatalf("got %d, want 100 Continue first", resp.StatusCode)
	}
	rt.send("done")
	if resp, _ := rt.response(); resp.StatusCode != 202 {
		t.Fatalf("got %d", resp.StatusCode)
	}
	if r := wait(t, ch); r.err != nil || string(r.res.Payload) != "done" {
		t.Fatalf("got %+v, %v", r.res, r.err)
	}
	// A request refused without its body is answered without a go-ahead,
	// and its connection closed, as its client may never send the body.
	rt.send("POST /2018-06-01/runtime/invocation/nope/response HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
	resp, _ = rt.response()
	if resp.StatusCode != 400 || !resp.Close {
		t.Fatalf("got %d close=%v, want 400 and close", resp.StatusCode, resp.Close)
	}
}

// HTTP/1.0 requests and Connection: close are answered, then closed.
func TestCloseAfterAnswer(t *testing.T) {
	for _, tc := range []struct{ name, next, post string }{
		{"http10", "GET /2018-06-01/runtime/invocation/next HTTP/1.0\r\n\r\n", "HTTP/1.0"},
		{"connection-close", "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "close"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := start(t)
			ch := invokeAsync(s.Server, &Invocation{RequestID: "c1", Payload: []byte("e")}, nil)
			rt := dialRaw(t, s.Addr())
			rt.send(tc.next)
			resp, body := rt.response()
			if body != "e" || !resp.Close || !rt.closed() {
				t.Fatalf("got %q close=%v, want the event then a close", body, resp.Close)
			}
			rt = dialRaw(t, s.Addr())
			if tc.post == "HTTP/1.0" {
				rt.send("POST /2018-06-01/runtime/invocation/c1/response HTTP/1.0\r\nContent-Length: 2\r\n\r\nok")
			} else {
				rt.send(postReq("c1", "response", "ok", "Connection: close"))
			}
			if resp, _ := rt.response(); resp.StatusCode != 202 || !resp.Close || !rt.closed() {
				t.Fatalf("got %d close=%v", resp.StatusCode, resp.Close)
			}
			if r := wait(t, ch); r.err != nil || string(r.res.Payload) != "ok" {
				t.Fatalf("got %+v, %v", r.res, r.err)
			}
		})
	}
}

// Pipelined requests are answered in order, a request behind a waiting
// /next only once the /next is answered.
func TestPipelined(t *testing.T) {
	s := start(t)
	rt := dialRaw(t, s.Addr())
	rt.send(nextReq + "GET /2018-06-01/runtime/unknown HTTP/1.1\r\nHost: x\r\n\r\n")
	waitFor(t, "the poll", func() bool { return s.pollCount() == 1 })
	time.Sleep(20 * time.Millisecond) // the 404 must not overtake the /next
	ch := invokeAsync(s.Server, &Invocation{RequestID: "p1", Payload: []byte("one")}, nil)
	if resp, body := rt.response(); resp.StatusCode != 200 || body != "one" {
		t.Fatalf("first answer: %d %q", resp.StatusCode, body)
	}
	if resp, _ := rt.response(); resp.StatusCode != 404 {
		t.Fatalf("second answer: %d", resp.StatusCode)
	}
	// A response and the next poll in one write.
	rt.send(postReq("p1", "response", "r1") + nextReq)
	if resp, _ := rt.response(); resp.StatusCode != 202 {
		t.Fatalf("got %d", resp.StatusCode)
	}
	if r := wait(t, ch); string(r.res.Payload) != "r1" {
		t.Fatalf("got %+v, %v", r.res, r.err)
	}
	ch = invokeAsync(s.Server, &Invocation{RequestID: "p2", Payload: []byte("two")}, nil)
	if resp, body := rt.response(); resp.StatusCode != 200 || body != "two" {
		t.Fatalf("got %d %q", resp.StatusCode, body)
	}
	rt.send(postReq("p2", "response", "r2"))
	rt.response()
	if r := wait(t, ch); string(r.res.Payload) != "r2" {
		t.Fatalf("got %+v, %v", r.res, r.err)
	}
	settled(t, s.Server)
}

// Chunked bodies: extensions ignored, trailers read, the error type taken
// from a trailer.
func TestChunkedTrailersRaw(t *testing.T) {
	s := start(t)
	ch := invokeAsync(s.Server, &Invocation{RequestID: "k1"}, nil)
	rt := dialRaw(t, s.Addr())
	rt.send(nextReq)
	rt.response()
	rt.send("POST /2018-06-01/runtime/invocation/k1/error HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\nTrailer: Lambda-Runtime-Function-Error-Type\r\n\r\n" +
		"5;ext=1\r\n{\"a\":\r\nA\r\n\"bcdefghi\"\r\n3\r\n}  \r\n0\r\nlambda-runtime-function-error-type: Function.Late\r\nX-Other: y\r\n\r\n")
	if resp, _ := rt.response(); resp.StatusCode != 202 {
		t.Fatalf("got %d", resp.StatusCode)
	}
	r := wait(t, ch)
	if r.err != nil || string(r.res.Payload) != `{"a":"bcdefghi"}  ` || r.res.ErrorType != "Function.Late" {
		t.Fatalf("got %+v (%q), %v", r.res, r.res.Payload, r.err)
	}
	// The connection serves on after a chunked body.
	rt.send("GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n")
	ch = invokeAsync(s.Server, &Invocation{RequestID: "k2", Payload: []byte("2")}, nil)
	if _, body := rt.response(); body != "2" {
		t.Fatalf("got %q", body)
	}
	rt.send(postReq("k2", "response", ""))
	rt.response()
	if r := wait(t, ch); r.err != nil || r.res.Payload == nil || len(r.res.Payload) != 0 {
		t.Fatalf("an empty response got %+v, %v", r.res, r.err)
	}
}

// Malformed and refused requests get their status; those that cannot be
// read on from close the connection.
func TestRefused(t *testing.T) {
	s := start(t)
	for _, tc := range []struct {
		name, req string
		status    int
		close     bool
	}{
		{"garbage", "hello\r\n\r\n", 400, true},
		{"no version", "GET /2018-06-01/runtime/invocation/next\r\n\r\n", 400, true},
		{"http2", "GET / HTTP/2.0\r\n\r\n", 505, true},
		{"folded", "GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n", 400, true},
		{"space before colon", "GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400, true},
		{"bad length", "POST /2018-06-01/runtime/init/error HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", 400, true},
		{"two lengths", "POST /2018-06-01/runtime/init/error HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400, true},
		{"length and chunked", "POST /2018-06-01/runtime/init/error HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400, true},
		{"gzip", "POST /2018-06-01/runtime/init/error HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501, true},
		{"expect other", "POST /2018-06-01/runtime/init/error HTTP/1.1\r\nExpect: 200-ok\r\nContent-Length: 1\r\n\r\nx", 417, true},
		{"bad chunk", "POST /2018-06-01/runtime/init/error HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400, true},
		{"control in value", "GET / HTTP/1.1\r\nA: b\x00c\r\n\r\n", 400, true},
		{"oversize header", "GET / HTTP/1.1\r\nA: " + strings.Repeat("a", 70<<10) + "\r\n\r\n", 431, true},
		{"wrong method", "POST /2018-06-01/runtime/invocation/next HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}", 405, false},
		{"unknown path", "GET /2018-06-01/runtime/whatever HTTP/1.1\r\n\r\n", 404, false},
		{"get response", "GET /2018-06-01/runtime/invocation/x/response HTTP/1.1\r\n\r\n", 404, false},
		{"unknown id", "POST /2018-06-01/runtime/invocation/x/response HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", 400, false},
		{"query", "DELETE /2018-06-01/runtime/invocation/next?x=1 HTTP/1.1\r\n\r\n", 405, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rt := dialRaw(t, s.Addr())
			rt.send(tc.req)
			resp, body := rt.response()
			if resp.StatusCode != tc.status || resp.Header.Get("Content-Type") != "application/json" || !strings.Contains(body, `"errorType"`) {
				t.Fatalf("got %d %v %q, want %d", resp.StatusCode, resp.Header, body, tc.status)
			}
			if resp.Close != tc.close {
				t.Fatalf("close=%v, want %v", resp.Close, tc.close)
			}
			if tc.close {
				if !rt.closed() {
					t.Fatal("the connection stayed open")
				}
				return
			}
			// The connection serves on.
			rt.send("GET /nothing HTTP/1.1\r\n\r\n")
			if resp, _ := rt.response(); resp.StatusCode != 404 {
				t.Fatalf("the next request got %d", resp.StatusCode)
			}
		})
	}
	settled(t, s.Server)
}

// A request whose header does not come in time is dropped, its goroutine
// with it; an idle keep-alive connection is not.
func TestReadHeaderTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &testServer{Server: New(), addr: ln.Addr().String()}
	s.headerTimeout = 200 * time.Millisecond
	go s.Serve(ln)
	defer s.Close()
	slow := dialRaw(t, s.Addr())
	slow.send("GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\n")
	idle := dialRaw(t, s.Addr())
	idle.send("GET /x HTTP/1.1\r\n\r\n")
	idle.response()
	t0 := time.Now()
	if !slow.closed() {
		t.Fatal("a header that never ended kept its connection")
	}
	if d := time.Since(t0); d > 2*time.Second {
		t.Fatalf("closed after %v", d)
	}
	time.Sleep(300 * time.Millisecond)
	idle.send("GET /x HTTP/1.1\r\n\r\n")
	if resp, _ := idle.response(); resp.StatusCode != 404 {
		t.Fatalf("the idle connection got %d", resp.StatusCode)
	}
	silent := dialRaw(t, s.Addr()) // never sends its first request
	if !silent.closed() {
		t.Fatal("a connection that sent nothing was kept")
	}
}

// Close ends every connection and fails waiting calls; Serve returns nil.
func TestCloseEndsAll(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := New()
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	rt := dialRaw(t, ln.Addr().String())
	rt.send(nextReq)
	waitFor(t, "the poll", func() bool { return s.pollCount() == 1 })
	ch := invokeAsync(s, &Invocation{RequestID: "z"}, nil)
	rt.response()
	s.Close()
	if r := wait(t, ch); r.err != ErrClosed {
		t.Fatalf("a delivered call got %v, want ErrClosed", r.err)
	}
	if r := wait(t, invokeAsync(s, &Invocation{RequestID: "z2"}, nil)); r.err != ErrNotDelivered {
		t.Fatalf("a call after Close got %v", r.err)
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve returned %v", err)
	}
	settled(t, s)
	if s.Serve(ln) != nil {
		t.Fatal("Serve after Close did not return nil")
	}
}

// FuzzRequest feeds arbitrary bytes to a connection while an invocation
// waits. The server must not panic or hang, must close the connection
// once the client has, and must then serve a well-formed exchange.
func FuzzRequest(f *testing.F) {
	post := "POST /2018-06-01/runtime/invocation/fz/response HTTP/1.1\r\nHost: x\r\n"
	for _, seed := range []string{
		nextReq,
		nextReq + post + "Content-Length: 2\r\n\r\nok",
		post + "Transfer-Encoding: chunked\r\nLambda-Runtime-Function-Response-Mode: streaming\r\n\r\n3\r\nabc\r\n0\r\nLambda-Runtime-Function-Error-Type: E\r\nLambda-Runtime-Function-Error-Body: e30=\r\n\r\n",
		nextReq + "POST /2018-06-01/runtime/invocation/fz/error HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2;x=y\r\n{}\r\n0\r\nLambda-Runtime-Function-Error-Type: Boom\r\n\r\n",
		post + "Expect: 100-continue\r\nContent-Length: 3\r\n\r\nabc",
		"GET /2018-06-01/runtime/invocation/next HTTP/1.0\r\n\r\n",
		nextReq + nextReq + nextReq,
		"POST /2018-06-01/runtime/init/error HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}" + nextReq,
		"GET / HTTP/1.1\r\nA: " + strings.Repeat("x", 66<<10) + "\r\n\r\n",
		"\r\n\r\n" + nextReq,
		post + "Transfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n",
		post + "Content-Length: 99999999999\r\n\r\n",
		"GET /2018-06-01/runtime/invocation/next HTTP/1.1\n\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		s := New()
		go s.Serve(ln)
		abort := make(chan struct{})
		ch := invokeAsync(s, &Invocation{RequestID: "fz", Payload: []byte(`{}`), Deadline: time.Now().Add(5 * time.Second)}, abort)

		nc, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		nc.SetDeadline(time.Now().Add(5 * time.Second))
		go func() {
			nc.Write(data)
			nc.(*net.TCPConn).CloseWrite()
		}()
		if _, err := io.Copy(io.Discard, nc); err != nil && !isReset(err) {
			t.Fatalf("the server did not close the connection: %v", err)
		}
		nc.Close()
		close(abort)
		wait(t, ch) // any outcome, but promptly

		// A well-formed exchange on a new connection.
		c := &http.Client{Transport: &http.Transport{}, Timeout: 5 * time.Second}
		defer c.CloseIdleConnections()
		done := make(chan error, 1)
		go func() {
			resp, err := c.Get("http://" + ln.Addr().String() + nextPath)
			if err != nil {
				done <- err
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			resp, err = c.Post("http://"+ln.Addr().String()+invPrefix+resp.Header.Get("Lambda-Runtime-Aws-Request-Id")+"/response", "application/json", strings.NewReader(`"fine"`))
			if err == nil {
				resp.Body.Close()
			}
			done <- err
		}()
		r := wait(t, invokeAsync(s, &Invocation{RequestID: "good"}, nil))
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if r.err != nil || string(r.res.Payload) != `"fine"` {
			t.Fatalf("after the fuzzed connection: %+v, %v", r.res, r.err)
		}
		settled(t, s)
	})
}

// A connection that sends a request behind its waiting /next and then
// ends is still seen to end: its poll is withdrawn.
func TestPipelinedBehindPollEnds(t *testing.T) {
	s := start(t)
	rt := dialRaw(t, s.Addr())
	rt.send(nextReq + nextReq)
	waitFor(t, "the poll", func() bool { return s.pollCount() == 1 })
	rt.nc.(*net.TCPConn).CloseWrite()
	waitFor(t, "the poll's withdrawal", func() bool { return s.pollCount() == 0 })
	if !rt.closed() {
		t.Fatal("the connection stayed open")
	}
	abort := make(chan struct{})
	ch := invokeAsync(s.Server, &Invocation{RequestID: "pe"}, abort)
	waitFor(t, "the queued invocation", func() bool { return s.queued() == 1 })
	close(abort)
	if r := wait(t, ch); r.err != ErrNotDelivered {
		t.Fatalf("got %v, want ErrNotDelivered", r.err)
	}
	settled(t, s.Server)
}

// TestConnectionCap opens more connections than MaxConns: the ones past
// it are closed at once, and the server still answers on those it keeps.
func TestConnectionCap(t *testing.T) {
	s := start(t)
	var kept []net.Conn
	for range MaxConns {
		nc, err := net.Dial("tcp", s.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		kept = append(kept, nc)
	}
	waitFor(t, "the kept connections", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.conns) == MaxConns
	})
	extra, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	extra.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := extra.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("a connection past the cap: read %d bytes, %v; want it closed", n, err)
	}
	// A kept connection still serves a poll.
	kept[0].Write([]byte("GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n"))
	waitFor(t, "the poll", func() bool { return s.pollCount() == 1 })
	ch := invokeAsync(s.Server, &Invocation{RequestID: "cap", Payload: []byte(`{}`)}, nil)
	kept[0].SetReadDeadline(time.Now().Add(5 * time.Second))
	head := make([]byte, 12)
	if _, err := io.ReadFull(kept[0], head); err != nil || string(head) != "HTTP/1.1 200" {
		t.Fatalf("the poll got %q, %v", head, err)
	}
	s.Close()
	wait(t, ch)
}
