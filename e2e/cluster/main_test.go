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
