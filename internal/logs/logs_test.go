package logs

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/aloft-dev/aloft/internal/store"
)

const (
	groupA  = "/aws/lambda/alpha"
	groupB  = "/aws/lambda/beta"
	streamX = "2024/05/01/[$LATEST]0123456789abcdef0123456789abcdef"
	streamY = "2024/05/01/[$LATEST]fedcba9876543210fedcba9876543210"
	streamZ = "2024/05/02/[$LATEST]00000000000000000000000000000000"
)

type env struct {
	t   *testing.T
	dir string
	bb  *store.Store
	s   *Store
}

func openEnv(t *testing.T, dir string, o Options) *env {
	t.Helper()
	ctx := context.Background()
	bb, err := store.Open(ctx, store.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(ctx, bb.JetStream(), o)
	if err != nil {
		bb.Close()
		t.Fatal(err)
	}
	e := &env{t: t, dir: dir, bb: bb, s: s}
	t.Cleanup(e.close)
	return e
}

func (e *env) close() {
	if e.s != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := e.s.Close(ctx); err != nil {
			e.t.Errorf("close: %v", err)
		}
		cancel()
		e.s = nil
	}
	if e.bb != nil {
		e.bb.Close()
		e.bb = nil
	}
}

func (e *env) flush() {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.s.Flush(ctx); err != nil {
		e.t.Fatal(err)
	}
}

// invocation builds the batch of one invocation at time ts.
func invocation(ts int64, id string, lines ...string) []Event {
	evs := []Event{{Timestamp: ts, Message: "START RequestId: " + id + " Version: $LATEST\n"}}
	for i, l := range lines {
		evs = append(evs, Event{Timestamp: ts + int64(i) + 1, Message: l + "\n"})
	}
	end := ts + int64(len(lines)) + 1
	return append(evs,
		Event{Timestamp: end, Message: "END RequestId: " + id + "\n"},
		Event{Timestamp: end, Message: "REPORT RequestId: " + id + "\tDuration: 1.00 ms\n"})
}

// fixture is the data appended by seed: per group and stream, the events
// in order.
type fixture map[string]map[string][]Event

func (f fixture) add(s *Store, group, stream string, evs []Event) {
	if f[group] == nil {
		f[group] = map[string][]Event{}
	}
	f[group][stream] = append(f[group][stream], evs...)
	s.Append(group, stream, evs)
}

func (f fixture) bytes(group, stream string) int64 {
	var n int64
	for _, e := range f[group][stream] {
		n += int64(len(e.Message))
	}
	return n
}

var base = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC).UnixMilli()

// seed appends 5 invocations to X, 3 to Y (group A) and 2 to Z (group B),
// interleaved, one second apart.
func seed(e *env) fixture {
	f := fixture{}
	for i := range 5 {
		ts := base + int64(i)*1000
		f.add(e.s, groupA, streamX, invocation(ts, fmt.Sprintf("x-%d", i), fmt.Sprintf("hello from x %d", i), "level=INFO ok"))
		if i < 3 {
			f.add(e.s, groupA, streamY, invocation(ts+500, fmt.Sprintf("y-%d", i), "ERROR boom in y", "connection refused by peer"))
		}
		if i < 2 {
			f.add(e.s, groupB, streamZ, invocation(ts+200, fmt.Sprintf("z-%d", i), "WARN slow z"))
		}
	}
	e.flush()
	return f
}

func msgs(evs []Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.Message
	}
	return out
}

func fmsgs(evs []FilteredEvent) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.Message
	}
	return out
}

func TestQueries(t *testing.T) {
	e := openEnv(t, t.TempDir(), Options{})
	before := time.Now().UnixMilli()
	f := seed(e)
	after := time.Now().UnixMilli()
	checkQueries(t, e.s, f, before, after)
}

