package queues

import (
	"context"
	"testing"
	"time"
)

func TestMoveTasks(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	dlq, _ := s.Create(ctx, "dlq", "us-east-1", nil, nil)
	other, _ := s.Create(ctx, "other", "us-east-1", nil, nil)
	if _, err := s.Create(ctx, "src", "us-east-1", map[string]string{AttrRedrive: `{"deadLetterTargetArn":"` + dlq.ARN + `","maxReceiveCount":1}`}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.StartMoveTask(ctx, other.ARN, "", 0); code(err) != InvalidParameterValue {
		t.Fatalf("a queue that is no dead-letter queue: %v", err)
	}
	for _, b := range []string{"1", "2", "3"} {
		send(t, s, "src", &Message{Body: b, Delay: -1})
	}
	// Received once each (visible again at once), then moved.
	if got, _ := s.Receive(ctx, "src", ReceiveOptions{Max: 10, Visibility: 0}); len(got) != 3 {
		t.Fatalf("first receive: %d", len(got))
	}
	if got, _ := s.Receive(ctx, "src", ReceiveOptions{Max: 10, Visibility: -1}); len(got) != 0 {
		t.Fatalf("second receive: %d", len(got))
	}
	// A receive moves them to the dead-letter queue as it meets them,
	// and a message made visible again an instant ago may not be back
	// for the first: receive until all three are there before a task
	// counts them.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if c, err := s.Counts(ctx, "dlq"); err == nil && c.Visible == 3 {
			break
		}
		if got, _ := s.Receive(ctx, "src", ReceiveOptions{Max: 10, Visibility: -1}); len(got) != 0 {
			t.Fatalf("a later receive: %d", len(got))
		}
		if time.Now().After(deadline) {
			c, err := s.Counts(ctx, "dlq")
			t.Fatalf("the dead-letter queue holds %+v (%v), want 3 visible", c, err)
		}
	}
	wait := func(handle, status string) MoveTask {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			for _, task := range s.MoveTasks(dlq.ARN) {
				if task.Handle == handle && task.Status == status {
					return task
				}
			}
		}
		t.Fatalf("task %s never became %s: %+v", handle, status, s.MoveTasks(dlq.ARN))
		return MoveTask{}
	}
	task, err := s.StartMoveTask(ctx, dlq.ARN, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	done := wait(task.Handle, "COMPLETED")
	if done.Moved != 3 || done.ToMove != 3 {
		t.Fatalf("moved %d of %d", done.Moved, done.ToMove)
	}
	back, _ := s.Receive(ctx, "src", ReceiveOptions{Max: 10, Visibility: -1, Wait: 1})
	if len(back) != 3 {
		t.Fatalf("%d messages back on the source queue", len(back))
	}
	for _, m := range back {
		s.DeleteMessage(ctx, "src", m.Handle)
	}
	// To another queue, slowly, cancelled on the way.
	for range 20 {
		send(t, s, "dlq", &Message{Body: "x", Delay: -1})
	}
	slow, err := s.StartMoveTask(ctx, dlq.ARN, other.ARN, 2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.StartMoveTask(ctx, dlq.ARN, other.ARN, 2); code(err) != UnsupportedOperation {
		t.Fatalf("a second task on the same queue: %v", err)
	}
	time.Sleep(1500 * time.Millisecond)
	if _, err := s.CancelMoveTask(ctx, slow.Handle); err != nil {
		t.Fatal(err)
	}
	cancelled := wait(slow.Handle, "CANCELLED")
	if cancelled.Moved == 0 || cancelled.Moved >= 20 {
		t.Fatalf("a cancelled task moved %d of 20", cancelled.Moved)
	}
	if c, _ := s.Counts(ctx, "other"); c.Visible != cancelled.Moved {
		t.Fatalf("the destination holds %d, the task moved %d", c.Visible, cancelled.Moved)
	}
}
