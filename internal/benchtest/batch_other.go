//go:build !linux

package benchtest

import "os/exec"

// StartBatch starts cmd; only Linux has the SCHED_BATCH class.
func StartBatch(cmd *exec.Cmd) error { return cmd.Start() }
