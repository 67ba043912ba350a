package linux

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aloft-dev/aloft/internal/sandbox"
	"github.com/aloft-dev/aloft/internal/sandbox/sandboxtest"
)

// probeEnv makes the test binary, started inside a sandbox, run one of the
// probes in probe_linux_test.go instead of the tests.
const probeEnv = "ALOFT_SANDBOX_PROBE"

// probeDir holds a copy of the test binary that the sandbox user may
// execute; set by TestMain.
var probeDir string

func TestMain(m *testing.M) {
	Init()
	if p := os.Getenv(probeEnv); p != "" {
		os.Exit(runProbe(p))
	}
	code := func() int {
		if os.Geteuid() == 0 {
			dir, err := makeProbeDir()
			if err != nil {
				println("probe binary:", err.Error())
				return 1
			}
			defer os.RemoveAll(dir)
			probeDir = dir
		}
		return m.Run()
	}()
	os.Exit(code)
}

// makeProbeDir links (or copies) the test binary into a new directory
// that everyone may enter: the build directory is private to root.
func makeProbeDir() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "aloft-sandbox-probe-")
	if err != nil {
		return "", err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return "", err
	}
	dst := filepath.Join(dir, "probe")
	if err := os.Link(exe, dst); err != nil {
		b, err := os.ReadFile(exe)
		if err != nil {
			return "", err
		}
		if err := os.WriteFile(dst, b, 0o755); err != nil {
			return "", err
		}
	}
	return dir, os.Chmod(dst, 0o755)
}

func needRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("linux sandbox tests need root: namespaces, cgroups and mounts are privileged")
	}
}

