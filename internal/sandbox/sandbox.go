// Package sandbox is the contract between the invoker and the drivers that
// run function instances: a Driver starts an Instance from a Spec, and an
// Instance can be waited on and stopped. Drivers live in subpackages; every
// driver must pass the same conformance tests.
//
// Nothing under sandbox knows about HTTP APIs, the registry or the store.
package sandbox

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"time"
)

// Spec describes one instance to start.
type Spec struct {
	ID       string   // instance id, unique on this node
	Argv     []string // program and arguments; Argv[0] is an absolute path
	Env      []string // the complete environment, KEY=VALUE
	Dir      string   // working directory (the function's code)
	CodeDir  string   // the function's code, read-only for the function
	TmpDir   string   // a private directory for /tmp
	TmpMB    int      // size of /tmp (the function's EphemeralStorage); 0 means 512
	MemoryMB int      // memory limit
	Output   *os.File // receives the instance's stdout and stderr
	// Offline cuts the instance off from everything outside its own
	// network namespace but what Listen opens there (a function whose
	// network is "none"); only drivers with private networks (Networker)
	// accept it.
	Offline bool
	// AllowNet lists private or link-local IPv4 ranges this instance may
	// reach besides what the driver's egress allows every instance; only
	// drivers whose private networks lead out (Networker) accept it.
	AllowNet []netip.Prefix
	// Listen, when set, is called by drivers with private networks
	// (Networker) once the instance's namespace is chosen and before the
	// function starts: the caller opens there the listeners the function
	// must find (its Runtime API). An error from it fails the start.
	Listen func(Network) error
	// Template, when set, lets the driver run the instance in a process
	// of the template it started ahead of need, instead of starting Argv.
	// Drivers that keep no templates ignore it.
	Template *Template

	// LayersDir, when set, holds the function's layers merged into one
	// directory, read-only for the function: drivers that are an
	// OptMounter show it at /opt, the others leave it at its host path.
	LayersDir string
}

// OptMounter is a driver whose instances see Spec.LayersDir at /opt, as
// Lambda's see their layers; the function's environment then names /opt.
type OptMounter interface {
	MountsOpt() bool
}

// Template is a process a driver may start ahead of need and hand to an
// instance later, so that the instance skips the process's own start (an
// interpreter loading itself and a runtime's bootstrap): a zygote. The
// process runs Argv with Env, its stdin on /dev/null, its stdout and
// stderr on a pipe the driver made, and a socket on descriptor 3. Once it
// has loaded what it can load ahead, it writes a line to the socket; the
// driver then leaves it waiting until an instance needs it, and sends it
// one line, a TemplateOrder in JSON, followed by end of file. From then on
// the process is the instance's, and behaves as if it had been started
// from the Spec: the order's environment replaces its own, and it changes
// to the order's directory.
type Template struct {
	Argv []string
	Env  []string
}

// Key identifies the template: drivers keep prepared processes per key.
func (t *Template) Key() string {
	return strings.Join(t.Argv, "\x00") + "\x01" + strings.Join(t.Env, "\x00")
}

// TemplateFD is the descriptor on which a template process talks to its
// driver.
const TemplateFD = 3

// TemplateOrder is what a template process receives when it becomes an
// instance.
type TemplateOrder struct {
	Env []string `json:"env"` // the instance's complete environment
	Dir string   `json:"dir"` // its working directory
}

// OutputPipe is implemented by instances that may have been started from a
// Template: such an instance writes to a pipe its driver made ahead of
// need, not to Spec.Output. OutputPipe hands both ends of that pipe over to
// the caller, who then owns them, and returns nils when the instance
// writes to Spec.Output. It may be called once.
type OutputPipe interface {
	OutputPipe() (r, w *os.File)
}

// Network is an instance's network namespace: its loopback, and the way
// out that the driver's egress allows. Nothing of the host is reachable
// from it but what the caller listens on there.
type Network interface {
	// Listen opens a TCP listener inside the namespace (the Runtime API
	// of the instance that will run there). The caller owns it.
	Listen(addr string) (net.Listener, error)
}

// Networker is the optional ability of a driver to run every instance in
// a network namespace of its own (see Spec.Listen and Spec.Offline).
type Networker interface {
	// PrivateNetworks reports whether instances get namespaces of their
	// own; a driver may lose the ability when the host lacks it.
	PrivateNetworks() bool
}

// Preparer is the optional ability of a driver to report how many
// processes it keeps started ahead of need from templates (see Template),
// ready to become instances.
type Preparer interface {
	Prepared() int
}

// Driver starts instances.
type Driver interface {
	// Name identifies the driver in logs ("process", "linux").
	Name() string
	// Start launches an instance and returns once its process exists.
	Start(ctx context.Context, spec Spec) (Instance, error)
}

// Instance is one running process tree.
type Instance interface {
	// PID is the process id of the instance's first process.
	PID() int
	// Done is closed when the instance's first process has exited.
	Done() <-chan struct{}
	// Wait blocks until the instance exits or ctx ends.
	Wait(ctx context.Context) (ExitStatus, error)
	// Stop sends SIGTERM to the whole process tree, waits up to grace, then
	// sends SIGKILL, and returns once the first process has exited.
	Stop(ctx context.Context, grace time.Duration) error
	// MaxMemory returns the peak memory use of the instance in bytes, or 0
	// if the driver cannot tell.
	MaxMemory() int64
}

// Freezer is the optional ability to pause every process of an instance
// (cgroup freezer) so an idle instance uses no CPU, and to resume it.
type Freezer interface {
	Freeze() error
	Thaw() error
}

// Booster is the optional ability of an instance to run without its CPU
// quota while it initialises, as Lambda boosts initialisation, until
// EndBoost applies the quota. The invoker ends the boost when the runtime
// is ready for its first invocation.
type Booster interface {
	EndBoost() error
}

// ExitStatus is how an instance ended.
type ExitStatus struct {
	Code      int            // exit code, or -1 when killed by a signal
	Signal    syscall.Signal // the signal that killed it, or 0
	OOMKilled bool           // killed for exceeding its memory limit
}

// String renders the status the way Lambda reports it ("exit status 1",
// "signal: killed").
func (s ExitStatus) String() string {
	if s.Signal != 0 {
		return "signal: " + s.Signal.String()
	}
	return fmt.Sprintf("exit status %d", s.Code)
}

// RetryTextBusy calls start again, for up to about 130 ms, while it fails
// with ETXTBSY: a code file written just now may still be open for
// writing in a process the server forked meanwhile, until that process
// execs. It returns start's last error.
func RetryTextBusy(start func() error) error {
	err := start()
	for wait := time.Millisecond; errors.Is(err, syscall.ETXTBSY) && wait <= 64*time.Millisecond; wait *= 2 {
		time.Sleep(wait)
		err = start()
	}
	return err
}
