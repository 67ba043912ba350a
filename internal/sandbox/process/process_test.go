package process

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aloft-dev/aloft/internal/sandbox"
	"github.com/aloft-dev/aloft/internal/sandbox/sandboxtest"
)

func TestConformance(t *testing.T) { sandboxtest.Run(t, &Driver{}) }

// startTemplated starts an instance that may come from tmpl (its own argv
// prints "fresh") and returns it with its whole output, once it ended.
func startTemplated(t *testing.T, d *Driver, tmpl *sandbox.Template) (sandbox.ExitStatus, string, bool) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	in, err := d.Start(context.Background(), sandbox.Spec{
		ID: "t", Argv: []string{"/bin/sh", "-c", "echo fresh"}, Env: []string{"PATH=/usr/bin:/bin", "GREETING=hi"},
		Dir: dir, Output: w, Template: tmpl,
	})
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	fromTemplate := false
	if tr, tw := in.(sandbox.OutputPipe).OutputPipe(); tr != nil {
		r.Close()
		tw.Close()
		r, fromTemplate = tr, true
	}
	defer r.Close()
	out, _ := io.ReadAll(r)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	st, err := in.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if fromTemplate && !strings.Contains(string(out), `"dir":"`+dir+`"`) {
		t.Errorf("the order names another directory than %s: %s", dir, out)
	}
	return st, string(out), fromTemplate
}

// waitReady waits until d keeps a process of tmpl ready.
func waitReady(t *testing.T, d *Driver, tmpl *sandbox.Template) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		d.mu.Lock()
		ts := d.ready[tmpl.Key()]
		n := 0
		if ts != nil {
			n = len(ts.ready)
		}
		d.mu.Unlock()
		if n > 0 {
			return
		}
	}
	t.Fatal("no template process ready within 20s")
}

func TestTemplate(t *testing.T) {
	d := &Driver{}
	defer d.Close()
	tmpl := &sandbox.Template{
		Argv: []string{"/bin/sh", "-c", `echo ready >&3; IFS= read -r order <&3; echo "$order"; exit 7`},
		Env:  []string{"PATH=/usr/bin:/bin"},
	}
	if st, out, tmplUsed := startTemplated(t, d, tmpl); tmplUsed || st.Code != 0 || out != "fresh\n" {
		t.Fatalf("first start: template %v, %s, %q", tmplUsed, st, out)
	}
	waitReady(t, d, tmpl)
	st, out, tmplUsed := startTemplated(t, d, tmpl)
	if !tmplUsed || st.Code != 7 {
		t.Fatalf("second start: template %v, %s, %q", tmplUsed, st, out)
	}
	var order sandbox.TemplateOrder
	if err := json.Unmarshal([]byte(out), &order); err != nil {
		t.Fatalf("order %q: %v", out, err)
	}
	if strings.Join(order.Env, " ") != "PATH=/usr/bin:/bin GREETING=hi" {
		t.Errorf("order env %q", order.Env)
	}

	// A template process that exited while it waited is passed over.
	gone := &sandbox.Template{Argv: []string{"/bin/sh", "-c", `echo ready >&3; exit 0`}}
	startTemplated(t, d, gone)
	waitReady(t, d, gone)
	time.Sleep(50 * time.Millisecond)
	if st, out, tmplUsed := startTemplated(t, d, gone); tmplUsed || st.Code != 0 || out != "fresh\n" {
		t.Errorf("after a gone template: template %v, %s, %q", tmplUsed, st, out)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, tmplUsed := startTemplated(t, d, tmpl); tmplUsed {
		t.Error("a template process was used after Close")
	}
}

// TestOfflineRefused: plain processes share the host's network, so the
// driver refuses to pretend it cut one off.
func TestOfflineRefused(t *testing.T) {
	in, err := (&Driver{}).Start(context.Background(), sandbox.Spec{ID: "offline", Argv: []string{"/bin/true"}, Offline: true})
	if err == nil {
		in.Stop(context.Background(), 0)
		t.Fatal("an offline instance started on the host's network")
	}
}
