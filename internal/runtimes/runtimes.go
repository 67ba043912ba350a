package runtimes

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aloft-dev/aloft/internal/function"
)

//go:embed bootstrap/python/bootstrap.py
var pythonBootstrap []byte

//go:embed bootstrap/node/bootstrap.mjs
var nodeBootstrap []byte

// Paths of the bootstraps relative to the directory given to Install.
const (
	PythonBootstrap = "python/bootstrap.py"
	NodeBootstrap   = "node/bootstrap.mjs"
)

// Minimum interpreter versions the bootstraps are written for.
const (
	minPythonMinor = 8  // Python 3.8
	minNodeMajor   = 18 // Node.js 18
)

// ErrorTypeInvalidEntrypoint is the error type Lambda reports when a
// function's entrypoint (the bootstrap of a provided runtime) is missing or
// cannot be executed.
const ErrorTypeInvalidEntrypoint = "Runtime.InvalidEntrypoint"

// ErrInvalidEntrypoint is wrapped by the errors Command returns when a
// provided-runtime function has no runnable bootstrap. Their Error() text is
// the message Lambda reports with ErrorTypeInvalidEntrypoint.
var ErrInvalidEntrypoint = errors.New("invalid entrypoint")

type entrypointError struct{ msg string }

func (e *entrypointError) Error() string { return e.msg }
func (e *entrypointError) Unwrap() error { return ErrInvalidEntrypoint }

// detectTimeout bounds each interpreter probe Detect runs.
const detectTimeout = 15 * time.Second

// Options names the interpreters to use, each a path (probed for its
// version) or VERSION=path ("3.12=/opt/py312/bin/python3"). Empty lists
// mean finding them: python3.N, python3 and python on PATH and pyenv's
// versions; node on PATH and nvm's versions.
type Options struct {
	Python, Node []string
	// NodeModules is a node_modules directory of packages Node.js
	// functions may import without bundling them (the AWS SDK, installed
	// by scripts/install-sdks.sh), after their own; empty for none.
	NodeModules string
	// PythonPath is a directory of packages Python functions may import
	// without bundling them (boto3), after their own; empty for none.
	PythonPath string
}

// Host holds the interpreters found on this host as absolute paths, by
// version: a runtime identifier runs on the interpreter of its own
// version, or not at all.
type Host struct {
	Python string // the first Python found: python3 on PATH, say
	Node   string // likewise
	// Pythons maps "3.11" to an interpreter; Nodes "20".
	Pythons map[string]string
	Nodes   map[string]string
	// NodeModules and PythonPath are Options'.
	NodeModules, PythonPath string

	// Why each family has no interpreter, for Check's message.
	pythonWhy, nodeWhy string
}

// Detect resolves the interpreters once, probing the candidates
// concurrently. For Python it runs each candidate (which may be a
// version-manager shim) a single time to learn the real executable behind
// it and its version, so that functions start without the shim's
// overhead; it requires Python 3.8 or later. For Node.js it follows
// symlinks and requires Node.js 18 or later. Check explains what is
// missing.
func Detect(ctx context.Context, o Options) *Host {
	h := &Host{Pythons: map[string]string{}, Nodes: map[string]string{}, NodeModules: o.NodeModules, PythonPath: o.PythonPath}
	py := o.Python
	if len(py) == 0 {
		py = pythonCandidates()
	}
	nd := o.Node
	if len(nd) == 0 {
		nd = nodeCandidates()
	}
	type found struct{ version, path, why string }
	pyFound, ndFound := make([]found, len(py)), make([]found, len(nd))
	var wg sync.WaitGroup
	for i, c := range py {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, p, why := detectPython(ctx, c)
			pyFound[i] = found{v, p, why}
		}()
	}
	for i, c := range nd {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, p, why := detectNode(ctx, c)
			ndFound[i] = found{v, p, why}
		}()
	}
	wg.Wait()
	// The candidates' order decides: an explicit one, or PATH's, first.
	for _, f := range pyFound {
		if f.path == "" {
			if h.pythonWhy == "" || len(o.Python) > 0 {
				h.pythonWhy = f.why
			}
			continue
		}
		if _, ok := h.Pythons[f.version]; !ok {
			h.Pythons[f.version] = f.path
		}
		if h.Python == "" {
			h.Python = f.path
		}
	}
	for _, f := range ndFound {
		if f.path == "" {
			if h.nodeWhy == "" || len(o.Node) > 0 {
				h.nodeWhy = f.why
			}
			continue
		}
		if _, ok := h.Nodes[f.version]; !ok {
			h.Nodes[f.version] = f.path
		}
		if h.Node == "" {
			h.Node = f.path
		}
	}
	return h
}

