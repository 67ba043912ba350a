package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	"github.com/aloft-dev/aloft/internal/alofttest"
)

// TestSQS drives the SQS API with aws-sdk-go-v2 (the JSON protocol),
// whose client checks the MD5 digests of bodies and attributes.
func TestSQS(t *testing.T) {
	srv := alofttest.Start(t)
	c := srv.SQS()
	ctx := ctxT(t)

	created, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("orders"),
		Attributes: map[string]string{"VisibilityTimeout": "20"}, Tags: map[string]string{"team": "shop"}})
	if err != nil {
		t.Fatal(err)
	}
	u := aws.ToString(created.QueueUrl)
	if want := srv.URL + "/000000000000/orders"; u != want {
		t.Fatalf("queue URL %s, want %s", u, want)
	}
	got, err := c.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("orders")})
	if err != nil || aws.ToString(got.QueueUrl) != u {
		t.Fatalf("GetQueueUrl: %v %v", got, err)
	}
	c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("other")})
	list, err := c.ListQueues(ctx, &sqs.ListQueuesInput{QueueNamePrefix: aws.String("ord")})
	if err != nil || !slices.Equal(list.QueueUrls, []string{u}) {
		t.Fatalf("ListQueues: %v %v", list, err)
	}
	_, err = c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("orders"), Attributes: map[string]string{"VisibilityTimeout": "21"}})
	var exists *types.QueueNameExists
	if !errors.As(err, &exists) {
		t.Fatalf("creating again with another attribute: %v, want QueueNameExists", err)
	}
	tags, err := c.ListQueueTags(ctx, &sqs.ListQueueTagsInput{QueueUrl: &u})
	if err != nil || tags.Tags["team"] != "shop" {
		t.Fatalf("tags %v %v", tags, err)
	}

	// Messages with attributes; the SDK checks each MD5.
	sent, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &u, MessageBody: aws.String("order 1"),
		MessageAttributes: map[string]types.MessageAttributeValue{
			"kind":  {DataType: aws.String("String"), StringValue: aws.String("new")},
			"count": {DataType: aws.String("Number"), StringValue: aws.String("3")},
			"blob":  {DataType: aws.String("Binary"), BinaryValue: []byte{0, 1, 2}},
		}})
	if err != nil {
		t.Fatal(err)
	}
	batch, err := c.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: &u, Entries: []types.SendMessageBatchRequestEntry{
		{Id: aws.String("a"), MessageBody: aws.String("order 2")},
		{Id: aws.String("b"), MessageBody: aws.String("order 3")},
		{Id: aws.String("bad"), MessageBody: aws.String("nul \x00 inside")},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(batch.Successful) != 2 || len(batch.Failed) != 1 || aws.ToString(batch.Failed[0].Code) != "InvalidMessageContents" || !batch.Failed[0].SenderFault {
		t.Fatalf("batch: %+v", batch)
	}
	attrs, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &u, AttributeNames: []types.QueueAttributeName{"All"}})
	if err != nil || attrs.Attributes["ApproximateNumberOfMessages"] != "3" || attrs.Attributes["VisibilityTimeout"] != "20" ||
		attrs.Attributes["QueueArn"] != "arn:aws:sqs:us-east-1:000000000000:orders" {
		t.Fatalf("attributes %v %v", attrs, err)
	}

	recv, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &u, MaxNumberOfMessages: 10, WaitTimeSeconds: 1,
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{"All"}, MessageAttributeNames: []string{"All"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(recv.Messages) != 3 {
		t.Fatalf("received %d messages, want 3", len(recv.Messages))
	}
	byBody := map[string]types.Message{}
	for _, m := range recv.Messages {
		byBody[aws.ToString(m.Body)] = m
	}
	first := byBody["order 1"]
	if aws.ToString(first.MessageId) != aws.ToString(sent.MessageId) || first.Attributes["ApproximateReceiveCount"] != "1" ||
		first.Attributes["SenderId"] != "000000000000" || aws.ToString(first.MessageAttributes["kind"].StringValue) != "new" ||
		!bytes.Equal(first.MessageAttributes["blob"].BinaryValue, []byte{0, 1, 2}) {
		t.Fatalf("first message %+v", first)
	}
	if ts, _ := strconv.ParseInt(first.Attributes["SentTimestamp"], 10, 64); time.Since(time.UnixMilli(ts)) > time.Minute {
		t.Fatalf("SentTimestamp %s", first.Attributes["SentTimestamp"])
	}
	// Delete one, show one again at once, keep one hidden.
	if _, err := c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: &u, ReceiptHandle: first.ReceiptHandle}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: &u, ReceiptHandle: byBody["order 2"].ReceiptHandle, VisibilityTimeout: 0}); err != nil {
		t.Fatal(err)
	}
	again, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &u, MaxNumberOfMessages: 10, WaitTimeSeconds: 2,
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{"ApproximateReceiveCount"}})
	if err != nil || len(again.Messages) != 1 || aws.ToString(again.Messages[0].Body) != "order 2" || again.Messages[0].Attributes["ApproximateReceiveCount"] != "2" {
		t.Fatalf("after ChangeMessageVisibility 0: %+v %v", again, err)
	}
	del, err := c.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: &u, Entries: []types.DeleteMessageBatchRequestEntry{
		{Id: aws.String("x"), ReceiptHandle: again.Messages[0].ReceiptHandle},
		{Id: aws.String("y"), ReceiptHandle: byBody["order 3"].ReceiptHandle},
		{Id: aws.String("z"), ReceiptHandle: aws.String("forged")},
	}})
	if err != nil || len(del.Successful) != 2 || len(del.Failed) != 1 || aws.ToString(del.Failed[0].Code) != "ReceiptHandleIsInvalid" {
		t.Fatalf("DeleteMessageBatch: %+v %v", del, err)
	}
	attrs, _ = c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &u, AttributeNames: []types.QueueAttributeName{"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"}})
	if attrs.Attributes["ApproximateNumberOfMessages"] != "0" || attrs.Attributes["ApproximateNumberOfMessagesNotVisible"] != "0" {
		t.Fatalf("after deleting everything: %v", attrs.Attributes)
	}

	// Refusals, in SQS's words.
	_, err = c.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("missing")})
	var nonexistent *types.QueueDoesNotExist
	if !errors.As(err, &nonexistent) {
		t.Fatalf("a missing queue: %v", err)
	}
	_, err = c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: &u, ReceiptHandle: aws.String("forged")})
	var badHandle *types.ReceiptHandleIsInvalid
	if !errors.As(err, &badHandle) {
		t.Fatalf("a forged handle: %v", err)
	}
	_, err = c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &u, MessageBody: aws.String(strings.Repeat("x", 1<<20+1))})
	sqsCode(t, err, "InvalidParameterValue")
	entries := make([]types.SendMessageBatchRequestEntry, 11)
	for i := range entries {
		entries[i] = types.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), MessageBody: aws.String("m")}
	}
	_, err = c.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: &u, Entries: entries})
	var tooMany *types.TooManyEntriesInBatchRequest
	if !errors.As(err, &tooMany) {
		t.Fatalf("11 entries: %v", err)
	}
	_, err = c.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: &u, Entries: []types.SendMessageBatchRequestEntry{
		{Id: aws.String("same"), MessageBody: aws.String("1")}, {Id: aws.String("same"), MessageBody: aws.String("2")}}})
	var notDistinct *types.BatchEntryIdsNotDistinct
	if !errors.As(err, &notDistinct) {
		t.Fatalf("repeated ids: %v", err)
	}
	_, err = c.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: &u, Attributes: map[string]string{"VisibilityTimeout": "43201"}})
	sqsCode(t, err, "InvalidAttributeValue")
	_, err = c.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: &u, Attributes: map[string]string{"KmsMasterKeyId": "alias/aws/sqs"}})
	sqsCode(t, err, "InvalidAttributeValue")
	_, err = c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("bad name")})
	sqsCode(t, err, "InvalidParameterValue")

	if _, err := c.PurgeQueue(ctx, &sqs.PurgeQueueInput{QueueUrl: &u}); err != nil {
		t.Fatal(err)
	}
	_, err = c.PurgeQueue(ctx, &sqs.PurgeQueueInput{QueueUrl: &u})
	var inProgress *types.PurgeQueueInProgress
	if !errors.As(err, &inProgress) {
		t.Fatalf("a second purge within a minute: %v", err)
	}
	if _, err := c.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: &u}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("orders")}); !errors.As(err, &nonexistent) {
		t.Fatalf("after DeleteQueue: %v", err)
	}
}

