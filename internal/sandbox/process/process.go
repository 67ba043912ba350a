// Package process is the sandbox driver that runs each instance as a plain
// child process in its own process group. It isolates nothing beyond what
// Unix users and process groups give; it exists for development hosts where
// namespaces and cgroups are not available, and the server says so loudly
// when it uses it. Like the linux driver it keeps a few processes of each
// sandbox.Template ready (Keep per template, started again as they are
// taken), so interpreted runtimes start fast on development hosts too.
package process

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/aloft-dev/aloft/internal/sandbox"
)

// Driver starts plain processes. The zero value is ready to use; it keeps
// template processes (see sandbox.Template) ready once a Start has asked
// for them, which Close stops.
type Driver struct {
	mu     sync.Mutex
	ready  map[string]*templates // by sandbox.Template.Key; guarded by mu
	closed bool                  // guarded by mu
}

var (
	_ sandbox.Driver             = (*Driver)(nil)
	_ sandbox.OutputPipe         = (*instance)(nil)
	_ interface{ Close() error } = (*Driver)(nil)
	_ sandbox.Preparer           = (*Driver)(nil)
)

// Prepared returns how many template processes are ready.
func (d *Driver) Prepared() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for _, ts := range d.ready {
		n += len(ts.ready)
	}
	return n
}

// Name returns "process".
func (*Driver) Name() string { return "process" }

// Start runs spec.Argv as a child in a new process group that dies with the
// server, or hands the instance to a template process started earlier.
func (d *Driver) Start(ctx context.Context, spec sandbox.Spec) (sandbox.Instance, error) {
	if len(spec.Argv) == 0 {
		return nil, errors.New("process: empty argv")
	}
	if spec.Offline {
		return nil, errors.New("process: instances share the host's network and cannot be cut off from it")
	}
	if len(spec.AllowNet) > 0 {
		return nil, errors.New("process: instances share the host's network; there is no policy to widen")
	}
	if spec.Template != nil {
		if in := d.fromTemplate(spec); in != nil {
			return in, nil
		}
	}
	var cmd *exec.Cmd
	err := sandbox.RetryTextBusy(func() error {
		cmd = exec.Command(spec.Argv[0], spec.Argv[1:]...)
		cmd.Env = spec.Env
		cmd.Dir = spec.Dir
		cmd.Stdout = spec.Output
		cmd.Stderr = spec.Output
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		return cmd.Start()
	})
	if err != nil {
		return nil, fmt.Errorf("process: start %s: %w", spec.Argv[0], err)
	}
	return started(cmd), nil
}

// started watches a started command.
func started(cmd *exec.Cmd) *instance {
	in := &instance{cmd: cmd, done: make(chan struct{})}
	go in.wait()
	return in
}

type instance struct {
	cmd    *exec.Cmd
	done   chan struct{}
	status sandbox.ExitStatus // written before done is closed

	// A template's socket and output pipe, until the instance is handed
	// out; outR and outW then go to whoever calls OutputPipe.
	sock       *os.File
	outMu      sync.Mutex
	outR, outW *os.File // guarded by outMu
	handed     bool     // guarded by outMu: given an instance, so its pipe is the taker's

	memMu   sync.Mutex
	memPeak int64     // guarded by memMu: last peak read
	memRead time.Time // guarded by memMu: when it was read
}

// memEvery bounds how often MaxMemory reads /proc: the kernel builds the
// status file on every read, which costs tens of microseconds.
const memEvery = 500 * time.Millisecond

func (in *instance) wait() {
	err := in.cmd.Wait()
	st := sandbox.ExitStatus{}
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		ws := exitErr.Sys().(syscall.WaitStatus)
		if ws.Signaled() {
			st.Code, st.Signal = -1, ws.Signal()
		} else {
			st.Code = ws.ExitStatus()
		}
	} else if err != nil {
		st.Code = -1
	}
	in.status = st
	// Reap whatever the instance left behind in its group.
	_ = syscall.Kill(-in.cmd.Process.Pid, syscall.SIGKILL)
	// A template process that ended while it waited leaves its pipe to
	// nobody; one given an instance leaves it to whoever took it.
	in.outMu.Lock()
	if !in.handed && in.outR != nil {
		in.outR.Close()
		in.outW.Close()
		in.outR, in.outW = nil, nil
	}
	in.outMu.Unlock()
	close(in.done)
}

// OutputPipe hands over the output pipe of an instance started from a
// template.
func (in *instance) OutputPipe() (r, w *os.File) {
	in.outMu.Lock()
	defer in.outMu.Unlock()
	r, w = in.outR, in.outW
	in.outR, in.outW = nil, nil
	return r, w
}

func (in *instance) PID() int              { return in.cmd.Process.Pid }
func (in *instance) Done() <-chan struct{} { return in.done }

func (in *instance) Wait(ctx context.Context) (sandbox.ExitStatus, error) {
	select {
	case <-in.done:
		return in.status, nil
	case <-ctx.Done():
		return sandbox.ExitStatus{}, ctx.Err()
	}
}

func (in *instance) Stop(ctx context.Context, grace time.Duration) error {
	pgid := in.cmd.Process.Pid
	select {
	case <-in.done:
		return nil
	default:
	}
	if grace > 0 {
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		t := time.NewTimer(grace)
		select {
		case <-in.done:
			t.Stop()
			return nil
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	select {
	case <-in.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("process: stop %d: %w", pgid, ctx.Err())
	}
}

var _ sandbox.Freezer = (*instance)(nil)

// Freeze stops every process of the instance's group (SIGSTOP).
func (in *instance) Freeze() error {
	if err := syscall.Kill(-in.cmd.Process.Pid, syscall.SIGSTOP); err != nil {
		return fmt.Errorf("process: freeze %d: %w", in.cmd.Process.Pid, err)
	}
	return nil
}

// Thaw resumes them (SIGCONT).
func (in *instance) Thaw() error {
	if err := syscall.Kill(-in.cmd.Process.Pid, syscall.SIGCONT); err != nil {
		return fmt.Errorf("process: thaw %d: %w", in.cmd.Process.Pid, err)
	}
	return nil
}

// MaxMemory returns the peak resident set size of the first process, read
// from /proc at most every memEvery.
func (in *instance) MaxMemory() int64 {
	in.memMu.Lock()
	defer in.memMu.Unlock()
	if now := time.Now(); now.Sub(in.memRead) >= memEvery {
		if v := readPeak(in.cmd.Process.Pid); v > 0 {
			in.memPeak, in.memRead = v, now
		}
	}
	return in.memPeak
}

func readPeak(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	i := bytes.Index(b, []byte("VmHWM:"))
	if i < 0 {
		return 0
	}
	f := bytes.Fields(b[i+len("VmHWM:"):])
	if len(f) < 1 {
		return 0
	}
	kb, err := strconv.ParseInt(string(f[0]), 10, 64)
	if err != nil {
		return 0
	}
	return kb << 10
}
