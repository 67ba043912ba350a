package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	"github.com/aloft-dev/aloft/internal/alofttest"
)

// sqsReaderRole makes a role functions may use that can read and delete
// the messages of every queue, as event source mappings need.
func sqsReaderRole(t *testing.T, srv *alofttest.Server, name string) string {
	return sqsReaderRoleTB(t, srv, name)
}

func sqsReaderRoleTB(t testing.TB, srv *alofttest.Server, name string) string {
	t.Helper()
	ctx := context.Background()
	c := iam.NewFromConfig(srv.Config(), func(o *iam.Options) { o.BaseEndpoint = aws.String(srv.URL) })
	out, err := c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(name), AssumeRolePolicyDocument: aws.String(
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(name), PolicyName: aws.String("queues"), PolicyDocument: aws.String(
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["sqs:ReceiveMessage","sqs:DeleteMessage","sqs:GetQueueAttributes","logs:*"],"Resource":"*"}]}`)}); err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.Role.Arn)
}

// giveStreamReader gives function fn a role (fn+"-reader") that may read
// table streams, as a stream mapping's function needs, and the extra
// actions named.
func giveStreamReader(tb testing.TB, srv *alofttest.Server, fn string, extra ...string) {
	tb.Helper()
	ctx := context.Background()
	name := fn + "-reader"
	role := sqsReaderRoleTB(tb, srv, name)
	actions, _ := json.Marshal(append([]string{"dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:DescribeStream", "dynamodb:ListStreams"}, extra...))
	iamc := iam.NewFromConfig(srv.Config(), func(o *iam.Options) { o.BaseEndpoint = aws.String(srv.URL) })
	if _, err := iamc.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(name), PolicyName: aws.String("streams"), PolicyDocument: aws.String(
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":` + string(actions) + `,"Resource":"*"}]}`)}); err != nil {
		tb.Fatal(err)
	}
	if _, err := srv.Lambda().UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String(fn), Role: &role}); err != nil {
		tb.Fatal(err)
	}
}

