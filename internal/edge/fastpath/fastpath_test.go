package fastpath

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// takesFast is the tests' Takes: POSTs to /fast/... only.
func takesFast(method, target []byte) bool {
	return string(method) == "POST" && bytes.HasPrefix(target, []byte("/fast/"))
}

// echo describes the request it got in its answer, which it writes in the
// way the query's mode asks.
func echo() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if r.URL.Query().Get("mode") == "unread" {
			body, err = nil, nil
		}
		var d strings.Builder
		fmt.Fprintf(&d, "%s %s %s host=%s len=%d close=%v uri=%s err=%v\n", r.Method, r.URL, r.Proto, r.Host, r.ContentLength, r.Close, r.RequestURI, err)
		for _, k := range slices.Sorted(maps.Keys(r.Header)) {
			fmt.Fprintf(&d, "%s=%q\n", k, r.Header[k])
		}
		fmt.Fprintf(&d, "body=%q\n", body)
		out := d.String()
		switch r.URL.Query().Get("mode") {
		case "length": // declared, written, flushed: the Invoke answer's way
			w.Header().Set("Content-Length", fmt.Sprint(len(out)))
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, out)
			http.NewResponseController(w).Flush()
		case "flush": // no length, flushed midway: chunked
			io.WriteString(w, out[:len(out)/2])
			http.NewResponseController(w).Flush()
			io.WriteString(w, out[len(out)/2:])
		case "nocontent":
			w.WriteHeader(http.StatusNoContent)
			io.WriteString(w, out)
		case "short": // declares more than it writes
			w.Header().Set("Content-Length", fmt.Sprint(len(out)+10))
			io.WriteString(w, out)
		case "newline":
			w.Header().Set("X-Split", "a\r\nInjected: yes")
			w.Header()["Bad Name"] = []string{"x"}
			w.WriteHeader(http.StatusTeapot)
			io.WriteString(w, out)
		case "close":
			w.Header().Set("Connection", "close")
			io.WriteString(w, out)
		case "after": // fields set after the status are not sent
			w.WriteHeader(http.StatusAccepted)
			w.Header().Set("X-After", "1")
			io.WriteString(w, out)
		case "te": // the handler asks for chunks
			w.Header().Set("Transfer-Encoding", "chunked")
			io.WriteString(w, out)
		case "encoded": // no sniffing of an encoded body
			w.Header().Set("Content-Encoding", "gzip")
			io.WriteString(w, "<html>not really gzip</html>")
		case "panic":
			panic("handler fails")
		case "sniff":
			io.WriteString(w, "<html><body>hello</body></html>")
		default:
			w.Header().Set("X-Many", "1")
			w.Header().Add("X-Many", "2")
			io.WriteString(w, out)
		}
	}
}

// serveBoth starts h behind the fast path (with net/http behind it) and
// behind net/http alone, and returns both addresses.
func serveBoth(t *testing.T, h http.Handler, fs *Server) (fast, plain string) {
	t.Helper()
	if fs == nil {
		fs = &Server{}
	}
	fs.Handler = h
	ln2, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ps := &http.Server{Handler: h}
	go ps.Serve(ln2)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		ps.Shutdown(ctx)
	})
	return serveFast(t, fs, nil), ln2.Addr().String()
}

// serveFast starts fs (with takesFast and fs.Handler) on a loopback
// listener, net/http behind it on its handoff (wrapped by wrap when not
// nil), and returns the address.
func serveFast(t *testing.T, fs *Server, wrap func(net.Listener) net.Listener) string {
	t.Helper()
	fs.Takes = takesFast
	if fs.IdleTimeout == 0 {
		fs.IdleTimeout = time.Minute
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	handoff := fs.Handoff()
	if wrap != nil {
		handoff = wrap(handoff)
	}
	hs := &http.Server{Handler: fs.Handler}
	go hs.Serve(handoff)
	go fs.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		fs.Shutdown(ctx)
		hs.Shutdown(ctx)
	})
	return ln.Addr().String()
}

// exchange is what a server answered to requests sent on one connection:
// each response's status, header (but Date) and body, then whether the
// connection was closed after them.
type exchange struct {
	answers []string
	closed  bool
}

