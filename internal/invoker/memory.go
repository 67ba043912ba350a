package invoker

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// DefaultIdleMemory returns the memory, in MB, that idle instances may
// hold when the operator sets no budget: half of the machine's
// (MemTotal in /proc/meminfo).
func DefaultIdleMemory() (int, error) {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, fmt.Errorf("invoker: the machine's memory: %w", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			kb, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			if err != nil || kb <= 0 {
				return 0, fmt.Errorf("invoker: the machine's memory: unreadable MemTotal %q", v)
			}
			return kb / 2048, nil
		}
	}
	return 0, errors.New("invoker: the machine's memory: no MemTotal in /proc/meminfo")
}