// TestSQSEventSourceMapping runs a queue into a function through a
// mapping with a filter and partial batch responses: what matches no
// filter is deleted, what the function reports failed comes back and,
// after maxReceiveCount, lands in the dead-letter queue; the rest is
// handled once.
func TestSQSEventSourceMapping(t *testing.T) {
	srv := alofttest.Start(t, "--sandbox", "process") // the function writes to a host directory
	ctx := ctxT(t)
	lc, qc := srv.Lambda(), srv.SQS()
	dir := t.TempDir()
	fnArn := createEventRecorder(t, lc, "worker", dir)

	_, dlqARN := queueWithARN(t, qc, "work-dlq", nil)
	workURL, workARN := queueWithARN(t, qc, "work", map[string]string{"VisibilityTimeout": "1",
		"RedrivePolicy": `{"deadLetterTargetArn":"` + dlqARN + `","maxReceiveCount":"2"}`})
	dlqURL := strings.TrimSuffix(workURL, "work") + "work-dlq"

	// The default role may not read queues: Lambda refuses the mapping.
	_, err := lc.CreateEventSourceMapping(ctx, &lambda.CreateEventSourceMappingInput{FunctionName: aws.String("worker"), EventSourceArn: &workARN})
	var inv *ltypes.InvalidParameterValueException
	if !errors.As(err, &inv) || !strings.Contains(err.Error(), "ReceiveMessage") {
		t.Fatalf("a mapping whose role cannot read the queue: %v", err)
	}
	role := sqsReaderRole(t, srv, "queue-worker")
	if _, err := lc.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("worker"), Role: &role}); err != nil {
		t.Fatal(err)
	}
	_, err = lc.CreateEventSourceMapping(ctx, &lambda.CreateEventSourceMappingInput{FunctionName: aws.String("worker"), EventSourceArn: &workARN,
		BatchSize: aws.Int32(20)})
	if !errors.As(err, &inv) {
		t.Fatalf("BatchSize 20 without a window: %v", err)
	}
	_, err = lc.CreateEventSourceMapping(ctx, &lambda.CreateEventSourceMappingInput{FunctionName: aws.String("worker"), EventSourceArn: &workARN,
		StartingPosition: ltypes.EventSourcePositionLatest})
	if !errors.As(err, &inv) {
		t.Fatalf("StartingPosition for a queue: %v", err)
	}

	m, err := lc.CreateEventSourceMapping(ctx, &lambda.CreateEventSourceMappingInput{FunctionName: aws.String("worker"), EventSourceArn: &workARN,
		BatchSize: aws.Int32(10), FunctionResponseTypes: []ltypes.FunctionResponseType{ltypes.FunctionResponseTypeReportBatchItemFailures},
		FilterCriteria: &ltypes.FilterCriteria{Filters: []ltypes.Filter{{Pattern: aws.String(`{"body":{"kind":["job"]}}`)}}}})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(m.State) != "Creating" || aws.ToString(m.FunctionArn) != fnArn || aws.ToString(m.EventSourceArn) != workARN {
		t.Fatalf("created mapping %+v", m)
	}
	_, err = lc.CreateEventSourceMapping(ctx, &lambda.CreateEventSourceMappingInput{FunctionName: aws.String("worker"), EventSourceArn: &workARN})
	var conflict *ltypes.ResourceConflictException
	if !errors.As(err, &conflict) {
		t.Fatalf("a second mapping of the same queue and function: %v", err)
	}

	var entries []types.SendMessageBatchRequestEntry
	for i, body := range []string{`{"kind":"job","n":1}`, `{"kind":"job","n":2}`, `{"kind":"job","n":3,"fail":true}`, `{"kind":"noise"}`, `not json at all`} {
		entries = append(entries, types.SendMessageBatchRequestEntry{Id: aws.String(string(rune('a' + i))), MessageBody: aws.String(body)})
	}
	if out, err := qc.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: &workURL, Entries: entries}); err != nil || len(out.Failed) > 0 {
		t.Fatalf("send: %+v %v", out, err)
	}

	// The failing job ends in the dead-letter queue.
	dead := drainUntil(t, qc, dlqURL, 1, 40*time.Second)
	if len(dead) != 1 || !strings.Contains(aws.ToString(dead[0].Body), `"fail":true`) {
		t.Fatalf("dead-letter queue: %+v", dead)
	}
	// And nothing is left on the work queue.
	waitUntil(t, "the work queue to empty", func() bool {
		a, err := qc.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &workURL, AttributeNames: []types.QueueAttributeName{"All"}})
		return err == nil && a.Attributes["ApproximateNumberOfMessages"] == "0" && a.Attributes["ApproximateNumberOfMessagesNotVisible"] == "0"
	})
	handled := map[string]int{}
	for _, raw := range recorded(t, dir, 2) {
		var ev events.SQSEvent
		if err := json.Unmarshal(raw, &ev); err != nil {
			t.Fatal(err)
		}
		for _, r := range ev.Records {
			if r.EventSource != "aws:sqs" || r.EventSourceARN != workARN || r.AWSRegion != "us-east-1" || r.Attributes["ApproximateReceiveCount"] == "" || r.Md5OfBody == "" {
				t.Fatalf("a record: %+v", r)
			}
			handled[r.Body]++
		}
	}
	if handled[`{"kind":"job","n":1}`] != 1 || handled[`{"kind":"job","n":2}`] != 1 || handled[`{"kind":"job","n":3,"fail":true}`] != 2 ||
		handled[`{"kind":"noise"}`] != 0 || handled["not json at all"] != 0 {
		t.Fatalf("the function saw %v", handled)
	}

	got, err := lc.GetEventSourceMapping(ctx, &lambda.GetEventSourceMappingInput{UUID: m.UUID})
	if err != nil || aws.ToString(got.State) != "Enabled" || len(got.FunctionResponseTypes) != 1 {
		t.Fatalf("get: %+v %v", got, err)
	}
	list, err := lc.ListEventSourceMappings(ctx, &lambda.ListEventSourceMappingsInput{FunctionName: aws.String("worker")})
	if err != nil || len(list.EventSourceMappings) != 1 {
		t.Fatalf("list: %+v %v", list, err)
	}
	up, err := lc.UpdateEventSourceMapping(ctx, &lambda.UpdateEventSourceMappingInput{UUID: m.UUID, Enabled: aws.Bool(false)})
	if err != nil || aws.ToString(up.State) != "Disabling" {
		t.Fatalf("disable: %+v %v", up, err)
	}
	// Disabled, the mapping leaves new messages alone.
	if _, err := qc.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &workURL, MessageBody: aws.String(`{"kind":"job","n":4}`)}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	if a, _ := qc.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &workURL, AttributeNames: []types.QueueAttributeName{"ApproximateNumberOfMessages"}}); a.Attributes["ApproximateNumberOfMessages"] != "1" {
		t.Fatalf("a disabled mapping took a message: %v", a.Attributes)
	}
	del, err := lc.DeleteEventSourceMapping(ctx, &lambda.DeleteEventSourceMappingInput{UUID: m.UUID})
	if err != nil || aws.ToString(del.State) != "Deleting" {
		t.Fatalf("delete: %+v %v", del, err)
	}
	var nf *ltypes.ResourceNotFoundException
	if _, err := lc.GetEventSourceMapping(ctx, &lambda.GetEventSourceMappingInput{UUID: m.UUID}); !errors.As(err, &nf) {
		t.Fatalf("get after delete: %v", err)
	}
}

