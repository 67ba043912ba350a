package observe

import (
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/aloft-dev/aloft/internal/async"
	"github.com/aloft-dev/aloft/internal/function"
	"github.com/aloft-dev/aloft/internal/invoke"
	"github.com/aloft-dev/aloft/internal/metrics"
)

// gather returns the registry's families by name.
func gather(t testing.TB, p *Prometheus) map[string]*dto.MetricFamily {
	t.Helper()
	fams, err := p.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*dto.MetricFamily{}
	for _, f := range fams {
		out[f.GetName()] = f
	}
	return out
}

// find returns the metric of family name whose labels include want.
func find(fams map[string]*dto.MetricFamily, name string, want map[string]string) *dto.Metric {
	f := fams[name]
	if f == nil {
		return nil
	}
next:
	for _, m := range f.GetMetric() {
		for k, v := range want {
			found := false
			for _, l := range m.GetLabel() {
				if l.GetName() == k && l.GetValue() == v {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		return m
	}
	return nil
}

func counter(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	t.Helper()
	m := find(fams, name, labels)
	if m == nil {
		t.Fatalf("no %s%v", name, labels)
	}
	return m.GetCounter().GetValue()
}

// sequence is a cold invocation, a warm one, a function error, a
// runtime crash and a throttle, of function f.
func sequence(f string) []invoke.Observation {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	return []invoke.Observation{
		{Function: f, Version: "$LATEST", RequestID: "r1", Outcome: Succeeded, Cold: true, InitDuration: 120 * time.Millisecond,
			Duration: 3 * time.Millisecond, Arrived: t0, Concurrency: 1, AccountConcurrency: 1, UnreservedConcurrency: 1},
		{Function: f, Version: "$LATEST", RequestID: "r2", Outcome: Succeeded, Duration: 700 * time.Microsecond, Arrived: t0.Add(time.Second),
			Concurrency: 2, AccountConcurrency: 3, UnreservedConcurrency: 3},
		{Function: f, Version: "$LATEST", RequestID: "r3", Outcome: FunctionError, ErrorType: "ValueError", Duration: 40 * time.Millisecond, Arrived: t0.Add(2 * time.Second),
			Concurrency: 1, AccountConcurrency: 1, UnreservedConcurrency: 1},
		{Function: f, Qualifier: "live", Version: "3", RequestID: "r4", Outcome: Failed, ErrorType: "Runtime.ExitError", Duration: 2 * time.Second, Arrived: t0.Add(3 * time.Second),
			Concurrency: 1, AccountConcurrency: 1, UnreservedConcurrency: 1},
		{Function: f, Outcome: Throttled, ErrorType: function.ReasonReserved, Arrived: t0.Add(4 * time.Second)},
	}
}

func TestPrometheusCounts(t *testing.T) {
	p := NewPrometheus(Sources{})
	for _, o := range sequence("fn") {
		p.Observe(&o)
	}
	fams := gather(t, p)
	for outcome, want := range map[string]float64{"success": 2, "function_error": 1, "failure": 1, "throttled": 1} {
		if got := counter(t, fams, "aloft_invocations_total", map[string]string{"function": "fn", "outcome": outcome}); got != want {
			t.Errorf("invocations %s got %v, want %v", outcome, got, want)
		}
	}
	if got := counter(t, fams, "aloft_cold_starts_total", map[string]string{"function": "fn"}); got != 1 {
		t.Errorf("cold starts got %v, want 1", got)
	}
	if got := counter(t, fams, "aloft_throttles_total", map[string]string{"function": "fn", "reason": "reserved"}); got != 1 {
		t.Errorf("reserved throttles got %v, want 1", got)
	}
	if got := counter(t, fams, "aloft_throttles_total", map[string]string{"function": "fn", "reason": "account"}); got != 0 {
		t.Errorf("account throttles got %v, want 0", got)
	}
	// The function's own error type is not a label value; the runtime's is.
	if got := counter(t, fams, "aloft_invocation_errors_total", map[string]string{"function": "fn", "type": "Unhandled"}); got != 1 {
		t.Errorf("Unhandled errors got %v, want 1", got)
	}
	if got := counter(t, fams, "aloft_invocation_errors_total", map[string]string{"function": "fn", "type": "Runtime.ExitError"}); got != 1 {
		t.Errorf("Runtime.ExitError errors got %v, want 1", got)
	}
	if find(fams, "aloft_invocation_errors_total", map[string]string{"type": "ValueError"}) != nil {
		t.Error("a function's own error type became a label value")
	}
}

func TestPrometheusHistograms(t *testing.T) {
	p := NewPrometheus(Sources{})
	for _, o := range sequence("fn") {
		p.Observe(&o)
	}
	h := find(gather(t, p), "aloft_invocation_duration_seconds", map[string]string{"function": "fn"}).GetHistogram()
	// Four ran (3 ms, 0.7 ms, 40 ms, 2 s); the throttled one did not.
	if h.GetSampleCount() != 4 {
		t.Fatalf("duration count got %d, want 4", h.GetSampleCount())
	}
	if want := 2.0437; h.GetSampleSum() < want-1e-9 || h.GetSampleSum() > want+1e-9 {
		t.Errorf("duration sum got %v, want %v", h.GetSampleSum(), want)
	}
	cum := map[float64]uint64{}
	for _, b := range h.GetBucket() {
		cum[b.GetUpperBound()] = b.GetCumulativeCount()
	}
	for le, want := range map[float64]uint64{0.001: 1, 0.005: 2, 0.05: 3, 1: 3, 2.5: 4} {
		if cum[le] != want {
			t.Errorf("duration bucket le=%v got %d, want %d", le, cum[le], want)
		}
	}
	ih := find(gather(t, p), "aloft_init_duration_seconds", map[string]string{"function": "fn"}).GetHistogram()
	if ih.GetSampleCount() != 1 || ih.GetSampleSum() != 0.12 {
		t.Errorf("init duration got count %d sum %v, want 1 and 0.12", ih.GetSampleCount(), ih.GetSampleSum())
	}
}

func TestPrometheusLabelsStayBounded(t *testing.T) {
	p := NewPrometheus(Sources{})
	for i := range 50 {
		p.Observe(&invoke.Observation{Function: "fn", Outcome: FunctionError, ErrorType: fmt.Sprintf("Custom%d", i), RequestID: fmt.Sprint(i)})
		p.Observe(&invoke.Observation{Function: "fn", Outcome: Failed, ErrorType: fmt.Sprintf("Made.Up%d", i), RequestID: fmt.Sprint(i)})
		p.GatewayRequest("GET /items/{id}", 200+i%2)
	}
	fams := gather(t, p)
	if n := len(fams["aloft_invocation_errors_total"].GetMetric()); n != 2 {
		t.Errorf("errors have %d series, want 2 (Unhandled, Other)", n)
	}
	if n := len(fams["aloft_gateway_requests_total"].GetMetric()); n != 2 {
		t.Errorf("gateway has %d series, want 2", n)
	}
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "request_id" || strings.HasPrefix(l.GetValue(), "Custom") {
					t.Errorf("%s has label %s=%s", f.GetName(), l.GetName(), l.GetValue())
				}
			}
		}
	}
	if got := status(99) + status(600) + status(404); got != "otherother404" {
		t.Errorf("status labels got %q", got)
	}
	// A deleted function's series go.
	p.Forget("fn")
	fams = gather(t, p)
	for _, name := range []string{"aloft_invocations_total", "aloft_invocation_errors_total", "aloft_invocation_duration_seconds"} {
		if find(fams, name, map[string]string{"function": "fn"}) != nil {
			t.Errorf("%s keeps a deleted function's series", name)
		}
	}
}