func roundTrip(t *testing.T, addr, raw string, n int) exchange {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Error(err)
		return exchange{}
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Error(err)
		return exchange{}
	}
	br := bufio.NewReader(c)
	var ex exchange
	for range n {
		resp, err := http.ReadResponse(br, &http.Request{Method: "POST"})
		if err != nil {
			ex.answers = append(ex.answers, "error: "+errKind(err))
			break
		}
		body, err := io.ReadAll(resp.Body)
		resp.Header.Del("Date")
		var d strings.Builder
		fmt.Fprintf(&d, "%d len=%d te=%v close=%v\n", resp.StatusCode, resp.ContentLength, resp.TransferEncoding, resp.Close)
		for _, k := range slices.Sorted(maps.Keys(resp.Header)) {
			fmt.Fprintf(&d, "%s: %q\n", k, resp.Header[k])
		}
		fmt.Fprintf(&d, "%s err=%v", body, err)
		ex.answers = append(ex.answers, d.String())
	}
	c.SetReadDeadline(time.Now().Add(time.Second))
	_, err = br.ReadByte()
	ex.closed = err != nil && !isTimeout(err)
	return ex
}

func errKind(err error) string {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return "eof"
	}
	return "other"
}

// The fast path answers every request as net/http alone answers it: the
// request the handler sees, the answer the client reads and whether the
// connection stays open are the same, for the requests it serves and
// for those it hands over.
func TestSameAsNetHTTP(t *testing.T) {
	fast, plain := serveBoth(t, echo(), nil)
	post := func(target, headers, body string) string {
		return fmt.Sprintf("POST %s HTTP/1.1\r\nHost: example.com\r\n%sContent-Length: %d\r\n\r\n%s", target, headers, len(body), body)
	}
	cases := map[string]struct {
		raw string
		n   int
	}{
		"plain":          {post("/fast/a?x=1&y=%20", "X-Amz-Date: 20260101T000000Z\r\nx-lower:  spaced \t\r\n", `{"a":1}`), 1},
		"repeated field": {post("/fast/a", "X-Rep: 1\r\nx-rep: 2\r\n", "b"), 1},
		"no body":        {"POST /fast/a HTTP/1.1\r\nHost: h\r\n\r\n", 1},
		"length mode":    {post("/fast/a?mode=length", "", "abc"), 1},
		"flush mode":     {post("/fast/a?mode=flush", "", "abc"), 1},
		"no content":     {post("/fast/a?mode=nocontent", "", "abc"), 1},
		"short":          {post("/fast/a?mode=short", "", "abc"), 1},
		"newline":        {post("/fast/a?mode=newline", "", "abc"), 1},
		"handler close":  {post("/fast/a?mode=close", "", "abc"), 1},
		"client close":   {post("/fast/a", "Connection: close\r\n", "abc"), 1},
		"sniff":          {post("/fast/a?mode=sniff", "", ""), 1},
		"after":          {post("/fast/a?mode=after", "", "x"), 1},
		"te":             {post("/fast/a?mode=te", "", "x") + post("/fast/b", "", "y"), 2},
		"encoded":        {post("/fast/a?mode=encoded", "", ""), 1},
		"unread small":   {post("/fast/a?mode=unread", "", strings.Repeat("u", 1000)) + post("/fast/b", "", "next"), 2},
		"unread large":   {post("/fast/a?mode=unread", "", strings.Repeat("u", 300<<10)), 1},
		"keep-alive":     {post("/fast/a", "", "1") + post("/fast/b", "", "2") + post("/fast/c", "", "3"), 3},
		"then handed":    {post("/fast/a", "", "1") + post("/slow/b", "", "2") + post("/fast/c", "", "3"), 3},
		"handed first":   {"GET /slow HTTP/1.1\r\nHost: h\r\n\r\n" + post("/fast/c", "", "3"), 2},
		"two lengths":    {"POST /fast/a HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 1},
		"bad length":     {"POST /fast/a HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", 1},
		"no host":        {"POST /fast/a HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 1},
		"two hosts":      {"POST /fast/a HTTP/1.1\r\nHost: a\r\nHost: b\r\nContent-Length: 0\r\n\r\n", 1},
		"bad host":       {"POST /fast/a HTTP/1.1\r\nHost: a b\r\nContent-Length: 0\r\n\r\n", 1},
		"folded":         {"POST /fast/a HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n 2\r\nContent-Length: 0\r\n\r\n", 1},
		"bare lf":        {"POST /fast/a HTTP/1.1\nHost: a\nContent-Length: 0\n\n", 1},
		"space in name":  {"POST /fast/a HTTP/1.1\r\nHost: a\r\nX A: 1\r\nContent-Length: 0\r\n\r\n", 1},
		"nul in value":   {"POST /fast/a HTTP/1.1\r\nHost: a\r\nX-A: 1\x002\r\nContent-Length: 0\r\n\r\n", 1},
		"http/1.0":       {"POST /fast/a HTTP/1.0\r\nHost: a\r\nContent-Length: 0\r\n\r\n", 1},
		"chunked":        {"POST /fast/a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", 1},
		"expect":         {"POST /fast/a HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx", 2},
		"pragma":         {post("/fast/a", "Pragma: no-cache\r\n", "p"), 1},
		"upgrade":        {post("/fast/a", "Connection: Upgrade\r\nUpgrade: websocket\r\n", "p"), 1},
		"bad target":     {"POST /fast/%zz HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", 1},
		"absolute form":  {"POST http://a/fast/x HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", 1},
		"pipelined":      {post("/fast/a", "", "1") + post("/fast/b", "", "2"), 2},
		"junk":           {"\x16\x03\x01\x00\x05hello\r\n\r\n", 1},
	}
	// All at once: each waits a second to see whether its connection
	// stays open.
	type result struct{ got, want exchange }
	results := make(map[string]*result)
	var wg sync.WaitGroup
	for name, c := range cases {
		r := &result{}
		results[name] = r
		wg.Go(func() { r.got = roundTrip(t, fast, c.raw, c.n) })
		wg.Go(func() { r.want = roundTrip(t, plain, c.raw, c.n) })
	}
	wg.Wait()
	for name, r := range results {
		t.Run(name, func(t *testing.T) {
			got, want := r.got, r.want
			if !reflect.DeepEqual(got, want) {
				t.Errorf("fast path:\n%q %v\nnet/http:\n%q %v", got.answers, got.closed, want.answers, want.closed)
			}
		})
	}
}

// The fast path serves what Takes accepts and hands the rest over; once
// a connection is handed over, net/http serves it to the end.
func TestServesOnlyWhatItTakes(t *testing.T) {
	var fastSeen []string
	h := echo()
	fs := &Server{}
	fast, _ := serveBoth(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := w.(*response); ok {
			fastSeen = append(fastSeen, r.URL.Path)
		}
		h(w, r)
	}), fs)
	post := func(p string) string { return "POST " + p + " HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n" }
	ex := roundTrip(t, fast, post("/fast/1")+post("/fast/2")+post("/slow/3")+post("/fast/4"), 4)
	if len(ex.answers) != 4 || ex.closed {
		t.Fatalf("answers %q, closed %v", ex.answers, ex.closed)
	}
	if want := []string{"/fast/1", "/fast/2"}; !slices.Equal(fastSeen, want) {
		t.Errorf("the fast path served %q, want %q", fastSeen, want)
	}
}