func checkQueries(t *testing.T, s *Store, f fixture, before, after int64) {
	ctx := context.Background()

	t.Run("DescribeLogGroups", func(t *testing.T) {
		gs, next, err := s.DescribeLogGroups(ctx, "", 0, "")
		if err != nil || next != "" {
			t.Fatalf("err %v next %q", err, next)
		}
		if len(gs) != 2 || gs[0].Name != groupA || gs[1].Name != groupB {
			t.Fatalf("groups %+v", gs)
		}
		if want := f.bytes(groupA, streamX) + f.bytes(groupA, streamY); gs[0].StoredBytes != want {
			t.Errorf("stored bytes %d, want %d", gs[0].StoredBytes, want)
		}
		if gs[0].CreationTime < before || gs[0].CreationTime > after {
			t.Errorf("creation time %d not in [%d,%d]", gs[0].CreationTime, before, after)
		}
		if want := "arn:aws:logs:us-east-1:000000000000:log-group:" + groupA + ":*"; gs[0].Arn != want {
			t.Errorf("arn %q", gs[0].Arn)
		}
		if gs[0].RetentionInDays != 30 {
			t.Errorf("retention %d", gs[0].RetentionInDays)
		}
		gs, _, _ = s.DescribeLogGroups(ctx, "/aws/lambda/b", 0, "")
		if len(gs) != 1 || gs[0].Name != groupB {
			t.Errorf("prefix: %+v", gs)
		}
		var names []string
		next = ""
		for range 5 {
			gs, next, err = s.DescribeLogGroups(ctx, "", 1, next)
			if err != nil {
				t.Fatal(err)
			}
			for _, g := range gs {
				names = append(names, g.Name)
			}
			if next == "" {
				break
			}
		}
		if !slices.Equal(names, []string{groupA, groupB}) {
			t.Errorf("paged names %v", names)
		}
		if _, _, err := s.DescribeLogGroups(ctx, "", 51, ""); !errors.Is(err, ErrInvalidParameter) {
			t.Errorf("limit 51: %v", err)
		}
		if _, _, err := s.DescribeLogGroups(ctx, "", 0, "???"); !errors.Is(err, ErrInvalidParameter) {
			t.Errorf("bad token: %v", err)
		}
	})

	t.Run("DescribeLogStreams", func(t *testing.T) {
		ss, next, err := s.DescribeLogStreams(ctx, groupA, "", false, false, 0, "")
		if err != nil || next != "" {
			t.Fatalf("err %v next %q", err, next)
		}
		if len(ss) != 2 || ss[0].Name != streamX || ss[1].Name != streamY {
			t.Fatalf("streams %+v", ss)
		}
		x := f[groupA][streamX]
		want := Stream{
			Name:                streamX,
			FirstEventTimestamp: x[0].Timestamp,
			LastEventTimestamp:  x[len(x)-1].Timestamp,
			StoredBytes:         f.bytes(groupA, streamX),
			Arn:                 "arn:aws:logs:us-east-1:000000000000:log-group:" + groupA + ":log-stream:" + streamX,
		}
		got := ss[0]
		if got.CreationTime < before || got.CreationTime > after || got.LastIngestionTime < got.CreationTime || got.LastIngestionTime > after {
			t.Errorf("times %+v", got)
		}
		got.CreationTime, got.LastIngestionTime = 0, 0
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("stream X (-want +got):\n%s", d)
		}

		ss, _, _ = s.DescribeLogStreams(ctx, groupA, "", false, true, 0, "")
		if len(ss) != 2 || ss[0].Name != streamY {
			t.Errorf("descending: %+v", ss)
		}
		// X's last event (invocation 4) is later than Y's (invocation 2).
		ss, _, _ = s.DescribeLogStreams(ctx, groupA, "", true, true, 0, "")
		if len(ss) != 2 || ss[0].Name != streamX {
			t.Errorf("by last event desc: %+v", ss)
		}
		ss, _, _ = s.DescribeLogStreams(ctx, groupA, "", true, false, 0, "")
		if len(ss) != 2 || ss[0].Name != streamY {
			t.Errorf("by last event asc: %+v", ss)
		}
		for _, byTime := range []bool{false, true} {
			var names []string
			next = ""
			for range 5 {
				ss, next, err = s.DescribeLogStreams(ctx, groupA, "", byTime, true, 1, next)
				if err != nil {
					t.Fatal(err)
				}
				for _, st := range ss {
					names = append(names, st.Name)
				}
				if next == "" {
					break
				}
			}
			want := []string{streamY, streamX}
			if byTime {
				want = []string{streamX, streamY}
			}
			if !slices.Equal(names, want) {
				t.Errorf("paged byTime=%v: %v", byTime, names)
			}
		}
		ss, _, _ = s.DescribeLogStreams(ctx, groupA, "2024/05/01/[$LATEST]f", false, false, 0, "")
		if len(ss) != 1 || ss[0].Name != streamY {
			t.Errorf("prefix: %+v", ss)
		}
		if _, _, err := s.DescribeLogStreams(ctx, groupA, "2024", true, false, 0, ""); !errors.Is(err, ErrInvalidParameter) {
			t.Errorf("order by time with prefix: %v", err)
		}
		if _, _, err := s.DescribeLogStreams(ctx, "/aws/lambda/none", "", false, false, 0, ""); !errors.Is(err, ErrGroupNotFound) {
			t.Errorf("missing group: %v", err)
		}
	})

	t.Run("GetLogEvents", func(t *testing.T) {
		x := f[groupA][streamX]
		evs, fwd, bwd, err := s.GetLogEvents(ctx, groupA, streamX, 0, 0, 0, "", true)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(msgs(x), msgs(evs)); d != "" {
			t.Fatalf("all events (-want +got):\n%s", d)
		}
		for _, ev := range evs {
			if ev.Ingestion < before || ev.Ingestion > after {
				t.Fatalf("ingestion %d", ev.Ingestion)
			}
		}
		if !strings.HasPrefix(fwd, "f/") || !strings.HasPrefix(bwd, "b/") {
			t.Errorf("tokens %q %q", fwd, bwd)
		}
		// At the end the forward token repeats.
		evs, fwd2, _, err := s.GetLogEvents(ctx, groupA, streamX, 0, 0, 0, fwd, false)
		if err != nil || len(evs) != 0 || fwd2 != fwd {
			t.Errorf("past end: %d events, token %q vs %q, err %v", len(evs), fwd2, fwd, err)
		}

		// Forward paging, 7 at a time, until the token repeats.
		var got []Event
		tok := ""
		for range 20 {
			evs, next, _, err := s.GetLogEvents(ctx, groupA, streamX, 0, 0, 7, tok, true)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, evs...)
			if next == tok {
				break
			}
			tok = next
		}
		if d := cmp.Diff(msgs(x), msgs(got)); d != "" {
			t.Errorf("forward paging (-want +got):\n%s", d)
		}

		// Default: the newest events, then backwards.
		evs, fwd, bwd, err = s.GetLogEvents(ctx, groupA, streamX, 0, 0, 6, "", false)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(msgs(x[len(x)-6:]), msgs(evs)); d != "" {
			t.Errorf("tail (-want +got):\n%s", d)
		}
		got = evs
		for range 20 {
			evs, _, next, err := s.GetLogEvents(ctx, groupA, streamX, 0, 0, 6, bwd, false)
			if err != nil {
				t.Fatal(err)
			}
			got = append(evs, got...)
			if next == bwd {
				break
			}
			bwd = next
		}
		if d := cmp.Diff(msgs(x), msgs(got)); d != "" {
			t.Errorf("backward paging (-want +got):\n%s", d)
		}
		evs, _, _, _ = s.GetLogEvents(ctx, groupA, streamX, 0, 0, 0, fwd, false)
		if len(evs) != 0 {
			t.Errorf("forward after tail: %d events", len(evs))
		}

		// Time range: invocation 1 and 2 of X (end exclusive).
		start, end := base+1000, base+3000
		var want []string
		for _, ev := range x {
			if ev.Timestamp >= start && ev.Timestamp < end {
				want = append(want, ev.Message)
			}
		}
		for _, head := range []bool{true, false} {
			evs, _, _, err = s.GetLogEvents(ctx, groupA, streamX, start, end, 0, "", head)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(want, msgs(evs)); d != "" {
				t.Errorf("range head=%v (-want +got):\n%s", head, d)
			}
		}

		if _, _, _, err := s.GetLogEvents(ctx, groupA, "nope", 0, 0, 0, "", true); !errors.Is(err, ErrStreamNotFound) {
			t.Errorf("missing stream: %v", err)
		}
		if _, _, _, err := s.GetLogEvents(ctx, "nope", streamX, 0, 0, 0, "", true); !errors.Is(err, ErrGroupNotFound) {
			t.Errorf("missing group: %v", err)
		}
		if _, _, _, err := s.GetLogEvents(ctx, groupA, streamX, 0, 0, 0, "x/1", true); !errors.Is(err, ErrInvalidParameter) {
			t.Errorf("bad token: %v", err)
		}
	})

	t.Run("FilterLogEvents", func(t *testing.T) {
		all := append(append([]Event(nil), f[groupA][streamX]...), f[groupA][streamY]...)
		slices.SortStableFunc(all, func(a, b Event) int { return int(a.Timestamp - b.Timestamp) })
		evs, next, err := s.FilterLogEvents(ctx, groupA, nil, "", 0, 0, "", 0, "")
		if err != nil || next != "" {
			t.Fatalf("err %v next %q", err, next)
		}
		if d := cmp.Diff(msgs(all), fmsgs(evs)); d != "" {
			t.Errorf("all (-want +got):\n%s", d)
		}
		ids := map[string]bool{}
		for i, ev := range evs {
			if ids[ev.EventID] {
				t.Errorf("duplicate id %s", ev.EventID)
			}
			ids[ev.EventID] = true
			if i > 0 && ev.Timestamp < evs[i-1].Timestamp {
				t.Errorf("not sorted at %d", i)
			}
			if ev.Stream != streamX && ev.Stream != streamY {
				t.Errorf("stream %q", ev.Stream)
			}
		}
		again, _, _ := s.FilterLogEvents(ctx, groupA, nil, "", 0, 0, "", 0, "")
		if d := cmp.Diff(evs, again); d != "" {
			t.Errorf("not stable (-first +second):\n%s", d)
		}

		cases := []struct {
			pattern string
			want    func(string) bool
		}{
			{"ERROR", func(m string) bool { return strings.Contains(m, "ERROR") }},
			{"ERROR boom", func(m string) bool { return strings.Contains(m, "ERROR boom") }},
			{`"connection refused"`, func(m string) bool { return strings.Contains(m, "connection refused") }},
			{"?hello ?WARN ?refused", func(m string) bool { return strings.Contains(m, "hello") || strings.Contains(m, "refused") }},
			{"RequestId -START -END", func(m string) bool { return strings.HasPrefix(m, "REPORT") }},
			{"error", func(string) bool { return false }},
		}
		for _, c := range cases {
			evs, _, err := s.FilterLogEvents(ctx, groupA, nil, "", 0, 0, c.pattern, 0, "")
			if err != nil {
				t.Fatalf("%q: %v", c.pattern, err)
			}
			var want []string
			for _, ev := range all {
				if c.want(ev.Message) {
					want = append(want, ev.Message)
				}
			}
			if d := cmp.Diff(want, fmsgs(evs), cmpopts.EquateEmpty()); d != "" {
				t.Errorf("pattern %q (-want +got):\n%s", c.pattern, d)
			}
		}
		if _, _, err := s.FilterLogEvents(ctx, groupA, nil, "", 0, 0, `{ $.level = "ERROR" }`, 0, ""); !errors.Is(err, ErrInvalidParameter) {
			t.Errorf("json pattern: %v", err)
		}

		// Time range, end inclusive.
		start, end := base+1000, base+2500
		var want []string
		for _, ev := range all {
			if ev.Timestamp >= start && ev.Timestamp <= end {
				want = append(want, ev.Message)
			}
		}
		evs, _, err = s.FilterLogEvents(ctx, groupA, nil, "", start, end, "", 0, "")
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(want, fmsgs(evs)); d != "" {
			t.Errorf("range (-want +got):\n%s", d)
		}

		// Paging with limit 4 returns everything once.
		var got []FilteredEvent
		next = ""
		for range 50 {
			evs, next, err = s.FilterLogEvents(ctx, groupA, nil, "", 0, 0, "", 4, next)
			if err != nil {
				t.Fatal(err)
			}
			if len(evs) > 4 {
				t.Fatalf("page of %d", len(evs))
			}
			got = append(got, evs...)
			if next == "" {
				break
			}
		}
		slices.SortStableFunc(got, func(a, b FilteredEvent) int { return strings.Compare(a.EventID, b.EventID) })
		first, _, _ := s.FilterLogEvents(ctx, groupA, nil, "", 0, 0, "", 0, "")
		slices.SortStableFunc(first, func(a, b FilteredEvent) int { return strings.Compare(a.EventID, b.EventID) })
		if d := cmp.Diff(first, got); d != "" {
			t.Errorf("paged (-want +got):\n%s", d)
		}

		evs, _, _ = s.FilterLogEvents(ctx, groupA, []string{streamY, "missing"}, "", 0, 0, "", 0, "")
		if d := cmp.Diff(msgs(f[groupA][streamY]), fmsgs(evs)); d != "" {
			t.Errorf("by names (-want +got):\n%s", d)
		}
		evs, _, _ = s.FilterLogEvents(ctx, groupA, nil, "2024/05/01/[$LATEST]0", 0, 0, "", 0, "")
		if d := cmp.Diff(msgs(f[groupA][streamX]), fmsgs(evs)); d != "" {
			t.Errorf("by prefix (-want +got):\n%s", d)
		}
		evs, _, _ = s.FilterLogEvents(ctx, groupB, nil, "", 0, 0, "WARN", 0, "")
		if len(evs) != 2 || evs[0].Stream != streamZ {
			t.Errorf("group B: %+v", evs)
		}
		if _, _, err := s.FilterLogEvents(ctx, groupA, []string{streamX}, "2024", 0, 0, "", 0, ""); !errors.Is(err, ErrInvalidParameter) {
			t.Errorf("names and prefix: %v", err)
		}
		if _, _, err := s.FilterLogEvents(ctx, "nope", nil, "", 0, 0, "", 0, ""); !errors.Is(err, ErrGroupNotFound) {
			t.Errorf("missing group: %v", err)
		}
	})
}

