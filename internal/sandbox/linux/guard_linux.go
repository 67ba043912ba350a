package linux

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"syscall"
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
// end of file on a pipe whose write end only the server holds.
func (d *Driver) startGuard() error {
	plan, err := json.Marshal(guardPlan{Parents: d.cg.parents, V2: d.cg.v2, Owner: os.Getpid()})
	if err != nil {
		return err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	cmd := &exec.Cmd{
		Path:        d.init.path,
		Args:        []string{guardArg, string(plan)},
		Env:         []string{"GOMAXPROCS=1"},
		ExtraFiles:  []*os.File{r},
		SysProcAttr: &syscall.SysProcAttr{Setsid: true},
	}
	if err := cmd.Start(); err != nil {
		w.Close()
		return fmt.Errorf("start the guard: %w", err)
	}
	d.guard = w
	// Reaped when it exits, which is after the server's own exit or
	// Close; nobody waits for it before.
	go cmd.Wait()
	return nil
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
	for {
		if _, err := unix.Read(3, b[:]); err != unix.EINTR {
			break
		}
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
