package linux

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/aloft-dev/aloft/internal/sandbox"
)

// TestPinnedToItsCPUs checks that EndBoost pins an instance to as many
// CPUs as its memory buys: every thread there is, and a process started
// afterwards, runs on one CPU for 128 MB, two such instances on
// different CPUs; an instance whose memory buys every CPU is not pinned.
func TestPinnedToItsCPUs(t *testing.T) {
	var all unix.CPUSet
	if err := unix.SchedGetaffinity(0, &all); err != nil || all.Count() < 2 {
		t.Skipf("this host gives the tests %d CPU(s) (%v): nothing to pin an instance to", all.Count(), err)
	}
	d := newDriver(t, Options{})
	// A shell waiting for EndBoost (for a file to appear in its code
	// directory), then a process started after it.
	script := `echo ready; while ! test -e /var/task/go; do sleep 0.02; done; grep Cpus_allowed_list /proc/self/status; sh -c 'grep Cpus_allowed_list /proc/$$/status'`
	allowed := func(tid string) string {
		b, err := os.ReadFile("/proc/" + tid + "/status")
		if err != nil {
			return "" // ended
		}
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "Cpus_allowed_list:"); ok {
				return strings.TrimSpace(v)
			}
		}
		return ""
	}
	boost := func(mb int) (*proc, *instance) {
		p := sh(t, d, script, func(s *sandbox.Spec) { s.MemoryMB = mb })
		if l := readLine(t, p); l != "ready" {
			t.Fatalf("got %q", l)
		}
		in := p.Instance.(*instance)
		if err := in.EndBoost(); err != nil {
			t.Fatal(err)
		}
		return p, in
	}
	// threads returns the CPUs every thread of in's cgroup may run on.
	threads := func(in *instance) map[string]bool {
		b, err := os.ReadFile(in.cg.threadsFile())
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]bool{}
		for _, tid := range strings.Fields(string(b)) {
			if a := allowed(tid); a != "" {
				got[a] = true
			}
		}
		return got
	}
	release := func(p *proc) string {
		if err := os.WriteFile(filepath.Join(p.spec.CodeDir, "go"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		st, out := p.finish(t)
		if st.Code != 0 {
			t.Fatalf("script: %s, output:\n%s", st, out)
		}
		return out
	}

	p1, in1 := boost(128)
	p2, in2 := boost(128)
	t1, t2 := threads(in1), threads(in2)
	if len(t1) != 1 || len(t2) != 1 {
		t.Fatalf("the threads of two 128 MB instances may run on %v and %v, want one CPU each", t1, t2)
	}
	for c := range t1 {
		if t2[c] || strings.ContainsAny(c, ",-") {
			t.Errorf("two 128 MB instances on CPUs %v and %v, want one each, not the same", t1, t2)
		}
		out := release(p1)
		if got := strings.Count(out, "Cpus_allowed_list:\t"+c+"\n"); got != 2 {
			t.Errorf("the instance on CPU %s, and a process it started after EndBoost, report:\n%s", c, out)
		}
	}
	release(p2)

	pAll, inAll := boost(mbPerCPU * all.Count())
	if got := threads(inAll); len(got) != 1 || got[allowed("self")] != true {
		t.Errorf("an instance whose memory buys every CPU may run on %v, want the server's own %s", got, allowed("self"))
	}
	release(pAll)
}
