package linux

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// cpuPlacer gives each ready instance the CPUs it runs on: as many as
// its memory buys (one per mbPerCPU, rounded up, as its quota counts
// them), those with the fewest instances first. An instance of up to
// 1769 MB thus runs on one CPU, which is all its quota lets it use
// anyway: its runtime's threads hand work to each other on that CPU
// instead of waking each other across CPUs (a Go runtime also sizes
// itself to one processor), which at 16 busy instances on two CPUs
// takes about 40 % of their CPU time per invocation away. An instance
// that may use every CPU is not pinned.
type cpuPlacer struct {
	cpus []int // the CPUs the server may run on

	mu   sync.Mutex
	use  []int // guarded by mu: the instances placed on each of cpus
	next int   // guarded by mu: where take's search starts
}

// newCPUPlacer returns a placer over the CPUs the server may use, or nil
// when there is only one (or they cannot be read): nothing is pinned.
func newCPUPlacer() *cpuPlacer {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return nil
	}
	var cpus []int
	for c := range len(set) * 64 {
		if set.IsSet(c) {
			cpus = append(cpus, c)
		}
	}
	if len(cpus) < 2 {
		return nil
	}
	return &cpuPlacer{cpus: cpus, use: make([]int, len(cpus))}
}

// take places an instance of memoryMB: it returns the indexes (in
// p.cpus) of the CPUs it gets, or nil when it may run on all of them.
func (p *cpuPlacer) take(memoryMB int) []int {
	if p == nil {
		return nil
	}
	n := max(1, (memoryMB+mbPerCPU-1)/mbPerCPU)
	if n >= len(p.cpus) {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	got := make([]int, 0, n)
	for range n {
		best := -1
		for k := range p.use { // from a rotating start: ties go round
			i := (p.next + k) % len(p.use)
			if (best < 0 || p.use[i] < p.use[best]) && !slices.Contains(got, i) {
				best = i
			}
		}
		got = append(got, best)
		p.use[best]++
	}
	p.next = (p.next + 1) % len(p.use)
	return got
}

// give returns the CPUs take gave.
func (p *cpuPlacer) give(got []int) {
	if p == nil || got == nil {
		return
	}
	p.mu.Lock()
	for _, i := range got {
		p.use[i]--
	}
	p.mu.Unlock()
}

// set returns the affinity mask of the CPUs take gave.
func (p *cpuPlacer) set(got []int) *unix.CPUSet {
	var set unix.CPUSet
	for _, i := range got {
		set.Set(p.cpus[i])
	}
	return &set
}

// threadsFile is the file listing the thread ids of the cgroup.
func (cg *cgroup) threadsFile() string {
	if cg.v2 {
		return filepath.Join(cg.ctrl["cpu"], "cgroup.threads")
	}
	return filepath.Join(cg.ctrl["cpu"], "tasks")
}

// maxPinPasses bounds pin's passes over a cgroup whose threads keep
// starting others.
const maxPinPasses = 8

// all returns the affinity mask of every CPU the server may use.
func (p *cpuPlacer) all() *unix.CPUSet {
	every := make([]int, len(p.cpus))
	for i := range every {
		every[i] = i
	}
	return p.set(every)
}

// pin sets the CPU affinity of every thread in the cgroup to set. A thread
// started while a pass runs, by a thread the pass had not reached yet,
// has its creator's old affinity, so pin goes over the threads again
// until a pass finds none it has not set; threads started after that
// inherit the new affinity. A thread that ended meanwhile is passed over.
func (cg *cgroup) pin(set *unix.CPUSet) error {
	if cg == nil {
		return nil
	}
	done := map[int]bool{}
	for range maxPinPasses {
		b, err := os.ReadFile(cg.threadsFile())
		if err != nil {
			return fmt.Errorf("pin to CPUs: %w", err)
		}
		fresh := false
		for _, f := range strings.Fields(string(b)) {
			tid, err := strconv.Atoi(f)
			if err != nil || tid <= 0 || done[tid] {
				continue
			}
			fresh, done[tid] = true, true
			if err := unix.SchedSetaffinity(tid, set); err != nil && !errors.Is(err, unix.ESRCH) {
				return fmt.Errorf("pin thread %d to CPUs: %w", tid, err)
			}
		}
		if !fresh {
			return nil
		}
	}
	return errors.New("pin to CPUs: the instance keeps starting threads")
}
