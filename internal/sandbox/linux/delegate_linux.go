package linux

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// serverLeaf is the cgroup, below the one delegated to the server's user,
// that holds the server's own processes. Cgroup v2 lets a cgroup other
// than the root hand controllers to its children only while it holds no
// process itself, so the server moves out of the delegated cgroup before
// it enables them there. RunInUserNamespace moves its own process, and
// with it the server it then starts, before the server exists.
const serverLeaf = "aloft-server"

// v2Controllers are the cgroup v2 controllers the driver needs. The
// freezer and cgroup.kill are core files of every cgroup.
var v2Controllers = []string{"memory", "cpu", "pids"}

// delegatedCgroup finds the cgroup v2 delegated to this process's user
// that it runs in: its own cgroup, or the parent of its own when that is
// serverLeaf (inLeaf). The cgroup counts as delegated when this process
// may create cgroups in it, move processes through its cgroup.procs and
// enable controllers in its cgroup.subtree_control, as systemd's
// Delegate=yes or an administrator's chown allows, and its parent has
// given it the memory, cpu and pids controllers. The error says why there
// is none.
func delegatedCgroup() (dir string, inLeaf bool, err error) {
	mounts, err := cgroupMounts()
	if err != nil {
		return "", false, err
	}
	if mnt, ok := mounts.v1["memory"]; ok {
		return "", false, fmt.Errorf("the host uses cgroup v1 (its memory controller is mounted on %s), which cannot be delegated to a user", mnt)
	}
	if mounts.v2 == "" {
		return "", false, errors.New("no cgroup2 hierarchy is mounted")
	}
	root := mounts.v2
	own, err := ownCgroup()
	if err != nil {
		return "", false, err
	}
	dir = filepath.Join(root, own)
	if !within(dir, root) {
		return "", false, fmt.Errorf("this process's cgroup %s is outside the hierarchy mounted on %s", own, root)
	}
	if filepath.Base(dir) == serverLeaf && dir != root {
		dir, inLeaf = filepath.Dir(dir), true
	}
	for _, p := range []string{dir, filepath.Join(dir, "cgroup.procs"), filepath.Join(dir, "cgroup.subtree_control")} {
		if err := unix.Access(p, unix.W_OK); err != nil {
			return "", false, fmt.Errorf("the server's cgroup %s is not delegated to its user: %s is not writable: %w", dir, p, err)
		}
	}
	if err := checkControllers(dir); err != nil {
		return "", false, fmt.Errorf("the server's cgroup is delegated to its user without what the sandbox needs: %w", err)
	}
	return dir, inLeaf, nil
}

// ownCgroup returns this process's cgroup in the v2 hierarchy, from
// /proc/self/cgroup ("0::/path").
func ownCgroup() (string, error) {
	f, err := os.Open("/proc/self/cgroup")
	if err != nil {
		return "", fmt.Errorf("find this process's cgroup: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if p, ok := strings.CutPrefix(sc.Text(), "0::"); ok {
			return p, nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("find this process's cgroup: %w", err)
	}
	return "", errors.New("this process is in no cgroup v2")
}

// vacate moves this process from the delegated cgroup dir into its leaf
// serverLeaf (created if missing), leaving dir free of processes so that
// its children may get controllers. It does nothing when this process is
// elsewhere already, and fails, moving nothing, when dir holds processes
// other than this one.
func vacate(dir string) error {
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return fmt.Errorf("delegated cgroup: %w", err)
	}
	self, here := strconv.Itoa(os.Getpid()), false
	var others []string
	for _, pid := range strings.Fields(string(b)) {
		switch {
		case pid == self:
			here = true
		case pid == strconv.Itoa(os.Getppid()):
			others = append(others, pid+" (the server's parent)")
		default:
			others = append(others, pid)
		}
	}
	if len(others) > 0 {
		return fmt.Errorf("the server's cgroup %s holds other processes (%s), so the server cannot hand it controllers for its instances: "+
			"run the server in a cgroup of its own", dir, strings.Join(others, ", "))
	}
	if !here {
		return nil
	}
	leaf := filepath.Join(dir, serverLeaf)
	if err := os.Mkdir(leaf, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("create the server's cgroup: %w", err)
	}
	if err := writeCgroup(leaf, "cgroup.procs", self); err != nil {
		return fmt.Errorf("move the server into its cgroup: %w", err)
	}
	return nil
}

// enterServerLeaf moves this process, about to start the server in a user
// namespace, from a cgroup delegated to its user into that cgroup's
// serverLeaf, where the server is then born. Where nothing is delegated,
// or the cgroup holds other processes, it leaves everything as it is: the
// server finds out again and says why it has no cgroups. It returns what
// undoes the move once the server has exited (see leaveServerLeaf).
func enterServerLeaf() (undo func()) {
	dir, inLeaf, err := delegatedCgroup()
	if err != nil || inLeaf {
		return func() {}
	}
	before, err := os.ReadFile(filepath.Join(dir, "cgroup.subtree_control"))
	if err != nil {
		return func() {}
	}
	if err := vacate(dir); err != nil {
		return func() {}
	}
	return func() { leaveServerLeaf(dir, strings.Fields(string(before))) }
}

// leaveServerLeaf puts the delegated cgroup dir back as enterServerLeaf
// found it, once the server has exited: it disables the controllers for
// dir's children that were not enabled before (those the server enabled),
// moves this process back into dir and removes the leaf. It stops at the
// first step that fails, as it does while something the server left runs
// below dir (its guard, or the instances of a server that crashed, which
// the guard is ending); the next run uses the leaf again.
func leaveServerLeaf(dir string, before []string) {
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.subtree_control"))
	if err != nil {
		return
	}
	var disable []string
	for _, c := range strings.Fields(string(b)) {
		if !contains(before, c) {
			disable = append(disable, "-"+c)
		}
	}
	if len(disable) > 0 && writeCgroup(dir, "cgroup.subtree_control", strings.Join(disable, " ")) != nil {
		return
	}
	if writeCgroup(dir, "cgroup.procs", strconv.Itoa(os.Getpid())) != nil {
		return
	}
	_ = unix.Rmdir(filepath.Join(dir, serverLeaf))
}
