package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/aloft-dev/aloft/internal/alofttest"
)

// cloudwatchFunction prints the CloudWatch alarm events it is invoked
// with, and for {"emf": N} an embedded-metric-format line declaring
// Orders = N in namespace e2e/emf, as Powertools prints it.
const cloudwatchFunction = `
import json, time
def handler(event, context):
    if event.get("source") == "aws.cloudwatch":
        print("ALARM-EVENT " + json.dumps(event))
        return {"ok": True}
    if "emf" in event:
        print(json.dumps({"_aws": {"Timestamp": int(time.time() * 1000), "CloudWatchMetrics": [{
            "Namespace": "e2e/emf", "Dimensions": [["Service"]],
            "Metrics": [{"Name": "Orders", "Unit": "Count"}]}]},
            "Service": "cart", "Orders": event["emf"]}))
    return {"ok": True}
`

// boto3CloudWatch uses the query protocol, as boto3 1.26 speaks to
// CloudWatch: puts datapoints, reads them back and lists the metric,
// then makes and describes an alarm.
const boto3CloudWatch = `
import os, datetime, boto3
cw = boto3.client("cloudwatch", endpoint_url=os.environ["ENDPOINT"], region_name="us-east-1")
now = datetime.datetime.now(datetime.timezone.utc)
cw.put_metric_data(Namespace="e2e/query", MetricData=[
    {"MetricName": "Hits", "Dimensions": [{"Name": "Page", "Value": "home"}], "Values": [1.0, 2.0, 3.0], "Counts": [1.0, 1.0, 2.0], "Unit": "Count"},
    {"MetricName": "Hits", "Dimensions": [{"Name": "Page", "Value": "home"}], "StatisticValues": {"SampleCount": 2, "Sum": 10, "Minimum": 4, "Maximum": 6}, "Unit": "Count"}])
out = cw.get_metric_statistics(Namespace="e2e/query", MetricName="Hits", Dimensions=[{"Name": "Page", "Value": "home"}],
    StartTime=now - datetime.timedelta(minutes=5), EndTime=now + datetime.timedelta(minutes=5), Period=600,
    Statistics=["Sum", "SampleCount", "Maximum"])
dp = out["Datapoints"][0]
print("stats", dp["Sum"], dp["SampleCount"], dp["Maximum"], dp["Unit"])
ms = cw.list_metrics(Namespace="e2e/query")["Metrics"]
print("metrics", [(m["MetricName"], m["Dimensions"][0]["Value"]) for m in ms])
cw.put_metric_alarm(AlarmName="q-alarm", Namespace="e2e/query", MetricName="Hits", Statistic="Sum", Period=60,
    EvaluationPeriods=1, Threshold=1000, ComparisonOperator="GreaterThanThreshold")
a = cw.describe_alarms(AlarmNames=["q-alarm"])["MetricAlarms"][0]
print("alarm", a["AlarmName"], a["StateValue"], a["Threshold"])
try:
    cw.put_metric_data(Namespace="e2e/query", MetricData=[{"MetricName": "Hits", "Value": 1, "Unit": "Parsecs"}])
except cw.exceptions.InvalidParameterValueException as e:
    print("refused", e.response["Error"]["Code"])
`

