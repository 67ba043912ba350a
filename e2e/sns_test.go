package e2e

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	"github.com/aloft-dev/aloft/internal/alofttest"
)

// createEventRecorder makes a function that records the SNS and SQS
// events it gets in dir (see e2e/functions/evrec).
func createEventRecorder(t testing.TB, c *lambda.Client, name, dir string, env ...string) string {
	t.Helper()
	goRC := runtimeCases()[0]
	vars := map[string]string{"RECORD_DIR": dir}
	for i := 0; i+1 < len(env); i += 2 {
		vars[env[i]] = env[i+1]
	}
	out, err := c.CreateFunction(context.Background(), &lambda.CreateFunctionInput{
		FunctionName: aws.String(name), Runtime: ltypes.Runtime(goRC.runtime), Handler: aws.String(goRC.handler),
		Role:        aws.String("arn:aws:iam::000000000000:role/aloft"),
		Code:        &ltypes.FunctionCode{ZipFile: alofttest.GoFunction(t, "e2e/functions/evrec", "v1")},
		Environment: &ltypes.Environment{Variables: vars},
		Timeout:     aws.Int32(10),
	})
	if err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	return aws.ToString(out.FunctionArn)
}

// recorded returns the events recorded in dir, waiting until there are
// at least n (or failing after a while).
func recorded(t *testing.T, dir string, n int) []json.RawMessage {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
		if len(files) >= n || time.Now().After(deadline) {
			slices.Sort(files)
			var out []json.RawMessage
			for _, f := range files {
				b, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, b)
			}
			if len(out) < n {
				t.Fatalf("%d events recorded in %s, want %d", len(out), dir, n)
			}
			return out
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// queueURL creates queue name (with attrs) and returns its URL and ARN.
func queueWithARN(t *testing.T, c *sqs.Client, name string, attrs map[string]string) (string, string) {
	t.Helper()
	ctx := context.Background()
	q, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
	if err != nil {
		t.Fatal(err)
	}
	a, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: q.QueueUrl, AttributeNames: []types.QueueAttributeName{"QueueArn"}})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(q.QueueUrl), a.Attributes["QueueArn"]
}

// drain receives from queue u until it has n messages or a few empty
// polls pass.
func drain(t *testing.T, c *sqs.Client, u string, n int) []types.Message {
	t.Helper()
	var out []types.Message
	for empty := 0; len(out) < n && empty < 3; {
		r, err := c.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: &u, MaxNumberOfMessages: 10, WaitTimeSeconds: 2,
			MessageAttributeNames: []string{"All"}})
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Messages) == 0 {
			empty++
		}
		out = append(out, r.Messages...)
	}
	return out
}

// snsEnvelope is what SNS delivers to queues and HTTP endpoints.
type snsEnvelope struct {
	Type, MessageId, TopicArn, Subject, Message, Timestamp, SignatureVersion, Signature, SigningCertURL, SubscribeURL, Token, UnsubscribeURL string
	MessageAttributes                                                                                                                        map[string]struct{ Type, Value string }
}

// verifySNS checks an envelope's signature with the certificate its
// SigningCertURL serves, as SNS's message validators do.
func verifySNS(t *testing.T, e snsEnvelope) {
	t.Helper()
	resp, err := http.Get(e.SigningCertURL)
	if err != nil {
		t.Fatal(err)
	}
	pemBytes, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		t.Fatalf("no certificate at %s", e.SigningCertURL)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	fields := []string{"Message", e.Message, "MessageId", e.MessageId}
	if e.Type == "Notification" {
		if e.Subject != "" {
			fields = append(fields, "Subject", e.Subject)
		}
		fields = append(fields, "Timestamp", e.Timestamp, "TopicArn", e.TopicArn, "Type", e.Type)
	} else {
		fields = append(fields, "SubscribeURL", e.SubscribeURL, "Timestamp", e.Timestamp, "Token", e.Token, "TopicArn", e.TopicArn, "Type", e.Type)
	}
	sum := sha1.Sum([]byte(strings.Join(fields, "\n") + "\n"))
	sig, _ := base64.StdEncoding.DecodeString(e.Signature)
	if err := rsa.VerifyPKCS1v15(cert.PublicKey.(*rsa.PublicKey), crypto.SHA1, sum[:], sig); err != nil {
		t.Fatalf("the signature of %s %s does not verify: %v", e.Type, e.MessageId, err)
	}
}