// A handler still running a while after its request's body was read has
// its context cancelled when the caller hangs up; one that the caller
// waits for is not.
func TestHangUpCancels(t *testing.T) {
	cancelled := make(chan error, 2)
	fast, _ := serveBoth(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body)
		select {
		case <-r.Context().Done():
			cancelled <- r.Context().Err()
		case <-time.After(300 * time.Millisecond):
			cancelled <- nil
			io.WriteString(w, "done")
		}
	}), &Server{WatchAfter: 20 * time.Millisecond})
	const req = "POST /fast/a HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi"
	// Waited for: answered, not cancelled, the connection kept.
	ex := roundTrip(t, fast, req+req, 2)
	if len(ex.answers) != 2 || ex.closed || !strings.HasSuffix(ex.answers[1], "done err=<nil>") {
		t.Fatalf("answers %q, closed %v", ex.answers, ex.closed)
	}
	for range 2 {
		if err := <-cancelled; err != nil {
			t.Fatalf("a waited-for request was cancelled: %v", err)
		}
	}
	// Hung up on.
	c, err := net.Dial("tcp", fast)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, req)
	time.Sleep(100 * time.Millisecond)
	c.Close()
	if err := <-cancelled; !errors.Is(err, context.Canceled) {
		t.Fatalf("the handler of a request hung up on ended with %v, want it cancelled", err)
	}
}

