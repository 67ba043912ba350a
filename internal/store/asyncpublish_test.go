package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// TestAsyncPublishUnansweredEnds checks that an asynchronous publish no
// stream answers (here a subject with a listener that never replies, as
// a stream with no leader is) fails after asyncPublishTimeout rather than
// leaving its caller waiting for ever.
func TestAsyncPublishUnansweredEnds(t *testing.T) {
	s, err := Open(context.Background(), Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sub, err := s.Conn().SubscribeSync("silent.>")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	began := time.Now()
	f, err := s.JetStream().PublishMsgAsync(&nats.Msg{Subject: "silent.x", Data: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sub.NextMsg(5 * time.Second); err != nil {
		t.Fatalf("the publish never went out: %v", err)
	}
	select {
	case <-f.Ok():
		t.Fatal("an unanswered publish succeeded")
	case err := <-f.Err():
		took := time.Since(began)
		if !errors.Is(err, jetstream.ErrAsyncPublishTimeout) {
			t.Fatalf("an unanswered publish failed with %v, want %v", err, jetstream.ErrAsyncPublishTimeout)
		}
		if took < asyncPublishTimeout-time.Second {
			t.Fatalf("an unanswered publish failed after %v, sooner than %v", took, asyncPublishTimeout)
		}
	case <-time.After(asyncPublishTimeout + 5*time.Second):
		t.Fatalf("an unanswered publish still waits after %v", asyncPublishTimeout+5*time.Second)
	}
}