// sqsCode fails unless err is an SQS error with code (the query code
// the SDK reports, or the shape's name).
func sqsCode(t *testing.T, err error, code string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("got %v, want %s", err, code)
	}
	if ae.ErrorCode() != code {
		t.Fatalf("got code %s (%v), want %s", ae.ErrorCode(), err, code)
	}
}

// TestSQSLongPollAndRedrive checks that a long poll returns as soon as a
// message is sent, and that a message received more than
// maxReceiveCount times moves to the dead-letter queue.
func TestSQSLongPollAndRedrive(t *testing.T) {
	srv := alofttest.Start(t)
	c := srv.SQS()
	ctx := ctxT(t)
	dlq, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("jobs-dlq")})
	if err != nil {
		t.Fatal(err)
	}
	dlqAttrs, _ := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: dlq.QueueUrl, AttributeNames: []types.QueueAttributeName{"QueueArn"}})
	// Visible again at once after each receive (the SDK leaves a zero
	// VisibilityTimeout out of ReceiveMessage).
	q, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("jobs"), Attributes: map[string]string{
		"VisibilityTimeout": "0",
		"RedrivePolicy":     fmt.Sprintf(`{"deadLetterTargetArn":%q,"maxReceiveCount":2}`, dlqAttrs.Attributes["QueueArn"])}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan time.Time, 1)
	go func() {
		time.Sleep(500 * time.Millisecond)
		c.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: q.QueueUrl, MessageBody: aws.String("job")})
		done <- time.Now()
	}()
	r, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, WaitTimeSeconds: 10})
	if err != nil || len(r.Messages) != 1 {
		t.Fatalf("long poll: %+v %v", r, err)
	}
	if lag := time.Since(<-done); lag > time.Second {
		t.Fatalf("the long poll returned %v after the send", lag)
	}
	r, err = c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, WaitTimeSeconds: 5})
	if err != nil || len(r.Messages) != 1 {
		t.Fatalf("second receive: %+v %v", r, err)
	}
	r, err = c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, WaitTimeSeconds: 1})
	if err != nil || len(r.Messages) != 0 {
		t.Fatalf("third receive should move the message: %+v %v", r, err)
	}
	r, err = c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: dlq.QueueUrl, WaitTimeSeconds: 5})
	if err != nil || len(r.Messages) != 1 || aws.ToString(r.Messages[0].Body) != "job" {
		t.Fatalf("dead-letter queue: %+v %v", r, err)
	}
	srcs, err := c.ListDeadLetterSourceQueues(ctx, &sqs.ListDeadLetterSourceQueuesInput{QueueUrl: dlq.QueueUrl})
	if err != nil || !slices.Equal(srcs.QueueUrls, []string{aws.ToString(q.QueueUrl)}) {
		t.Fatalf("ListDeadLetterSourceQueues: %+v %v", srcs, err)
	}
}

