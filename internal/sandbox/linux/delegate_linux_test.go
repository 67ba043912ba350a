package linux

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/aloft-dev/aloft/internal/sandbox"
)

// delegatedEnv makes TestRootlessDelegated, in the test binary run again
// as an unprivileged user, play the server without root. Its value is
// what the driver must find: "cgroups:DIR", instance cgroups under the
// delegated cgroup DIR, or "none:REASON", no cgroups and a log that says
// REASON.
const delegatedEnv = "ALOFT_TEST_DELEGATED"

// nobody is the unprivileged user and group the rootless side runs as.
const nobody = 65534

// TestRootlessDelegated runs the test binary again as nobody, which
// re-runs itself in a user namespace (RunInUserNamespace) and creates a
// driver there: in a cgroup v2 delegated to nobody the rootless driver
// must apply the limits, freeze and report as the root one does; in one
// that is not delegated, or that holds another process, and on a cgroup
// v1 host, it must run without cgroups and say why.
func TestRootlessDelegated(t *testing.T) {
	if want, ok := os.LookupEnv(delegatedEnv); ok {
		if !InUserNamespace() {
			unprivilegedSide(t)
			return
		}
		rootlessSide(t, want)
		return
	}
	needRoot(t)
	mounts, err := cgroupMounts()
	if err != nil {
		t.Fatal(err)
	}
	if _, v1 := mounts.v1["memory"]; v1 || mounts.v2 == "" {
		reason := "no cgroup2 hierarchy"
		if v1 {
			reason = "cgroup v1"
		}
		t.Run("no delegation", func(t *testing.T) { runRootless(t, "", "none:"+reason) })
		t.Skip("delegating a cgroup needs a cgroup v2 host, and this one uses v1: scripts/test-cgroup2.sh runs this test in one")
	}
	if err := writeCgroup(mounts.v2, "cgroup.subtree_control", "+memory +cpu +pids"); err != nil {
		t.Fatal(err)
	}
	t.Run("delegated", func(t *testing.T) {
		dir := testCgroup(t, mounts.v2, true)
		runRootless(t, dir, "cgroups:"+dir)
		// The delegated cgroup is as it was.
		if names := subCgroups(t, dir); len(names) > 0 {
			t.Errorf("cgroups left in the delegated cgroup: %q", names)
		}
		if b, err := os.ReadFile(filepath.Join(dir, "cgroup.subtree_control")); err != nil || len(bytes.TrimSpace(b)) > 0 {
			t.Errorf("controllers left enabled in the delegated cgroup: %q (%v)", b, err)
		}
	})
	t.Run("not delegated", func(t *testing.T) {
		dir := testCgroup(t, mounts.v2, false)
		runRootless(t, dir, "none:is not delegated to its user")
	})
	t.Run("shared", func(t *testing.T) {
		dir := testCgroup(t, mounts.v2, true)
		other := exec.Command("/bin/sleep", "1000")
		other.SysProcAttr = asNobody(t, dir)
		if err := other.Start(); err != nil {
			t.Fatal(err)
		}
		defer other.Wait()
		defer other.Process.Kill()
		runRootless(t, dir, "none:holds other processes")
		if names := subCgroups(t, dir); len(names) > 0 {
			t.Errorf("cgroups made in a shared cgroup: %q", names)
		}
	})
}

