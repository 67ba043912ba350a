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
// flushes, which the benchmark does not start).
func BenchmarkObserveStore(b *testing.B) {
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
	o := invoke.Observation{Function: "bench", Version: "$LATEST", RequestID: "r", Outcome: Succeeded,
		Duration: 2 * time.Millisecond, Arrived: time.Now(), Concurrency: 1, AccountConcurrency: 1, UnreservedConcurrency: 1}
	b.ReportAllocs()
	for b.Loop() {
		p.Observe(&o)
		l.Observe(&o)
	}
}