// drainUntil receives from queue u until it has n messages or the time
// is up.
func drainUntil(t *testing.T, c *sqs.Client, u string, n int, limit time.Duration) []types.Message {
	t.Helper()
	var out []types.Message
	for deadline := time.Now().Add(limit); len(out) < n && time.Now().Before(deadline); {
		r, err := c.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: &u, MaxNumberOfMessages: 10, WaitTimeSeconds: 2})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, r.Messages...)
	}
	return out
}

// TestFanOutPipeline is the classic fan-out end to end: uploads to a
// bucket notify a topic; the topic fans out to two queues, one keeping
// only big files by a filter policy on the body; a mapping runs the
// other queue into a function that reports a failure for one file,
// which ends in the queue's dead-letter queue.
func TestFanOutPipeline(t *testing.T) {
	srv := alofttest.Start(t, "--sandbox", "process") // the function writes to a host directory
	ctx := ctxT(t)
	lc, qc, sc, s3c := srv.Lambda(), srv.SQS(), srv.SNS(), srv.S3()
	dir := t.TempDir()
	createEventRecorder(t, lc, "thumbnailer", dir)
	role := sqsReaderRole(t, srv, "thumbnailer-role")
	if _, err := lc.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("thumbnailer"), Role: &role}); err != nil {
		t.Fatal(err)
	}

	topic, err := sc.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("uploads")})
	if err != nil {
		t.Fatal(err)
	}
	_, dlqARN := queueWithARN(t, qc, "thumbs-dlq", nil)
	thumbsURL, thumbsARN := queueWithARN(t, qc, "thumbs", map[string]string{"VisibilityTimeout": "1",
		"RedrivePolicy": `{"deadLetterTargetArn":"` + dlqARN + `","maxReceiveCount":2}`})
	dlqURL := strings.TrimSuffix(thumbsURL, "thumbs") + "thumbs-dlq"
	bigURL, bigARN := queueWithARN(t, qc, "big-files", nil)
	for arn, attrs := range map[string]map[string]string{
		thumbsARN: nil,
		bigARN:    {"FilterPolicyScope": "MessageBody", "FilterPolicy": `{"Records":{"s3":{"object":{"size":[{"numeric":[">",1000]}]}}}}`},
	} {
		if _, err := sc.Subscribe(ctx, &sns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("sqs"), Endpoint: aws.String(arn), Attributes: attrs}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := lc.CreateEventSourceMapping(ctx, &lambda.CreateEventSourceMappingInput{FunctionName: aws.String("thumbnailer"), EventSourceArn: &thumbsARN,
		FunctionResponseTypes: []ltypes.FunctionResponseType{ltypes.FunctionResponseTypeReportBatchItemFailures}}); err != nil {
		t.Fatal(err)
	}

	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("photos")}); err != nil {
		t.Fatal(err)
	}
	if _, err := s3c.PutBucketNotificationConfiguration(ctx, &s3.PutBucketNotificationConfigurationInput{Bucket: aws.String("photos"),
		NotificationConfiguration: &s3types.NotificationConfiguration{TopicConfigurations: []s3types.TopicConfiguration{{
			Id: aws.String("to-topic"), TopicArn: topic.TopicArn, Events: []s3types.Event{"s3:ObjectCreated:*"}}}}}); err != nil {
		t.Fatal(err)
	}
	cfg, err := s3c.GetBucketNotificationConfiguration(ctx, &s3.GetBucketNotificationConfigurationInput{Bucket: aws.String("photos")})
	if err != nil || len(cfg.TopicConfigurations) != 1 || aws.ToString(cfg.TopicConfigurations[0].TopicArn) != aws.ToString(topic.TopicArn) {
		t.Fatalf("notification configuration: %+v %v", cfg, err)
	}
	for key, size := range map[string]int{"in/a.jpg": 10, "in/big.bin": 2000, "in/fail.jpg": 10} {
		if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("photos"), Key: aws.String(key), Body: strings.NewReader(strings.Repeat("x", size))}); err != nil {
			t.Fatal(err)
		}
	}

	dead := drainUntil(t, qc, dlqURL, 1, 40*time.Second)
	if len(dead) != 1 || !strings.Contains(aws.ToString(dead[0].Body), "fail.jpg") {
		t.Fatalf("dead-letter queue: %+v", dead)
	}
	big := drainUntil(t, qc, bigURL, 1, 10*time.Second)
	if len(big) != 1 || !strings.Contains(aws.ToString(big[0].Body), "big.bin") {
		t.Fatalf("big-files: %+v", big)
	}
	if more := drainUntil(t, qc, bigURL, 1, 3*time.Second); len(more) != 0 {
		t.Fatalf("big-files got more than the big file: %+v", more)
	}
	waitUntil(t, "the thumbs queue to empty", func() bool {
		a, err := qc.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &thumbsURL, AttributeNames: []types.QueueAttributeName{"All"}})
		return err == nil && a.Attributes["ApproximateNumberOfMessages"] == "0" && a.Attributes["ApproximateNumberOfMessagesNotVisible"] == "0"
	})
	// The function saw S3 events inside SNS envelopes inside SQS records:
	// a.jpg and big.bin once, fail.jpg twice, and S3's test event.
	seen := map[string]int{}
	for _, raw := range recorded(t, dir, 3) {
		var ev events.SQSEvent
		if err := json.Unmarshal(raw, &ev); err != nil {
			t.Fatal(err)
		}
		for _, r := range ev.Records {
			var env events.SNSEntity
			if err := json.Unmarshal([]byte(r.Body), &env); err != nil {
				t.Fatalf("not an SNS envelope: %s", r.Body)
			}
			var s3ev events.S3Event
			if err := json.Unmarshal([]byte(env.Message), &s3ev); err != nil {
				t.Fatalf("not an S3 event: %s", env.Message)
			}
			if len(s3ev.Records) == 0 {
				seen["test event"]++
				continue
			}
			seen[s3ev.Records[0].S3.Object.Key]++
		}
	}
	if seen["in/a.jpg"] != 1 || seen["in/big.bin"] != 1 || seen["in/fail.jpg"] != 2 || seen["test event"] != 1 {
		t.Fatalf("the function saw %v", seen)
	}
}

