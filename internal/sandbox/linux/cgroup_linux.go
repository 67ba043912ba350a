package linux

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Resource policy of an instance.
const (
	mbPerCPU      = 1769   // Lambda gives one vCPU at 1769 MB
	cpuPeriodUS   = 100000 // CFS period
	minCPUQuotaUS = 20000  // a fifth of a CPU, so small functions start quickly
	maxTasks      = 1024   // processes and threads, Lambda's limit
)

// cgroupHost is the set of cgroup hierarchies the driver uses, with its
// parent cgroup created in each. A driver without cgroups (in a user
// namespace, where the host's are not delegated) has a nil host, whose
// cgroups are nil too: their limits and statistics are no-ops, and
// freezing fails with errNoCgroups.
type cgroupHost struct {
	v2 bool
	// top is the highest v2 cgroup the driver may write to, which holds
	// the parent: the hierarchy's root as root, the cgroup delegated to
	// the server's user in a user namespace. Controllers are enabled from
	// there down.
	top string
	// parents maps a controller ("memory", "cpu", "cpuacct", "pids",
	// "freezer") to the parent cgroup's directory in the hierarchy that
	// has it; on v2 every controller maps to the same directory.
	parents map[string]string
	created []string // directories created by newCgroupHost, deepest last
	own     bool     // close removes the parents even if they were not created
	// sentinel is an empty v1 freezer cgroup kept frozen (see
	// holdFreezer), or "".
	sentinel string
}

// errNoCgroups is the error of what only cgroups can do, on a driver
// without them.
var errNoCgroups = errors.New("no cgroups: the host's are not delegated to this user")

// v1Controllers are the v1 controllers the driver needs, and cpuacct,
// which it uses for CPU statistics when it is mounted.
var v1Controllers = []string{"memory", "cpu", "pids", "freezer"}

// newCgroupHost finds the cgroup hierarchies, checks that the controllers
// the driver needs are there and creates the parent cgroup parent (a
// relative path) in each; own is Options.OwnParent.
func newCgroupHost(parent string, own bool) (*cgroupHost, error) {
	mounts, err := cgroupMounts()
	if err != nil {
		return nil, err
	}
	h := &cgroupHost{parents: map[string]string{}, own: own}
	if _, ok := mounts.v1["memory"]; ok {
		// Legacy or hybrid: the v1 controllers do the work.
		var missing []string
		for _, c := range v1Controllers {
			if _, ok := mounts.v1[c]; !ok {
				missing = append(missing, c)
			}
		}
		if len(missing) > 0 {
			return nil, fmt.Errorf("cgroup v1 memory controller is mounted but %s %s not (mount them under /sys/fs/cgroup, or boot with cgroup v2)",
				strings.Join(missing, ", "), plural(len(missing), "is", "are"))
		}
		for c, mnt := range mounts.v1 {
			h.parents[c] = filepath.Join(mnt, parent)
		}
	} else {
		if mounts.v2 == "" {
			return nil, errors.New("no cgroup hierarchy with a memory controller is mounted (mount cgroup2 at /sys/fs/cgroup)")
		}
		h.v2, h.top = true, mounts.v2
		if err := checkControllers(h.top); err != nil {
			return nil, err
		}
		h.setParent(parent)
	}
	if err := h.createParents(); err != nil {
		h.close()
		return nil, err
	}
	return h, nil
}

// newDelegatedCgroupHost is newCgroupHost for a server in a user
// namespace, whose user may write only to the cgroup v2 delegated to it
// (see delegatedCgroup): the parent is created there, the server's own
// processes having moved out of the way (see vacate). The error says why
// there are no cgroups to use.
func newDelegatedCgroupHost(parent string, own bool) (*cgroupHost, error) {
	top, _, err := delegatedCgroup()
	if err != nil {
		return nil, err
	}
	if err := vacate(top); err != nil {
		return nil, err
	}
	h := &cgroupHost{v2: true, top: top, parents: map[string]string{}, own: own}
	h.setParent(parent)
	if err := h.createParents(); err != nil {
		h.close()
		return nil, err
	}
	return h, nil
}