// pythonCandidates are the Python interpreters Detect tries: PATH's
// python3 and python first, then each python3.N on PATH, then pyenv's
// versions.
func pythonCandidates() []string {
	out := []string{"python3", "python"}
	for m := minPythonMinor; m <= 14; m++ {
		// A version manager's shim is slow to start (a shell script that
		// asks the manager), and the manager's versions are probed below
		// directly: only real interpreters by these names.
		name := "python3." + strconv.Itoa(m)
		if p, err := exec.LookPath(name); err == nil && !strings.Contains(p, "/shims/") {
			out = append(out, p)
		}
	}
	root := os.Getenv("PYENV_ROOT")
	if root == "" {
		if home, err := os.UserHomeDir(); err == nil {
			root = filepath.Join(home, ".pyenv")
		}
	}
	if root != "" {
		matches, _ := filepath.Glob(filepath.Join(root, "versions", "*", "bin", "python3"))
		out = append(out, matches...)
	}
	return out
}

// nodeCandidates are the Node.js binaries Detect tries: PATH's node, then
// nvm's versions.
func nodeCandidates() []string {
	out := []string{"node"}
	dir := os.Getenv("NVM_DIR")
	if dir == "" {
		if home, err := os.UserHomeDir(); err == nil {
			dir = filepath.Join(home, ".nvm")
		}
	}
	if dir != "" {
		matches, _ := filepath.Glob(filepath.Join(dir, "versions", "node", "*", "bin", "node"))
		out = append(out, matches...)
	}
	return out
}

// pythonProbe prints the interpreter's real executable and its version. It
// runs with -S: site initialisation would only slow the probe down.
const pythonProbe = `import sys; print(sys.executable); print("%d.%d" % sys.version_info[:2])`

// detectPython probes one candidate: a name on PATH, a path, or
// VERSION=path. It returns the version ("3.11") and the executable, or
// why the candidate cannot be used.
func detectPython(ctx context.Context, candidate string) (version, path, why string) {
	want, name, pinned := strings.Cut(candidate, "=")
	if !pinned {
		name, want = candidate, ""
	}
	bin, err := exec.LookPath(name)
	if err != nil {
		return "", "", fmt.Sprintf("python interpreter %q not found", name)
	}
	out, err := probe(ctx, bin, "-S", "-c", pythonProbe)
	if err != nil {
		return "", "", fmt.Sprintf("%s does not run: %v", bin, err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		return "", "", fmt.Sprintf("%s answered the version probe unexpectedly: %q", bin, out)
	}
	exe, version := strings.TrimSpace(lines[0]), strings.TrimSpace(lines[1])
	major, minor, _ := strings.Cut(version, ".")
	mj, err1 := strconv.Atoi(major)
	mn, err2 := strconv.Atoi(minor)
	if err1 != nil || err2 != nil || mj != 3 || mn < minPythonMinor {
		return "", "", fmt.Sprintf("%s is Python %s; Aloft needs Python 3.%d or later", bin, version, minPythonMinor)
	}
	if want != "" && want != version {
		return "", "", fmt.Sprintf("%s is Python %s, not %s", bin, version, want)
	}
	if exe == "" {
		exe = bin
	}
	// Not EvalSymlinks: a virtualenv's python is a symlink whose location
	// selects the environment.
	if abs, err := filepath.Abs(exe); err == nil {
		exe = abs
	}
	return version, exe, ""
}

// detectNode probes one candidate as detectPython does; the version is
// the major one ("20").
func detectNode(ctx context.Context, candidate string) (version, path, why string) {
	want, name, pinned := strings.Cut(candidate, "=")
	if !pinned {
		name, want = candidate, ""
	}
	bin, err := exec.LookPath(name)
	if err != nil {
		return "", "", fmt.Sprintf("node binary %q not found", name)
	}
	if real, err := filepath.EvalSymlinks(bin); err == nil {
		bin = real
	}
	if abs, err := filepath.Abs(bin); err == nil {
		bin = abs
	}
	out, err := probe(ctx, bin, "--version")
	if err != nil {
		return "", "", fmt.Sprintf("%s does not run: %v", bin, err)
	}
	full := strings.TrimPrefix(strings.TrimSpace(out), "v")
	major, _, _ := strings.Cut(full, ".")
	if mj, err := strconv.Atoi(major); err != nil || mj < minNodeMajor {
		return "", "", fmt.Sprintf("%s is Node.js %s; Aloft needs Node.js %d or later", bin, full, minNodeMajor)
	}
	if want != "" && want != major {
		return "", "", fmt.Sprintf("%s is Node.js %s, not %s", bin, full, want)
	}
	return major, bin, ""
}

func probe(ctx context.Context, bin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, detectTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			if len(msg) > 200 {
				msg = msg[:200] + "..."
			}
			return "", fmt.Errorf("%w: %s", err, msg)
		}
		return "", err
	}
	return stdout.String(), nil
}

