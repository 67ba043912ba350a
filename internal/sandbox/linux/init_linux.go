package linux

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/aloft-dev/aloft/internal/sandbox"
)

// initArg is the whole argument vector of the server re-executed as an
// instance's init.
const initArg = "aloft-sandbox-init"

// controlFD is the socket init reads its orders from and reports on. It is
// close-on-exec, so the function never inherits it.
const controlFD = 3

// prepare is the first message init receives, as soon as it has started:
// everything the driver's instances share.
type prepare struct {
	Root     string      `json:"root"`     // empty host directory to build the new root on
	Plan     []mountOp   `json:"plan"`     // steps, parents first
	Remounts []remountOp `json:"remounts"` // made read-only once the plan is done
	Hostname string      `json:"hostname"`
	UID      int         `json:"uid"` // the function's identity in this instance
	GID      int         `json:"gid"`
	// Template, when set, is started as soon as the instance is prepared
	// (see sandbox.Template), with its output on the descriptor that comes
	// with this message.
	Template *sandbox.Template `json:"template,omitempty"`
}

// launch is the second message init receives, sent by Start once init's
// cgroup has the instance's limits. Descriptors travel with it
// (SCM_RIGHTS): first the code, as a detached read-only mount tree, when
// CodeDir is set; then the layers likewise, when Opt is set; then the
// function's stdout and stderr, when Output is set.
type launch struct {
	CodeDir string `json:"code_dir,omitempty"` // host path the code is also mounted at
	Output  bool   `json:"output,omitempty"`
	// Opt: the function's layers follow the code, as a detached read-only
	// mount tree to attach at /opt.
	Opt bool `json:"opt,omitempty"`
	// Template: the prepared template process becomes the function; it
	// gets Env and Dir, and no output descriptor comes.
	Template bool     `json:"template,omitempty"`
	TmpMB    int      `json:"tmp_mb,omitempty"` // the size of /tmp, when not the prepared one
	Argv     []string `json:"argv"`
	Env      []string `json:"env"`
	Dir      string   `json:"dir"`
}

// report is one line init sends back: Idle once prepared, then Ready (or
// Error) after the launch, then the function's wait status when it has
// exited.
type report struct {
	Idle   bool   `json:"idle,omitempty"`
	Ready  bool   `json:"ready,omitempty"`
	Error  string `json:"error,omitempty"`
	Gone   bool   `json:"gone,omitempty"` // with Error: the prepared template had exited
	Exited bool   `json:"exited,omitempty"`
	Status uint32 `json:"status,omitempty"`
}

// Init runs an instance's init (or the driver's guard, see startGuard)
// when this process is one, and never returns then; in any other process it returns at once and does nothing. The
// driver starts instances from its embedded init program, or, where that
// cannot run, by re-executing the server binary, so package main of every
// program that uses the driver must call Init first thing in main, before
// it parses flags or starts goroutines; tests that use the driver call it
// from TestMain.
func Init() {
	if len(os.Args) == 2 && os.Args[0] == guardArg {
		os.Exit(runGuard(os.Args[1]))
	}
	if len(os.Args) != 1 || os.Args[0] != initArg || os.Getpid() != 1 {
		return
	}
	// The main goroutine keeps its thread, free of the restrictions the
	// function gets: the mounts are made from it, and the function is
	// started from another thread (see forker).
	runtime.LockOSThread()
	// Named after what it is, not after the file it was executed from
	// (a descriptor number, or "exe"), in ps and top on the host.
	_ = unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(&initComm[0])), 0, 0, 0)
	os.Exit(runInit())
}

// initComm is an init's process name, NUL-terminated.
var initComm = []byte("aloft-init\x00")

// exitSetupFailed is the exit code when the function never ran.
const exitSetupFailed = 125

