package observe

import (
	"context"
	"testing"
	"time"

	"github.com/aloft-dev/aloft/internal/invoke"
	"github.com/aloft-dev/aloft/internal/metrics"
	"github.com/aloft-dev/aloft/internal/store"
)

// BenchmarkObserveStore is BenchmarkObserve with the AWS/Lambda feed
// recording into the CloudWatch metrics store (in memory until it
// flushes, which the benchmark does not start) on the invocation's path;
// BenchmarkObserveNoted with the feed's Run recording off it.
func BenchmarkObserveStore(b *testing.B) { benchStore(b, false) }

func BenchmarkObserveNoted(b *testing.B) { benchStore(b, true) }

func benchStore(b *testing.B, run bool) {
	st, err := store.Open(context.Background(), store.Options{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	ms, err := metrics.Open(context.Background(), st.JetStream(), metrics.Options{})
	if err != nil {
		b.Fatal(err)
	}
	p := NewPrometheus(Sources{})
	var l Lambda
	l.SetRecorder(ms)
	if run {
		stop, done := make(chan struct{}), make(chan struct{})
		go func() { l.Run(stop); close(done) }()
		b.Cleanup(func() { close(stop); <-done })
		time.Sleep(10 * time.Millisecond)
	}
	o := invoke.Observation{Function: "bench", Version: "$LATEST", RequestID: "r", Outcome: Succeeded,
		Duration: 2 * time.Millisecond, Arrived: time.Now(), Concurrency: 1, AccountConcurrency: 1, UnreservedConcurrency: 1}
	b.ReportAllocs()
	for b.Loop() {
		p.Observe(&o)
		l.Observe(&o)
	}
}