// TestSQSQueryProtocol runs one scenario over both wire protocols, the
// JSON one through aws-sdk-go-v2 and the query one (form parameters,
// XML answers, as older SDKs and CLIs send) through signed requests of
// its own, and checks that both give the same transcript.
func TestSQSQueryProtocol(t *testing.T) {
	srv := alofttest.Start(t)
	ctx := ctxT(t)
	jsonRun := sqsScenario(t, &sdkWire{c: srv.SQS(), ctx: ctx}, "json")
	queryRun := sqsScenario(t, &queryWire{t: t, url: srv.URL, signer: v4.NewSigner(), cfg: srv.Config(), ctx: ctx}, "query")
	if !slices.Equal(jsonRun, queryRun) {
		t.Fatalf("the protocols differ:\njson:  %q\nquery: %q", jsonRun, queryRun)
	}
	t.Logf("transcript: %q", jsonRun)
}

// sqsWire is one wire protocol's client for the scenario: each call
// returns its outcome as text, or the error's code.
type sqsWire interface {
	call(op string, params map[string]string) (map[string][]string, string)
}

// sqsScenario runs the scenario over w, returning its transcript.
func sqsScenario(t *testing.T, w sqsWire, name string) []string {
	var out []string
	note := func(s string, args ...any) { out = append(out, fmt.Sprintf(s, args...)) }
	res, code := w.call("CreateQueue", map[string]string{"QueueName": "proto-" + name, "Attribute.VisibilityTimeout": "7"})
	note("create %s", code)
	u := first(res["QueueUrl"])
	if u == "" {
		t.Fatalf("%s: no queue URL: %v %s", name, res, code)
	}
	res, code = w.call("GetQueueAttributes", map[string]string{"QueueUrl": u, "AttributeName": "VisibilityTimeout"})
	note("attributes %s %v", code, res["VisibilityTimeout"])
	res, code = w.call("SendMessage", map[string]string{"QueueUrl": u, "MessageBody": "hello <&> world", "MessageAttribute.kind": "x"})
	note("send %s %v %v", code, res["MD5OfMessageBody"], res["MD5OfMessageAttributes"])
	res, code = w.call("SendMessageBatch", map[string]string{"QueueUrl": u, "Entry.a": "second", "Entry.b": "third", "Entry.c": "bad \x01"})
	note("batch %s ok=%v failed=%v", code, res["Successful"], res["Failed"])
	res, code = w.call("ReceiveMessage", map[string]string{"QueueUrl": u, "MaxNumberOfMessages": "10", "WaitTimeSeconds": "1", "AttributeName": "ApproximateReceiveCount", "MessageAttributeName": "All"})
	note("receive %s %v counts=%v kinds=%v", code, sortedCopy(res["Body"]), res["ApproximateReceiveCount"], res["kind"])
	handles := res["ReceiptHandle"]
	if len(handles) != 3 {
		t.Fatalf("%s: received %d messages, want 3", name, len(handles))
	}
	_, code = w.call("DeleteMessage", map[string]string{"QueueUrl": u, "ReceiptHandle": handles[0]})
	note("delete %s", code)
	_, code = w.call("ChangeMessageVisibility", map[string]string{"QueueUrl": u, "ReceiptHandle": handles[1], "VisibilityTimeout": "0"})
	note("visibility %s", code)
	res, code = w.call("ReceiveMessage", map[string]string{"QueueUrl": u, "WaitTimeSeconds": "2", "AttributeName": "ApproximateReceiveCount"})
	note("receive again %s counts=%v", code, res["ApproximateReceiveCount"])
	_, code = w.call("DeleteMessage", map[string]string{"QueueUrl": u, "ReceiptHandle": "forged"})
	note("forged handle %s", code)
	_, code = w.call("GetQueueUrl", map[string]string{"QueueName": "missing"})
	note("missing queue %s", code)
	res, code = w.call("ListQueues", map[string]string{"QueueNamePrefix": "proto-" + name})
	note("list %s %d", code, len(res["QueueUrl"]))
	_, code = w.call("DeleteQueue", map[string]string{"QueueUrl": u})
	note("delete queue %s", code)
	return out
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

// sdkWire speaks JSON through aws-sdk-go-v2.
type sdkWire struct {
	c   *sqs.Client
	ctx context.Context
}

func (w *sdkWire) call(op string, p map[string]string) (map[string][]string, string) {
	out := map[string][]string{}
	code := func(err error) string {
		if err == nil {
			return "ok"
		}
		var ae smithy.APIError
		if errors.As(err, &ae) {
			return normalCode(ae.ErrorCode())
		}
		return err.Error()
	}
	u := aws.String(p["QueueUrl"])
	switch op {
	case "CreateQueue":
		r, err := w.c.CreateQueue(w.ctx, &sqs.CreateQueueInput{QueueName: aws.String(p["QueueName"]), Attributes: map[string]string{"VisibilityTimeout": p["Attribute.VisibilityTimeout"]}})
		if err == nil {
			out["QueueUrl"] = []string{aws.ToString(r.QueueUrl)}
		}
		return out, code(err)
	case "GetQueueAttributes":
		r, err := w.c.GetQueueAttributes(w.ctx, &sqs.GetQueueAttributesInput{QueueUrl: u, AttributeNames: []types.QueueAttributeName{types.QueueAttributeName(p["AttributeName"])}})
		if err == nil {
			for k, v := range r.Attributes {
				out[k] = []string{v}
			}
		}
		return out, code(err)
	case "SendMessage":
		r, err := w.c.SendMessage(w.ctx, &sqs.SendMessageInput{QueueUrl: u, MessageBody: aws.String(p["MessageBody"]),
			MessageAttributes: map[string]types.MessageAttributeValue{"kind": {DataType: aws.String("String"), StringValue: aws.String(p["MessageAttribute.kind"])}}})
		if err == nil {
			out["MD5OfMessageBody"] = []string{aws.ToString(r.MD5OfMessageBody)}
			out["MD5OfMessageAttributes"] = []string{aws.ToString(r.MD5OfMessageAttributes)}
		}
		return out, code(err)
	case "SendMessageBatch":
		var entries []types.SendMessageBatchRequestEntry
		for _, id := range []string{"a", "b", "c"} {
			entries = append(entries, types.SendMessageBatchRequestEntry{Id: aws.String(id), MessageBody: aws.String(p["Entry."+id])})
		}
		r, err := w.c.SendMessageBatch(w.ctx, &sqs.SendMessageBatchInput{QueueUrl: u, Entries: entries})
		if err == nil {
			for _, s := range r.Successful {
				out["Successful"] = append(out["Successful"], aws.ToString(s.Id))
			}
			for _, f := range r.Failed {
				out["Failed"] = append(out["Failed"], aws.ToString(f.Id)+":"+aws.ToString(f.Code))
			}
			slices.Sort(out["Successful"])
		}
		return out, code(err)
	case "ReceiveMessage":
		in := &sqs.ReceiveMessageInput{QueueUrl: u, MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeName(p["AttributeName"])}}
		if p["MessageAttributeName"] != "" {
			in.MessageAttributeNames = []string{p["MessageAttributeName"]}
		}
		if n, err := strconv.Atoi(p["MaxNumberOfMessages"]); err == nil {
			in.MaxNumberOfMessages = int32(n)
		}
		n, _ := strconv.Atoi(p["WaitTimeSeconds"])
		in.WaitTimeSeconds = int32(n)
		r, err := w.c.ReceiveMessage(w.ctx, in)
		if err == nil {
			for _, m := range r.Messages {
				out["Body"] = append(out["Body"], aws.ToString(m.Body))
				out["ReceiptHandle"] = append(out["ReceiptHandle"], aws.ToString(m.ReceiptHandle))
				out["ApproximateReceiveCount"] = append(out["ApproximateReceiveCount"], m.Attributes["ApproximateReceiveCount"])
				if k, ok := m.MessageAttributes["kind"]; ok {
					out["kind"] = append(out["kind"], aws.ToString(k.StringValue))
				}
			}
		}
		return out, code(err)
	case "DeleteMessage":
		_, err := w.c.DeleteMessage(w.ctx, &sqs.DeleteMessageInput{QueueUrl: u, ReceiptHandle: aws.String(p["ReceiptHandle"])})
		return out, code(err)
	case "ChangeMessageVisibility":
		n, _ := strconv.Atoi(p["VisibilityTimeout"])
		_, err := w.c.ChangeMessageVisibility(w.ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: u, ReceiptHandle: aws.String(p["ReceiptHandle"]), VisibilityTimeout: int32(n)})
		return out, code(err)
	case "GetQueueUrl":
		_, err := w.c.GetQueueUrl(w.ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(p["QueueName"])})
		return out, code(err)
	case "ListQueues":
		r, err := w.c.ListQueues(w.ctx, &sqs.ListQueuesInput{QueueNamePrefix: aws.String(p["QueueNamePrefix"])})
		if err == nil {
			out["QueueUrl"] = r.QueueUrls
		}
		return out, code(err)
	case "DeleteQueue":
		_, err := w.c.DeleteQueue(w.ctx, &sqs.DeleteQueueInput{QueueUrl: u})
		return out, code(err)
	}
	panic("no such operation " + op)
}