func TestRestart(t *testing.T) {
	dir := t.TempDir()
	e := openEnv(t, dir, Options{})
	before := time.Now().UnixMilli()
	f := seed(e)
	after := time.Now().UnixMilli()
	ctx := context.Background()
	groups1, _, _ := e.s.DescribeLogGroups(ctx, "", 0, "")
	streams1, _, _ := e.s.DescribeLogStreams(ctx, groupA, "", false, false, 0, "")
	filtered1, _, _ := e.s.FilterLogEvents(ctx, groupA, nil, "", 0, 0, "", 0, "")
	e.close()

	e = openEnv(t, dir, Options{})
	groups2, _, _ := e.s.DescribeLogGroups(ctx, "", 0, "")
	if d := cmp.Diff(groups1, groups2); d != "" {
		t.Errorf("groups after restart (-before +after):\n%s", d)
	}
	streams2, _, _ := e.s.DescribeLogStreams(ctx, groupA, "", false, false, 0, "")
	if d := cmp.Diff(streams1, streams2); d != "" {
		t.Errorf("streams after restart (-before +after):\n%s", d)
	}
	filtered2, _, _ := e.s.FilterLogEvents(ctx, groupA, nil, "", 0, 0, "", 0, "")
	if d := cmp.Diff(filtered1, filtered2); d != "" {
		t.Errorf("events after restart (-before +after):\n%s", d)
	}
	checkQueries(t, e.s, f, before, after)

	// Writing continues where it left off.
	more := invocation(base+10000, "x-after", "after restart")
	f.add(e.s, groupA, streamX, more)
	e.flush()
	ss, _, _ := e.s.DescribeLogStreams(ctx, groupA, streamX, false, false, 0, "")
	if len(ss) != 1 || ss[0].StoredBytes != f.bytes(groupA, streamX) || ss[0].LastEventTimestamp != more[len(more)-1].Timestamp {
		t.Errorf("after restart append: %+v (want %d bytes)", ss, f.bytes(groupA, streamX))
	}
	evs, _, _, _ := e.s.GetLogEvents(ctx, groupA, streamX, 0, 0, 0, "", true)
	if d := cmp.Diff(msgs(f[groupA][streamX]), msgs(evs)); d != "" {
		t.Errorf("events (-want +got):\n%s", d)
	}
}

