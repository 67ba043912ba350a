package benchtest

import (
	"fmt"
	"os/exec"
	"runtime"

	"golang.org/x/sys/unix"
)

// StartBatch starts cmd in the SCHED_BATCH scheduling class, the one the
// linux sandbox gives functions, so that a peer's function process is
// scheduled as Aloft's are. It forks from a thread of its own that takes
// the class and ends with its goroutine, so the caller's threads keep
// theirs. Unlike the sandbox, which carries on in the default class, it
// fails where the host refuses the class: a peer measured in another class
// than Aloft's functions would not be a like-for-like baseline.
func StartBatch(cmd *exec.Cmd) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
		attr := unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_BATCH}
		if err := unix.SchedSetAttr(0, &attr, 0); err != nil {
			errc <- fmt.Errorf("sched_setattr SCHED_BATCH: %w", err)
			return
		}
		errc <- cmd.Start()
	}()
	return <-errc
}