// TestSNSFanOut publishes to a topic with queues (one filtering on an
// attribute, one on the body, one raw), a function and an HTTP endpoint
// subscribed, and checks what each gets.
func TestSNSFanOut(t *testing.T) {
	srv := alofttest.Start(t, "--sandbox", "process") // the function writes to a host directory
	ctx := ctxT(t)
	sc, qc := srv.SNS(), srv.SQS()
	dir := t.TempDir()
	fnARN := createEventRecorder(t, srv.Lambda(), "on-order", dir)

	topic, err := sc.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("orders"), Tags: []snstypes.Tag{{Key: aws.String("team"), Value: aws.String("shop")}}})
	if err != nil {
		t.Fatal(err)
	}
	tarn := aws.ToString(topic.TopicArn)
	if tarn != "arn:aws:sns:us-east-1:000000000000:orders" {
		t.Fatalf("topic ARN %s", tarn)
	}
	allURL, allARN := queueWithARN(t, qc, "all-orders", nil)
	bigURL, bigARN := queueWithARN(t, qc, "big-orders", nil)
	rawURL, rawARN := queueWithARN(t, qc, "raw-orders", nil)
	refundURL, refundARN := queueWithARN(t, qc, "refunds", nil)
	subscribe := func(protocol, endpoint string, attrs map[string]string) string {
		t.Helper()
		out, err := sc.Subscribe(ctx, &sns.SubscribeInput{TopicArn: &tarn, Protocol: aws.String(protocol), Endpoint: aws.String(endpoint), Attributes: attrs, ReturnSubscriptionArn: true})
		if err != nil {
			t.Fatalf("subscribe %s: %v", endpoint, err)
		}
		return aws.ToString(out.SubscriptionArn)
	}
	subscribe("sqs", allARN, nil)
	subscribe("sqs", bigARN, map[string]string{"FilterPolicy": `{"size":[{"numeric":[">",100]}]}`})
	subscribe("sqs", rawARN, map[string]string{"RawMessageDelivery": "true"})
	subscribe("sqs", refundARN, map[string]string{"FilterPolicy": `{"kind":["refund"]}`, "FilterPolicyScope": "MessageBody"})
	subscribe("lambda", fnARN, nil)

	// An HTTP endpoint: it confirms by following SubscribeURL, and keeps
	// the notifications.
	var mu sync.Mutex
	var got []snsEnvelope
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var e snsEnvelope
		if err := json.NewDecoder(r.Body).Decode(&e); err != nil || r.Header.Get("x-amz-sns-message-type") != e.Type {
			w.WriteHeader(400)
			return
		}
		if e.Type == "SubscriptionConfirmation" {
			resp, err := http.Get(e.SubscribeURL)
			if err == nil {
				resp.Body.Close()
			}
		}
		mu.Lock()
		got = append(got, e)
		mu.Unlock()
	}))
	defer hook.Close()
	httpSub := subscribe("http", hook.URL, nil)
	waitUntil(t, "the HTTP subscription to be confirmed", func() bool {
		a, err := sc.GetSubscriptionAttributes(ctx, &sns.GetSubscriptionAttributesInput{SubscriptionArn: &httpSub})
		return err == nil && a.Attributes["PendingConfirmation"] == "false"
	})

	small, err := sc.Publish(ctx, &sns.PublishInput{TopicArn: &tarn, Message: aws.String("small order"), Subject: aws.String("New order"),
		MessageAttributes: map[string]snstypes.MessageAttributeValue{"size": {DataType: aws.String("Number"), StringValue: aws.String("50")},
			"kind": {DataType: aws.String("String"), StringValue: aws.String("order")}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sc.Publish(ctx, &sns.PublishInput{TopicArn: &tarn, Message: aws.String("big order"),
		MessageAttributes: map[string]snstypes.MessageAttributeValue{"size": {DataType: aws.String("Number"), StringValue: aws.String("500")}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := sc.Publish(ctx, &sns.PublishInput{TopicArn: &tarn, Message: aws.String(`{"kind":"refund","amount":3}`)}); err != nil {
		t.Fatal(err)
	}

	all := drain(t, qc, allURL, 3)
	if len(all) != 3 {
		t.Fatalf("all-orders got %d messages, want 3", len(all))
	}
	var smallEnv snsEnvelope
	for _, m := range all {
		var e snsEnvelope
		if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &e); err != nil {
			t.Fatalf("not an SNS envelope: %s", aws.ToString(m.Body))
		}
		verifySNS(t, e)
		if e.MessageId == aws.ToString(small.MessageId) {
			smallEnv = e
		}
	}
	if smallEnv.Message != "small order" || smallEnv.Subject != "New order" || smallEnv.TopicArn != tarn || smallEnv.Type != "Notification" ||
		smallEnv.MessageAttributes["size"].Value != "50" || smallEnv.MessageAttributes["size"].Type != "Number" || smallEnv.UnsubscribeURL == "" {
		t.Fatalf("the small order's envelope: %+v", smallEnv)
	}
	big := drain(t, qc, bigURL, 1)
	if len(big) != 1 || !strings.Contains(aws.ToString(big[0].Body), "big order") {
		t.Fatalf("big-orders (filter size > 100) got %d messages: %+v", len(big), big)
	}
	raw := drain(t, qc, rawURL, 3)
	bodies := []string{}
	for _, m := range raw {
		bodies = append(bodies, aws.ToString(m.Body))
		if aws.ToString(m.Body) == "small order" && aws.ToString(m.MessageAttributes["kind"].StringValue) != "order" {
			t.Fatalf("raw delivery lost the attributes: %+v", m.MessageAttributes)
		}
	}
	slices.Sort(bodies)
	if !slices.Equal(bodies, []string{"big order", "small order", `{"kind":"refund","amount":3}`}) {
		t.Fatalf("raw-orders got %q", bodies)
	}
	refunds := drain(t, qc, refundURL, 1)
	if len(refunds) != 1 || !strings.Contains(aws.ToString(refunds[0].Body), "refund") {
		t.Fatalf("refunds (body filter) got %+v", refunds)
	}

	for _, raw := range recorded(t, dir, 3) {
		var ev events.SNSEvent
		if err := json.Unmarshal(raw, &ev); err != nil || len(ev.Records) != 1 {
			t.Fatalf("the function's event: %s", raw)
		}
		r := ev.Records[0]
		if r.EventSource != "aws:sns" || r.SNS.TopicArn != tarn || r.SNS.Type != "Notification" || !strings.HasPrefix(r.EventSubscriptionArn, tarn+":") {
			t.Fatalf("the function's event: %s", raw)
		}
		if r.SNS.MessageID == aws.ToString(small.MessageId) && (r.SNS.Subject != "New order" || r.SNS.MessageAttributes["size"] == nil) {
			t.Fatalf("the small order's event: %s", raw)
		}
	}
	waitUntil(t, "the HTTP endpoint's three notifications", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) == 4
	})
	mu.Lock()
	for _, e := range got {
		verifySNS(t, e)
	}
	mu.Unlock()

	// Refusals.
	_, err = sc.Publish(ctx, &sns.PublishInput{TopicArn: aws.String("arn:aws:sns:us-east-1:000000000000:missing"), Message: aws.String("x")})
	var nf *snstypes.NotFoundException
	if !errors.As(err, &nf) {
		t.Fatalf("publish to a missing topic: %v", err)
	}
	_, err = sc.Subscribe(ctx, &sns.SubscribeInput{TopicArn: &tarn, Protocol: aws.String("sqs"), Endpoint: aws.String(allARN + "x"),
		Attributes: map[string]string{"FilterPolicy": `{"size":[{"numeric":[">"]}]}`}})
	var inv *snstypes.InvalidParameterException
	if !errors.As(err, &inv) {
		t.Fatalf("a bad filter policy: %v", err)
	}
	_, err = sc.Subscribe(ctx, &sns.SubscribeInput{TopicArn: &tarn, Protocol: aws.String("email"), Endpoint: aws.String("a@example.com")})
	if !errors.As(err, &inv) {
		t.Fatalf("an email subscription: %v", err)
	}
	_, err = sc.Publish(ctx, &sns.PublishInput{TopicArn: &tarn, Message: aws.String(strings.Repeat("x", 256*1024+1))})
	if !errors.As(err, &inv) {
		t.Fatalf("an oversize message: %v", err)
	}

	// Unsubscribed, the endpoint gets nothing more.
	if _, err := sc.Unsubscribe(ctx, &sns.UnsubscribeInput{SubscriptionArn: &httpSub}); err != nil {
		t.Fatal(err)
	}
	subs, err := sc.ListSubscriptionsByTopic(ctx, &sns.ListSubscriptionsByTopicInput{TopicArn: &tarn})
	if err != nil || len(subs.Subscriptions) != 5 {
		t.Fatalf("subscriptions after one unsubscribe: %+v %v", subs, err)
	}
	attrs, err := sc.GetTopicAttributes(ctx, &sns.GetTopicAttributesInput{TopicArn: &tarn})
	if err != nil || attrs.Attributes["SubscriptionsConfirmed"] != "5" {
		t.Fatalf("topic attributes %v %v", attrs, err)
	}
	var apiErr smithy.APIError
	if _, err := sc.DeleteTopic(ctx, &sns.DeleteTopicInput{TopicArn: &tarn}); errors.As(err, &apiErr) {
		t.Fatal(err)
	}
	topics, _ := sc.ListTopics(ctx, &sns.ListTopicsInput{})
	if len(topics.Topics) != 0 {
		t.Fatalf("topics after delete: %+v", topics.Topics)
	}
}

// waitUntil polls cond for up to 30 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// TestSNSHTTPRetries subscribes an endpoint that confirms and then fails
// every notification: SNS retries by the subscription's delivery policy
// and then hands the message to its dead-letter queue.
func TestSNSHTTPRetries(t *testing.T) {
	srv := alofttest.Start(t)
	ctx := ctxT(t)
	sc, qc := srv.SNS(), srv.SQS()
	dlqURL, dlqARN := queueWithARN(t, qc, "http-dlq", nil)
	topic, err := sc.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("flaky-hook")})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	attempts := 0
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var e snsEnvelope
		json.NewDecoder(r.Body).Decode(&e)
		if e.Type == "SubscriptionConfirmation" {
			if resp, err := http.Get(e.SubscribeURL); err == nil {
				resp.Body.Close()
			}
			return
		}
		mu.Lock()
		attempts++
		mu.Unlock()
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer hook.Close()
	sub, err := sc.Subscribe(ctx, &sns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("http"), Endpoint: aws.String(hook.URL),
		ReturnSubscriptionArn: true, Attributes: map[string]string{
			"DeliveryPolicy": `{"healthyRetryPolicy":{"numRetries":2,"minDelayTarget":1,"maxDelayTarget":1}}`,
			"RedrivePolicy":  `{"deadLetterTargetArn":"` + dlqARN + `"}`,
		}})
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the subscription to be confirmed", func() bool {
		a, err := sc.GetSubscriptionAttributes(ctx, &sns.GetSubscriptionAttributesInput{SubscriptionArn: sub.SubscriptionArn})
		return err == nil && a.Attributes["PendingConfirmation"] == "false"
	})
	if _, err := sc.Publish(ctx, &sns.PublishInput{TopicArn: topic.TopicArn, Message: aws.String("will not land")}); err != nil {
		t.Fatal(err)
	}
	dead := drainUntil(t, qc, dlqURL, 1, 30*time.Second)
	if len(dead) != 1 || !strings.Contains(aws.ToString(dead[0].Body), "will not land") {
		t.Fatalf("dead-letter queue: %+v", dead)
	}
	mu.Lock()
	defer mu.Unlock()
	if attempts != 3 {
		t.Fatalf("the endpoint was tried %d times, want 3 (once and two retries)", attempts)
	}
}

