package queues

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/aloft-dev/aloft/internal/fault"
	"github.com/aloft-dev/aloft/internal/store"
)

func bodies(rs []*Received) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Body)
	}
	return out
}

func TestFifoOrderAndGroups(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	if _, err := s.Create(ctx, "jobs.fifo", "us-east-1", nil, nil); code(err) != InvalidParameterValue {
		t.Fatalf("a .fifo name without FifoQueue: %v", err)
	}
	if _, err := s.Create(ctx, "jobs", "us-east-1", map[string]string{AttrFifo: "true"}, nil); code(err) != InvalidParameterValue {
		t.Fatalf("FifoQueue without .fifo: %v", err)
	}
	if _, err := s.Create(ctx, "jobs.fifo", "us-east-1", map[string]string{AttrFifo: "true"}, nil); err != nil {
		t.Fatal(err)
	}
	send1 := func(body, group, dedup string, delay int) (Sent, error) {
		out, errs, err := s.Send(ctx, "jobs.fifo", []*Message{{Body: body, GroupID: group, DedupID: dedup, Delay: delay}})
		if err != nil {
			return Sent{}, err
		}
		return out[0], errs[0]
	}
	if _, err := send1("x", "", "d", -1); code(err) != MissingParameter {
		t.Fatalf("no group: %v", err)
	}
	if _, err := send1("x", "g", "", -1); code(err) != InvalidParameterValue {
		t.Fatalf("no deduplication id: %v", err)
	}
	if _, err := send1("x", "g", "d", 5); code(err) != InvalidParameterValue {
		t.Fatalf("a message delay: %v", err)
	}
	var first Sent
	for i, m := range [][2]string{{"a1", "A"}, {"b1", "B"}, {"a2", "A"}, {"a3", "A"}, {"b2", "B"}} {
		sent, err := send1(m[0], m[1], m[0], -1)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = sent
		}
		if sent.Sequence == "" {
			t.Fatal("no sequence number")
		}
	}
	again, err := send1("a1 again", "A", "a1", -1)
	if err != nil || again.ID != first.ID {
		t.Fatalf("a duplicate: %+v %v, want the first's id %s", again, err, first.ID)
	}
	all := ReceiveOptions{Max: 10, Visibility: -1, SystemNames: []string{"All"}}
	got, err := s.Receive(ctx, "jobs.fifo", all)
	if err != nil {
		t.Fatal(err)
	}
	if b := bodies(got); len(b) != 5 || b[0] != "a1" || b[1] != "a2" || b[2] != "a3" || b[3] != "b1" || b[4] != "b2" {
		t.Fatalf("first receive %v, want a1 a2 a3 b1 b2", b)
	}
	if got[0].System["MessageGroupId"] != "A" || got[0].System["SequenceNumber"] == "" || got[0].System["MessageDeduplicationId"] != "a1" {
		t.Fatalf("system attributes %v", got[0].System)
	}
	if more, _ := s.Receive(ctx, "jobs.fifo", all); len(more) != 0 {
		t.Fatalf("groups in flight gave %v", bodies(more))
	}
	// a1 done; a2 and a3 still hold group A.
	if err := s.DeleteMessage(ctx, "jobs.fifo", got[0].Handle); err != nil {
		t.Fatal(err)
	}
	if more, _ := s.Receive(ctx, "jobs.fifo", all); len(more) != 0 {
		t.Fatalf("group A with a2 and a3 in flight gave %v", bodies(more))
	}
	for _, m := range got[1:3] {
		if err := s.ChangeVisibility(ctx, "jobs.fifo", m.Handle, 0); err != nil {
			t.Fatal(err)
		}
	}
	again2, err := s.Receive(ctx, "jobs.fifo", all)
	if b := bodies(again2); err != nil || len(b) != 2 || b[0] != "a2" || b[1] != "a3" || again2[0].System["ApproximateReceiveCount"] != "2" {
		t.Fatalf("after showing a2 and a3 again: %v %v", b, err)
	}
	// The first receive's handles are stale now.
	if err := s.DeleteMessage(ctx, "jobs.fifo", got[1].Handle); code(err) != ReceiptHandleIsInvalid {
		t.Fatalf("a stale handle: %v", err)
	}
	for _, m := range append(again2, got[3:]...) {
		if err := s.DeleteMessage(ctx, "jobs.fifo", m.Handle); err != nil {
			t.Fatal(err)
		}
	}
	if c, err := s.Counts(ctx, "jobs.fifo"); err != nil || c != (Counts{}) {
		t.Fatalf("counts at the end: %+v %v", c, err)
	}
}

