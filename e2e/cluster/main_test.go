// Package cluster holds the end-to-end tests of several aloft servers run
// as the nodes of one cluster: real server processes on loopback, used
// through the AWS SDK, stopped, killed and restarted.
package cluster

import (
	"os"
	"testing"

	"github.com/aloft-dev/aloft/internal/alofttest"
)

// TestMain runs the tests and removes the server binary they built.
func TestMain(m *testing.M) {
	code := m.Run()
	alofttest.Cleanup()
	os.Exit(code)
}