func TestStateReadAtScrape(t *testing.T) {
	calls := 0
	p := NewPrometheus(Sources{
		Functions: func() ([]invoke.FunctionState, int) {
			calls++
			return []invoke.FunctionState{
				{Function: "a", Running: 2, Idle: 3, Frozen: 1, Busy: 2, ProvisionedWanted: 2, ProvisionedReady: 2, ProvisionedBusy: 1},
				{Function: "gone", Running: 0, Idle: 1},
			}, 2
		},
		Exists:   func(name string) bool { return name != "gone" },
		Prepared: func() int { return 3 },
	})
	fams := gather(t, p)
	if calls != 1 {
		t.Fatalf("the invoker was read %d times, want once per scrape", calls)
	}
	g := func(name string, labels map[string]string) float64 {
		m := find(fams, name, labels)
		if m == nil {
			t.Fatalf("no %s%v", name, labels)
		}
		return m.GetGauge().GetValue()
	}
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"aloft_concurrent_executions", map[string]string{"function": "a"}, 2},
		{"aloft_unreserved_concurrent_executions", nil, 2},
		{"aloft_instances", map[string]string{"function": "a", "state": "idle"}, 2},
		{"aloft_instances", map[string]string{"function": "a", "state": "frozen"}, 1},
		{"aloft_instances", map[string]string{"function": "a", "state": "busy"}, 2},
		{"aloft_provisioned_instances", map[string]string{"function": "a", "state": "busy"}, 1},
		{"aloft_prepared_templates", nil, 3},
	} {
		if got := g(c.name, c.labels); got != c.want {
			t.Errorf("%s%v got %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if find(fams, "aloft_instances", map[string]string{"function": "gone"}) != nil {
		t.Error("a deleted function's instances are reported")
	}
}

// point is one datapoint a fake recorder took.
type point struct {
	name  string
	dims  string
	value float64
	unit  string
}

type fakeRecorder struct {
	mu     sync.Mutex
	points []point
}

func (r *fakeRecorder) Record(ns, name string, dims []metrics.Dimension, value float64, unit string, _ time.Time) {
	if ns != Namespace {
		panic("namespace " + ns)
	}
	var d []string
	for _, x := range dims {
		d = append(d, x.Name+"="+x.Value)
	}
	r.mu.Lock()
	r.points = append(r.points, point{name, strings.Join(d, ","), value, unit})
	r.mu.Unlock()
}

// RecordValues records each value as many times as it counts, as the
// store does.
func (r *fakeRecorder) RecordValues(ns, name string, dims []metrics.Dimension, values, counts []float64, unit string, at time.Time) {
	for i, v := range values {
		n := 1.0
		if counts != nil {
			n = counts[i]
		}
		if n != math.Trunc(n) || n <= 0 {
			panic(fmt.Sprintf("count %v", n))
		}
		for range int(n) {
			r.Record(ns, name, dims, v, unit, at)
		}
	}
}

// sum adds the values of name at dims, and counts them.
func (r *fakeRecorder) sum(name, dims string) (sum float64, n int) {
	for _, p := range r.points {
		if p.name == name && p.dims == dims {
			sum += p.value
			n++
		}
	}
	return sum, n
}

// checkInvocations checks what rec recorded of sequence's invocations
// of the function whose dimension is fn.
func checkInvocations(t *testing.T, rec *fakeRecorder, fn string) {
	t.Helper()
	for _, c := range []struct {
		name, dims string
		sum        float64
		n          int
	}{
		{"Invocations", "", 4, 4},
		{"Invocations", fn, 4, 4},
		{"Invocations", fn + ",Resource=fn:live", 1, 1},
		{"Invocations", fn + ",ExecutedVersion=3", 1, 1},
		{"Errors", fn, 2, 4}, // 0 or 1 per invocation: the average is the error rate
		{"Throttles", fn, 1, 1},
		{"Throttles", "", 1, 1},
		{"Duration", fn, 2043.7, 4},
	} {
		sum, n := rec.sum(c.name, c.dims)
		if n != c.n || sum < c.sum-1e-6 || sum > c.sum+1e-6 {
			t.Errorf("%s{%s} got sum %v of %d, want %v of %d", c.name, c.dims, sum, n, c.sum, c.n)
		}
	}
	for _, p := range rec.points {
		want := unitCount
		if p.name == "Duration" {
			want = unitMs
		}
		if p.unit != want {
			t.Errorf("%s in %s, want %s", p.name, p.unit, want)
		}
	}
	if _, n := rec.sum("Invocations", fn+",Resource=fn:"); n != 0 {
		t.Error("an unqualified invocation got a Resource dimension")
	}

}

func TestLambdaMetrics(t *testing.T) {
	var l Lambda
	o := sequence("fn")[0]
	l.Observe(&o) // no recorder yet: nothing, and no panic
	rec := &fakeRecorder{}
	l.SetRecorder(rec)
	for _, o := range sequence("fn") {
		l.Observe(&o)
	}
	const fn = "FunctionName=fn"
	checkInvocations(t, rec, fn)

	// The same invocations noted while Run runs are recorded together by
	// a flush, with the same sums and counts.
	var noted Lambda
	grouped := &fakeRecorder{}
	noted.SetRecorder(grouped)
	noted.running = true
	for _, o := range sequence("fn") {
		noted.Observe(&o)
	}
	if len(grouped.points) != 0 {
		t.Fatalf("%d datapoints recorded before the flush", len(grouped.points))
	}
	var spare []lambdaPoint
	noted.flush(&spare)
	checkInvocations(t, grouped, fn)

	// Concurrency: the peak since the last sample, then what runs now.
	rec.points = nil
	now := time.Now()
	l.Sample(now, []invoke.FunctionState{{Function: "fn", Running: 1, ProvisionedWanted: 4, ProvisionedBusy: 1}}, 1)
	for _, c := range []struct {
		name, dims string
		want       float64
	}{
		{"ConcurrentExecutions", "", 3},
		{"UnreservedConcurrentExecutions", "", 3},
		{"ConcurrentExecutions", fn, 2},
		{"ProvisionedConcurrentExecutions", fn, 1},
		{"ProvisionedConcurrencyUtilization", fn, 0.25},
	} {
		if got, n := rec.sum(c.name, c.dims); n != 1 || got != c.want {
			t.Errorf("%s{%s} got %v (%d points), want %v", c.name, c.dims, got, n, c.want)
		}
	}
	rec.points = nil
	l.Sample(now, []invoke.FunctionState{{Function: "fn"}}, 0)
	if got, _ := rec.sum("ConcurrentExecutions", fn); got != 0 {
		t.Errorf("after the peak was published, ConcurrentExecutions got %v, want 0", got)
	}

	// Asynchronous events and stream mappings.
	rec.points = nil
	l.AsyncEvent("fn", async.Received, 0, now)
	l.AsyncEvent("fn", async.Delivering, 1500*time.Millisecond, now)
	l.AsyncEvent("fn", async.DeadLetterFailed, 0, now)
	l.AsyncEvent("fn", async.DestinationFailed, 0, now)
	l.IteratorAge("arn:aws:lambda:us-east-1:000000000000:function:fn:live", 2*time.Second, now)
	for _, c := range []struct {
		name, dims string
		want       float64
	}{
		{"AsyncEventsReceived", fn, 1},
		{"AsyncEventAge", fn, 1500},
		{"DeadLetterErrors", fn, 1},
		{"DestinationDeliveryFailures", "", 1},
		{"IteratorAge", fn, 2000},
		{"IteratorAge", fn + ",Resource=fn:live", 2000},
	} {
		if got, n := rec.sum(c.name, c.dims); n != 1 || got != c.want {
			t.Errorf("%s{%s} got %v (%d points), want %v", c.name, c.dims, got, n, c.want)
		}
	}
}

func TestLambdaProvisioned(t *testing.T) {
	var l Lambda
	rec := &fakeRecorder{}
	l.SetRecorder(rec)
	l.Observe(&invoke.Observation{Function: "p", Qualifier: "1", Version: "1", RequestID: "r1", Outcome: Succeeded, Provisioned: true})
	l.Observe(&invoke.Observation{Function: "p", Qualifier: "1", Version: "1", RequestID: "r2", Outcome: Succeeded, Spillover: true})
	for _, name := range []string{"ProvisionedConcurrencyInvocations", "ProvisionedConcurrencySpilloverInvocations"} {
		if got, n := rec.sum(name, "FunctionName=p,Resource=p:1"); n != 1 || got != 1 {
			t.Errorf("%s got %v of %d, want 1 of 1", name, got, n)
		}
	}
}

func TestGuard(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("metrics")) })
	const tok = "0123456789abcdef0123"
	for _, c := range []struct {
		access Access
		method string
		auth   string
		want   int
	}{
		{Open, "GET", "", 200},
		{Open, "POST", "", 405},
		{Token, "GET", "", 401},
		{Token, "GET", "Bearer wrong", 401},
		{Token, "GET", "Bearer " + tok, 200},
		{Off, "GET", "Bearer " + tok, 404},
	} {
		r := httptest.NewRequest(c.method, "/metrics", nil)
		if c.auth != "" {
			r.Header.Set("Authorization", c.auth)
		}
		w := httptest.NewRecorder()
		Guard(ok, c.access, tok).ServeHTTP(w, r)
		if w.Code != c.want {
			t.Errorf("%s %s with %q got %d, want %d", c.access, c.method, c.auth, w.Code, c.want)
		}
	}
	for listen, want := range map[string]Access{"127.0.0.1:9000": Open, "[::1]:9000": Open, "localhost:1": Open, "0.0.0.0:9000": Token, ":9000": Token, "10.1.2.3:9000": Token} {
		if got := DefaultAccess(listen); got != want {
			t.Errorf("DefaultAccess(%q) got %s, want %s", listen, got, want)
		}
	}
	if _, err := ParseAccess("signed"); err == nil {
		t.Error("ParseAccess took an unknown mode")
	}
}

