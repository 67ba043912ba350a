package benchtest

import (
	"fmt"
	"os/exec"
	"runtime"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// StartBatch starts cmd in the SCHED_BATCH scheduling class, the one the
// linux sandbox gives functions, and, when memoryMB buys fewer CPUs than
// the caller may use (one per 1,769 MB, rounded up), on that many of
// them, taken in turn, as the sandbox pins a ready instance: so that a
// peer's function process is scheduled as Aloft's are. It forks from a
// thread of its own that takes the class and the CPUs and ends with its
// goroutine, so the caller's threads keep theirs. Unlike the sandbox,
// which carries on in the default class, it fails where the host refuses
// the class: a peer measured in another class than Aloft's functions
// would not be a like-for-like baseline.
func StartBatch(cmd *exec.Cmd, memoryMB int) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
		attr := unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_BATCH}
		if err := unix.SchedSetAttr(0, &attr, 0); err != nil {
			errc <- fmt.Errorf("sched_setattr SCHED_BATCH: %w", err)
			return
		}
		if set, ok := cpusFor(memoryMB); ok {
			if err := unix.SchedSetaffinity(0, set); err != nil {
				errc <- fmt.Errorf("sched_setaffinity: %w", err)
				return
			}
		}
		errc <- cmd.Start()
	}()
	return <-errc
}

// nextCPU is where cpusFor's turn starts.
var nextCPU atomic.Int64

// cpusFor returns the CPUs a function of memoryMB gets, in turn, and
// false when it may run on all the caller's.
func cpusFor(memoryMB int) (*unix.CPUSet, bool) {
	var all unix.CPUSet
	if err := unix.SchedGetaffinity(0, &all); err != nil {
		return nil, false
	}
	var cpus []int
	for c := range len(all) * 64 {
		if all.IsSet(c) {
			cpus = append(cpus, c)
		}
	}
	n := max(1, (memoryMB+1768)/1769)
	if n >= len(cpus) {
		return nil, false
	}
	start := int(nextCPU.Add(int64(n)) - int64(n))
	var set unix.CPUSet
	for k := range n {
		set.Set(cpus[(start+k)%len(cpus)])
	}
	return &set, true
}