// normalCode maps the query codes to the JSON names, so that both
// protocols' transcripts compare.
func normalCode(c string) string {
	switch c {
	case "AWS.SimpleQueueService.NonExistentQueue":
		return "QueueDoesNotExist"
	}
	return c
}

// queryWire speaks the query protocol with signed form POSTs to the
// queue's URL, as older clients do.
type queryWire struct {
	t      *testing.T
	url    string
	signer *v4.Signer
	cfg    aws.Config
	ctx    context.Context
}

func (w *queryWire) call(op string, p map[string]string) (map[string][]string, string) {
	form := url.Values{"Action": {op}, "Version": {"2012-11-05"}}
	target := w.url + "/"
	for k, v := range p {
		switch {
		case k == "QueueUrl":
			target = v // sent to the queue's URL, which names the queue
		case k == "Attribute.VisibilityTimeout":
			form.Set("Attribute.1.Name", "VisibilityTimeout")
			form.Set("Attribute.1.Value", v)
		case k == "AttributeName":
			form.Set("AttributeName.1", v)
		case k == "MessageAttributeName":
			form.Set("MessageAttributeName.1", v)
		case k == "MessageAttribute.kind":
			form.Set("MessageAttribute.1.Name", "kind")
			form.Set("MessageAttribute.1.Value.DataType", "String")
			form.Set("MessageAttribute.1.Value.StringValue", v)
		case strings.HasPrefix(k, "Entry."):
			id := strings.TrimPrefix(k, "Entry.")
			n := strconv.Itoa(int(id[0]-'a') + 1)
			form.Set("SendMessageBatchRequestEntry."+n+".Id", id)
			form.Set("SendMessageBatchRequestEntry."+n+".MessageBody", v)
		default:
			form.Set(k, v)
		}
	}
	body := form.Encode()
	req, err := http.NewRequestWithContext(w.ctx, http.MethodPost, target, strings.NewReader(body))
	if err != nil {
		w.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	sum := sha256.Sum256([]byte(body))
	creds, _ := w.cfg.Credentials.Retrieve(w.ctx)
	if err := w.signer.SignHTTP(w.ctx, creds, req, hex.EncodeToString(sum[:]), "sqs", w.cfg.Region, time.Now()); err != nil {
		w.t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error struct{ Code string }
		}
		if err := xml.Unmarshal(raw, &e); err != nil {
			w.t.Fatalf("%s: status %d, body %s", op, resp.StatusCode, raw)
		}
		return nil, normalCode(e.Error.Code)
	}
	return flattenXML(w.t, op, raw), "ok"
}