// checkControllers checks that the v2 cgroup dir has the controllers the
// driver needs.
func checkControllers(dir string) error {
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.controllers"))
	if err != nil {
		return fmt.Errorf("cgroup v2: %w", err)
	}
	have := strings.Fields(string(b))
	var missing []string
	for _, c := range v2Controllers {
		if !contains(have, c) {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("cgroup v2 at %s lacks the %s %s", dir,
			strings.Join(missing, ", "), plural(len(missing), "controller", "controllers"))
	}
	return nil
}

// setParent points every controller at the v2 parent cgroup parent, a
// path relative to top.
func (h *cgroupHost) setParent(parent string) {
	dir := filepath.Join(h.top, parent)
	for _, c := range []string{"memory", "cpu", "cpuacct", "pids", "freezer"} {
		h.parents[c] = dir
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// createParents makes the parent cgroups, remembering which directories it
// made; on v2 it also enables the controllers for the parent's children.
func (h *cgroupHost) createParents() error {
	for _, dir := range h.dirs() {
		var made []string
		for d := dir; ; d = filepath.Dir(d) {
			if _, err := os.Stat(d); err == nil {
				break
			}
			made = append(made, d)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("create parent cgroup: %w", err)
		}
		for i := len(made) - 1; i >= 0; i-- {
			h.created = append(h.created, made[i])
		}
	}
	if h.v2 {
		// Enable memory, cpu and pids from the top down to the parent,
		// so that the parent and each instance cgroup have them (before
		// the parent's CPU weight, whose file the top's cpu controller
		// makes).
		dir := h.parents["memory"]
		var chain []string
		for d := dir; within(d, h.top); d = filepath.Dir(d) {
			chain = append(chain, d)
			if d == h.top {
				break
			}
		}
		for i := len(chain) - 1; i >= 0; i-- {
			if err := writeCgroup(chain[i], "cgroup.subtree_control", "+memory +cpu +pids"); err != nil {
				return fmt.Errorf("enable cgroup controllers: %w", err)
			}
		}
	}
	return h.weighParent()
}

// weighParent gives a parent cgroup that New created the CPU weight of one
// busy process per CPU: all instances together then hold their own
// against the host's other busy processes, each of which weighs as much as
// the whole parent otherwise. An existing parent keeps the weight an
// operator gave it.
func (h *cgroupHost) weighParent() error {
	dir := h.parents["cpu"]
	if !contains(h.created, dir) {
		return nil
	}
	n := runtime.NumCPU()
	file, value := "cpu.shares", strconv.Itoa(min(1024*n, 262144))
	if h.v2 {
		file, value = "cpu.weight", strconv.Itoa(min(100*n, 10000))
	}
	if err := writeCgroup(dir, file, value); err != nil {
		return fmt.Errorf("set the parent cgroup's CPU weight: %w", err)
	}
	return nil
}

// dirs returns the distinct parent directories.
func (h *cgroupHost) dirs() []string {
	var out []string
	for _, c := range []string{"memory", "cpu", "cpuacct", "pids", "freezer"} {
		if d, ok := h.parents[c]; ok && !contains(out, d) {
			out = append(out, d)
		}
	}
	return out
}

// sweep ends what a previous run of the same parent left (a server killed
// with SIGKILL cannot stop its instances: its inits die with it, but a
// frozen instance cannot die until it is thawed, and a process that
// escaped its init's namespace would not die at all): it kills every
// process in each instance cgroup, thaws it so that the kills land, waits
// up to a few seconds for it to empty and removes it. With owner > 0 it
// takes only the cgroups of the server with that pid (see ownedBy). It
// returns how many processes it killed; a cgroup that still holds one
// stays.
func (h *cgroupHost) sweep(owner int) int {
	if h == nil {
		return 0
	}
	killed := 0
	var left []string
	for _, dir := range h.dirs() {
		entries, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range entries {
			if !e.IsDir() || e.Name() == sentinelName || owner > 0 && !ownedBy(e.Name(), owner) {
				continue
			}
			cg := filepath.Join(dir, e.Name())
			killed += killAll(cg)
			left = append(left, cg)
		}
	}
	if !h.v2 {
		// Thaw last: the kills are pending until then.
		for _, cg := range left {
			if strings.HasPrefix(cg, h.parents["freezer"]+"/") {
				_ = writeCgroup(cg, "freezer.state", "THAWED")
			}
		}
	} else {
		for _, cg := range left {
			_ = writeCgroup(cg, "cgroup.freeze", "0")
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for _, cg := range left {
		for syscall.Rmdir(cg) == syscall.EBUSY && time.Now().Before(deadline) {
			killAll(cg)
			time.Sleep(10 * time.Millisecond)
		}
	}
	return killed
}

// killAll sends SIGKILL to every process in the cgroup dir and returns
// how many it sent it to.
func killAll(dir string) int {
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return 0
	}
	n := 0
	for _, f := range strings.Fields(string(b)) {
		if pid, err := strconv.Atoi(f); err == nil && pid > 1 && syscall.Kill(pid, syscall.SIGKILL) == nil {
			n++
		}
	}
	return n
}

// sentinelName is the frozen empty cgroup under the v1 freezer parent.
const sentinelName = "frozen-sentinel"

// holdFreezer keeps an empty cgroup frozen under the v1 freezer parent
// while the driver runs. The kernel counts frozen v1 cgroups with a static
// key, and switching that key between zero and one patches kernel code,
// which made every thaw of the only frozen instance cost about 2 ms here;
// with one cgroup always frozen a thaw takes about 0.1 ms. (The v2 freezer
// has no such key.) Failing to hold it costs speed only.
func (h *cgroupHost) holdFreezer() error {
	if h == nil {
		return nil
	}
	if h.v2 {
		return nil
	}
	dir := filepath.Join(h.parents["freezer"], sentinelName)
	if err := os.Mkdir(dir, 0o755); err != nil && !os.IsExist(err) {
		return fmt.Errorf("create the frozen sentinel cgroup: %w", err)
	}
	h.sentinel = dir
	if err := writeCgroup(dir, "freezer.state", "FROZEN"); err != nil {
		return fmt.Errorf("freeze the sentinel cgroup: %w", err)
	}
	return nil
}

// close removes the parent directories newCgroupHost created, and the
// parents themselves when they are the driver's own, if they are empty;
// cgroups still in use stay.
func (h *cgroupHost) close() error {
	if h == nil {
		return nil
	}
	var errs []error
	if h.sentinel != "" {
		if err := unix.Rmdir(h.sentinel); err != nil && err != unix.ENOENT {
			errs = append(errs, fmt.Errorf("remove cgroup %s: %w", h.sentinel, err))
		}
		h.sentinel = ""
	}
	remove := func(dir string) {
		err := unix.Rmdir(dir)
		if err != nil && err != unix.ENOENT && err != unix.EBUSY && err != unix.ENOTEMPTY {
			errs = append(errs, fmt.Errorf("remove cgroup %s: %w", dir, err))
		}
	}
	if h.own {
		for _, dir := range h.dirs() {
			remove(dir)
		}
	}
	for i := len(h.created) - 1; i >= 0; i-- {
		remove(h.created[i])
	}
	h.created = nil
	return errors.Join(errs...)
}

// cgroup is one instance's cgroup, a directory in each hierarchy.
type cgroup struct {
	v2       bool
	ctrl     map[string]string // controller -> the instance's directory
	dirs     []string          // the distinct directories
	prepared bool              // setIdle has written the fixed settings

	peakMu   sync.Mutex // guards peakFile and peakFD
	peakFile *os.File   // the peak memory file, kept open once read
	peakFD   int        // peakFile's descriptor (Fd costs a system call each time)
	peakGone bool       // remove has run: the file is not opened again
}

// create makes the instance cgroup name under the parent. With memoryMB
// above zero it sets the instance's limits; with zero it gives the cgroup
// the lowest CPU weight and no memory limit, for an init prepared ahead of
// need, which uses CPU only when nothing else wants it; setLimits then
// turns it into an instance's cgroup. On failure nothing is left behind.
func (h *cgroupHost) create(name string, memoryMB int) (*cgroup, error) {
	if h == nil {
		return nil, nil
	}
	cg := &cgroup{v2: h.v2, ctrl: map[string]string{}}
	for c, p := range h.parents {
		d := filepath.Join(p, name)
		cg.ctrl[c] = d
		if !contains(cg.dirs, d) {
			cg.dirs = append(cg.dirs, d)
		}
	}
	for _, d := range cg.dirs {
		if err := os.Mkdir(d, 0o755); err != nil {
			cg.remove()
			return nil, fmt.Errorf("create cgroup: %w", err)
		}
	}
	var err error
	if memoryMB > 0 {
		err = cg.setLimits(memoryMB)
	} else {
		err = cg.setIdle()
	}
	if err != nil {
		cg.remove()
		return nil, err
	}
	return cg, nil
}

// setIdle gives the cgroup the lowest CPU weight and the limits that do not
// depend on the memory size.
func (cg *cgroup) setIdle() error {
	if cg == nil {
		return nil
	}
	file, value := "cpu.shares", "2"
	if cg.v2 {
		file, value = "cpu.weight", "1"
	}
	err := cg.write(append(cg.fixedSettings(),
		cgroupSetting{"cpu", file, value, false},
		cgroupSetting{"cpu", "cpu.idle", "1", true}))
	if err != nil {
		return err
	}
	cg.prepared = true
	return nil
}

// rename gives the cgroup a new name under the same parent. Cgroup v2
// refuses to rename cgroups (EPERM), so there a prepared instance's cgroup
// keeps the name it was prepared under.
func (cg *cgroup) rename(name string) error {
	if cg == nil {
		return nil
	}
	if cg.v2 {
		return nil
	}
	moved := map[string]string{}
	for i, d := range cg.dirs {
		nd := filepath.Join(filepath.Dir(d), name)
		if err := os.Rename(d, nd); err != nil {
			return fmt.Errorf("rename cgroup: %w", err)
		}
		moved[d] = nd
		cg.dirs[i] = nd
	}
	for c, d := range cg.ctrl {
		cg.ctrl[c] = moved[d]
	}
	return nil
}

// cpuFor returns the CFS quota (µs per cpuPeriodUS) and the relative weight
// (1024 = one CPU's worth) for a memory size.
func cpuFor(memoryMB int) (quota, weight int) {
	quota = memoryMB * cpuPeriodUS / mbPerCPU
	if quota < minCPUQuotaUS {
		quota = minCPUQuotaUS
	}
	weight = memoryMB * 1024 / mbPerCPU
	if weight < 2 {
		weight = 2
	}
	return quota, weight
}

func (cg *cgroup) setLimits(memoryMB int) error {
	if cg == nil {
		return nil
	}
	mem := strconv.FormatInt(int64(memoryMB)<<20, 10)
	_, weight := cpuFor(memoryMB)
	var settings []cgroupSetting
	if cg.v2 {
		// cpu.weight runs 1..10000 with 100 as the default.
		w := weight * 100 / 1024
		if w < 1 {
			w = 1
		}
		settings = []cgroupSetting{
			{"memory", "memory.max", mem, false},
			{"cpu", "cpu.idle", "0", true},
			{"cpu", "cpu.weight", strconv.Itoa(w), false},
		}
	} else {
		settings = []cgroupSetting{
			{"memory", "memory.limit_in_bytes", mem, false},
			// Equal to the memory limit: no swap. Absent without swap accounting.
			{"memory", "memory.memsw.limit_in_bytes", mem, true},
			{"cpu", "cpu.idle", "0", true},
			{"cpu", "cpu.shares", strconv.Itoa(weight), false},
			// Forget what init used while it was prepared.
			{"memory", "memory.max_usage_in_bytes", "0", false},
		}
	}
	if !cg.prepared {
		settings = append(cg.fixedSettings(), settings...)
	}
	return cg.write(settings)
}

// cgroupSetting is one value to write to a cgroup file.
type cgroupSetting struct {
	ctrl, file, value string
	optional          bool // the kernel may not have the file
}

// fixedSettings are the limits that do not depend on the instance's
// memory size; setIdle writes them ahead of need, so that setLimits, on
// the launch, writes only the rest.
func (cg *cgroup) fixedSettings() []cgroupSetting {
	if cg.v2 {
		return []cgroupSetting{
			{"memory", "memory.swap.max", "0", true},
			{"cpu", "cpu.max", "max " + strconv.Itoa(cpuPeriodUS), false}, // see limitCPU
			{"pids", "pids.max", strconv.Itoa(maxTasks), false},
		}
	}
	return []cgroupSetting{
		{"memory", "memory.swappiness", "0", true},
		{"cpu", "cpu.cfs_period_us", strconv.Itoa(cpuPeriodUS), false},
		{"cpu", "cpu.cfs_quota_us", "-1", false}, // see limitCPU
		{"pids", "pids.max", strconv.Itoa(maxTasks), false},
	}
}

func (cg *cgroup) write(settings []cgroupSetting) error {
	for _, s := range settings {
		err := writeCgroup(cg.ctrl[s.ctrl], s.file, s.value)
		if err != nil && !(s.optional && errors.Is(err, os.ErrNotExist)) {
			return fmt.Errorf("set cgroup limit: %w", err)
		}
	}
	return nil
}

// addProc moves the process pid, all its threads, into the instance's
// cgroups. Only v1 needs it: on v2 the process is cloned into its cgroup.
func (cg *cgroup) addProc(pid int) error {
	if cg == nil {
		return nil
	}
	p := strconv.Itoa(pid)
	for _, d := range cg.dirs {
		if err := writeCgroup(d, "cgroup.procs", p); err != nil {
			return fmt.Errorf("join cgroup: %w", err)
		}
	}
	return nil
}

// limitCPU sets the CPU quota for an instance of memoryMB. setLimits
// leaves the quota off, so that a runtime initialises at full speed (as
// Lambda boosts initialisation), still weighed against the other instances
// by its CPU weight; the quota applies once it is ready.
func (cg *cgroup) limitCPU(memoryMB int) error {
	if cg == nil {
		return nil
	}
	quota, _ := cpuFor(memoryMB)
	if cg.v2 {
		return writeCgroup(cg.ctrl["cpu"], "cpu.max", strconv.Itoa(quota)+" "+strconv.Itoa(cpuPeriodUS))
	}
	return writeCgroup(cg.ctrl["cpu"], "cpu.cfs_quota_us", strconv.Itoa(quota))
}

// unthrottle lifts the CPU quota, so that a dying instance's processes
// exit at full speed.
func (cg *cgroup) unthrottle() error {
	if cg == nil {
		return nil
	}
	if cg.v2 {
		return writeCgroup(cg.ctrl["cpu"], "cpu.max", "max")
	}
	return writeCgroup(cg.ctrl["cpu"], "cpu.cfs_quota_us", "-1")
}

// kill sends SIGKILL to every process of the cgroup at once (v2's
// cgroup.kill, or each pid of cgroup.procs on v1), rather than waiting for
// init's death to get round to each of them.
func (cg *cgroup) kill() error {
	if cg == nil {
		return nil
	}
	if cg.v2 {
		err := writeCgroup(cg.ctrl["pids"], "cgroup.kill", "1")
		if !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	b, err := os.ReadFile(filepath.Join(cg.ctrl["pids"], "cgroup.procs"))
	if err != nil {
		return err
	}
	for _, f := range strings.Fields(string(b)) {
		if pid, err := strconv.Atoi(f); err == nil && pid > 0 {
			unix.Kill(pid, unix.SIGKILL)
		}
	}
	return nil
}

// peak returns the highest memory use recorded, in bytes, or 0. It is
// read after every invocation, so the file stays open from the first read
// on and is read again from offset 0: opening a cgroup file costs several
// times what reading it does. An open file follows the cgroup when it is
// renamed.
func (cg *cgroup) peak() int64 {
	if cg == nil {
		return 0
	}
	cg.peakMu.Lock()
	defer cg.peakMu.Unlock()
	if cg.peakFile == nil {
		if cg.peakGone {
			return 0
		}
		file := "memory.max_usage_in_bytes"
		if cg.v2 {
			file = "memory.peak"
		}
		f, err := os.Open(filepath.Join(cg.ctrl["memory"], file))
		if err != nil {
			return 0
		}
		cg.peakFile, cg.peakFD = f, int(f.Fd())
	}
	// One pread: os.File's ReadAt would make a second to find the end of
	// the file, and the kernel renders the file's text for each.
	var buf [32]byte
	n, err := unix.Pread(cg.peakFD, buf[:], 0)
	if err != nil || n <= 0 {
		return 0
	}
	v, _ := strconv.ParseInt(string(bytes.TrimSpace(buf[:n])), 10, 64)
	return v
}

// closePeak closes the peak memory file for good.
func (cg *cgroup) closePeak() {
	if cg == nil {
		return
	}
	cg.peakMu.Lock()
	defer cg.peakMu.Unlock()
	if cg.peakFile != nil {
		cg.peakFile.Close()
		cg.peakFile = nil
	}
	cg.peakGone = true
}

// oomKills returns how many processes the kernel killed for exceeding the
// memory limit.
func (cg *cgroup) oomKills() int64 {
	if cg == nil {
		return 0
	}
	file := "memory.oom_control"
	if cg.v2 {
		file = "memory.events"
	}
	v, _ := readKey(filepath.Join(cg.ctrl["memory"], file), "oom_kill")
	return v
}

// cpuTime returns the CPU time used by the instance so far.
func (cg *cgroup) cpuTime() (time.Duration, error) {
	if cg == nil {
		return 0, errNoCgroups
	}
	if cg.v2 {
		us, err := readKey(filepath.Join(cg.ctrl["cpu"], "cpu.stat"), "usage_usec")
		return time.Duration(us) * time.Microsecond, err
	}
	d, ok := cg.ctrl["cpuacct"]
	if !ok {
		return 0, errors.New("cgroup v1 cpuacct controller is not mounted")
	}
	ns, err := readInt(filepath.Join(d, "cpuacct.usage"))
	return time.Duration(ns), err
}

// freeze stops every task of the cgroup and waits until they are stopped.
func (cg *cgroup) freeze() error {
	if cg == nil {
		return errNoCgroups
	}
	if cg.v2 {
		return cg.setFrozen("cgroup.freeze", "1", "cgroup.events", "frozen 1")
	}
	return cg.setFrozen("freezer.state", "FROZEN", "freezer.state", "FROZEN")
}

// thaw resumes the tasks of a frozen cgroup.
func (cg *cgroup) thaw() error {
	if cg == nil {
		return errNoCgroups
	}
	if cg.v2 {
		return cg.setFrozen("cgroup.freeze", "0", "cgroup.events", "frozen 0")
	}
	return cg.setFrozen("freezer.state", "THAWED", "freezer.state", "THAWED")
}

// freezeWait bounds how long freeze and thaw wait for the kernel.
const freezeWait = 5 * time.Second

func (cg *cgroup) setFrozen(file, value, stateFile, want string) error {
	dir := cg.ctrl["freezer"]
	if err := writeCgroup(dir, file, value); err != nil {
		return err
	}
	deadline := time.Now().Add(freezeWait)
	for delay := 100 * time.Microsecond; ; delay *= 2 {
		b, err := os.ReadFile(filepath.Join(dir, stateFile))
		if err != nil {
			return fmt.Errorf("read %s: %w", stateFile, err)
		}
		if bytes.Contains(b, []byte(want)) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cgroup %s: %s still %q after %v", dir, stateFile, strings.TrimSpace(string(b)), freezeWait)
		}
		if delay > 20*time.Millisecond {
			delay = 20 * time.Millisecond
		}
		time.Sleep(delay)
	}
}

// removeWait bounds how long remove retries a cgroup the kernel still
// holds.
const removeWait = 2 * time.Second

// remove deletes the instance's directories. A cgroup whose last task has
// just exited can stay busy for a moment, so it retries briefly.
func (cg *cgroup) remove() error {
	if cg == nil {
		return nil
	}
	cg.closePeak()
	var errs []error
	deadline := time.Now().Add(removeWait)
	for _, d := range cg.dirs {
		for delay := 200 * time.Microsecond; ; delay *= 2 {
			err := unix.Rmdir(d)
			if err == nil || err == unix.ENOENT {
				break
			}
			if (err != unix.EBUSY && err != unix.ENOTEMPTY) || time.Now().After(deadline) {
				errs = append(errs, fmt.Errorf("remove cgroup %s: %w", d, err))
				break
			}
			if delay > 50*time.Millisecond {
				delay = 50 * time.Millisecond
			}
			time.Sleep(delay)
		}
	}
	return errors.Join(errs...)
}

func writeCgroup(dir, file, value string) error {
	p := filepath.Join(dir, file)
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(value)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %q to %s: %w", value, p, err)
	}
	return nil
}

func readInt(path string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
}

// readKey reads the value of key in a flat-keyed cgroup file ("key value"
// lines).
func readKey(path, key string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, " ")
		if ok && k == key {
			return strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		}
	}
	return 0, fmt.Errorf("%s has no %s", path, key)
}

// mountedCgroups are the cgroup file systems of this mount namespace.
type mountedCgroups struct {
	v1 map[string]string // controller -> mount point
	v2 string            // the cgroup2 mount point, if any
}

// cgroupMounts reads /proc/self/mountinfo for cgroup file systems.
func cgroupMounts() (mountedCgroups, error) {
	m := mountedCgroups{v1: map[string]string{}}
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return m, fmt.Errorf("find cgroup mounts: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		// id parent major:minor root mountpoint options [optional...] - fstype source superoptions
		fields := strings.Fields(sc.Text())
		sep := -1
		for i, f := range fields {
			if f == "-" {
				sep = i
				break
			}
		}
		if sep < 5 || len(fields) < sep+4 {
			continue
		}
		mnt := unescapeMount(fields[4])
		switch fields[sep+1] {
		case "cgroup2":
			if m.v2 == "" {
				m.v2 = mnt
			}
		case "cgroup":
			for _, opt := range strings.Split(fields[sep+3], ",") {
				switch opt {
				case "memory", "cpu", "cpuacct", "pids", "freezer":
					if _, ok := m.v1[opt]; !ok {
						m.v1[opt] = mnt
					}
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		return m, fmt.Errorf("find cgroup mounts: %w", err)
	}
	return m, nil
}

// unescapeMount decodes the octal escapes (\040 for a space) that
// mountinfo uses in paths.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