func TestFifoContentDedupAndRedrive(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	dlq, err := s.Create(ctx, "dead.fifo", "us-east-1", map[string]string{AttrFifo: "true"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(ctx, "std-dead", "us-east-1", nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(ctx, "src.fifo", "us-east-1", map[string]string{AttrFifo: "true", AttrRedrive: `{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:std-dead","maxReceiveCount":1}`}, nil); code(err) != InvalidParameterValue {
		t.Fatalf("a standard dead-letter queue for a FIFO queue: %v", err)
	}
	if _, err := s.Create(ctx, "src.fifo", "us-east-1", map[string]string{AttrFifo: "true", AttrContentDedup: "true",
		AttrRedrive: `{"deadLetterTargetArn":"` + dlq.ARN + `","maxReceiveCount":1}`}, nil); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, errs, err := s.Send(ctx, "src.fifo", []*Message{{Body: "same", GroupID: "g", Delay: -1}}); err != nil || errs[0] != nil {
			t.Fatal(err, errs)
		}
	}
	got, err := s.Receive(ctx, "src.fifo", ReceiveOptions{Max: 10, Visibility: 0})
	if err != nil || len(got) != 1 {
		t.Fatalf("content-based deduplication: %v %v", bodies(got), err)
	}
	// Received once (maxReceiveCount 1): the next receive moves it.
	if more, err := s.Receive(ctx, "src.fifo", ReceiveOptions{Max: 10, Visibility: -1}); err != nil || len(more) != 0 {
		t.Fatalf("second receive: %v %v", bodies(more), err)
	}
	dead, err := s.Receive(ctx, "dead.fifo", ReceiveOptions{Max: 10, Visibility: -1, Wait: 1, SystemNames: []string{"All"}})
	if err != nil || len(dead) != 1 || dead[0].Body != "same" || dead[0].System["MessageGroupId"] != "g" {
		t.Fatalf("dead-letter queue: %+v %v", dead, err)
	}
}

func TestFifoReceiveAttempt(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	if _, err := s.Create(ctx, "a.fifo", "us-east-1", map[string]string{AttrFifo: "true", AttrContentDedup: "true"}, nil); err != nil {
		t.Fatal(err)
	}
	for _, b := range []string{"1", "2"} {
		s.Send(ctx, "a.fifo", []*Message{{Body: b, GroupID: b, Delay: -1}})
	}
	o := ReceiveOptions{Max: 1, Visibility: -1, AttemptID: "try-1"}
	first, err := s.Receive(ctx, "a.fifo", o)
	if err != nil || len(first) != 1 {
		t.Fatal(first, err)
	}
	retry, err := s.Receive(ctx, "a.fifo", o)
	if err != nil || len(retry) != 1 || retry[0].ID != first[0].ID || retry[0].Handle != first[0].Handle {
		t.Fatalf("a retry with the same attempt id: %v %v, want %v", bodies(retry), err, bodies(first))
	}
	o.AttemptID = "try-2"
	other, err := s.Receive(ctx, "a.fifo", o)
	if err != nil || len(other) != 1 || other[0].ID == first[0].ID {
		t.Fatalf("another attempt id: %v %v", bodies(other), err)
	}
	// Once its batch is done, the attempt is not repeated.
	s.DeleteMessage(ctx, "a.fifo", first[0].Handle)
	o.AttemptID = "try-1"
	if again, _ := s.Receive(ctx, "a.fifo", o); len(again) != 0 {
		t.Fatalf("a retry after the delete: %v", bodies(again))
	}
}

// flakyStreams is the backbone with stream lookups that go unanswered
// (no responders, as while a cluster elects a stream's leader after
// losing its node) for as long as down is set, and buckets that cannot
// be opened for as long as kvDown is.
type flakyStreams struct {
	jetstream.JetStream
	down, kvDown atomic.Bool
}

func (f *flakyStreams) CreateOrUpdateKeyValue(ctx context.Context, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	if f.kvDown.Load() {
		return nil, nats.ErrNoResponders
	}
	return f.JetStream.CreateOrUpdateKeyValue(ctx, cfg)
}

func (f *flakyStreams) Stream(ctx context.Context, name string) (jetstream.Stream, error) {
	if f.down.Load() {
		return nil, nats.ErrNoResponders
	}
	return f.JetStream.Stream(ctx, name)
}

// flakyService is a service on a flakyStreams backbone.
func flakyService(t *testing.T) (*Service, *flakyStreams) {
	t.Helper()
	st, err := store.Open(context.Background(), store.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	js := &flakyStreams{JetStream: st.JetStream()}
	s, err := Open(context.Background(), js, st.Conn(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s, js
}

// A FIFO receive whose queue's stream has no leader to answer tries
// again until it has one, and past leaderWait answers that the queue is
// unavailable, of kind fault.Unavailable (SQS's 503), not an internal
// error; the bucket of groups' states, opened by the first FIFO request,
// is opened again after a failure rather than failing every request.
func TestReceiveFifoWithoutLeader(t *testing.T) {
	s, js := flakyService(t)
	ctx := context.Background()
	if _, err := s.Create(ctx, "lost.fifo", "us-east-1", map[string]string{AttrFifo: "true"}, nil); err != nil {
		t.Fatal(err)
	}
	send(t, s, "lost.fifo", &Message{Body: "kept", GroupID: "g", DedupID: "d1", Delay: -1})
	js.kvDown.Store(true)
	if _, err := s.Receive(ctx, "lost.fifo", ReceiveOptions{Max: 1, Visibility: -1}); err == nil {
		t.Fatal("a receive succeeded without the groups' bucket")
	}
	js.kvDown.Store(false)

	js.down.Store(true)
	go func() {
		time.Sleep(300 * time.Millisecond)
		js.down.Store(false)
	}()
	got, err := s.Receive(ctx, "lost.fifo", ReceiveOptions{Max: 1, Visibility: -1})
	if err != nil || len(got) != 1 || got[0].Body != "kept" {
		t.Fatalf("receive while the stream came back: %v, %v", bodies(got), err)
	}

	defer func(w time.Duration) { leaderWait = w }(leaderWait)
	leaderWait = 200 * time.Millisecond
	js.down.Store(true)
	if _, err := s.Receive(ctx, "lost.fifo", ReceiveOptions{Max: 1, Visibility: -1}); fault.KindOf(err) != fault.Unavailable {
		t.Fatalf("receive without the stream's leader: %v, want an error of kind unavailable", err)
	}
}

// A queue's counts and a purge that meet a backbone electing its
// streams' leaders answer that the queue is unavailable for the moment
// (SQS's 503), not an internal error, and work once it answers.
func TestCountsWithoutLeader(t *testing.T) {
	s, js := flakyService(t)
	ctx := context.Background()
	for _, name := range []string{"counted", "counted.fifo"} {
		attrs := map[string]string{}
		msg := &Message{Body: "one", Delay: -1}
		if strings.HasSuffix(name, ".fifo") {
			attrs[AttrFifo] = "true"
			msg.GroupID, msg.DedupID = "g", "d1"
		}
		if _, err := s.Create(ctx, name, "us-east-1", attrs, nil); err != nil {
			t.Fatal(err)
		}
		send(t, s, name, msg)
		js.down.Store(true)
		if _, err := s.Counts(ctx, name); fault.KindOf(err) != fault.Unavailable {
			t.Errorf("%s: counts during an election: %v, want an error of kind unavailable", name, err)
		}
		if err := s.Purge(ctx, name); fault.KindOf(err) != fault.Unavailable {
			t.Errorf("%s: a purge during an election: %v, want an error of kind unavailable", name, err)
		}
		js.down.Store(false)
		if c, err := s.Counts(ctx, name); err != nil || c.Visible != 1 {
			t.Errorf("%s: counts once the backbone answers: %+v, %v, want one visible", name, c, err)
		}
	}
}
