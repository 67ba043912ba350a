package runtimeapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// countListener counts the connections it accepts.
type countListener struct {
	net.Listener
	n atomic.Int32
}

func (l *countListener) Accept() (net.Conn, error) {
	nc, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return nc, err
}

func startCounting(t *testing.T) (*Server, *countListener) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cl := &countListener{Listener: ln}
	s := New()
	go s.Serve(cl)
	t.Cleanup(func() { s.Close() })
	return s, cl
}

// goRuntime is a runtime on Go's HTTP client, as aws-lambda-go's: one
// keep-alive connection, Content-Length bodies, the error type in a
// header.
func goRuntime(addr string, n int, fail func(error)) {
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1, DisableCompression: true}}
	defer c.CloseIdleConnections()
	base := "http://" + addr + "/2018-06-01/runtime/invocation/"
	for i := 0; i < n; i++ {
		resp, err := c.Get(base + "next")
		if err != nil {
			fail(err)
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		id := resp.Header.Get("Lambda-Runtime-Aws-Request-Id")
		kind := "response"
		req, _ := http.NewRequest("POST", base+id+"/"+kind, bytes.NewReader(body))
		if i%10 == 9 {
			req.URL.Path = strings.TrimSuffix(req.URL.Path, "response") + "error"
			req.Header.Set("Lambda-Runtime-Function-Error-Type", "Function.Tenth")
		}
		resp, err = c.Do(req)
		if err != nil {
			fail(err)
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 202 {
			fail(fmt.Errorf("invocation %d answered %d", i, resp.StatusCode))
			return
		}
	}
}

// A thousand invocations through Go's HTTP client, all on one kept-alive
// connection.
func TestGoClientKeepAlive(t *testing.T) {
	s, cl := startCounting(t)
	const n = 1000
	play(t, func() { goRuntime(cl.Addr().String(), n, func(err error) { t.Error(err) }) })
	for i := 0; i < n; i++ {
		payload := strconv.AppendInt([]byte(`{"n":`), int64(i), 10)
		payload = append(payload, '}')
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		res, err := s.Invoke(ctx, &Invocation{RequestID: "k" + strconv.Itoa(i), Payload: payload, Deadline: time.Now().Add(10 * time.Second)}, nil)
		cancel()
		if err != nil {
			t.Fatalf("invocation %d: %v", i, err)
		}
		if !bytes.Equal(res.Payload, payload) || res.Error != (i%10 == 9) || (res.Error && res.ErrorType != "Function.Tenth") {
			t.Fatalf("invocation %d got %+v", i, res)
		}
	}
	if got := cl.n.Load(); got != 1 {
		t.Fatalf("%d connections for %d invocations, want one", got, n)
	}
}

// A stream through Go's HTTP client fails part way with error trailers,
// and the connection serves on.
func TestGoClientStreamTrailers(t *testing.T) {
	s, cl := startCounting(t)
	addr := cl.Addr().String()
	doc := `{"errorType":"Oops","errorMessage":"late"}`
	play(t, func() {
		c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
		defer c.CloseIdleConnections()
		base := "http://" + addr + "/2018-06-01/runtime/invocation/"
		for i := 0; i < 2; i++ {
			resp, err := c.Get(base + "next")
			if err != nil {
				t.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			id := resp.Header.Get("Lambda-Runtime-Aws-Request-Id")
			pr, pw := io.Pipe()
			req, _ := http.NewRequest("POST", base+id+"/response", pr)
			req.Header.Set(ResponseModeHeader, StreamingMode)
			req.Header.Set("Content-Type", "text/event-stream")
			req.Trailer = http.Header{ErrorTypeHeader: nil, ErrorBodyHeader: nil}
			go func() {
				for j := range 3 {
					fmt.Fprintf(pw, "data: %d\n\n", j)
				}
				if i == 0 {
					req.Trailer.Set(ErrorTypeHeader, "Oops")
					req.Trailer.Set(ErrorBodyHeader, base64.StdEncoding.EncodeToString([]byte(doc)))
				}
				pw.Close()
			}()
			resp, err = c.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
	for i := 0; i < 2; i++ {
		rec := newRecorder()
		res, err := s.Invoke(context.Background(), &Invocation{RequestID: "t" + strconv.Itoa(i), Deadline: time.Now().Add(10 * time.Second), Stream: rec}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if rec.String() != "data: 0\n\ndata: 1\n\ndata: 2\n\n" || rec.ctype != "text/event-stream" {
			t.Fatalf("sink got %q of %q", rec.String(), rec.ctype)
		}
		if i == 0 && (!res.Error || res.ErrorType != "Oops" || string(res.Payload) != doc || !res.Streamed) {
			t.Fatalf("got %+v", res)
		}
		if i == 1 && (res.Error || !res.Streamed) {
			t.Fatalf("got %+v", res)
		}
	}
	if got := cl.n.Load(); got != 1 {
		t.Fatalf("%d connections, want one", got)
	}
}

const pythonRuntime = `
import http.client, sys
host, port = sys.argv[1].rsplit(":", 1)
conn = http.client.HTTPConnection(host, int(port), timeout=10)
base = "/2018-06-01/runtime/invocation/"
for i in range(int(sys.argv[2])):
    conn.request("GET", base + "next")
    resp = conn.getresponse()
    body = resp.read()
    rid = resp.getheader("lambda-runtime-aws-request-id")
    assert resp.status == 200, resp.status
    assert resp.getheader("content-type") == "application/json"
    if i == 1:
        conn.request("POST", base + rid + "/error", body=b'{"errorType":"ValueError"}',
                     headers={"Lambda-Runtime-Function-Error-Type": "Unhandled"})
    elif i == 2:
        def gen():
            yield b"chunk-"
            yield body
        conn.request("POST", base + rid + "/response", body=gen(), encode_chunked=True,
                     headers={"Transfer-Encoding": "chunked"})
    else:
        conn.request("POST", base + rid + "/response", body=body.upper())
    resp = conn.getresponse()
    resp.read()
    assert resp.status == 202, resp.status
print("ok", flush=True)
`

// A runtime on Python's http.client: keep-alive, Content-Length and
// chunked bodies, the error type in a header.
func TestPythonClient(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed")
	}
	s, cl := startCounting(t)
	script := filepath.Join(t.TempDir(), "runtime.py")
	if err := os.WriteFile(script, []byte(pythonRuntime), 0o600); err != nil {
		t.Fatal(err)
	}
	const n = 4
	out := make(chan string, 1)
	play(t, func() {
		b, err := exec.Command(py, script, cl.Addr().String(), strconv.Itoa(n)).CombinedOutput()
		if err != nil {
			t.Errorf("python runtime: %v\n%s", err, b)
		}
		out <- string(b)
	})
	for i := 0; i < n; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		res, err := s.Invoke(ctx, &Invocation{RequestID: "py" + strconv.Itoa(i), Payload: []byte(`{"v":"abc"}`), Deadline: time.Now().Add(10 * time.Second)}, nil)
		cancel()
		if err != nil {
			t.Fatalf("invocation %d: %v", i, err)
		}
		var want string
		switch i {
		case 1:
			want = `{"errorType":"ValueError"}`
			if !res.Error || res.ErrorType != "Unhandled" {
				t.Fatalf("invocation %d got %+v", i, res)
			}
		case 2:
			want = `chunk-{"v":"abc"}`
		default:
			want = `{"V":"ABC"}`
		}
		if string(res.Payload) != want {
			t.Fatalf("invocation %d got %q, want %q", i, res.Payload, want)
		}
	}
	if o := <-out; !strings.Contains(o, "ok") {
		t.Fatalf("python runtime said %q", o)
	}
	if got := cl.n.Load(); got != 1 {
		t.Fatalf("%d connections, want one", got)
	}
}

// curl sends Expect: 100-continue before a large body and waits for the
// go-ahead.
func TestCurlExpectContinue(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl is not installed")
	}
	s := start(t)
	dir := t.TempDir()
	big := bytes.Repeat([]byte("c"), 2<<20)
	if err := os.WriteFile(filepath.Join(dir, "body"), big, 0o600); err != nil {
		t.Fatal(err)
	}
	play(t, func() {
		resp, _ := next(t, s)
		if resp == nil {
			return
		}
		id := resp.Header.Get("Lambda-Runtime-Aws-Request-Id")
		b, err := exec.Command(curl, "-sS", "-v", "-H", "Expect: 100-continue", "--expect100-timeout", "30",
			"--data-binary", "@"+filepath.Join(dir, "body"),
			"http://"+s.Addr()+"/2018-06-01/runtime/invocation/"+id+"/response").CombinedOutput()
		if err != nil || !bytes.Contains(b, []byte("100 Continue")) || !bytes.Contains(b, []byte("202 Accepted")) {
			t.Errorf("curl: %v\n%s", err, b)
		}
	})
	res, err := s.Invoke(context.Background(), &Invocation{RequestID: "curl", Deadline: time.Now().Add(30 * time.Second)}, nil)
	if err != nil || !bytes.Equal(res.Payload, big) {
		t.Fatalf("got %d bytes, %v", len(res.Payload), err)
	}
}
