package linux

import (
	"bytes"
	"compress/gzip"
	"context"
	"flag"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"
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

// A driver runs the embedded init from memory unless told otherwise; the
// init is named aloft-init on the host either way.
func TestInitProgram(t *testing.T) {
	d := newDriver(t, Options{})
	if d.init.mem == nil || d.init.path == selfExe {
		t.Fatalf("init runs from %q, not the embedded program", d.init.path)
	}
	self := newDriver(t, Options{SelfInit: true})
	if self.init.path != selfExe {
		t.Fatalf("SelfInit runs %q", self.init.path)
	}
	for _, d := range []*Driver{d, self} {
		p := sh(t, d, `echo ready; sleep 30`, nil)
		if l := readLine(t, p); l != "ready" {
			t.Fatalf("%s: got %q", d.init.path, l)
		}
		comm, err := os.ReadFile("/proc/" + strconv.Itoa(p.Instance.(*instance).PID()) + "/comm")
		if err != nil || string(comm) != "aloft-init\n" {
			t.Errorf("%s: the init is named %q (%v), want aloft-init", d.init.path, comm, err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		err = p.Stop(ctx, 0)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
	}
}
