package traces

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aloft-dev/aloft/internal/store"
	"github.com/aloft-dev/aloft/internal/traces/traceid"
)

const reqID = "0123abcd-4567-4abc-8def-0123456789ab"

func coldInvocation(t0 time.Time, root string, outcome Outcome) *Invocation {
	return &Invocation{Function: "fn", RequestID: reqID, Trace: "Root=" + root + ";Parent=53995c3f42cd8ad8;Sampled=1", Outcome: outcome,
		Arrived: t0, Cold: true, SandboxStart: t0.Add(10 * time.Millisecond), SandboxReady: t0.Add(30 * time.Millisecond),
		InitDone: t0.Add(80 * time.Millisecond), Acquired: t0.Add(80 * time.Millisecond),
		Duration: 20 * time.Millisecond, Ended: t0.Add(101 * time.Millisecond)}
}

func decode(t *testing.T, d Doc) *Segment {
	t.Helper()
	var s Segment
	if err := json.Unmarshal(d.Body, &s); err != nil {
		t.Fatal(err)
	}
	return &s
}

func TestBuild(t *testing.T) {
	t0 := time.Unix(1700000000, 500000000)
	root := traceid.NewRoot(t0)
	docs := Build(coldInvocation(t0, root, Succeeded))
	if len(docs) != 2 {
		t.Fatalf("got %d documents, want 2", len(docs))
	}
	svc, fn := decode(t, docs[0]), decode(t, docs[1])
	if svc.Origin != OriginLambda || svc.ID != "0123abcd45674abc" || svc.ParentID != "53995c3f42cd8ad8" || svc.TraceID != root {
		t.Errorf("service segment = %+v", svc)
	}
	if svc.StartTime != 1700000000.5 || svc.EndTime != 1700000000.601 {
		t.Errorf("service segment times %v..%v", svc.StartTime, svc.EndTime)
	}
	if len(svc.Subsegments) != 1 || svc.Subsegments[0].Name != "Queueing" || svc.Subsegments[0].EndTime != 1700000000.51 {
		t.Errorf("service subsegments = %+v", svc.Subsegments)
	}
	if fn.Origin != OriginFunction || fn.ID != "8def0123456789ab" || fn.ParentID != svc.ID || fn.AWS == nil || fn.AWS.ColdStart == nil || !*fn.AWS.ColdStart {
		t.Errorf("function segment = %+v", fn)
	}
	var names []string
	for _, s := range fn.Subsegments {
		names = append(names, s.Name)
	}
	if fmt.Sprint(names) != "[Sandbox Initialization Invocation]" {
		t.Errorf("function subsegments %v", names)
	}
	if inv := fn.Subsegments[2]; inv.StartTime != 1700000000.581 || inv.EndTime != 1700000000.601 {
		t.Errorf("Invocation %v..%v", inv.StartTime, inv.EndTime)
	}
	ids := map[string]bool{svc.ID: true, fn.ID: true, svc.Subsegments[0].ID: true}
	for _, s := range fn.Subsegments {
		ids[s.ID] = true
	}
	if len(ids) != 6 {
		t.Errorf("ids are not distinct: %v", ids)
	}

	// Warm, failing with a function error: no start phases, error set.
	warm := &Invocation{Function: "fn", RequestID: reqID, Trace: "Root=" + root + ";Sampled=1", Outcome: FunctionError, ErrorType: "ValueError",
		Arrived: t0, Acquired: t0, Duration: time.Millisecond, Ended: t0.Add(time.Millisecond)}
	docs = Build(warm)
	fn = decode(t, docs[1])
	if !fn.Error || fn.Fault || len(fn.Subsegments) != 1 || fn.Cause == nil || fn.Cause.Exceptions[0].Type != "ValueError" {
		t.Errorf("warm function error segment = %+v", fn)
	}
	if svc := decode(t, docs[0]); len(svc.Subsegments) != 0 || svc.ParentID != "" {
		t.Errorf("warm service segment = %+v", svc)
	}

	// Throttled: the service segment alone.
	th := &Invocation{Function: "fn", RequestID: reqID, Trace: "Root=" + root + ";Sampled=1", Outcome: Throttled, Arrived: t0, Ended: t0}
	if docs := Build(th); len(docs) != 1 || !decode(t, docs[0]).Throttle {
		t.Errorf("throttled: %d documents", len(docs))
	}
	// Not sampled: nothing.
	for _, h := range []string{"Root=" + root + ";Sampled=0", "Root=" + root, "", "nonsense"} {
		inv := coldInvocation(t0, root, Succeeded)
		inv.Trace = h
		if docs := Build(inv); docs != nil {
			t.Errorf("Build with trace %q gave %d documents", h, len(docs))
		}
	}
}

