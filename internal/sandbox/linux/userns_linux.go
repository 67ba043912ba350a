package linux

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// InUserNamespace reports whether this process runs in a user namespace
// other than the host's first one, where root is not the host's root:
// its uid_map does not map every id to itself.
func InUserNamespace() bool {
	b, err := os.ReadFile("/proc/self/uid_map")
	if err != nil {
		return false
	}
	return strings.Join(strings.Fields(string(b)), " ") != "0 0 4294967295"
}

// UserNamespacesWork reports whether this process may create a user
// namespace (hosts can forbid it to unprivileged users, with
// user.max_user_namespaces or a security module), by starting a child in
// one that executes a directory: the clone and the id maps come first,
// so EACCES from execve means they worked, while nothing runs that could
// mistake the probe for an order.
func UserNamespacesWork() error {
	pid, err := syscall.ForkExec("/", []string{"/"}, &syscall.ProcAttr{Sys: userNSAttr()})
	if err == nil {
		// Not expected; do not leave it behind.
		unix.Kill(pid, unix.SIGKILL)
		var ws unix.WaitStatus
		unix.Wait4(pid, &ws, 0, nil)
		return nil
	}
	if errors.Is(err, unix.EACCES) {
		return nil
	}
	return fmt.Errorf("create a user namespace: %w", err)
}

// userNSAttr clones into new user and mount namespaces where the caller's
// user and group are root and no other id exists.
func userNSAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{
		Cloneflags:                 unix.CLONE_NEWUSER | unix.CLONE_NEWNS,
		UidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}},
		GidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}},
		GidMappingsEnableSetgroups: false,
		Pdeathsig:                  syscall.SIGKILL,
	}
}

// RunInUserNamespace runs this program again, with the same arguments,
// environment and standard streams, as root of a new user namespace that
// maps only the caller's own user and group, in a mount namespace of its
// own. There the driver can build sandboxes without the host's root: the
// namespaces it makes belong to that user namespace, and nothing in them
// can do more on the host than the caller could. When the caller runs in
// a cgroup v2 delegated to its user, and alone there, it first moves into
// a cgroup below it (aloft-server), where the program is then started, so
// that the driver can give the delegated cgroup's other children the
// controllers instance limits need; once the program has exited it moves
// back and undoes what the driver set up there, when nothing is left
// running. When ctx ends the program gets SIGTERM; if the caller dies,
// SIGKILL. It returns the program's exit code.
func RunInUserNamespace(ctx context.Context) (int, error) {
	if err := UserNamespacesWork(); err != nil {
		return 0, err
	}
	defer enterServerLeaf()()
	// The parent-death signal follows the thread that started the child.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cmd := exec.Command("/proc/self/exe", os.Args[1:]...)
	cmd.Args[0] = os.Args[0]
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.SysProcAttr = userNSAttr()
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("run in a user namespace: %w", err)
	}
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-ctx.Done():
			cmd.Process.Signal(syscall.SIGTERM)
		case <-done:
		}
	}()
	err := cmd.Wait()
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return 0, nil
	case errors.As(err, &exitErr):
		if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal()), nil
		}
		return exitErr.ExitCode(), nil
	}
	return 0, fmt.Errorf("run in a user namespace: %w", err)
}
