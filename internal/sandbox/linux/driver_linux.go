package linux

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/aloft-dev/aloft/internal/sandbox"
)

// rootDir is the empty host directory on which each init mounts its new
// root, inside its own mount namespace, so the host never sees those
// mounts.
const rootDir = "/run/aloft-sandbox"

// Sizes for a Spec that names none: Lambda's defaults.
const (
	defaultMemoryMB = 128
	defaultTmpMB    = 512
)

// Driver starts instances in namespaces and cgroups. Create it with New;
// it is safe for concurrent use.
type Driver struct {
	log     *slog.Logger
	cg      *cgroupHost
	prep    prepare     // what every init is told first, but for its identity
	init    initProgram // what every init runs
	ids     *identities // the identities functions run as
	gid     int         // the group of a fixed identity (Options.GID), or 0
	spawner *spawner    // the thread every init is started from
	cpus    *cpuPlacer  // the CPUs ready instances are pinned to; nil pins none
	// rootless: the driver runs as root of a user namespace that maps
	// only the server's user (RunInUserNamespace): every function runs as
	// that user, and cgroups exist only where the server's own cgroup is
	// delegated to it (cg is nil otherwise: no limits, statistics or
	// freezing).
	rootless bool

	// Inits started ahead of need, waiting for a launch, each in the
	// cgroup its instance will have. Until then the cgroup has the lowest
	// CPU weight, so that preparing them never slows down the starts they
	// are meant to speed up.
	pool chan *shim
	need chan struct{} // wakes the refiller
	// Starts under way, and when the last one ended (UnixNano): the pool
	// is refilled only when starts leave the machine alone for a moment,
	// as preparing an init competes with them even at the lowest CPU
	// weight.
	starting  atomic.Int32
	lastStart atomic.Int64
	quit      chan struct{} // closed by Close
	wg        sync.WaitGroup
	closed    atomic.Bool

	closeOnce sync.Once
	closeErr  error

	// Template processes kept ready, per template (sandbox.Template.Key),
	// up to tcap each.
	tmu    sync.Mutex
	tpools map[string]*tpool // guarded by tmu
	tcap   int

	// Inits write their own failures to initErrW, and logInitErrors logs
	// them: not the server's stderr, which an init that outlives the
	// server (a frozen one) would otherwise hold open.
	initErrR, initErrW *os.File
	initErrDone        chan struct{} // closed when logInitErrors returns
	// guard is the write end of the guard's pipe (see startGuard), held
	// until Close or the process's exit; -1 when no guard runs.
	// guardDone is closed once the guard has exited.
	guard     int
	guardDone chan struct{}

	// What each instance's network namespace gets when it is prepared
	// (see Options.Listen and Options.Egress).
	listen []string
	egress func(nsfd int) (io.Closer, error)
}

var (
	_ sandbox.Driver    = (*Driver)(nil)
	_ sandbox.Networker = (*Driver)(nil)
)

// PrivateNetworks reports true: every instance runs in a network
// namespace of its own.
func (*Driver) PrivateNetworks() bool { return true }

