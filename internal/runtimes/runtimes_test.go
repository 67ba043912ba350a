package runtimes

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aloft-dev/aloft/internal/function"
)

func TestDetectResolvesRealPython(t *testing.T) {
	h, _, _ := requireFamily(t, function.Python)
	if !filepath.IsAbs(h.Python) {
		t.Fatalf("Python = %q, want an absolute path", h.Python)
	}
	// A version-manager shim is a script; the resolved interpreter is not.
	head := make([]byte, 2)
	fh, err := os.Open(h.Python)
	if err != nil {
		t.Fatal(err)
	}
	fh.Read(head)
	fh.Close()
	if string(head) == "#!" {
		t.Errorf("Python = %q is a script (a shim?), want the real interpreter", h.Python)
	}
	// It is its own sys.executable, so running it costs no shim.
	out, err := exec.Command(h.Python, "-S", "-c", "import sys; print(sys.executable)").Output()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(out)); got != h.Python {
		t.Errorf("sys.executable of %q is %q", h.Python, got)
	}
	if shim, err := exec.LookPath("python3"); err == nil && shim != h.Python {
		t.Logf("python3 on PATH %s resolved to %s", shim, h.Python)
	}
}

func TestDetectNode(t *testing.T) {
	h, _, _ := requireFamily(t, function.Node)
	if !filepath.IsAbs(h.Node) {
		t.Fatalf("Node = %q, want an absolute path", h.Node)
	}
	if real, err := filepath.EvalSymlinks(h.Node); err != nil || real != h.Node {
		t.Errorf("Node = %q is not symlink-free (%q, %v)", h.Node, real, err)
	}
}

func TestCheckMissingInterpreters(t *testing.T) {
	h := Detect(context.Background(), Options{Python: []string{"/nonexistent/python3"}, Node: []string{"/nonexistent/node"}})
	if h.Python != "" || h.Node != "" {
		t.Fatalf("Detect found %+v", h)
	}
	err := h.Check("python3.12")
	if err == nil || !strings.Contains(err.Error(), "python runtimes are not available on this host") ||
		!strings.Contains(err.Error(), "/nonexistent/python3") || !strings.Contains(err.Error(), "--python") {
		t.Errorf("Check(python) = %v", err)
	}
	err = h.Check("nodejs20.x")
	if err == nil || !strings.Contains(err.Error(), "nodejs runtimes are not available on this host") ||
		!strings.Contains(err.Error(), "/nonexistent/node") || !strings.Contains(err.Error(), "--node") {
		t.Errorf("Check(nodejs) = %v", err)
	}
	if err := h.Check("provided.al2023"); err != nil {
		t.Errorf("Check(provided) = %v", err)
	}
	if err := h.Check("cobol"); err == nil {
		t.Errorf("Check(cobol) succeeded")
	}
	other := &Host{Python: "/usr/bin/python3.11", Pythons: map[string]string{"3.11": "/usr/bin/python3.11"}}
	if err := other.Check("python3.13"); err == nil || !strings.Contains(err.Error(), "python3.13 needs Python 3.13") ||
		!strings.Contains(err.Error(), "it has 3.11 at /usr/bin/python3.11") || !strings.Contains(err.Error(), "--python 3.13=PATH") {
		t.Errorf("Check of a version the host lacks = %v", err)
	}
	if err := other.Check("python3.11"); err != nil {
		t.Errorf("Check of the version the host has = %v", err)
	}
	if _, _, err := h.Command("python3.12", t.TempDir(), t.TempDir()); err == nil {
		t.Errorf("Command(python) without an interpreter succeeded")
	}
	var zero Host
	if err := zero.Check("python3.12"); err == nil || !strings.Contains(err.Error(), "no python3 interpreter found") {
		t.Errorf("zero Host Check(python) = %v", err)
	}
}

func TestCheckRejectsOldPython(t *testing.T) {
	dir := t.TempDir()
	fake := filepath.Join(dir, "python3")
	script := "#!/bin/sh\necho /usr/bin/python2.7\necho 2.7\n"
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	h := Detect(context.Background(), Options{Python: []string{fake}, Node: []string{"/nonexistent/node"}})
	if err := h.Check("python3.12"); err == nil || !strings.Contains(err.Error(), "Python 2.7") {
		t.Errorf("Check = %v", err)
	}
}