// TestCloudWatch runs the CloudWatch metrics API against a real server
// in each of its protocols: the Go SDK's client (Smithy RPC v2 CBOR),
// raw signed JSON 1.0 requests and boto3's query protocol; an alarm
// that invokes a function, and an EMF line a function prints read back
// as a metric.
func TestCloudWatch(t *testing.T) {
	srv := alofttest.Start(t, "--alarm-interval", "1s")
	ctx := ctxT(t)
	cw := cloudwatch.NewFromConfig(srv.Config(), func(o *cloudwatch.Options) { o.BaseEndpoint = aws.String(srv.URL) })
	now := time.Now().UTC()
	dims := []cwtypes.Dimension{{Name: aws.String("Service"), Value: aws.String("cart")}}

	t.Run("cbor", func(t *testing.T) {
		values := make([]float64, 100)
		for i := range values {
			values[i] = float64(i + 1)
		}
		_, err := cw.PutMetricData(ctx, &cloudwatch.PutMetricDataInput{Namespace: aws.String("e2e/sdk"), MetricData: []cwtypes.MetricDatum{
			{MetricName: aws.String("Latency"), Dimensions: dims, Values: values, Unit: cwtypes.StandardUnitMilliseconds, Timestamp: aws.Time(now)},
			{MetricName: aws.String("Latency"), Dimensions: dims, Values: []float64{1000}, Counts: []float64{2}, Unit: cwtypes.StandardUnitMilliseconds},
			{MetricName: aws.String("Latency"), Dimensions: dims, StatisticValues: &cwtypes.StatisticSet{
				SampleCount: aws.Float64(3), Sum: aws.Float64(30), Minimum: aws.Float64(10), Maximum: aws.Float64(10)}, Unit: cwtypes.StandardUnitMilliseconds},
			{MetricName: aws.String("Requests"), Dimensions: dims, Value: aws.Float64(7), StorageResolution: aws.Int32(1)},
		}})
		if err != nil {
			t.Fatal(err)
		}
		window := func(in *cloudwatch.GetMetricStatisticsInput) *cloudwatch.GetMetricStatisticsInput {
			in.Namespace, in.MetricName, in.Dimensions = aws.String("e2e/sdk"), aws.String("Latency"), dims
			in.StartTime, in.EndTime, in.Period = aws.Time(now.Add(-10*time.Minute)), aws.Time(now.Add(10*time.Minute)), aws.Int32(1200)
			return in
		}
		out, err := cw.GetMetricStatistics(ctx, window(&cloudwatch.GetMetricStatisticsInput{Statistics: []cwtypes.Statistic{
			cwtypes.StatisticSampleCount, cwtypes.StatisticSum, cwtypes.StatisticMinimum, cwtypes.StatisticMaximum, cwtypes.StatisticAverage}}))
		if err != nil {
			t.Fatal(err)
		}
		// 1..100, 1000 twice, 10 three times.
		if len(out.Datapoints) != 1 {
			t.Fatalf("datapoints %+v", out.Datapoints)
		}
		dp := out.Datapoints[0]
		if aws.ToFloat64(dp.SampleCount) != 105 || aws.ToFloat64(dp.Sum) != 5050+2000+30 || aws.ToFloat64(dp.Minimum) != 1 ||
			aws.ToFloat64(dp.Maximum) != 1000 || aws.ToFloat64(dp.Average) != 7080.0/105 || dp.Unit != cwtypes.StandardUnitMilliseconds {
			t.Errorf("statistics %+v", dp)
		}
		pct, err := cw.GetMetricStatistics(ctx, window(&cloudwatch.GetMetricStatisticsInput{ExtendedStatistics: []string{"p50", "p99"}}))
		if err != nil {
			t.Fatal(err)
		}
		if len(pct.Datapoints) != 1 {
			t.Fatalf("percentile datapoints %+v", pct.Datapoints)
		}
		// Sorted: 1..10 (10 three more times), 11..100, 1000 twice:
		// the 53rd of 105 is 50, the 104th is 1000; more than a few
		// distinct values are kept in buckets 0.4% wide.
		if p := pct.Datapoints[0].ExtendedStatistics; math.Abs(p["p50"]-50) > 0.2 || math.Abs(p["p99"]-1000) > 4 {
			t.Errorf("percentiles %v", p)
		}

		md, err := cw.GetMetricData(ctx, &cloudwatch.GetMetricDataInput{
			StartTime: aws.Time(now.Add(-10 * time.Minute)), EndTime: aws.Time(now.Add(10 * time.Minute)),
			MetricDataQueries: []cwtypes.MetricDataQuery{
				{Id: aws.String("m1"), MetricStat: &cwtypes.MetricStat{Metric: &cwtypes.Metric{Namespace: aws.String("e2e/sdk"),
					MetricName: aws.String("Requests"), Dimensions: dims}, Period: aws.Int32(1200), Stat: aws.String("Sum")}},
				{Id: aws.String("m2"), MetricStat: &cwtypes.MetricStat{Metric: &cwtypes.Metric{Namespace: aws.String("e2e/sdk"),
					MetricName: aws.String("Latency"), Dimensions: dims}, Period: aws.Int32(1200), Stat: aws.String("Maximum")}, ReturnData: aws.Bool(false)},
				{Id: aws.String("e1"), Expression: aws.String("m1*2"), Label: aws.String("double")},
				{Id: aws.String("e2"), Expression: aws.String("SUM(METRICS())")},
			}})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string][]float64{}
		for _, r := range md.MetricDataResults {
			got[aws.ToString(r.Id)] = r.Values
			if len(r.Timestamps) != len(r.Values) || r.StatusCode != cwtypes.StatusCodeComplete {
				t.Errorf("result %+v", r)
			}
			if aws.ToString(r.Id) == "e1" && aws.ToString(r.Label) != "double" {
				t.Errorf("label %q", aws.ToString(r.Label))
			}
		}
		if !slices.Equal(got["m1"], []float64{7}) || !slices.Equal(got["e1"], []float64{14}) || !slices.Equal(got["e2"], []float64{1007}) || got["m2"] != nil {
			t.Errorf("GetMetricData %v", got)
		}

		lm, err := cw.ListMetrics(ctx, &cloudwatch.ListMetricsInput{Namespace: aws.String("e2e/sdk"),
			Dimensions: []cwtypes.DimensionFilter{{Name: aws.String("Service"), Value: aws.String("cart")}}})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, m := range lm.Metrics {
			names = append(names, aws.ToString(m.MetricName))
		}
		if !slices.Equal(names, []string{"Latency", "Requests"}) {
			t.Errorf("ListMetrics %v", names)
		}
	})

	t.Run("refusals", func(t *testing.T) {
		_, err := cw.PutMetricData(ctx, &cloudwatch.PutMetricDataInput{Namespace: aws.String("e2e/sdk"), MetricData: []cwtypes.MetricDatum{
			{MetricName: aws.String("x"), Value: aws.Float64(1), Unit: "Parsecs"}}})
		var bad *cwtypes.InvalidParameterValueException
		if !errors.As(err, &bad) || bad.ErrorCode() != "InvalidParameterValue" {
			t.Errorf("an unknown unit: %v", err)
		}
		_, err = cw.GetMetricStatistics(ctx, &cloudwatch.GetMetricStatisticsInput{Namespace: aws.String("e2e/sdk"), MetricName: aws.String("x"),
			StartTime: aws.Time(now.Add(-48 * time.Hour)), EndTime: aws.Time(now), Period: aws.Int32(60), Statistics: []cwtypes.Statistic{cwtypes.StatisticSum}})
		var combo *cwtypes.InvalidParameterCombinationException
		if !errors.As(err, &combo) || !strings.Contains(combo.ErrorMessage(), "exceeds the limit of 1,440") {
			t.Errorf("two days by the minute: %v", err)
		}
		_, err = cw.DeleteAlarms(ctx, &cloudwatch.DeleteAlarmsInput{AlarmNames: []string{"never-made"}})
		var nf *cwtypes.ResourceNotFound
		if !errors.As(err, &nf) {
			t.Errorf("deleting a missing alarm: %v", err)
		}
		wrong := srv.Config()
		wrong.Credentials = credentials.NewStaticCredentialsProvider(alofttest.AccessKeyID, "not-the-secret-key-00000000000000000000", "")
		_, err = cloudwatch.NewFromConfig(wrong, func(o *cloudwatch.Options) { o.BaseEndpoint = aws.String(srv.URL) }).
			ListMetrics(ctx, &cloudwatch.ListMetricsInput{})
		var re *smithyhttp.ResponseError
		var ae smithy.APIError
		if !errors.As(err, &re) || re.HTTPStatusCode() != 403 || !errors.As(err, &ae) {
			t.Errorf("a wrong signature: %v", err)
		}
		// Unsigned, a CBOR request is refused in CBOR.
		req, _ := http.NewRequest("POST", srv.URL+"/service/GraniteServiceVersion20100801/operation/ListMetrics", bytes.NewReader([]byte{0xa0}))
		req.Header.Set("Smithy-Protocol", "rpc-v2-cbor")
		req.Header.Set("Content-Type", "application/cbor")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 403 || resp.Header.Get("Smithy-Protocol") != "rpc-v2-cbor" || resp.Header.Get("Content-Type") != "application/cbor" {
			t.Errorf("an unsigned CBOR request: %d %v", resp.StatusCode, resp.Header)
		}
	})

	t.Run("json", func(t *testing.T) {
		body := `{"Namespace":"e2e/sdk","MetricName":"Requests","Dimensions":[{"Name":"Service","Value":"cart"}],` +
			`"StartTime":` + itoa64(now.Add(-10*time.Minute).Unix()) + `,"EndTime":` + itoa64(now.Add(10*time.Minute).Unix()) +
			`,"Period":1200,"Statistics":["Sum","SampleCount"]}`
		status, b := signedJSON(t, srv, "GetMetricStatistics", body, alofttest.SecretAccessKey)
		var out struct {
			Label      string
			Datapoints []struct {
				Timestamp        float64
				Sum, SampleCount float64
				Unit             string
			}
		}
		if status != 200 || json.Unmarshal(b, &out) != nil || len(out.Datapoints) != 1 || out.Datapoints[0].Sum != 7 ||
			out.Datapoints[0].SampleCount != 1 || out.Datapoints[0].Unit != "None" || out.Datapoints[0].Timestamp == 0 {
			t.Errorf("GetMetricStatistics over JSON: %d %s", status, b)
		}
		status, b = signedJSON(t, srv, "PutMetricData", `{"Namespace":"e2e/sdk","MetricData":[{"MetricName":"x","Value":"one"}]}`, alofttest.SecretAccessKey)
		if status != 400 || !strings.Contains(string(b), "SerializationException") && !strings.Contains(string(b), "InvalidParameterValue") {
			t.Errorf("a value that is not a number: %d %s", status, b)
		}
		status, b = signedJSON(t, srv, "PutMetricData", `{"Namespace":"AWS/Lambda","MetricData":[{"MetricName":"x","Value":1}]}`, alofttest.SecretAccessKey)
		if status != 400 || !strings.Contains(string(b), `"InvalidParameterValueException"`) {
			t.Errorf("a reserved namespace: %d %s", status, b)
		}
		status, b = signedJSON(t, srv, "ListMetrics", `{"Namespace":"e2e/sdk"}`, "wrong-secret-00000000000000000000000000")
		if status != 403 {
			t.Errorf("a wrong signature over JSON: %d %s", status, b)
		}
	})

	t.Run("query", func(t *testing.T) {
		python := "/usr/bin/python3"
		if exec.Command(python, "-c", "import boto3, botocore; assert botocore.__version__ < '1.30'").Run() != nil {
			t.Skip("the query protocol test needs Debian's boto3 1.26 (python3-boto3), which speaks it to CloudWatch")
		}
		cmd := exec.Command(python, "-c", boto3CloudWatch)
		cmd.Env = append(os.Environ(), "ENDPOINT="+srv.URL, "AWS_ACCESS_KEY_ID="+alofttest.AccessKeyID,
			"AWS_SECRET_ACCESS_KEY="+alofttest.SecretAccessKey, "AWS_EC2_METADATA_DISABLED=true", "AWS_CONFIG_FILE=/dev/null",
			"AWS_SHARED_CREDENTIALS_FILE=/dev/null")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("boto3: %v\n%s", err, out)
		}
		want := "stats 19.0 6.0 6.0 Count\nmetrics [('Hits', 'home')]\nalarm q-alarm INSUFFICIENT_DATA 1000.0\nrefused InvalidParameterValue\n"
		if string(out) != want {
			t.Errorf("boto3 printed\n%s\nwant\n%s", out, want)
		}
	})

	t.Run("alarm and EMF", func(t *testing.T) {
		lc := srv.Lambda()
		create(t, lc, "watcher", runtimeCase{runtime: "python3.11", handler: "app.handler"},
			alofttest.ZipFiles(t, map[string]string{"app.py": cloudwatchFunction}))
		fnARN := "arn:aws:lambda:us-east-1:000000000000:function:watcher"
		_, err := cw.PutMetricAlarm(ctx, &cloudwatch.PutMetricAlarmInput{AlarmName: aws.String("errors-high"), AlarmDescription: aws.String("too many errors"),
			Namespace: aws.String("e2e/alarm"), MetricName: aws.String("Errors"), Dimensions: dims, Statistic: cwtypes.StatisticMaximum,
			Period: aws.Int32(60), EvaluationPeriods: aws.Int32(1), Threshold: aws.Float64(5),
			ComparisonOperator: cwtypes.ComparisonOperatorGreaterThanThreshold, AlarmActions: []string{fnARN}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cw.PutMetricData(ctx, &cloudwatch.PutMetricDataInput{Namespace: aws.String("e2e/alarm"), MetricData: []cwtypes.MetricDatum{
			{MetricName: aws.String("Errors"), Dimensions: dims, Value: aws.Float64(9)}}}); err != nil {
			t.Fatal(err)
		}
		// The function prints an EMF line.
		if _, err := lc.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("watcher"), Payload: []byte(`{"emf": 3}`)}); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(60 * time.Second)
		var state cwtypes.StateValue
		for state != cwtypes.StateValueAlarm && time.Now().Before(deadline) {
			out, err := cw.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNames: []string{"errors-high"}})
			if err != nil {
				t.Fatal(err)
			}
			if len(out.MetricAlarms) == 1 {
				state = out.MetricAlarms[0].StateValue
			}
			time.Sleep(200 * time.Millisecond)
		}
		if state != cwtypes.StateValueAlarm {
			t.Fatalf("the alarm stayed %s", state)
		}
		var event struct {
			Source    string `json:"source"`
			AlarmArn  string `json:"alarmArn"`
			AlarmData struct {
				AlarmName     string `json:"alarmName"`
				State         struct{ Value, Reason string }
				PreviousState struct{ Value string }
				Configuration struct {
					Description string
					Metrics     []struct {
						MetricStat struct {
							Metric struct {
								Namespace, Name string
								Dimensions      map[string]string
							}
							Stat string
						}
					}
				}
			} `json:"alarmData"`
		}
		for event.Source == "" && time.Now().Before(deadline) {
			out, err := srv.Logs().FilterLogEvents(ctx, &cloudwatchlogs.FilterLogEventsInput{
				LogGroupName: aws.String("/aws/lambda/watcher"), FilterPattern: aws.String("ALARM-EVENT")})
			if err == nil {
				for _, e := range out.Events {
					json.Unmarshal([]byte(strings.TrimSpace(strings.TrimPrefix(aws.ToString(e.Message), "ALARM-EVENT "))), &event)
				}
			}
			time.Sleep(200 * time.Millisecond)
		}
		ad := event.AlarmData
		if event.Source != "aws.cloudwatch" || event.AlarmArn != "arn:aws:cloudwatch:us-east-1:000000000000:alarm:errors-high" ||
			ad.AlarmName != "errors-high" || ad.State.Value != "ALARM" || ad.PreviousState.Value != "INSUFFICIENT_DATA" ||
			ad.Configuration.Description != "too many errors" || len(ad.Configuration.Metrics) != 1 ||
			ad.Configuration.Metrics[0].MetricStat.Metric.Name != "Errors" || ad.Configuration.Metrics[0].MetricStat.Metric.Dimensions["Service"] != "cart" ||
			ad.Configuration.Metrics[0].MetricStat.Stat != "Maximum" {
			t.Fatalf("the function received %+v", event)
		}

		var orders []float64
		for time.Now().Before(deadline) {
			md, err := cw.GetMetricData(ctx, &cloudwatch.GetMetricDataInput{
				StartTime: aws.Time(now.Add(-10 * time.Minute)), EndTime: aws.Time(time.Now().Add(10 * time.Minute)),
				MetricDataQueries: []cwtypes.MetricDataQuery{{Id: aws.String("orders"), MetricStat: &cwtypes.MetricStat{
					Metric: &cwtypes.Metric{Namespace: aws.String("e2e/emf"), MetricName: aws.String("Orders"), Dimensions: dims},
					Period: aws.Int32(3600), Stat: aws.String("Sum")}}}})
			if err != nil {
				t.Fatal(err)
			}
			if orders = md.MetricDataResults[0].Values; len(orders) > 0 {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		if !slices.Equal(orders, []float64{3}) {
			t.Errorf("the EMF line's Orders: %v", orders)
		}
		// The invocations are in AWS/Lambda too, as Lambda reports them.
		st, err := cw.GetMetricStatistics(ctx, &cloudwatch.GetMetricStatisticsInput{Namespace: aws.String("AWS/Lambda"),
			MetricName: aws.String("Invocations"), Dimensions: []cwtypes.Dimension{{Name: aws.String("FunctionName"), Value: aws.String("watcher")}},
			StartTime: aws.Time(now.Add(-10 * time.Minute)), EndTime: aws.Time(time.Now().Add(10 * time.Minute)), Period: aws.Int32(3600),
			Statistics: []cwtypes.Statistic{cwtypes.StatisticSum}})
		if err != nil || len(st.Datapoints) != 1 || aws.ToFloat64(st.Datapoints[0].Sum) < 2 {
			t.Errorf("AWS/Lambda Invocations of the function invoked twice: %+v, %v", st, err)
		}
	})
}

func itoa64(n int64) string { return strconv.FormatInt(n, 10) }

// signedJSON sends a CloudWatch operation over JSON 1.0, signed with
// secret, and returns the status and body.
func signedJSON(t *testing.T, srv *alofttest.Server, op, body, secret string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest("POST", srv.URL+"/", bytes.NewReader([]byte(body)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	req.Header.Set("X-Amz-Target", "GraniteServiceVersion20100801."+op)
	sum := sha256.Sum256([]byte(body))
	creds := aws.Credentials{AccessKeyID: alofttest.AccessKeyID, SecretAccessKey: secret}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "monitoring", alofttest.Region, time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}
