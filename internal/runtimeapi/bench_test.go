package runtimeapi

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// httpAPI is the Runtime API's four endpoints on net/http, as the package
// served them before its own HTTP/1.1 server: the baseline of
// BenchmarkExchange.
type httpAPI struct {
	work chan *httpCall
	mu   sync.Mutex
	cur  *httpCall
}

type httpCall struct {
	inv  *Invocation
	done chan Result
}

func (a *httpAPI) Invoke(ctx context.Context, inv *Invocation) (Result, error) {
	c := &httpCall{inv: inv, done: make(chan Result, 1)}
	select {
	case a.work <- c:
	case <-ctx.Done():
		return Result{}, ctx.Err()
	}
	select {
	case r := <-c.done:
		return r, nil
	case <-ctx.Done():
		return Result{}, ctx.Err()
	}
}

var httpJSON = []string{"application/json"}

func (a *httpAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case p == nextPath && r.Method == http.MethodGet:
		var c *httpCall
		select {
		case c = <-a.work:
		case <-r.Context().Done():
			return
		}
		a.mu.Lock()
		a.cur = c
		a.mu.Unlock()
		h := w.Header()
		h["Content-Type"] = httpJSON
		h["Lambda-Runtime-Aws-Request-Id"] = []string{c.inv.RequestID}
		h["Lambda-Runtime-Deadline-Ms"] = []string{strconv.FormatInt(c.inv.Deadline.UnixMilli(), 10)}
		h["Lambda-Runtime-Invoked-Function-Arn"] = []string{c.inv.FunctionARN}
		if c.inv.TraceID != "" {
			h["Lambda-Runtime-Trace-Id"] = []string{c.inv.TraceID}
		}
		h["Content-Length"] = []string{strconv.Itoa(len(c.inv.Payload))}
		w.WriteHeader(http.StatusOK)
		w.Write(c.inv.Payload)
	case strings.HasPrefix(p, invPrefix) && r.Method == http.MethodPost:
		rest := p[len(invPrefix):]
		i := strings.IndexByte(rest, '/')
		if i < 0 || (rest[i+1:] != "response" && rest[i+1:] != "error") {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		a.mu.Lock()
		c := a.cur
		if c == nil || c.inv.RequestID != rest[:i] {
			a.mu.Unlock()
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		a.cur = nil
		a.mu.Unlock()
		body := make([]byte, r.ContentLength)
		if _, err := io.ReadFull(r.Body, body); err != nil {
			return
		}
		res := Result{Payload: body}
		if rest[i+1:] == "error" {
			res.Error, res.ErrorType = true, r.Header.Get(ErrorTypeHeader)
		}
		c.done <- res
		w.Header()["Content-Type"] = httpJSON
		w.WriteHeader(http.StatusAccepted)
		w.Write([]byte(`{"status":"OK"}` + "\n"))
	case p == initErrURL && r.Method == http.MethodPost:
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusAccepted)
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

// benchRuntime answers invocations on one kept-alive connection of Go's
// HTTP client, echoing each event, until the server goes away.
func benchRuntime(addr string) {
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1, DisableCompression: true}}
	defer c.CloseIdleConnections()
	base := "http://" + addr + "/2018-06-01/runtime/invocation/"
	for {
		resp, err := c.Get(base + "next")
		if err != nil {
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		resp, err = c.Post(base+resp.Header.Get("Lambda-Runtime-Aws-Request-Id")+"/response", "application/json", bytes.NewReader(body))
		if err != nil {
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

// rawRuntime answers invocations on one connection with hand-written
// HTTP/1.1 and next to no work of its own, so that what is measured is
// the server's.
func rawRuntime(addr string) {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		return
	}
	defer nc.Close()
	br := bufio.NewReaderSize(nc, 8<<10)
	next := []byte(nextGet)
	var body, post []byte
	for {
		if _, err := nc.Write(next); err != nil {
			return
		}
		id, n, ok := rawHead(br)
		if !ok {
			return
		}
		body = append(body[:0], make([]byte, n)...)
		if _, err := io.ReadFull(br, body); err != nil {
			return
		}
		post = append(post[:0], "POST /2018-06-01/runtime/invocation/"...)
		post = append(post, id...)
		post = append(post, "/response HTTP/1.1\r\nHost: x\r\nContent-Length: "...)
		post = strconv.AppendInt(post, int64(n), 10)
		post = append(post, "\r\n\r\n"...)
		post = append(post, body...)
		if _, err := nc.Write(post); err != nil {
			return
		}
		if _, n, ok = rawHead(br); !ok {
			return
		}
		if _, err := br.Discard(n); err != nil {
			return
		}
	}
}

const nextGet = "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n"

// rawHead reads a response head, returning its request ID (of a /next)
// and its Content-Length.
func rawHead(br *bufio.Reader) (id []byte, n int, ok bool) {
	for first := true; ; first = false {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return nil, 0, false
		}
		line = bytes.TrimRight(line, "\r\n")
		switch {
		case len(line) == 0:
			return id, n, true
		case first:
		case len(line) > 30 && bytes.EqualFold(line[:30], []byte("Lambda-Runtime-Aws-Request-Id:")):
			id = append(id[:0], bytes.TrimSpace(line[30:])...)
		case len(line) > 15 && bytes.EqualFold(line[:15], []byte("Content-Length:")):
			n, _ = strconv.Atoi(string(bytes.TrimSpace(line[15:])))
		}
	}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// runtimeEnv names, in a child test process, the address its runtime
// answers on and which runtime it is ("go" or "raw").
const runtimeEnv = "ALOFT_RUNTIMEAPI_BENCH_RUNTIME"

// TestHelperRuntime is the runtime of BenchmarkExchange's "-proc" cases,
// run in a process of its own; it does nothing in a plain test run.
func TestHelperRuntime(t *testing.T) {
	v := os.Getenv(runtimeEnv)
	kind, addr, ok := strings.Cut(v, "@")
	if !ok {
		t.Skip("run by BenchmarkExchange")
	}
	if kind == "raw" {
		rawRuntime(addr)
	} else {
		benchRuntime(addr)
	}
}

// BenchmarkExchange is one warm invocation: Invoke, and the runtime's
// GET .../next and POST .../response over loopback. "aloft" is this
// package's server, "nethttp" the same endpoints on net/http. The runtime
// is Go's HTTP client on a kept-alive connection, as aws-lambda-go's; in
// the "-raw" cases it is hand-written HTTP/1.1 that does next to nothing,
// so that the figures are the server's. In the "-proc" cases the runtime
// runs in a process of its own, as a function's does, and cpu-ns/op is
// then the server's CPU time alone; otherwise it is that of both.
func BenchmarkExchange(b *testing.B) {
	payload := []byte(`{"key1":"value1","key2":"value2","key3":"value3"}`)
	inv := Invocation{RequestID: "8f5f2a4c-6c1e-4b7e-9a43-2f1d2d3c4b5a", Payload: payload,
		FunctionARN: "arn:aws:lambda:us-east-1:000000000000:function:bench", TraceID: "Root=1-00000000-000000000000000000000000;Sampled=0"}
	run := func(b *testing.B, runtime string, proc bool, serve func(net.Listener), invoke func(context.Context, *Invocation) (Result, error), stop func()) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		go serve(ln)
		done := make(chan struct{})
		if proc {
			cmd := exec.Command(os.Args[0], "-test.run=^TestHelperRuntime$")
			cmd.Env = append(os.Environ(), runtimeEnv+"="+runtime+"@"+ln.Addr().String())
			if err := cmd.Start(); err != nil {
				b.Fatal(err)
			}
			go func() { defer close(done); cmd.Wait() }()
		} else {
			rt := benchRuntime
			if runtime == "raw" {
				rt = rawRuntime
			}
			go func() { defer close(done); rt(ln.Addr().String()) }()
		}
		ctx := context.Background()
		// The first exchange waits for the runtime to start.
		if _, err := invoke(ctx, &Invocation{RequestID: "warm", Payload: payload, Deadline: time.Now().Add(time.Minute)}); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		cpu := cpuTime()
		for i := 0; i < b.N; i++ {
			in := inv
			in.Deadline = time.Now().Add(time.Minute)
			res, err := invoke(ctx, &in)
			if err != nil || len(res.Payload) != len(payload) {
				b.Fatalf("got %q, %v", res.Payload, err)
			}
		}
		b.StopTimer()
		b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
		stop()
		<-done
	}
	for _, rt := range []struct {
		name, runtime string
		proc          bool
	}{{"", "go", false}, {"-raw", "raw", false}, {"-proc", "go", true}, {"-raw-proc", "raw", true}} {
		b.Run("aloft"+rt.name, func(b *testing.B) {
			s := New()
			run(b, rt.runtime, rt.proc, func(ln net.Listener) { s.Serve(ln) },
				func(ctx context.Context, inv *Invocation) (Result, error) { return s.Invoke(ctx, inv, nil) },
				func() { s.Close() })
		})
		b.Run("nethttp"+rt.name, func(b *testing.B) {
			a := &httpAPI{work: make(chan *httpCall)}
			srv := &http.Server{Handler: a, ReadHeaderTimeout: 10 * time.Second}
			run(b, rt.runtime, rt.proc, func(ln net.Listener) { srv.Serve(ln) }, a.Invoke, func() { srv.Close() })
		})
	}
}