// New checks that the host can run sandboxes (root, namespaces, cgroups,
// seccomp), creates the parent cgroups, prepares the file system plan and
// starts filling the pool of ready inits. Its error says what is missing.
func New(o Options) (*Driver, error) {
	if euid := os.Geteuid(); euid != 0 {
		return nil, fmt.Errorf("linux sandbox: needs root, running as uid %d (use the process driver on hosts without root)", euid)
	}
	for _, ns := range []string{"mnt", "pid", "ipc", "uts", "net"} {
		if _, err := os.Stat("/proc/self/ns/" + ns); err != nil {
			return nil, fmt.Errorf("linux sandbox: kernel lacks %s namespaces: %w", ns, err)
		}
	}
	if _, err := os.Stat(selfExe); err != nil {
		return nil, fmt.Errorf("linux sandbox: cannot re-execute the server: %w", err)
	}
	if err := checkSeccomp(); err != nil {
		return nil, fmt.Errorf("linux sandbox: %w", err)
	}
	if err := checkMountAPI(); err != nil {
		return nil, fmt.Errorf("linux sandbox: needs Linux 5.12 or later: %w", err)
	}
	d := &Driver{log: o.Logger, prep: prepare{Root: cmp.Or(o.RootDir, rootDir), Remounts: remounts, Hostname: hostname},
		listen: slices.Clone(o.Listen), egress: o.Egress, guard: -1, rootless: InUserNamespace(), spawner: theSpawner()}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	if (o.UID == 0) != (o.GID == 0) || o.UID < 0 || o.GID < 0 {
		return nil, fmt.Errorf("linux sandbox: invalid uid/gid %d/%d: set both or neither", o.UID, o.GID)
	}
	first, count := cmp.Or(o.FirstUID, DefaultFirstUID), cmp.Or(o.UIDCount, DefaultUIDCount)
	var err error
	if d.rootless {
		// Only root exists in the user namespace: it is the server's own
		// user on the host.
		if o.UID != 0 {
			return nil, fmt.Errorf("linux sandbox: uid %d does not exist in this user namespace, which maps only the server's user", o.UID)
		}
		d.ids = &identities{root: true}
	} else if d.ids, err = newIdentities(o.UID, first, count); err != nil {
		return nil, fmt.Errorf("linux sandbox: %w", err)
	}
	d.gid = o.GID
	ro := o.ReadOnly
	if ro == nil {
		ro = DefaultReadOnly()
	}
	var readOnly []string
	for _, p := range ro {
		if !filepath.IsAbs(p) {
			return nil, fmt.Errorf("linux sandbox: read-only path %q is not absolute", p)
		}
		readOnly = append(readOnly, filepath.Clean(p))
	}
	if d.prep.Plan, err = basePlan(readOnly, o.Hidden, o.RuntimeDir, defaultTmpMB); err != nil {
		return nil, fmt.Errorf("linux sandbox: %w", err)
	}
	sortPlan(d.prep.Plan)
	if err := os.MkdirAll(d.prep.Root, 0o700); err != nil {
		return nil, fmt.Errorf("linux sandbox: %w", err)
	}
	parent := o.CgroupParent
	if parent == "" {
		parent = DefaultCgroupParent
	}
	parent = filepath.Clean("/" + parent)[1:]
	if parent == "" {
		return nil, errors.New("linux sandbox: the cgroup parent must not be the root cgroup")
	}
	if !d.rootless {
		if d.cg, err = newCgroupHost(parent, o.OwnParent); err != nil {
			return nil, fmt.Errorf("linux sandbox: %w", err)
		}
	} else if d.cg, err = newDelegatedCgroupHost(parent, o.OwnParent); err != nil {
		// Isolation holds without cgroups; limits do not.
		d.log.Warn("linux sandbox: no cgroups, so instances get no memory, CPU or task limits and are never frozen; "+
			"run the server in a cgroup v2 delegated to its user (systemd-run --user -p Delegate=yes) to have them", "reason", err)
		d.cg = nil
	}
	var ierr error
	if d.init, ierr = loadInit(o.SelfInit); ierr != nil {
		d.log.Warn("linux sandbox: instances start by re-executing the server, which is slower", "err", ierr)
	}
	if d.initErrR, d.initErrW, err = os.Pipe(); err != nil {
		return nil, fmt.Errorf("linux sandbox: %w", err)
	}
	d.initErrDone = make(chan struct{})
	go d.logInitErrors()
	if n := d.cg.sweep(0); n > 0 {
		d.log.Warn("linux sandbox: killed the processes of instances a previous run left behind", "signalled", n)
	}
	if d.cg == nil {
		// Nothing is ever frozen, and inits die with the server.
	} else if err := d.startGuard(); err != nil {
		d.log.Warn("linux sandbox: frozen instances will outlive a crash of the server until it starts again", "err", err)
	}
	if err := d.cg.holdFreezer(); err != nil {
		d.log.Warn("linux sandbox: thaws will be slower", "err", err)
	}
	prestart := o.Prestart
	if prestart == 0 {
		prestart = DefaultPrestart
	}
	if prestart < 0 {
		prestart = 0
	}
	d.pool = make(chan *shim, prestart)
	d.tpools = make(map[string]*tpool)
	d.tcap = o.Templates
	if d.tcap == 0 {
		d.tcap = DefaultTemplates
	}
	d.need = make(chan struct{}, 1)
	d.quit = make(chan struct{})
	if prestart > 0 || d.tcap > 0 {
		d.wg.Add(1)
		go d.refill()
		d.wake()
	}
	mode, parentDir := "v1", parent
	switch {
	case d.cg == nil:
		mode = "none (rootless)"
	case d.cg.v2 && d.rootless:
		mode, parentDir = "v2 (delegated)", d.cg.parents["memory"]
	case d.cg.v2:
		mode = "v2"
	}
	initKind := "embedded"
	if d.init.mem == nil {
		initKind = "server binary"
	}
	if d.cg != nil {
		d.cpus = newCPUPlacer()
	}
	d.log.Info("linux sandbox ready", "cgroups", mode, "cgroup_parent", parentDir,
		"rootless", d.rootless, "uid", d.ids.first, "uids", d.ids.n, "prestart", prestart, "templates", max(d.tcap, 0), "init", initKind)
	return d, nil
}

