package e2e

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aloft-dev/aloft/internal/alofttest"
)

func mustGlob(t *testing.T, pattern string) []string {
	t.Helper()
	m, err := filepath.Glob(pattern)
	if err != nil || len(m) == 0 {
		t.Fatalf("no files match %s (%v)", pattern, err)
	}
	return m
}

// TestCLI drives the aloft CLI against a real server, as a user would.
func TestCLI(t *testing.T) {
	srv := alofttest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	root := alofttest.ModuleRoot(t)
	run := func(args ...string) (string, string, int) {
		t.Helper()
		return srv.Run(ctx, nil, args...)
	}
	mustRun := func(args ...string) string {
		t.Helper()
		out, errOut, code := run(args...)
		if code != 0 {
			t.Fatalf("aloft %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
		}
		return out
	}

	mustRun("function", "create", "hello", "--runtime", "python3.11", "--handler", "app.handler",
		"--code", root+"/examples/hello-python/", "--env", "AA=1")
	out := mustRun("invoke", "hello", "--payload", `{"name":"Ada"}`)
	if !strings.Contains(out, "Hello, Ada!") {
		t.Fatalf("invoke printed %q", out)
	}
	out = mustRun("invoke", "hello", "--payload", `{"name":"Bob"}`)
	var resp struct {
		Message string `json:"message"`
		Count   int    `json:"count"`
	}
	if err := json.Unmarshal([]byte(out), &resp); err != nil || resp.Count != 2 {
		t.Fatalf("second invoke printed %q (%v), want count 2 from the warm instance", out, err)
	}

	list := mustRun("function", "list")
	if !strings.Contains(list, "hello") || !strings.Contains(list, "python3.11") {
		t.Fatalf("list printed %q", list)
	}
	var fns []map[string]any
	jsonOut := mustRun("function", "list", "--output", "json")
	if err := json.Unmarshal([]byte(jsonOut), &fns); err != nil || len(fns) != 1 || fns[0]["FunctionName"] != "hello" {
		t.Fatalf("list --output json printed %q (%v)", jsonOut, err)
	}

	mustRun("function", "update", "hello", "--memory", "256")
	var cfg map[string]any
	getOut := mustRun("function", "get", "hello", "--output", "json")
	if err := json.Unmarshal([]byte(getOut), &cfg); err != nil || !strings.Contains(getOut, "256") {
		t.Fatalf("get after update printed %q (%v)", getOut, err)
	}

	var logs string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		logs = mustRun("logs", "hello", "--since", "10m")
		if strings.Contains(logs, "greeting Bob") {
			break
		}
	}
	for _, want := range []string{"START RequestId:", "greeting Ada", "greeting Bob", "REPORT RequestId:"} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}
	if usage := mustRun("usage"); !strings.Contains(usage, "hello") {
		t.Errorf("usage printed %q", usage)
	}

	if ka := mustRun("keepalive", "show", "hello"); !strings.Contains(ka, `"Reason"`) || !strings.Contains(ka, `"Samples"`) {
		t.Errorf("keepalive show printed %q", ka)
	}
	// The keep-alive simulator needs no server.
	sim := mustRun(append([]string{"keepalive", "simulate"}, mustGlob(t, root+"/internal/keepalive/testdata/synthetic.d0*.csv.gz")...)...)
	if !strings.Contains(sim, "hybrid") || !strings.Contains(sim, "fixed-10m") {
		t.Errorf("keepalive simulate printed %q", sim)
	}

	// Errors: one line on stderr, exit status 1.
	_, errOut, code := run("invoke", "nope")
	if code != 1 || strings.Count(strings.TrimSpace(errOut), "\n") != 0 || !strings.Contains(errOut, "not found") {
		t.Fatalf("invoke of a missing function: exit %d, stderr %q", code, errOut)
	}
	_, errOut, code = run("function", "create", "bad name", "--runtime", "python3.11", "--handler", "app.handler", "--code", root+"/examples/hello-python/")
	if code != 1 || !strings.Contains(errOut, "ValidationException") {
		t.Fatalf("bad name: exit %d, stderr %q", code, errOut)
	}

	mustRun("function", "delete", "hello")
	if _, _, code := run("function", "get", "hello"); code != 1 {
		t.Fatalf("get after delete exited %d, want 1", code)
	}

	srv.Stop()
	_, errOut, code = run("function", "list")
	if code != 1 || !strings.Contains(errOut, "cannot reach") {
		t.Fatalf("with the server down: exit %d, stderr %q", code, errOut)
	}
}
