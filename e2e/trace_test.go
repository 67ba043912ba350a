package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/aws-sdk-go-v2/service/xray"
	xtypes "github.com/aws/aws-sdk-go-v2/service/xray/types"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/aloft-dev/aloft/internal/alofttest"
	"github.com/aloft-dev/aloft/internal/traces/traceid"
)

// collector is an OpenTelemetry collector's OTLP/HTTP endpoint that keeps
// the spans it is sent.
type collector struct {
	mu    sync.Mutex
	spans []map[string]any
	bad   []string
}

func (c *collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	var req struct {
		ResourceSpans []struct {
			ScopeSpans []struct {
				Spans []map[string]any `json:"spans"`
			} `json:"scopeSpans"`
		} `json:"resourceSpans"`
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/json" || json.Unmarshal(b, &req) != nil {
		c.bad = append(c.bad, r.URL.Path+" "+r.Header.Get("Content-Type")+" "+string(b))
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			c.spans = append(c.spans, ss.Spans...)
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte(`{}`))
}

// of returns the names of the spans of the trace with W3C id traceID.
func (c *collector) of(traceID string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var names []string
	for _, s := range c.spans {
		if s["traceId"] == traceID {
			names = append(names, s["name"].(string))
		}
	}
	return names
}

// withHeader sends header h with every request of a client, and keeps the
// X-Amzn-Trace-Id of the answer in *answer.
func withHeader(name, value string, answer *string) func(*lambda.Options) {
	return func(o *lambda.Options) {
		if name != "" {
			o.APIOptions = append(o.APIOptions, smithyhttp.AddHeaderValue(name, value))
		}
		o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
			return st.Deserialize.Add(middleware.DeserializeMiddlewareFunc("keepTrace", func(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
				out, md, err := next.HandleDeserialize(ctx, in)
				if r, ok := out.RawResponse.(*smithyhttp.Response); ok {
					*answer = r.Header.Get("X-Amzn-Trace-Id")
				}
				return out, md, err
			}), middleware.After)
		})
	}
}