// logInitErrors logs what inits write to their stderr, line by line,
// until Close.
func (d *Driver) logInitErrors() {
	defer close(d.initErrDone)
	sc := bufio.NewScanner(d.initErrR)
	for sc.Scan() {
		d.log.Warn("linux sandbox: init: " + sc.Text())
	}
}

// Name returns "linux".
func (*Driver) Name() string { return "linux" }

// HasCgroups reports whether instances get cgroups: memory, CPU and task
// limits, peak memory and the freezer. A driver running as root always
// has them; one in a user namespace only where the server's cgroup v2 is
// delegated to its user.
func (d *Driver) HasCgroups() bool { return d.cg != nil }

// Close stops the inits kept ready and removes the parent cgroups New
// created, when no instance is left in them. It does not stop instances;
// Start fails after Close.
func (d *Driver) Close() error {
	d.closeOnce.Do(func() {
		d.closed.Store(true)
		close(d.quit)
		d.wg.Wait()
		var errs []error
		errs = append(errs, drain(d.pool))
		d.tmu.Lock()
		for k, tp := range d.tpools {
			errs = append(errs, drain(tp.ready))
			delete(d.tpools, k)
		}
		d.tmu.Unlock()
		d.stopGuard()
		errs = append(errs, d.cg.close(), d.init.close())
		d.initErrW.Close()
		d.initErrR.Close() // ends logInitErrors, even if an init still holds the write end
		<-d.initErrDone
		d.closeErr = errors.Join(errs...)
	})
	return d.closeErr
}

