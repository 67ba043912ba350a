package metrics

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/aloft-dev/aloft/internal/store"
)

func backbone(t *testing.T) jetstream.JetStream {
	t.Helper()
	st, err := store.Open(context.Background(), store.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st.JetStream()
}

func open(t *testing.T, js jetstream.JetStream, o Options) *Store {
	t.Helper()
	s, err := Open(context.Background(), js, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	return s
}

func exactPercentile(vals []float64, p float64) float64 {
	s := slices.Clone(vals)
	slices.Sort(s)
	rank := int(math.Ceil(p / 100 * float64(len(s))))
	return s[max(rank, 1)-1]
}

// TestPercentilesWithinError checks the distribution's percentiles
// against the exact ones: exact while values are few, within 0.4% of a
// value in the data (the buckets' half-width) beyond that.
func TestPercentilesWithinError(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var few stat
	var fewVals []float64
	for i := range 20 {
		v := float64(i*7%20) + 0.5
		few.add(v, 1)
		fewVals = append(fewVals, v)
	}
	for _, p := range []float64{1, 50, 90, 99, 100} {
		if got, _ := few.percentile(p); got != exactPercentile(fewVals, p) {
			t.Errorf("few values: p%v = %v, want exactly %v", p, got, exactPercentile(fewVals, p))
		}
	}
	var many, merged, half stat
	var vals []float64
	for i := range 20000 {
		v := math.Exp(rng.NormFloat64()*1.5 + 3) // log-normal, like latencies
		vals = append(vals, v)
		many.add(v, 1)
		if i%2 == 0 {
			half.add(v, 1)
		} else {
			merged.add(v, 1)
		}
	}
	merged.merge(&half)
	for _, p := range []float64{10, 50, 90, 99, 99.9} {
		want := exactPercentile(vals, p)
		for name, st := range map[string]*stat{"one": &many, "merged": &merged} {
			got, ok := st.percentile(p)
			if !ok || math.Abs(got-want)/want > 0.004 {
				t.Errorf("%s: p%v = %v, want %v within 0.4%%", name, p, got, want)
			}
		}
	}
	if many.N != 20000 || merged.N != 20000 {
		t.Errorf("sample counts %v and %v", many.N, merged.N)
	}
	// A statistic set of unequal values leaves no percentiles; of equal
	// values it does.
	var set stat
	set.addSet(4, 10, 1, 4)
	if _, ok := set.percentile(50); ok {
		t.Error("a statistic set of unequal values gave a percentile")
	}
	var equal stat
	equal.addSet(5, 15, 3, 3)
	if v, ok := equal.percentile(50); !ok || v != 3 {
		t.Errorf("equal statistic set: p50 = %v, %v", v, ok)
	}
	if _, ok := percentileOf("p99.999"); ok {
		t.Error("p99.999 accepted")
	}
	if p, ok := percentileOf("p99.9"); !ok || p != 99.9 {
		t.Error("p99.9 refused")
	}
}

// TestNodesMergeOnRead has two stores on one backbone, as two nodes,
// record one metric; either sees the other's flushed data beside its
// own unflushed data, and a node that starts again under the same name
// adds to what it wrote before.
func TestNodesMergeOnRead(t *testing.T) {
	js := backbone(t)
	ctx := context.Background()
	a := open(t, js, Options{Node: "a"})
	b := open(t, js, Options{Node: "b"})
	now := time.Now().UTC().Truncate(time.Minute)
	dims := []Dimension{{"FunctionName", "f"}, {"Resource", "f"}}
	for i := range 10 {
		a.Record("AWS/Lambda", "Duration", dims, float64(i+1), "Milliseconds", now.Add(time.Second))
	}
	// The other order of the same dimensions is the same metric.
	b.Record("AWS/Lambda", "Duration", []Dimension{dims[1], dims[0]}, 100, "Milliseconds", now.Add(2*time.Second))
	if err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	q := &StatsQuery{Metric: Metric{"AWS/Lambda", "Duration", dims}, Start: now.Add(-time.Hour), End: now.Add(time.Hour),
		Period: 60, Statistics: []string{"SampleCount", "Sum", "Minimum", "Maximum", "Average"}}
	check := func(s *Store, n, sum, hi float64) {
		t.Helper()
		dps, err := s.Statistics(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if len(dps) != 1 || !dps[0].Timestamp.Equal(now) || dps[0].Unit != "Milliseconds" {
			t.Fatalf("datapoints %+v", dps)
		}
		v := dps[0].Values
		if v["SampleCount"] != n || v["Sum"] != sum || v["Minimum"] != 1 || v["Maximum"] != hi || v["Average"] != sum/n {
			t.Errorf("statistics %v, want n=%v sum=%v max=%v", v, n, sum, hi)
		}
	}
	check(b, 11, 155, 100)
	check(a, 10, 55, 10) // b has not flushed
	if err := b.Close(ctx); err != nil {
		t.Fatal(err)
	}
	check(a, 11, 155, 100)
	b2 := open(t, js, Options{Node: "b"})
	b2.Record("AWS/Lambda", "Duration", dims, 1000, "Milliseconds", now.Add(3*time.Second))
	if err := b2.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	check(a, 12, 1155, 1000)
	// The metric is listed, on every node.
	b2.Flush(ctx)
	deadline := time.Now().Add(5 * time.Second)
	for {
		ms, _, err := a.List(&ListQuery{Namespace: "AWS/Lambda", Dimensions: []DimensionFilter{{Name: "Resource"}}})
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) == 1 && ms[0].MetricName == "Duration" && len(ms[0].Dimensions) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ListMetrics: %+v", ms)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Too many datapoints asked for.
	_, err := a.Statistics(ctx, &StatsQuery{Metric: q.Metric, Start: now.Add(-25 * time.Hour), End: now, Period: 60, Statistics: []string{"Sum"}})
	var e *Error
	if !errors.As(err, &e) || e.Code != InvalidParameterCombination || !strings.Contains(e.Message, "1,500 datapoints") {
		t.Errorf("25 hours by the minute: %v", err)
	}
}

func TestPutChecksAndLimits(t *testing.T) {
	s := open(t, backbone(t), Options{MaxMetrics: 2})
	one := 1.0
	now := time.Now()
	for _, tc := range []struct {
		ns   string
		d    Datum
		code string
	}{
		{"app", Datum{MetricName: "m", Value: &one, Unit: "Parsecs"}, InvalidParameterValue},
		{"AWS/Lambda", Datum{MetricName: "m", Value: &one}, InvalidParameterValue},
		{"app", Datum{MetricName: "m", Value: &one, Stats: &StatisticSet{1, 1, 1, 1}}, InvalidParameterCombination},
		{"app", Datum{MetricName: "m"}, MissingParameter},
		{"app", Datum{MetricName: "m", Values: []float64{1, 2}, Counts: []float64{1}}, InvalidParameterValue},
		{"app", Datum{MetricName: "m", Value: &one, Timestamp: now.Add(-15 * 24 * time.Hour)}, InvalidParameterValue},
		{"app", Datum{MetricName: "m", Value: &one, Timestamp: now.Add(3 * time.Hour)}, InvalidParameterValue},
		{"app", Datum{MetricName: "m", Value: &one, StorageResolution: 5}, InvalidParameterValue},
		{"app", Datum{MetricName: "m", Value: &one, Dimensions: []Dimension{{"a", "1"}, {"a", "2"}}}, InvalidParameterValue},
		{"", Datum{MetricName: "m", Value: &one}, MissingParameter},
	} {
		err := s.Put(tc.ns, []Datum{tc.d})
		var e *Error
		if !errors.As(err, &e) || e.Code != tc.code {
			t.Errorf("Put(%q, %+v) = %v, want %s", tc.ns, tc.d, err, tc.code)
		}
	}
	for _, name := range []string{"a", "b"} {
		if err := s.Put("app", []Datum{{MetricName: name, Value: &one, StorageResolution: 1}}); err != nil {
			t.Fatal(err)
		}
	}
	err := s.Put("app", []Datum{{MetricName: "c", Value: &one}})
	var e *Error
	if !errors.As(err, &e) || e.Code != LimitExceeded {
		t.Errorf("a third metric over a limit of 2: %v", err)
	}
	if err := s.Put("app", []Datum{{MetricName: "a", Value: &one}}); err != nil {
		t.Errorf("a known metric at the limit: %v", err)
	}
}

// TestRecordAllocatesNothing checks the hot path's steady state.
func TestRecordAllocatesNothing(t *testing.T) {
	s := open(t, backbone(t), Options{})
	dims := []Dimension{{"FunctionName", "hello"}}
	at := time.Now()
	s.Record("AWS/Lambda", "Duration", dims, 12.5, "Milliseconds", at)
	allocs := testing.AllocsPerRun(1000, func() {
		s.Record("AWS/Lambda", "Duration", dims, 12.5, "Milliseconds", at)
	})
	if allocs != 0 {
		t.Errorf("Record allocates %v times a call", allocs)
	}
}

func BenchmarkRecord(b *testing.B) {
	st, err := store.Open(context.Background(), store.Options{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	s, err := Open(context.Background(), st.JetStream(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close(context.Background())
	dims := []Dimension{{"FunctionName", "hello"}, {"Resource", "hello"}}
	at := time.Now()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0.0
		for pb.Next() {
			i++
			s.Record("AWS/Lambda", "Duration", dims, i, "Milliseconds", at)
		}
	})
}

func TestMetricMath(t *testing.T) {
	s := open(t, backbone(t), Options{})
	ctx := context.Background()
	t0 := time.Now().UTC().Truncate(time.Hour).Add(-2 * time.Hour)
	var data []Datum
	for i := range 3 {
		a, b := float64(i+1), float64(10*(i+1))
		at := t0.Add(time.Duration(i) * time.Minute)
		data = append(data, Datum{MetricName: "a", Value: &a, Timestamp: at}, Datum{MetricName: "b", Value: &b, Timestamp: at})
	}
	if err := s.Put("app", data); err != nil {
		t.Fatal(err)
	}
	no := false
	stat := func(id, name string) DataQuery {
		return DataQuery{ID: id, Stat: &MetricStat{Metric: Metric{Namespace: "app", MetricName: name}, Period: 60, Stat: "Sum"}, ReturnData: &no}
	}
	req := &DataRequest{Start: t0, End: t0.Add(5 * time.Minute), ScanBy: "TimestampAscending", Queries: []DataQuery{
		stat("m1", "a"), stat("m2", "b"),
		{ID: "double", Expression: "m1*2"},
		{ID: "total", Expression: "SUM(METRICS())", Label: "all"},
		{ID: "ratio", Expression: "(m2 - m1) / m1"},
		{ID: "filled", Expression: "FILL(m1, 0)"},
		{ID: "scalar", Expression: "MAX(m2) + 1"},
		{ID: "rate", Expression: "RATE(m2)"},
	}}
	res, next, err := s.Data(ctx, req)
	if err != nil || next != "" {
		t.Fatal(err, next)
	}
	got := map[string][]float64{}
	for _, r := range res {
		got[r.ID] = r.Values
		if r.ID == "total" && r.Label != "all" {
			t.Errorf("label %q", r.Label)
		}
	}
	want := map[string][]float64{
		"double": {2, 4, 6}, "total": {11, 22, 33}, "ratio": {9, 9, 9}, "filled": {1, 2, 3, 0, 0},
		"scalar": {31, 31, 31, 31, 31}, "rate": {10.0 / 60, 10.0 / 60},
	}
	for id, w := range want {
		if !slices.Equal(got[id], w) {
			t.Errorf("%s = %v, want %v", id, got[id], w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("results %v", got)
	}
	// Paging: two datapoints a page.
	req.MaxDatapoints = 2
	req.Queries = req.Queries[:3]
	var all []float64
	for pages := 0; ; pages++ {
		res, next, err := s.Data(ctx, req)
		if err != nil || pages > 5 {
			t.Fatal(err, pages)
		}
		for _, r := range res {
			all = append(all, r.Values...)
		}
		if next == "" {
			break
		}
		req.NextToken = next
	}
	if !slices.Equal(all, []float64{2, 4, 6}) {
		t.Errorf("paged %v", all)
	}
	for _, bad := range []string{"m1 +", "NOPE(m1)", "m3", "m1 * (2", "METRICS() * METRICS()"} {
		_, _, err := s.Data(ctx, &DataRequest{Start: t0, End: t0.Add(5 * time.Minute), Queries: []DataQuery{stat("m1", "a"), {ID: "e", Expression: bad}}})
		var e *Error
		if !errors.As(err, &e) || e.Code != InvalidParameterValue {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestParseEMF(t *testing.T) {
	line := `{"_aws":{"Timestamp":1700000000000,"CloudWatchMetrics":[{"Namespace":"shop","Dimensions":[["service"],["service","region"]],` +
		`"Metrics":[{"Name":"Orders","Unit":"Count"},{"Name":"Latency","Unit":"Milliseconds","StorageResolution":60}]}]},` +
		`"service":"cart","region":"eu","Orders":3,"Latency":[10,20.5],"other":"x"}`
	data, ok := ParseEMF(line, time.Now())
	if !ok || len(data) != 4 {
		t.Fatalf("ParseEMF = %+v, %v", data, ok)
	}
	d := data[3]
	if d.Namespace != "shop" || d.MetricName != "Latency" || !slices.Equal(d.Values, []float64{10, 20.5}) || d.Unit != "Milliseconds" ||
		len(d.Dimensions) != 2 || d.Dimensions[1] != (Dimension{"region", "eu"}) || !d.Timestamp.Equal(time.UnixMilli(1700000000000)) {
		t.Errorf("datum %+v", d)
	}
	for _, bad := range []string{
		`{"message":"no metrics here"}`,
		`{"_aws":{"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[["missing"]],"Metrics":[{"Name":"m"}]}]},"m":1}`,
		`{"_aws":{"CloudWatchMetrics":[{"Namespace":"n","Metrics":[{"Name":"m","Unit":"Parsecs"}]}]},"m":1}`,
		`{"_aws":{"CloudWatchMetrics":[{"Namespace":"n","Metrics":[{"Name":"m"}]}]},"m":"one"}`,
		`{"_aws": broken`,
		`START RequestId: 1 "_aws"`,
	} {
		if data, ok := ParseEMF(bad, time.Now()); ok {
			t.Errorf("ParseEMF(%s) = %+v", bad, data)
		}
	}
}

type recorded struct {
	mu      sync.Mutex
	invoked [][]byte
	topics  []string
}

func (r *recorded) InvokeAsync(_ context.Context, arn string, payload []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.invoked = append(r.invoked, payload)
	return nil
}

func (r *recorded) Publish(_ context.Context, arn, subject, message string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.topics = append(r.topics, subject+"\n"+message)
	return nil
}

// alarmState returns the state of the alarm name.
func alarmState(t *testing.T, s *Store, name string) string {
	t.Helper()
	as, _, err := s.DescribeAlarms(&AlarmQuery{AlarmNames: []string{name}})
	if err != nil || len(as) != 1 {
		t.Fatal(as, err)
	}
	return as[0].StateValue
}

func TestAlarmStatesAndActions(t *testing.T) {
	acts := &recorded{}
	s := open(t, backbone(t), Options{Actions: acts})
	ctx := context.Background()
	fn := "arn:aws:lambda:us-east-1:000000000000:function:pager"
	topic := "arn:aws:sns:us-east-1:000000000000:alerts"
	a := &Alarm{AlarmName: "high", Namespace: "app", MetricName: "errors", Statistic: "Maximum", Period: 60, EvaluationPeriods: 1,
		Threshold: 5, ComparisonOperator: "GreaterThanThreshold", ActionsEnabled: true, AlarmActions: []string{fn, topic}, OKActions: []string{topic}}
	if err := s.PutAlarm(ctx, a, "us-east-1"); err != nil {
		t.Fatal(err)
	}
	state := func() string { return alarmState(t, s, "high") }
	if st := state(); st != StateInsufficientData {
		t.Fatalf("new alarm in %s", st)
	}
	s.EvaluateAlarms(ctx)
	if st := state(); st != StateInsufficientData {
		t.Fatalf("without data: %s", st)
	}
	v := 9.0
	if err := s.Put("app", []Datum{{MetricName: "errors", Value: &v}}); err != nil {
		t.Fatal(err)
	}
	s.EvaluateAlarms(ctx)
	if st := state(); st != StateAlarm {
		t.Fatalf("over the threshold: %s", st)
	}
	if len(acts.invoked) != 1 || len(acts.topics) != 1 {
		t.Fatalf("actions: %d invocations, %d publications", len(acts.invoked), len(acts.topics))
	}
	var ev struct {
		Source    string `json:"source"`
		AlarmArn  string `json:"alarmArn"`
		AlarmData struct {
			AlarmName     string
			State         struct{ Value, Reason string }
			PreviousState struct{ Value string }
			Configuration struct {
				Metrics []struct {
					MetricStat struct {
						Metric struct {
							Namespace, Name string
						}
						Stat string
					}
				}
			}
		}
	}
	if err := json.Unmarshal(acts.invoked[0], &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Source != "aws.cloudwatch" || ev.AlarmArn != "arn:aws:cloudwatch:us-east-1:000000000000:alarm:high" || ev.AlarmData.AlarmName != "high" ||
		ev.AlarmData.State.Value != "ALARM" || ev.AlarmData.PreviousState.Value != "INSUFFICIENT_DATA" ||
		len(ev.AlarmData.Configuration.Metrics) != 1 || ev.AlarmData.Configuration.Metrics[0].MetricStat.Metric.Name != "errors" ||
		ev.AlarmData.Configuration.Metrics[0].MetricStat.Stat != "Maximum" || !strings.Contains(ev.AlarmData.State.Reason, "greater than the threshold (5.0)") {
		t.Errorf("event %s", acts.invoked[0])
	}
	if !strings.HasPrefix(acts.topics[0], `ALARM: "high" in US East (N. Virginia)`) || !strings.Contains(acts.topics[0], `"NewStateValue":"ALARM"`) {
		t.Errorf("notification %s", acts.topics[0])
	}
	// Another evaluation in the same state runs nothing.
	s.EvaluateAlarms(ctx)
	if len(acts.invoked) != 1 {
		t.Errorf("%d invocations after a second evaluation", len(acts.invoked))
	}
	// Refusals.
	for _, bad := range []*Alarm{
		{AlarmName: "x", Namespace: "n", MetricName: "m", Statistic: "Sum", ExtendedStatistic: "p99", Period: 60, EvaluationPeriods: 1, ComparisonOperator: "GreaterThanThreshold"},
		{AlarmName: "x", Namespace: "n", MetricName: "m", Statistic: "Sum", Period: 60, EvaluationPeriods: 1, ComparisonOperator: "LessThanLowerOrGreaterThanUpperThreshold"},
		{AlarmName: "x", Namespace: "n", MetricName: "m", Statistic: "Sum", Period: 60, EvaluationPeriods: 1, ComparisonOperator: "GreaterThanThreshold", AlarmActions: []string{"arn:aws:automate:us-east-1:ec2:stop"}},
		{AlarmName: "x", Namespace: "n", MetricName: "m", Statistic: "Sum", Period: 45, EvaluationPeriods: 1, ComparisonOperator: "GreaterThanThreshold"},
	} {
		if err := s.PutAlarm(ctx, bad, "us-east-1"); err == nil {
			t.Errorf("PutAlarm(%+v) accepted", bad)
		}
	}
	var e *Error
	if err := s.DeleteAlarms(ctx, []string{"high", "nope"}); !errors.As(err, &e) || e.Code != ResourceNotFound {
		t.Errorf("deleting a missing alarm: %v", err)
	}
	if err := s.DeleteAlarms(ctx, []string{"high"}); err != nil {
		t.Fatal(err)
	}
	if as, _, _ := s.DescribeAlarms(&AlarmQuery{}); len(as) != 0 {
		t.Errorf("after delete: %+v", as)
	}
}

// TestLeaseHasOneHolder checks that of two nodes one evaluates the
// alarms, never both, and that the lease passes on when its holder
// stops.
func TestLeaseHasOneHolder(t *testing.T) {
	js := backbone(t)
	a := open(t, js, Options{Node: "a", EvalInterval: time.Second})
	b := open(t, js, Options{Node: "b", EvalInterval: time.Second})
	a.Start()
	b.Start()
	holding := func() (bool, bool) { return a.leases.Held(EvalLease), b.leases.Held(EvalLease) }
	deadline := time.Now().Add(5 * time.Second)
	for ha, hb := holding(); ha == hb; ha, hb = holding() {
		if ha && hb {
			t.Fatal("both nodes hold the evaluator's lease")
		}
		if time.Now().After(deadline) {
			t.Fatal("no node took the evaluator's lease")
		}
		time.Sleep(20 * time.Millisecond)
	}
	holder, other := a, b
	if b.leases.Held(EvalLease) {
		holder, other = b, a
	}
	time.Sleep(2 * time.Second)
	if ha, hb := holding(); ha == hb {
		t.Fatalf("after renewals a holds %v and b %v", ha, hb)
	}
	// The holder stops: it gives the lease up, and the other takes it.
	holder.Close(context.Background())
	deadline = time.Now().Add(2 * time.Second)
	for !other.leases.Held(EvalLease) {
		if time.Now().After(deadline) {
			t.Fatal("the lease given up was not taken")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A period that has only begun is not yet missing: a datapoint put in the
// last second of a minute still sets off the alarm when the evaluation
// comes just after the minute turns, and the alarm goes to
// INSUFFICIENT_DATA only once a whole period has passed without data.
func TestAlarmAcrossAPeriodBoundary(t *testing.T) {
	var clock atomic.Int64
	at := func(s string) {
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		clock.Store(tm.UnixNano())
	}
	at("2026-03-01T12:00:59Z")
	s := open(t, backbone(t), Options{Now: func() time.Time { return time.Unix(0, clock.Load()) }})
	ctx := context.Background()
	a := &Alarm{AlarmName: "edge", Namespace: "app", MetricName: "errors", Statistic: "Maximum", Period: 60, EvaluationPeriods: 1,
		Threshold: 5, ComparisonOperator: "GreaterThanThreshold"}
	if err := s.PutAlarm(ctx, a, "us-east-1"); err != nil {
		t.Fatal(err)
	}
	state := func() string { return alarmState(t, s, "edge") }
	v := 9.0
	if err := s.Put("app", []Datum{{MetricName: "errors", Value: &v}}); err != nil {
		t.Fatal(err)
	}
	at("2026-03-01T12:01:02Z")
	s.EvaluateAlarms(ctx)
	if st := state(); st != StateAlarm {
		t.Fatalf("a datapoint in the minute just ended: %s, want ALARM", st)
	}
	at("2026-03-01T12:02:03Z")
	s.EvaluateAlarms(ctx)
	if st := state(); st != StateInsufficientData {
		t.Fatalf("a whole period without data: %s, want INSUFFICIENT_DATA", st)
	}
}

// TestRecordValuesAsRecord records the same datapoints one at a time
// and all at once (with counts): every statistic and percentile agrees,
// and what cannot be recorded is dropped.
func TestRecordValuesAsRecord(t *testing.T) {
	s := open(t, backbone(t), Options{})
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Minute)
	one := []Dimension{{"FunctionName", "one"}}
	many := []Dimension{{"FunctionName", "many"}}
	var values, counts []float64
	for i := range 300 {
		v := float64(i%97) + 0.25
		n := float64(1 + i%3)
		values, counts = append(values, v), append(counts, n)
		for range int(n) {
			s.Record("AWS/Lambda", "Duration", one, v, "Milliseconds", now.Add(time.Second))
		}
	}
	before := s.dropped.Load()
	s.RecordValues("AWS/Lambda", "Duration", many, append(values, math.NaN(), 5), append(counts, 1, 0), "Milliseconds", now.Add(time.Second))
	if d := s.dropped.Load() - before; d != 2 {
		t.Errorf("dropped %d datapoints, want 2 (NaN, count 0)", d)
	}
	s.RecordValues("AWS/Lambda", "Duration", many, []float64{1, 2}, []float64{1}, "Milliseconds", now.Add(time.Second))
	if d := s.dropped.Load() - before; d != 4 {
		t.Errorf("values and counts of different lengths: dropped %d in all, want 4", d)
	}
	read := func(dims []Dimension) map[string]float64 {
		t.Helper()
		out := map[string]float64{}
		for _, q := range []StatsQuery{{Statistics: []string{"SampleCount", "Sum", "Minimum", "Maximum"}}, {ExtendedStatistics: []string{"p50", "p90", "p99"}}} {
			q.Metric, q.Start, q.End, q.Period = Metric{"AWS/Lambda", "Duration", dims}, now.Add(-time.Hour), now.Add(time.Hour), 60
			dps, err := s.Statistics(ctx, &q)
			if err != nil || len(dps) != 1 {
				t.Fatalf("datapoints %+v, %v", dps, err)
			}
			maps.Copy(out, dps[0].Values)
		}
		return out
	}
	a, b := read(one), read(many)
	if len(a) != 7 || !maps.Equal(a, b) {
		t.Errorf("one at a time %v, at once %v", a, b)
	}
}