// A panicking handler closes its connection and nothing else.
func TestPanicClosesOnlyItsConnection(t *testing.T) {
	fast, _ := serveBoth(t, echo(), &Server{})
	ex := roundTrip(t, fast, "POST /fast/a?mode=panic HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", 1)
	if !ex.closed || len(ex.answers) != 1 || !strings.HasPrefix(ex.answers[0], "error") {
		t.Fatalf("after a panic: %+v", ex)
	}
	ex = roundTrip(t, fast, "POST /fast/b HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", 1)
	if ex.closed || !strings.HasPrefix(ex.answers[0], "200") {
		t.Fatalf("the server did not go on serving: %+v", ex)
	}
}

// Shutdown closes connections waiting for a request, lets a request in
// progress finish, and stops accepting.
func TestShutdown(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	fs := &Server{IdleTimeout: time.Minute}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fs.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		<-release
		io.WriteString(w, "finished")
	})
	fs.Takes = takesFast
	hs := &http.Server{Handler: fs.Handler}
	go hs.Serve(fs.Handoff())
	served := make(chan error, 1)
	go func() { served <- fs.Serve(ln) }()
	idle, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	busy, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	io.WriteString(busy, "POST /fast/a HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n")
	<-started
	time.Sleep(20 * time.Millisecond) // the idle connection is being read
	down := make(chan error, 1)
	go func() { down <- fs.Shutdown(context.Background()) }()
	idle.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := idle.Read(make([]byte, 1)); err == nil || isTimeout(err) {
		t.Fatalf("the idle connection was not closed: %v", err)
	}
	select {
	case err := <-down:
		t.Fatalf("Shutdown returned (%v) with a request in progress", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	resp, err := http.ReadResponse(bufio.NewReader(busy), nil)
	if err != nil {
		t.Fatalf("the request in progress got no answer: %v", err)
	}
	if !resp.Close {
		t.Error("an answer during Shutdown does not say Connection: close")
	}
	if b, _ := io.ReadAll(resp.Body); string(b) != "finished" {
		t.Fatalf("answer %q", b)
	}
	if err := <-down; err != nil {
		t.Fatal(err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		t.Fatalf("Serve returned %v", err)
	}
	if _, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		t.Fatal("still accepting")
	}
	hs.Close()
}

// A kept-alive connection serves any number of requests, pipelined or
// one after the other, without its buffer running out.
func TestManyOnOneConnection(t *testing.T) {
	fast, _ := serveBoth(t, echo(), nil)
	var raw strings.Builder
	for i := range 300 {
		body := strings.Repeat("b", i%97)
		fmt.Fprintf(&raw, "POST /fast/%d HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n%s", i, len(body), body)
	}
	ex := roundTrip(t, fast, raw.String(), 300)
	if len(ex.answers) != 300 || ex.closed {
		t.Fatalf("%d answers, closed %v", len(ex.answers), ex.closed)
	}
	for i, a := range ex.answers {
		if !strings.Contains(a, fmt.Sprintf("POST /fast/%d HTTP/1.1", i)) {
			t.Fatalf("answer %d: %q", i, a)
		}
	}
	c := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 1}}
	defer c.CloseIdleConnections()
	for i := range 300 {
		resp, err := c.Post("http://"+fast+"/fast/seq", "text/plain", strings.NewReader(strings.Repeat("s", i*13)))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(b), fmt.Sprintf("len=%d ", i*13)) {
			t.Fatalf("request %d answered %q", i, b)
		}
	}
}

