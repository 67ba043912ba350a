package linux

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/aloft-dev/aloft/internal/sandbox"
)

// TestLayersAtOpt checks that a Spec's LayersDir appears read-only at
// /opt, beside the code at /var/task, and that without one /opt is
// absent.
func TestLayersAtOpt(t *testing.T) {
	d := newDriver(t, Options{})
	layers := t.TempDir()
	if err := os.MkdirAll(filepath.Join(layers, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(layers, "bin", "tool"), []byte("#!/bin/sh\necho layer tool\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	st, out := sh(t, d, `set -e; test "$(/opt/bin/tool)" = "layer tool"; test "$(cat /var/task/handler.txt)" = code; `+
		`! touch /opt/x 2>/dev/null; ! touch /opt/bin/tool 2>/dev/null; ! test -e "`+layers+`"`,
		func(s *sandbox.Spec) { s.LayersDir = layers }).finish(t)
	if st.Code != 0 {
		t.Errorf("with layers: %s\n%s", st, out)
	}
	st, out = sh(t, d, `! test -e /opt`, nil).finish(t)
	if st.Code != 0 {
		t.Errorf("without layers: %s\n%s", st, out)
	}
}
