package store

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// TestProgress: a message tracked is not delivered again while it is
// worked on, for longer than AckWait; once its work ends unsettled it is
// delivered again within AckWait; a tracked message acknowledged is gone.
func TestProgress(t *testing.T) {
	if testing.Short() {
		t.Skip("waits out the ack wait twice")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := Open(ctx, Options{Dir: t.TempDir(), MaxStore: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	js := s.JetStream()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "WORK", Subjects: []string{"work.>"}, Retention: jetstream.WorkQueuePolicy}); err != nil {
		t.Fatal(err)
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, "WORK", jetstream.ConsumerConfig{Durable: "w", AckPolicy: jetstream.AckExplicitPolicy, AckWait: AckWait})
	if err != nil {
		t.Fatal(err)
	}
	for _, subj := range []string{"work.long", "work.short"} {
		if _, err := js.Publish(ctx, subj, []byte(subj)); err != nil {
			t.Fatal(err)
		}
	}
	p := NewProgress()
	defer p.Close()
	fetch := func(wait time.Duration) jetstream.Msg {
		t.Helper()
		b, err := cons.Fetch(1, jetstream.FetchMaxWait(wait))
		if err != nil {
			t.Fatal(err)
		}
		for m := range b.Messages() {
			return m
		}
		return nil
	}
	long := fetch(time.Second)
	if long == nil || string(long.Data()) != "work.long" {
		t.Fatalf("first message %v", long)
	}
	tracked := p.Track(long)
	short := p.Track(fetch(time.Second))
	if err := short.Ack(); err != nil {
		t.Fatal(err)
	}
	if n := p.Working(); n != 1 {
		t.Fatalf("%d messages worked on after one was acknowledged, want 1", n)
	}
	// Worked on for AckWait and a half: not handed out again.
	if m := fetch(AckWait + AckWait/2); m != nil {
		t.Fatalf("%s delivered again while it was worked on", m.Data())
	}
	// Its work ends without settling it: it comes back after AckWait.
	p.End(long)
	ended := time.Now()
	m := fetch(AckWait + 2*time.Second)
	if m == nil || string(m.Data()) != "work.long" {
		t.Fatalf("the message whose work ended was not delivered again within %v", AckWait+2*time.Second)
	}
	if waited := time.Since(ended); waited < AckWait-progressEvery-time.Second {
		t.Fatalf("delivered again %v after its work ended, sooner than the ack wait allows", waited)
	}
	md, err := m.Metadata()
	if err != nil || md.NumDelivered != 2 {
		t.Fatalf("metadata %+v, %v", md, err)
	}
	if err := tracked.Ack(); err != nil {
		t.Log("the first delivery's late acknowledgement:", err)
	}
	if err := m.Ack(); err != nil {
		t.Fatal(err)
	}
}
