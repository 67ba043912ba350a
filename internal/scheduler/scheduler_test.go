package scheduler

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/aloft-dev/aloft/internal/async"
	"github.com/aloft-dev/aloft/internal/fault"
	"github.com/aloft-dev/aloft/internal/lease"
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
	return s, func() {
		s.Close(context.Background())
		st.Close()
	}
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
	if next := s.fireDue(ctx, c.now()); !next.Equal(time.Date(2026, 3, 1, 10, 1, 0, 0, time.UTC)) || len(q.take()) != 0 {
		t.Fatalf("before the first tick: next %v", next)
	}
	c.set(time.Date(2026, 3, 1, 10, 1, 0, 0, time.UTC))
	s.fireDue(ctx, c.now())
	evs := q.take()
	if len(evs) != 1 || evs[0].Function != "tick" ||
		string(evs[0].Payload) != `{"arn":"arn:aws:scheduler:us-east-1:000000000000:schedule/default/every-minute","at":"2026-03-01T10:01:00Z"}` {
		t.Fatalf("first tick sent %+v", evs)
	}
	s.fireDue(ctx, c.now())
	if n := len(q.take()); n != 0 {
		t.Fatalf("the same tick fired again (%d events)", n)
	}
	closeStore()

	// The server is down for an hour: on start the schedule fires once,
	// for the latest tick, not sixty times.
	c.set(time.Date(2026, 3, 1, 11, 1, 20, 0, time.UTC))
	s, closeStore = openSched(t, dir, q, c)
	defer closeStore()
	s.fireDue(ctx, c.now())
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
	s.fireDue(ctx, c.now())
	if evs := q.take(); len(evs) != 2 || string(evs[0].Payload) != "{}" {
		t.Fatalf("at() sent %+v", evs)
	}
	c.set(c.now().Add(24 * time.Hour))
	s.fireDue(ctx, c.now())
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
	s.fireDue(ctx, c.now())
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
	ctx := context.Background()
	var fired []string
	for m := 0; m <= 150; m++ { // minute by minute from 00:00 to 02:30
		c.set(time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(m) * time.Minute))
		s.fireDue(ctx, c.now())
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

// node is one node's scheduler on a shared backbone, with leases of its
// own under the given node name.
func node(t *testing.T, js jetstream.JetStream, name string, q Queue, now func() time.Time) (*Scheduler, *lease.Leases) {
	t.Helper()
	l, err := lease.Open(context.Background(), js, lease.Options{Node: name, TTL: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(context.Background(), js, Deps{Queue: q, Now: now, Leases: l})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Close(context.Background())
		l.Close()
	})
	return s, l
}

func backbone(t *testing.T) jetstream.JetStream {
	t.Helper()
	st, err := store.Open(context.Background(), store.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st.JetStream()
}

// within polls cond for up to d.
func within(d time.Duration, cond func() bool) bool {
	for deadline := time.Now().Add(d); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			return false
		}
	}
	return true
}