// runInit is pid 1 of an instance. While the instance is prepared ahead
// of need it builds the root and readies the thread that will start the
// function; once launched, it mounts the code, has the function started,
// and then reaps and forwards signals until the function exits.
func runInit() int {
	unix.CloseOnExec(controlFD)
	ctl := &reporter{f: os.NewFile(controlFD, "control")}
	rd := &msgReader{fd: controlFD}
	// Ask for the signals now, before the function exists, so that no
	// SIGCHLD is missed, and before a launch waits, because the first call
	// starts a goroutine, and switching away from this locked thread costs
	// a wake-up of another one.
	sigs := make(chan os.Signal, 32)
	signal.Notify(sigs, unix.SIGCHLD, unix.SIGTERM, unix.SIGINT, unix.SIGHUP, unix.SIGQUIT, unix.SIGUSR1, unix.SIGUSR2)

	var p prepare
	if err := rd.next(&p); err != nil {
		ctl.send(report{Error: "read setup: " + err.Error()})
		return exitSetupFailed
	}
	fk, err := prepareInstance(&p)
	var tp *templateProc
	if err == nil && p.Template != nil {
		tp, err = startTemplate(&p, fk, rd)
	}
	if err != nil {
		ctl.send(report{Error: err.Error()})
		return exitSetupFailed
	}
	ctl.send(report{Idle: true})

	var l launch
	if err := rd.next(&l); err != nil {
		if err == io.EOF {
			return 0 // the driver no longer needs this instance
		}
		ctl.send(report{Error: "read launch: " + err.Error()})
		return exitSetupFailed
	}
	var pid int
	if l.Template && tp != nil {
		pid, err = tp.launch(&l, rd.fds, ctl)
	} else {
		pid, err = launchFunction(&p, &l, rd.fds, fk, ctl)
	}
	if err != nil {
		ctl.send(report{Error: err.Error(), Gone: errors.Is(err, errTemplateGone)})
		return exitSetupFailed
	}
	return reap(pid, sigs, ctl)
}

// reporter writes reports to the server; the forker thread and the main
// goroutine both do.
type reporter struct {
	mu sync.Mutex
	f  *os.File
}

func (r *reporter) send(rep report) {
	b, _ := json.Marshal(rep)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.f.Write(append(b, '\n'))
}

// prepareInstance does everything that does not depend on the function:
// the shared part of the root, the hostname, the limits the function
// inherits, and the thread that will start it.
func prepareInstance(p *prepare) (*forker, error) {
	if err := buildRoot(p.Root, p.Plan, p.Remounts, p.UID, p.GID); err != nil {
		return nil, err
	}
	if err := unix.Sethostname([]byte(p.Hostname)); err != nil {
		return nil, fmt.Errorf("sethostname: %w", err)
	}
	if err := unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{}); err != nil {
		return nil, fmt.Errorf("disable core dumps: %w", err)
	}
	// Only stdin, stdout and stderr reach the function, whatever else is
	// open.
	if err := unix.CloseRange(controlFD, ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err != nil {
		return nil, fmt.Errorf("close descriptors: %w", err)
	}
	return startForker()
}

// launchFunction mounts the code, sizes /tmp, makes the root read-only,
// changes to the function's directory (as root, so that a code directory
// only root may enter works) and has the forker start the function. The
// forker reports Ready to the server itself; errors are the caller's to
// report.
func launchFunction(p *prepare, l *launch, fds []int, fk *forker, ctl *reporter) (int, error) {
	if len(l.Argv) == 0 {
		return 0, errors.New("empty argv")
	}
	take, err := finishRoot(l, fds)
	if err != nil {
		return 0, err
	}
	null, err := unix.Open("/dev/null", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("open /dev/null: %w", err)
	}
	defer unix.Close(null)
	out := null
	if l.Output {
		if out = take(); out < 0 {
			return 0, errors.New("launch: output descriptor missing")
		}
		defer unix.Close(out) // from now on only the function holds it
	}
	if err := unix.Chdir(l.Dir); err != nil {
		return 0, fmt.Errorf("chdir %s: %w", l.Dir, err)
	}
	return fk.start(forkOrder{
		argv: l.Argv, env: l.Env, files: []uintptr{uintptr(null), uintptr(out), uintptr(out)},
		uid: p.UID, gid: p.GID, ctl: ctl,
	})
}

