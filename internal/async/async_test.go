package async

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aloft-dev/aloft/internal/function"
	"github.com/aloft-dev/aloft/internal/store"
)

// fake records deliveries and fails each function's first n deliveries.
type fake struct {
	mu       sync.Mutex
	seen     map[string][]*Event // by function
	failN    map[string]int
	throttle map[string]int // refuse this many deliveries for concurrency first
	config   map[string]*function.EventInvokeConfig
	dlq      map[string]string
	disabled map[string]bool
}

func (f *fake) invoke(_ context.Context, ev *Event) (*Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if ev.Function == "gone" {
		return nil, ErrGone
	}
	if f.throttle[ev.Function] > 0 {
		f.throttle[ev.Function]--
		return nil, function.Throttled(function.ReasonAccount)
	}
	f.seen[ev.Function] = append(f.seen[ev.Function], ev)
	if len(f.seen[ev.Function]) <= f.failN[ev.Function] {
		return &Result{Payload: []byte(`{"errorType":"Boom"}`), FunctionError: "Unhandled", Version: "$LATEST"}, nil
	}
	return &Result{Payload: []byte(`{"ok":true}`), Version: "$LATEST"}, nil
}

func (f *fake) target(_ context.Context, fn, _ string) (*Target, error) {
	if fn == "gone" {
		return nil, ErrGone
	}
	return &Target{Config: f.config[fn], ARN: function.ARN("us-east-1", fn, ""), DeadLetter: f.dlq[fn], Disabled: f.disabled[fn]}, nil
}

func (f *fake) count(fn string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.seen[fn])
}