// Install writes the embedded bootstraps under dir (PythonBootstrap and
// NodeBootstrap). Each file is replaced atomically, and only when its
// content differs, so running functions never see a partial file.
func Install(dir string) error {
	files := []struct {
		rel  string
		data []byte
	}{
		{PythonBootstrap, pythonBootstrap},
		{NodeBootstrap, nodeBootstrap},
	}
	for _, f := range files {
		if err := writeIfChanged(filepath.Join(dir, filepath.FromSlash(f.rel)), f.data); err != nil {
			return fmt.Errorf("install runtime bootstrap: %w", err)
		}
	}
	return nil
}

func writeIfChanged(path string, data []byte) error {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return nil
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	name := tmp.Name()
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Chmod(0o644)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(name, path)
	}
	if err != nil {
		os.Remove(name)
	}
	return err
}

// Version returns the interpreter version a runtime identifier asks
// for: "3.12" for python3.12, "20" for nodejs20.x, "" for the others.
func Version(runtime string) string {
	switch function.RuntimeFamily(runtime) {
	case function.Python:
		return strings.TrimPrefix(runtime, "python")
	case function.Node:
		return strings.TrimSuffix(strings.TrimPrefix(runtime, "nodejs"), ".x")
	}
	return ""
}

// Check reports whether functions of the runtime (python3.12, say) can run
// on this host: on an interpreter of the version they name, never another.
// Its error says what to install.
func (h *Host) Check(runtime string) error {
	_, err := h.interpreter(runtime)
	return err
}

// interpreter returns the executable that runs runtime ("" for provided).
func (h *Host) interpreter(runtime string) (string, error) {
	family, want := function.RuntimeFamily(runtime), Version(runtime)
	switch family {
	case function.Provided:
		return "", nil
	case function.Python:
		if len(h.Pythons) == 0 {
			return "", fmt.Errorf("python runtimes are not available on this host: %s (set --python)",
				orDefault(h.pythonWhy, "no python3 interpreter found on PATH"))
		}
		if exe := h.Pythons[want]; exe != "" {
			return exe, nil
		}
		return "", fmt.Errorf("%s needs Python %s, which this host does not have (it has %s). Install Python %s "+
			"(pyenv install %s, or the distribution's python%s package) and restart the server, or name it with --python %s=PATH",
			runtime, want, have(h.Pythons), want, want, want, want)
	case function.Node:
		if len(h.Nodes) == 0 {
			return "", fmt.Errorf("nodejs runtimes are not available on this host: %s (set --node)",
				orDefault(h.nodeWhy, "no node binary found on PATH"))
		}
		if exe := h.Nodes[want]; exe != "" {
			return exe, nil
		}
		return "", fmt.Errorf("%s needs Node.js %s, which this host does not have (it has %s). Install Node.js %s "+
			"(nvm install %s, or from nodejs.org) and restart the server, or name it with --node %s=PATH",
			runtime, want, have(h.Nodes), want, want, want)
	default:
		return "", fmt.Errorf("runtime %q is not supported", runtime)
	}
}

// have lists the versions found, with their paths.
func have(m map[string]string) string {
	var out []string
	for v, p := range m {
		out = append(out, v+" at "+p)
	}
	slices.Sort(out)
	return strings.Join(out, ", ")
}

// Runtimes returns the runtime identifiers this host can run, with the
// interpreter of each ("" for provided runtimes).
func (h *Host) Runtimes() map[string]string {
	out := map[string]string{}
	for _, r := range function.Runtimes {
		if exe, err := h.interpreter(r); err == nil {
			out[r] = exe
		}
	}
	return out
}

