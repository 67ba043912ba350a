package store

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/aloft-dev/aloft/internal/fault"
)

// TestUnavailableErr: a write the cluster could not answer is of kind
// unavailable and still its backbone error; a refusal, and a caller's
// giving up, are as they were.
func TestUnavailableErr(t *testing.T) {
	for _, c := range []struct {
		err         error
		unavailable bool
	}{
		{jetstream.ErrNoStreamResponse, true},
		{nats.ErrNoResponders, true},
		{nats.ErrTimeout, true},
		{context.DeadlineExceeded, true},
		{&jetstream.APIError{Code: 503, ErrorCode: 10008, Description: "JetStream system temporarily unavailable"}, true},
		{jetstream.ErrKeyExists, false},
		{&jetstream.APIError{Code: 400, ErrorCode: jetstream.JSErrCodeStreamWrongLastSequence, Description: "wrong last sequence"}, false},
		{context.Canceled, false},
	} {
		got := Unavailable(c.err)
		if !errors.Is(got, c.err) {
			t.Errorf("Unavailable(%v) = %v, no longer the backbone's error", c.err, got)
		}
		if is := errors.Is(got, ErrUnavailable); is != c.unavailable {
			t.Errorf("errors.Is(Unavailable(%v), ErrUnavailable) = %v, want %v", c.err, is, c.unavailable)
		}
		want := fault.Internal
		if c.unavailable {
			want = fault.Unavailable
		}
		if k := fault.KindOf(fmt.Errorf("queues: save: %w", got)); k != want {
			t.Errorf("KindOf(Unavailable(%v)) = %v, want %v", c.err, k, want)
		}
	}
	if err := Unavailable(nil); err != nil {
		t.Errorf("Unavailable(nil) = %v", err)
	}
}

// TestRetryGivesUp: a write unanswered every time is tried for tries
// attempts' time, pausing between failures that come at once, and given
// back unavailable; one answered within that time succeeds; a refusal is
// given back at once as it is, and so is the failure of a caller that
// gave up.
func TestRetryGivesUp(t *testing.T) {
	s := &Store{} // no cluster: it always reaches a majority
	calls := 0
	begin := time.Now()
	_, err := retry(context.Background(), s, 10*time.Millisecond, 3, func(context.Context) (int, error) {
		calls++
		return 0, jetstream.ErrNoStreamResponse
	})
	if took := time.Since(begin); calls < 2 || took < 30*time.Millisecond || !errors.Is(err, ErrUnavailable) || !errors.Is(err, jetstream.ErrNoStreamResponse) {
		t.Errorf("unanswered: %d calls in %v, %v; want 2 or more calls in 30 ms or more, unavailable", calls, took, err)
	}

	// No responders at once for a while (a leader being elected), then
	// an answer.
	calls, begin = 0, time.Now()
	v, err := retry(context.Background(), s, 100*time.Millisecond, 5, func(context.Context) (int, error) {
		calls++
		if time.Since(begin) < 150*time.Millisecond {
			return 0, jetstream.ErrNoStreamResponse
		}
		return 7, nil
	})
	if v != 7 || err != nil || calls < 2 {
		t.Errorf("answered after 150 ms: %d, %v after %d calls; want 7", v, err, calls)
	}

	calls = 0
	_, err = retry(context.Background(), s, 10*time.Millisecond, 3, func(context.Context) (int, error) {
		calls++
		return 0, jetstream.ErrKeyExists
	})
	if calls != 1 || err != jetstream.ErrKeyExists {
		t.Errorf("refused: %d calls, %v; want 1 call, the refusal as it is", calls, err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = retry(ctx, s, 10*time.Millisecond, 3, func(ctx context.Context) (int, error) { return 0, ctx.Err() })
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrUnavailable) {
		t.Errorf("caller gone: %v; want context.Canceled, not unavailable", err)
	}
}

// TestWriteWithoutMajority: on the last node of three, a bucket's write
// and a publish fail, soon, as unavailable.
func TestWriteWithoutMajority(t *testing.T) {
	if testing.Short() {
		t.Skip("forms a cluster")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	stores, _ := startTestCluster(t, ctx, []string{freeAddr(t), freeAddr(t), freeAddr(t)}, nil)
	js := stores[0].JetStream()
	var kv jetstream.KeyValue
	var err error
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if kv, err = js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "kept", Replicas: 3}); err == nil {
			_, err = kv.Put(ctx, "k", []byte("before"))
		}
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a write on a whole cluster: %v", err)
		}
	}
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "EVENTS", Subjects: []string{"events.>"}, Replicas: 3}); err != nil {
		t.Fatal(err)
	}
	stores[1].Close()
	stores[2].Close()

	began := time.Now()
	_, err = kv.Put(ctx, "k", []byte("after"))
	took := time.Since(began)
	if k := fault.KindOf(err); err == nil || k != fault.Unavailable || !errors.Is(err, ErrUnavailable) {
		t.Fatalf("a bucket's write on the last node: %v (kind %v), want unavailable", err, k)
	}
	t.Logf("a bucket's write on the last node failed after %v: %v", took.Round(time.Millisecond), err)
	if took > 15*time.Second {
		t.Errorf("the failing write took %v", took)
	}
	_, err = js.Publish(ctx, "events.one", []byte("after"))
	if k := fault.KindOf(err); err == nil || k != fault.Unavailable {
		t.Fatalf("a publish on the last node: %v (kind %v), want unavailable", err, k)
	}
	t.Logf("a publish on the last node: %v", err)
}