// newDriver returns a driver whose instances can also run the probe
// binary, closed when the test ends.
func newDriver(t testing.TB, o Options) *Driver {
	t.Helper()
	needRoot(t)
	if o.ReadOnly == nil {
		o.ReadOnly = append(DefaultReadOnly(), probeDir)
	}
	if o.Prestart == 0 {
		o.Prestart = 2
	}
	if o.CgroupParent == "" {
		// Servers that tests elsewhere run at the same time have their own.
		o.CgroupParent = fmt.Sprintf("aloft-test-%d", os.Getpid())
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	d, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return d
}

// codeDir makes a code directory the function may read, as the invoker's
// are.
func codeDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "handler.txt"), []byte("code\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// proc is a started instance whose output is being collected.
type proc struct {
	sandbox.Instance
	spec  sandbox.Spec
	lines chan string // the output's lines as they arrive (some dropped if nobody reads)
	out   chan string // the whole output, once every writer has closed it
	r     *os.File
}

// start starts argv in a sandbox of d; edit may change the spec first.
func start(t testing.TB, d *Driver, argv []string, edit func(*sandbox.Spec)) *proc {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	code := codeDir(t)
	tmp := t.TempDir()
	s := sandbox.Spec{
		ID: "test", Argv: argv,
		Env: []string{"PATH=/usr/local/bin:/usr/bin:/bin", "TMPDIR=" + tmp, "HOME=" + tmp, "LANG=C.UTF-8"},
		Dir: code, CodeDir: code, TmpDir: tmp, MemoryMB: 128, Output: w,
	}
	if edit != nil {
		edit(&s)
	}
	in, err := d.Start(context.Background(), s)
	w.Close()
	if err != nil {
		r.Close()
		t.Fatalf("start %q: %v", argv, err)
	}
	p := &proc{Instance: in, spec: s, lines: make(chan string, 64), out: make(chan string, 1), r: r}
	go func() {
		br := bufio.NewReader(r)
		var all strings.Builder
		for {
			line, err := br.ReadString('\n')
			all.WriteString(line)
			if line != "" {
				select {
				case p.lines <- strings.TrimSpace(line):
				default:
				}
			}
			if err != nil {
				break
			}
		}
		p.out <- all.String()
	}()
	t.Cleanup(func() {
		in.Stop(context.Background(), 0)
		r.Close()
	})
	return p
}

// sh starts a shell script in a sandbox of d.
func sh(t testing.TB, d *Driver, script string, edit func(*sandbox.Spec)) *proc {
	t.Helper()
	return start(t, d, []string{"/bin/sh", "-c", script}, edit)
}

// probe starts the test binary running probe name in a sandbox of d.
func probe(t testing.TB, d *Driver, name string, edit func(*sandbox.Spec)) *proc {
	t.Helper()
	return start(t, d, []string{filepath.Join(probeDir, "probe")}, func(s *sandbox.Spec) {
		s.Env = append(s.Env, probeEnv+"="+name)
		if edit != nil {
			edit(s)
		}
	})
}

// finish waits for the instance and returns its status and output.
func (p *proc) finish(t testing.TB) (sandbox.ExitStatus, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := p.Wait(ctx)
	if err != nil {
		t.Fatalf("wait: %v", err)
	}
	select {
	case out := <-p.out:
		return st, out
	case <-ctx.Done():
		t.Fatal("output still open after the instance ended")
	}
	return st, ""
}

// run runs a script to its end and returns its output; it fails the test
// unless the script exits 0.
func run(t testing.TB, d *Driver, script string, edit func(*sandbox.Spec)) string {
	t.Helper()
	st, out := sh(t, d, script, edit).finish(t)
	if st.Code != 0 || st.Signal != 0 {
		t.Fatalf("script %q: %s, output:\n%s", script, st, out)
	}
	return out
}

// readLine returns the next line of the instance's output.
func readLine(t testing.TB, p *proc) string {
	t.Helper()
	select {
	case l := <-p.lines:
		return l
	case <-time.After(20 * time.Second):
		t.Fatal("no output from the instance")
	}
	return ""
}

func TestConformance(t *testing.T) {
	sandboxtest.Run(t, newDriver(t, Options{}))
}

func TestStartPaths(t *testing.T) {
	// Without prepared instances, and with one that died while it waited.
	d := newDriver(t, Options{Prestart: -1})
	if out := run(t, d, `echo hi from $(pwd)`, nil); !strings.HasPrefix(out, "hi from /") {
		t.Errorf("output %q", out)
	}
	d = newDriver(t, Options{Prestart: 1})
	deadline := time.Now().Add(10 * time.Second)
	for len(d.pool) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	sh := <-d.pool
	sh.cmd.Process.Kill()
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile("/proc/" + strconv.Itoa(sh.cmd.Process.Pid) + "/stat"); err != nil || strings.Contains(string(b), ") Z ") {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	d.pool <- sh
	if out := run(t, d, `echo hi`, nil); out != "hi\n" {
		t.Errorf("output %q", out)
	}
}

func TestPIDNamespace(t *testing.T) {
	d := newDriver(t, Options{})
	out := run(t, d, `echo $$; cat /proc/1/cmdline; echo; for p in /proc/[0-9]*; do echo "${p#/proc/}"; done`, nil)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 3 {
		t.Fatalf("output:\n%s", out)
	}
	// Init's threads take the first few pids; the function comes next.
	if n, err := strconv.Atoi(lines[0]); err != nil || n < 2 || n > 20 {
		t.Errorf("the function is pid %s, want a small pid after init's", lines[0])
	}
	if !strings.HasPrefix(lines[1], initArg) {
		t.Errorf("pid 1 runs %q, want the sandbox init", lines[1])
	}
	// The shell, and the ls of its $(...) are all there is.
	if len(lines[2:]) > 3 {
		t.Errorf("/proc lists %q: more than init and the function", lines[2:])
	}
	for _, l := range lines[2:] {
		if n, err := strconv.Atoi(l); err != nil || n > 20 {
			t.Errorf("/proc shows pid %q: host processes are visible", l)
		}
	}
}

func TestHostnameAndIdentity(t *testing.T) {
	d := newDriver(t, Options{})
	host, _ := os.Hostname()
	// Two instances alive at once: each runs as a user and group of its
	// own, from the range, named in its /etc/passwd and /etc/group.
	script := `cat /proc/sys/kernel/hostname; id -u; id -g; id -G; id -un; id -gn; echo ready; sleep 100`
	a, b := sh(t, d, script, nil), sh(t, d, script, nil)
	ids := map[string]bool{}
	for _, in := range []*proc{a, b} {
		var got []string
		for l := readLine(t, in); l != "ready"; l = readLine(t, in) {
			got = append(got, l)
		}
		if len(got) != 6 || got[0] != "localhost" {
			t.Fatalf("hostname and ids: got %q", got)
		}
		uid, err := strconv.Atoi(got[1])
		if err != nil || uid < DefaultFirstUID || uid >= DefaultFirstUID+DefaultUIDCount ||
			got[2] != got[1] || got[3] != got[1] || got[4] != "sbx_user"+got[1] || got[5] != got[4] {
			t.Errorf("ids: got %q, want one identity from %d on, user and group alike", got, DefaultFirstUID)
		}
		ids[got[1]] = true
		in.Stop(context.Background(), 0)
	}
	if len(ids) != 2 {
		t.Errorf("two live instances share identity %v", ids)
	}
	if host == "localhost" {
		t.Log("the host is also called localhost")
	}

	d2 := newDriver(t, Options{UID: 4242, GID: 4343})
	if out := run(t, d2, `id -u; id -g; id -G`, nil); strings.Join(strings.Fields(out), " ") != "4242 4343 4343" {
		t.Errorf("custom ids: got %q", out)
	}
	d3 := newDriver(t, Options{UID: 65534, GID: 65534})
	if out := run(t, d3, `id -un; grep -c '^nobody:' /etc/passwd`, nil); strings.Join(strings.Fields(out), " ") != "nobody 1" {
		t.Errorf("nobody: got %q", out)
	}
}

// TestIdentitiesReused checks that an identity goes back to the range
// once its instance is gone, and is handed out again only when the rest
// of the range is used up.
func TestIdentitiesReused(t *testing.T) {
	d := newDriver(t, Options{FirstUID: 70000, UIDCount: 3, Prestart: -1, Templates: -1})
	var seen []string
	for range 5 {
		seen = append(seen, strings.TrimSpace(run(t, d, `id -u`, nil)))
	}
	if strings.Join(seen, " ") != "70000 70001 70002 70000 70001" {
		t.Errorf("identities of five instances in turn: %q", seen)
	}
}

func TestPrivilegesDropped(t *testing.T) {
	d := newDriver(t, Options{})
	st, out := probe(t, d, "status", nil).finish(t)
	if st.Code != 0 {
		t.Fatalf("probe: %s\n%s", st, out)
	}
	want := map[string]string{
		"Groups": "",
		"CapInh": "0000000000000000", "CapPrm": "0000000000000000", "CapEff": "0000000000000000",
		"CapBnd": "0000000000000000", "CapAmb": "0000000000000000",
		"NoNewPrivs": "1", "Seccomp": "2",
	}
	got := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if ok {
			got[k] = strings.TrimSpace(v)
		}
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: got %q, want %q", k, got[k], v)
		}
	}
	for _, k := range []string{"Uid", "Gid"} {
		f := strings.Fields(got[k])
		if id, _ := strconv.Atoi(f[0]); len(f) != 4 || id < DefaultFirstUID || f[1] != f[0] || f[2] != f[0] || f[3] != f[0] {
			t.Errorf("%s: got %q, want one identity from the range", k, got[k])
		}
	}
	if fds := got["fds"]; fds != "0 1 2" {
		t.Errorf("open descriptors: got %q, want only 0 1 2", fds)
	}
}