func TestLoadToken(t *testing.T) {
	file := filepath.Join(t.TempDir(), "sub", "metrics-token")
	tok, err := LoadToken(file)
	if err != nil || len(tok) < 32 {
		t.Fatalf("LoadToken got %q, %v", tok, err)
	}
	fi, err := os.Stat(file)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file mode %v, %v; want 0600", fi.Mode(), err)
	}
	again, err := LoadToken(file)
	if err != nil || again != tok {
		t.Fatalf("second LoadToken got %q, %v; want the same token", again, err)
	}
	os.WriteFile(file, []byte("short\n"), 0o600)
	if _, err := LoadToken(file); err == nil {
		t.Error("a short token was taken")
	}
}

func TestFunctionOf(t *testing.T) {
	for in, want := range map[string][2]string{
		"arn:aws:lambda:us-east-1:000000000000:function:f":      {"f", ""},
		"arn:aws:lambda:us-east-1:000000000000:function:f:prod": {"f", "prod"},
		"f":   {"f", ""},
		"f:1": {"f", "1"},
	} {
		n, q := FunctionOf(in)
		if got := [2]string{n, q}; !slices.Equal(got[:], want[:]) {
			t.Errorf("FunctionOf(%q) got %v, want %v", in, got, want)
		}
	}
}