// TestAsyncDestinationsToQueueAndTopic sends an asynchronous invocation's
// failure record to a topic (and through it to a queue) and its event to
// a dead-letter queue, with the attributes Lambda gives dead letters.
func TestAsyncDestinationsToQueueAndTopic(t *testing.T) {
	srv := alofttest.Start(t, "--async-retry-base", "300ms")
	ctx := ctxT(t)
	lc, qc, sc := srv.Lambda(), srv.SQS(), srv.SNS()
	dlqURL, dlqARN := queueWithARN(t, qc, "fn-dead-letters", nil)
	recordsURL, recordsARN := queueWithARN(t, qc, "fn-failures", nil)
	topic, err := sc.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("fn-failures")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sc.Subscribe(ctx, &sns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("sqs"), Endpoint: &recordsARN,
		Attributes: map[string]string{"RawMessageDelivery": "true"}}); err != nil {
		t.Fatal(err)
	}
	py := runtimeCases()[1]
	py.handler = "app.fail"
	create(t, lc, "always-fails", py, alofttest.ZipDir(t, "testdata/pyasync"))

	// The default role may not send to the queue: Lambda refuses.
	_, err = lc.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("always-fails"),
		DeadLetterConfig: &ltypes.DeadLetterConfig{TargetArn: &dlqARN}})
	if msg := apiErr(t, err, "InvalidParameterValueException", 400); !strings.Contains(msg, "SendMessage") {
		t.Fatalf("a dead-letter queue the role cannot send to: %s", msg)
	}
	iamc := iam.NewFromConfig(srv.Config(), func(o *iam.Options) { o.BaseEndpoint = aws.String(srv.URL) })
	role := sqsReaderRole(t, srv, "sender")
	if _, err := iamc.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("sender"), PolicyName: aws.String("send"), PolicyDocument: aws.String(
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["sqs:SendMessage","sns:Publish"],"Resource":"*"}]}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := lc.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("always-fails"), Role: &role,
		DeadLetterConfig: &ltypes.DeadLetterConfig{TargetArn: &dlqARN}}); err != nil {
		t.Fatal(err)
	}
	if _, err := lc.PutFunctionEventInvokeConfig(ctx, &lambda.PutFunctionEventInvokeConfigInput{FunctionName: aws.String("always-fails"),
		MaximumRetryAttempts: aws.Int32(0), DestinationConfig: &ltypes.DestinationConfig{OnFailure: &ltypes.OnFailure{Destination: topic.TopicArn}}}); err != nil {
		t.Fatal(err)
	}
	out, err := lc.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("always-fails"), InvocationType: ltypes.InvocationTypeEvent, Payload: []byte(`{"id":"d1"}`)})
	if err != nil {
		t.Fatal(err)
	}
	dead := drain(t, qc, dlqURL, 1) // with every message attribute
	if len(dead) != 1 || aws.ToString(dead[0].Body) != `{"id":"d1"}` {
		t.Fatalf("dead-letter queue: %+v", dead)
	}
	a := dead[0].MessageAttributes
	if out.StatusCode != 202 || aws.ToString(a["RequestID"].StringValue) == "" || aws.ToString(a["ErrorCode"].DataType) != "Number" || aws.ToString(a["ErrorMessage"].StringValue) == "" {
		t.Fatalf("dead letter attributes: %+v", a)
	}
	recs := drainUntil(t, qc, recordsURL, 1, 30*time.Second)
	if len(recs) != 1 {
		t.Fatalf("failure records: %+v", recs)
	}
	var rec destRecord
	if err := json.Unmarshal([]byte(aws.ToString(recs[0].Body)), &rec); err != nil {
		t.Fatalf("not a destination record: %s", aws.ToString(recs[0].Body))
	}
	if rec.RequestContext.Condition != "RetriesExhausted" || rec.RequestPayload["id"] != "d1" || rec.ResponseContext.FunctionError != "Unhandled" {
		t.Fatalf("failure record: %+v", rec)
	}
}

