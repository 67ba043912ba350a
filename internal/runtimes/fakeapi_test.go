package runtimes

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aloft-dev/aloft/internal/function"
)

// testTimeout bounds every wait on a runtime process.
const testTimeout = 20 * time.Second

// fakeEvent is one invocation queued on a fakeAPI.
type fakeEvent struct {
	ID      string
	Body    []byte
	Header  http.Header // extra Lambda-Runtime-* headers
	Timeout time.Duration
}

// fakeResult is what a runtime posted back: kind is "response", "error" or
// "init".
type fakeResult struct {
	Kind   string
	ID     string
	Body   []byte
	Header http.Header
	// Trailer and TransferEncoding are those of the post (a streamed
	// response is chunked, and tells a failure in its trailers).
	Trailer          http.Header
	TransferEncoding []string
	// SawMarker tells whether the fake's marker was already on the process's
	// output when the result arrived (see fakeAPI.marker).
	SawMarker bool
}

// fakeAPI is an in-memory Lambda Runtime API (2018-06-01) for one or more
// runtime processes: it hands out queued events on /next and records what
// the runtime posts.
type fakeAPI struct {
	srv     *httptest.Server
	events  chan fakeEvent
	results chan fakeResult
	nexts   chan time.Time // one value per /next request received
	done    chan struct{}
	seq     atomic.Int64

	// marker, when set, is awaited on output (for up to two seconds) before
	// a result is recorded. The runtime is blocked on its POST meanwhile, so
	// the marker can only show up if it was written before the POST.
	mu     sync.Mutex
	marker string
	output *syncBuffer

	// Connection misbehaviour, to exercise the runtimes' HTTP clients.
	closeAfterNext  bool // answer /next with Connection: close
	hangUpAfterPost bool // drop the connection right after answering a post
}

// misbehave sets the fake's connection misbehaviour.
func (f *fakeAPI) misbehave(closeAfterNext, hangUpAfterPost bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closeAfterNext, f.hangUpAfterPost = closeAfterNext, hangUpAfterPost
}

// watch makes the fake await marker on out before recording each result.
func (f *fakeAPI) watch(marker string, out *syncBuffer) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.marker, f.output = marker, out
}

func newFakeAPI(t testing.TB) *fakeAPI {
	f := &fakeAPI{
		events:  make(chan fakeEvent, 16),
		results: make(chan fakeResult, 16),
		nexts:   make(chan time.Time, 1024),
		done:    make(chan struct{}),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", f.next)
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/response", f.record("response"))
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/error", f.record("error"))
	mux.HandleFunc("POST /2018-06-01/runtime/init/error", f.record("init"))
	f.srv = httptest.NewServer(mux)
	t.Cleanup(func() {
		close(f.done)
		f.srv.Close()
	})
	return f
}

// addr is the value of AWS_LAMBDA_RUNTIME_API.
func (f *fakeAPI) addr() string { return strings.TrimPrefix(f.srv.URL, "http://") }

func (f *fakeAPI) next(w http.ResponseWriter, r *http.Request) {
	select {
	case f.nexts <- time.Now():
	default:
	}
	var ev fakeEvent
	select {
	case ev = <-f.events:
	case <-r.Context().Done():
		return
	case <-f.done:
		w.WriteHeader(http.StatusGone)
		return
	}
	if ev.Timeout == 0 {
		ev.Timeout = 30 * time.Second
	}
	h := w.Header()
	h.Set("Lambda-Runtime-Aws-Request-Id", ev.ID)
	h.Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(time.Now().Add(ev.Timeout).UnixMilli(), 10))
	h.Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:000000000000:function:fn")
	h.Set("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000;Sampled=0")
	for k, vs := range ev.Header {
		h[k] = vs
	}
	h.Set("Content-Type", "application/json")
	f.mu.Lock()
	closeConn := f.closeAfterNext
	f.mu.Unlock()
	if closeConn {
		h.Set("Connection", "close")
	}
	w.Write(ev.Body)
}

func (f *fakeAPI) record(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body := new(bytes.Buffer)
		if _, err := body.ReadFrom(r.Body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		res := fakeResult{Kind: kind, ID: r.PathValue("id"), Body: body.Bytes(), Header: r.Header.Clone(),
			Trailer: r.Trailer.Clone(), TransferEncoding: r.TransferEncoding}
		f.mu.Lock()
		marker, out, hangUp := f.marker, f.output, f.hangUpAfterPost
		f.mu.Unlock()
		if marker != "" && out != nil {
			deadline := time.Now().Add(2 * time.Second)
			for !strings.Contains(out.String(), marker) && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			res.SawMarker = strings.Contains(out.String(), marker)
		}
		f.results <- res
		if hangUp {
			// Answer as if keeping the connection, then close it.
			conn, buf, err := http.NewResponseController(w).Hijack()
			if err == nil {
				buf.WriteString("HTTP/1.1 202 Accepted\r\nContent-Length: 15\r\n\r\n{\"status\":\"OK\"}")
				buf.Flush()
				conn.Close()
			}
			return
		}
		w.WriteHeader(http.StatusAccepted)
		w.Write([]byte(`{"status":"OK"}`))
	}
}

// invoke queues an event and returns its request id.
func (f *fakeAPI) invoke(body string, header ...string) string {
	id := fmt.Sprintf("req-%04d", f.seq.Add(1))
	ev := fakeEvent{ID: id, Body: []byte(body), Header: http.Header{}}
	for i := 0; i+1 < len(header); i += 2 {
		ev.Header.Set(header[i], header[i+1])
	}
	f.events <- ev
	return id
}