// gatedJS holds every async publish until the gate opens, like a backbone
// that has stopped answering.
type gatedJS struct {
	jetstream.JetStream
	gate chan struct{}
}

func (g *gatedJS) PublishAsync(subj string, data []byte, opts ...jetstream.PublishOpt) (jetstream.PubAckFuture, error) {
	<-g.gate
	return g.JetStream.PublishAsync(subj, data, opts...)
}

// openGated opens a store with o on a backbone whose publishes wait until
// the returned gate is closed.
func openGated(t *testing.T, o Options) (*Store, chan struct{}) {
	t.Helper()
	ctx := context.Background()
	bb, err := store.Open(ctx, store.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bb.Close() })
	gj := &gatedJS{JetStream: bb.JetStream(), gate: make(chan struct{})}
	s, err := Open(ctx, gj, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(ctx) })
	return s, gj.gate
}

func TestAppendDoesNotBlockWhenBackboneIsSlow(t *testing.T) {
	ctx := context.Background()
	const queue = 64
	s, gate := openGated(t, Options{QueueSize: queue})

	const n = 20000
	var worst time.Duration
	start := time.Now()
	for i := range n {
		t0 := time.Now()
		s.Append(groupA, streamX, []Event{{Timestamp: base + int64(i), Message: fmt.Sprintf("line %d", i)}})
		worst = max(worst, time.Since(t0))
	}
	total := time.Since(start)
	t.Logf("%d appends in %v (%v/op), worst %v", n, total, total/n, worst)
	if worst > 100*time.Millisecond {
		t.Errorf("an Append took %v", worst)
	}
	st := s.Stats()
	if st.Appended != n || st.Dropped < n-queue-maxRound-1 {
		t.Errorf("stats %+v", st)
	}
	close(gate)
	fctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := s.Flush(fctx); err != nil {
		t.Fatal(err)
	}
	st = s.Stats()
	if st.Written+st.Dropped != n || st.Failed != 0 {
		t.Errorf("stats after flush %+v", st)
	}
	// Drop-oldest keeps the newest batches.
	evs, _, _, err := s.GetLogEvents(ctx, groupA, streamX, 0, 0, queue, "", false)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != queue || evs[len(evs)-1].Message != fmt.Sprintf("line %d", n-1) {
		t.Errorf("newest events: %d, last %+v", len(evs), evs[len(evs)-1])
	}
}

