package e2e

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aloft-dev/aloft/internal/alofttest"
	"github.com/aloft-dev/aloft/internal/benchtest"
)

// riePackage is the AWS Lambda Runtime Interface Emulator, pinned by the
// peers module (e2e/peers/go.mod).
const riePackage = "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie"

var (
	rieOnce sync.Once
	rieBin  string
	rieErr  error
)

// rieBinary builds the emulator once per test binary.
func rieBinary(tb testing.TB) string {
	tb.Helper()
	rieOnce.Do(func() {
		dir, err := os.MkdirTemp("", "aloft-peer-")
		if err != nil {
			rieErr = err
			return
		}
		rieBin = filepath.Join(dir, "aws-lambda-rie")
		cmd := exec.Command("go", "build", "-C", filepath.Join(alofttest.ModuleRoot(tb), "e2e", "peers"), "-o", rieBin, riePackage)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			rieErr = fmt.Errorf("build the emulator: %v\n%s", err, out)
		}
	})
	if rieErr != nil {
		tb.Fatal(rieErr)
	}
	return rieBin
}

// rie is one running emulator with its function.
type rie struct {
	url string // the emulator's invoke URL
	pid int
}

// freeAddr returns a loopback address nothing listens on (just now).
func freeAddr(tb testing.TB) string { return alofttest.FreeAddr(tb) }

// startRIE runs the emulator with the function executable fn as its
// runtime, outside any sandbox, and waits until it answers an
// invocation (its first starts the function). It stops with the test.
func startRIE(tb testing.TB, fn string) *rie {
	tb.Helper()
	addr := freeAddr(tb)
	cmd := exec.Command(rieBinary(tb), "--runtime-interface-emulator-address", addr,
		"--runtime-api-address", freeAddr(tb), "--log-level", "error", fn)
	cmd.Env = append(os.Environ(), "AWS_LAMBDA_FUNCTION_NAME=rie", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=1769", "_HANDLER=bootstrap")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // the function is its child: stop both
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); cmd.Wait() })
	r := &rie{url: "http://" + addr + "/2015-03-31/functions/function/invocations", pid: cmd.Process.Pid}
	client := &http.Client{}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		err := r.invoke(client, []byte(`{"op":"noop"}`))
		if err == nil {
			return r
		}
		if time.Now().After(deadline) {
			tb.Fatalf("the emulator never answered: %v", err)
		}
	}
}

// invoke sends one invocation to the emulator.
func (r *rie) invoke(client *http.Client, payload []byte) error {
	resp, err := client.Post(r.url, "application/json", bytes.NewReader(payload))
	if err != nil {
		return err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "null" {
		return fmt.Errorf("emulator: status %d: %.300s", resp.StatusCode, body)
	}
	return nil
}

// cpuPerOp runs op n times on clients goroutines and returns the CPU
// the processes pids used per op, less what they use idle (measured over
// a quiet second first, scaled to the run's length), and the ops per
// second.
func cpuPerOp(tb testing.TB, pids []int, n, clients int, op func() error) (time.Duration, float64) {
	tb.Helper()
	total := func() time.Duration {
		var t time.Duration
		for _, p := range pids {
			c, err := benchtest.ProcessCPU(p)
			if err != nil {
				tb.Fatal(err)
			}
			t += c
		}
		return t
	}
	idle0, t0 := total(), time.Now()
	time.Sleep(time.Second)
	idleRate := float64(total()-idle0) / float64(time.Since(t0))
	c0 := total()
	el, err := benchtest.Spread(clients, n, func(int) error { return op() })
	used := total() - c0
	if err != nil {
		tb.Fatal(err)
	}
	used -= time.Duration(idleRate * float64(el))
	return max(used, 0) / time.Duration(n), float64(n) / el.Seconds()
}
