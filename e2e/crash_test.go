package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
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

// TestKilledServerLeavesNothing kills a server (SIGKILL) while one
// instance is busy and another frozen, checks that their processes die
// with it, restarts it on the same data dir, and checks that nothing of
// the old instances is left: no process, no cgroup, no network
// interface, no mount on the host.
func TestKilledServerLeavesNothing(t *testing.T) {
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
	// Until the busy instance runs and the idle one is frozen.
	var frozen bool
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) && !frozen {
		time.Sleep(200 * time.Millisecond)
		for dir := range instanceCgroups(t, srv.Dir) {
			name := filepath.Base(dir)
			st, _ := os.ReadFile(filepath.Join("/sys/fs/cgroup/freezer", filepath.Dir(strings.TrimPrefix(dir, "/sys/fs/cgroup/pids/")), name, "freezer.state"))
			if strings.TrimSpace(string(st)) == "FROZEN" {
				frozen = true
			}
			if b, err := os.ReadFile(filepath.Join(dir, "cgroup.freeze")); err == nil && strings.TrimSpace(string(b)) == "1" {
				frozen = true
			}
		}
	}
	before := instanceCgroups(t, srv.Dir)
	var pids []int
	for _, p := range before {
		pids = append(pids, p...)
	}
	links := aloftLinks(t)
	t.Logf("before the kill: %d instance cgroups, %d processes, %d aloft interfaces, an instance frozen: %v", len(before), len(pids), len(links), frozen)
	if len(pids) < 3 {
		t.Fatalf("want the busy and the idle instance running, found processes %v in %v", pids, before)
	}

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
	deadline = time.Now().Add(5 * time.Second)
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
	c = srv.Lambda()
	if _, err := c.Invoke(ctxT(t), &lambda.InvokeInput{FunctionName: aws.String("idle"), Payload: []byte(`{"op":"noop"}`)}); err != nil {
		t.Fatal(err)
	}
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
