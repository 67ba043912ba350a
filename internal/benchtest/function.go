package benchtest

import (
	"fmt"
	"os"
	"os/exec"
)

// StartFunction starts the function executable bootstrap outside any
// sandbox, as a runtime of the Runtime API at api (host:port), named name
// with memoryMB of memory in its environment, its output on stderr;
// scheduled as the linux sandbox schedules a ready instance (StartBatch:
// the SCHED_BATCH class, on the CPUs its memory buys) when batch is set.
// The caller stops it.
func StartFunction(bootstrap, api, name string, memoryMB int, batch bool) (*exec.Cmd, error) {
	cmd := exec.Command(bootstrap)
	cmd.Env = append(os.Environ(), "AWS_LAMBDA_RUNTIME_API="+api, "AWS_LAMBDA_FUNCTION_NAME="+name,
		fmt.Sprint("AWS_LAMBDA_FUNCTION_MEMORY_SIZE=", memoryMB), "_HANDLER=bootstrap")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	start := cmd.Start
	if batch {
		start = func() error { return StartBatch(cmd, memoryMB) }
	}
	if err := start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bootstrap, err)
	}
	return cmd, nil
}