// finishRoot does the part of a launch that every instance needs: it
// mounts the code that came as the first of fds, sizes /tmp and makes the
// root read-only. It returns a function that hands out the rest of fds in
// order, -1 once none are left.
func finishRoot(l *launch, fds []int) (take func() int, err error) {
	take = func() int {
		if len(fds) == 0 {
			return -1
		}
		fd := fds[0]
		fds = fds[1:]
		return fd
	}
	if l.CodeDir != "" {
		code := take()
		if code < 0 {
			return nil, errors.New("launch: code descriptor missing")
		}
		err := mountCode(code, l.CodeDir)
		unix.Close(code)
		if err != nil {
			return nil, err
		}
	}
	if l.Opt {
		opt := take()
		if opt < 0 {
			return nil, errors.New("launch: layers descriptor missing")
		}
		err := mountOpt(opt)
		unix.Close(opt)
		if err != nil {
			return nil, err
		}
	}
	if l.TmpMB > 0 {
		size := "size=" + strconv.Itoa(l.TmpMB) + "m"
		if err := unix.Mount("tmpfs", "/tmp", "tmpfs", unix.MS_REMOUNT|unix.MS_NOSUID|unix.MS_NODEV, size); err != nil {
			return nil, fmt.Errorf("resize /tmp: %w", err)
		}
	}
	if err := unix.Mount("", "/", "", unix.MS_REMOUNT|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV, ""); err != nil {
		return nil, fmt.Errorf("remount / read-only: %w", err)
	}
	return take, nil
}

// mountCode attaches the detached mount tree code at /var/task and binds it
// at dir too.
func mountCode(code int, dir string) error {
	if err := os.MkdirAll("/var/task", 0o755); err != nil {
		return err
	}
	if err := unix.MoveMount(code, "", unix.AT_FDCWD, "/var/task", unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("mount code at /var/task: %w", err)
	}
	if dir = filepath.Clean(dir); dir == "/var/task" {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("mount point for the code: %w", err)
	}
	// A bind of a read-only mount is read-only too.
	if err := unix.Mount("/var/task", dir, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("mount code at %s: %w", dir, err)
	}
	return nil
}

// forker is a thread of init that holds, ready for the function to
// inherit, what must not be set on the main goroutine's thread until the
// mounts are done: no_new_privs, the seccomp filter (which refuses mount)
// and an empty capability bounding set. These belong to threads, and a
// child inherits them from the thread that forks it. Setting them up ahead
// of need keeps them off the launch; the launch only wakes the thread with
// a pipe write, which costs less than a switch between goroutines on
// locked threads. The whole init already runs in the instance's network
// namespace (the driver clones it there), so the thread never changes
// namespaces.
type forker struct {
	wake   [2]int // pipe: the launch writes a byte, the forker reads it
	orders chan forkOrder
	result chan forkResult
}

// forkOrder is what the forker starts.
type forkOrder struct {
	argv, env []string
	files     []uintptr
	uid, gid  int
	ctl       *reporter // told Ready once the function runs; nil tells nobody
}

type forkResult struct {
	pid int
	err error
}

func startForker() (*forker, error) {
	fk := &forker{orders: make(chan forkOrder, 1), result: make(chan forkResult, 1)}
	if err := unix.Pipe2(fk.wake[:], unix.O_CLOEXEC); err != nil {
		return nil, fmt.Errorf("pipe: %w", err)
	}
	ready := make(chan error, 1)
	go fk.run(ready)
	if err := <-ready; err != nil {
		return nil, err
	}
	return fk, nil
}

func (fk *forker) run(ready chan<- error) {
	// Never unlocked: the thread carries the function's restrictions and
	// ends with the goroutine.
	runtime.LockOSThread()
	_ = batchPolicy() // refused: the function runs in the default class
	err := dropBoundingSet()
	if err == nil {
		var filter []unix.SockFilter
		if filter, err = seccompFilter(); err == nil {
			err = loadSeccomp(filter)
		}
	}
	ready <- err
	if err != nil {
		return
	}
	var b [1]byte
	for {
		if _, err := unix.Read(fk.wake[0], b[:]); err != unix.EINTR {
			break
		}
	}
	o := <-fk.orders
	fk.result <- fk.fork(o)
}

// fork restricts the thread and starts the function from it.
func (fk *forker) fork(o forkOrder) forkResult {
	// The child sets its groups, gid and uid before execve; leaving uid 0
	// clears its capabilities, and with an empty bounding set and
	// no_new_privs nothing it runs can gain any back. Uid 0 here is the
	// root of a user namespace that maps only the server's own user
	// (rootless): the function stays that user, and with empty bounding,
	// inheritable and ambient sets execve leaves it no capabilities.
	attr := &syscall.ProcAttr{Env: o.env, Files: o.files, Sys: &syscall.SysProcAttr{}}
	if o.uid != 0 {
		attr.Sys.Credential = &syscall.Credential{Uid: uint32(o.uid), Gid: uint32(o.gid), Groups: []uint32{}}
	}
	var pid int
	err := sandbox.RetryTextBusy(func() (err error) {
		pid, err = syscall.ForkExec(o.argv[0], o.argv, attr)
		return err
	})
	if err != nil {
		return forkResult{err: fmt.Errorf("fork/exec %s: %w", o.argv[0], err)}
	}
	// Straight from here: the main goroutine would first have to get this
	// thread's processor back.
	if o.ctl != nil {
		o.ctl.send(report{Ready: true})
	}
	return forkResult{pid: pid}
}

