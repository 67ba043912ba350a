package mappings

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aloft-dev/aloft/internal/queues"
	"github.com/aloft-dev/aloft/internal/store"
)

// concurrency runs a mapping of a queue holding n messages (BatchSize 1)
// into a fake function that takes 20 ms, and returns the most
// invocations that ran at once.
func concurrency(t *testing.T, n int, reserved int, maxConcurrency *int) int32 {
	t.Helper()
	st, err := store.Open(context.Background(), store.Options{Dir: t.TempDir(), SyncInterval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	q, err := queues.Open(ctx, st.JetStream(), st.Conn(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if _, err := q.Create(ctx, "work", "us-east-1", nil, nil); err != nil {
		t.Fatal(err)
	}
	var msgs []*queues.Message
	for i := range n {
		msgs = append(msgs, &queues.Message{Body: strconv.Itoa(i), Delay: -1})
		if len(msgs) == 10 || i == n-1 {
			q.Send(ctx, "work", msgs)
			msgs = nil
		}
	}
	var running, peak, done atomic.Int32
	var wg sync.WaitGroup
	wg.Add(n)
	d := Deps{Queues: q, Invoke: func(ctx context.Context, name string, payload []byte) ([]byte, string, error) {
		now := running.Add(1)
		for {
			p := peak.Load()
			if now <= p || peak.CompareAndSwap(p, now) {
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
		running.Add(-1)
		if done.Add(1) <= int32(n) {
			wg.Done()
		}
		return nil, "", nil
	}}
	if reserved > 0 {
		d.Reserved = func(string) (int, bool) { return reserved, true }
	}
	s, err := Open(ctx, st.JetStream(), d)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.Start()
	one := 1
	if _, err := s.Create(ctx, "us-east-1", Input{FunctionArn: "arn:aws:lambda:us-east-1:000000000000:function:f",
		EventSourceArn: "arn:aws:sqs:us-east-1:000000000000:work", BatchSize: &one, ScalingConfig: &ScalingConfig{MaximumConcurrency: maxConcurrency}}); err != nil {
		t.Fatal(err)
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(time.Minute):
		t.Fatalf("only %d of %d messages handled", done.Load(), n)
	}
	return peak.Load()
}

func TestPollersScale(t *testing.T) {
	if p := concurrency(t, 300, 0, nil); p <= minPollers {
		t.Errorf("with a backlog the pollers stayed at %d", p)
	}
	three := 3
	if p := concurrency(t, 100, 0, &three); p > 3 {
		t.Errorf("MaximumConcurrency 3, but %d ran at once", p)
	}
	if p := concurrency(t, 100, 2, nil); p > 2 {
		t.Errorf("reserved concurrency 2, but %d ran at once", p)
	}
}
