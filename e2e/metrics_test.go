package e2e

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/aloft-dev/aloft/internal/alofttest"
)

// scrapeB reads url's metrics, for benchmarks.
func scrapeB(b *testing.B, url string) (int, string) {
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

// scrape reads url's metrics with the header auth (none when empty) and
// returns the status and the body.
func scrape(t *testing.T, url, auth string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest("GET", url+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}

// families parses a scrape in Prometheus's text format.
func families(t *testing.T, body []byte) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("the scrape does not parse: %v\n%s", err, body)
	}
	return fams
}

// sample returns the metric of family name with exactly these labels'
// values (others may be there too), or nil.
func sample(fams map[string]*dto.MetricFamily, name string, labels map[string]string) *dto.Metric {
	f := fams[name]
	if f == nil {
		return nil
	}
	for _, m := range f.GetMetric() {
		got := map[string]string{}
		for _, l := range m.GetLabel() {
			got[l.GetName()] = l.GetValue()
		}
		match := true
		for k, v := range labels {
			if got[k] != v {
				match = false
			}
		}
		if match {
			return m
		}
	}
	return nil
}

// TestMetrics invokes a function warm and cold, with an error, and a
// function reserved at 0, then reads /metrics as Prometheus would.
func TestMetrics(t *testing.T) {
	srv := alofttest.Start(t)
	c := srv.Lambda()
	goRC := runtimeCases()[0]
	code := alofttest.GoFunction(t, "e2e/functions/gofn", "v1")
	create(t, c, "metered", goRC, code)
	create(t, c, "metered-off", goRC, code)
	if _, err := c.PutFunctionConcurrency(ctxT(t), &lambda.PutFunctionConcurrencyInput{
		FunctionName: aws.String("metered-off"), ReservedConcurrentExecutions: aws.Int32(0)}); err != nil {
		t.Fatal(err)
	}
	const n = 5
	for range n {
		invoke(t, c, "metered", `{}`)
	}
	if e := invokeErr(t, c, "metered", `{"op":"error"}`); e.ErrorType != goRC.errType {
		t.Fatalf("error type got %q, want %q", e.ErrorType, goRC.errType)
	}
	_, err := c.Invoke(ctxT(t), &lambda.InvokeInput{FunctionName: aws.String("metered-off"), Payload: []byte(`{}`)})
	apiErr(t, err, "TooManyRequestsException", 429)

	status, body := scrape(t, srv.URL, "")
	if status != 200 {
		t.Fatalf("GET /metrics on a loopback listener got %d, want 200: %s", status, body)
	}
	fams := families(t, body)
	counter := func(name string, labels map[string]string) float64 {
		t.Helper()
		m := sample(fams, name, labels)
		if m == nil {
			t.Fatalf("no %s%v in the scrape", name, labels)
		}
		return m.GetCounter().GetValue()
	}
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"aloft_invocations_total", map[string]string{"function": "metered", "outcome": "success"}, n},
		{"aloft_invocations_total", map[string]string{"function": "metered", "outcome": "function_error"}, 1},
		{"aloft_invocations_total", map[string]string{"function": "metered", "outcome": "throttled"}, 0},
		{"aloft_invocations_total", map[string]string{"function": "metered-off", "outcome": "throttled"}, 1},
		{"aloft_throttles_total", map[string]string{"function": "metered-off", "reason": "reserved"}, 1},
		{"aloft_invocation_errors_total", map[string]string{"function": "metered", "type": "Unhandled"}, 1},
		{"aloft_cold_starts_total", map[string]string{"function": "metered"}, 1},
	} {
		if got := counter(c.name, c.labels); got != c.want {
			t.Errorf("%s%v got %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	dur := sample(fams, "aloft_invocation_duration_seconds", map[string]string{"function": "metered"})
	if dur == nil || dur.GetHistogram().GetSampleCount() != n+1 || dur.GetHistogram().GetSampleSum() <= 0 {
		t.Errorf("duration histogram got %v, want %d samples", dur, n+1)
	}
	init := sample(fams, "aloft_init_duration_seconds", map[string]string{"function": "metered"})
	if init == nil || init.GetHistogram().GetSampleCount() != 1 || init.GetHistogram().GetSampleSum() <= 0 {
		t.Errorf("init duration histogram got %v, want 1 sample", init)
	}
	// Read at scrape time: the function's one instance, idle (perhaps
	// frozen), nothing running, and the backbone up.
	gauge := func(name string, labels map[string]string) float64 {
		t.Helper()
		m := sample(fams, name, labels)
		if m == nil {
			t.Fatalf("no %s%v in the scrape", name, labels)
		}
		return m.GetGauge().GetValue()
	}
	idle := gauge("aloft_instances", map[string]string{"function": "metered", "state": "idle"}) +
		gauge("aloft_instances", map[string]string{"function": "metered", "state": "frozen"})
	if idle != 1 || gauge("aloft_instances", map[string]string{"function": "metered", "state": "busy"}) != 0 {
		t.Errorf("instances of metered: %v idle, want 1 idle and none busy", idle)
	}
	if got := gauge("aloft_concurrent_executions", map[string]string{"function": "metered"}); got != 0 {
		t.Errorf("concurrent executions got %v, want 0", got)
	}
	if sample(fams, "aloft_prepared_templates", nil) == nil {
		t.Error("prepared templates are not reported")
	}
	if gauge("aloft_backbone_up", nil) != 1 || sample(fams, "aloft_backbone_stream_messages", map[string]string{"stream": "ALOFT_ASYNC"}) == nil {
		t.Error("the backbone and its streams are not reported")
	}
	for _, name := range []string{"go_goroutines", "process_resident_memory_bytes"} {
		if fams[name] == nil {
			t.Errorf("no %s: the Go and process collectors are missing", name)
		}
	}
	// No request ids among the label values.
	if strings.Contains(string(body), "request_id") {
		t.Error("the scrape has request ids")
	}

	// The same invocations are in CloudWatch, as Lambda reports them.
	lambdaMetrics(t, srv, n)

	// A deleted function's series go.
	if _, err := c.DeleteFunction(ctxT(t), &lambda.DeleteFunctionInput{FunctionName: aws.String("metered-off")}); err != nil {
		t.Fatal(err)
	}
	_, body2 := scrape(t, srv.URL, "")
	if strings.Contains(string(body2), `function="metered-off"`) {
		t.Error("a deleted function's series are still scraped")
	}

	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Log("promtool is not on PATH: the scrape's format is not linted")
		return
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(body)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

// TestMetricsNeedTheTokenOffLoopback starts a server on every address,
// where /metrics needs the bearer token the server writes into its data
// dir, and one with /metrics off.
func TestMetricsNeedTheTokenOffLoopback(t *testing.T) {
	srv := alofttest.Start(t, "--listen", "0.0.0.0:0")
	url := strings.Replace(srv.URL, "0.0.0.0", "127.0.0.1", 1)
	for _, auth := range []string{"", "Bearer wrong-token-0000000000"} {
		if status, body := scrape(t, url, auth); status != http.StatusUnauthorized {
			t.Errorf("GET /metrics with %q got %d, want 401: %.200s", auth, status, body)
		}
	}
	file := filepath.Join(srv.Dir, "metrics-token")
	fi, err := os.Stat(file)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v, %v; want mode 0600", fi, err)
	}
	tok, _ := os.ReadFile(file)
	status, body := scrape(t, url, "Bearer "+strings.TrimSpace(string(tok)))
	if status != 200 || !bytes.Contains(body, []byte("aloft_backbone_up 1")) {
		t.Fatalf("GET /metrics with the token got %d: %.300s", status, body)
	}
	// A signed S3 request for a bucket named metrics is S3's, not a scrape.
	s3c := srv.S3()
	if _, err := s3c.CreateBucket(ctxT(t), &s3.CreateBucketInput{Bucket: aws.String("metrics")}); err != nil {
		t.Fatal(err)
	}
	if _, err := s3c.ListObjectsV2(ctxT(t), &s3.ListObjectsV2Input{Bucket: aws.String("metrics")}); err != nil {
		t.Errorf("listing bucket metrics: %v", err)
	}

	off := alofttest.Start(t, "--metrics-access", "off")
	if status, _ := scrape(t, off.URL, ""); status == 200 {
		t.Errorf("GET /metrics with --metrics-access off got %d", status)
	}
}

// lambdaMetrics checks the AWS/Lambda datapoints of TestMetrics'
// invocations: n successes and an error of metered, a throttle of
// metered-off.
func lambdaMetrics(t *testing.T, srv *alofttest.Server, n int) {
	t.Helper()
	cw := cloudwatch.NewFromConfig(srv.Config(), func(o *cloudwatch.Options) { o.BaseEndpoint = aws.String(srv.URL) })
	stat := func(name, fn string) *cwtypes.Datapoint {
		var dims []cwtypes.Dimension
		if fn != "" {
			dims = []cwtypes.Dimension{{Name: aws.String("FunctionName"), Value: aws.String(fn)}}
		}
		st, err := cw.GetMetricStatistics(ctxT(t), &cloudwatch.GetMetricStatisticsInput{Namespace: aws.String("AWS/Lambda"),
			MetricName: aws.String(name), Dimensions: dims, Period: aws.Int32(3600),
			StartTime: aws.Time(time.Now().Add(-time.Hour)), EndTime: aws.Time(time.Now().Add(time.Hour)),
			Statistics: []cwtypes.Statistic{cwtypes.StatisticSum, cwtypes.StatisticSampleCount, cwtypes.StatisticMaximum}})
		if err != nil {
			t.Fatalf("GetMetricStatistics %s: %v", name, err)
		}
		if len(st.Datapoints) != 1 {
			return nil
		}
		return &st.Datapoints[0]
	}
	deadline := time.Now().Add(10 * time.Second)
	for stat("Throttles", "metered-off") == nil && time.Now().Before(deadline) { // recorded off the invocations' path
		time.Sleep(100 * time.Millisecond)
	}
	for _, c := range []struct {
		name, fn     string
		sum, samples float64
	}{
		{"Invocations", "metered", float64(n + 1), float64(n + 1)},
		{"Errors", "metered", 1, float64(n + 1)},
		{"Duration", "metered", -1, float64(n + 1)},
		{"Throttles", "metered-off", 1, 1},
		{"Invocations", "", float64(n + 1), float64(n + 1)}, // the account's
	} {
		d := stat(c.name, c.fn)
		if d == nil {
			t.Errorf("AWS/Lambda %s of %q: no datapoint", c.name, c.fn)
			continue
		}
		if (c.sum >= 0 && aws.ToFloat64(d.Sum) != c.sum) || aws.ToFloat64(d.SampleCount) != c.samples {
			t.Errorf("AWS/Lambda %s of %q: sum %v of %v samples, want %v of %v", c.name, c.fn, aws.ToFloat64(d.Sum), aws.ToFloat64(d.SampleCount), c.sum, c.samples)
		}
		if c.name == "Duration" && (d.Unit != cwtypes.StandardUnitMilliseconds || aws.ToFloat64(d.Maximum) <= 0) {
			t.Errorf("AWS/Lambda Duration: %+v, want milliseconds", d)
		}
	}
	if d := stat("Invocations", "metered-off"); d != nil {
		t.Errorf("a throttled invocation counted among Invocations: %+v", d)
	}
}