// Start runs spec.Argv in a new sandbox and returns once the function's
// process has been executed, or the reason it could not be.
func (d *Driver) Start(ctx context.Context, spec sandbox.Spec) (sandbox.Instance, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if d.closed.Load() {
		return nil, errors.New("linux sandbox: driver is closed")
	}
	if len(spec.Argv) == 0 || !filepath.IsAbs(spec.Argv[0]) {
		return nil, fmt.Errorf("linux sandbox: argv[0] must be an absolute path, got %q", spec.Argv)
	}
	d.starting.Add(1)
	defer func() {
		d.lastStart.Store(time.Now().UnixNano())
		d.starting.Add(-1)
		d.wake()
	}()
	l := launch{Argv: spec.Argv, Env: rewriteTmp(spec.Env, spec.TmpDir), Dir: spec.Dir, Output: spec.Output != nil}
	if spec.TmpMB > 0 && spec.TmpMB != defaultTmpMB {
		l.TmpMB = spec.TmpMB
	}
	if l.Dir == "" {
		l.Dir = spec.CodeDir
	}
	if l.Dir == "" {
		l.Dir = "/"
	}
	// Descriptors for init: the code as a detached read-only mount tree,
	// then the output.
	var fds []int
	if spec.CodeDir != "" {
		code, err := openCodeTree(spec.CodeDir)
		if err != nil {
			return nil, fmt.Errorf("linux sandbox: code dir: %w", err)
		}
		defer unix.Close(code)
		l.CodeDir = filepath.Clean(spec.CodeDir)
		fds = append(fds, code)
	}
	if spec.LayersDir != "" {
		opt, err := openCodeTree(spec.LayersDir)
		if err != nil {
			return nil, fmt.Errorf("linux sandbox: layers dir: %w", err)
		}
		defer unix.Close(opt)
		l.Opt = true
		fds = append(fds, opt)
	}
	codeFDs := len(fds)
	if spec.Output != nil {
		// Fd puts the file in blocking mode, as os/exec does for a child's
		// stdout: the function expects blocking output.
		fds = append(fds, int(spec.Output.Fd()))
		defer runtime.KeepAlive(spec.Output)
	}
	memMB := spec.MemoryMB
	if memMB <= 0 {
		memMB = defaultMemoryMB
	}
	if spec.Template != nil {
		if sh := d.takeTemplate(spec.Template, spec.ID, memMB); sh != nil {
			tl := l
			tl.Template, tl.Output = true, false
			in, err := d.launch(ctx, spec, &tl, fds[:codeFDs], sh)
			if err == nil {
				return d.public(in), nil
			}
			if derr := sh.discard(); derr != nil {
				d.log.Warn("linux sandbox: cgroup left behind", "err", derr)
			}
			if !errors.Is(err, errInitGone) {
				return nil, err
			}
			d.log.Warn("linux sandbox: a prepared template was gone, starting afresh", "err", err)
			if codeFDs > 0 {
				// That init may have attached the code tree already.
				code, err := openCodeTree(spec.CodeDir)
				if err != nil {
					return nil, fmt.Errorf("linux sandbox: code dir: %w", err)
				}
				defer unix.Close(code)
				fds[0] = code
			}
			if l.Opt {
				opt, err := openCodeTree(spec.LayersDir)
				if err != nil {
					return nil, fmt.Errorf("linux sandbox: layers dir: %w", err)
				}
				defer unix.Close(opt)
				fds[codeFDs-1] = opt
			}
		}
	}
	for attempt := 0; ; attempt++ {
		sh, pooled, err := d.take(ctx, spec.ID, memMB)
		if err != nil {
			return nil, err
		}
		in, err := d.launch(ctx, spec, &l, fds, sh)
		if err == nil {
			return d.public(in), nil
		}
		if derr := sh.discard(); derr != nil {
			d.log.Warn("linux sandbox: cgroup left behind", "err", derr)
		}
		// An init kept ready may have been killed meanwhile; a new one
		// gets a second chance.
		if !pooled || !errors.Is(err, errInitGone) || attempt > 0 {
			return nil, err
		}
		d.log.Warn("linux sandbox: a prepared instance was gone, starting another", "err", err)
	}
}

// errInitGone is wrapped by launch errors when init died.
var errInitGone = errors.New("sandbox init exited")

// launch has a ready init start the function, once the caller has
// opened its listeners in the instance's network namespace.
func (d *Driver) launch(ctx context.Context, spec sandbox.Spec, l *launch, fds []int, sh *shim) (*instance, error) {
	if spec.Listen != nil {
		if err := spec.Listen(sh.net); err != nil {
			return nil, fmt.Errorf("linux sandbox: listen: %w", err)
		}
	}
	switch {
	case spec.Offline && len(spec.AllowNet) > 0:
		return nil, errors.New("linux sandbox: an offline instance reaches no range")
	case spec.Offline:
		if err := sh.net.offline(); err != nil {
			return nil, fmt.Errorf("linux sandbox: %w", err)
		}
	case len(spec.AllowNet) > 0:
		if err := sh.net.allow(spec.AllowNet); err != nil {
			return nil, fmt.Errorf("linux sandbox: allow %v: %w", spec.AllowNet, err)
		}
	}
	stop := context.AfterFunc(ctx, func() { sh.ctl.SetDeadline(time.Now()) })
	defer stop()
	b, err := json.Marshal(l)
	if err == nil {
		err = sh.send(append(b, '\n'), fds)
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("linux sandbox: send launch: %w: %v", errInitGone, err)
	}
	r, err := sh.read()
	switch {
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case err != nil:
		return nil, fmt.Errorf("linux sandbox: start %s: %w: %v", spec.Argv[0], errInitGone, sh.kill())
	case r.Error != "" && r.Gone:
		return nil, fmt.Errorf("linux sandbox: start %s: %w: %s", spec.Argv[0], errInitGone, r.Error)
	case r.Error != "":
		return nil, fmt.Errorf("linux sandbox: start %s: %s", spec.Argv[0], r.Error)
	case !r.Ready:
		return nil, fmt.Errorf("linux sandbox: unexpected report from init: %+v", r)
	}
	sh.ctl.SetDeadline(time.Time{})
	mb := spec.MemoryMB
	if mb <= 0 {
		mb = defaultMemoryMB
	}
	in := &instance{d: d, sh: sh, cg: sh.cg, net: sh.net, done: make(chan struct{}), mb: mb, outR: sh.outR, outW: sh.outW}
	sh.outR, sh.outW, sh.net = nil, nil, nil
	go in.wait()
	return in, nil
}