// TestQueueBytesBound appends large batches to a backbone that does not
// answer: the bytes held never pass QueueBytes, and the newest batch is
// kept.
func TestQueueBytesBound(t *testing.T) {
	ctx := context.Background()
	const limit = 4 << 20
	s, gate := openGated(t, Options{QueueBytes: limit})
	line := strings.Repeat("x", 64<<10)
	const n = 400 // 25 MB in all
	for i := range n {
		s.Append(groupA, streamX, []Event{{Timestamp: base + int64(i), Message: fmt.Sprintf("%d %s", i, line)}})
		if q := s.queued.Load(); q > limit {
			t.Fatalf("after append %d the queue holds %d bytes, over its bound %d", i, q, limit)
		}
	}
	if st := s.Stats(); st.Dropped == 0 || st.Dropped > n-limit/(64<<10)+maxRound {
		t.Errorf("stats %+v: want the oldest dropped to stay under %d bytes", st, limit)
	}
	close(gate)
	fctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := s.Flush(fctx); err != nil {
		t.Fatal(err)
	}
	if q := s.queued.Load(); q != 0 {
		t.Errorf("after the flush the queue still counts %d bytes", q)
	}
	evs, _, _, err := s.GetLogEvents(ctx, groupA, streamX, 0, 0, 1000, "", false)
	if err != nil || len(evs) == 0 || !strings.HasPrefix(evs[len(evs)-1].Message, fmt.Sprintf("%d ", n-1)) {
		t.Errorf("the newest batch was not kept: %d events, err %v", len(evs), err)
	}
}

func TestConcurrentAppendFlush(t *testing.T) {
	e := openEnv(t, t.TempDir(), Options{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				e.s.Append(groupA, fmt.Sprintf("s%d", w), invocation(base+int64(i), fmt.Sprint(i), "x"))
			}
		}()
	}
	wg.Wait()
	e.flush()
	st := e.s.Stats()
	if st.Written != 800 || st.Dropped != 0 {
		t.Errorf("stats %+v", st)
	}
	for w := range 4 {
		evs, _, _, err := e.s.GetLogEvents(context.Background(), groupA, fmt.Sprintf("s%d", w), 0, 0, 0, "", true)
		if err != nil || len(evs) != 800 {
			t.Errorf("stream %d: %d events, %v", w, len(evs), err)
		}
	}
}