// TestBatchPolicy checks that a function and what it starts run in the
// SCHED_BATCH class (3, the 41st field of /proc/<pid>/stat), from a fresh
// instance and from a prestarted one alike.
func TestBatchPolicy(t *testing.T) {
	// The driver carries on in the default class where the host refuses
	// this one; so does the test, with the reason.
	refused := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
		refused <- batchPolicy()
	}()
	if err := <-refused; err != nil {
		t.Skipf("this host refuses SCHED_BATCH (%v): functions run in the default class here", err)
	}
	for name, o := range map[string]Options{"fresh": {Prestart: -1, Templates: -1}, "prestarted": {}} {
		t.Run(name, func(t *testing.T) {
			d := newDriver(t, o)
			// The function is the shell; the second line is a child's.
			out := run(t, d, `cut -d' ' -f41 /proc/$$/stat; sh -c 'cut -d" " -f41 /proc/$$/stat'`, nil)
			if got := strings.Fields(out); len(got) != 2 || got[0] != "3" || got[1] != "3" {
				t.Errorf("scheduling policy of the function and of its child: got %q, want 3 (SCHED_BATCH) for both", out)
			}
		})
	}
}

func TestEnvironment(t *testing.T) {
	d := newDriver(t, Options{})
	out := run(t, d, `env | sort`, func(s *sandbox.Spec) {
		s.Env = append(s.Env, "GREETING=hi", "CACHE="+s.TmpDir+"/cache")
	})
	got := strings.Fields(out)
	want := []string{"CACHE=/tmp/cache", "GREETING=hi", "HOME=/tmp", "LANG=C.UTF-8", "PATH=/usr/local/bin:/usr/bin:/bin", "PWD=", "TMPDIR=/tmp"}
	var filtered []string
	for _, kv := range got {
		if strings.HasPrefix(kv, "PWD=") {
			kv = "PWD="
		}
		filtered = append(filtered, kv)
	}
	if strings.Join(filtered, " ") != strings.Join(want, " ") {
		t.Errorf("environment:\n got %q\nwant %q", filtered, want)
	}
}

