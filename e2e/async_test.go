package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/aloft-dev/aloft/internal/alofttest"
)

// destRecord is Lambda's destination record, as far as the tests read it.
type destRecord struct {
	Version        string `json:"version"`
	RequestContext struct {
		RequestID              string `json:"requestId"`
		FunctionArn            string `json:"functionArn"`
		Condition              string `json:"condition"`
		ApproximateInvokeCount int    `json:"approximateInvokeCount"`
	} `json:"requestContext"`
	RequestPayload  map[string]any `json:"requestPayload"`
	ResponseContext struct {
		StatusCode      int    `json:"statusCode"`
		ExecutedVersion string `json:"executedVersion"`
		FunctionError   string `json:"functionError"`
	} `json:"responseContext"`
	ResponsePayload map[string]any `json:"responsePayload"`
}

// records waits for n destination records in the sink's log.
func records(t *testing.T, srv *alofttest.Server, sink string, n int) []destRecord {
	t.Helper()
	deadline := time.Now().Add(120 * time.Second)
	for {
		out, err := srv.Logs().FilterLogEvents(ctxT(t), &cloudwatchlogs.FilterLogEventsInput{
			LogGroupName: aws.String("/aws/lambda/" + sink), FilterPattern: aws.String("RECORD")})
		var recs []destRecord
		if err == nil {
			for _, e := range out.Events {
				var r destRecord
				if json.Unmarshal([]byte(strings.TrimPrefix(aws.ToString(e.Message), "RECORD ")), &r) == nil && r.RequestContext.Condition != "" {
					recs = append(recs, r)
				}
			}
		}
		if len(recs) >= n || time.Now().After(deadline) {
			if len(recs) < n {
				t.Fatalf("got %d destination records in %s, want %d (last error %v)", len(recs), sink, n, err)
			}
			return recs
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestAsyncInvocations queues events, retries failures and sends
// destination records, as Lambda does for Event invocations.
func TestAsyncInvocations(t *testing.T) {
	srv := alofttest.Start(t, "--async-retry-base", "300ms")
	c := srv.Lambda()
	py := runtimeCases()[1]
	zip := alofttest.ZipDir(t, "testdata/pyasync")
	for _, h := range []string{"flaky", "fail", "sink"} {
		rc := py
		rc.handler = "app." + h
		create(t, c, "async-"+h, rc, zip)
	}
	arn := func(name string) *string { return aws.String("arn:aws:lambda:us-east-1:000000000000:function:" + name) }

	// The event-invoke-config API.
	put, err := c.PutFunctionEventInvokeConfig(ctxT(t), &lambda.PutFunctionEventInvokeConfigInput{
		FunctionName:         aws.String("async-flaky"),
		MaximumRetryAttempts: aws.Int32(2),
		DestinationConfig:    &types.DestinationConfig{OnSuccess: &types.OnSuccess{Destination: arn("async-sink")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(put.FunctionArn) != aws.ToString(arn("async-flaky"))+":$LATEST" || put.LastModified == nil {
		t.Fatalf("put event config got %+v", put)
	}
	_, err = c.PutFunctionEventInvokeConfig(ctxT(t), &lambda.PutFunctionEventInvokeConfigInput{
		FunctionName: aws.String("async-fail"), MaximumRetryAttempts: aws.Int32(1),
		DestinationConfig: &types.DestinationConfig{OnFailure: &types.OnFailure{Destination: arn("async-sink")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	upd, err := c.UpdateFunctionEventInvokeConfig(ctxT(t), &lambda.UpdateFunctionEventInvokeConfigInput{
		FunctionName: aws.String("async-fail"), MaximumEventAgeInSeconds: aws.Int32(3600)})
	if err != nil || aws.ToInt32(upd.MaximumRetryAttempts) != 1 || aws.ToInt32(upd.MaximumEventAgeInSeconds) != 3600 {
		t.Fatalf("update merged to %+v, %v", upd, err)
	}
	list, err := c.ListFunctionEventInvokeConfigs(ctxT(t), &lambda.ListFunctionEventInvokeConfigsInput{FunctionName: aws.String("async-fail")})
	if err != nil || len(list.FunctionEventInvokeConfigs) != 1 {
		t.Fatalf("list got %+v, %v", list, err)
	}
	_, err = c.PutFunctionEventInvokeConfig(ctxT(t), &lambda.PutFunctionEventInvokeConfigInput{FunctionName: aws.String("async-sink"), MaximumRetryAttempts: aws.Int32(3)})
	apiErr(t, err, "ValidationException", 400)
	_, err = c.PutFunctionEventInvokeConfig(ctxT(t), &lambda.PutFunctionEventInvokeConfigInput{FunctionName: aws.String("async-sink"),
		DestinationConfig: &types.DestinationConfig{OnFailure: &types.OnFailure{Destination: aws.String("arn:aws:sqs:us-east-1:000000000000:q")}}})
	apiErr(t, err, "InvalidParameterValueException", 400)
	_, err = c.GetFunctionEventInvokeConfig(ctxT(t), &lambda.GetFunctionEventInvokeConfigInput{FunctionName: aws.String("async-sink")})
	var nf *types.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Fatalf("get of a missing config got %v, want ResourceNotFoundException", err)
	}

	// Event invocations: 202 at once, the function sees retries.
	out, err := c.Invoke(ctxT(t), &lambda.InvokeInput{FunctionName: aws.String("async-flaky"),
		InvocationType: types.InvocationTypeEvent, Payload: []byte(`{"id":"e1"}`)})
	if err != nil || out.StatusCode != 202 || len(out.Payload) != 0 {
		t.Fatalf("event invoke got %+v, %v", out, err)
	}
	_, err = c.Invoke(ctxT(t), &lambda.InvokeInput{FunctionName: aws.String("async-fail"),
		InvocationType: types.InvocationTypeEvent, Payload: []byte(`{"id":"e2"}`)})
	if err != nil {
		t.Fatal(err)
	}
	// The deprecated InvokeAsync operation queues too.
	ia, err := c.InvokeAsync(ctxT(t), &lambda.InvokeAsyncInput{FunctionName: aws.String("async-sink"), InvokeArgs: strings.NewReader(`{"id":"e3"}`)})
	if err != nil || ia.Status != 202 {
		t.Fatalf("invoke async got %+v, %v", ia, err)
	}

	recs := records(t, srv, "async-sink", 2)
	byCond := map[string]destRecord{}
	for _, r := range recs {
		byCond[r.RequestContext.Condition] = r
	}
	ok, failed := byCond["Success"], byCond["RetriesExhausted"]
	if ok.Version != "1.0" || ok.RequestContext.ApproximateInvokeCount != 3 || ok.RequestPayload["id"] != "e1" ||
		ok.ResponsePayload["attempts"] != 3.0 || ok.ResponseContext.StatusCode != 200 || ok.ResponseContext.ExecutedVersion != "$LATEST" ||
		ok.RequestContext.FunctionArn != aws.ToString(arn("async-flaky"))+":$LATEST" {
		t.Errorf("success record got %+v", ok)
	}
	if failed.RequestContext.ApproximateInvokeCount != 2 || failed.ResponseContext.FunctionError != "Unhandled" ||
		failed.ResponsePayload["errorType"] != "ValueError" || failed.RequestPayload["id"] != "e2" {
		t.Errorf("failure record got %+v", failed)
	}

	// A function reserved at 0 sends its events straight to its failure
	// destination, and a failed event also goes to the dead-letter target.
	rc := py
	rc.handler = "app.fail"
	create(t, c, "async-off", rc, zip, func(in *lambda.CreateFunctionInput) {
		in.DeadLetterConfig = &types.DeadLetterConfig{TargetArn: arn("async-sink")}
	})
	if _, err := c.PutFunctionConcurrency(ctxT(t), &lambda.PutFunctionConcurrencyInput{FunctionName: aws.String("async-off"), ReservedConcurrentExecutions: aws.Int32(0)}); err != nil {
		t.Fatal(err)
	}
	_, err = c.PutFunctionEventInvokeConfig(ctxT(t), &lambda.PutFunctionEventInvokeConfigInput{FunctionName: aws.String("async-off"),
		DestinationConfig: &types.DestinationConfig{OnFailure: &types.OnFailure{Destination: arn("async-sink")}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Invoke(ctxT(t), &lambda.InvokeInput{FunctionName: aws.String("async-off"), InvocationType: types.InvocationTypeEvent, Payload: []byte(`{"id":"e4"}`)}); err != nil {
		t.Fatal(err)
	}
	recs = records(t, srv, "async-sink", 3)
	var off destRecord
	for _, r := range recs {
		if r.RequestPayload["id"] == "e4" {
			off = r
		}
	}
	if off.RequestContext.Condition != "RetriesExhausted" || off.RequestContext.ApproximateInvokeCount != 0 {
		t.Errorf("record for a function reserved at 0 got %+v", off)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		ev, err := srv.Logs().FilterLogEvents(ctxT(t), &cloudwatchlogs.FilterLogEventsInput{
			LogGroupName: aws.String("/aws/lambda/async-sink"), FilterPattern: aws.String(`"RECORD {\"id\": \"e4\"}"`)})
		if err == nil && len(ev.Events) == 1 {
			break // the dead-letter target got the event as it was sent
		}
		if time.Now().After(deadline) {
			t.Fatalf("the dead-letter target did not get the event (%v)", err)
		}
		time.Sleep(200 * time.Millisecond)
	}

	// Bad input.
	_, err = c.Invoke(ctxT(t), &lambda.InvokeInput{FunctionName: aws.String("async-sink"), InvocationType: types.InvocationTypeEvent,
		Payload: []byte(`{"a":"` + strings.Repeat("x", 1<<20) + `"}`)})
	apiErr(t, err, "RequestEntityTooLargeException", 413)
	_, err = c.Invoke(ctxT(t), &lambda.InvokeInput{FunctionName: aws.String("async-sink"), InvocationType: types.InvocationTypeEvent, Payload: []byte(`nope`)})
	apiErr(t, err, "InvalidRequestContentException", 400)

	// The CLI queues and reports.
	ctx := ctxT(t)
	if stdout, stderr, code := srv.Run(ctx, nil, "invoke", "async-sink", "--async", "--payload", `{"id":"cli"}`); code != 0 || !strings.HasPrefix(stdout, "queued ") {
		t.Fatalf("aloft invoke --async: exit %d, %q %q", code, stdout, stderr)
	}
	stats, _, code := srv.Run(ctx, nil, "async", "stats")
	if code != 0 || !strings.Contains(stats, "async-flaky") || !strings.Contains(stats, "SUCCEEDED") {
		t.Fatalf("aloft async stats: exit %d\n%s", code, stats)
	}
}

// TestAsyncEventAge lets an always-failing event outlive its maximum age
// between retries.
func TestAsyncEventAge(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped with -short: waits for an event to age past 60 s")
	}
	t.Parallel()
	// Retries come 25 s and then 50 s after a failure: the third attempt
	// would be 75 s after the event was sent, past a maximum age of 60 s.
	srv := alofttest.Start(t, "--async-retry-base", "25s")
	c := srv.Lambda()
	py := runtimeCases()[1]
	zip := alofttest.ZipDir(t, "testdata/pyasync")
	for _, h := range []string{"fail", "sink"} {
		rc := py
		rc.handler = "app." + h
		create(t, c, "age-"+h, rc, zip)
	}
	_, err := c.PutFunctionEventInvokeConfig(ctxT(t), &lambda.PutFunctionEventInvokeConfigInput{
		FunctionName: aws.String("age-fail"), MaximumEventAgeInSeconds: aws.Int32(60),
		DestinationConfig: &types.DestinationConfig{OnFailure: &types.OnFailure{Destination: aws.String("arn:aws:lambda:us-east-1:000000000000:function:age-sink")}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Invoke(ctxT(t), &lambda.InvokeInput{FunctionName: aws.String("age-fail"), InvocationType: types.InvocationTypeEvent, Payload: []byte(`{"id":"old"}`)}); err != nil {
		t.Fatal(err)
	}
	recs := records(t, srv, "age-sink", 1) // waits up to a minute past the first attempts
	if r := recs[0]; r.RequestContext.Condition != "EventAgeExceeded" || r.RequestContext.ApproximateInvokeCount != 2 || r.RequestPayload["id"] != "old" {
		t.Fatalf("record got %+v, want EventAgeExceeded after 2 attempts", r)
	}
}

// TestAsyncSurvivesKill queues thousands of events, kills the server with
// SIGKILL while they are being delivered, starts it again, and checks
// that every event was delivered at least once.
func TestAsyncSurvivesKill(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped with -short: queues 5,000 events")
	}
	const total = 5000
	// Delivery evidence is written to a host directory, which sandboxed
	// functions cannot see: this test is about the queue, not isolation.
	srv := alofttest.Start(t, "--async-workers", "32", "--sandbox", "process")
	recordDir := t.TempDir()
	goRC := runtimeCases()[0]
	create(t, srv.Lambda(), "crashy", goRC, goRC.code(t, "v1"), func(in *lambda.CreateFunctionInput) {
		in.Environment = &types.Environment{Variables: map[string]string{"RECORD_DIR": recordDir}}
	})
	c := srv.Lambda()
	var wg sync.WaitGroup
	work := make(chan int, total)
	for i := range total {
		work <- i
	}
	close(work)
	errs := make(chan error, 16)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				_, err := c.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("crashy"),
					InvocationType: types.InvocationTypeEvent, Payload: []byte(fmt.Sprintf(`{"op":"record","text":"%d","ms":40}`, i))})
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	// Kill the server once some, but not all, events have run.
	deadline := time.Now().Add(60 * time.Second)
	for seen, _ := delivered(t, recordDir); seen < total/10; seen, _ = delivered(t, recordDir) {
		if time.Now().After(deadline) {
			t.Fatalf("only %d events delivered before the kill", seen)
		}
		time.Sleep(20 * time.Millisecond)
	}
	wg.Wait() // every accepted (202) event must survive
	select {
	case err := <-errs:
		t.Fatalf("enqueue: %v", err)
	default:
	}
	before, _ := delivered(t, recordDir)
	srv.Kill()
	if before >= total {
		t.Fatalf("all %d events were delivered before the kill; the test proves nothing", total)
	}
	srv.Restart()
	deadline = time.Now().Add(3 * time.Minute)
	for {
		seen, dups := delivered(t, recordDir)
		if seen == total {
			t.Logf("%d events: %d delivered before the kill, all delivered after a restart, %d delivered more than once", total, before, dups)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the restart only %d of %d events were delivered", seen, total)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// delivered reads the record files: distinct events seen, and how many
// deliveries were repeats.
func delivered(t *testing.T, dir string) (distinct, dups int) {
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	seen := map[string]int{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			if line != "" {
				seen[line]++
			}
		}
	}
	for _, n := range seen {
		dups += n - 1
	}
	return len(seen), dups
}