// testCgroup makes a cgroup for the test under the hierarchy's root,
// removed with everything below it when the test ends. With delegate it
// gives it to nobody as systemd's Delegate=yes does: the directory and
// the files that create cgroups in it, move processes and enable
// controllers.
func testCgroup(t *testing.T, root string, delegate bool) string {
	t.Helper()
	dir := filepath.Join(root, fmt.Sprintf("aloft-test-delegated-%d-%d", os.Getpid(), cgroupSeq.Add(1)))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { removeCgroupTree(t, dir) })
	if !delegate {
		return dir
	}
	for _, p := range []string{dir, filepath.Join(dir, "cgroup.procs"), filepath.Join(dir, "cgroup.subtree_control"), filepath.Join(dir, "cgroup.threads")} {
		if err := os.Chown(p, nobody, nobody); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// removeCgroupTree kills what is left in the cgroup dir and below, and
// removes them, deepest first.
func removeCgroupTree(t *testing.T, dir string) {
	t.Helper()
	var dirs []string
	filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
		if err == nil && e.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		_ = writeCgroup(dirs[i], "cgroup.kill", "1")
		deadline := time.Now().Add(5 * time.Second)
		for {
			err := unix.Rmdir(dirs[i])
			if err == nil || err == unix.ENOENT {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("remove cgroup %s: %v", dirs[i], err)
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// subCgroups lists the cgroups directly under dir.
func subCgroups(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	return names
}

// asNobody returns the attributes of a process that runs as nobody, in
// the cgroup dir when it is not empty.
func asNobody(t *testing.T, dir string) *syscall.SysProcAttr {
	t.Helper()
	attr := &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody, Groups: []uint32{}}}
	if dir != "" {
		f, err := os.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		attr.UseCgroupFD, attr.CgroupFD = true, int(f.Fd())
	}
	return attr
}

// runRootless runs this test again as nobody, in the cgroup dir unless it
// is empty, telling it what to find (see delegatedEnv), and reports its
// output.
func runRootless(t *testing.T, dir, want string) {
	t.Helper()
	home, err := os.MkdirTemp("", "aloft-test-nobody-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(home) })
	if err := os.Chown(home, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(probeDir, "probe"), "-test.run=^TestRootlessDelegated$", "-test.v", "-test.count=1", "-test.timeout=14m")
	cmd.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + home, "TMPDIR=" + home, delegatedEnv + "=" + want}
	cmd.Dir = home
	cmd.SysProcAttr = asNobody(t, dir)
	out, err := cmd.CombinedOutput()
	t.Logf("as uid %d:\n%s", nobody, out)
	if strings.Contains(string(out), "--- SKIP: TestRootlessDelegated") {
		t.Skip("skipped as nobody")
	}
	if err != nil {
		t.Fatalf("as uid %d: %v", nobody, err)
	}
}

// unprivilegedSide is the test binary run as nobody: it runs itself
// again in a user namespace, as the server does without root.
func unprivilegedSide(t *testing.T) {
	if err := UserNamespacesWork(); err != nil {
		t.Skipf("this host forbids user namespaces to uid %d: %v", os.Getuid(), err)
	}
	code, err := RunInUserNamespace(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if code != 0 {
		t.Fatalf("the test in the user namespace exited with %d", code)
	}
}

// logBuffer collects a driver's log.
type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// rootlessSide is the test as root of a user namespace that maps only
// nobody: it checks that the driver finds what want says (see
// delegatedEnv).
func rootlessSide(t *testing.T, want string) {
	var logs logBuffer
	log := slog.New(slog.NewTextHandler(io.MultiWriter(&logs, os.Stderr), &slog.HandlerOptions{Level: slog.LevelInfo}))
	d := newDriver(t, Options{RootDir: filepath.Join(t.TempDir(), "root"), Logger: log})
	if reason, ok := strings.CutPrefix(want, "none:"); ok {
		if d.HasCgroups() {
			t.Fatal("the driver has cgroups")
		}
		if !strings.Contains(logs.String(), reason) {
			t.Errorf("the log does not say %q", reason)
		}
		p := sh(t, d, `echo ok`, nil)
		if _, ok := p.Instance.(sandbox.Freezer); ok {
			t.Error("an instance without a cgroup offers to freeze")
		}
		if st, out := p.finish(t); st.Code != 0 || out != "ok\n" {
			t.Errorf("got %s %q", st, out)
		}
		return
	}
	dir := strings.TrimPrefix(want, "cgroups:")
	if !d.HasCgroups() {
		t.Fatalf("the driver has no cgroups; its log:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "v2 (delegated)") {
		t.Errorf("the log does not say the cgroups are delegated:\n%s", logs.String())
	}
	// The server and the process that started it have moved into the
	// delegated cgroup's leaf, leaving the delegated cgroup empty.
	leaf := strings.TrimPrefix(filepath.Join(dir, serverLeaf), v2Root(t))
	for _, pid := range []int{os.Getpid(), os.Getppid()} {
		if got := cgroupOf(t, pid); got != leaf {
			t.Errorf("process %d is in cgroup %s, want %s", pid, got, leaf)
		}
	}
	if b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs")); err != nil || len(b) > 0 {
		t.Errorf("the delegated cgroup holds processes %q (%v)", b, err)
	}
	if d.guard < 0 {
		t.Error("no guard runs")
	}

	// Over its memory limit, an instance is killed and reported so.
	st, out := probe(t, d, "alloc:128", func(s *sandbox.Spec) { s.MemoryMB = 64 }).finish(t)
	if !st.OOMKilled || st.Signal != syscall.SIGKILL {
		t.Errorf("allocating 2x the limit: got %+v, want OOM-killed by SIGKILL\n%s", st, out)
	}
	p := probe(t, d, "alloc:16", func(s *sandbox.Spec) { s.MemoryMB = 64 })
	if st, out := p.finish(t); st.OOMKilled || st.Code != 0 {
		t.Errorf("allocating 16 of 64 MiB: got %+v\n%s", st, out)
	}
	m := p.MaxMemory()
	if m < 16<<20 || m > 64<<20 {
		t.Errorf("MaxMemory after allocating 16 MiB: %d", m)
	}
	t.Logf("over 64 MB: %s, OOM-killed %v; 16 MiB allocated: peak %d bytes", st, st.OOMKilled, m)

	// A busy instance: its cgroup lies under the delegated one and has
	// the limits; it freezes and thaws.
	p = sh(t, d, `echo ready; while :; do :; done`, func(s *sandbox.Spec) { s.MemoryMB = 1769 })
	if l := readLine(t, p); l != "ready" {
		t.Fatalf("got %q", l)
	}
	in, ok := p.Instance.(*instance)
	if !ok {
		t.Fatalf("the instance is a %T", p.Instance)
	}
	cg := in.cg.ctrl["memory"]
	if !within(cg, dir) || cg == dir {
		t.Errorf("instance cgroup %s is not under the delegated %s", cg, dir)
	}
	if got, want := cgroupOf(t, in.PID()), strings.TrimPrefix(cg, v2Root(t)); got != want {
		t.Errorf("init is in cgroup %s, want %s", got, want)
	}
	for file, want := range map[string]string{"memory.max": strconv.Itoa(1769 << 20), "pids.max": strconv.Itoa(maxTasks), "cpu.max": "max 100000"} {
		if b, err := os.ReadFile(filepath.Join(cg, file)); err != nil || strings.TrimSpace(string(b)) != want {
			t.Errorf("%s: %q (%v), want %q", file, b, err, want)
		}
	}
	if err := in.EndBoost(); err != nil {
		t.Error(err)
	} else if b, err := os.ReadFile(filepath.Join(cg, "cpu.max")); err != nil || strings.TrimSpace(string(b)) != "100000 100000" {
		t.Errorf("cpu.max after EndBoost: %q (%v)", b, err)
	}
	f, ok := p.Instance.(sandbox.Freezer)
	if !ok {
		t.Fatal("the instance is not a Freezer")
	}
	usage := func() time.Duration {
		u, err := in.cg.cpuTime()
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	checkFreezeThaw(t, p, f, usage, 500*time.Millisecond, 20*time.Second)
	if _, err := os.Stat(cg); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("instance cgroup %s left behind: %v", cg, err)
	}
	t.Logf("instance cgroup %s: limits set, frozen, thawed and removed", cg)

	// When the server dies, the guard kills its frozen instances: here
	// the guard's pipe closes as it would then.
	p = sh(t, d, `echo ready; while :; do :; done`, nil)
	if l := readLine(t, p); l != "ready" {
		t.Fatalf("got %q", l)
	}
	cg = p.Instance.(*instance).cg.ctrl["memory"]
	if err := p.Instance.(sandbox.Freezer).Freeze(); err != nil {
		t.Fatal(err)
	}
	unix.Close(d.guard)
	d.guard = -1
	select {
	case <-d.guardDone:
	case <-time.After(20 * time.Second):
		t.Fatal("the guard did not exit")
	}
	if st, _ := p.finish(t); st.Signal != syscall.SIGKILL {
		t.Errorf("a frozen instance after the guard's sweep: got %s, want killed", st)
	}
	if _, err := os.Stat(cg); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the guard left instance cgroup %s: %v", cg, err)
	}
}

// v2Root returns the cgroup2 mount point.
func v2Root(t *testing.T) string {
	t.Helper()
	m, err := cgroupMounts()
	if err != nil {
		t.Fatal(err)
	}
	return m.v2
}

// cgroupOf returns the v2 cgroup of the process pid.
func cgroupOf(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if p, ok := strings.CutPrefix(line, "0::"); ok {
			return p
		}
	}
	t.Fatalf("process %d is in no v2 cgroup: %s", pid, b)
	return ""
}