// TestSNSFifo fans a FIFO topic out to a FIFO queue, in order within each
// group, with repeated publishes dropped, and refuses what FIFO topics
// refuse.
func TestSNSFifo(t *testing.T) {
	srv := alofttest.Start(t)
	ctx := ctxT(t)
	sc, qc := srv.SNS(), srv.SQS()
	_, err := sc.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("events.fifo")})
	var inv *snstypes.InvalidParameterException
	if !errors.As(err, &inv) {
		t.Fatalf("a .fifo topic without FifoTopic: %v", err)
	}
	topic, err := sc.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("events.fifo"), Attributes: map[string]string{"FifoTopic": "true"}})
	if err != nil {
		t.Fatal(err)
	}
	qURL, qARN := queueWithARN(t, qc, "events.fifo", map[string]string{"FifoQueue": "true"})
	if _, err := sc.Subscribe(ctx, &sns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("sqs"), Endpoint: &qARN,
		Attributes: map[string]string{"RawMessageDelivery": "true"}}); err != nil {
		t.Fatal(err)
	}
	_, err = sc.Subscribe(ctx, &sns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("lambda"), Endpoint: aws.String("arn:aws:lambda:us-east-1:000000000000:function:x")})
	if !errors.As(err, &inv) {
		t.Fatalf("a function on a FIFO topic: %v", err)
	}
	_, err = sc.Publish(ctx, &sns.PublishInput{TopicArn: topic.TopicArn, Message: aws.String("no group"), MessageDeduplicationId: aws.String("x")})
	if !errors.As(err, &inv) {
		t.Fatalf("a publish without a group: %v", err)
	}
	var seqs []string
	for i := range 6 {
		g := []string{"a", "b"}[i%2]
		out, err := sc.Publish(ctx, &sns.PublishInput{TopicArn: topic.TopicArn, Message: aws.String(g + "-" + strconv.Itoa(i)),
			MessageGroupId: aws.String(g), MessageDeduplicationId: aws.String("d" + strconv.Itoa(i))})
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, aws.ToString(out.SequenceNumber))
	}
	again, err := sc.Publish(ctx, &sns.PublishInput{TopicArn: topic.TopicArn, Message: aws.String("a-0 again"), MessageGroupId: aws.String("a"), MessageDeduplicationId: aws.String("d0")})
	if err != nil || aws.ToString(again.SequenceNumber) != seqs[0] {
		t.Fatalf("a repeated publish: %+v %v", again, err)
	}
	if !slices.IsSorted(seqs) || seqs[0] == "" {
		t.Fatalf("sequence numbers %v", seqs)
	}
	var order []string
	for len(order) < 6 {
		r, err := qc.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &qURL, MaxNumberOfMessages: 10, WaitTimeSeconds: 2})
		if err != nil || len(r.Messages) == 0 {
			t.Fatalf("received %v, then %v", order, err)
		}
		for _, m := range r.Messages {
			order = append(order, aws.ToString(m.Body))
			qc.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: &qURL, ReceiptHandle: m.ReceiptHandle})
		}
	}
	var a, b []string
	for _, m := range order {
		if strings.HasPrefix(m, "a") {
			a = append(a, m)
		} else {
			b = append(b, m)
		}
	}
	if !slices.Equal(a, []string{"a-0", "a-2", "a-4"}) || !slices.Equal(b, []string{"b-1", "b-3", "b-5"}) {
		t.Fatalf("the queue got %v", order)
	}
	if r, _ := qc.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &qURL, WaitTimeSeconds: 1}); len(r.Messages) != 0 {
		t.Fatalf("the repeated publish arrived: %+v", r.Messages)
	}
}

