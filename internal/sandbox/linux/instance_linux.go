package linux

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/aloft-dev/aloft/internal/sandbox"
)

// instance is one sandbox: init (the process the server started) and the
// function below it.
type instance struct {
	d    *Driver
	sh   *shim // init; its control socket is read only by wait after Start
	cg   *cgroup
	net  *netns // released once the instance is gone
	done chan struct{}
	mb   int // memory size, which sets the CPU quota

	status sandbox.ExitStatus // written before done is closed
	peak   int64              // final peak memory, written before done is closed

	mu     sync.Mutex
	frozen bool  // guarded by mu
	cpus   []int // guarded by mu: the CPUs EndBoost placed it on (cpuPlacer.take)
	ended  bool  // guarded by mu: wait gave its CPUs back

	outR, outW *os.File // a template's output pipe, until OutputPipe; guarded by mu
}

// OutputPipe hands over the output pipe of an instance started from a
// template.
func (in *instance) OutputPipe() (r, w *os.File) {
	in.mu.Lock()
	defer in.mu.Unlock()
	r, w = in.outR, in.outW
	in.outR, in.outW = nil, nil
	return r, w
}

var (
	_ sandbox.Instance   = (*instance)(nil)
	_ sandbox.Freezer    = (*instance)(nil)
	_ sandbox.Booster    = (*instance)(nil)
	_ sandbox.OutputPipe = (*instance)(nil)
)