// start has the forker start o and returns the function's pid. On
// success the forker has told the server already.
func (fk *forker) start(o forkOrder) (int, error) {
	fk.orders <- o
	if _, err := unix.Write(fk.wake[1], []byte{1}); err != nil {
		return 0, fmt.Errorf("wake the forker: %w", err)
	}
	r := <-fk.result
	return r.pid, r.err
}

// reap waits for the function, reaping every orphan meanwhile, and passes
// signals on: SIGTERM to every process of the namespace, the others to the
// function. When the function exits it reports the status and returns an
// exit code for init; init's exit then kills whatever is left.
func reap(pid int, sigs <-chan os.Signal, ctl *reporter) int {
	for sig := range sigs {
		if sig != unix.SIGCHLD {
			target := pid
			if sig == unix.SIGTERM {
				target = -1 // every process of the namespace but init
			}
			unix.Kill(target, sig.(syscall.Signal))
			continue
		}
		for {
			var ws unix.WaitStatus
			wpid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
			if err == unix.EINTR {
				continue
			}
			if err != nil || wpid <= 0 {
				break
			}
			if wpid == pid {
				ctl.send(report{Exited: true, Status: uint32(ws)})
				if ws.Signaled() {
					return 128 + int(ws.Signal())
				}
				return ws.ExitStatus()
			}
		}
	}
	return exitSetupFailed
}

// batchPolicy puts the calling thread, and so everything it starts, in
// the SCHED_BATCH scheduling class. The CPU a function gets is unchanged
// (the same fair share, within its cgroup's limits); what changes is that
// a function woken by the server, or by anything else, no longer preempts
// the thread running on that CPU at once: it runs when that thread blocks
// or its slice ends. The server writes an event to a function and goes
// on to answer the caller and read the next request instead of being
// switched out at every write (on a busy machine, about two context
// switches of the server's fewer per invocation). A function may move
// itself back to SCHED_OTHER; nothing depends on it staying. Where the
// host refuses the call (a container's own seccomp profile, say) the
// function runs in the default class: scheduled differently, no less
// correctly, so the refusal does not stop the instance.
func batchPolicy() error {
	attr := unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_BATCH}
	return unix.SchedSetAttr(0, &attr, 0)
}

// dropBoundingSet empties the calling thread's capability bounding,
// inheritable and ambient sets, so that what it executes starts with no
// capabilities even as uid 0 (the root of a user namespace, when the
// driver runs in one), while the thread keeps the ones it has.
func dropBoundingSet() error {
	for c := 0; c <= 63; c++ {
		err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0)
		if err == unix.EINVAL {
			break // past the last capability the kernel knows
		}
		if err != nil {
			return fmt.Errorf("drop capability %d from the bounding set: %w", c, err)
		}
	}
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil {
		return fmt.Errorf("clear the ambient capabilities: %w", err)
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return fmt.Errorf("read capabilities: %w", err)
	}
	data[0].Inheritable, data[1].Inheritable = 0, 0
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("clear the inheritable capabilities: %w", err)
	}
	return nil
}

// msgReader reads newline-terminated JSON messages from a socket, keeping
// the descriptors that arrive with them.
type msgReader struct {
	fd  int
	buf []byte
	fds []int
}

func (r *msgReader) next(v any) error {
	for {
		if i := bytes.IndexByte(r.buf, '\n'); i >= 0 {
			line := r.buf[:i]
			r.buf = r.buf[i+1:]
			return json.Unmarshal(line, v)
		}
		p := make([]byte, 16<<10)
		oob := make([]byte, unix.CmsgSpace(4*4))
		n, oobn, _, _, err := unix.Recvmsg(r.fd, p, oob, unix.MSG_CMSG_CLOEXEC)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if oobn > 0 {
			msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
			if err != nil {
				return err
			}
			for _, m := range msgs {
				if fds, err := unix.ParseUnixRights(&m); err == nil {
					r.fds = append(r.fds, fds...)
				}
			}
		}
		if n == 0 {
			return io.EOF
		}
		r.buf = append(r.buf, p[:n]...)
	}
}
