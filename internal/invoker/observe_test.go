package invoker

import (
	"context"
	"sync"
	"testing"

	"github.com/aloft-dev/aloft/internal/function"
)

// recorder keeps copies of the observations it is handed.
type recorder struct {
	mu  sync.Mutex
	obs []Observation
}

func (r *recorder) observe(o *Observation) {
	r.mu.Lock()
	r.obs = append(r.obs, *o)
	r.mu.Unlock()
}

func TestObservations(t *testing.T) {
	rec := &recorder{}
	iv, _, _ := newInvoker(t, 0, func(d *Deps) { d.Observe = rec.observe })
	cfg := config("observed", 1, nil)
	invoke(t, iv, cfg, `{}`, false)             // cold
	invoke(t, iv, cfg, `{}`, false)             // warm
	invoke(t, iv, cfg, `{"op":"error"}`, false) // the function's error
	invoke(t, iv, cfg, `{"op":"crash"}`, false) // the runtime exits
	zero := 0
	if _, err := iv.Invoke(context.Background(), &Request{Config: cfg, Reserved: &zero, InvokedARN: cfg.FunctionArn + ":prod"}); err == nil {
		t.Fatal("a function reserved at 0 ran")
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.obs) != 5 {
		t.Fatalf("got %d observations, want 5: %+v", len(rec.obs), rec.obs)
	}
	want := []struct {
		outcome   Outcome
		errorType string
		cold      bool
	}{
		{Succeeded, "", true},
		{Succeeded, "", false},
		{FunctionError, "errorString", false},
		{Failed, "Runtime.ExitError", false},
		{Throttled, function.ReasonReserved, false},
	}
	for i, w := range want {
		o := rec.obs[i]
		if o.Outcome != w.outcome || o.ErrorType != w.errorType || o.Cold != w.cold {
			t.Errorf("observation %d got outcome %v, type %q, cold %v; want %v, %q, %v", i, o.Outcome, o.ErrorType, o.Cold, w.outcome, w.errorType, w.cold)
		}
		if o.Function != "observed" || o.Arrived.IsZero() || o.Ended.Before(o.Arrived) {
			t.Errorf("observation %d: %+v", i, o)
		}
		if w.outcome != Throttled && (o.RequestID == "" || o.Duration <= 0 || o.Version != function.LatestVersion || o.Acquired.IsZero()) {
			t.Errorf("observation %d lacks its request id, duration, version or acquisition: %+v", i, o)
		}
	}
	cold := rec.obs[0]
	if cold.InitDuration <= 0 || cold.SetupStart.IsZero() || !cold.SetupStart.Before(cold.SandboxStart) ||
		cold.SandboxReady.Before(cold.SandboxStart) || cold.InitDone.Before(cold.SandboxReady) || cold.Acquired.Before(cold.InitDone) {
		t.Errorf("cold start phases out of order: %+v", cold)
	}
	if rec.obs[1].InitDuration != 0 || !rec.obs[1].SetupStart.IsZero() {
		t.Errorf("warm invocation has start phases: %+v", rec.obs[1])
	}
	if rec.obs[4].Qualifier != "prod" || rec.obs[0].Qualifier != "" {
		t.Errorf("qualifiers got %q and %q, want prod and none", rec.obs[4].Qualifier, rec.obs[0].Qualifier)
	}
}

func TestObserveAllocatesNothingOnTheWarmPath(t *testing.T) {
	seen := 0
	iv, _, _ := newInvoker(t, 0, func(d *Deps) { d.Observe = func(*Observation) { seen++ } })
	cfg := config("allocs", 3, nil)
	invoke(t, iv, cfg, `{}`, false)
	o := observations.Get().(*Observation)
	observations.Put(o)
	allocs := testing.AllocsPerRun(200, func() {
		o := observations.Get().(*Observation)
		*o = Observation{Function: cfg.FunctionName, Qualifier: qualifier(cfg.FunctionArn)}
		iv.observe(o, &Response{Version: "$LATEST", RequestID: "r"}, nil)
		*o = Observation{}
		observations.Put(o)
	})
	if allocs != 0 {
		t.Errorf("observing a warm invocation allocates %.1f times, want 0", allocs)
	}
	if seen == 0 {
		t.Fatal("the observer was never called")
	}
}

func TestQualifier(t *testing.T) {
	for arn, want := range map[string]string{
		"arn:aws:lambda:us-east-1:000000000000:function:f":         "",
		"arn:aws:lambda:us-east-1:000000000000:function:f:prod":    "prod",
		"arn:aws:lambda:us-east-1:000000000000:function:f:$LATEST": "$LATEST",
		"": "",
	} {
		if got := qualifier(arn); got != want {
			t.Errorf("qualifier(%q) got %q, want %q", arn, got, want)
		}
	}
}
