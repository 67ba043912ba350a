package linux

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// MountsOpt reports that instances see sandbox.Spec.LayersDir at /opt.
func (*Driver) MountsOpt() bool { return true }

// mountOpt attaches the detached mount tree opt (a function's merged
// layers, read-only) at /opt, where Lambda puts layers. The root is
// still writable here, so the mount point can be made.
func mountOpt(opt int) error {
	if err := os.MkdirAll("/opt", 0o755); err != nil {
		return fmt.Errorf("mount point for the layers: %w", err)
	}
	if err := unix.MoveMount(opt, "", unix.AT_FDCWD, "/opt", unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("mount layers at /opt: %w", err)
	}
	return nil
}
