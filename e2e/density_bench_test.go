package e2e

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aloft-dev/aloft/internal/alofttest"
)

// BenchmarkDensity measures the memory an idle warm instance holds, per
// runtime: it starts eight instances of a function, lets them go idle
// (and frozen), and sums the proportional set size (PSS, which splits
// shared pages among the processes sharing them) of every process of
// those instances, the sandbox's init included. It reports megabytes per
// instance and how many such instances fit in 4 GB.
func BenchmarkDensity(b *testing.B) {
	const n = 8
	srv := alofttest.Start(b)
	c := srv.Lambda()
	for _, rc := range runtimeCases() {
		name := "bench-density-" + rc.name
		createB(b, c, name, rc.runtime, rc.handler, benchCode(b, rc))
		b.Run(rc.name, func(b *testing.B) {
			var pss float64
			for range b.N {
				var wg sync.WaitGroup
				for range n {
					wg.Add(1)
					go func() {
						defer wg.Done()
						if err := newSignedInvoker(srv, name, []byte(`{"op":"sleep","ms":500}`)).invoke(); err != nil {
							b.Error(err)
						}
					}()
				}
				wg.Wait()
				time.Sleep(1500 * time.Millisecond) // idle, then frozen
				procs, kb := instancesPSS(b, name)
				if procs < n {
					b.Fatalf("found %d processes of %s, want at least %d", procs, name, n)
				}
				pss = float64(kb) / 1024 / n
			}
			b.ReportMetric(pss, "pss-MB/instance")
			b.ReportMetric(4096/pss, "instances/4GB")
		})
	}
}

// instancesPSS finds the processes of the function name (by the
// AWS_LAMBDA_FUNCTION_NAME in their environment) and their sandbox inits,
// and returns how many function processes there are and their total PSS
// in kB.
func instancesPSS(b *testing.B, name string) (procs int, kb int64) {
	b.Helper()
	want := []byte("AWS_LAMBDA_FUNCTION_NAME=" + name + "\x00")
	counted := map[string]bool{}
	add := func(pid string) {
		if counted[pid] {
			return
		}
		counted[pid] = true
		data, err := os.ReadFile(filepath.Join("/proc", pid, "smaps_rollup"))
		if err != nil {
			return
		}
		for _, line := range strings.Split(string(data), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "Pss:" {
				v, _ := strconv.ParseInt(f[1], 10, 64)
				kb += v
			}
		}
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		b.Fatal(err)
	}
	for _, e := range entries {
		pid := e.Name()
		if _, err := strconv.Atoi(pid); err != nil {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", pid, "environ"))
		if err != nil || !bytes.Contains(env, want) {
			continue
		}
		procs++
		add(pid)
		// The sandbox's init, the function's parent, is part of the
		// instance too.
		if ppid := parentOf(pid); ppid != "" {
			if cmd, _ := os.ReadFile(filepath.Join("/proc", ppid, "cmdline")); bytes.Equal(bytes.TrimRight(cmd, "\x00"), []byte("aloft-sandbox-init")) {
				add(ppid)
			}
		}
	}
	return procs, kb
}

func parentOf(pid string) string {
	data, err := os.ReadFile(filepath.Join("/proc", pid, "status"))
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "PPid:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