func TestCommandProvided(t *testing.T) {
	h := &Host{}
	code := t.TempDir()
	_, _, err := h.Command("provided.al2023", code, "")
	if !errors.Is(err, ErrInvalidEntrypoint) || !strings.HasPrefix(err.Error(), "Couldn't find valid bootstrap(s): [") {
		t.Errorf("missing bootstrap: %v", err)
	}
	entry := filepath.Join(code, "bootstrap")
	if err := os.WriteFile(entry, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err = h.Command("provided.al2023", code, "")
	if !errors.Is(err, ErrInvalidEntrypoint) || !strings.HasSuffix(err.Error(), "permission denied") {
		t.Errorf("non-executable bootstrap: %v", err)
	}
	if err := os.Chmod(entry, 0o755); err != nil {
		t.Fatal(err)
	}
	argv, env, err := h.Command("provided.al2023", code, "")
	if err != nil || len(argv) != 1 || argv[0] != entry || len(env) != 0 {
		t.Errorf("Command = %q %q %v", argv, env, err)
	}
}

func TestCommandInterpreters(t *testing.T) {
	h := &Host{Python: "/opt/py/bin/python3.12", Node: "/opt/node/bin/node",
		Pythons: map[string]string{"3.12": "/opt/py/bin/python3.12"}, Nodes: map[string]string{"22": "/opt/node/bin/node"}}
	boot := t.TempDir()
	if _, _, err := h.Command("python3.12", "/code", boot); err == nil {
		t.Errorf("Command before Install succeeded")
	}
	if err := Install(boot); err != nil {
		t.Fatal(err)
	}
	argv, env, err := h.Command("python3.12", "/code", boot)
	want := []string{h.Python, "-u", filepath.Join(boot, "python", "bootstrap.py")}
	if err != nil || strings.Join(argv, " ") != strings.Join(want, " ") {
		t.Errorf("python argv = %q, %v; want %q", argv, err, want)
	}
	if strings.Join(env, " ") != "PYTHONDONTWRITEBYTECODE=1 PYTHONNOUSERSITE=1" {
		t.Errorf("python env = %q", env)
	}
	argv, env, err = h.Command("nodejs22.x", "/code", boot)
	want = []string{h.Node, filepath.Join(boot, "node", "bootstrap.mjs")}
	if err != nil || strings.Join(argv, " ") != strings.Join(want, " ") || len(env) != 0 {
		t.Errorf("node argv = %q env %q, %v; want %q", argv, env, err, want)
	}
}

func TestInstall(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "runtimes")
	if err := Install(dir); err != nil {
		t.Fatal(err)
	}
	check := func() {
		t.Helper()
		for rel, want := range map[string][]byte{PythonBootstrap: pythonBootstrap, NodeBootstrap: nodeBootstrap} {
			got, err := os.ReadFile(filepath.Join(dir, rel))
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("%s: content differs (%v)", rel, err)
			}
		}
	}
	check()
	py := filepath.Join(dir, PythonBootstrap)
	old := time.Now().Add(-time.Hour).Truncate(time.Second)
	if err := os.Chtimes(py, old, old); err != nil {
		t.Fatal(err)
	}
	// Unchanged files are left alone.
	if err := Install(dir); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(py); !fi.ModTime().Equal(old) {
		t.Errorf("unchanged bootstrap was rewritten")
	}
	// Changed files are replaced, and no temporary files stay behind.
	if err := os.WriteFile(py, []byte("stale"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Install(dir); err != nil {
		t.Fatal(err)
	}
	check()
	for _, sub := range []string{"python", "node"} {
		entries, _ := os.ReadDir(filepath.Join(dir, sub))
		if len(entries) != 1 {
			t.Errorf("%s holds %d entries, want 1", sub, len(entries))
		}
	}
}

// benchmarkColdStart measures process start until the runtime's first
// /next request reaches the Runtime API, for a trivial handler.
func benchmarkColdStart(b *testing.B, family function.Family, handler string, files map[string]string) {
	h, boot, runtime := requireFamily(b, family)
	f := newFakeAPI(b)
	code := writeFiles(b, files)
	argv, extra, err := h.Command(runtime, code, boot)
	if err != nil {
		b.Fatal(err)
	}
	env := append([]string{
		"PATH=" + os.Getenv("PATH"),
		"AWS_LAMBDA_RUNTIME_API=" + f.addr(),
		"_HANDLER=" + handler,
		"LAMBDA_TASK_ROOT=" + code,
		"AWS_LAMBDA_FUNCTION_NAME=fn",
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128",
	}, extra...)
	var total time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Dir, cmd.Env = code, env
		start := time.Now()
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		select {
		case <-f.nexts:
			total += time.Since(start)
		case <-time.After(testTimeout):
			cmd.Process.Kill()
			cmd.Wait()
			b.Fatal("no /next request")
		}
		b.StopTimer()
		cmd.Process.Kill()
		cmd.Wait()
		b.StartTimer()
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/start")
}

func BenchmarkColdStartPython(b *testing.B) {
	benchmarkColdStart(b, function.Python, "app.handler",
		map[string]string{"app.py": "def handler(event, context):\n    return event\n"})
}

func BenchmarkColdStartNode(b *testing.B) {
	benchmarkColdStart(b, function.Node, "index.handler",
		map[string]string{"index.js": "exports.handler = async (event) => event;\n"})
}

// TestRuntimeConnections runs large (chunked) events through both runtimes
// while the Runtime API closes connections, announced or not.
func TestRuntimeConnections(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("x", 200<<10)
	cases := []struct {
		name, handler string
		family        function.Family
		files         map[string]string
	}{
		{"python", "app.handler", function.Python,
			map[string]string{"app.py": "def handler(event, context):\n    return len(event['data'])\n"}},
		{"node", "index.handler", function.Node,
			map[string]string{"index.js": "exports.handler = async (event) => event.data.length;\n"}},
	}
	modes := []struct {
		name                    string
		closeAfterNext, hangUps bool
	}{
		{"keep-alive", false, false},
		{"connection close", true, false},
		{"dropped idle connection", false, true},
	}
	for _, tc := range cases {
		for _, m := range modes {
			t.Run(tc.name+"/"+m.name, func(t *testing.T) {
				t.Parallel()
				f := newFakeAPI(t)
				f.misbehave(m.closeAfterNext, m.hangUps)
				p := startRuntime(t, f, tc.family, writeFiles(t, tc.files), tc.handler)
				for i := 0; i < 3; i++ {
					id := f.invoke(`{"data":"` + big + `"}`)
					r := f.result(t, p)
					expectKind(t, r, "response", id)
					if string(r.Body) != "204800" {
						t.Fatalf("invoke %d: body %q", i, r.Body)
					}
				}
			})
		}
	}
}