// flattenXML collects the text of every leaf element of an answer by
// name; <Attribute><Name>N</Name><Value>V</Value></Attribute> pairs and
// message attributes are collected under N, and batch entries under
// Successful and Failed.
func flattenXML(t *testing.T, op string, raw []byte) map[string][]string {
	out := map[string][]string{}
	d := xml.NewDecoder(bytes.NewReader(raw))
	var path []string
	var text, name, id, failCode string
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v in %s", op, err, raw)
		}
		switch v := tok.(type) {
		case xml.StartElement:
			path = append(path, v.Name.Local)
			text = ""
		case xml.CharData:
			text += string(v)
		case xml.EndElement:
			el := path[len(path)-1]
			parent := ""
			if len(path) > 1 {
				parent = path[len(path)-2]
			}
			switch {
			case el == "Name":
				name = text
			case el == "Value" && parent == "Attribute", el == "StringValue":
				out[name] = append(out[name], text)
			case el == "Id":
				id = text
			case el == "Code" && parent == "BatchResultErrorEntry":
				failCode = text
			case el == "SendMessageBatchResultEntry":
				out["Successful"] = append(out["Successful"], id)
				slices.Sort(out["Successful"])
			case el == "BatchResultErrorEntry":
				out["Failed"] = append(out["Failed"], id+":"+failCode)
			default:
				out[el] = append(out[el], text)
			}
			path = path[:len(path)-1]
		}
	}
	return out
}

