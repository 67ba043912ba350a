package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aloft-dev/aloft/internal/alofttest"
)

// TestAWSCLICloudWatch puts metrics, reads their statistics and
// percentiles, and sets and lists an alarm with the AWS CLI, in whichever
// of CloudWatch's protocols the installed CLI speaks (JSON 1.0 for v1's
// recent releases, query for Debian's v2.9).
func TestAWSCLICloudWatch(t *testing.T) {
	srv := alofttest.Start(t)
	cw := func(args ...string) string {
		t.Helper()
		out, errOut, code := awsCLI(t, srv, alofttest.AccessKeyID, alofttest.SecretAccessKey, "", append([]string{"cloudwatch"}, args...)...)
		if code != 0 {
			t.Fatalf("aws cloudwatch %s: exit %d: %s", strings.Join(args, " "), code, errOut)
		}
		return out
	}
	now := time.Now().UTC().Truncate(time.Minute)
	ts := now.Format(time.RFC3339)
	cw("put-metric-data", "--namespace", "Shop", "--metric-name", "Latency", "--unit", "Milliseconds",
		"--dimensions", "Service=cart", "--timestamp", ts, "--value", "10")
	cw("put-metric-data", "--namespace", "Shop", "--metric-data",
		`[{"MetricName":"Latency","Unit":"Milliseconds","Dimensions":[{"Name":"Service","Value":"cart"}],"Timestamp":"`+ts+`","Values":[20,30,1000],"Counts":[1,1,1]}]`)

	var stats struct {
		Label      string
		Datapoints []struct {
			SampleCount, Sum, Minimum, Maximum float64
			ExtendedStatistics                 map[string]float64
			Unit                               string
		}
	}
	// CloudWatch takes Statistics or ExtendedStatistics in one call, not
	// both.
	get := func(which ...string) (dp struct {
		SampleCount, Sum, Minimum, Maximum float64
		ExtendedStatistics                 map[string]float64
		Unit                               string
	}) {
		t.Helper()
		out := cw(append([]string{"get-metric-statistics", "--namespace", "Shop", "--metric-name", "Latency", "--dimensions", "Name=Service,Value=cart",
			"--start-time", now.Add(-5 * time.Minute).Format(time.RFC3339), "--end-time", now.Add(5 * time.Minute).Format(time.RFC3339),
			"--period", "60"}, which...)...)
		if err := json.Unmarshal([]byte(out), &stats); err != nil {
			t.Fatalf("get-metric-statistics: %v: %s", err, out)
		}
		if len(stats.Datapoints) != 1 {
			t.Fatalf("get-metric-statistics: %d datapoints, want 1: %s", len(stats.Datapoints), out)
		}
		return stats.Datapoints[0]
	}
	dp := get("--statistics", "SampleCount", "Sum", "Minimum", "Maximum")
	if dp.SampleCount != 4 || dp.Sum != 1060 || dp.Minimum != 10 || dp.Maximum != 1000 || dp.Unit != "Milliseconds" {
		t.Errorf("statistics: %+v, want 4 samples summing to 1060 from 10 to 1000 ms", dp)
	}
	// The four values are 10, 20, 30 and 1000: the median lies between 20
	// and 30.
	if p50 := get("--extended-statistics", "p50").ExtendedStatistics["p50"]; p50 < 20 || p50 > 30 {
		t.Errorf("p50 = %v, want between 20 and 30", p50)
	}
	_, errOut, code := awsCLI(t, srv, alofttest.AccessKeyID, alofttest.SecretAccessKey, "", "cloudwatch", "get-metric-statistics",
		"--namespace", "Shop", "--metric-name", "Latency", "--start-time", ts, "--end-time", ts, "--period", "60",
		"--statistics", "Sum", "--extended-statistics", "p50")
	if code == 0 || !strings.Contains(errOut, "InvalidParameterCombination") {
		t.Errorf("both kinds of statistics: exit %d: %s", code, errOut)
	}

	var list struct {
		Metrics []struct{ Namespace, MetricName string }
	}
	out := cw("list-metrics", "--namespace", "Shop")
	if err := json.Unmarshal([]byte(out), &list); err != nil || len(list.Metrics) != 1 || list.Metrics[0].MetricName != "Latency" {
		t.Errorf("list-metrics: %v: %s", err, out)
	}

	cw("put-metric-alarm", "--alarm-name", "slow-cart", "--namespace", "Shop", "--metric-name", "Latency",
		"--dimensions", "Name=Service,Value=cart", "--statistic", "Maximum", "--period", "60", "--evaluation-periods", "1",
		"--threshold", "500", "--comparison-operator", "GreaterThanThreshold")
	var alarms struct {
		MetricAlarms []struct{ AlarmName, StateValue, ComparisonOperator string }
	}
	out = cw("describe-alarms", "--alarm-names", "slow-cart")
	if err := json.Unmarshal([]byte(out), &alarms); err != nil || len(alarms.MetricAlarms) != 1 ||
		alarms.MetricAlarms[0].ComparisonOperator != "GreaterThanThreshold" {
		t.Errorf("describe-alarms: %v: %s", err, out)
	}
	cw("delete-alarms", "--alarm-names", "slow-cart")
	out = cw("describe-alarms", "--alarm-names", "slow-cart")
	if err := json.Unmarshal([]byte(out), &alarms); err != nil || len(alarms.MetricAlarms) != 0 {
		t.Errorf("describe-alarms after delete-alarms: %v: %s", err, out)
	}

	// A refusal comes back in CloudWatch's words.
	_, errOut, code = awsCLI(t, srv, alofttest.AccessKeyID, alofttest.SecretAccessKey, "",
		"cloudwatch", "put-metric-data", "--namespace", "AWS/Lambda", "--metric-name", "Invocations", "--value", "1")
	if code == 0 || !strings.Contains(errOut, "InvalidParameterValue") {
		t.Errorf("put-metric-data into AWS/Lambda: exit %d: %s", code, errOut)
	}
}