// TestSNSHangingEndpoint subscribes an HTTP endpoint that never answers
// beside a queue: the queue gets the message at once, and the hanging
// delivery ends at SNS's 15-second timeout in the dead-letter queue.
func TestSNSHangingEndpoint(t *testing.T) {
	srv := alofttest.Start(t)
	ctx := ctxT(t)
	sc, qc := srv.SNS(), srv.SQS()
	dlqURL, dlqARN := queueWithARN(t, qc, "hang-dlq", nil)
	okURL, okARN := queueWithARN(t, qc, "hang-ok", nil)
	topic, err := sc.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("hangs")})
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	defer close(release)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var e snsEnvelope
		json.NewDecoder(r.Body).Decode(&e)
		if e.Type == "SubscriptionConfirmation" {
			if resp, err := http.Get(e.SubscribeURL); err == nil {
				resp.Body.Close()
			}
			return
		}
		select { // hang, until the caller gives up
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer hook.Close()
	sub, err := sc.Subscribe(ctx, &sns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("http"), Endpoint: aws.String(hook.URL),
		ReturnSubscriptionArn: true, Attributes: map[string]string{
			"DeliveryPolicy": `{"healthyRetryPolicy":{"numRetries":0,"minDelayTarget":1,"maxDelayTarget":1}}`,
			"RedrivePolicy":  `{"deadLetterTargetArn":"` + dlqARN + `"}`,
		}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sc.Subscribe(ctx, &sns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("sqs"), Endpoint: &okARN}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the subscription to be confirmed", func() bool {
		a, err := sc.GetSubscriptionAttributes(ctx, &sns.GetSubscriptionAttributesInput{SubscriptionArn: sub.SubscriptionArn})
		return err == nil && a.Attributes["PendingConfirmation"] == "false"
	})
	start := time.Now()
	if _, err := sc.Publish(ctx, &sns.PublishInput{TopicArn: topic.TopicArn, Message: aws.String("slow endpoint")}); err != nil {
		t.Fatal(err)
	}
	if got := drainUntil(t, qc, okURL, 1, 10*time.Second); len(got) != 1 || time.Since(start) > 5*time.Second {
		t.Fatalf("the queue beside a hanging endpoint got %d messages after %v", len(got), time.Since(start))
	}
	dead := drainUntil(t, qc, dlqURL, 1, 40*time.Second)
	if len(dead) != 1 || !strings.Contains(aws.ToString(dead[0].Body), "slow endpoint") {
		t.Fatalf("dead-letter queue: %+v", dead)
	}
	if d := time.Since(start); d < 14*time.Second {
		t.Fatalf("the hanging delivery gave up after %v, before the 15-second timeout", d)
	}
}