// TestStreamEventSourceMapping runs a table's stream into a function: the
// function sees each change once, in order per item, as aws-lambda-go's
// events.DynamoDBEvent; a record it keeps failing is retried, then
// reported to the OnFailure queue, and the stream goes on.
func TestStreamEventSourceMapping(t *testing.T) {
	srv := alofttest.Start(t, "--sandbox", "process") // the function writes to a host directory
	ctx := ctxT(t)
	lc, dc, qc := srv.Lambda(), srv.DynamoDB(), srv.SQS()
	dir := t.TempDir()
	createEventRecorder(t, lc, "on-change", dir)
	out, err := dc.CreateTable(ctx, &dynamodb.CreateTableInput{TableName: aws.String("profiles"), BillingMode: dtypes.BillingModePayPerRequest,
		KeySchema:            []dtypes.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: dtypes.KeyTypeHash}},
		AttributeDefinitions: []dtypes.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: dtypes.ScalarAttributeTypeS}},
		StreamSpecification:  &dtypes.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: dtypes.StreamViewTypeNewAndOldImages}})
	if err != nil {
		t.Fatal(err)
	}
	streamArn := aws.ToString(out.TableDescription.LatestStreamArn)
	failURL, failARN := queueWithARN(t, qc, "stream-failures", nil)

	// The default role may not read streams.
	_, err = lc.CreateEventSourceMapping(ctx, &lambda.CreateEventSourceMappingInput{FunctionName: aws.String("on-change"), EventSourceArn: &streamArn,
		StartingPosition: ltypes.EventSourcePositionTrimHorizon})
	var inv *ltypes.InvalidParameterValueException
	if !errors.As(err, &inv) {
		t.Fatalf("a mapping whose role cannot read the stream: %v", err)
	}
	giveStreamReader(t, srv, "on-change", "sqs:SendMessage")
	_, err = lc.CreateEventSourceMapping(ctx, &lambda.CreateEventSourceMappingInput{FunctionName: aws.String("on-change"), EventSourceArn: &streamArn})
	if !errors.As(err, &inv) {
		t.Fatalf("a stream mapping without StartingPosition: %v", err)
	}
	m, err := lc.CreateEventSourceMapping(ctx, &lambda.CreateEventSourceMappingInput{FunctionName: aws.String("on-change"), EventSourceArn: &streamArn,
		StartingPosition: ltypes.EventSourcePositionTrimHorizon, BatchSize: aws.Int32(10), MaximumRetryAttempts: aws.Int32(1),
		FunctionResponseTypes: []ltypes.FunctionResponseType{ltypes.FunctionResponseTypeReportBatchItemFailures},
		DestinationConfig:     &ltypes.DestinationConfig{OnFailure: &ltypes.OnFailure{Destination: &failARN}}})
	if err != nil {
		t.Fatal(err)
	}
	if m.StartingPosition != ltypes.EventSourcePositionTrimHorizon || aws.ToInt32(m.BatchSize) != 10 {
		t.Fatalf("mapping %+v", m)
	}
	s := func(v string) dtypes.AttributeValue { return &dtypes.AttributeValueMemberS{Value: v} }
	for i, id := range []string{"a", "b", "a"} {
		if _, err := dc.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("profiles"), Item: map[string]dtypes.AttributeValue{"id": s(id), "v": s(strconv.Itoa(i))}}); err != nil {
			t.Fatal(err)
		}
	}
	dc.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("profiles"), Item: map[string]dtypes.AttributeValue{"id": s("bad"), "fail": s("yes")}})
	dc.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String("profiles"), Key: map[string]dtypes.AttributeValue{"id": s("b")}})

	// The failing record is reported once its retries are spent.
	fails := drainUntil(t, qc, failURL, 1, 40*time.Second)
	if len(fails) != 1 || !strings.Contains(aws.ToString(fails[0].Body), `"DDBStreamBatchInfo"`) || !strings.Contains(aws.ToString(fails[0].Body), "RetryAttemptsExhausted") {
		t.Fatalf("the failure destination got %+v", fails)
	}
	// Every change reached the function; a's two puts in order; the
	// removal of b after b's insert.
	type change struct{ name, id, v string }
	var seen []change
	waitUntil(t, "the removal of b to reach the function", func() bool {
		seen = nil
		for _, raw := range recorded(t, dir, 1) {
			var ev events.DynamoDBEvent
			if err := json.Unmarshal(raw, &ev); err != nil {
				t.Fatal(err)
			}
			for _, r := range ev.Records {
				if r.EventSource != "aws:dynamodb" || r.EventSourceArn != streamArn {
					t.Fatalf("a record: %+v", r)
				}
				img := r.Change.NewImage
				if r.EventName == "REMOVE" {
					img = r.Change.OldImage
				}
				v := ""
				if a, ok := img["v"]; ok {
					v = a.String()
				}
				seen = append(seen, change{r.EventName, r.Change.Keys["id"].String(), v})
			}
		}
		return len(seen) > 0 && seen[len(seen)-1] == change{"REMOVE", "b", "1"}
	})
	first := map[string]int{}
	for i, c := range seen {
		if _, ok := first[c.name+c.id+c.v]; !ok {
			first[c.name+c.id+c.v] = i
		}
	}
	if first["INSERTa0"] > first["MODIFYa2"] || first["INSERTb1"] > first["REMOVEb1"] {
		t.Fatalf("changes out of order: %v", seen)
	}
	for _, want := range []string{"INSERTa0", "INSERTb1", "MODIFYa2", "INSERTbad", "REMOVEb1"} {
		if _, ok := first[want]; !ok {
			t.Fatalf("the function never saw %s: %v", want, seen)
		}
	}
}

