//go:build !linux

package benchtest

import "os/exec"

// StartBatch starts cmd; only Linux has the SCHED_BATCH class and CPU
// affinity.
func StartBatch(cmd *exec.Cmd, memoryMB int) error { return cmd.Start() }
