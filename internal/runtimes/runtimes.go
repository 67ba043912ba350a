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

// Options names the interpreters to use; an empty field means resolving the
// usual command (python3, node) from PATH.
type Options struct{ Python, Node string }

// Host holds the interpreters found on this host as absolute paths; an empty
// field means the runtime family is not available.
type Host struct {
	Python string
	Node   string

	// Why each interpreter is missing, for Check's message.
	pythonWhy, nodeWhy string
}

// Detect resolves the interpreters once. For Python it runs the candidate
// (which may be a version-manager shim) a single time to learn the real
// executable behind it, so that functions start without the shim's
// overhead; it also requires Python 3.8 or later. For Node.js it follows
// symlinks from the binary on PATH and requires Node.js 18 or later.
// Interpreters that cannot be used leave their field empty; Check explains
// why.
func Detect(ctx context.Context, o Options) *Host {
	h := &Host{}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		h.Python, h.pythonWhy = detectPython(ctx, o.Python)
	}()
	go func() {
		defer wg.Done()
		h.Node, h.nodeWhy = detectNode(ctx, o.Node)
	}()
	wg.Wait()
	return h
}

// pythonProbe prints the interpreter's real executable and its version. It
// runs with -S: site initialisation would only slow the probe down.
const pythonProbe = `import sys; print(sys.executable); print("%d.%d" % sys.version_info[:2])`

func detectPython(ctx context.Context, explicit string) (path, why string) {
	candidates := []string{"python3", "python"}
	if explicit != "" {
		candidates = []string{explicit}
	}
	why = "no python3 interpreter found on PATH"
	for _, name := range candidates {
		bin, err := exec.LookPath(name)
		if err != nil {
			if explicit != "" {
				why = fmt.Sprintf("python interpreter %q not found", explicit)
			}
			continue
		}
		out, err := probe(ctx, bin, "-S", "-c", pythonProbe)
		if err != nil {
			why = fmt.Sprintf("%s does not run: %v", bin, err)
			continue
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 2 {
			why = fmt.Sprintf("%s answered the version probe unexpectedly: %q", bin, out)
			continue
		}
		exe, version := strings.TrimSpace(lines[0]), strings.TrimSpace(lines[1])
		major, minor, _ := strings.Cut(version, ".")
		mj, err1 := strconv.Atoi(major)
		mn, err2 := strconv.Atoi(minor)
		if err1 != nil || err2 != nil || mj != 3 || mn < minPythonMinor {
			why = fmt.Sprintf("%s is Python %s; Aloft needs Python 3.%d or later", bin, version, minPythonMinor)
			continue
		}
		if exe == "" {
			exe = bin
		}
		// Not EvalSymlinks: a virtualenv's python is a symlink whose location
		// selects the environment.
		if abs, err := filepath.Abs(exe); err == nil {
			exe = abs
		}
		return exe, ""
	}
	return "", why
}

func detectNode(ctx context.Context, explicit string) (path, why string) {
	name := "node"
	if explicit != "" {
		name = explicit
	}
	bin, err := exec.LookPath(name)
	if err != nil {
		if explicit != "" {
			return "", fmt.Sprintf("node binary %q not found", explicit)
		}
		return "", "no node binary found on PATH"
	}
	if real, err := filepath.EvalSymlinks(bin); err == nil {
		bin = real
	}
	if abs, err := filepath.Abs(bin); err == nil {
		bin = abs
	}
	out, err := probe(ctx, bin, "--version")
	if err != nil {
		return "", fmt.Sprintf("%s does not run: %v", bin, err)
	}
	version := strings.TrimPrefix(strings.TrimSpace(out), "v")
	major, _, _ := strings.Cut(version, ".")
	if mj, err := strconv.Atoi(major); err != nil || mj < minNodeMajor {
		return "", fmt.Sprintf("%s is Node.js %s; Aloft needs Node.js %d or later", bin, version, minNodeMajor)
	}
	return bin, ""
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

// Check reports whether functions of the family can run on this host.
func (h *Host) Check(family function.Family) error {
	switch family {
	case function.Provided:
		return nil
	case function.Python:
		if h.Python == "" {
			return fmt.Errorf("python runtimes are not available on this host: %s (set --python)",
				orDefault(h.pythonWhy, "no python3 interpreter found on PATH"))
		}
		return nil
	case function.Node:
		if h.Node == "" {
			return fmt.Errorf("nodejs runtimes are not available on this host: %s (set --node)",
				orDefault(h.nodeWhy, "no node binary found on PATH"))
		}
		return nil
	default:
		return fmt.Errorf("runtime family %q is not supported", family)
	}
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
func (h *Host) Command(family function.Family, codeDir, bootstrapDir string) (argv, env []string, err error) {
	if err := h.Check(family); err != nil {
		return nil, nil, err
	}
	switch family {
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
		return []string{h.Python, "-u", script}, []string{"PYTHONDONTWRITEBYTECODE=1", "PYTHONNOUSERSITE=1"}, nil
	default: // function.Node; Check rejected anything else
		script, err := installed(bootstrapDir, NodeBootstrap)
		if err != nil {
			return nil, nil, err
		}
		return []string{h.Node, script}, nil, nil
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
