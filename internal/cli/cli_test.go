package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/aloft-dev/aloft/internal/client"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// fixedNow is the clock of every test run.
var fixedNow = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

// request is what the fake server received.
type request struct {
	Method, Path string
	Query        map[string][]string
	Header       http.Header
	Body         []byte
}

// jsonBody decodes the body of r.
func (r request) jsonBody(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("%s %s: body is not JSON: %v\n%s", r.Method, r.Path, err, r.Body)
	}
	return m
}

// fakeAPI serves canned answers for Lambda routes ("METHOD /path") and Logs
// actions ("POST Logs_20140328.Action") and records every request.
type fakeAPI struct {
	t      *testing.T
	srv    *httptest.Server
	mu     sync.Mutex
	routes map[string]http.HandlerFunc
	reqs   []request
}

func newFakeAPI(t *testing.T, routes map[string]http.HandlerFunc) *fakeAPI {
	f := &fakeAPI{t: t, routes: routes}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeAPI) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	if !strings.Contains(r.Header.Get("Authorization"), "Credential=AKID/") {
		f.t.Errorf("%s %s: unsigned request", r.Method, r.URL.Path)
	}
	key := r.Method + " " + strings.TrimSuffix(r.URL.Path, "/")
	if target := r.Header.Get("X-Amz-Target"); target != "" {
		key = r.Method + " " + target
	}
	f.mu.Lock()
	f.reqs = append(f.reqs, request{r.Method, r.URL.Path, r.URL.Query(), r.Header.Clone(), body})
	h := f.routes[key]
	f.mu.Unlock()
	if h == nil {
		f.t.Errorf("unexpected request %s", key)
		http.Error(w, "unexpected", http.StatusTeapot)
		return
	}
	h(w, r)
}

func (f *fakeAPI) requests() []request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]request(nil), f.reqs...)
}

// only returns the single request received.
func (f *fakeAPI) only() request {
	f.t.Helper()
	reqs := f.requests()
	if len(reqs) != 1 {
		f.t.Fatalf("got %d requests, want 1", len(reqs))
	}
	return reqs[0]
}

// reply answers with status and a JSON body.
func reply(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

// lambdaError answers like the Lambda API does for an error.
func lambdaError(status int, code, message string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Amzn-ErrorType", code)
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]string{"Type": "User", "message": message})
	}
}

// logsError answers like the CloudWatch Logs API does for an error.
func logsError(code, message string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]string{"__type": code, "message": message})
	}
}

type result struct {
	code           int
	stdout, stderr string
}

// run runs aloft against endpoint with the given standard input.
func run(t *testing.T, ctx context.Context, endpoint, stdin string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	e := newEnv(strings.NewReader(stdin), &out, &errb)
	e.newClient = func() (*client.Client, error) {
		return client.New(client.Options{
			Endpoint: endpoint, AccessKeyID: "AKID", SecretAccessKey: "secret",
			MaxAttempts: 1, CredentialSource: "the test keys",
		})
	}
	e.now = func() time.Time { return fixedNow }
	e.pollInterval = 5 * time.Millisecond
	code := e.run(ctx, args)
	return result{code, out.String(), errb.String()}
}

// runFake runs aloft against f.
func (f *fakeAPI) run(args ...string) result {
	f.t.Helper()
	return run(f.t, context.Background(), f.srv.URL, "", args...)
}

// ok fails the test unless r succeeded quietly.
func (r result) ok(t *testing.T) result {
	t.Helper()
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	return r
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if d := cmp.Diff(string(want), got); d != "" {
		t.Errorf("%s (-want +got):\n%s", path, d)
	}
}