// countingRecorder is the cheapest recorder: the benchmark measures the
// feed, not a store.
type countingRecorder struct{ n int }

func (r *countingRecorder) Record(string, string, []metrics.Dimension, float64, string, time.Time) {
	r.n++
}

func (r *countingRecorder) RecordValues(_, _ string, _ []metrics.Dimension, values, _ []float64, _ string, _ time.Time) {
	r.n += len(values)
}

// BenchmarkObserve is one warm invocation's observation through the
// Prometheus metrics and the AWS/Lambda feed.
func BenchmarkObserve(b *testing.B) {
	p := NewPrometheus(Sources{})
	var l Lambda
	l.SetRecorder(&countingRecorder{})
	o := invoke.Observation{Function: "bench", Version: "$LATEST", RequestID: "r", Outcome: Succeeded,
		Duration: 2 * time.Millisecond, Arrived: time.Now(), Concurrency: 1, AccountConcurrency: 1, UnreservedConcurrency: 1}
	b.ReportAllocs()
	for b.Loop() {
		p.Observe(&o)
		l.Observe(&o)
	}
}

func TestLambdaRunRecordsOffThePath(t *testing.T) {
	var l Lambda
	rec := &fakeRecorder{}
	l.SetRecorder(rec)
	stop, done := make(chan struct{}), make(chan struct{})
	go func() { l.Run(stop); close(done) }()
	for {
		l.mu.Lock()
		running := l.running
		l.mu.Unlock()
		if running {
			break
		}
		time.Sleep(time.Millisecond)
	}
	for _, o := range sequence("fn") {
		l.Observe(&o)
	}
	rec.mu.Lock()
	early := len(rec.points)
	rec.mu.Unlock()
	if early != 0 {
		t.Errorf("%d datapoints recorded on the invocation's path while Run runs", early)
	}
	close(stop)
	<-done
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if sum, n := rec.sum("Invocations", "FunctionName=fn"); sum != 4 || n != 4 {
		t.Errorf("after Run stopped, Invocations got %v of %d, want 4", sum, n)
	}
	if _, n := rec.sum("Throttles", "FunctionName=fn"); n != 1 {
		t.Errorf("after Run stopped, Throttles got %d points, want 1", n)
	}
}

func TestLambdaLeavesOutInvocationErrors(t *testing.T) {
	var l Lambda
	rec := &fakeRecorder{}
	l.SetRecorder(rec)
	// The platform could not run it (closing): no request id, no run.
	l.Observe(&invoke.Observation{Function: "f", Outcome: Failed, ErrorType: "ServiceException"})
	if len(rec.points) != 0 {
		t.Errorf("an invocation error was published: %+v", rec.points)
	}
}
