package queues

import (
	"context"
	"testing"
	"time"

	"github.com/aloft-dev/aloft/internal/store"
)

// TestMoveTaskTakenOver: a move task whose runner stops (its node died)
// is taken over by another node's service once its stamp is old, and
// goes on to move every message, each once.
func TestMoveTaskTakenOver(t *testing.T) {
	b0, o0, a0 := beatEvery, orphanAfter, adoptEvery
	t.Cleanup(func() { beatEvery, orphanAfter, adoptEvery = b0, o0, a0 }) // last, once the services are closed
	beatEvery, orphanAfter, adoptEvery = 100*time.Millisecond, 3*time.Second, 100*time.Millisecond
	st, err := store.Open(context.Background(), store.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	open := func() *Service {
		s, err := Open(context.Background(), st.JetStream(), st.Conn(), nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		return s
	}
	a, b := open(), open()
	ctx := context.Background()
	dlq, _ := a.Create(ctx, "dlq", "us-east-1", nil, nil)
	dst, _ := a.Create(ctx, "dst", "us-east-1", nil, nil)
	if _, err := a.Create(ctx, "src", "us-east-1", map[string]string{AttrRedrive: `{"deadLetterTargetArn":"` + dlq.ARN + `","maxReceiveCount":1}`}, nil); err != nil {
		t.Fatal(err)
	}
	for range 20 {
		send(t, a, "dlq", &Message{Body: "x", Delay: -1})
	}
	task, err := a.StartMoveTask(ctx, dlq.ARN, dst.ARN, 5)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	a.Close() // its runner stops stamping the task, as a dead node's would
	var got MoveTask
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		for _, m := range b.MoveTasks(dlq.ARN) {
			if m.Handle == task.Handle {
				got = m
			}
		}
		if got.Status == "COMPLETED" || time.Now().After(deadline) {
			break
		}
	}
	// The count is approximate, as SQS says: what the stopped runner
	// moved after its last stamp (here its first batch, at most) is not
	// in it.
	if got.Status != "COMPLETED" || got.Moved < 15 || got.Moved > 20 || got.Runner == task.Runner {
		t.Fatalf("task after its runner stopped: %s, moved %d, runner %q (was %q)", got.Status, got.Moved, got.Runner, task.Runner)
	}
	if c, _ := b.Counts(ctx, "dst"); c.Visible != 20 {
		t.Fatalf("the destination holds %d of 20", c.Visible)
	}
	if c, _ := b.Counts(ctx, "dlq"); c.Visible+c.InFlight != 0 {
		t.Fatalf("the source still holds %d", c.Visible+c.InFlight)
	}
}
