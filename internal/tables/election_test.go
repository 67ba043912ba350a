package tables

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/aloft-dev/aloft/internal/fault"
	"github.com/aloft-dev/aloft/internal/itemexpr"
	"github.com/aloft-dev/aloft/internal/store"
)

// electingBackbone is the backbone as a node of a cluster sees it while a
// stream elects its leader: stream look-ups go unanswered while lookups
// is set, and writes are given up as unavailable (the clustered store's
// ErrUnavailable around "no responders") while writes is.
type electingBackbone struct {
	jetstream.JetStream
	lookups, writes atomic.Bool
}

func (b *electingBackbone) Stream(ctx context.Context, name string) (jetstream.Stream, error) {
	if b.lookups.Load() {
		return nil, nats.ErrNoResponders
	}
	return b.JetStream.Stream(ctx, name)
}

func (b *electingBackbone) PublishMsg(ctx context.Context, m *nats.Msg, opts ...jetstream.PublishOpt) (*jetstream.PubAck, error) {
	if b.writes.Load() {
		return nil, fmt.Errorf("%w: %w", store.ErrUnavailable, nats.ErrNoResponders)
	}
	return b.JetStream.PublishMsg(ctx, m, opts...)
}

// An election is not a table gone: a conditional write that fails its
// condition, a strongly consistent read and a write, each meeting a
// backbone that does not answer, fail with an error of kind
// fault.Unavailable (DynamoDB's 503, which clients send again), not
// ResourceNotFoundException, and work once it answers.
func TestElectionIsNotATableGone(t *testing.T) {
	st := openStore(t)
	js := &electingBackbone{JetStream: st.JetStream()}
	s, err := Open(context.Background(), js, st.Conn(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	ctx := context.Background()
	ordersTable(t, s)
	ada := it(t, `{"customer":{"S":"ada"},"n":{"N":"7"}}`)
	if _, err := s.PutItem(ctx, "orders", ada, Condition{}); err != nil {
		t.Fatal(err)
	}
	notThere, _ := itemexpr.ParseCondition("ConditionExpression", "attribute_not_exists(customer)", &itemexpr.Params{})

	js.lookups.Store(true)
	if _, err := s.PutItem(ctx, "orders", ada, Condition{Expr: notThere}); fault.KindOf(err) != fault.Unavailable {
		t.Errorf("a conditional put during an election: %v (%s), want an error of kind unavailable", err, errType(err))
	}
	if _, err := s.GetItem(ctx, "orders", ada, true); fault.KindOf(err) != fault.Unavailable {
		t.Errorf("a strongly consistent read during an election: %v (%s), want an error of kind unavailable", err, errType(err))
	}
	js.lookups.Store(false)
	js.writes.Store(true)
	other := it(t, `{"customer":{"S":"ada"},"n":{"N":"8"}}`)
	if _, err := s.PutItem(ctx, "orders", other, Condition{}); fault.KindOf(err) != fault.Unavailable {
		t.Errorf("a put the cluster could not take: %v (%s), want an error of kind unavailable", err, errType(err))
	}
	js.writes.Store(false)

	if _, err := s.PutItem(ctx, "orders", other, Condition{}); err != nil {
		t.Fatalf("a put once the backbone answers: %v", err)
	}
	if _, err := s.PutItem(ctx, "orders", ada, Condition{Expr: notThere}); errType(err) != "ConditionalCheckFailedException" {
		t.Fatalf("a conditional put once the backbone answers: %v", err)
	}
	if got, err := s.GetItem(ctx, "orders", other, true); err != nil || got == nil {
		t.Fatalf("a strongly consistent read once the backbone answers: %v, %v", got, err)
	}
}
