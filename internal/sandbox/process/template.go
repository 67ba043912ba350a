package process

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"syscall"
	"time"

	"github.com/aloft-dev/aloft/internal/sandbox"
)

// Keep is how many processes the driver keeps ready per template.
const Keep = 2

// readyLimit bounds a template's own start.
const readyLimit = 30 * time.Second

// templates are the processes of one template that are ready.
type templates struct {
	t       sandbox.Template
	ready   []*instance // guarded by Driver.mu
	filling bool        // a goroutine is topping ready up; guarded by Driver.mu
}

// fromTemplate hands spec to a ready process of its template, or returns
// nil; either way the template is topped up in the background.
func (d *Driver) fromTemplate(spec sandbox.Spec) *instance {
	key := spec.Template.Key()
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	if d.ready == nil {
		d.ready = make(map[string]*templates)
	}
	ts := d.ready[key]
	if ts == nil {
		ts = &templates{t: sandbox.Template{Argv: slices.Clone(spec.Template.Argv), Env: slices.Clone(spec.Template.Env)}}
		d.ready[key] = ts
	}
	var in *instance
	if n := len(ts.ready); n > 0 {
		in, ts.ready = ts.ready[n-1], ts.ready[:n-1]
	}
	if !ts.filling {
		ts.filling = true
		go d.fill(ts)
	}
	d.mu.Unlock()
	if in == nil {
		return nil
	}
	if err := order(in, spec); err != nil {
		in.Stop(context.Background(), 0)
		if r, w := in.OutputPipe(); r != nil {
			r.Close()
			w.Close()
		}
		return nil
	}
	return in
}

// order sends a ready template process its instance.
func order(in *instance, spec sandbox.Spec) error {
	defer in.sock.Close()
	in.outMu.Lock()
	in.handed = true
	in.outMu.Unlock()
	select {
	case <-in.done:
		return fmt.Errorf("process: the template process has exited: %s", in.status)
	default:
	}
	b, err := json.Marshal(sandbox.TemplateOrder{Env: spec.Env, Dir: spec.Dir})
	if err == nil {
		_, err = in.sock.Write(append(b, '\n'))
	}
	return err
}

// fill starts processes of ts until Keep are ready, then returns.
func (d *Driver) fill(ts *templates) {
	for {
		d.mu.Lock()
		if d.closed || len(ts.ready) >= Keep {
			ts.filling = false
			d.mu.Unlock()
			return
		}
		d.mu.Unlock()
		in, err := prepare(&ts.t)
		d.mu.Lock()
		if err != nil || d.closed {
			ts.filling = false
			d.mu.Unlock()
			if in != nil {
				in.Stop(context.Background(), 0)
			}
			return
		}
		ts.ready = append(ts.ready, in)
		d.mu.Unlock()
	}
}

// prepare starts a process of t and waits until it says it is ready.
func prepare(t *sandbox.Template) (*instance, error) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("process: template socket: %w", err)
	}
	// Non-blocking, so that the wait for the ready line can have a
	// deadline.
	syscall.SetNonblock(fds[0], true)
	sock, child := os.NewFile(uintptr(fds[0]), "template"), os.NewFile(uintptr(fds[1]), "template-child")
	defer child.Close()
	r, w, err := os.Pipe()
	if err != nil {
		sock.Close()
		return nil, fmt.Errorf("process: output pipe: %w", err)
	}
	cmd := exec.Command(t.Argv[0], t.Argv[1:]...)
	cmd.Env, cmd.Dir = t.Env, "/"
	cmd.Stdout, cmd.Stderr = w, w
	// ExtraFiles[0] is descriptor 3, sandbox.TemplateFD.
	cmd.ExtraFiles = []*os.File{child}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		sock.Close()
		r.Close()
		w.Close()
		return nil, fmt.Errorf("process: start template %s: %w", t.Argv[0], err)
	}
	in := &instance{cmd: cmd, done: make(chan struct{}), sock: sock, outR: r, outW: w}
	go in.wait()
	sock.SetReadDeadline(time.Now().Add(readyLimit))
	if _, err := bufio.NewReader(sock).ReadString('\n'); err != nil {
		sock.Close()
		return in, fmt.Errorf("process: template %s did not get ready: %w", t.Argv[0], err)
	}
	sock.SetReadDeadline(time.Time{})
	return in, nil
}

// Close stops the template processes kept ready; Start still works, but
// keeps none from then on.
func (d *Driver) Close() error {
	d.mu.Lock()
	d.closed = true
	var all []*instance
	for _, ts := range d.ready {
		all = append(all, ts.ready...)
		ts.ready = nil
	}
	d.mu.Unlock()
	for _, in := range all {
		in.sock.Close()
		in.Stop(context.Background(), 0)
	}
	return nil
}