// TestTraces follows trace ids from callers to functions and back, reads
// the recorded traces with X-Ray's API and receives them as OTLP spans.
func TestTraces(t *testing.T) {
	col := &collector{}
	hs := httptest.NewServer(col)
	t.Cleanup(hs.Close) // after the server stops, which sends what is left
	srv := alofttest.Start(t, "--otlp-endpoint", hs.URL)
	c := srv.Lambda()
	ctx := ctxT(t)
	xr := xray.NewFromConfig(srv.Config(), func(o *xray.Options) { o.BaseEndpoint = aws.String(srv.URL) })

	py := alofttest.ZipFiles(t, map[string]string{"app.py": "import os\n\ndef handler(event, context):\n    return {'trace': os.environ.get('_X_AMZN_TRACE_ID', '')}\n"})
	create(t, c, "tracepy", runtimeCase{runtime: "python3.11", handler: "app.handler"}, py)
	create(t, c, "tracego", runtimeCases()[0], alofttest.GoFunction(t, "e2e/functions/gofn", "v1"))

	// Invoke with a sampled X-Ray header: the function sees the root, the
	// decision, and its own segment as parent; the answer carries it.
	root := traceid.NewRoot(time.Now())
	var answerHeader string
	out, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("tracepy"), Payload: []byte(`{}`)},
		withHeader("X-Amzn-Trace-Id", "Root="+root+";Parent=53995c3f42cd8ad8;Sampled=1", &answerHeader))
	if err != nil || out.FunctionError != nil {
		t.Fatalf("invoke: %v %s", err, out.Payload)
	}
	var pyOut struct{ Trace string }
	json.Unmarshal(out.Payload, &pyOut)
	seen, ok := traceid.Parse(pyOut.Trace)
	if !ok || seen.Root != root || seen.Sampled != traceid.Sampled || seen.Parent == "" || seen.Parent == "53995c3f42cd8ad8" {
		t.Fatalf("the Python function saw _X_AMZN_TRACE_ID %q, want root %s, Sampled=1 and its own segment as parent", pyOut.Trace, root)
	}
	if h, _ := traceid.Parse(answerHeader); h.Root != root || h.Sampled != traceid.Sampled {
		t.Errorf("the Invoke answer's X-Amzn-Trace-Id is %q, want root %s", answerHeader, root)
	}

	// Aloft's Node.js bootstrap, likewise.
	node := alofttest.ZipFiles(t, map[string]string{"index.mjs": "export const handler = async () => ({ trace: process.env._X_AMZN_TRACE_ID || '' });\n"})
	create(t, c, "tracenode", runtimeCase{runtime: "nodejs20.x", handler: "index.handler"}, node)
	nodeRoot := traceid.NewRoot(time.Now())
	out, err = c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("tracenode"), Payload: []byte(`{}`)},
		withHeader("X-Amzn-Trace-Id", "Root="+nodeRoot+";Sampled=0", &answerHeader))
	if err != nil || out.FunctionError != nil {
		t.Fatalf("invoke: %v %s", err, out.Payload)
	}
	json.Unmarshal(out.Payload, &pyOut)
	if h, _ := traceid.Parse(pyOut.Trace); h.Root != nodeRoot || h.Sampled != traceid.NotSampled || h.Parent == "" {
		t.Errorf("the Node.js function saw _X_AMZN_TRACE_ID %q, want root %s, Sampled=0 and a parent", pyOut.Trace, nodeRoot)
	}

	// aws-lambda-go: the environment and the context.
	goRoot := traceid.NewRoot(time.Now())
	out, err = c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("tracego"), Payload: []byte(`{"op":"trace"}`)},
		withHeader("X-Amzn-Trace-Id", "Root="+goRoot+";Sampled=1", &answerHeader))
	if err != nil || out.FunctionError != nil {
		t.Fatalf("invoke: %v %s", err, out.Payload)
	}
	var goOut struct{ Env, Ctx string }
	json.Unmarshal(out.Payload, &goOut)
	if h, _ := traceid.Parse(goOut.Env); h.Root != goRoot || goOut.Ctx != goOut.Env {
		t.Errorf("the Go function saw env %q and context %q, want root %s in both", goOut.Env, goOut.Ctx, goRoot)
	}

	// The gateway, through a function URL, with a W3C traceparent.
	urlOut, err := c.CreateFunctionUrlConfig(ctx, &lambda.CreateFunctionUrlConfigInput{FunctionName: aws.String("tracepy"), AuthType: types.FunctionUrlAuthTypeNone})
	if err != nil {
		t.Fatal(err)
	}
	m := functionURLPattern.FindStringSubmatch(aws.ToString(urlOut.FunctionUrl))
	if m == nil {
		t.Fatalf("function URL %q", aws.ToString(urlOut.FunctionUrl))
	}
	w3cRoot := traceid.NewRoot(time.Now())
	req, _ := http.NewRequest("GET", srv.GatewayURL+"/_aloft/urls/"+m[1]+"/", nil)
	req.Header.Set("traceparent", "00-"+traceid.W3CTraceID(w3cRoot)+"-1111111111111111-01")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	json.Unmarshal(body, &pyOut)
	if h, _ := traceid.Parse(pyOut.Trace); res.StatusCode != 200 || h.Root != w3cRoot || h.Sampled != traceid.Sampled {
		t.Errorf("through the gateway the function saw %q (status %d, %s), want root %s", pyOut.Trace, res.StatusCode, body, w3cRoot)
	}
	if h, _ := traceid.Parse(res.Header.Get("X-Amzn-Trace-Id")); h.Root != w3cRoot {
		t.Errorf("the gateway answered X-Amzn-Trace-Id %q, want root %s", res.Header.Get("X-Amzn-Trace-Id"), w3cRoot)
	}

	// Not sampled: the id is passed on, nothing is recorded.
	offRoot := traceid.NewRoot(time.Now())
	out, err = c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("tracepy"), Payload: []byte(`{}`)},
		withHeader("X-Amzn-Trace-Id", "Root="+offRoot+";Sampled=0", &answerHeader))
	if err != nil {
		t.Fatal(err)
	}
	json.Unmarshal(out.Payload, &pyOut)
	if h, _ := traceid.Parse(pyOut.Trace); h.Root != offRoot || h.Sampled != traceid.NotSampled {
		t.Errorf("an unsampled invocation's function saw %q", pyOut.Trace)
	}

	// Tracing modes: PassThrough, the default, samples no request that
	// came undecided; Active samples by X-Ray's rule, whose reservoir
	// takes the first request of each second.
	created := create(t, c, "tracemode", runtimeCase{runtime: "python3.11", handler: "app.handler"}, py)
	if created.TracingConfig == nil || created.TracingConfig.Mode != types.TracingModePassThrough {
		t.Errorf("a new function's TracingConfig is %+v, want PassThrough", created.TracingConfig)
	}
	for range 20 {
		out, err = c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("tracemode"), Payload: []byte(`{}`)}, withHeader("", "", &answerHeader))
		if err != nil {
			t.Fatal(err)
		}
		json.Unmarshal(out.Payload, &pyOut)
		h, _ := traceid.Parse(answerHeader)
		if fh, _ := traceid.Parse(pyOut.Trace); h.Sampled != traceid.NotSampled || fh.Root != h.Root || fh.Sampled != traceid.NotSampled {
			t.Fatalf("a PassThrough function invoked without a trace header answered %q and saw %q, want both unsampled", answerHeader, pyOut.Trace)
		}
	}
	_, err = c.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("tracemode"),
		TracingConfig: &types.TracingConfig{Mode: "Sometimes"}})
	if code := errorCode(err); code != "ValidationException" {
		t.Errorf("TracingConfig mode Sometimes: %v, want ValidationException", err)
	}
	if _, err = c.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("tracemode"),
		TracingConfig: &types.TracingConfig{Mode: types.TracingModeActive}}); err != nil {
		t.Fatal(err)
	}
	// A TracingConfig without a mode changes nothing.
	if _, err = c.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("tracemode"),
		TracingConfig: &types.TracingConfig{}}); err != nil {
		t.Fatal(err)
	}
	modeCfg, err := c.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("tracemode")})
	if err != nil || modeCfg.TracingConfig == nil || modeCfg.TracingConfig.Mode != types.TracingModeActive {
		t.Fatalf("after the update the configuration says %+v (%v), want Active", modeCfg, err)
	}
	sampled := false
	for end := time.Now().Add(3 * time.Second); !sampled && time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		out, err = c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("tracemode"), Payload: []byte(`{}`)}, withHeader("", "", &answerHeader))
		if err != nil {
			t.Fatal(err)
		}
		json.Unmarshal(out.Payload, &pyOut)
		h, _ := traceid.Parse(answerHeader)
		fh, _ := traceid.Parse(pyOut.Trace)
		sampled = h.Sampled == traceid.Sampled && fh.Root == h.Root && fh.Sampled == traceid.Sampled
	}
	if !sampled {
		t.Errorf("an Active function invoked without a trace header for 3 s was never sampled")
	}

	// An asynchronous invocation keeps the trace of the request that
	// queued it.
	asyncRoot := traceid.NewRoot(time.Now())
	out, err = c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("tracepy"), Payload: []byte(`{}`), InvocationType: types.InvocationTypeEvent},
		withHeader("X-Amzn-Trace-Id", "Root="+asyncRoot+";Parent=2222222222222222;Sampled=1", &answerHeader))
	if err != nil || out.StatusCode != 202 {
		t.Fatalf("invoke Event: %v", err)
	}
	if h, _ := traceid.Parse(answerHeader); h.Root != asyncRoot {
		t.Errorf("the Event invocation answered X-Amzn-Trace-Id %q", answerHeader)
	}

	// X-Ray's API finds the sampled traces, with their segments.
	var got map[string]xtypes.Trace
	deadline := time.Now().Add(10 * time.Second)
	for {
		bg, err := xr.BatchGetTraces(ctx, &xray.BatchGetTracesInput{TraceIds: []string{root, w3cRoot, offRoot, asyncRoot}})
		if err != nil {
			t.Fatal(err)
		}
		got = map[string]xtypes.Trace{}
		for _, tr := range bg.Traces {
			got[aws.ToString(tr.Id)] = tr
		}
		if len(got[root].Segments) >= 2 && len(got[w3cRoot].Segments) >= 3 && len(got[asyncRoot].Segments) >= 3 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	names := func(tr xtypes.Trace) map[string]bool {
		out := map[string]bool{}
		var walk func(seg map[string]any)
		walk = func(seg map[string]any) {
			out[seg["name"].(string)+"|"+fmtOrigin(seg)] = true
			subs, _ := seg["subsegments"].([]any)
			for _, s := range subs {
				walk(s.(map[string]any))
			}
		}
		for _, s := range tr.Segments {
			var doc map[string]any
			if err := json.Unmarshal([]byte(aws.ToString(s.Document)), &doc); err != nil {
				t.Fatalf("segment document %q: %v", aws.ToString(s.Document), err)
			}
			walk(doc)
		}
		return out
	}
	n := names(got[root])
	for _, want := range []string{"tracepy|AWS::Lambda", "tracepy|AWS::Lambda::Function", "Initialization|", "Invocation|", "Sandbox|"} {
		if !n[want] {
			t.Errorf("trace %s lacks %s: %v", root, want, n)
		}
	}
	if n := names(got[w3cRoot]); !n["function-url/"+m[1]+"|"] || !n["tracepy|AWS::Lambda::Function"] {
		t.Errorf("the gateway's trace lacks its hop or the function: %v", n)
	}
	if n := names(got[asyncRoot]); !n["event-queue|"] || !n["Dwell Time|"] || !n["tracepy|AWS::Lambda::Function"] {
		t.Errorf("the asynchronous invocation's trace lacks its queue's hop or the function: %v", n)
	}
	for _, s := range got[asyncRoot].Segments {
		var doc struct {
			Name     string `json:"name"`
			ParentID string `json:"parent_id"`
		}
		json.Unmarshal([]byte(aws.ToString(s.Document)), &doc)
		if doc.Name == "event-queue" && doc.ParentID != "2222222222222222" {
			t.Errorf("the event queue's hop descends from %q, not the caller's segment", doc.ParentID)
		}
	}
	if _, ok := got[offRoot]; ok {
		t.Errorf("the unsampled trace %s was recorded", offRoot)
	}

	// Summaries, filtered.
	sums, err := xr.GetTraceSummaries(ctx, &xray.GetTraceSummariesInput{StartTime: aws.Time(time.Now().Add(-5 * time.Minute)), EndTime: aws.Time(time.Now().Add(time.Minute)),
		FilterExpression: aws.String(`service("tracego")`)})
	if err != nil {
		t.Fatal(err)
	}
	if len(sums.TraceSummaries) != 1 || aws.ToString(sums.TraceSummaries[0].Id) != goRoot {
		t.Errorf("summaries of service(\"tracego\"): %+v", sums.TraceSummaries)
	}
	_, err = xr.GetTraceSummaries(ctx, &xray.GetTraceSummariesInput{StartTime: aws.Time(time.Now().Add(-5 * time.Minute)), EndTime: aws.Time(time.Now()),
		FilterExpression: aws.String(`annotation.user = "x"`)})
	apiErr(t, err, "InvalidRequestException", 400)

	// A function's own subsegment, through PutTraceSegments, joins the
	// function segment it names as parent.
	seg := `{"type":"subsegment","name":"my-call","id":"abcdefabcdef0001","trace_id":"` + root + `","parent_id":"` + seen.Parent +
		`","start_time":` + strconvSeconds(time.Now().Add(-time.Second)) + `,"end_time":` + strconvSeconds(time.Now()) + `}`
	put, err := xr.PutTraceSegments(ctx, &xray.PutTraceSegmentsInput{TraceSegmentDocuments: []string{seg, `{"name":"broken"}`}})
	if err != nil || len(put.UnprocessedTraceSegments) != 1 {
		t.Fatalf("PutTraceSegments: %v %+v", err, put)
	}
	deadline = time.Now().Add(10 * time.Second)
	for {
		bg, err := xr.BatchGetTraces(ctx, &xray.BatchGetTracesInput{TraceIds: []string{root}})
		if err != nil {
			t.Fatal(err)
		}
		if len(bg.Traces) == 1 && names(bg.Traces[0])["my-call|"] && len(bg.Traces[0].Segments) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the function's subsegment did not join its trace: %+v", bg.Traces)
		}
		time.Sleep(200 * time.Millisecond)
	}

	// A queue's consumer continues the trace its producer sent with the
	// message (AWSTraceHeader).
	qURL, qARN := queueWithARN(t, srv.SQS(), "traced", nil)
	create(t, c, "tracesqs", runtimeCase{runtime: "python3.11", handler: "app.handler"}, py, func(in *lambda.CreateFunctionInput) {
		in.Role = aws.String(sqsReaderRole(t, srv, "trace-reader"))
	})
	if _, err := c.CreateEventSourceMapping(ctx, &lambda.CreateEventSourceMappingInput{FunctionName: aws.String("tracesqs"), EventSourceArn: aws.String(qARN)}); err != nil {
		t.Fatal(err)
	}
	sqsRoot := traceid.NewRoot(time.Now())
	_, err = srv.SQS().SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(qURL), MessageBody: aws.String(`{}`),
		MessageSystemAttributes: map[string]sqstypes.MessageSystemAttributeValue{"AWSTraceHeader": {DataType: aws.String("String"),
			StringValue: aws.String("Root=" + sqsRoot + ";Parent=3333333333333333;Sampled=1")}}})
	if err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(20 * time.Second)
	for {
		bg, err := xr.BatchGetTraces(ctx, &xray.BatchGetTracesInput{TraceIds: []string{sqsRoot}})
		if err != nil {
			t.Fatal(err)
		}
		if len(bg.Traces) == 1 {
			if n := names(bg.Traces[0]); n["event-source-mapping|"] && n["tracesqs|AWS::Lambda::Function"] {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the queue consumer's trace %s: %+v", sqsRoot, bg.Traces)
		}
		time.Sleep(200 * time.Millisecond)
	}

	// The collector received the sampled traces as spans, and nothing of
	// the unsampled one.
	deadline = time.Now().Add(10 * time.Second)
	for !(strings.Contains(strings.Join(col.of(traceid.W3CTraceID(root)), ","), "Invocation") && len(col.of(traceid.W3CTraceID(w3cRoot))) >= 3) {
		if time.Now().After(deadline) {
			t.Fatalf("spans of %s: %v; of %s: %v; refused: %v", root, col.of(traceid.W3CTraceID(root)), w3cRoot, col.of(traceid.W3CTraceID(w3cRoot)), col.bad)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if s := col.of(traceid.W3CTraceID(offRoot)); len(s) != 0 {
		t.Errorf("the unsampled trace was exported: %v", s)
	}
}

func fmtOrigin(seg map[string]any) string {
	o, _ := seg["origin"].(string)
	return o
}

func strconvSeconds(t time.Time) string {
	b, _ := json.Marshal(float64(t.UnixMicro()) / 1e6)
	return string(b)
}
