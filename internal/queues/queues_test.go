package queues

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aloft-dev/aloft/internal/fault"
	"github.com/aloft-dev/aloft/internal/store"
)

func open(t testing.TB) *Service {
	return openSync(t, 0)
}

func openSync(t testing.TB, sync time.Duration) *Service {
	t.Helper()
	st, err := store.Open(context.Background(), store.Options{Dir: t.TempDir(), SyncInterval: sync})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	s, err := Open(context.Background(), st.JetStream(), st.Conn(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func code(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

func send(t *testing.T, s *Service, q string, m ...*Message) []Sent {
	t.Helper()
	out, errs, err := s.Send(context.Background(), q, m)
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func TestSendReceiveDelete(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	if _, err := s.Create(ctx, "work", "us-east-1", nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(ctx, "work", "us-east-1", map[string]string{AttrVisibility: "30"}, nil); err != nil {
		t.Fatalf("creating again with the same attributes: %v", err)
	}
	if _, err := s.Create(ctx, "work", "us-east-1", map[string]string{AttrVisibility: "31"}, nil); code(err) != QueueNameExists {
		t.Fatalf("creating again with other attributes: %v, want QueueNameExists", err)
	}
	attrs := map[string]Attribute{"kind": {DataType: "String", StringValue: "x"}}
	sent := send(t, s, "work", &Message{Body: "hello", Delay: -1, Attributes: attrs, Sender: "me"})
	if sent[0].MD5Body != "5d41402abc4b2a76b9719d911017c592" {
		t.Errorf("MD5 of body %s", sent[0].MD5Body)
	}
	got, err := s.Receive(ctx, "work", ReceiveOptions{Max: 10, Visibility: -1, Wait: 0, SystemNames: []string{"All"}, AttributeNames: []string{"All"}})
	if err != nil || len(got) != 1 {
		t.Fatalf("receive: %v %v", got, err)
	}
	m := got[0]
	if m.Body != "hello" || m.ID != sent[0].ID || m.System["ApproximateReceiveCount"] != "1" || m.System["SenderId"] != "me" ||
		m.Attributes["kind"].StringValue != "x" || m.MD5Attributes != sent[0].MD5Attributes {
		t.Fatalf("received %+v", m)
	}
	// Hidden now.
	if again, _ := s.Receive(ctx, "work", ReceiveOptions{Max: 1, Visibility: -1}); len(again) != 0 {
		t.Fatalf("an in-flight message was received again: %+v", again)
	}
	c, err := s.Counts(ctx, "work")
	if err != nil || c.InFlight != 1 || c.Visible != 0 {
		t.Fatalf("counts %+v %v", c, err)
	}
	// Visible again at once.
	if err := s.ChangeVisibility(ctx, "work", m.Handle, 0); err != nil {
		t.Fatal(err)
	}
	got, err = s.Receive(ctx, "work", ReceiveOptions{Max: 1, Visibility: -1, Wait: 2, SystemNames: []string{"ApproximateReceiveCount"}})
	if err != nil || len(got) != 1 || got[0].System["ApproximateReceiveCount"] != "2" {
		t.Fatalf("after ChangeMessageVisibility 0: %+v %v", got, err)
	}
	if err := s.DeleteMessage(ctx, "work", got[0].Handle); err != nil {
		t.Fatal(err)
	}
	if c, _ := s.Counts(ctx, "work"); c != (Counts{}) {
		t.Fatalf("counts after delete: %+v", c)
	}
	// Handles: forged, and another queue's.
	if err := s.DeleteMessage(ctx, "work", "bm90IGEgaGFuZGxl"); code(err) != ReceiptHandleIsInvalid {
		t.Fatalf("forged handle: %v", err)
	}
	s.Create(ctx, "other", "us-east-1", nil, nil)
	if err := s.DeleteMessage(ctx, "other", got[0].Handle); code(err) != ReceiptHandleIsInvalid {
		t.Fatalf("another queue's handle: %v", err)
	}
}

func TestLongPollWakes(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	s.Create(ctx, "poll", "us-east-1", nil, nil)
	go func() {
		time.Sleep(300 * time.Millisecond)
		send(t, s, "poll", &Message{Body: "late", Delay: -1})
	}()
	start := time.Now()
	got, err := s.Receive(ctx, "poll", ReceiveOptions{Max: 10, Visibility: -1, Wait: 10})
	if err != nil || len(got) != 1 {
		t.Fatalf("%+v %v", got, err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("the long poll took %v to wake", d)
	}
	// An empty long poll waits its time.
	start = time.Now()
	got, err = s.Receive(ctx, "poll", ReceiveOptions{Max: 1, Visibility: -1, Wait: 1})
	if err != nil || len(got) != 0 || time.Since(start) < 900*time.Millisecond {
		t.Fatalf("empty poll: %+v %v after %v", got, err, time.Since(start))
	}
}

func TestDelayAndRedrive(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	dlq, _ := s.Create(ctx, "dead", "us-east-1", nil, nil)
	if _, err := s.Create(ctx, "src", "us-east-1", map[string]string{AttrRedrive: `{"deadLetterTargetArn":"` + dlq.ARN + `","maxReceiveCount":"2"}`}, nil); err != nil {
		t.Fatal(err)
	}
	send(t, s, "src", &Message{Body: "later", Delay: 1})
	if got, _ := s.Receive(ctx, "src", ReceiveOptions{Max: 1, Visibility: -1}); len(got) != 0 {
		t.Fatal("a delayed message was visible at once")
	}
	if c, _ := s.Counts(ctx, "src"); c.Delayed != 1 {
		t.Fatalf("counts %+v, want one delayed", c)
	}
	for i := range 2 {
		got, err := s.Receive(ctx, "src", ReceiveOptions{Max: 1, Visibility: 0, Wait: 5})
		if err != nil || len(got) != 1 {
			t.Fatalf("receive %d: %+v %v", i, got, err)
		}
	}
	// The third receive moves it.
	if got, err := s.Receive(ctx, "src", ReceiveOptions{Max: 1, Visibility: -1, Wait: 1}); err != nil || len(got) != 0 {
		t.Fatalf("third receive: %+v %v", got, err)
	}
	got, err := s.Receive(ctx, "dead", ReceiveOptions{Max: 1, Visibility: -1, Wait: 2})
	if err != nil || len(got) != 1 || got[0].Body != "later" {
		t.Fatalf("dead-letter queue: %+v %v", got, err)
	}
	srcs, _ := s.DeadLetterSources("dead")
	if len(srcs) != 1 || srcs[0].Name != "src" {
		t.Fatalf("sources %+v", srcs)
	}
	if err := s.Purge(ctx, "dead"); err != nil {
		t.Fatal(err)
	}
	if err := s.Purge(ctx, "dead"); code(err) != PurgeQueueInProgress {
		t.Fatalf("second purge: %v", err)
	}
}

// A receive that finds its queue's consumer without a leader (no
// responders, as while a cluster elects one after losing its node) asks
// again until it has one, and past leaderWait answers that the queue is
// unavailable, of kind fault.Unavailable (SQS's 503), not an internal
// error.
func TestReceiveWithoutLeader(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	if _, err := s.Create(ctx, "lost", "us-east-1", nil, nil); err != nil {
		t.Fatal(err)
	}
	send(t, s, "lost", &Message{Body: "kept", Delay: -1})
	r, qerr := s.get("lost")
	if qerr != nil {
		t.Fatal(qerr)
	}
	if err := s.js.DeleteConsumer(ctx, r.stream(), consumer); err != nil {
		t.Fatal(err)
	}
	back := make(chan error, 1)
	go func() {
		time.Sleep(300 * time.Millisecond)
		_, err := s.js.CreateOrUpdateConsumer(ctx, r.stream(), consumerConfig(r))
		back <- err
	}()
	got, err := s.Receive(ctx, "lost", ReceiveOptions{Max: 1, Visibility: -1})
	if err := <-back; err != nil {
		t.Fatal(err)
	}
	if err != nil || len(got) != 1 || got[0].Body != "kept" {
		t.Fatalf("receive while the consumer came back: %v, %v", got, err)
	}

	defer func(w time.Duration) { leaderWait = w }(leaderWait)
	leaderWait = 200 * time.Millisecond
	if err := s.js.DeleteConsumer(ctx, r.stream(), consumer); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Receive(ctx, "lost", ReceiveOptions{Max: 1, Visibility: -1}); fault.KindOf(err) != fault.Unavailable {
		t.Fatalf("receive without a consumer: %v, want an error of kind unavailable", err)
	}
}