// result waits for the next thing the runtime posts.
func (f *fakeAPI) result(t testing.TB, p *proc) fakeResult {
	t.Helper()
	select {
	case r := <-f.results:
		return r
	case <-p.exited:
		// The process may have posted just before exiting.
		select {
		case r := <-f.results:
			return r
		case <-time.After(time.Second):
		}
		t.Fatalf("runtime exited (%v) without posting; output:\n%s", p.err, p.output.String())
	case <-time.After(testTimeout):
		t.Fatalf("no result from the runtime after %v; output:\n%s", testTimeout, p.output.String())
	}
	panic("unreachable")
}

// syncBuffer is a bytes.Buffer safe for one writer and concurrent readers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// proc is a runtime process under test.
type proc struct {
	cmd    *exec.Cmd
	stdout *syncBuffer // stdout only
	output *syncBuffer // stdout and stderr
	exited chan struct{}
	err    error // valid once exited is closed
}

type teeWriter struct{ a, b *syncBuffer }

func (w teeWriter) Write(p []byte) (int, error) {
	w.b.Write(p)
	return w.a.Write(p)
}

var (
	hostOnce   sync.Once
	sharedHost *Host
	bootDir    string
)

// testHost detects the interpreters once and installs the bootstraps into a
// directory shared by all tests of the run.
func testHost(t testing.TB) (*Host, string) {
	t.Helper()
	hostOnce.Do(func() {
		sharedHost = Detect(context.Background(), Options{})
		dir, err := os.MkdirTemp("", "aloft-runtimes-test-")
		if err != nil {
			panic(err)
		}
		if err := Install(dir); err != nil {
			panic(err)
		}
		bootDir = dir
	})
	return sharedHost, bootDir
}

// requireFamily returns the host, the bootstraps' directory and a runtime
// of the family this host runs (the version of the first interpreter
// found).
func requireFamily(t testing.TB, family function.Family) (*Host, string, string) {
	t.Helper()
	h, dir := testHost(t)
	runtime := ""
	switch family {
	case function.Provided:
		runtime = "provided.al2023"
	case function.Python:
		for v, p := range h.Pythons {
			if p == h.Python {
				runtime = "python" + v
			}
		}
	case function.Node:
		for v, p := range h.Nodes {
			if p == h.Node {
				runtime = "nodejs" + v + ".x"
			}
		}
	}
	if err := h.Check(runtime); runtime == "" || err != nil {
		t.Skipf("interpreter missing on this host: %v", err)
	}
	return h, dir, runtime
}

// writeFiles writes name→content pairs under a new temporary code directory.
func writeFiles(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// startRuntime starts a function of the family with the handler against f,
// the way the invoker does: argv and extra environment from Host.Command,
// the function environment, codeDir as working directory.
func startRuntime(t testing.TB, f *fakeAPI, family function.Family, codeDir, handler string, env ...string) *proc {
	t.Helper()
	h, dir, runtime := requireFamily(t, family)
	argv, extra, err := h.Command(runtime, codeDir, dir)
	if err != nil {
		t.Fatalf("Command: %v", err)
	}
	p := &proc{stdout: &syncBuffer{}, output: &syncBuffer{}, exited: make(chan struct{})}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = codeDir
	cmd.Env = append([]string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + os.Getenv("HOME"),
		"AWS_LAMBDA_RUNTIME_API=" + f.addr(),
		"_HANDLER=" + handler,
		"LAMBDA_TASK_ROOT=" + codeDir,
		"LAMBDA_RUNTIME_DIR=" + dir,
		"AWS_LAMBDA_FUNCTION_NAME=fn",
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128",
		"AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/fn",
		"AWS_LAMBDA_LOG_STREAM_NAME=2026/01/01/[$LATEST]0123456789abcdef",
		"AWS_REGION=us-east-1",
		"TZ=:UTC",
	}, extra...)
	cmd.Env = append(cmd.Env, env...)
	cmd.Stdout = teeWriter{p.stdout, p.output}
	cmd.Stderr = p.output
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %v: %v", argv, err)
	}
	p.cmd = cmd
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.exited
		if t.Failed() {
			t.Logf("runtime output:\n%s", p.output.String())
		}
	})
	return p
}

// wait waits for the process to exit and returns its exit code.
func (p *proc) wait(t testing.TB) int {
	t.Helper()
	select {
	case <-p.exited:
	case <-time.After(testTimeout):
		t.Fatalf("runtime did not exit; output:\n%s", p.output.String())
	}
	if p.err == nil {
		return 0
	}
	if ee, ok := p.err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	t.Fatalf("wait: %v", p.err)
	return -1
}

// running reports whether the process is still alive.
func (p *proc) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// errorPayload is the body of /error and /init/error posts (Python uses
// stackTrace, Node.js trace).
type errorPayload struct {
	ErrorMessage string   `json:"errorMessage"`
	ErrorType    string   `json:"errorType"`
	RequestID    *string  `json:"requestId"`
	StackTrace   []string `json:"stackTrace"`
	Trace        []string `json:"trace"`
}

// waitStdout waits until stdout contains s and returns all of stdout. Output
// travels through a pipe copied by a goroutine, so it can trail a result.
func (p *proc) waitStdout(t testing.TB, s string) string {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for {
		out := p.stdout.String()
		if strings.Contains(out, s) || time.Now().After(deadline) {
			return out
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	if bootDir != "" {
		os.RemoveAll(bootDir)
	}
	os.Exit(code)
}
