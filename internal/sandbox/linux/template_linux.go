package linux

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/aloft-dev/aloft/internal/sandbox"
)

// errTemplateGone is wrapped by launch errors when the prepared template
// process had exited before its order came.
var errTemplateGone = errors.New("the prepared template process has exited")

// templateProc is the template process init started while the instance
// was prepared, waiting for its order.
type templateProc struct {
	pid  int
	sock int // init's end of the template's socket
}

// startTemplate starts p.Template from the forker, with its output on the
// descriptor that came with the prepare message, and waits until it says
// it is ready. The forker is spent afterwards: a launch hands the template
// its order instead of starting anything.
func startTemplate(p *prepare, fk *forker, rd *msgReader) (*templateProc, error) {
	t := p.Template
	if len(t.Argv) == 0 {
		return nil, errors.New("template: empty argv")
	}
	if len(rd.fds) == 0 {
		return nil, errors.New("template: output descriptor missing")
	}
	out := rd.fds[0]
	rd.fds = rd.fds[1:]
	defer unix.Close(out)
	null, err := unix.Open("/dev/null", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open /dev/null: %w", err)
	}
	defer unix.Close(null)
	sp, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("template socket: %w", err)
	}
	files := make([]uintptr, sandbox.TemplateFD+1)
	files[0], files[1], files[2] = uintptr(null), uintptr(out), uintptr(out)
	files[sandbox.TemplateFD] = uintptr(sp[1])
	pid, err := fk.start(forkOrder{argv: t.Argv, env: t.Env, files: files, uid: p.UID, gid: p.GID})
	unix.Close(sp[1])
	if err != nil {
		unix.Close(sp[0])
		return nil, err
	}
	tp := &templateProc{pid: pid, sock: sp[0]}
	var buf [256]byte
	for {
		n, err := unix.Read(tp.sock, buf[:])
		if err == unix.EINTR {
			continue
		}
		if err != nil || n == 0 {
			unix.Close(tp.sock)
			var ws unix.WaitStatus
			unix.Wait4(pid, &ws, 0, nil)
			return nil, fmt.Errorf("template %s exited before it was ready: %s", t.Argv[0], describe(ws))
		}
		if bytes.IndexByte(buf[:n], '\n') >= 0 {
			return tp, nil
		}
	}
}

// launch finishes the root, sends the template its order and tells the
// server the function runs. The template's pid is the function's.
func (tp *templateProc) launch(l *launch, fds []int, ctl *reporter) (int, error) {
	defer unix.Close(tp.sock)
	if _, err := finishRoot(l, fds); err != nil {
		return 0, err
	}
	b, err := json.Marshal(sandbox.TemplateOrder{Env: l.Env, Dir: l.Dir})
	if err != nil {
		return 0, err
	}
	b = append(b, '\n')
	for len(b) > 0 {
		n, err := unix.SendmsgN(tp.sock, b, nil, nil, unix.MSG_NOSIGNAL)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("%w: %v", errTemplateGone, err)
		}
		b = b[n:]
	}
	ctl.send(report{Ready: true})
	return tp.pid, nil
}

// describe renders a wait status the way sandbox.ExitStatus does.
func describe(ws unix.WaitStatus) string {
	if ws.Signaled() {
		return "signal: " + ws.Signal().String()
	}
	return fmt.Sprintf("exit status %d", ws.ExitStatus())
}

// Timings of the template pools.
const (
	// templateIdle is how long a template may go unused before the
	// processes kept ready for it are stopped.
	templateIdle = 10 * time.Minute
	// templateRetry is how long a template that failed to start is left
	// alone.
	templateRetry = time.Minute
	// templatePrepareLimit bounds a template's own start.
	templatePrepareLimit = 30 * time.Second
)

// tpool holds inits whose template process is ready. How many it keeps
// follows demand: target starts at the driver's Templates, grows by one
// whenever a Start finds none ready, up to maxTemplates, and shrinks by
// one for every tick of the refiller during which nobody took one.
type tpool struct {
	t        sandbox.Template
	ready    chan *shim   // capacity maxTemplates
	target   atomic.Int32 // how many to keep ready
	takes    atomic.Int32 // since the last tick
	lastUsed atomic.Int64 // UnixNano of the last Start that asked for it
	failed   time.Time    // when it last failed to start; refiller only
}