func openStore(t *testing.T, o Options) *Store {
	t.Helper()
	ctx := context.Background()
	bb, err := store.Open(ctx, store.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bb.Close() })
	s, err := Open(ctx, bb.JetStream(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	return s
}

func TestStoreBatchesAndReads(t *testing.T) {
	var batches [][]Doc
	exported := make(chan int, 100)
	s := openStore(t, Options{FlushEvery: time.Hour, Batch: 1000, Export: func(d []Doc) { batches = append(batches, d); exported <- len(d) }})
	ctx := context.Background()
	now := time.Now()
	var roots []string
	for i := 0; i < 3; i++ {
		root := traceid.NewRoot(now)
		roots = append(roots, root)
		inv := coldInvocation(now.Add(time.Duration(i)*time.Second), root, Succeeded)
		if i == 1 {
			inv.Outcome, inv.ErrorType = Failed, "Sandbox.Timedout"
		}
		s.Record(inv)
	}
	if st := s.Stats(); st.Added != 6 || st.Written != 0 {
		t.Fatalf("before a flush: %+v", st)
	}
	// Nothing is written until the batch is due.
	if found, _, err := s.Get(ctx, roots[:1]); err != nil || len(found) != 0 {
		t.Fatalf("read before flush: %v, %v", found, err)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Written != 6 || len(batches) != 1 || len(batches[0]) != 6 {
		t.Fatalf("after a flush: %+v, %d batches", st, len(batches))
	}

	// A subsegment from a function's SDK joins its parent.
	sub := fmt.Sprintf(`{"type":"subsegment","name":"s3","id":"aaaaaaaaaaaaaaaa","trace_id":%q,"parent_id":"8def0123456789ab","start_time":%f,"end_time":%f}`,
		roots[0], Seconds(now)+0.09, Seconds(now)+0.095)
	bad := s.Put([]string{sub, `{"name":"x"}`, `not json`, fmt.Sprintf(`{"name":"open","id":"bbbbbbbbbbbbbbbb","trace_id":%q,"start_time":1}`, roots[0])})
	if len(bad) != 3 {
		t.Fatalf("Put refused %d, want 3: %+v", len(bad), bad)
	}
	s.Flush(ctx)

	found, missing, err := s.Get(ctx, []string{roots[0], roots[1], "1-00000000-000000000000000000000000", "garbage"})
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 2 || len(missing) != 2 {
		t.Fatalf("found %d, missing %v", len(found), missing)
	}
	if found[0].ID != roots[0] || len(found[0].Segments) != 2 || found[0].Duration != 0.101 {
		t.Fatalf("trace 0 = %+v", found[0])
	}
	fn := decode(t, found[0].Segments[1])
	if last := fn.Subsegments[len(fn.Subsegments)-1]; last.Name != "s3" {
		t.Errorf("the SDK's subsegment is not under the function segment: %+v", fn.Subsegments)
	}

	// Summaries: by time, filtered, paged.
	q := Query{Start: now.Add(-time.Minute), End: now.Add(time.Minute)}
	p, err := s.Summaries(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Summaries) != 3 || p.Next != 0 {
		t.Fatalf("summaries: %+v", p)
	}
	if e := p.Summaries[0].EntryPoint; e.Name != "fn" || e.Type != OriginLambda || p.Summaries[0].ResponseTime != 0.101 {
		t.Errorf("summary = %+v", p.Summaries[0])
	}
	for _, tc := range []struct {
		filter string
		want   int
	}{
		{`service("fn")`, 3}, {`service("other")`, 0}, {`http.status = 500`, 1}, {`http.status != 500`, 2},
		{`fault`, 1}, {`!fault AND service("fn")`, 2}, {`ok`, 2}, {`fault = false OR http.status >= 500`, 3}, {`responsetime > 0.1`, 3},
		{`duration < 0.05`, 0}, {`(error OR fault) AND throttle`, 0},
	} {
		f, err := ParseFilter(tc.filter)
		if err != nil {
			t.Errorf("ParseFilter(%q): %v", tc.filter, err)
			continue
		}
		q.Filter = f
		p, err := s.Summaries(ctx, q)
		if err != nil || len(p.Summaries) != tc.want {
			t.Errorf("filter %q: %d summaries, %v; want %d", tc.filter, len(p.Summaries), err, tc.want)
		}
	}
	q.Filter = nil
	q.Start, q.End = now.Add(-time.Hour), now.Add(-30*time.Minute)
	if p, err := s.Summaries(ctx, q); err != nil || len(p.Summaries) != 0 {
		t.Errorf("an earlier range: %+v, %v", p, err)
	}
	q.Start, q.End = now.Add(-25*time.Hour), now
	if _, err := s.Summaries(ctx, q); !errors.Is(err, ErrInvalidQuery) {
		t.Errorf("a range over 24 hours: %v", err)
	}
}

func TestFilterRefusals(t *testing.T) {
	for _, f := range []string{`annotation.user = "x"`, `service(id(name: "x"))`, `edge("a", "b")`, `http.status = "x"`, `http.status`,
		`service("a"`, `fault AND`, `(fault`, `rootcause.fault.service("x")`, `http.url CONTAINS 5`, `"lonely"`,
		strings.Repeat("!", 100) + "ok", strings.Repeat("(", 100) + "ok" + strings.Repeat(")", 100), strings.Repeat("ok AND ", 1000) + "ok"} {
		if _, err := ParseFilter(f); !errors.Is(err, ErrInvalidQuery) {
			t.Errorf("ParseFilter(%q) = %v, want an invalid query", f, err)
		}
	}
	if f, err := ParseFilter("  "); f != nil || err != nil {
		t.Errorf("an empty filter: %v, %v", f, err)
	}
}

func TestBufferBound(t *testing.T) {
	s := openStore(t, Options{Buffer: 3, Batch: 1000, FlushEvery: time.Hour})
	d := Doc{Trace: traceid.NewRoot(time.Now()), ID: traceid.NewID(), Body: json.RawMessage(`{}`)}
	s.Add(d, d)
	s.Add(d, d)
	if st := s.Stats(); st.Added != 3 || st.Dropped != 1 {
		t.Errorf("stats %+v, want 3 added and 1 dropped", st)
	}
	if bad := s.Put([]string{fmt.Sprintf(`{"name":"a","id":"aaaaaaaaaaaaaaaa","trace_id":%q,"start_time":1,"end_time":2}`, d.Trace)}); len(bad) != 1 || bad[0].ErrorCode != "ThrottledException" {
		t.Errorf("Put into a full buffer: %+v", bad)
	}
}

func TestBatchDueBySize(t *testing.T) {
	s := openStore(t, Options{Batch: 4, FlushEvery: time.Hour})
	root := traceid.NewRoot(time.Now())
	s.Record(coldInvocation(time.Now(), root, Succeeded))
	s.Record(coldInvocation(time.Now(), root, Succeeded))
	deadline := time.Now().Add(5 * time.Second)
	for s.Stats().Written != 4 {
		if time.Now().After(deadline) {
			t.Fatalf("a full batch was not written: %+v", s.Stats())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func BenchmarkRecordUnsampled(b *testing.B) {
	s := &Store{o: Options{Buffer: 10, Batch: 10}, kick: make(chan struct{}, 1), quit: make(chan struct{})}
	inv := coldInvocation(time.Now(), traceid.NewRoot(time.Now()), Succeeded)
	inv.Trace = "Root=" + traceid.NewRoot(time.Now()) + ";Sampled=0"
	b.ReportAllocs()
	for b.Loop() {
		s.Record(inv)
	}
}

func BenchmarkRecordSampled(b *testing.B) {
	s := &Store{o: Options{Buffer: 1 << 30, Batch: 1 << 30}, kick: make(chan struct{}, 1), quit: make(chan struct{})}
	inv := coldInvocation(time.Now(), traceid.NewRoot(time.Now()), Succeeded)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if i%4096 == 0 {
			s.invs = s.invs[:0] // as the writer takes them
		}
		s.Record(inv)
	}
}

func BenchmarkBuildSampled(b *testing.B) {
	inv := coldInvocation(time.Now(), traceid.NewRoot(time.Now()), Succeeded)
	b.ReportAllocs()
	for b.Loop() {
		Build(inv)
	}
}

// BenchmarkHopUnsampled is what an ingress does per request that is not
// sampled: decide, mint a root and a hop id, write the header.
func BenchmarkHopUnsampled(b *testing.B) {
	var s traceid.Sampler
	now := time.Now()
	s.Sample(now) // the second's reservoir is taken
	s.Rate = -1
	b.ReportAllocs()
	for b.Loop() {
		h := NewHop(s.Start("", "", now), now)
		_ = h.Downstream()
	}
}

func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{`service("fn")`, `http.status >= 500 AND !ok`, `(fault OR error) AND duration > 1.5`, `http.url CONTAINS "x"`, `!`} {
		f.Add(s)
	}
	sum := &Summary{HTTP: &HTTP{Request: &HTTPRequest{URL: "u"}, Response: &HTTPResponse{Status: 500}}}
	f.Fuzz(func(t *testing.T, expr string) {
		flt, err := ParseFilter(expr)
		if err != nil {
			if !errors.Is(err, ErrInvalidQuery) {
				t.Fatalf("ParseFilter(%q) failed with %v, not an invalid query", expr, err)
			}
			return
		}
		if flt != nil {
			flt.match(sum, []fields{{Name: "fn"}})
		}
	})
}