func TestFilesystemView(t *testing.T) {
	d := newDriver(t, Options{})
	other := codeDir(t) // another function's code
	secret := filepath.Join(filepath.Dir(other), "credentials")
	if err := os.WriteFile(secret, []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	checks := []struct{ name, script string }{
		{"code at /var/task", `test "$(cat /var/task/handler.txt)" = code`},
		{"code at its host path", `test "$(cat "$LAMBDA_TASK_ROOT/handler.txt")" = code && test "$(pwd)" = "$LAMBDA_TASK_ROOT"`},
		{"/var/task read-only", `! touch /var/task/x 2>/dev/null && ! touch "$LAMBDA_TASK_ROOT/x" 2>/dev/null`},
		{"no /etc/shadow", `! test -e /etc/shadow`},
		{"no other code", `! test -e "` + other + `" && ! test -e "` + secret + `"`},
		{"no /home, /sys, /boot, /var/lib", `! test -e /home && ! test -e /sys && ! test -e /boot && ! test -e /var/lib`},
		{"/root is empty", `test -z "$(ls -A /root 2>/dev/null)"`},
		{"root read-only", `! touch /x 2>/dev/null && ! mkdir /etc/x 2>/dev/null && ! touch /usr/x 2>/dev/null && ! touch /dev/x 2>/dev/null`},
		{"/tmp writable", `echo hi > /tmp/f && test "$(cat /tmp/f)" = hi && mkdir /tmp/d`},
		{"/dev/shm writable", `echo hi > /dev/shm/f`},
		{"devices", `echo x > /dev/null && head -c 4 /dev/zero | wc -c | grep -q 4 && head -c 4 /dev/urandom | wc -c | grep -q 4 && test -L /dev/fd`},
		{"/etc files", `grep -q localhost /etc/hosts && test -s /etc/resolv.conf && grep -q "^sbx_user$(id -u):" /etc/passwd && test -d /etc/ssl/certs`},
		{"proc is fresh", `test "$(cat /proc/1/comm)" != systemd && ! grep -q ' /sys ' /proc/self/mountinfo`},
		{"mounts hidden", `! grep -q "` + rootDir + `" /proc/self/mountinfo && ! grep -q oldroot /proc/self/mountinfo`},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			st, out := sh(t, d, "set -e; "+c.script, func(s *sandbox.Spec) {
				s.Env = append(s.Env, "LAMBDA_TASK_ROOT="+s.CodeDir)
			}).finish(t)
			if st.Code != 0 {
				t.Errorf("%s: %s\n%s", c.script, st, out)
			}
		})
	}
}

func TestTmpIsPrivateAndSized(t *testing.T) {
	d := newDriver(t, Options{})
	st, out := sh(t, d, `dd if=/dev/zero of=/tmp/big bs=1M count=16 2>&1; echo rc=$?`, func(s *sandbox.Spec) { s.TmpMB = 8 }).finish(t)
	if st.Code != 0 || !strings.Contains(out, "No space left on device") || !strings.Contains(out, "rc=1") {
		t.Errorf("writing 16 MiB to an 8 MiB /tmp: %s\n%s", st, out)
	}

	a := sh(t, d, `echo a > /tmp/mine; echo ready; sleep 100`, nil)
	if l := readLine(t, a); l != "ready" {
		t.Fatalf("got %q", l)
	}
	if out := run(t, d, `test -e /tmp/mine && echo visible || :`, nil); strings.TrimSpace(out) != "" {
		t.Error("second instance sees the first one's /tmp")
	}
	a.Stop(context.Background(), 0)
}

func TestSeccomp(t *testing.T) {
	d := newDriver(t, Options{})
	want := map[string]string{
		"mount": "EPERM", "umount2": "EPERM", "pivot_root": "EPERM", "chroot": "EPERM",
		"unshare_user": "EPERM", "unshare_ns": "EPERM", "setns": "EPERM", "setns_net": "EPERM",
		"clone_newuser": "EPERM", "clone3": "ENOSYS",
		"ptrace_traceme": "EPERM", "process_vm_readv": "EPERM",
		"keyctl": "EPERM", "add_key": "EPERM", "bpf": "EPERM", "perf_event_open": "EPERM",
		"userfaultfd": "EPERM", "io_uring_setup": "EPERM", "open_tree": "EPERM",
		"mknod_char": "EPERM", "mkfifo": "ok", "fork": "ok",
		"settimeofday": "EPERM", "syslog": "EPERM", "acct": "EPERM", "reboot": "EPERM",
		"get_mempolicy": "EPERM", "personality_norandom": "EPERM", "personality_query": "ok", "unknown_1000": "ENOSYS",
	}
	st, out := probe(t, d, "syscalls", nil).finish(t)
	if st.Code != 0 {
		t.Fatalf("probe: %s\n%s", st, out)
	}
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			got[k] = v
		}
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: got %q, want %q", k, got[k], v)
		}
	}
}