func open(t *testing.T, dir string, f *fake, now func() time.Time) *Queue {
	t.Helper()
	st, err := store.Open(context.Background(), store.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	q, err := Open(context.Background(), st.JetStream(), Deps{Invoke: f.invoke, Target: f.target, Workers: 4, RetryBase: 100 * time.Millisecond, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	q.Start()
	t.Cleanup(func() {
		q.Close(context.Background())
		st.Close()
	})
	return q
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func ptr(n int) *int { return &n }

// record is Lambda's destination record, as far as the tests read it.
type record struct {
	Version        string `json:"version"`
	RequestContext struct {
		RequestID string `json:"requestId"`
		Condition string `json:"condition"`
		Count     int    `json:"approximateInvokeCount"`
		ARN       string `json:"functionArn"`
	} `json:"requestContext"`
	RequestPayload  map[string]any `json:"requestPayload"`
	ResponseContext struct {
		StatusCode    int    `json:"statusCode"`
		FunctionError string `json:"functionError"`
	} `json:"responseContext"`
	ResponsePayload map[string]any `json:"responsePayload"`
}

func TestRetriesAndDestinations(t *testing.T) {
	f := &fake{seen: map[string][]*Event{}, failN: map[string]int{"flaky": 2, "broken": 99}, config: map[string]*function.EventInvokeConfig{
		"flaky":  {DestinationConfig: &function.DestinationConfig{OnSuccess: &function.Destination{Destination: function.ARN("us-east-1", "ok-sink", "")}}},
		"broken": {MaximumRetryAttempts: ptr(1), DestinationConfig: &function.DestinationConfig{OnFailure: &function.Destination{Destination: function.ARN("us-east-1", "fail-sink", "")}}},
		"once":   {MaximumRetryAttempts: ptr(0)},
	}}
	f.failN["once"] = 99
	q := open(t, t.TempDir(), f, nil)
	ctx := context.Background()
	for _, fn := range []string{"flaky", "broken", "once", "gone"} {
		if err := q.Enqueue(ctx, &Event{ID: "id-" + fn, Function: fn, Payload: json.RawMessage(`{"n":1}`)}); err != nil {
			t.Fatal(err)
		}
	}
	// A duplicate of an accepted event is dropped by its id.
	if err := q.Enqueue(ctx, &Event{ID: "id-flaky", Function: "flaky"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the success destination", func() bool { return f.count("ok-sink") == 1 })
	waitFor(t, "the failure destination", func() bool { return f.count("fail-sink") == 1 })
	if n := f.count("flaky"); n != 3 {
		t.Errorf("flaky delivered %d times, want 3 (two failures, then success)", n)
	}
	if n := f.count("broken"); n != 2 {
		t.Errorf("broken delivered %d times, want 2 (MaximumRetryAttempts 1)", n)
	}
	time.Sleep(300 * time.Millisecond)
	if n := f.count("once"); n != 1 {
		t.Errorf("once delivered %d times, want 1 (MaximumRetryAttempts 0)", n)
	}

	var rec record
	f.mu.Lock()
	okRec, failRec := f.seen["ok-sink"][0].Payload, f.seen["fail-sink"][0].Payload
	f.mu.Unlock()
	if err := json.Unmarshal(okRec, &rec); err != nil {
		t.Fatal(err)
	}
	if rec.Version != "1.0" || rec.RequestContext.Condition != "Success" || rec.RequestContext.Count != 3 ||
		rec.RequestContext.RequestID != "id-flaky" || rec.RequestPayload["n"] != 1.0 || rec.ResponsePayload["ok"] != true ||
		!strings.HasSuffix(rec.RequestContext.ARN, ":function:flaky:$LATEST") {
		t.Errorf("success record got %s", okRec)
	}
	rec = record{}
	json.Unmarshal(failRec, &rec)
	if rec.RequestContext.Condition != "RetriesExhausted" || rec.RequestContext.Count != 2 || rec.ResponseContext.FunctionError != "Unhandled" {
		t.Errorf("failure record got %s", failRec)
	}
	stats, err := q.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	byFn := map[string]Stats{}
	for _, s := range stats {
		byFn[s.Function] = s
	}
	if s := byFn["flaky"]; s.Succeeded != 1 || s.Retried != 2 || s.Destinations != 1 {
		t.Errorf("flaky stats got %+v", s)
	}
	if s := byFn["broken"]; s.Failed != 1 || s.Retried != 1 {
		t.Errorf("broken stats got %+v", s)
	}
}

func TestEventAgeExceeded(t *testing.T) {
	f := &fake{seen: map[string][]*Event{}, failN: map[string]int{}, config: map[string]*function.EventInvokeConfig{
		"old": {MaximumEventAgeInSeconds: ptr(60), DestinationConfig: &function.DestinationConfig{OnFailure: &function.Destination{Destination: function.ARN("us-east-1", "sink", "")}}},
	}}
	q := open(t, t.TempDir(), f, nil)
	ev := &Event{ID: "stale", Function: "old", Enqueued: time.Now().Add(-2 * time.Minute).UnixMilli()}
	if err := q.Enqueue(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the failure destination", func() bool { return f.count("sink") == 1 })
	if n := f.count("old"); n != 0 {
		t.Fatalf("a too-old event was delivered %d times", n)
	}
	f.mu.Lock()
	rec := string(f.seen["sink"][0].Payload)
	f.mu.Unlock()
	if !strings.Contains(rec, `"condition":"EventAgeExceeded"`) {
		t.Fatalf("record got %s", rec)
	}
}

func TestEventsSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	st, err := store.Open(ctx, store.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	blocked := &fake{seen: map[string][]*Event{}, failN: map[string]int{}}
	q, err := Open(ctx, st.JetStream(), Deps{Invoke: func(context.Context, *Event) (*Result, error) {
		return nil, errors.New("platform closing")
	}, Target: blocked.target})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		if err := q.Enqueue(ctx, &Event{ID: "e" + string(rune('A'+i)), Function: "later"}); err != nil {
			t.Fatal(err)
		}
	}
	q.Close(ctx) // never started: nothing delivered
	st.Close()

	f := &fake{seen: map[string][]*Event{}, failN: map[string]int{}}
	open(t, dir, f, nil)
	waitFor(t, "all 50 events after a restart", func() bool { return f.count("later") == 50 })
}

func TestThrottlesDoNotUseRetriesAndDeadLetters(t *testing.T) {
	f := &fake{seen: map[string][]*Event{}, failN: map[string]int{"busy": 1, "doomed": 99},
		throttle: map[string]int{"busy": 3},
		config: map[string]*function.EventInvokeConfig{"busy": {MaximumRetryAttempts: ptr(1)}, "doomed": {MaximumRetryAttempts: ptr(0)},
			"off": {DestinationConfig: &function.DestinationConfig{OnFailure: &function.Destination{Destination: function.ARN("us-east-1", "sink", "")}}}},
		dlq:      map[string]string{"doomed": function.ARN("us-east-1", "dead", "")},
		disabled: map[string]bool{"off": true},
	}
	q := open(t, t.TempDir(), f, nil)
	ctx := context.Background()
	for _, fn := range []string{"busy", "doomed", "off"} {
		if err := q.Enqueue(ctx, &Event{ID: "t-" + fn, Function: fn, Payload: json.RawMessage(`{"fn":"` + fn + `"}`)}); err != nil {
			t.Fatal(err)
		}
	}
	// busy: refused three times (1 s, 2 s, 4 s back-off), then fails once and
	// succeeds on its one retry: the refusals did not use it up.
	waitFor(t, "busy to succeed after throttling", func() bool { return f.count("busy") == 2 })
	waitFor(t, "the dead-letter event", func() bool { return f.count("dead") == 1 })
	waitFor(t, "the failure destination of a function reserved at 0", func() bool { return f.count("sink") == 1 })
	if n := f.count("off"); n != 0 {
		t.Fatalf("a function reserved at 0 was invoked %d times", n)
	}
	f.mu.Lock()
	dead := string(f.seen["dead"][0].Payload)
	f.mu.Unlock()
	if dead != `{"fn":"doomed"}` {
		t.Fatalf("dead-letter event got %s, want the original event", dead)
	}
}

// TestCountersSurviveRestart checks that the counters Stats reports are
// kept on the backbone: a queue opened again on the same data reports
// the deliveries of the one before.
func TestCountersSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	st, err := store.Open(ctx, store.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	f := &fake{seen: map[string][]*Event{}, failN: map[string]int{}}
	q, err := Open(ctx, st.JetStream(), Deps{Invoke: f.invoke, Target: f.target, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	q.Start()
	for i := range 3 {
		if err := q.Enqueue(ctx, &Event{ID: "c" + string(rune('A'+i)), Function: "counted"}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "three deliveries", func() bool { return f.count("counted") == 3 })
	waitFor(t, "three successes counted", func() bool {
		stats, _ := q.Stats(ctx)
		return len(stats) == 1 && stats[0].Succeeded == 3
	})
	q.Close(ctx)
	st.Close()

	q2 := open(t, dir, &fake{seen: map[string][]*Event{}, failN: map[string]int{}}, nil)
	stats, err := q2.Stats(ctx)
	if err != nil || len(stats) != 1 || stats[0].Function != "counted" || stats[0].Succeeded != 3 || stats[0].InFlight != 0 {
		t.Fatalf("after a restart: %+v %v", stats, err)
	}
}