// Interpreters returns every interpreter found, for the sandbox to expose.
func (h *Host) Interpreters() []string {
	var out []string
	for _, m := range []map[string]string{h.Pythons, h.Nodes} {
		for _, p := range m {
			if !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	slices.Sort(out)
	return out
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// Command returns the argv and the extra environment that start a function
// of the family whose code is in codeDir, with Aloft's bootstraps installed
// under bootstrapDir. The extra variables are defaults: the caller adds them
// before the function's own variables so those can override them. The
// process is expected to run with codeDir as its working directory.
//
// Python runs with -u so that print output reaches the log as it is written
// (Lambda's runtime flushes after every write), and with
// PYTHONDONTWRITEBYTECODE so the code directory stays as deployed, like
// Lambda's read-only /var/task, and concurrent instances never race to write
// __pycache__. Site initialisation is kept (no -S): functions rely on
// packages installed for the interpreter, as they rely on the SDK on Lambda;
// the user's site directory is not (PYTHONNOUSERSITE): HOME is the
// instance's empty /tmp, and a template process started ahead of the
// instance must not look for one elsewhere.
//
// For a provided runtime whose bootstrap is missing or not executable the
// error wraps ErrInvalidEntrypoint.
func (h *Host) Command(runtime, codeDir, bootstrapDir string) (argv, env []string, err error) {
	exe, err := h.interpreter(runtime)
	if err != nil {
		return nil, nil, err
	}
	switch function.RuntimeFamily(runtime) {
	case function.Provided:
		entry := filepath.Join(codeDir, "bootstrap")
		fi, err := os.Stat(entry)
		if err != nil || !fi.Mode().IsRegular() {
			return nil, nil, &entrypointError{fmt.Sprintf("Couldn't find valid bootstrap(s): [%s]", entry)}
		}
		if fi.Mode().Perm()&0o111 == 0 {
			return nil, nil, &entrypointError{fmt.Sprintf("fork/exec %s: permission denied", entry)}
		}
		return []string{entry}, nil, nil
	case function.Python:
		script, err := installed(bootstrapDir, PythonBootstrap)
		if err != nil {
			return nil, nil, err
		}
		env := []string{"PYTHONDONTWRITEBYTECODE=1", "PYTHONNOUSERSITE=1"}
		if h.PythonPath != "" {
			env = append(env, "ALOFT_SDK_PYTHON="+h.PythonPath) // the bootstrap appends it to sys.path
		}
		return []string{exe, "-u", script}, env, nil
	default: // function.Node; Check rejected anything else
		script, err := installed(bootstrapDir, NodeBootstrap)
		if err != nil {
			return nil, nil, err
		}
		var env []string
		if h.NodeModules != "" {
			// CommonJS looks in NODE_PATH after the function's own
			// node_modules; the bootstrap falls back to it for ES modules.
			env = []string{"NODE_PATH=" + h.NodeModules, "ALOFT_SDK_NODE_MODULES=" + h.NodeModules}
		}
		return []string{exe, script}, env, nil
	}
}

func installed(bootstrapDir, rel string) (string, error) {
	p := filepath.Join(bootstrapDir, filepath.FromSlash(rel))
	abs, err := filepath.Abs(p)
	if err == nil {
		p = abs
	}
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("runtime bootstrap %s is not installed: %w", p, err)
	}
	return p, nil
}

// TemplateVar is the variable that makes a bootstrap a template process:
// started ahead of need, it loads itself and waits for the instance it
// becomes (see sandbox.Template).
const TemplateVar = "_ALOFT_TEMPLATE"

// ActsAtStart reports whether the environment variable name changes how an
// interpreter or the dynamic loader starts (PYTHONPATH, NODE_OPTIONS,
// LD_PRELOAD, the locale...). A function setting one must start its own
// interpreter: a template process started ahead of the function would not
// honour it. TZ is not among them: the bootstraps apply it when they take
// on the instance's environment.
func ActsAtStart(name string) bool {
	for _, p := range []string{"PYTHON", "NODE_", "LD_", "LC_", "MALLOC_", "UV_", "OPENSSL_"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	switch name {
	case "LANG", "LANGUAGE", "GLIBC_TUNABLES", "AWS_LAMBDA_EXEC_WRAPPER":
		return true
	}
	return false
}
