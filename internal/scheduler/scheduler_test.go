package scheduler

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aloft-dev/aloft/internal/async"
	"github.com/aloft-dev/aloft/internal/fault"
	"github.com/aloft-dev/aloft/internal/store"
)

type fakeQueue struct {
	mu  sync.Mutex
	evs []*async.Event
}

func (q *fakeQueue) Enqueue(_ context.Context, ev *async.Event) error {
	q.mu.Lock()
	q.evs = append(q.evs, ev)
	q.mu.Unlock()
	return nil
}

func (q *fakeQueue) take() []*async.Event {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := q.evs
	q.evs = nil
	return out
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

func openSched(t *testing.T, dir string, q *fakeQueue, c *clock) (*Scheduler, func()) {
	t.Helper()
	st, err := store.Open(context.Background(), store.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(context.Background(), st.JetStream(), Deps{Queue: q, Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	return s, func() { st.Close() }
}

const target = "arn:aws:lambda:us-east-1:000000000000:function:tick"

func TestFiresOnScheduleAndOnceAfterAnOutage(t *testing.T) {
	dir := t.TempDir()
	q := &fakeQueue{}
	c := &clock{t: time.Date(2026, 3, 1, 10, 0, 30, 0, time.UTC)}
	s, closeStore := openSched(t, dir, q, c)
	ctx := context.Background()
	_, err := s.Put(ctx, Schedule{
		Name: "every-minute", ScheduleExpression: "cron(* * * * ? *)",
		FlexibleTimeWindow: FlexibleTimeWindow{Mode: "OFF"},
		Target:             Target{Arn: target, RoleArn: "r", Input: `{"arn":"<aws.scheduler.schedule-arn>","at":"<aws.scheduler.scheduled-time>"}`},
	}, true)
	if err != nil {
		t.Fatal(err)
	}
	if next := s.fireDue(c.now()); !next.Equal(time.Date(2026, 3, 1, 10, 1, 0, 0, time.UTC)) || len(q.take()) != 0 {
		t.Fatalf("before the first tick: next %v", next)
	}
	c.set(time.Date(2026, 3, 1, 10, 1, 0, 0, time.UTC))
	s.fireDue(c.now())
	evs := q.take()
	if len(evs) != 1 || evs[0].Function != "tick" ||
		string(evs[0].Payload) != `{"arn":"arn:aws:scheduler:us-east-1:000000000000:schedule/default/every-minute","at":"2026-03-01T10:01:00Z"}` {
		t.Fatalf("first tick sent %+v", evs)
	}
	s.fireDue(c.now())
	if n := len(q.take()); n != 0 {
		t.Fatalf("the same tick fired again (%d events)", n)
	}
	closeStore()

	// The server is down for an hour: on start the schedule fires once,
	// for the latest tick, not sixty times.
	c.set(time.Date(2026, 3, 1, 11, 1, 20, 0, time.UTC))
	s, closeStore = openSched(t, dir, q, c)
	defer closeStore()
	s.fireDue(c.now())
	evs = q.take()
	if len(evs) != 1 || !strings.Contains(string(evs[0].Payload), "2026-03-01T11:01:00Z") {
		t.Fatalf("after an outage sent %d events: %+v", len(evs), evs)
	}
}

func TestAtFiresOnceAndCanDeleteItself(t *testing.T) {
	q := &fakeQueue{}
	c := &clock{t: time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)}
	s, closeStore := openSched(t, t.TempDir(), q, c)
	defer closeStore()
	ctx := context.Background()
	for _, name := range []string{"keep", "drop"} {
		action := "NONE"
		if name == "drop" {
			action = "DELETE"
		}
		_, err := s.Put(ctx, Schedule{Name: name, ScheduleExpression: "at(2026-05-01T10:30:00)", ScheduleExpressionTimezone: "Europe/Paris",
			FlexibleTimeWindow: FlexibleTimeWindow{Mode: "OFF"}, ActionAfterCompletion: action, Target: Target{Arn: target, RoleArn: "r"}}, true)
		if err != nil {
			t.Fatal(err)
		}
	}
	c.set(time.Date(2026, 5, 1, 8, 30, 0, 0, time.UTC)) // 10:30 in Paris (CEST)
	s.fireDue(c.now())
	if evs := q.take(); len(evs) != 2 || string(evs[0].Payload) != "{}" {
		t.Fatalf("at() sent %+v", evs)
	}
	c.set(c.now().Add(24 * time.Hour))
	s.fireDue(c.now())
	if n := len(q.take()); n != 0 {
		t.Fatalf("a one-time schedule fired again (%d)", n)
	}
	if _, err := s.Get("", "keep"); err != nil {
		t.Fatalf("keep: %v", err)
	}
	if _, err := s.Get("", "drop"); err == nil {
		t.Fatal("a completed schedule with ActionAfterCompletion DELETE still exists")
	}
}

func TestValidationAndDisabled(t *testing.T) {
	q := &fakeQueue{}
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	s, closeStore := openSched(t, t.TempDir(), q, c)
	defer closeStore()
	ctx := context.Background()
	good := Schedule{Name: "ok", ScheduleExpression: "rate(5 minutes)", FlexibleTimeWindow: FlexibleTimeWindow{Mode: "OFF"}, Target: Target{Arn: target, RoleArn: "r"}}
	bad := []struct {
		name   string
		mutate func(*Schedule)
		want   string
	}{
		{"expression", func(sc *Schedule) { sc.ScheduleExpression = "rate(5 minute)" }, "Invalid Schedule Expression"},
		{"zone", func(sc *Schedule) { sc.ScheduleExpressionTimezone = "Mars/Olympus" }, "time zone"},
		{"target", func(sc *Schedule) { sc.Target.Arn = "arn:aws:sqs:us-east-1:000000000000:q" }, "Lambda function"},
		{"name", func(sc *Schedule) { sc.Name = "no spaces" }, "schedule name"},
		{"window", func(sc *Schedule) { sc.FlexibleTimeWindow.Mode = "" }, "FlexibleTimeWindow"},
		{"group", func(sc *Schedule) { sc.GroupName = "nope" }, "does not exist"},
	}
	for _, tc := range bad {
		sc := good
		tc.mutate(&sc)
		if _, err := s.Put(ctx, sc, true); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
	good.State = "DISABLED"
	if _, err := s.Put(ctx, good, true); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, good, true); fault.KindOf(err) != fault.Conflict {
		t.Fatalf("second create got %v, want a Conflict", err)
	}
	c.set(c.now().Add(time.Hour))
	s.fireDue(c.now())
	if n := len(q.take()); n != 0 {
		t.Fatalf("a disabled schedule fired %d times", n)
	}
}

func TestStartAndEndDates(t *testing.T) {
	q := &fakeQueue{}
	c := &clock{t: time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)}
	s, closeStore := openSched(t, t.TempDir(), q, c)
	defer closeStore()
	start := float64(time.Date(2026, 6, 1, 1, 0, 0, 0, time.UTC).Unix())
	end := float64(time.Date(2026, 6, 1, 1, 30, 0, 0, time.UTC).Unix())
	_, err := s.Put(context.Background(), Schedule{Name: "window", ScheduleExpression: "rate(10 minutes)", StartDate: &start, EndDate: &end,
		FlexibleTimeWindow: FlexibleTimeWindow{Mode: "OFF"}, Target: Target{Arn: target, RoleArn: "r"}}, true)
	if err != nil {
		t.Fatal(err)
	}
	var fired []string
	for m := 0; m <= 150; m++ { // minute by minute from 00:00 to 02:30
		c.set(time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(m) * time.Minute))
		s.fireDue(c.now())
		for range q.take() {
			fired = append(fired, c.now().Format("15:04"))
		}
	}
	// A rate counts from the start date; nothing fires before it or after
	// the end date.
	if got, want := strings.Join(fired, " "), "01:00 01:10 01:20 01:30"; got != want {
		t.Fatalf("fired at %s, want %s", got, want)
	}
}