func TestErrors(t *testing.T) {
	f := newFakeAPI(t, map[string]http.HandlerFunc{
		"GET /2015-03-31/functions/nope": lambdaError(404, "ResourceNotFoundException",
			"Function not found: arn:aws:lambda:us-east-1:000000000000:function:nope"),
		"GET /2015-03-31/functions":          lambdaError(500, "ServiceException", "disk full\nsecond line"),
		"DELETE /2015-03-31/functions/hello": lambdaError(403, "InvalidSignatureException", "The request signature we calculated does not match"),
	})
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"not found", []string{"function", "get", "nope"}, `aloft: function "nope" not found`},
		{"api error", []string{"function", "list"}, "aloft: ServiceException: disk full"},
		{"bad keys", []string{"function", "delete", "hello"},
			"aloft: InvalidSignatureException: The request signature we calculated does not match (check the keys from the test keys)"},
		{"missing name", []string{"function", "get"}, `aloft: missing the function name (see "aloft function get --help")`},
		{"extra arg", []string{"function", "get", "a", "b"}, `aloft: unexpected argument "b" (see "aloft function get --help")`},
		{"unknown flag", []string{"function", "list", "--bogus"}, `aloft: unknown flag: --bogus (see "aloft function list --help")`},
		{"bad output", []string{"function", "list", "-o", "yaml"},
			`aloft: invalid argument "yaml" for "-o, --output" flag: use table or json (see "aloft function list --help")`},
		{"unknown command", []string{"lgs"}, `aloft: unknown command "lgs" for "aloft"; did you mean "logs"?`},
		{"unknown subcommand", []string{"function", "bogus"}, `aloft: unknown command "bogus" for "aloft function" (see "aloft function --help")`},
		{"required flag", []string{"function", "create", "x", "--runtime", "python3.12", "--handler", "h"},
			`aloft: required flag(s) "code" not set (see "aloft function create --help")`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := f.run(tc.args...)
			if r.code != 1 || r.stderr != tc.want+"\n" || r.stdout != "" {
				t.Errorf("got exit %d, stdout %q, stderr %q; want exit 1, stderr %q", r.code, r.stdout, r.stderr, tc.want)
			}
		})
	}
}

func TestConnectionRefused(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	endpoint := srv.URL
	srv.Close()
	for _, args := range [][]string{{"function", "list"}, {"usage"}, {"invoke", "hello"}} {
		r := run(t, context.Background(), endpoint, "", args...)
		want := "aloft: cannot reach the server at " + endpoint + ": connection refused (is \"aloft server\" running?)\n"
		if r.code != 1 || r.stderr != want {
			t.Errorf("%v: exit %d, stderr %q; want %q", args, r.code, r.stderr, want)
		}
	}
}

func TestNoCredentials(t *testing.T) {
	var out, errb bytes.Buffer
	e := newEnv(nil, &out, &errb)
	e.newClient = func() (*client.Client, error) { return nil, client.ErrNoCredentials }
	if code := e.run(context.Background(), []string{"function", "list"}); code != 1 {
		t.Errorf("exit %d", code)
	}
	want := "aloft: " + client.ErrNoCredentials.Error() + "\n"
	if errb.String() != want {
		t.Errorf("stderr %q, want %q", errb.String(), want)
	}
}

// TestRun drives the exported entry point with the configuration in the
// environment, as the aloft binary does.
func TestRun(t *testing.T) {
	f := newFakeAPI(t, map[string]http.HandlerFunc{
		"GET /2015-03-31/functions": reply(200, `{"Functions":[]}`),
	})
	t.Setenv(client.EnvEndpoint, f.srv.URL)
	t.Setenv(client.EnvAccessKey, "AKID")
	t.Setenv(client.EnvSecretKey, "secret")
	var out, errb bytes.Buffer
	if code := Run(context.Background(), []string{"function", "list", "-o", "json"}, nil, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if out.String() != "[]\n" {
		t.Errorf("stdout %q", out.String())
	}
}

func TestInterrupted(t *testing.T) {
	block := make(chan struct{})
	defer close(block)
	f := newFakeAPI(t, map[string]http.HandlerFunc{
		"GET /2015-03-31/functions": func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-block:
			case <-r.Context().Done():
			}
		},
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	time.AfterFunc(20*time.Millisecond, cancel)
	r := run(t, ctx, f.srv.URL, "", "function", "list")
	if r.code != 1 || r.stderr != "aloft: interrupted\n" {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestVersion(t *testing.T) {
	r := run(t, context.Background(), "http://unused", "", "version").ok(t)
	if !strings.HasPrefix(r.stdout, "aloft dev (go") {
		t.Errorf("version %q", r.stdout)
	}
	r = run(t, context.Background(), "http://unused", "", "--version").ok(t)
	if !strings.HasPrefix(r.stdout, "aloft dev (go") {
		t.Errorf("--version %q", r.stdout)
	}
}

func TestHelpNeedsNoServer(t *testing.T) {
	r := run(t, context.Background(), "http://unused", "", "function", "update", "--help").ok(t)
	if !strings.Contains(r.stdout, "--env replaces the whole") {
		t.Errorf("update help does not explain --env:\n%s", r.stdout)
	}
}

func TestExplainUnknown(t *testing.T) {
	e := newEnv(nil, io.Discard, io.Discard)
	if got := e.explain(errors.New("first\nsecond")); got != "first" {
		t.Errorf("explain = %q", got)
	}
	if got := e.explain(&stepError{"the code was updated, but not the configuration", errors.New("x")}); got != "the code was updated, but not the configuration: x" {
		t.Errorf("explain = %q", got)
	}
}

// reset forgets the requests received so far.
func (f *fakeAPI) reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reqs = nil
}