// TestStreamParallelization reads a table's stream with a
// ParallelizationFactor of 4: batches for different items run at the same
// time, while each item's changes still reach the function one after
// another, in order, once.
func TestStreamParallelization(t *testing.T) {
	srv := alofttest.Start(t, "--sandbox", "process") // the function writes to a host directory
	ctx := ctxT(t)
	lc, dc := srv.Lambda(), srv.DynamoDB()
	dir := t.TempDir()
	createEventRecorder(t, lc, "on-counter", dir, "SLEEP_MS", "150")
	out, err := dc.CreateTable(ctx, &dynamodb.CreateTableInput{TableName: aws.String("counters"), BillingMode: dtypes.BillingModePayPerRequest,
		KeySchema:            []dtypes.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: dtypes.KeyTypeHash}},
		AttributeDefinitions: []dtypes.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: dtypes.ScalarAttributeTypeS}},
		StreamSpecification:  &dtypes.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: dtypes.StreamViewTypeNewImage}})
	if err != nil {
		t.Fatal(err)
	}
	streamArn := aws.ToString(out.TableDescription.LatestStreamArn)
	giveStreamReader(t, srv, "on-counter")
	for _, n := range []int32{0, 11} {
		_, err := lc.CreateEventSourceMapping(ctx, &lambda.CreateEventSourceMappingInput{FunctionName: aws.String("on-counter"), EventSourceArn: &streamArn,
			StartingPosition: ltypes.EventSourcePositionTrimHorizon, ParallelizationFactor: aws.Int32(n)})
		var api smithy.APIError
		if !errors.As(err, &api) || api.ErrorCode() != "ValidationException" || !strings.Contains(api.ErrorMessage(), "parallelizationFactor") {
			t.Fatalf("ParallelizationFactor %d: %v", n, err)
		}
	}
	const keys, versions = 8, 5
	s := func(v string) dtypes.AttributeValue { return &dtypes.AttributeValueMemberS{Value: v} }
	for v := range versions {
		for k := range keys {
			if _, err := dc.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("counters"),
				Item: map[string]dtypes.AttributeValue{"id": s("k" + strconv.Itoa(k)), "v": &dtypes.AttributeValueMemberN{Value: strconv.Itoa(v)}}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	m, err := lc.CreateEventSourceMapping(ctx, &lambda.CreateEventSourceMappingInput{FunctionName: aws.String("on-counter"), EventSourceArn: &streamArn,
		StartingPosition: ltypes.EventSourcePositionTrimHorizon, BatchSize: aws.Int32(5), ParallelizationFactor: aws.Int32(4)})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToInt32(m.ParallelizationFactor) != 4 {
		t.Fatalf("mapping %+v", m)
	}

	type span struct{ start, end int64 }
	var spans []span
	var order map[string][]string
	waitUntil(t, "every change to reach the function", func() bool {
		spans, order = nil, map[string][]string{}
		files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
		slices.Sort(files)
		n := 0
		for _, f := range files {
			var sp span
			if _, err := fmt.Sscanf(filepath.Base(f), "%d-%d-", &sp.start, &sp.end); err != nil {
				t.Fatalf("record file %s: %v", f, err)
			}
			spans = append(spans, sp)
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var ev events.DynamoDBEvent
			if err := json.Unmarshal(raw, &ev); err != nil {
				t.Fatal(err)
			}
			if len(ev.Records) > 5 {
				t.Fatalf("a batch of %d records, BatchSize is 5", len(ev.Records))
			}
			for _, r := range ev.Records {
				id := r.Change.Keys["id"].String()
				order[id] = append(order[id], r.Change.NewImage["v"].Number())
				n++
			}
		}
		return n >= keys*versions
	})
	for k := range keys {
		id := "k" + strconv.Itoa(k)
		if got := strings.Join(order[id], ","); got != "0,1,2,3,4" {
			t.Errorf("%s's changes reached the function as %s, want 0,1,2,3,4", id, got)
		}
	}
	overlap := false
	for i := range spans {
		for j := i + 1; j < len(spans); j++ {
			overlap = overlap || spans[j].start < spans[i].end
		}
	}
	if !overlap {
		t.Errorf("no two batches ran at the same time: %v", spans)
	}
}
