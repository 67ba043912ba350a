package linux

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// guardArg is the first argument of a guard (see startGuard); the second
// is its plan, in JSON.
const guardArg = "aloft-sandbox-guard"

// guardPlan tells a guard which instance cgroups are the server's.
type guardPlan struct {
	Parents map[string]string `json:"parents"` // cgroupHost.parents
	V2      bool              `json:"v2"`
	Owner   int               `json:"owner"` // the server's pid, in the cgroups' names
}

// startGuard starts the guard: a small process (the init program, outside
// every instance cgroup, in a session of its own and deaf to the signals
// a terminal sends) that waits for the server to exit, however it exits,
// and then ends what is left of the server's instances: it kills every
// process in the cgroups the server named, thaws them so that the kills
// land (a frozen process cannot die), and removes them. Inits die with
// the server by themselves, through their parent-death signal, except
// frozen ones; without the guard those would wait for the next start of
// a server on the same data dir. The guard learns of the exit from the
// end of file on a pipe whose write end only the server holds; a byte on
// that pipe (Close, see stopGuard) stands it down instead.
func (d *Driver) startGuard() error {
	plan, err := json.Marshal(guardPlan{Parents: d.cg.parents, V2: d.cg.v2, Owner: os.Getpid()})
	if err != nil {
		return err
	}
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		return err
	}
	r := os.NewFile(uintptr(p[0]), "guard")
	defer r.Close()
	cmd := &exec.Cmd{
		Path:        d.init.path,
		Args:        []string{guardArg, string(plan)},
		Env:         []string{"GOMAXPROCS=1"},
		ExtraFiles:  []*os.File{r},
		SysProcAttr: &syscall.SysProcAttr{Setsid: true},
	}
	if err := cmd.Start(); err != nil {
		unix.Close(p[1])
		return fmt.Errorf("start the guard: %w", err)
	}
	// The write end is a bare descriptor, closed only by stopGuard: an
	// *os.File would be closed by its finalizer if the Driver became
	// unreachable without Close, and the guard would then end instances
	// of other drivers of this process (tests make many).
	d.guard = p[1]
	d.guardDone = make(chan struct{})
	go func() { cmd.Wait(); close(d.guardDone) }()
	return nil
}

// stopGuard tells the guard to exit without sweeping (Close: the
// instances are the caller's to stop, and other drivers of this process
// may share the parent) and waits for it.
func (d *Driver) stopGuard() {
	if d.guard < 0 {
		return
	}
	unix.Write(d.guard, []byte{1})
	unix.Close(d.guard)
	d.guard = -1
	select {
	case <-d.guardDone:
	case <-time.After(5 * time.Second):
		d.log.Warn("linux sandbox: the guard did not exit")
	}
}

// guardComm is a guard's process name, NUL-terminated.
var guardComm = []byte("aloft-guard\x00")

// runGuard is a guard's whole life: it waits for the end of file on fd 3
// and sweeps the server's instance cgroups.
func runGuard(planJSON string) int {
	_ = unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(&guardComm[0])), 0, 0, 0)
	signal.Ignore(unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT, unix.SIGPIPE)
	var p guardPlan
	if err := json.Unmarshal([]byte(planJSON), &p); err != nil || p.Owner <= 0 {
		return exitSetupFailed
	}
	var b [1]byte
	n, err := unix.Read(3, b[:])
	for err == unix.EINTR {
		n, err = unix.Read(3, b[:])
	}
	if n == 1 {
		return 0 // the driver closed and stood the guard down
	}
	h := &cgroupHost{parents: p.Parents, v2: p.V2}
	h.sweep(p.Owner)
	return 0
}

// ownedBy reports whether the cgroup name was made by the server with pid
// owner (see Driver.cgroupName: NAME-PID-SEQ).
func ownedBy(name string, owner int) bool {
	i := len(name) - 1
	for i >= 0 && name[i] != '-' {
		i--
	}
	if i <= 0 {
		return false
	}
	j := i - 1
	for j >= 0 && name[j] != '-' {
		j--
	}
	return j >= 0 && name[j+1:i] == strconv.Itoa(owner)
}