// EndBoost applies the instance's CPU quota, which is off while it
// initialises, and pins its threads to the CPUs its memory buys (see
// cpuPlacer).
func (in *instance) EndBoost() error {
	select {
	case <-in.done:
		return errors.New("linux sandbox: end boost: instance has exited")
	default:
	}
	if err := in.cg.limitCPU(in.mb); err != nil {
		return fmt.Errorf("linux sandbox: %w", err)
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.cpus != nil || in.ended {
		return nil
	}
	got := in.d.cpus.take(in.mb)
	if got == nil {
		return nil
	}
	if err := in.cg.pin(in.d.cpus.set(got)); err != nil {
		// Not the instance's failure: it runs on, on every CPU, as
		// unpinned instances do (a thread already pinned stays so).
		in.d.cpus.give(got)
		in.d.log.Warn("linux sandbox: could not pin an instance to its CPUs", "err", err)
		_ = in.cg.pin(in.d.cpus.all())
		return nil
	}
	in.cpus = got
	return nil
}

// wait collects the function's status from init, waits for init, records
// the cgroup's verdicts and removes it.
func (in *instance) wait() {
	var fn *unix.WaitStatus
	for {
		r, err := in.sh.read()
		if err != nil {
			break
		}
		if r.Exited {
			ws := unix.WaitStatus(r.Status)
			fn = &ws
			// Init is about to exit, which kills what is left; let that
			// run at full speed.
			_ = in.cg.unthrottle()
		}
	}
	in.sh.ctl.Close()
	err := in.sh.cmd.Wait()

	st := sandbox.ExitStatus{}
	switch {
	case fn != nil && fn.Signaled():
		st.Code, st.Signal = -1, syscall.Signal(fn.Signal())
	case fn != nil:
		st.Code = fn.ExitStatus()
	default:
		// Init died before the function did: killed by Stop or the OOM
		// killer.
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
	}
	st.OOMKilled = in.cg.oomKills() > 0
	in.status = st
	in.peak = in.cg.peak()
	in.mu.Lock()
	in.d.cpus.give(in.cpus)
	in.cpus, in.ended = nil, true
	in.mu.Unlock()
	in.d.release(in.cg, in.sh.uid)
	if in.net != nil {
		if err := in.net.close(); err != nil {
			in.d.log.Warn("linux sandbox: network left behind", "err", err)
		}
	}
	// An output pipe nobody took is closed with the instance.
	if r, w := in.OutputPipe(); r != nil {
		r.Close()
		w.Close()
	}
	close(in.done)
}

// PID returns the host pid of the instance's init.
func (in *instance) PID() int { return in.sh.cmd.Process.Pid }

// Done is closed once the instance has ended and its cgroups are gone.
func (in *instance) Done() <-chan struct{} { return in.done }

// Wait blocks until the instance ends or ctx does.
func (in *instance) Wait(ctx context.Context) (sandbox.ExitStatus, error) {
	select {
	case <-in.done:
		return in.status, nil
	case <-ctx.Done():
		return sandbox.ExitStatus{}, ctx.Err()
	}
}

// Stop sends SIGTERM to every process of the instance (init passes it on),
// waits up to grace, then kills init, which kills the whole PID namespace.
// A frozen instance is thawed first so that it can act on the signals.
func (in *instance) Stop(ctx context.Context, grace time.Duration) error {
	select {
	case <-in.done:
		return nil
	default:
	}
	in.thawForStop()
	if grace > 0 {
		_ = in.sh.cmd.Process.Signal(syscall.SIGTERM)
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
	// Killed processes still need CPU time to exit.
	_ = in.cg.unthrottle()
	_ = in.sh.cmd.Process.Kill()
	_ = in.cg.kill()
	// A task frozen by a v1 freezer does not die until thawed; the instance
	// may have been frozen again meanwhile.
	in.thawForStop()
	select {
	case <-in.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("linux sandbox: stop %d: %w", in.sh.cmd.Process.Pid, ctx.Err())
	}
}

func (in *instance) thawForStop() {
	in.mu.Lock()
	defer in.mu.Unlock()
	if !in.frozen {
		return
	}
	if err := in.cg.thaw(); err != nil {
		in.d.log.Warn("linux sandbox: thaw before stop", "pid", in.sh.cmd.Process.Pid, "err", err)
		return
	}
	in.frozen = false
}

// MaxMemory returns the peak memory use of the instance's cgroup in bytes.
func (in *instance) MaxMemory() int64 {
	select {
	case <-in.done:
		return in.peak
	default:
	}
	return in.cg.peak()
}

// Freeze stops every process of the instance through the cgroup freezer.
func (in *instance) Freeze() error {
	in.mu.Lock()
	defer in.mu.Unlock()
	select {
	case <-in.done:
		return errors.New("linux sandbox: freeze: instance has exited")
	default:
	}
	if err := in.cg.freeze(); err != nil {
		return fmt.Errorf("linux sandbox: freeze: %w", err)
	}
	in.frozen = true
	return nil
}

// Thaw resumes a frozen instance.
func (in *instance) Thaw() error {
	in.mu.Lock()
	defer in.mu.Unlock()
	select {
	case <-in.done:
		return errors.New("linux sandbox: thaw: instance has exited")
	default:
	}
	if err := in.cg.thaw(); err != nil {
		return fmt.Errorf("linux sandbox: thaw: %w", err)
	}
	in.frozen = false
	return nil
}

// public returns what Start hands out for in: the instance itself, or,
// on a driver without cgroups, a view of it that does not offer to
// freeze or boost what it cannot.
func (d *Driver) public(in *instance) sandbox.Instance {
	if in.cg == nil {
		return plainInstance{in}
	}
	return in
}

// plainInstance is an instance without a cgroup.
type plainInstance struct{ in *instance }

var (
	_ sandbox.Instance   = plainInstance{}
	_ sandbox.OutputPipe = plainInstance{}
)

// PID returns the host pid of the instance's init.
func (p plainInstance) PID() int { return p.in.PID() }

// Done is closed once the instance has ended.
func (p plainInstance) Done() <-chan struct{} { return p.in.Done() }

// Wait blocks until the instance ends or ctx does.
func (p plainInstance) Wait(ctx context.Context) (sandbox.ExitStatus, error) { return p.in.Wait(ctx) }

// Stop ends the instance, as instance.Stop does.
func (p plainInstance) Stop(ctx context.Context, grace time.Duration) error {
	return p.in.Stop(ctx, grace)
}

// MaxMemory returns 0: without a cgroup the driver cannot tell.
func (p plainInstance) MaxMemory() int64 { return 0 }

// OutputPipe hands over a template's output pipe.
func (p plainInstance) OutputPipe() (r, w *os.File) { return p.in.OutputPipe() }