// maxTemplates bounds how many processes are kept ready per template.
const maxTemplates = 16

// takeTemplate returns a prepared init of t in a cgroup with the
// instance's limits, or nil when none is ready; asking for a template the
// driver does not know yet makes it keep some ready from now on.
func (d *Driver) takeTemplate(t *sandbox.Template, id string, memoryMB int) *shim {
	if d.tcap <= 0 {
		return nil
	}
	key := t.Key()
	d.tmu.Lock()
	tp := d.tpools[key]
	known := tp != nil
	if tp == nil && !d.closed.Load() {
		tp = &tpool{t: sandbox.Template{Argv: slices.Clone(t.Argv), Env: slices.Clone(t.Env)}, ready: make(chan *shim, maxTemplates)}
		tp.target.Store(int32(min(d.tcap, maxTemplates)))
		d.tpools[key] = tp
	}
	d.tmu.Unlock()
	if tp == nil {
		return nil
	}
	tp.lastUsed.Store(time.Now().UnixNano())
	tp.takes.Add(1)
	select {
	case sh := <-tp.ready:
		if err := d.claim(sh, id, memoryMB); err != nil {
			d.log.Warn("linux sandbox: cannot use a prepared template", "err", err)
			return nil
		}
		return sh
	default:
		if n := tp.target.Load(); known && n < maxTemplates {
			tp.target.CompareAndSwap(n, n+1)
		}
		d.wake()
		return nil
	}
}

// shrinkTemplates lowers the target of every template nobody took a
// process of since the last call, and stops a process beyond it.
func (d *Driver) shrinkTemplates() {
	base := int32(min(d.tcap, maxTemplates))
	for _, tp := range d.templatePools() {
		if tp.takes.Swap(0) > 0 {
			continue
		}
		if n := tp.target.Load(); n > base {
			tp.target.CompareAndSwap(n, n-1)
		}
		if len(tp.ready) > int(tp.target.Load()) {
			select {
			case sh := <-tp.ready:
				if err := sh.discard(); err != nil {
					d.log.Warn("linux sandbox: cgroup left behind", "err", err)
				}
			default:
			}
		}
	}
}

// Prepared returns how many inits with a ready template process the
// driver holds.
func (d *Driver) Prepared() int {
	n := 0
	for _, tp := range d.templatePools() {
		n += len(tp.ready)
	}
	return n
}

// templatePools returns the template pools, for the refiller.
func (d *Driver) templatePools() []*tpool {
	d.tmu.Lock()
	defer d.tmu.Unlock()
	out := make([]*tpool, 0, len(d.tpools))
	for _, tp := range d.tpools {
		out = append(out, tp)
	}
	return out
}

// expireTemplates stops keeping processes ready for templates nobody asked
// for within templateIdle.
func (d *Driver) expireTemplates() {
	cutoff := time.Now().Add(-templateIdle).UnixNano()
	d.tmu.Lock()
	var idle []*tpool
	for k, tp := range d.tpools {
		if tp.lastUsed.Load() < cutoff {
			idle = append(idle, tp)
			delete(d.tpools, k)
		}
	}
	d.tmu.Unlock()
	for _, tp := range idle {
		if err := drain(tp.ready); err != nil {
			d.log.Warn("linux sandbox: cgroup left behind", "err", err)
		}
	}
}

// spawnTemplate prepares an init whose template process is ready, with
// its output on a new pipe.
func (d *Driver) spawnTemplate(ctx context.Context, tp *tpool) (*shim, error) {
	ctx, cancel := context.WithTimeout(ctx, templatePrepareLimit)
	defer cancel()
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("linux sandbox: output pipe: %w", err)
	}
	p := d.prep
	p.Template = &tp.t
	// Fd puts w in blocking mode, which the function's writes expect.
	sh, err := d.spawn(ctx, prestartedName, 0, &p, []int{int(w.Fd())})
	if err != nil {
		r.Close()
		w.Close()
		tp.failed = time.Now()
		return nil, err
	}
	sh.outR, sh.outW = r, w
	return sh, nil
}