// take returns a ready init in a cgroup with the instance's limits: one
// from the pool (pooled), or a new one.
func (d *Driver) take(ctx context.Context, id string, memoryMB int) (sh *shim, pooled bool, err error) {
	select {
	case sh := <-d.pool:
		if err := d.claim(sh, id, memoryMB); err != nil {
			return nil, false, err
		}
		return sh, true, nil
	default:
	}
	sh, err = d.spawn(ctx, id, memoryMB, &d.prep, nil)
	return sh, false, err
}

// claim gives a prepared init's cgroup the instance's name and limits, or
// discards the init.
func (d *Driver) claim(sh *shim, id string, memoryMB int) error {
	err := sh.cg.rename(d.cgroupName(id))
	if err == nil {
		err = sh.cg.setLimits(memoryMB)
	}
	if err != nil {
		sh.discard()
		return fmt.Errorf("linux sandbox: %w", err)
	}
	return nil
}

// wake asks the refiller to top the pool up.
func (d *Driver) wake() {
	select {
	case d.need <- struct{}{}:
	default:
	}
}

// refill keeps the pool full, one init at a time, until Close.
func (d *Driver) refill() {
	defer d.wg.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-d.quit
		cancel()
	}()
	tick := time.NewTicker(templateIdle / 10)
	defer tick.Stop()
	for {
		select {
		case <-d.quit:
			return
		case <-d.need:
		case <-tick.C:
			d.expireTemplates()
			d.shrinkTemplates()
		}
		if !d.fill(ctx, d.pool, cap(d.pool), func() (*shim, error) { return d.spawn(ctx, prestartedName, 0, &d.prep, nil) }) {
			return
		}
		for _, tp := range d.templatePools() {
			if time.Since(tp.failed) < templateRetry {
				continue
			}
			if !d.fill(ctx, tp.ready, int(tp.target.Load()), func() (*shim, error) { return d.spawnTemplate(ctx, tp) }) {
				return
			}
		}
	}
}

// fill tops pool up to n inits from spawn, one at a time, each when the
// machine is quiet. It returns false when the driver closes; after a
// failure it stops, and the refiller tries again a second later.
func (d *Driver) fill(ctx context.Context, pool chan *shim, n int, spawn func() (*shim, error)) bool {
	for len(pool) < min(n, cap(pool)) {
		if !d.waitQuiet() {
			return false
		}
		sh, err := spawn()
		if err != nil {
			if ctx.Err() != nil {
				return false
			}
			d.log.Warn("linux sandbox: cannot start an init ahead of need", "err", err)
			select {
			case <-d.quit:
				return false
			case <-time.After(time.Second):
			}
			d.wake()
			return true
		}
		select {
		case pool <- sh:
		default:
			sh.discard()
		}
	}
	return true
}

// drain discards the inits waiting in pool.
func drain(pool chan *shim) error {
	var errs []error
	for {
		select {
		case sh := <-pool:
			errs = append(errs, sh.discard())
		default:
			return errors.Join(errs...)
		}
	}
}

// prestartedName names the cgroups of inits kept ready, until Start
// renames them after the instance.
const prestartedName = "prestarted"

// quietDelay is how long no start may have run before the pool is
// refilled.
const quietDelay = 10 * time.Millisecond

// waitQuiet waits until no start is under way and none ended in the last
// quietDelay. It returns false when the driver closes.
func (d *Driver) waitQuiet() bool {
	for {
		wait := quietDelay - time.Duration(time.Now().UnixNano()-d.lastStart.Load())
		if d.starting.Load() > 0 {
			wait = quietDelay
		}
		if wait <= 0 {
			return true
		}
		t := time.NewTimer(wait)
		select {
		case <-d.quit:
			t.Stop()
			return false
		case <-t.C:
		}
	}
}

