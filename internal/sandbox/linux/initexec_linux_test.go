package linux

import (
	"bytes"
	"compress/gzip"
	"flag"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

var update = flag.Bool("update", false, "rebuild the embedded init program, initbin/init.gz")

// The embedded init is the init program built from this package's
// sources: a change to them needs
// `go test ./internal/sandbox/linux -run TestEmbeddedInit -args -update`.
func TestEmbeddedInit(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("the init program is embedded for linux/amd64 only")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no Go toolchain to build the init program with: %v", err)
	}
	out := filepath.Join(t.TempDir(), "init")
	cmd := exec.Command(goBin, "build", "-tags", "aloft_sandbox_init", "-trimpath", "-buildvcs=false",
		"-ldflags=-s -w", "-o", out, "./initbin")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64", "GOFLAGS=")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build the init program: %v\n%s", err, b)
	}
	fresh, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		zw.Write(fresh)
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join("initbin", "init.gz"), buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote initbin/init.gz: %d bytes, %d gzipped", len(fresh), buf.Len())
		return
	}
	zr, err := gzip.NewReader(bytes.NewReader(initGz))
	if err != nil {
		t.Fatal(err)
	}
	embedded, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(fresh, embedded) {
		t.Fatalf("initbin/init.gz is not the init program of these sources built by %s; "+
			"run: go test ./internal/sandbox/linux -run TestEmbeddedInit -args -update", runtime.Version())
	}
}

// A driver runs the embedded init from memory unless told otherwise.
func TestInitProgram(t *testing.T) {
	d := newDriver(t, Options{})
	if d.init.mem == nil || d.init.path == selfExe {
		t.Fatalf("init runs from %q, not the embedded program", d.init.path)
	}
	if out := run(t, d, `echo embedded`, nil); out != "embedded\n" {
		t.Fatalf("output %q", out)
	}
	self := newDriver(t, Options{SelfInit: true})
	if self.init.path != selfExe {
		t.Fatalf("SelfInit runs %q", self.init.path)
	}
	if out := run(t, self, `echo self`, nil); out != "self\n" {
		t.Fatalf("output %q", out)
	}
}