func TestLargeBatch(t *testing.T) {
	e := openEnv(t, t.TempDir(), Options{})
	ctx := context.Background()
	var evs []Event
	for i := range 3*maxChunkEvents + 5 {
		evs = append(evs, Event{Timestamp: base + int64(i), Message: fmt.Sprintf("event %d", i)})
	}
	huge := strings.Repeat("é", MaxEventBytes) // 2 bytes per rune
	evs = append(evs, Event{Timestamp: base + int64(len(evs)), Message: huge})
	e.s.Append(groupA, streamX, evs)
	e.flush()
	if info, err := e.s.stream.Info(ctx); err != nil || info.State.Msgs < 4 {
		t.Errorf("expected several messages: %+v %v", info, err)
	}
	var got []Event
	tok := ""
	for range 100 {
		page, next, _, err := e.s.GetLogEvents(ctx, groupA, streamX, 0, 0, 0, tok, true)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, page...)
		if next == tok {
			break
		}
		tok = next
	}
	if len(got) != len(evs) {
		t.Fatalf("got %d events, want %d", len(got), len(evs))
	}
	last := got[len(got)-1].Message
	if len(last) != MaxEventBytes || last != huge[:MaxEventBytes] {
		t.Errorf("huge message kept %d bytes", len(last))
	}
	for i := range len(evs) - 1 {
		if got[i].Message != evs[i].Message {
			t.Fatalf("event %d: %q", i, got[i].Message)
		}
	}
}

func TestTailPolling(t *testing.T) {
	// The AWS CLI's "logs tail --follow" polls FilterLogEvents with the
	// newest timestamp seen as startTime and drops event IDs it has seen.
	e := openEnv(t, t.TempDir(), Options{})
	ctx := context.Background()
	seen := map[string]bool{}
	var printed []string
	poll := func(startTime int64) int64 {
		newest := startTime
		next := ""
		for {
			evs, tok, err := e.s.FilterLogEvents(ctx, groupA, nil, "", startTime, 0, "", 0, next)
			if err != nil {
				t.Fatal(err)
			}
			for _, ev := range evs {
				if !seen[ev.EventID] {
					seen[ev.EventID] = true
					printed = append(printed, ev.Message)
				}
				newest = max(newest, ev.Timestamp)
			}
			if tok == "" {
				return newest
			}
			next = tok
		}
	}
	var want []string
	now := time.Now().UnixMilli()
	startTime := now - 60000
	for round := range 4 {
		for i := range 3 {
			batch := invocation(now+int64(round*10+i), fmt.Sprintf("r%d-%d", round, i), "tick")
			e.s.Append(groupA, fmt.Sprintf("s%d", i), batch)
			want = append(want, msgs(batch)...)
		}
		e.flush()
		startTime = poll(startTime)
	}
	slices.Sort(want)
	slices.Sort(printed)
	if d := cmp.Diff(want, printed); d != "" {
		t.Errorf("tail output (-want +got):\n%s", d)
	}
}

func TestCreatePutDelete(t *testing.T) {
	e := openEnv(t, t.TempDir(), Options{})
	ctx := context.Background()
	if err := e.s.CreateGroup(ctx, "app"); err != nil {
		t.Fatal(err)
	}
	if err := e.s.CreateGroup(ctx, "app"); !errors.Is(err, ErrGroupExists) {
		t.Errorf("create twice: %v", err)
	}
	if err := e.s.CreateStream(ctx, "nope", "s"); !errors.Is(err, ErrGroupNotFound) {
		t.Errorf("stream in missing group: %v", err)
	}
	if _, _, err := e.s.Put(ctx, "app", "s", []Event{{Timestamp: 1, Message: "x"}}); !errors.Is(err, ErrStreamNotFound) {
		t.Errorf("put to missing stream: %v", err)
	}
	if err := e.s.CreateStream(ctx, "app", "s"); err != nil {
		t.Fatal(err)
	}
	if err := e.s.CreateStream(ctx, "app", "s"); !errors.Is(err, ErrStreamExists) {
		t.Errorf("create stream twice: %v", err)
	}
	ss, _, _ := e.s.DescribeLogStreams(ctx, "app", "", false, false, 0, "")
	if len(ss) != 1 || ss[0].CreationTime == 0 || ss[0].FirstEventTimestamp != 0 {
		t.Errorf("empty stream: %+v", ss)
	}
	now := time.Now().UnixMilli()
	newStart, expEnd, err := e.s.Put(ctx, "app", "s", []Event{
		{Timestamp: now - 40*24*3600*1000, Message: "ancient"},
		{Timestamp: now, Message: "one"},
		{Timestamp: now + 1, Message: "two"},
		{Timestamp: now + 3600*1000, Message: "future"},
	})
	if err != nil || newStart != 3 || expEnd != 1 {
		t.Errorf("put: %d %d %v", newStart, expEnd, err)
	}
	evs, _, _, _ := e.s.GetLogEvents(ctx, "app", "s", 0, 0, 0, "", true)
	if d := cmp.Diff([]string{"one", "two"}, msgs(evs)); d != "" {
		t.Errorf("put events (-want +got):\n%s", d)
	}
	ss, _, _ = e.s.DescribeLogStreams(ctx, "app", "", false, false, 0, "")
	if len(ss) != 1 || ss[0].FirstEventTimestamp != now || ss[0].LastEventTimestamp != now+1 || ss[0].StoredBytes != 6 {
		t.Errorf("stream after put: %+v", ss)
	}

	// Empty group and empty stream survive a restart.
	if err := e.s.CreateGroup(ctx, "empty"); err != nil {
		t.Fatal(err)
	}
	dir := e.dir
	e.close()
	e = openEnv(t, dir, Options{})
	gs, _, _ := e.s.DescribeLogGroups(ctx, "", 0, "")
	if len(gs) != 2 || gs[0].Name != "app" || gs[1].Name != "empty" || gs[0].StoredBytes != 6 {
		t.Errorf("groups after restart: %+v", gs)
	}
	ss, _, _ = e.s.DescribeLogStreams(ctx, "app", "", false, false, 0, "")
	if len(ss) != 1 || ss[0].FirstEventTimestamp != now || ss[0].StoredBytes != 6 {
		t.Errorf("stream after restart: %+v", ss)
	}

	if err := e.s.DeleteStream(ctx, "app", "s"); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := e.s.GetLogEvents(ctx, "app", "s", 0, 0, 0, "", true); !errors.Is(err, ErrStreamNotFound) {
		t.Errorf("deleted stream: %v", err)
	}
	if err := e.s.DeleteGroup(ctx, "empty"); err != nil {
		t.Fatal(err)
	}
	if err := e.s.DeleteGroup(ctx, "empty"); !errors.Is(err, ErrGroupNotFound) {
		t.Errorf("delete twice: %v", err)
	}
	gs, _, _ = e.s.DescribeLogGroups(ctx, "", 0, "")
	if len(gs) != 1 || gs[0].StoredBytes != 0 {
		t.Errorf("groups after delete: %+v", gs)
	}
}

