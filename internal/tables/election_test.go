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
	st, err := b.JetStream.Stream(ctx, name)
	if err != nil {
		return nil, err
	}
	return electingStream{Stream: st, b: b}, nil
}

// electingStream is a stream of an electingBackbone: while its lookups
// are set, its reads go unanswered too, as a handle looked up before
// the election meets them.
type electingStream struct {
	jetstream.Stream
	b *electingBackbone
}

func (st electingStream) Info(ctx context.Context, opts ...jetstream.StreamInfoOpt) (*jetstream.StreamInfo, error) {
	if st.b.lookups.Load() {
		return nil, context.DeadlineExceeded
	}
	return st.Stream.Info(ctx, opts...)
}

func (st electingStream) GetMsg(ctx context.Context, seq uint64, opts ...jetstream.GetMsgOpt) (*jetstream.RawStreamMsg, error) {
	if st.b.lookups.Load() {
		return nil, nats.ErrNoResponders
	}
	return st.Stream.GetMsg(ctx, seq, opts...)
}

func (st electingStream) GetLastMsgForSubject(ctx context.Context, subject string) (*jetstream.RawStreamMsg, error) {
	if st.b.lookups.Load() {
		return nil, nats.ErrNoResponders
	}
	return st.Stream.GetLastMsgForSubject(ctx, subject)
}

func (b *electingBackbone) PublishMsg(ctx context.Context, m *nats.Msg, opts ...jetstream.PublishOpt) (*jetstream.PubAck, error) {
	if b.writes.Load() {
		return nil, fmt.Errorf("%w: %w", store.ErrUnavailable, nats.ErrNoResponders)
	}
	return b.JetStream.PublishMsg(ctx, m, opts...)
}

// electingOrders is a service on an electingBackbone, with the orders
// table made.
func electingOrders(t *testing.T) (*Service, *electingBackbone) {
	t.Helper()
	st := openStore(t)
	js := &electingBackbone{JetStream: st.JetStream()}
	s, err := Open(context.Background(), js, st.Conn(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	ordersTable(t, s)
	return s, js
}

// An election is not a table gone: a conditional write that fails its
// condition, a strongly consistent read and a write, each meeting a
// backbone that does not answer, fail with an error of kind
// fault.Unavailable (DynamoDB's 503, which clients send again), not
// ResourceNotFoundException, and work once it answers.
func TestElectionIsNotATableGone(t *testing.T) {
	s, js := electingOrders(t)
	ctx := context.Background()
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

// A table's stream read during an election answers that the service is
// unavailable for the moment (DynamoDB's 503), rather than failing as
// the server's own fault, or describing the stream without its records,
// and reads as before once the backbone answers.
func TestStreamsDuringAnElection(t *testing.T) {
	s, js := electingOrders(t)
	ctx := context.Background()
	d, err := s.SetStream(ctx, "orders", true, "NEW_IMAGE")
	if err != nil {
		t.Fatal(err)
	}
	arn := d.StreamARN()
	if _, err := s.PutItem(ctx, "orders", it(t, `{"customer":{"S":"ada"},"n":{"N":"7"}}`), Condition{}); err != nil {
		t.Fatal(err)
	}
	desc, err := s.DescribeStream(ctx, arn)
	if err != nil || desc.First == 0 {
		t.Fatalf("the stream before the election: %+v, %v", desc, err)
	}
	shard := ShardID(desc)
	trim, err := s.Iterator(ctx, arn, shard, "TRIM_HORIZON", 0)
	if err != nil {
		t.Fatal(err)
	}
	if recs, _, err := s.Records(ctx, trim, 10); err != nil || len(recs) != 1 {
		t.Fatalf("the records before the election: %d, %v", len(recs), err)
	}

	js.lookups.Store(true)
	unavailable := func(what string, err error) {
		t.Helper()
		if fault.KindOf(err) != fault.Unavailable {
			t.Errorf("%s during an election: %v (%s), want an error of kind unavailable", what, err, errType(err))
		}
	}
	_, err = s.DescribeStream(ctx, arn)
	unavailable("DescribeStream", err)
	_, err = s.Iterator(ctx, arn, shard, "LATEST", 0)
	unavailable("a LATEST iterator", err)
	_, _, err = s.Records(ctx, trim, 10)
	unavailable("GetRecords", err)
	_, err = s.StreamStart(ctx, arn, "LATEST")
	unavailable("a mapping's start at LATEST", err)
	_, err = s.SetStream(ctx, "orders", false, "")
	unavailable("disabling the stream", err)
	js.lookups.Store(false)

	if got, err := s.DescribeStream(ctx, arn); err != nil || got.First != desc.First || !got.Enabled {
		t.Errorf("the stream once the backbone answers: %+v, %v", got, err)
	}
	if recs, _, err := s.Records(ctx, trim, 10); err != nil || len(recs) != 1 {
		t.Errorf("the records once the backbone answers: %d, %v", len(recs), err)
	}
	if _, err := s.Iterator(ctx, arn, shard, "LATEST", 0); err != nil {
		t.Errorf("a LATEST iterator once the backbone answers: %v", err)
	}
}
