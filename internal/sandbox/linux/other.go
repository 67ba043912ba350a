//go:build !linux

package linux

import (
	"context"
	"errors"

	"github.com/aloft-dev/aloft/internal/sandbox"
)

// Init does nothing outside Linux.
func Init() {}

// Driver is unavailable outside Linux; New always fails.
type Driver struct{}

var _ sandbox.Driver = (*Driver)(nil)

var errNotLinux = errors.New("linux sandbox: only available on Linux")

// New reports that the driver needs Linux.
func New(Options) (*Driver, error) { return nil, errNotLinux }

// Name returns "linux".
func (*Driver) Name() string { return "linux" }

// Start always fails outside Linux.
func (*Driver) Start(context.Context, sandbox.Spec) (sandbox.Instance, error) {
	return nil, errNotLinux
}

// HasCgroups reports false outside Linux.
func (*Driver) HasCgroups() bool { return false }

// Close does nothing outside Linux.
func (*Driver) Close() error { return nil }

// InUserNamespace reports false outside Linux.
func InUserNamespace() bool { return false }

// UserNamespacesWork reports that user namespaces need Linux.
func UserNamespacesWork() error { return errNotLinux }

// RunInUserNamespace fails outside Linux.
func RunInUserNamespace(context.Context) (int, error) { return 0, errNotLinux }