// shim is a started init, the server's end of its control socket and the
// instance cgroup it runs in.
type shim struct {
	cmd *exec.Cmd
	ctl *os.File      // non-blocking, so deadlines work
	rd  *bufio.Reader // buffers ctl
	cg  *cgroup
	// The output pipe of a prepared template process, which the instance
	// hands over (sandbox.OutputPipe); nil for other inits.
	outR, outW *os.File
	net        *netns      // init's network namespace, until an instance takes it
	uid        int         // the function's identity, given back when the cgroup is gone
	ids        *identities // where uid came from
}

// spawn creates an instance cgroup (see cgroupHost.create for memoryMB),
// starts an init in new namespaces in it, and has it prepare the instance
// as p says (fds travel with p), returning once it is waiting for a
// launch.
func (d *Driver) spawn(ctx context.Context, id string, memoryMB int, p *prepare, fds []int) (*shim, error) {
	uid, err := d.ids.take()
	if err != nil {
		return nil, fmt.Errorf("linux sandbox: %w", err)
	}
	cg, err := d.cg.create(d.cgroupName(id), memoryMB)
	if err != nil {
		d.ids.give(uid)
		return nil, fmt.Errorf("linux sandbox: %w", err)
	}
	own := *p
	own.UID, own.GID = uid, cmp.Or(d.gid, uid)
	sh, err := d.startInit(ctx, cg, &own, fds)
	if err == nil {
		sh.uid, sh.ids = uid, d.ids
		if sh.net, err = openNetns(sh.cmd.Process.Pid, d.listen, d.egress); err != nil {
			sh.kill()
		}
	}
	if err != nil {
		d.release(cg, uid)
		return nil, err
	}
	return sh, nil
}

// release removes an instance's cgroup and, once that shows its processes
// are all gone, gives its identity back.
func (d *Driver) release(cg *cgroup, uid int) error {
	if err := cg.remove(); err != nil {
		d.log.Warn("linux sandbox: cgroup left behind", "err", err)
		return err
	}
	d.ids.give(uid)
	return nil
}

// startInit starts an init in cg, sends it p with the descriptors pass and waits until it
// is prepared.
func (d *Driver) startInit(ctx context.Context, cg *cgroup, p *prepare, pass []int) (*shim, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("linux sandbox: control socket: %w", err)
	}
	if err := unix.SetNonblock(fds[0], true); err != nil {
		unix.Close(fds[0])
		unix.Close(fds[1])
		return nil, fmt.Errorf("linux sandbox: control socket: %w", err)
	}
	ctl := os.NewFile(uintptr(fds[0]), "sandbox-control")
	child := os.NewFile(uintptr(fds[1]), "sandbox-control-init")
	attr := &syscall.SysProcAttr{
		Cloneflags: unix.CLONE_NEWNS | unix.CLONE_NEWPID | unix.CLONE_NEWIPC | unix.CLONE_NEWUTS | unix.CLONE_NEWNET,
		Pdeathsig:  syscall.SIGKILL,
	}
	if cg != nil && cg.v2 {
		// Clone straight into the cgroup.
		dir, err := os.Open(cg.ctrl["cpu"])
		if err != nil {
			ctl.Close()
			child.Close()
			return nil, fmt.Errorf("linux sandbox: open cgroup: %w", err)
		}
		defer dir.Close()
		attr.UseCgroupFD, attr.CgroupFD = true, int(dir.Fd())
	}
	cmd := &exec.Cmd{
		Path:        d.init.path,
		Args:        []string{initArg},
		Env:         []string{"GOMAXPROCS=1", "GOGC=off"},
		Stderr:      d.initErrW, // init's own failures, if any; never the function's output
		ExtraFiles:  []*os.File{child},
		SysProcAttr: attr,
	}
	err = d.spawner.start(cmd)
	child.Close()
	if err != nil {
		ctl.Close()
		return nil, fmt.Errorf("linux sandbox: start init: %w", err)
	}
	sh := &shim{cmd: cmd, ctl: ctl, rd: bufio.NewReader(ctl), cg: cg}
	if cg != nil && !cg.v2 {
		// Init is blocked reading its orders: it runs no function code
		// before it is in the instance's cgroups.
		if err := cg.addProc(cmd.Process.Pid); err != nil {
			sh.kill()
			return nil, fmt.Errorf("linux sandbox: %w", err)
		}
	}
	stop := context.AfterFunc(ctx, func() { ctl.SetDeadline(time.Now()) })
	defer stop()
	b, err := json.Marshal(p)
	if err == nil {
		err = sh.send(append(b, '\n'), pass)
	}
	var r report
	if err == nil {
		r, err = sh.read()
	}
	switch {
	case ctx.Err() != nil:
		sh.kill()
		return nil, ctx.Err()
	case err != nil:
		return nil, fmt.Errorf("linux sandbox: init failed: %v (%v)", err, sh.kill())
	case r.Error != "":
		sh.kill()
		return nil, fmt.Errorf("linux sandbox: prepare instance: %s", r.Error)
	case !r.Idle:
		sh.kill()
		return nil, fmt.Errorf("linux sandbox: unexpected report from init: %+v", r)
	}
	ctl.SetDeadline(time.Time{})
	return sh, nil
}

