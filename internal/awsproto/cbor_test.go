package awsproto

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
)

type cwDimension struct{ Name, Value string }

type statsIn struct {
	Namespace          string
	MetricName         string
	Dimensions         []cwDimension
	StartTime, EndTime *Time
	Period             int
	Statistics         []string
	ExtendedStatistics []string
}

type cwDatapoint struct {
	Timestamp          *Time              `json:",omitempty"`
	SampleCount        *float64           `json:",omitempty"`
	Maximum            *float64           `json:",omitempty"`
	Unit               string             `json:",omitempty"`
	ExtendedStatistics map[string]float64 `json:",omitempty"`
}

type statsOut struct {
	Label      string
	Datapoints []cwDatapoint
}

// TestCBORServesTheSDK serves CloudWatch's GetMetricStatistics with the
// kit in Smithy RPC v2 CBOR and calls it with the SDK's own client,
// which speaks it: the request's members and timestamps arrive, the
// answer's (whole and fractional timestamps, floats, lists, maps)
// decode, and an error decodes into the SDK's typed exception with the
// query code.
func TestCBORServesTheSDK(t *testing.T) {
	var got statsIn
	api := &JSONAPI{Protocol: JSON10Query, Prefix: "GraniteServiceVersion20100801", CBOR: "GraniteServiceVersion20100801"}
	start := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	Handle(api, "GetMetricStatistics", func(_ context.Context, in *statsIn) (*statsOut, error) {
		got = *in
		if in.MetricName == "bad" {
			return nil, &Error{Status: 400, Code: "InvalidParameterValueException", QueryCode: "InvalidParameterValue", Message: "The value bad is invalid."}
		}
		one, max := 1.0, 2.5
		return &statsOut{Label: in.MetricName, Datapoints: []cwDatapoint{
			{Timestamp: &Time{start}, SampleCount: &one, Maximum: &max, Unit: "Milliseconds", ExtendedStatistics: map[string]float64{"p99": 2.25}},
			{Timestamp: &Time{start.Add(1500 * time.Millisecond)}},
		}}, nil
	})
	srv := httptest.NewServer(api)
	defer srv.Close()
	c := cloudwatch.NewFromConfig(sdkConfig(), func(o *cloudwatch.Options) { o.BaseEndpoint = aws.String(srv.URL) })
	ctx := context.Background()
	out, err := c.GetMetricStatistics(ctx, &cloudwatch.GetMetricStatisticsInput{
		Namespace: aws.String("app"), MetricName: aws.String("latency"),
		Dimensions: []cwtypes.Dimension{{Name: aws.String("Service"), Value: aws.String("cart")}},
		StartTime:  aws.Time(start), EndTime: aws.Time(start.Add(90 * time.Second)), Period: aws.Int32(60),
		Statistics: []cwtypes.Statistic{cwtypes.StatisticMaximum, cwtypes.StatisticSampleCount},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got.Namespace != "app" || got.MetricName != "latency" || !slices.Equal(got.Dimensions, []cwDimension{{"Service", "cart"}}) ||
		!got.StartTime.Equal(start) || !got.EndTime.Equal(start.Add(90*time.Second)) || got.Period != 60 ||
		!slices.Equal(got.Statistics, []string{"Maximum", "SampleCount"}) {
		t.Errorf("the server decoded %+v", got)
	}
	if aws.ToString(out.Label) != "latency" || len(out.Datapoints) != 2 {
		t.Fatalf("the SDK decoded %+v", out)
	}
	dp := out.Datapoints[0]
	if !aws.ToTime(dp.Timestamp).Equal(start) || aws.ToFloat64(dp.SampleCount) != 1 || aws.ToFloat64(dp.Maximum) != 2.5 ||
		dp.Unit != cwtypes.StandardUnitMilliseconds || dp.ExtendedStatistics["p99"] != 2.25 {
		t.Errorf("datapoint %+v", dp)
	}
	if ts := aws.ToTime(out.Datapoints[1].Timestamp); !ts.Equal(start.Add(1500 * time.Millisecond)) {
		t.Errorf("a fractional timestamp came back as %v", ts)
	}

	_, err = c.GetMetricStatistics(ctx, &cloudwatch.GetMetricStatisticsInput{Namespace: aws.String("app"), MetricName: aws.String("bad"),
		StartTime: aws.Time(start), EndTime: aws.Time(start), Period: aws.Int32(60)})
	var typed *cwtypes.InvalidParameterValueException
	if !errors.As(err, &typed) {
		t.Fatalf("%v is not CloudWatch's InvalidParameterValueException", err)
	}
	checkAPIError(t, err, "InvalidParameterValue", "The value bad is invalid.")

	// An operation the API lacks, in CBOR.
	_, err = c.ListMetrics(ctx, &cloudwatch.ListMetricsInput{})
	checkAPIError(t, err, "UnknownOperationException", `The operation "ListMetrics" is not supported by this service.`)

	// A body that is not CBOR.
	req, _ := http.NewRequest("POST", srv.URL+CBORPath("GraniteServiceVersion20100801")+"GetMetricStatistics", bytes.NewReader([]byte{0xff, 0x01}))
	req.Header.Set("Smithy-Protocol", SmithyProtocol)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 || resp.Header.Get("Smithy-Protocol") != SmithyProtocol || resp.Header.Get("Content-Type") != "application/cbor" {
		t.Errorf("malformed CBOR: %d %v", resp.StatusCode, resp.Header)
	}
}

func TestTimeEncodings(t *testing.T) {
	tm := Time{time.Date(2026, 1, 2, 3, 4, 5, 250e6, time.UTC)}
	b, _ := json.Marshal(tm)
	if string(b) != "1767323045.25" {
		t.Errorf("JSON %s", b)
	}
	var back Time
	if err := json.Unmarshal(b, &back); err != nil || !back.Equal(tm.Time) {
		t.Errorf("JSON back: %v %v", back, err)
	}
	if err := json.Unmarshal([]byte(`"2026-01-02T03:04:05.25Z"`), &back); err != nil || !back.Equal(tm.Time) {
		t.Errorf("ISO 8601 in JSON: %v %v", back, err)
	}
	if err := json.Unmarshal([]byte(`"yesterday"`), &back); !errors.Is(err, ErrTime) {
		t.Errorf("a bad timestamp: %v", err)
	}
	c, _ := tm.MarshalCBOR()
	if c[0] != 0xc1 { // tag 1
		t.Errorf("CBOR % x does not start with tag 1", c)
	}
	back = Time{}
	if err := back.UnmarshalCBOR(c); err != nil || !back.Equal(tm.Time) {
		t.Errorf("CBOR back: %v %v", back, err)
	}
}

// TestQueryMapsOntoStructs decodes a query protocol request into the
// JSON structs and encodes an answer as the query protocol's XML.
func TestQueryMapsOntoStructs(t *testing.T) {
	type datum struct {
		MetricName string
		Dimensions []cwDimension
		Timestamp  *Time
		Value      *float64
		Values     []float64
		Stats      *struct{ Sum float64 } `json:"StatisticValues"`
	}
	var in struct {
		Namespace  string
		MetricData []datum
		Strict     *bool `json:"StrictEntityValidation"`
		Count      int
	}
	p := url.Values{
		"Action": {"PutMetricData"}, "Version": {"2010-08-01"}, "Namespace": {"app"}, "Count": {"3"},
		"MetricData.member.1.MetricName":                {"a"},
		"MetricData.member.1.Dimensions.member.1.Name":  {"Service"},
		"MetricData.member.1.Dimensions.member.1.Value": {"cart"},
		"MetricData.member.1.Value":                     {"1.5"},
		"MetricData.member.1.Timestamp":                 {"2026-01-02T03:04:05.000Z"},
		"MetricData.member.2.MetricName":                {"b"},
		"MetricData.member.2.Values.member.1":           {"1"},
		"MetricData.member.2.Values.member.2":           {"2"},
		"MetricData.member.2.StatisticValues.Sum":       {"7"},
		"MetricData.member.2.Dimensions":                {""},
		"StrictEntityValidation":                        {"true"},
	}
	if err := DecodeQuery(p, &in); err != nil {
		t.Fatal(err)
	}
	d1, d2 := in.MetricData[0], in.MetricData[1]
	if in.Namespace != "app" || in.Count != 3 || len(in.MetricData) != 2 || d1.MetricName != "a" || *d1.Value != 1.5 ||
		!slices.Equal(d1.Dimensions, []cwDimension{{"Service", "cart"}}) || !d1.Timestamp.Equal(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)) ||
		!slices.Equal(d2.Values, []float64{1, 2}) || d2.Stats.Sum != 7 || d2.Dimensions == nil || len(d2.Dimensions) != 0 || !*in.Strict {
		t.Errorf("decoded %+v", in)
	}
	for _, bad := range []url.Values{
		{"Unknown": {"x"}},
		{"MetricData.member.0.MetricName": {"x"}},
		{"MetricData.member.1.Value": {"many"}},
		{"MetricData.member.1.Timestamp": {"soon"}},
		{"Namespace.member.1": {"x"}},
	} {
		var qe *QueryParamError
		if err := DecodeQuery(bad, &in); !errors.As(err, &qe) {
			t.Errorf("DecodeQuery(%v) = %v", bad, err)
		}
	}

	one := 1.0
	out := statsOut{Label: "l", Datapoints: []cwDatapoint{{Timestamp: &Time{time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)}, Maximum: &one,
		ExtendedStatistics: map[string]float64{"p50": 0.5}}}}
	b, err := xml.Marshal(struct {
		XMLName xml.Name `xml:"R"`
		Result  QueryResult
	}{Result: QueryResult{out}})
	if err != nil {
		t.Fatal(err)
	}
	want := `<R><Result><Label>l</Label><Datapoints><member><Timestamp>2026-01-02T03:04:00.000Z</Timestamp><Maximum>1</Maximum>` +
		`<ExtendedStatistics><entry><key>p50</key><value>0.5</value></entry></ExtendedStatistics></member></Datapoints></Result></R>`
	if string(b) != want {
		t.Errorf("XML\n%s\nwant\n%s", b, want)
	}
}
