package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/aloft-dev/aloft/internal/alofttest"
)

// instanceCgroups returns the instance cgroups (by path) of the server on
// dataDir under the pids hierarchy (v1) or the unified one, with the pids
// in each.
func instanceCgroups(t *testing.T, dataDir string) map[string][]int {
	t.Helper()
	sum := sha256.Sum256([]byte(dataDir))
	parent := "aloft/" + hex.EncodeToString(sum[:6])
	out := map[string][]int{}
	for _, root := range []string{"/sys/fs/cgroup/pids", "/sys/fs/cgroup"} {
		entries, err := os.ReadDir(filepath.Join(root, parent))
		if err != nil {
			continue
		}
		for _, e := range entries {
			if !e.IsDir() {
				continue
			}
			dir := filepath.Join(root, parent, e.Name())
			b, _ := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
			var pids []int
			for _, f := range strings.Fields(string(b)) {
				pid, _ := strconv.Atoi(f)
				pids = append(pids, pid)
			}
			out[dir] = pids
		}
		if len(out) > 0 {
			break
		}
	}
	return out
}

// crashScene is a server with one instance busy (a minute of work) and
// another frozen, as the crash tests kill it.
type crashScene struct {
	srv    *alofttest.Server
	before map[string][]int // instance cgroups and their processes
	pids   []int            // every instance process
	frozen string           // the frozen instance's cgroup, as in before
	links  []string         // the host's aloft interfaces
}

// newCrashScene starts a server under the linux sandbox, has function
// "busy" run a minute of work and "idle" answer once, and waits (up to
// 20 s) until the idle instance's cgroup is frozen.
func newCrashScene(t *testing.T) *crashScene {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("the linux sandbox needs root (namespaces, cgroups, mounts): run the suite as root, as CI does")
	}
	srv := alofttest.Start(t, "--sandbox", "linux")
	c := srv.Lambda()
	goRC := runtimeCases()[0]
	create(t, c, "busy", goRC, alofttest.GoFunction(t, "e2e/functions/hostile", "v1"), func(in *lambda.CreateFunctionInput) {
		in.Timeout = aws.Int32(120)
	})
	create(t, c, "idle", goRC, goRC.code(t, "v1"))
	if _, err := c.Invoke(ctxT(t), &lambda.InvokeInput{FunctionName: aws.String("idle"), Payload: []byte(`{"op":"noop"}`)}); err != nil {
		t.Fatal(err)
	}
	// A minute of work, taken off the async queue.
	if _, err := c.Invoke(ctxT(t), &lambda.InvokeInput{FunctionName: aws.String("busy"), InvocationType: types.InvocationTypeEvent,
		Payload: []byte(`{"op":"listen","path":"127.0.0.1:0","mb":60000}`)}); err != nil {
		t.Fatal(err)
	}
	// Until the idle instance is frozen (the invoker freezes an instance
	// idle for a second; only launched instances are ever frozen, and the
	// busy one is not idle).
	sc := &crashScene{srv: srv}
	for deadline := time.Now().Add(20 * time.Second); sc.frozen == "" && time.Now().Before(deadline); {
		time.Sleep(200 * time.Millisecond)
		for dir := range instanceCgroups(t, srv.Dir) {
			if cgroupFrozen(dir) {
				sc.frozen = dir
			}
		}
	}
	if sc.frozen == "" {
		t.Fatalf("no instance cgroup of the server is frozen 20 s after the idle function answered: %v", instanceCgroups(t, srv.Dir))
	}
	sc.before = instanceCgroups(t, srv.Dir)
	for _, p := range sc.before {
		sc.pids = append(sc.pids, p...)
	}
	sc.links = aloftLinks(t)
	t.Logf("before the kill: %d instance cgroups, %d processes, %d aloft interfaces, frozen %s with %v",
		len(sc.before), len(sc.pids), len(sc.links), filepath.Base(sc.frozen), sc.before[sc.frozen])
	if len(sc.pids) < 3 || len(sc.before[sc.frozen]) == 0 {
		t.Fatalf("want the busy and the idle instance running, found processes %v in %v", sc.pids, sc.before)
	}
	return sc
}

// cgroupFrozen reports whether the instance cgroup dir (under the v1 pids
// hierarchy or the unified one) says it is frozen: FROZEN in the v1
// freezer's state (not FREEZING), or frozen in cgroup.events (v2).
func cgroupFrozen(dir string) bool {
	if rel, ok := strings.CutPrefix(dir, "/sys/fs/cgroup/pids/"); ok {
		st, _ := os.ReadFile(filepath.Join("/sys/fs/cgroup/freezer", rel, "freezer.state"))
		return strings.TrimSpace(string(st)) == "FROZEN"
	}
	ev, _ := os.ReadFile(filepath.Join(dir, "cgroup.events"))
	for _, line := range strings.Split(string(ev), "\n") {
		if line == "frozen 1" {
			return true
		}
	}
	return false
}