func TestCloseIdempotent(t *testing.T) {
	e := openEnv(t, t.TempDir(), Options{})
	ctx := context.Background()
	e.s.Append(groupA, streamX, invocation(base, "1"))
	if err := e.s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := e.s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	e.s.Append(groupA, streamX, invocation(base, "2")) // ignored
	if err := e.s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	evs, _, _, err := e.s.GetLogEvents(ctx, groupA, streamX, 0, 0, 0, "", true)
	if err != nil || len(evs) != 3 {
		t.Errorf("after close: %d events, %v", len(evs), err)
	}
}

func BenchmarkAppend(b *testing.B) {
	ctx := context.Background()
	bb, err := store.Open(ctx, store.Options{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer bb.Close()
	s, err := Open(ctx, bb.JetStream(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close(ctx)
	batch := invocation(base, "c0ffee00-0000-4000-8000-000000000000", "hello world")[:4]
	b.ReportAllocs()
	for b.Loop() {
		s.Append(groupA, streamX, batch)
	}
	b.StopTimer()
	if err := s.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	st := s.Stats()
	b.ReportMetric(float64(st.Dropped)/float64(st.Appended), "dropped/op")
}

// BenchmarkAppendDurable measures the writer's sustained rate: batches are
// appended in groups no larger than the queue and flushed, so none drop.
func BenchmarkAppendDurable(b *testing.B) {
	ctx := context.Background()
	bb, err := store.Open(ctx, store.Options{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer bb.Close()
	s, err := Open(ctx, bb.JetStream(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close(ctx)
	batch := invocation(base, "c0ffee00-0000-4000-8000-000000000000", "hello world")[:4]
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		s.Append(groupA, streamX, batch)
		if n++; n%1024 == 0 {
			if err := s.Flush(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := s.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	if st := s.Stats(); st.Dropped != 0 {
		b.Fatalf("dropped %d", st.Dropped)
	}
}

func TestGetLogEventsSparseStream(t *testing.T) {
	// X's old messages are far behind a crowd of other log streams, so a
	// backward read has to widen its window several times.
	e := openEnv(t, t.TempDir(), Options{})
	ctx := context.Background()
	var want []string
	for i := range 300 {
		ev := Event{Timestamp: base + int64(i), Message: fmt.Sprintf("x %d", i)}
		e.s.Append(groupA, streamX, []Event{ev})
		want = append(want, ev.Message)
	}
	for i := range 3000 {
		e.s.Append(groupA, fmt.Sprintf("other-%d", i%7), []Event{{Timestamp: base + 300 + int64(i), Message: "noise"}})
	}
	last := Event{Timestamp: base + 5000, Message: "x last"}
	e.s.Append(groupA, streamX, []Event{last})
	want = append(want, last.Message)
	e.flush()

	evs, _, bwd, err := e.s.GetLogEvents(ctx, groupA, streamX, 0, 0, 10, "", false)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want[len(want)-10:], msgs(evs)); d != "" {
		t.Fatalf("newest (-want +got):\n%s", d)
	}
	got := evs
	for range 100 {
		page, _, next, err := e.s.GetLogEvents(ctx, groupA, streamX, 0, 0, 25, bwd, false)
		if err != nil {
			t.Fatal(err)
		}
		got = append(page, got...)
		if next == bwd {
			break
		}
		bwd = next
	}
	if d := cmp.Diff(want, msgs(got)); d != "" {
		t.Errorf("backward paging (-want +got):\n%s", d)
	}
	// A time range selecting only old events.
	evs, _, _, err = e.s.GetLogEvents(ctx, groupA, streamX, base+100, base+110, 0, "", false)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want[100:110], msgs(evs)); d != "" {
		t.Errorf("old range (-want +got):\n%s", d)
	}
	fevs, _, err := e.s.FilterLogEvents(ctx, groupA, []string{streamX}, "", 0, 0, "last", 0, "")
	if err != nil || len(fevs) != 1 || fevs[0].Message != "x last" {
		t.Errorf("filter: %+v %v", fevs, err)
	}
}

// failingJS refuses every publish, like a backbone that lost its stream.
type failingJS struct{ jetstream.JetStream }

var errRefused = errors.New("refused")

func (failingJS) PublishAsync(string, []byte, ...jetstream.PublishOpt) (jetstream.PubAckFuture, error) {
	return nil, errRefused
}

func (failingJS) Publish(context.Context, string, []byte, ...jetstream.PublishOpt) (*jetstream.PubAck, error) {
	return nil, errRefused
}

func TestPublishFailure(t *testing.T) {
	ctx := context.Background()
	bb, err := store.Open(ctx, store.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer bb.Close()
	s, err := Open(ctx, failingJS{bb.JetStream()}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		s.Append(groupA, streamX, invocation(base+int64(i), fmt.Sprint(i)))
	}
	fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := s.Flush(fctx); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Failed+st.Dropped != 50 || st.Written != 0 {
		t.Errorf("stats %+v", st)
	}
	if err := s.CreateGroup(fctx, "g"); !errors.Is(err, errRefused) {
		t.Errorf("create group: %v", err)
	}
	if _, _, err := s.DescribeLogStreams(ctx, groupA, "", false, false, 0, ""); !errors.Is(err, ErrGroupNotFound) {
		t.Errorf("nothing should be indexed: %v", err)
	}
	if err := s.Close(fctx); err != nil {
		t.Fatal(err)
	}
}

// TestBatchesShareMessages appends many invocations' batches to two log
// streams at once: each stream's batches that arrive together go out in
// one message, and every event is read back in order.
func TestBatchesShareMessages(t *testing.T) {
	e := openEnv(t, t.TempDir(), Options{})
	ctx := context.Background()
	const n = 200
	for i := range n {
		e.s.Append(groupA, "a", invocation(base+10*int64(i), fmt.Sprint(i), "a"))
		e.s.Append(groupA, "b", invocation(base+10*int64(i), fmt.Sprint(i), "b"))
	}
	e.flush()
	if st := e.s.Stats(); st.Written != 2*n || st.Dropped != 0 || st.Failed != 0 {
		t.Errorf("stats %+v", st)
	}
	info, err := e.s.stream.Info(ctx)
	if err != nil || info.State.Msgs >= n {
		t.Errorf("%d batches went out in %+v messages (%v): they should share them", 2*n, info.State.Msgs, err)
	}
	for _, stream := range []string{"a", "b"} {
		evs, _, _, err := e.s.GetLogEvents(ctx, groupA, stream, 0, 0, 0, "", true)
		if err != nil || len(evs) != 4*n {
			t.Fatalf("%s: %d events, %v", stream, len(evs), err)
		}
		for i := 0; i < len(evs); i += 4 {
			id := fmt.Sprint(i / 4)
			if !strings.HasPrefix(evs[i].Message, "START RequestId: "+id+" ") || evs[i+1].Message != stream+"\n" ||
				evs[i+2].Message != "END RequestId: "+id+"\n" || !strings.HasPrefix(evs[i+3].Message, "REPORT RequestId: "+id+"\t") {
				t.Fatalf("%s: invocation %s reads %+v", stream, id, evs[i:i+4])
			}
		}
	}
}

// TestPersistModeKept opens a store whose stream is written
// asynchronously and reopens it asking otherwise, and the reverse: a
// stream keeps the persist mode it was created with, and its logs.
func TestPersistModeKept(t *testing.T) {
	ctx := context.Background()
	for _, first := range []bool{true, false} {
		dir := t.TempDir()
		e := openEnv(t, dir, Options{AsyncPersist: first})
		e.s.Append(groupA, streamX, invocation(base, "1", "kept"))
		e.flush()
		e.close()
		e = openEnv(t, dir, Options{AsyncPersist: !first})
		info, err := e.s.stream.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got := info.Config.PersistMode == jetstream.AsyncPersistMode; got != first {
			t.Errorf("created async=%v, reopened asking the other: async=%v", first, got)
		}
		evs, _, _, err := e.s.GetLogEvents(ctx, groupA, streamX, 0, 0, 0, "", true)
		if err != nil || len(evs) != 4 || evs[1].Message != "kept\n" {
			t.Errorf("after reopening: %+v %v", evs, err)
		}
		e.close()
	}
}

// TestSmallQueueKeepsUpWhileTheWriterLingers appends small batches,
// paced, to a store whose queue is shorter than a round: the writer,
// asleep through its linger, is woken once half the queue waits, so a
// healthy backbone drops nothing.
func TestSmallQueueKeepsUpWhileTheWriterLingers(t *testing.T) {
	e := openEnv(t, t.TempDir(), Options{QueueSize: 64})
	e.s.Append(groupA, streamX, []Event{{Timestamp: base, Message: "first"}})
	time.Sleep(5 * time.Millisecond) // the writer takes it and sleeps
	const n = 300
	for i := range n {
		e.s.Append(groupA, streamX, []Event{{Timestamp: base + int64(i) + 1, Message: fmt.Sprintf("line %d", i)}})
		for t0 := time.Now(); time.Since(t0) < 300*time.Microsecond; { // paced (a sleep this short takes longer)
		}
	}
	e.flush()
	if st := e.s.Stats(); st.Dropped != 0 || st.Written != n+1 {
		t.Errorf("a healthy backbone, small batches: %+v", st)
	}
}
