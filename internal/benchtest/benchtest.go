// Package benchtest runs the shapes benchmarks here share: many clients
// at once reporting a rate, and one request at a time reporting
// percentiles of latency.
package benchtest

import (
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Clients runs op b.N times over clients goroutines, giving each call
// the op's number (1 to b.N), and reports per × b.N units a second (per
// is how many units one op moves: ten messages of a batch, one item).
func Clients(b *testing.B, clients int, per float64, unit string, op func(i int) error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	b.ResetTimer()
	start := time.Now()
	for range clients {
		wg.Go(func() {
			for i := next.Add(1); i <= int64(b.N); i = next.Add(1) {
				if err := op(int(i)); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	b.ReportMetric(per*float64(b.N)/elapsed.Seconds(), unit)
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