func TestExitStatus(t *testing.T) {
	d := newDriver(t, Options{})
	st, _ := sh(t, d, `exit 7`, nil).finish(t)
	if st.Code != 7 || st.Signal != 0 || st.OOMKilled {
		t.Errorf("exit 7: got %+v", st)
	}
	st, _ = sh(t, d, `kill -KILL $$`, nil).finish(t)
	if st.Code != -1 || st.Signal != syscall.SIGKILL || st.OOMKilled {
		t.Errorf("kill -KILL: got %+v", st)
	}
	// The function's exit ends the instance even if it left children.
	st, _ = sh(t, d, `sleep 1000 & exit 0`, nil).finish(t)
	if st.Code != 0 {
		t.Errorf("exit with a child left: got %+v", st)
	}
}

func TestStartErrors(t *testing.T) {
	d := newDriver(t, Options{})
	ctx := context.Background()
	code := codeDir(t)
	for _, argv := range [][]string{nil, {"sh"}, {"/nonexistent/bootstrap"}, {"/etc/hosts"}} {
		_, err := d.Start(ctx, sandbox.Spec{ID: "e", Argv: argv, Dir: code, CodeDir: code, MemoryMB: 128})
		if err == nil {
			t.Errorf("start %q succeeded", argv)
			continue
		}
		t.Logf("start %q: %v", argv, err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := d.Start(cctx, sandbox.Spec{ID: "e", Argv: []string{"/bin/true"}, Dir: code, CodeDir: code}); err == nil {
		t.Error("start with a cancelled context succeeded")
	}
	assertNoInstances(t, d)
}

func TestStopKillsNamespace(t *testing.T) {
	d := newDriver(t, Options{})
	p := sh(t, d, `trap '' TERM; sleep 1000 & sleep 1000 & echo ready; wait`, nil)
	if l := readLine(t, p); l != "ready" {
		t.Fatalf("got %q", l)
	}
	pids := cgroupPids(t, p)
	if len(pids) < 4 {
		t.Fatalf("cgroup holds %v, want init, sh and two sleeps", pids)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Stop(ctx, 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	for _, pid := range pids {
		if b, err := os.ReadFile("/proc/" + pid + "/stat"); err == nil && !strings.Contains(string(b), ") Z ") {
			t.Errorf("process %s survived Stop: %s", pid, b)
		}
	}
	assertNoInstances(t, d)
}

// cgroupPids returns the host pids in the instance's cgroup.
func cgroupPids(t testing.TB, p *proc) []string {
	t.Helper()
	in := p.Instance.(*instance)
	b, err := os.ReadFile(filepath.Join(in.cg.ctrl["pids"], "cgroup.procs"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(string(b))
}

func TestForkBombContained(t *testing.T) {
	d := newDriver(t, Options{})
	// Two CPUs' worth of memory, so that the bomb reaches the limit quickly.
	p := sh(t, d, `echo ready; b() { b | b & }; b; while :; do :; done`, func(s *sandbox.Spec) { s.MemoryMB = 2 * mbPerCPU })
	if l := readLine(t, p); l != "ready" {
		t.Fatalf("got %q", l)
	}
	in := p.Instance.(*instance)
	dir := in.cg.ctrl["pids"]
	deadline := time.Now().Add(10 * time.Second)
	var n, refused int64
	for time.Now().Before(deadline) {
		n, _ = readInt(filepath.Join(dir, "pids.current"))
		refused, _ = readKey(filepath.Join(dir, "pids.events"), "max")
		if refused > 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("tasks in the fork bomb's cgroup: %d, forks refused: %d", n, refused)
	if n > maxTasks {
		t.Errorf("the instance has %d tasks, over the limit of %d", n, maxTasks)
	}
	if refused == 0 {
		t.Errorf("the fork bomb never reached the limit of %d tasks", maxTasks)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	t0 := time.Now()
	if err := p.Stop(ctx, 0); err != nil {
		t.Fatal(err)
	}
	t.Logf("stop took %v", time.Since(t0))
	assertNoInstances(t, d)
}

func TestOOMKilled(t *testing.T) {
	d := newDriver(t, Options{})
	st, out := probe(t, d, "alloc:128", func(s *sandbox.Spec) { s.MemoryMB = 64 }).finish(t)
	if !st.OOMKilled || st.Signal != syscall.SIGKILL {
		t.Errorf("allocating 2x the limit: got %+v, want OOM-killed by SIGKILL\n%s", st, out)
	}
	// A function that stays under its limit is not reported as OOM-killed.
	p := probe(t, d, "alloc:16", func(s *sandbox.Spec) { s.MemoryMB = 64 })
	st, out = p.finish(t)
	if st.OOMKilled || st.Code != 0 {
		t.Errorf("allocating 16 of 64 MiB: got %+v\n%s", st, out)
	}
	if m := p.MaxMemory(); m < 16<<20 || m > 64<<20 {
		t.Errorf("MaxMemory after allocating 16 MiB: %d", m)
	}
}

// The peak memory file stays open between reads: a later read must still
// see what the instance used since the earlier one.
func TestMaxMemoryWhileRunning(t *testing.T) {
	d := newDriver(t, Options{})
	p := sh(t, d, `echo small; sleep 0.5; x=$(head -c 33554432 /dev/zero | tr '\0' a); echo big; sleep 30`,
		func(s *sandbox.Spec) { s.MemoryMB = 128 })
	if l := readLine(t, p); l != "small" {
		t.Fatalf("got %q", l)
	}
	small := p.MaxMemory()
	if l := readLine(t, p); l != "big" {
		t.Fatalf("got %q", l)
	}
	big := p.MaxMemory()
	if small <= 0 || small >= 16<<20 || big < 32<<20 {
		t.Errorf("MaxMemory before and after holding 32 MiB: %d, %d", small, big)
	}
	if again := p.MaxMemory(); again < big {
		t.Errorf("MaxMemory fell from %d to %d", big, again)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := p.Stop(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if final := p.MaxMemory(); final < big {
		t.Errorf("MaxMemory after the end %d, below %d", final, big)
	}
}

// checkFreezeThaw checks, on an instance p running a busy loop, that
// freezing stops its CPU use (as usage reads it), that it uses CPU again
// within thaw of thawing, and that Stop ends it frozen with SIGTERM
// within stop.
func checkFreezeThaw(t *testing.T, p *proc, f sandbox.Freezer, usage func() time.Duration, thaw, stop time.Duration) {
	t.Helper()
	if err := f.Freeze(); err != nil {
		t.Fatal(err)
	}
	u0 := usage()
	time.Sleep(300 * time.Millisecond)
	if u1 := usage(); u1 != u0 {
		t.Errorf("frozen instance used %v of CPU", u1-u0)
	}
	if err := f.Thaw(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(thaw)
	if u2 := usage(); u2-u0 < 50*time.Millisecond {
		t.Errorf("thawed instance used only %v of CPU in %v", u2-u0, thaw)
	}
	// Stop works on a frozen instance.
	if err := f.Freeze(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), stop)
	defer cancel()
	if err := p.Stop(ctx, 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if st, _ := p.finish(t); st.Signal != syscall.SIGTERM {
		t.Errorf("stopping a frozen busy loop: got %s, want signal: terminated", st)
	}
}

func TestFreezeThaw(t *testing.T) {
	d := newDriver(t, Options{})
	p := sh(t, d, `echo ready; while :; do :; done`, func(s *sandbox.Spec) { s.MemoryMB = 1769 })
	if l := readLine(t, p); l != "ready" {
		t.Fatalf("got %q", l)
	}
	in := p.Instance.(*instance)
	f, ok := p.Instance.(sandbox.Freezer)
	if !ok {
		t.Fatal("instance is not a Freezer")
	}
	usage := func() time.Duration {
		u, err := in.cg.cpuTime()
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	time.Sleep(100 * time.Millisecond)
	checkFreezeThaw(t, p, f, usage, 200*time.Millisecond, 10*time.Second)
	if err := f.Freeze(); err == nil {
		t.Error("freezing an ended instance succeeded")
	}
}

func TestCPUBoost(t *testing.T) {
	d := newDriver(t, Options{})
	p := sh(t, d, `echo ready; while :; do :; done`, nil) // 128 MB: a fifth of a CPU
	if l := readLine(t, p); l != "ready" {
		t.Fatalf("got %q", l)
	}
	in := p.Instance.(*instance)
	quota := func() string {
		file := "cpu.cfs_quota_us"
		if in.cg.v2 {
			file = "cpu.max"
		}
		b, err := os.ReadFile(filepath.Join(in.cg.ctrl["cpu"], file))
		if err != nil {
			t.Fatal(err)
		}
		return strings.Fields(string(b))[0]
	}
	if q := quota(); q != "-1" && q != "max" {
		t.Errorf("quota while initialising: %s, want none", q)
	}
	if err := in.EndBoost(); err != nil {
		t.Fatal(err)
	}
	if q := quota(); q != strconv.Itoa(minCPUQuotaUS) {
		t.Errorf("quota after EndBoost: %s, want %d", q, minCPUQuotaUS)
	}
	u0, err := in.cg.cpuTime()
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	u1, _ := in.cg.cpuTime()
	// A fifth of a CPU for a second, with a period's worth of slack.
	if used := u1 - u0; used > 300*time.Millisecond {
		t.Errorf("a spinning 128 MB instance used %v of CPU in 1s after EndBoost", used)
	}
}

func TestInterpreters(t *testing.T) {
	needRoot(t)
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3")
	}
	b, err := exec.Command(py, "-c", "import sys;print(sys.executable)").Output()
	if err != nil {
		t.Fatalf("python3: %v", err)
	}
	pyExe := strings.TrimSpace(string(b))
	ro := append(DefaultReadOnly(), InterpreterPrefixes(pyExe)...)
	t.Logf("python %s, read-only paths %q", pyExe, ro)
	d := newDriver(t, Options{ReadOnly: ro})

	st, out := start(t, d, []string{pyExe, "-c", "import os, ssl, json, tempfile, multiprocessing; print(os.getuid() >= 1500000000, tempfile.gettempdir(), os.cpu_count() > 0)"}, nil).finish(t)
	if st.Code != 0 || strings.TrimSpace(out) != "True /tmp True" {
		t.Errorf("python: %s\n%s", st, out)
	}
	node := "/usr/bin/node"
	if _, err := os.Stat(node); err != nil {
		t.Skip("no /usr/bin/node")
	}
	st, out = start(t, d, []string{node, "-e", "console.log(require('os').tmpdir(), process.getuid() >= 1500000000, require('crypto').randomBytes(4).length)"}, nil).finish(t)
	if st.Code != 0 || strings.TrimSpace(out) != "/tmp true 4" {
		t.Errorf("node: %s\n%s", st, out)
	}
}

func TestNoLeaks(t *testing.T) {
	needRoot(t)
	// Warm up descriptors the runtime creates lazily.
	warm := newDriver(t, Options{Prestart: -1})
	sh(t, warm, `exit 0`, nil).finish(t)
	warm.Close()
	fds, mounts, children := countFDs(t), countMounts(t), countChildren(t)

	d := newDriver(t, Options{})
	n := 2000
	switch {
	case testing.Short():
		n = 20
	case raceEnabled:
		n = 1000
	}
	code, tmp := codeDir(t), t.TempDir()
	// cycle starts instance i and stops it: half exit at once, half leave
	// processes behind for Stop to kill; a quarter are cut off from
	// the network, and a quarter may come from a template.
	tmpl := &sandbox.Template{Argv: []string{"/bin/sh", "-c", "echo ready >&3; cat <&3 >/dev/null; exit 0"}}
	cycle := func(i int) error {
		s := sandbox.Spec{ID: "leak", Argv: []string{"/bin/sh", "-c", "exit 0"}, Env: []string{"PATH=/usr/bin:/bin"},
			Dir: code, CodeDir: code, TmpDir: tmp, MemoryMB: 128}
		if i%2 == 1 {
			s.Argv[2] = "sleep 1000 & sleep 1000"
		}
		if i%4 == 2 {
			s.Template = tmpl
		}
		if i%4 == 3 {
			s.Offline = true
		}
		r, w, err := os.Pipe()
		if err != nil {
			return err
		}
		defer r.Close()
		s.Output = w
		in, err := d.Start(context.Background(), s)
		w.Close()
		if err != nil {
			return fmt.Errorf("start %d: %w", i, err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := in.Stop(ctx, 0); err != nil {
			return fmt.Errorf("stop %d: %w", i, err)
		}
		return nil
	}
	// Four at a time, as a busy server starts them.
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	next := make(chan int)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := cycle(i); err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	assertNoInstances(t, d)
	if got := countMounts(t); got != mounts {
		t.Errorf("host mounts: %d before, %d after", mounts, got)
	}
	created := append([]string(nil), d.cg.created...)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if got := countFDs(t); got != fds {
		t.Errorf("open descriptors: %d before, %d after %d instances", fds, got, n)
	}
	if got := countChildren(t); got != children {
		t.Errorf("child processes: %d before, %d after", children, got)
	}
	for _, dir := range created {
		if _, err := os.Stat(dir); err == nil {
			t.Errorf("parent cgroup %s still there after Close", dir)
		}
	}
}

// assertNoInstances checks that no instance cgroup is left under the
// parent.
func assertNoInstances(t testing.TB, d *Driver) {
	t.Helper()
	for _, dir := range d.cg.dirs() {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if e.IsDir() && !strings.HasPrefix(e.Name(), prestartedName+"-") && e.Name() != sentinelName {
				t.Errorf("cgroup %s/%s left behind", dir, e.Name())
			}
		}
	}
}

func countFDs(t testing.TB) int {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}

func countMounts(t testing.TB) int {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), "\n")
}

// countChildren counts the processes whose parent is this one.
func countChildren(t testing.TB) int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	self := strconv.Itoa(os.Getpid())
	n := 0
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		s := string(b)
		if i := strings.LastIndexByte(s, ')'); i >= 0 {
			if f := strings.Fields(s[i+1:]); len(f) > 1 && f[1] == self {
				n++
			}
		}
	}
	return n
}

func TestRewriteTmp(t *testing.T) {
	got := rewriteTmp([]string{"TMPDIR=/data/i/tmp", "HOME=/data/i/tmp/", "X=/data/i/tmp/a/b", "Y=/data/i/tmpx", "Z=", "W"}, "/data/i/tmp")
	want := []string{"TMPDIR=/tmp", "HOME=/tmp", "X=/tmp/a/b", "Y=/data/i/tmpx", "Z=", "W"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestCPUFor(t *testing.T) {
	for _, c := range []struct{ mb, quota, weight int }{
		{128, minCPUQuotaUS, 74}, {1769, cpuPeriodUS, 1024}, {3538, 2 * cpuPeriodUS, 2048}, {1, minCPUQuotaUS, 2},
	} {
		if q, w := cpuFor(c.mb); q != c.quota || w != c.weight {
			t.Errorf("cpuFor(%d) = %d, %d; want %d, %d", c.mb, q, w, c.quota, c.weight)
		}
	}
}

func TestInterpreterPrefixes(t *testing.T) {
	if got := InterpreterPrefixes("/usr/bin/python3"); len(got) != 0 {
		t.Errorf("/usr/bin/python3: got %q, want nothing beyond the defaults", got)
	}
	if got := InterpreterPrefixes("/opt/py/3.12/bin/python3"); len(got) != 1 || got[0] != "/opt/py/3.12" {
		t.Errorf("/opt/py/3.12/bin/python3: got %q", got)
	}
}

func TestUnescapeMount(t *testing.T) {
	if got := unescapeMount(`/a\040b\134c`); got != `/a b\c` {
		t.Errorf("got %q", got)
	}
}

// A parent cgroup left by a run that was killed is removed at Close when
// the parent is the driver's own, and stays when it may be an operator's.
func TestOwnParentRemovedAtClose(t *testing.T) {
	needRoot(t)
	for _, own := range []bool{true, false} {
		parent := fmt.Sprintf("aloft-test-own-%d-%v", os.Getpid(), own)
		left, err := newCgroupHost(parent, false) // what a killed run leaves
		if err != nil {
			t.Fatal(err)
		}
		dirs := left.dirs()
		d := newDriver(t, Options{CgroupParent: parent, OwnParent: own})
		if err := d.Close(); err != nil {
			t.Fatal(err)
		}
		for _, dir := range dirs {
			_, err := os.Stat(dir)
			if gone := os.IsNotExist(err); gone != own {
				t.Errorf("own %v: %s gone %v, want %v", own, dir, gone, own)
			}
		}
		if err := left.close(); err != nil {
			t.Fatal(err)
		}
		for _, dir := range dirs {
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Errorf("%s left behind by the test", dir)
			}
		}
	}
}

// TestHiddenUnderReadOnly checks that a hidden directory under a
// read-only path (a data dir under /usr, say) shows nothing but the mount
// points made in it, and takes no writes.
func TestHiddenUnderReadOnly(t *testing.T) {
	base := t.TempDir()
	secret := filepath.Join(base, "data")
	for _, err := range []error{
		os.Chmod(base, 0o755),
		os.MkdirAll(filepath.Join(secret, "runtimes"), 0o755),
		os.WriteFile(filepath.Join(secret, "credentials"), []byte("key"), 0o644),
		os.WriteFile(filepath.Join(secret, "runtimes", "boot"), []byte("rt"), 0o644),
		os.WriteFile(filepath.Join(base, "public"), []byte("pub"), 0o644),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	d := newDriver(t, Options{ReadOnly: append(DefaultReadOnly(), base), Hidden: []string{secret}, RuntimeDir: filepath.Join(secret, "runtimes")})
	out := run(t, d, strings.ReplaceAll(`cat B/public; echo; cat B/data/credentials 2>/dev/null || echo hidden; ls B/data; cat B/data/runtimes/boot; echo; touch B/data/x 2>/dev/null || echo refused`, "B", base), nil)
	if got := strings.Fields(out); strings.Join(got, " ") != "pub hidden runtimes rt refused" {
		t.Errorf("got %q, want the public file, the secret hidden, only the runtime dir's mount point, and no writes", got)
	}
}
