package linux

import (
	"bufio"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aloft-dev/aloft/internal/sandbox"
)

// templateScript is a template process in shell: it says it is ready,
// reads its order and prints it, then shows where it runs.
const templateScript = `echo ready >&3; IFS= read -r order <&3; echo "order $order"; ` +
	`echo "who $(id -u) $(hostname)"; echo "code $(cat /var/task/handler.txt)"; ` +
	`echo "tmp $(touch /tmp/x && echo writable)"; exit 7`

// waitTemplate waits until d has a process of t ready.
func waitTemplate(t *testing.T, d *Driver, tmpl *sandbox.Template) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		d.tmu.Lock()
		tp := d.tpools[tmpl.Key()]
		d.tmu.Unlock()
		if tp != nil && len(tp.ready) > 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("no template process prepared within 20s")
}

// templated starts an instance that may come from tmpl; the spec's own
// argv prints "fresh".
func templated(t *testing.T, d *Driver, tmpl *sandbox.Template) (*proc, *bufio.Reader) {
	t.Helper()
	p := sh(t, d, `echo fresh`, func(s *sandbox.Spec) {
		s.Template = tmpl
		s.Env = append(s.Env, "GREETING=hi")
	})
	r, w := p.Instance.(sandbox.OutputPipe).OutputPipe()
	if r == nil {
		return p, nil
	}
	w.Close()
	t.Cleanup(func() { r.Close() })
	return p, bufio.NewReader(r)
}

func TestTemplate(t *testing.T) {
	d := newDriver(t, Options{Templates: 1})
	tmpl := &sandbox.Template{Argv: []string{"/bin/sh", "-c", templateScript}, Env: []string{"PATH=/usr/bin:/bin"}}

	// The first start of a template finds none ready: the spec's argv runs.
	p, out := templated(t, d, tmpl)
	if out != nil {
		t.Fatal("the first start came from a template")
	}
	if st, got := p.finish(t); st.Code != 0 || got != "fresh\n" {
		t.Fatalf("fresh start: %s, %q", st, got)
	}

	waitTemplate(t, d, tmpl)
	p, out = templated(t, d, tmpl)
	if out == nil {
		t.Fatal("no template process was used")
	}
	var lines []string
	for {
		line, err := out.ReadString('\n')
		if line != "" {
			lines = append(lines, strings.TrimSpace(line))
		}
		if err != nil {
			break
		}
	}
	st, _ := p.finish(t)
	if st.Code != 7 {
		t.Errorf("status %s, want the template's exit status 7", st)
	}
	if len(lines) != 4 {
		t.Fatalf("output %q", lines)
	}
	var order sandbox.TemplateOrder
	if err := json.Unmarshal([]byte(strings.TrimPrefix(lines[0], "order ")), &order); err != nil {
		t.Fatalf("order line %q: %v", lines[0], err)
	}
	if order.Dir != p.spec.Dir {
		t.Errorf("order dir %q, want %q", order.Dir, p.spec.Dir)
	}
	env := strings.Join(order.Env, " ")
	if !strings.Contains(env, "GREETING=hi") || !strings.Contains(env, "TMPDIR=/tmp") {
		t.Errorf("order env %q lacks the instance's variables", order.Env)
	}
	// Sandboxed like any instance, with the code mounted after the
	// template started and /tmp writable.
	who := strings.Fields(lines[1])
	if uid, _ := strconv.Atoi(who[1]); len(who) != 3 || uid < DefaultFirstUID || who[2] != "localhost" {
		t.Errorf("line 1: %q, want an identity from the range and localhost", lines[1])
	}
	for i, want := range []string{"code code", "tmp writable"} {
		if lines[i+2] != want {
			t.Errorf("line %d: %q, want %q", i+2, lines[i+2], want)
		}
	}
}

func TestTemplateGone(t *testing.T) {
	// A template that exits after saying it is ready, and one that never
	// gets ready: starts fall back to the spec's argv.
	d := newDriver(t, Options{Templates: 1})
	gone := &sandbox.Template{Argv: []string{"/bin/sh", "-c", `echo ready >&3; exit 0`}}
	templated(t, d, gone)
	waitTemplate(t, d, gone)
	time.Sleep(50 * time.Millisecond) // let it exit
	p, out := templated(t, d, gone)
	if out != nil {
		t.Fatal("an exited template process was used")
	}
	if st, got := p.finish(t); st.Code != 0 || got != "fresh\n" {
		t.Errorf("after a gone template: %s, %q", st, got)
	}

	broken := &sandbox.Template{Argv: []string{"/bin/sh", "-c", `exit 3`}}
	templated(t, d, broken)
	time.Sleep(500 * time.Millisecond)
	p, out = templated(t, d, broken)
	if out != nil {
		t.Fatal("a template that never got ready was used")
	}
	if st, got := p.finish(t); st.Code != 0 || got != "fresh\n" {
		t.Errorf("after a broken template: %s, %q", st, got)
	}
}
