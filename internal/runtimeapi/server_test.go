package runtimeapi

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// play runs a runtime's side of a test in the background; the test waits
// for it before the server closes.
func play(t *testing.T, fn func()) {
	done := make(chan struct{})
	go func() { defer close(done); fn() }()
	t.Cleanup(func() { <-done })
}

// testServer is a Server serving on a loopback port.
type testServer struct {
	*Server
	addr string
}

func (s *testServer) Addr() string { return s.addr }

func start(t *testing.T) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &testServer{Server: New(), addr: ln.Addr().String()}
	go s.Serve(ln)
	t.Cleanup(func() { s.Close() })
	return s
}

// next takes one invocation the way a runtime does.
func next(t *testing.T, s *testServer) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.Get("http://" + s.Addr() + "/2018-06-01/runtime/invocation/next")
	if err != nil {
		t.Error(err)
		return nil, nil
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, b
}

func post(t *testing.T, s *testServer, path string, body io.Reader, trailer http.Header) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("POST", "http://"+s.Addr()+"/2018-06-01/runtime/"+path, body)
	req.Trailer = trailer
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err)
		return nil
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func TestResponseRoundTrip(t *testing.T) {
	s := start(t)
	deadline := time.Now().Add(3 * time.Second)
	play(t, func() {
		resp, body := next(t, s)
		if resp == nil {
			return
		}
		id := resp.Header.Get("Lambda-Runtime-Aws-Request-Id")
		if got := resp.Header.Get("Lambda-Runtime-Deadline-Ms"); got == "" || string(body) != `{"a":1}` {
			t.Errorf("next got deadline %q body %q", got, body)
		}
		if got := resp.Header.Get("Lambda-Runtime-Invoked-Function-Arn"); got != "arn:x" {
			t.Errorf("arn got %q", got)
		}
		if r := post(t, s, "invocation/wrong/response", strings.NewReader("x"), nil); r != nil && r.StatusCode != 400 {
			t.Errorf("wrong id got %d, want 400", r.StatusCode)
		}
		if r := post(t, s, "invocation/"+id+"/response", strings.NewReader(`"ok"`), nil); r != nil && r.StatusCode != 202 {
			t.Errorf("response got %d, want 202", r.StatusCode)
		}
	})
	res, err := s.Invoke(context.Background(), &Invocation{RequestID: "r1", Payload: []byte(`{"a":1}`), Deadline: deadline, FunctionARN: "arn:x"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Error || string(res.Payload) != `"ok"` {
		t.Fatalf("got %+v, want payload \"ok\"", res)
	}
	select {
	case <-s.Ready():
	default:
		t.Fatal("Ready not closed after /next")
	}
}

func TestChunkedErrorWithTrailer(t *testing.T) {
	s := start(t)
	play(t, func() {
		resp, _ := next(t, s)
		if resp == nil {
			return
		}
		id := resp.Header.Get("Lambda-Runtime-Aws-Request-Id")
		tr := http.Header{"Lambda-Runtime-Function-Error-Type": nil}
		// A reader of unknown length forces a chunked body with trailers.
		body := io.MultiReader(strings.NewReader(`{"errorType":"Boom",`), strings.NewReader(`"errorMessage":"x"}`))
		pr, pw := io.Pipe()
		go func() {
			io.Copy(pw, body)
			tr.Set("Lambda-Runtime-Function-Error-Type", "Function.Boom")
			pw.Close()
		}()
		post(t, s, "invocation/"+id+"/error", pr, tr)
	})
	res, err := s.Invoke(context.Background(), &Invocation{RequestID: "r2", Deadline: time.Now().Add(time.Second)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Error || res.ErrorType != "Function.Boom" || !bytes.Contains(res.Payload, []byte("Boom")) {
		t.Fatalf("got %+v", res)
	}
}

func TestOversizeResponse(t *testing.T) {
	s := start(t)
	play(t, func() {
		resp, _ := next(t, s)
		if resp == nil {
			return
		}
		id := resp.Header.Get("Lambda-Runtime-Aws-Request-Id")
		if r := post(t, s, "invocation/"+id+"/response", bytes.NewReader(make([]byte, MaxResponse+1)), nil); r != nil && r.StatusCode != 413 {
			t.Errorf("got %d, want 413", r.StatusCode)
		}
	})
	res, err := s.Invoke(context.Background(), &Invocation{RequestID: "r3", Deadline: time.Now().Add(time.Second)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Error || res.ErrorType != "Function.ResponseSizeTooLarge" {
		t.Fatalf("got %+v", res)
	}
}

func TestDeadlineAndAbort(t *testing.T) {
	s := start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := s.Invoke(ctx, &Invocation{RequestID: "r4"}, nil); err != context.DeadlineExceeded {
		t.Fatalf("got %v, want deadline exceeded", err)
	}
	abort := make(chan struct{})
	close(abort)
	if _, err := s.Invoke(context.Background(), &Invocation{RequestID: "r5"}, abort); err != ErrNotDelivered {
		t.Fatalf("got %v, want not delivered", err)
	}
}

// Expire ends the wait at the invocation's deadline, as an expired
// context would, whether or not the runtime took the event; a later
// invocation, on timers from the pool, waits for its own deadline;
// without Expire the deadline is only the runtime's to read.
func TestExpire(t *testing.T) {
	s := start(t)
	for i := range 3 {
		t0 := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second) // a guard
		_, err := s.Invoke(ctx, &Invocation{RequestID: fmt.Sprint("e", i), Deadline: t0.Add(30 * time.Millisecond), Expire: true}, nil)
		cancel()
		if took := time.Since(t0); err != context.DeadlineExceeded || took < 30*time.Millisecond || took > time.Second {
			t.Fatalf("after %v got %v, want deadline exceeded at 30ms", took, err)
		}
	}
	// Taken and never answered.
	play(t, func() { next(t, s) })
	t0 := time.Now()
	if _, err := s.Invoke(context.Background(), &Invocation{RequestID: "taken", Deadline: t0.Add(50 * time.Millisecond), Expire: true}, nil); err != context.DeadlineExceeded || time.Since(t0) > time.Second {
		t.Fatalf("a taken event: after %v got %v, want deadline exceeded at 50ms", time.Since(t0), err)
	}
	play(t, func() {
		resp, _ := next(t, s)
		if resp == nil {
			return
		}
		time.Sleep(100 * time.Millisecond) // past the earlier timers' ends
		post(t, s, "invocation/"+resp.Header.Get("Lambda-Runtime-Aws-Request-Id")+"/response", strings.NewReader(`"ok"`), nil)
	})
	res, err := s.Invoke(context.Background(), &Invocation{RequestID: "e3", Deadline: time.Now().Add(10 * time.Second), Expire: true}, nil)
	if err != nil || string(res.Payload) != `"ok"` {
		t.Fatalf("got %q, %v; want the answer", res.Payload, err)
	}
	abort := make(chan struct{})
	time.AfterFunc(50*time.Millisecond, func() { close(abort) })
	if _, err := s.Invoke(context.Background(), &Invocation{RequestID: "e4", Deadline: time.Now().Add(-time.Second)}, abort); err != ErrNotDelivered {
		t.Fatalf("without Expire got %v, want not delivered (the abort)", err)
	}
}

func TestInitError(t *testing.T) {
	s := start(t)
	post(t, s, "init/error", strings.NewReader(`{"errorType":"Runtime.ImportModuleError"}`), nil)
	select {
	case r := <-s.InitError():
		if !bytes.Contains(r.Payload, []byte("ImportModuleError")) {
			t.Fatalf("got %q", r.Payload)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("no init error delivered")
	}
}