// TestNodesShareSchedulesAndOneFires runs two schedulers on one backbone,
// as two nodes: what one is told the other knows within a second; each
// tick is sent once, by the node holding the lease; and when that node
// stops, the other fires the schedules.
func TestNodesShareSchedulesAndOneFires(t *testing.T) {
	js := backbone(t)
	q := &fakeQueue{}
	a, la := node(t, js, "a", q, time.Now)
	b, lb := node(t, js, "b", q, time.Now)
	a.Start()
	b.Start()
	ctx := context.Background()
	at := func(d time.Duration) string {
		return "at(" + time.Now().UTC().Add(d).Truncate(time.Second).Format("2006-01-02T15:04:05") + ")"
	}
	put := func(s *Scheduler, name, expr string) {
		t.Helper()
		if _, err := s.Put(ctx, Schedule{Name: name, ScheduleExpression: expr, FlexibleTimeWindow: FlexibleTimeWindow{Mode: "OFF"},
			Target: Target{Arn: target, RoleArn: "r", Input: `{"name":"` + name + `"}`}}, true); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.CreateGroup(ctx, "team"); err != nil {
		t.Fatal(err)
	}
	if !within(time.Second, func() bool { _, err := b.GetGroup("team"); return err == nil }) {
		t.Fatal("a group made through a is unknown to b after a second")
	}
	put(a, "first", at(2*time.Second))
	put(b, "second", at(2*time.Second))
	if !within(time.Second, func() bool { return len(a.List("", "", "")) == 2 && len(b.List("", "", "")) == 2 }) {
		t.Fatalf("after a second a knows %d schedules and b %d, want 2 and 2", len(a.List("", "", "")), len(b.List("", "", "")))
	}
	// The nodes take the lease in the background, as they start.
	if !within(2*time.Second, func() bool { return la.Held(LeaseName) != lb.Held(LeaseName) }) {
		t.Fatalf("a holds the lease: %v, b: %v; want exactly one", la.Held(LeaseName), lb.Held(LeaseName))
	}
	time.Sleep(4 * time.Second)
	count := func(evs []*async.Event) map[string]int {
		n := map[string]int{}
		for _, ev := range evs {
			n[string(ev.Payload)]++
		}
		return n
	}
	if got := count(q.take()); len(got) != 2 || got[`{"name":"first"}`] != 1 || got[`{"name":"second"}`] != 1 {
		t.Fatalf("sent %v, want each schedule once", got)
	}

	// A change through one node reaches the other; so does a deletion.
	sc, _ := a.Get("", "first")
	sc.State = "DISABLED"
	if _, err := b.Put(ctx, *sc, false); err != nil {
		t.Fatal(err)
	}
	if !within(time.Second, func() bool { sc, err := a.Get("", "first"); return err == nil && sc.State == "DISABLED" }) {
		t.Fatal("a change made through b is unknown to a after a second")
	}
	if err := a.Delete(ctx, "", "second"); err != nil {
		t.Fatal(err)
	}
	if !within(time.Second, func() bool { _, err := b.Get("", "second"); return err != nil }) {
		t.Fatal("a deletion made through a is unknown to b after a second")
	}

	// The holder stops: the other takes the lease and fires.
	holder, other, lo := a, b, lb
	if lb.Held(LeaseName) {
		holder, other, lo = b, a, la
	}
	if err := holder.Close(ctx); err != nil {
		t.Fatal(err)
	}
	// Taking it over waits on the backbone's watch or the next retry: a
	// few TTLs on a loaded machine, not a property this test times.
	if !within(5*time.Second, func() bool { return lo.Held(LeaseName) }) {
		t.Fatal("the lease given up was not taken within five seconds")
	}
	put(other, "third", at(time.Second))
	time.Sleep(3 * time.Second)
	if got := count(q.take()); len(got) != 1 || got[`{"name":"third"}`] != 1 {
		t.Fatalf("after the handover sent %v, want third once", got)
	}
}

// TestATickIsClaimedOnce has two nodes find the same ticks due at once,
// without the lease: each tick's claim lets one of them send it.
func TestATickIsClaimedOnce(t *testing.T) {
	js := backbone(t)
	q := &fakeQueue{}
	c := &clock{t: time.Date(2026, 3, 1, 10, 0, 30, 0, time.UTC)}
	a, _ := node(t, js, "a", q, c.now)
	b, _ := node(t, js, "b", q, c.now)
	ctx := context.Background()
	for i := range 20 {
		if _, err := a.Put(ctx, Schedule{Name: fmt.Sprintf("s%d", i), ScheduleExpression: "cron(* * * * ? *)", FlexibleTimeWindow: FlexibleTimeWindow{Mode: "OFF"},
			Target: Target{Arn: target, RoleArn: "r"}}, true); err != nil {
			t.Fatal(err)
		}
	}
	if !within(time.Second, func() bool { return len(b.List("", "", "")) == 20 }) {
		t.Fatalf("b knows %d schedules, want 20", len(b.List("", "", "")))
	}
	c.set(time.Date(2026, 3, 1, 10, 1, 0, 0, time.UTC))
	var wg sync.WaitGroup
	wg.Go(func() { a.fireDue(ctx, c.now()) })
	wg.Go(func() { b.fireDue(ctx, c.now()) })
	wg.Wait()
	if n := len(q.take()); n != 20 {
		t.Fatalf("20 schedules due on two nodes sent %d events", n)
	}
}

// TestAClaimedTickIsSentAgain finds a tick claimed by a node that was
// lost before recording it: it is sent again, with the same event id,
// and recorded; the next round sends nothing.
func TestAClaimedTickIsSentAgain(t *testing.T) {
	js := backbone(t)
	q := &fakeQueue{}
	c := &clock{t: time.Date(2026, 3, 1, 10, 0, 30, 0, time.UTC)}
	a, _ := node(t, js, "a", q, c.now)
	ctx := context.Background()
	if _, err := a.Put(ctx, Schedule{Name: "m", ScheduleExpression: "cron(* * * * ? *)", FlexibleTimeWindow: FlexibleTimeWindow{Mode: "OFF"},
		Target: Target{Arn: target, RoleArn: "r"}}, true); err != nil {
		t.Fatal(err)
	}
	c.set(time.Date(2026, 3, 1, 10, 1, 0, 0, time.UTC))
	a.fireDue(ctx, c.now())
	first := q.take()
	if len(first) != 1 {
		t.Fatalf("sent %d events", len(first))
	}
	// Claim the 10:01 tick again, as a node that sent it and was lost
	// before recording it would have left it, longer ago than a send
	// can take.
	e, err := a.kv.Get(ctx, key("default", "m"))
	if err != nil {
		t.Fatal(err)
	}
	var rec record
	json.Unmarshal(e.Value(), &rec)
	rec.Firing, rec.Claimer, rec.Claimed = rec.LastFired, "lost", time.Now().Add(-claimGrace).UnixMilli()
	rec.LastFired = time.Date(2026, 3, 1, 10, 0, 30, 0, time.UTC).UnixMilli()
	b, _ := json.Marshal(&rec)
	rev, err := a.kv.Update(ctx, key("default", "m"), b, e.Revision())
	if err != nil {
		t.Fatal(err)
	}
	a.revs.Wait(rev)
	c.set(time.Date(2026, 3, 1, 10, 1, 30, 0, time.UTC))
	a.fireDue(ctx, c.now())
	again := q.take()
	if len(again) != 1 || again[0].ID != first[0].ID {
		t.Fatalf("the claimed tick sent %+v, want one event with id %s", again, first[0].ID)
	}
	a.fireDue(ctx, c.now())
	if n := len(q.take()); n != 0 {
		t.Fatalf("a settled tick sent %d more events", n)
	}
}