// read returns init's next report.
func (sh *shim) read() (report, error) {
	var r report
	line, err := sh.rd.ReadBytes('\n')
	if err != nil {
		return r, err
	}
	err = json.Unmarshal(line, &r)
	return r, err
}

// send writes b to init, passing the descriptors fds along.
func (sh *shim) send(b []byte, fds []int) error {
	if len(fds) == 0 {
		_, err := sh.ctl.Write(b)
		return err
	}
	rights := unix.UnixRights(fds...)
	rc, err := sh.ctl.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	err = rc.Write(func(fd uintptr) bool {
		var n int
		n, serr = unix.SendmsgN(int(fd), b, rights, nil, unix.MSG_NOSIGNAL)
		if serr == unix.EAGAIN {
			return false
		}
		if serr == nil {
			b = b[n:]
		}
		return true
	})
	if err == nil {
		err = serr
	}
	if err == nil && len(b) > 0 {
		_, err = sh.ctl.Write(b)
	}
	return err
}

// kill ends an init that runs no instance, or failed to start one, and
// returns how it ended.
func (sh *shim) kill() error {
	sh.cmd.Process.Kill()
	err := sh.cmd.Wait()
	sh.ctl.Close()
	return err
}

// discard kills an init that runs no instance and removes its cgroup.
func (sh *shim) discard() error {
	if sh.cmd.ProcessState == nil {
		sh.kill()
	}
	for _, f := range []*os.File{sh.outR, sh.outW} {
		if f != nil {
			f.Close()
		}
	}
	var nerr error
	if sh.net != nil {
		nerr = sh.net.close()
	}
	err := sh.cg.remove()
	if err == nil {
		sh.ids.give(sh.uid)
	}
	return errors.Join(nerr, err)
}

// cgroupName returns a cgroup name unique on this host for an instance id.
func (d *Driver) cgroupName(id string) string {
	var b strings.Builder
	for _, r := range id {
		if b.Len() >= 64 {
			break
		}
		if r == '-' || r == '_' || r == '.' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		b.WriteString("instance")
	}
	return b.String() + "-" + strconv.Itoa(os.Getpid()) + "-" + strconv.FormatUint(cgroupSeq.Add(1), 10)
}

// cgroupSeq numbers the cgroups this process creates.
var cgroupSeq atomic.Uint64

// rewriteTmp points variables naming the host's per-instance tmp dir (TMPDIR
// and HOME as the invoker sets them) at the sandbox's /tmp.
func rewriteTmp(env []string, tmp string) []string {
	if tmp == "" {
		return env
	}
	if tmp = filepath.Clean(tmp); tmp == "/" {
		return env
	}
	out := make([]string, len(env))
	for i, kv := range env {
		out[i] = kv
		k, v, ok := strings.Cut(kv, "=")
		if !ok || v == "" {
			continue
		}
		if c := filepath.Clean(v); within(c, tmp) {
			out[i] = k + "=" + filepath.Join("/tmp", c[len(tmp):])
		}
	}
	return out
}
