package async

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/aloft-dev/aloft/internal/function"
	"github.com/aloft-dev/aloft/internal/store"
)

// TestObserveMilestones checks what metrics are told of events: each
// received, each delivery with the event's age, each one given up, and
// dead letters and destination records that could not be sent.
func TestObserveMilestones(t *testing.T) {
	f := &fake{seen: map[string][]*Event{}, failN: map[string]int{"doomed": 99}, config: map[string]*function.EventInvokeConfig{
		"doomed": {MaximumRetryAttempts: ptr(0), DestinationConfig: &function.DestinationConfig{
			OnFailure: &function.Destination{Destination: "arn:aws:sqs:us-east-1:000000000000:failures"}}},
	}, dlq: map[string]string{"doomed": "arn:aws:sns:us-east-1:000000000000:dead"}}
	var mu sync.Mutex
	seen := map[string]map[Milestone]int{}
	var ages []time.Duration
	// The destination, then the dead letter, each fail once.
	sendFails := map[string]int{"arn:aws:sqs:us-east-1:000000000000:failures": 1, "arn:aws:sns:us-east-1:000000000000:dead": 1}
	st, err := store.Open(context.Background(), store.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	q, err := Open(context.Background(), st.JetStream(), Deps{Invoke: f.invoke, Target: f.target, Workers: 2, RetryBase: 50 * time.Millisecond,
		Send: func(_ context.Context, arn string, _ []byte, _ map[string]string) error {
			mu.Lock()
			defer mu.Unlock()
			if sendFails[arn] > 0 {
				sendFails[arn]--
				return errors.New("refused by " + arn)
			}
			return nil
		},
		Observe: func(fn string, m Milestone, age time.Duration) {
			mu.Lock()
			defer mu.Unlock()
			if seen[fn] == nil {
				seen[fn] = map[Milestone]int{}
			}
			seen[fn][m]++
			if m == Delivering {
				ages = append(ages, age)
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	q.Start()
	t.Cleanup(func() { q.Close(context.Background()) })
	ctx := context.Background()
	for _, fn := range []string{"fine", "doomed"} {
		if err := q.Enqueue(ctx, &Event{ID: "id-" + fn, Function: fn, Enqueued: time.Now().Add(-2 * time.Second).UnixMilli()}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the doomed event given up", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return seen["doomed"][Dropped] == 1
	})
	mu.Lock()
	defer mu.Unlock()
	if s := seen["fine"]; s[Received] != 1 || s[Delivering] != 1 || s[Dropped] != 0 {
		t.Errorf("fine: %v", s)
	}
	// The destination fails on the first settling, the dead letter on
	// the second; each time the event is delivered again.
	if s := seen["doomed"]; s[Received] != 1 || s[DestinationFailed] != 1 || s[DeadLetterFailed] != 1 || s[Delivering] < 3 {
		t.Errorf("doomed: %v", s)
	}
	for _, a := range ages {
		if a < 2*time.Second || a > time.Minute {
			t.Errorf("an event enqueued 2 s ago was delivered at age %v", a)
		}
	}
}