// A request refused without its body read gets its answer, even when the
// client is still sending a body too large to discard: the connection is
// closed after a linger, not reset under the answer.
func TestRefusedLargeBody(t *testing.T) {
	fast, _ := serveBoth(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, "refused")
	}), nil)
	big := bytes.Repeat([]byte("x"), 8<<20)
	c := &http.Client{}
	defer c.CloseIdleConnections()
	for i := range 10 {
		resp, err := c.Post("http://"+fast+"/fast/big", "application/octet-stream", bytes.NewReader(big))
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden || string(b) != "refused" || !resp.Close {
			t.Fatalf("request %d: %d %q close=%v", i, resp.StatusCode, b, resp.Close)
		}
	}
}

// A client that shuts its sending side after its request still gets the
// answer, though the hang-up watch sees the end of its stream.
func TestHalfClosedClientAnswered(t *testing.T) {
	cancelled := make(chan bool, 1)
	fast, _ := serveBoth(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body)
		select {
		case <-r.Context().Done():
			cancelled <- true
		case <-time.After(2 * time.Second):
			cancelled <- false
		}
		io.WriteString(w, "late answer")
	}), &Server{WatchAfter: 20 * time.Millisecond})
	c, err := net.Dial("tcp", fast)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "POST /fast/a HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n")
	c.(*net.TCPConn).CloseWrite()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer after a half-close: %v", err)
	}
	if b, _ := io.ReadAll(resp.Body); string(b) != "late answer" {
		t.Fatalf("answer %q", b)
	}
	if !<-cancelled {
		t.Error("the handler's context was not cancelled at the end of the caller's stream")
	}
}

// A connection that sends no head is closed after ReadHeaderTimeout, not
// kept for IdleTimeout; so is one whose head stops midway.
func TestHeadTimeout(t *testing.T) {
	fast, _ := serveBoth(t, echo(), &Server{ReadHeaderTimeout: 200 * time.Millisecond, IdleTimeout: time.Minute})
	for _, sent := range []string{"", "POST /fast/a HTTP/1.1\r\nHost:"} {
		c, err := net.Dial("tcp", fast)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(c, sent)
		start := time.Now()
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, err = c.Read(make([]byte, 1))
		if isTimeout(err) || time.Since(start) > 5*time.Second {
			t.Errorf("after %q: still open after %v (%v)", sent, time.Since(start), err)
		}
		c.Close()
	}
}

// spyListener records whether net/http wrote an answer through its
// connection's ReadFrom, and whether that reached the connection's own.
type spyListener struct {
	net.Listener
	direct atomic.Int32 // ReadFrom calls that reached a TCP connection's
	copied atomic.Int32 // those that fell back to a copy
}

func (l *spyListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &spyConn{Conn: c, l: l}, nil
}

type spyConn struct {
	net.Conn
	l *spyListener
}

func (c *spyConn) ReadFrom(r io.Reader) (int64, error) {
	rc, ok := c.Conn.(*replayConn)
	if _, tcp := rc.Conn.(*net.TCPConn); ok && tcp {
		if rf, ok := c.Conn.(io.ReaderFrom); ok {
			c.l.direct.Add(1)
			return rf.ReadFrom(r)
		}
	}
	c.l.copied.Add(1)
	return io.Copy(struct{ io.Writer }{c.Conn}, r)
}

// A connection handed to net/http keeps its TCP connection's ReadFrom, so
// that a file copied into an answer still goes out by sendfile.
func TestHandedOverKeepsSendfile(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "body")
	if err != nil {
		t.Fatal(err)
	}
	content := bytes.Repeat([]byte("0123456789abcdef"), 64<<10)
	if _, err := f.Write(content); err != nil {
		t.Fatal(err)
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			t.Error(err)
		}
		w.Header().Set("Content-Length", fmt.Sprint(len(content)))
		io.Copy(w, f)
	})
	spy := &spyListener{}
	addr := serveFast(t, &Server{Handler: h}, func(l net.Listener) net.Listener { spy.Listener = l; return spy })
	resp, err := http.Get("http://" + addr + "/file")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || !bytes.Equal(got, content) {
		t.Fatalf("read %d bytes (%v), want the file's %d", len(got), err, len(content))
	}
	if d, c := spy.direct.Load(), spy.copied.Load(); d != 1 || c != 0 {
		t.Errorf("the answer went out by the TCP connection's ReadFrom %d times and by a copy %d times, want 1 and 0", d, c)
	}
}
