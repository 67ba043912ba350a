package e2e

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aloft-dev/aloft/internal/alofttest"
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

// clockTick is the unit of /proc's CPU times (USER_HZ, 100 on Linux).
const clockTick = 10 * time.Millisecond

// procCPU is the CPU time (user and system, all threads) process pid has
// used so far.
func procCPU(tb testing.TB, pid int) time.Duration {
	tb.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		tb.Fatal(err)
	}
	// The command name is in parentheses and may hold spaces: count the
	// fields after its closing one (utime and stime are the 14th and 15th
	// of the whole line).
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		tb.Fatalf("/proc/%d/stat: %q", pid, b)
	}
	return time.Duration(utime+stime) * clockTick
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
			t += procCPU(tb, p)
		}
		return t
	}
	idle0, t0 := total(), time.Now()
	time.Sleep(time.Second)
	idleRate := float64(total()-idle0) / float64(time.Since(t0))
	work := make(chan struct{}, n)
	for range n {
		work <- struct{}{}
	}
	close(work)
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	c0, t1 := total(), time.Now()
	for range clients {
		wg.Go(func() {
			for range work {
				if err := op(); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	el := time.Since(t1)
	used := total() - c0
	select {
	case err := <-errs:
		tb.Fatal(err)
	default:
	}
	used -= time.Duration(idleRate * float64(el))
	return max(used, 0) / time.Duration(n), float64(n) / el.Seconds()
}