// TestKilledServerLeavesNothing kills a server (SIGKILL) while one
// instance is busy and another frozen, checks that their processes die
// with it, restarts it on the same data dir, and checks that nothing of
// the old instances is left: no process, no cgroup, no network
// interface, no mount on the host.
func TestKilledServerLeavesNothing(t *testing.T) {
	sc := newCrashScene(t)
	srv, before, pids, links := sc.srv, sc.before, sc.pids, sc.links
	srv.Kill()
	// The instances die with the server, the frozen one included, before
	// any server starts again.
	alive := pids
	for deadline := time.Now().Add(5 * time.Second); len(alive) > 0 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
		alive = slices.DeleteFunc(alive, func(pid int) bool { return !running(pid) })
	}
	if len(alive) > 0 {
		t.Errorf("processes of the killed server's instances still run 5 s after it died: %v", alive)
	}
	srv.Restart()
	alive = slices.DeleteFunc(pids, func(pid int) bool { return !running(pid) })
	if len(alive) > 0 {
		t.Errorf("processes of the killed server's instances still run after the restart: %v", alive)
	}
	after := instanceCgroups(t, srv.Dir)
	for dir := range before {
		if _, ok := after[dir]; ok {
			t.Errorf("cgroup %s of the killed server is still there", dir)
		}
	}
	// Namespaces go with their last process; their interfaces with them.
	deadline := time.Now().Add(5 * time.Second)
	var stale []string
	for {
		now := map[string]bool{}
		for _, l := range aloftLinks(t) {
			now[l] = true
		}
		stale = stale[:0]
		for _, l := range links {
			if now[l] {
				stale = append(stale, l)
			}
		}
		if len(stale) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(stale) > 0 {
		// Another server on the host may have taken a freed name since.
		t.Logf("interfaces with the old names after the restart (freed names can be reused): %v", stale)
	}
	mounts, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(mounts), "\n") {
		if strings.Contains(line, srv.Dir) || strings.Contains(line, "/run/aloft-sandbox") {
			t.Errorf("a mount of the killed server's instances is on the host: %s", line)
		}
	}
	// And the restarted server works.
	c := srv.Lambda()
	if _, err := c.Invoke(ctxT(t), &lambda.InvokeInput{FunctionName: aws.String("idle"), Payload: []byte(`{"op":"noop"}`)}); err != nil {
		t.Fatal(err)
	}
}

// TestStartupSweep kills a server and its guard together (SIGKILL, the
// guard first, so that it never learns of the server's end), checks that
// what the guard would have cleared is still there (the frozen
// instance's processes, which cannot die until thawed, and every
// instance cgroup), and that the restarted server's start-up sweep alone
// clears it: no process, no cgroup left, and invocations work.
func TestStartupSweep(t *testing.T) {
	sc := newCrashScene(t)
	srv := sc.srv
	guards := guardsOf(srv.PID())
	if len(guards) != 1 {
		t.Fatalf("want one aloft-guard child of the server (pid %d), found %v", srv.PID(), guards)
	}
	if err := syscall.Kill(guards[0], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	srv.Kill()
	// The guard is gone (a zombie until reaped, then nothing).
	for deadline := time.Now().Add(5 * time.Second); running(guards[0]); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the guard (pid %d) still runs 5 s after SIGKILL", guards[0])
		}
	}
	// Longer than a guard takes to sweep: the frozen instance stays, with
	// every cgroup, until a server starts on the data dir again.
	time.Sleep(2 * time.Second)
	var frozenAlive []int
	for _, pid := range sc.before[sc.frozen] {
		if running(pid) {
			frozenAlive = append(frozenAlive, pid)
		}
	}
	if len(frozenAlive) == 0 {
		t.Fatalf("the frozen instance's processes %v died with the server and its guard; the start-up sweep would have nothing to do", sc.before[sc.frozen])
	}
	if !cgroupFrozen(sc.frozen) {
		t.Errorf("cgroup %s is no longer frozen with nobody left to thaw it", sc.frozen)
	}
	for dir := range sc.before {
		if _, err := os.Stat(dir); err != nil {
			t.Errorf("cgroup %s went before the restart: %v", dir, err)
		}
	}

	srv.Restart()
	if !strings.Contains(srv.Log(), "killed the processes of instances a previous run left behind") {
		t.Errorf("the restarted server did not report its start-up sweep")
	}
	if alive := slices.DeleteFunc(slices.Clone(sc.pids), func(pid int) bool { return !running(pid) }); len(alive) > 0 {
		t.Errorf("processes of the killed server's instances still run after the restart: %v", alive)
	}
	for dir := range sc.before {
		if _, err := os.Stat(dir); err == nil {
			t.Errorf("cgroup %s of the killed server is still there after the restart", dir)
		}
		if rel, ok := strings.CutPrefix(dir, "/sys/fs/cgroup/pids/"); ok {
			if _, err := os.Stat(filepath.Join("/sys/fs/cgroup/freezer", rel)); err == nil {
				t.Errorf("freezer cgroup %s of the killed server is still there after the restart", rel)
			}
		}
	}
	c := srv.Lambda()
	for _, fn := range []string{"idle", "busy"} {
		out, err := c.Invoke(ctxT(t), &lambda.InvokeInput{FunctionName: aws.String(fn), Payload: []byte(`{"op":"noop"}`)})
		if err == nil && out.FunctionError != nil {
			err = fmt.Errorf("function error: %s", out.Payload)
		}
		if err != nil {
			t.Errorf("invoke %s after the restart: %v", fn, err)
		}
	}
}

// guardsOf returns the pids of the guard processes (named aloft-guard)
// whose parent is the process ppid.
func guardsOf(ppid int) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		open, end := strings.IndexByte(string(b), '('), strings.LastIndexByte(string(b), ')')
		if open < 0 || end < open {
			continue
		}
		f := strings.Fields(string(b[end+1:]))
		if string(b[open+1:end]) == "aloft-guard" && len(f) > 1 && f[1] == strconv.Itoa(ppid) {
			out = append(out, pid)
		}
	}
	return out
}

// aloftLinks returns the names of the host's network interfaces that
// instances' egress made.
func aloftLinks(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir("/sys/class/net")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "aloft") {
			out = append(out, e.Name())
		}
	}
	return out
}

// running reports whether process pid exists and is not a zombie (this
// test's process may be the one that reaps the killed server's orphans).
func running(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// The state follows the command, which is in parentheses.
	i := strings.LastIndexByte(string(b), ')')
	return i > 0 && len(b) > i+2 && b[i+2] != 'Z'
}