// TestSQSFifo checks a FIFO queue through aws-sdk-go-v2: groups in
// order, one batch of a group in flight at a time, deduplication, and an
// event source mapping that hands each group's messages to the function
// in order.
func TestSQSFifo(t *testing.T) {
	srv := alofttest.Start(t, "--sandbox", "process") // the function writes to a host directory
	c, lc := srv.SQS(), srv.Lambda()
	ctx := ctxT(t)
	_, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("orders.fifo")})
	sqsCode(t, err, "InvalidParameterValue")
	q, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("orders.fifo"), Attributes: map[string]string{"FifoQueue": "true"}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: q.QueueUrl, MessageBody: aws.String("x"), MessageDeduplicationId: aws.String("x")})
	sqsCode(t, err, "MissingParameter")
	var seqs []string
	for i, g := range []string{"A", "B", "A", "A"} {
		out, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: q.QueueUrl, MessageBody: aws.String(g + strconv.Itoa(i)),
			MessageGroupId: aws.String(g), MessageDeduplicationId: aws.String("d" + strconv.Itoa(i))})
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, aws.ToString(out.SequenceNumber))
	}
	if !slices.IsSorted(seqs) || seqs[0] == "" {
		t.Fatalf("sequence numbers %v", seqs)
	}
	dup, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: q.QueueUrl, MessageBody: aws.String("again"), MessageGroupId: aws.String("A"), MessageDeduplicationId: aws.String("d0")})
	if err != nil || aws.ToString(dup.SequenceNumber) != seqs[0] {
		t.Fatalf("a duplicate: %+v %v", dup, err)
	}
	r, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, MaxNumberOfMessages: 2,
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{"All"}})
	if err != nil || len(r.Messages) != 2 || aws.ToString(r.Messages[0].Body) != "A0" || aws.ToString(r.Messages[1].Body) != "A2" ||
		r.Messages[0].Attributes["MessageGroupId"] != "A" {
		t.Fatalf("first receive: %+v %v", r.Messages, err)
	}
	// A's batch is in flight: only B comes.
	r2, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, MaxNumberOfMessages: 10})
	if err != nil || len(r2.Messages) != 1 || aws.ToString(r2.Messages[0].Body) != "B1" {
		t.Fatalf("second receive: %+v %v", r2.Messages, err)
	}
	for _, m := range append(r.Messages, r2.Messages...) {
		if _, err := c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: q.QueueUrl, ReceiptHandle: m.ReceiptHandle}); err != nil {
			t.Fatal(err)
		}
	}
	r3, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, MaxNumberOfMessages: 10})
	if err != nil || len(r3.Messages) != 1 || aws.ToString(r3.Messages[0].Body) != "A3" {
		t.Fatalf("third receive: %+v %v", r3.Messages, err)
	}
	c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: q.QueueUrl, ReceiptHandle: r3.Messages[0].ReceiptHandle})

	// Through a mapping, each group in order.
	dir := t.TempDir()
	createEventRecorder(t, lc, "fifo-worker", dir)
	role := sqsReaderRole(t, srv, "fifo-worker-role")
	if _, err := lc.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("fifo-worker"), Role: &role}); err != nil {
		t.Fatal(err)
	}
	arn := "arn:aws:sqs:us-east-1:000000000000:orders.fifo"
	if _, err := lc.CreateEventSourceMapping(ctx, &lambda.CreateEventSourceMappingInput{FunctionName: aws.String("fifo-worker"), EventSourceArn: &arn,
		BatchSize: aws.Int32(3)}); err != nil {
		t.Fatal(err)
	}
	const perGroup = 30
	var entries []types.SendMessageBatchRequestEntry
	for i := range perGroup {
		for _, g := range []string{"x", "y", "z"} {
			entries = append(entries, types.SendMessageBatchRequestEntry{Id: aws.String(g + strconv.Itoa(i)), MessageBody: aws.String(g + "-" + strconv.Itoa(i)),
				MessageGroupId: aws.String(g), MessageDeduplicationId: aws.String(g + strconv.Itoa(i))})
			if len(entries) == 10 {
				if out, err := c.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: q.QueueUrl, Entries: entries}); err != nil || len(out.Failed) > 0 {
					t.Fatalf("send: %+v %v", out, err)
				}
				entries = nil
			}
		}
	}
	if len(entries) > 0 {
		if _, err := c.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: q.QueueUrl, Entries: entries}); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string][]int{}
	deadline := time.Now().Add(time.Minute)
	for n := 0; n < 3*perGroup; {
		if time.Now().After(deadline) {
			t.Fatalf("the function saw %d of %d messages", n, 3*perGroup)
		}
		seen, n = fifoSeen(t, dir)
		time.Sleep(50 * time.Millisecond)
	}
	for g, order := range seen {
		if !slices.IsSorted(order) || len(order) != perGroup {
			t.Fatalf("group %s reached the function as %v", g, order)
		}
	}
}

