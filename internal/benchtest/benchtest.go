// Package benchtest runs the shapes benchmarks here share: many clients
// at once reporting a rate, and one request at a time reporting
// percentiles of latency.
package benchtest

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Clients runs op b.N times over clients goroutines, giving each call
// the op's number (1 to b.N), and reports per × b.N units a second (per
// is how many units one op moves: ten messages of a batch, one item).
func Clients(b *testing.B, clients int, per float64, unit string, op func(i int) error) {
	b.ResetTimer()
	elapsed, err := Spread(clients, b.N, func(i int) error { return op(i + 1) })
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(per*float64(b.N)/elapsed.Seconds(), unit)
}

// Spread runs op n times over clients goroutines, giving each call the
// op's number (0 to n-1), and returns how long they took together. The
// first error stops every goroutine before its next op and is returned.
func Spread(clients, n int, op func(i int) error) (time.Duration, error) {
	var next atomic.Int64
	var failed atomic.Pointer[error]
	var wg sync.WaitGroup
	start := time.Now()
	for range clients {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < int64(n) && failed.Load() == nil; i = next.Add(1) - 1 {
				if err := op(int(i)); err != nil {
					failed.CompareAndSwap(nil, &err)
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err := failed.Load(); err != nil {
		return elapsed, *err
	}
	return elapsed, nil
}

// clockTick is the unit of /proc's CPU times (USER_HZ, 100 on Linux).
const clockTick = 10 * time.Millisecond

// ProcessCPU returns the user and system CPU the processes pids have used
// so far, from /proc (in steps of 10 ms).
func ProcessCPU(pids ...int) (time.Duration, error) {
	var total time.Duration
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return 0, fmt.Errorf("CPU time of process %d: %w", pid, err)
		}
		// The command name is in parentheses and may hold spaces: count
		// the fields after its closing one (utime and stime are the 14th
		// and 15th of the whole line).
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(f) < 13 {
			return 0, fmt.Errorf("CPU time of process %d: %q", pid, b)
		}
		utime, err1 := strconv.ParseInt(f[11], 10, 64)
		stime, err2 := strconv.ParseInt(f[12], 10, 64)
		if err1 != nil || err2 != nil {
			return 0, fmt.Errorf("CPU time of process %d: %q", pid, b)
		}
		total += time.Duration(utime+stime) * clockTick
	}
	return total, nil
}

// Latencies runs op b.N times, one after another, and reports the median
// and 99th percentile in unit ("µs" or "ms").
func Latencies(b *testing.B, unit string, op func(i int) error) {
	lat := make([]time.Duration, b.N)
	b.ResetTimer()
	first := time.Now()
	for i := range b.N {
		start := time.Now()
		if err := op(i); err != nil {
			b.Fatalf("op %d, %v in: %v", i, time.Since(first), err)
		}
		lat[i] = time.Since(start)
	}
	b.StopTimer()
	Report(b, unit, lat)
}

// Report reports the median and 99th percentile of lat in unit ("µs" or
// "ms") as p50-<unit> and p99-<unit>.
func Report(b *testing.B, unit string, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	scale := float64(time.Microsecond)
	if unit == "ms" {
		scale = float64(time.Millisecond)
	}
	s := slices.Clone(lat)
	slices.Sort(s)
	at := func(p float64) float64 { return float64(s[min(len(s)-1, int(float64(len(s))*p))]) / scale }
	b.ReportMetric(at(0.5), "p50-"+unit)
	b.ReportMetric(at(0.99), "p99-"+unit)
}
