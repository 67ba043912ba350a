// Package sandboxtest is the conformance suite every sandbox driver passes.
package sandboxtest

import (
	"context"
	"io"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/aloft-dev/aloft/internal/sandbox"
)

// Run runs the conformance suite against d.
func Run(t *testing.T, d sandbox.Driver) {
	t.Run("OutputEnvAndExitCode", func(t *testing.T) { testOutput(t, d) })
	t.Run("StopKillsTree", func(t *testing.T) { testStop(t, d) })
	t.Run("StopEscalatesToKill", func(t *testing.T) { testStopIgnoringTerm(t, d) })
	t.Run("SignalledExit", func(t *testing.T) { testSignalled(t, d) })
}

func spec(t *testing.T, script string) (sandbox.Spec, *os.File) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	dir := t.TempDir()
	return sandbox.Spec{
		ID: "t", Argv: []string{"/bin/sh", "-c", script}, Env: []string{"GREETING=hi", "PATH=/usr/bin:/bin"},
		Dir: dir, CodeDir: dir, TmpDir: t.TempDir(), MemoryMB: 128, Output: w,
	}, r
}

func start(t *testing.T, d sandbox.Driver, s sandbox.Spec) sandbox.Instance {
	t.Helper()
	in, err := d.Start(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Stop(context.Background(), 0) })
	return in
}

func wait(t *testing.T, in sandbox.Instance) sandbox.ExitStatus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := in.Wait(ctx)
	if err != nil {
		t.Fatalf("wait: %v", err)
	}
	return st
}

func testOutput(t *testing.T, d sandbox.Driver) {
	s, r := spec(t, `echo "$GREETING from $(pwd)"; echo oops >&2; exit 3`)
	in := start(t, d, s)
	st := wait(t, in)
	s.Output.Close()
	out, _ := io.ReadAll(r)
	if want := "hi from " + s.Dir + "\noops\n"; string(out) != want {
		t.Errorf("output got %q, want %q", out, want)
	}
	if st.Code != 3 || st.String() != "exit status 3" {
		t.Errorf("status got %+v (%s), want exit status 3", st, st)
	}
}

func testStop(t *testing.T, d sandbox.Driver) {
	s, r := spec(t, `sleep 1000 & echo started; wait`)
	in := start(t, d, s)
	var buf [32]byte
	r.Read(buf[:])
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := in.Stop(ctx, time.Second); err != nil {
		t.Fatal(err)
	}
	select {
	case <-in.Done():
	default:
		t.Fatal("Done not closed after Stop")
	}
	// Every process of the instance holds its output open: the output
	// reaches end of file only when the whole tree is gone. (PIDs cannot be
	// compared, as a driver may give the instance its own PID namespace.)
	s.Output.Close()
	r.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.ReadAll(r); err != nil {
		t.Fatalf("a process of the instance still holds its output after Stop: %v", err)
	}
}

func testStopIgnoringTerm(t *testing.T, d sandbox.Driver) {
	s, r := spec(t, `trap '' TERM; echo ready; while :; do sleep 0.05; done`)
	in := start(t, d, s)
	var buf [8]byte
	r.Read(buf[:])
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	t0 := time.Now()
	if err := in.Stop(ctx, 200*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(t0); el < 200*time.Millisecond {
		t.Errorf("stop returned after %v, before the grace period", el)
	}
	if st := wait(t, in); st.Signal != syscall.SIGKILL {
		t.Errorf("status got %s, want signal: killed", st)
	}
}

func testSignalled(t *testing.T, d sandbox.Driver) {
	s, _ := spec(t, `kill -SEGV $$`)
	in := start(t, d, s)
	if st := wait(t, in); st.Signal != syscall.SIGSEGV || st.String() != "signal: segmentation fault" {
		t.Errorf("status got %+v (%s), want signal: segmentation fault", st, st)
	}
}