// fifoSeen reads the recorded events in the order the function started
// them: each group's message numbers, and how many messages in all.
func fifoSeen(t *testing.T, dir string) (map[string][]int, int) {
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	slices.Sort(files) // by the handler's start time
	out := map[string][]int{}
	n := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var ev events.SQSEvent
		if err := json.Unmarshal(b, &ev); err != nil {
			t.Fatal(err)
		}
		for _, r := range ev.Records {
			g, num, _ := strings.Cut(r.Body, "-")
			i, _ := strconv.Atoi(num)
			out[g] = append(out[g], i)
			n++
		}
	}
	return out, n
}

// TestSQSMoveTask moves what a dead-letter queue holds back to the queue
// it came from with a message move task.
func TestSQSMoveTask(t *testing.T) {
	srv := alofttest.Start(t)
	c := srv.SQS()
	ctx := ctxT(t)
	dlqURL, dlqARN := queueWithARN(t, c, "mv-dlq", nil)
	srcURL, _ := queueWithARN(t, c, "mv-src", map[string]string{"VisibilityTimeout": "0",
		"RedrivePolicy": `{"deadLetterTargetArn":"` + dlqARN + `","maxReceiveCount":1}`})
	for i := range 3 {
		c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &srcURL, MessageBody: aws.String("m" + strconv.Itoa(i))})
	}
	c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &srcURL, MaxNumberOfMessages: 10})
	c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &srcURL, MaxNumberOfMessages: 10}) // moves them
	waitUntil(t, "the dead-letter queue to hold three", func() bool {
		a, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &dlqURL, AttributeNames: []types.QueueAttributeName{"ApproximateNumberOfMessages"}})
		return err == nil && a.Attributes["ApproximateNumberOfMessages"] == "3"
	})
	task, err := c.StartMessageMoveTask(ctx, &sqs.StartMessageMoveTaskInput{SourceArn: &dlqARN})
	if err != nil || aws.ToString(task.TaskHandle) == "" {
		t.Fatalf("start: %+v %v", task, err)
	}
	waitUntil(t, "the task to complete", func() bool {
		l, err := c.ListMessageMoveTasks(ctx, &sqs.ListMessageMoveTasksInput{SourceArn: &dlqARN})
		return err == nil && len(l.Results) == 1 && aws.ToString(l.Results[0].Status) == "COMPLETED" && l.Results[0].ApproximateNumberOfMessagesMoved == 3
	})
	got := drainUntil(t, c, srcURL, 3, 10*time.Second)
	if len(got) < 3 {
		t.Fatalf("%d messages back on the source queue", len(got))
	}
	_, err = c.CancelMessageMoveTask(ctx, &sqs.CancelMessageMoveTaskInput{TaskHandle: task.TaskHandle})
	sqsCode(t, err, "AWS.SimpleQueueService.UnsupportedOperation")
}
