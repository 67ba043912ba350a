package invoker

import (
	"testing"
	"time"
)

// TestLogRate checks the output bucket: a burst of maxBatch, then
// maxLogRate bytes a second.
func TestLogRate(t *testing.T) {
	var r logRate
	t0 := time.Unix(1000, 0)
	if !r.take(maxBatch, t0) {
		t.Fatal("a first burst of maxBatch bytes refused")
	}
	if r.take(1, t0) {
		t.Fatal("a byte beyond the burst taken")
	}
	if !r.take(maxLogRate/2, t0.Add(500*time.Millisecond)) || r.take(1024, t0.Add(500*time.Millisecond)) {
		t.Fatal("half a second does not give half the rate, exactly")
	}
	if !r.take(maxBatch, t0.Add(time.Hour)) || r.take(1, t0.Add(time.Hour)) {
		t.Fatal("a long pause fills the bucket beyond maxBatch, or not to it")
	}
}
