package e2e

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	"github.com/aloft-dev/aloft/internal/alofttest"
)

// TestQueuesAcrossNodes runs two servers on one backbone: what is made,
// sent and published on one is received, deleted and delivered on the
// other; a long poll on one wakes for a send on the other; a FIFO group
// in flight on one is held on both.
func TestQueuesAcrossNodes(t *testing.T) {
	url := alofttest.Backbone(t)
	a := alofttest.Start(t, "--nats-url", url)
	b := alofttest.Start(t, "--nats-url", url)
	ctx := ctxT(t)
	qa, qb := a.SQS(), b.SQS()

	made, err := qa.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("shared")})
	if err != nil {
		t.Fatal(err)
	}
	var ub string
	waitUntil(t, "node B to see the queue", func() bool {
		out, err := qb.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("shared")})
		if err == nil {
			ub = aws.ToString(out.QueueUrl)
		}
		return err == nil
	})
	ua := aws.ToString(made.QueueUrl)
	for i := range 20 {
		if _, err := qa.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &ua, MessageBody: aws.String(strconv.Itoa(i))}); err != nil {
			t.Fatal(err)
		}
	}
	var got []types.Message
	for len(got) < 20 {
		r, err := qb.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &ub, MaxNumberOfMessages: 10, WaitTimeSeconds: 2})
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Messages) == 0 {
			t.Fatalf("node B received %d of 20", len(got))
		}
		got = append(got, r.Messages...)
	}
	// Handles from node B work on node A.
	for i, m := range got {
		if i%2 == 0 {
			_, err = qa.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: &ua, ReceiptHandle: m.ReceiptHandle})
		} else {
			_, err = qa.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: &ua, ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0})
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	var again []string
	for len(again) < 10 {
		r, err := qb.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &ub, MaxNumberOfMessages: 10, WaitTimeSeconds: 2,
			MessageSystemAttributeNames: []types.MessageSystemAttributeName{"ApproximateReceiveCount"}})
		if err != nil || len(r.Messages) == 0 {
			t.Fatalf("the second receive: %d of 10, %v", len(again), err)
		}
		for _, m := range r.Messages {
			if m.Attributes["ApproximateReceiveCount"] != "2" {
				t.Fatalf("receive count %s", m.Attributes["ApproximateReceiveCount"])
			}
			again = append(again, aws.ToString(m.Body))
			qb.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: &ub, ReceiptHandle: m.ReceiptHandle})
		}
	}

	// A long poll on B wakes for a send on A.
	woke := make(chan time.Time, 1)
	go func() {
		r, err := qb.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: &ub, WaitTimeSeconds: 10})
		if err == nil && len(r.Messages) == 1 {
			woke <- time.Now()
		}
		close(woke)
	}()
	time.Sleep(200 * time.Millisecond)
	if _, err := qa.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &ua, MessageBody: aws.String("wake")}); err != nil {
		t.Fatal(err)
	}
	sent := time.Now()
	if at, ok := <-woke; !ok || at.Sub(sent) > time.Second {
		t.Fatalf("the long poll on node B did not wake for node A's send (woke: %v)", ok)
	}

	// A topic made on A delivers what is published on B.
	sa, sb := a.SNS(), b.SNS()
	topic, err := sa.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("shared-topic")})
	if err != nil {
		t.Fatal(err)
	}
	_, fanARN := queueWithARN(t, qa, "fanned", nil)
	if _, err := sa.Subscribe(ctx, &sns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("sqs"), Endpoint: &fanARN,
		Attributes: map[string]string{"RawMessageDelivery": "true"}}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "node B to see the subscription", func() bool {
		out, err := sb.ListSubscriptionsByTopic(ctx, &sns.ListSubscriptionsByTopicInput{TopicArn: topic.TopicArn})
		return err == nil && len(out.Subscriptions) == 1
	})
	if _, err := sb.Publish(ctx, &sns.PublishInput{TopicArn: topic.TopicArn, Message: aws.String("from B")}); err != nil {
		t.Fatal(err)
	}
	fanURL := b.URL + "/000000000000/fanned"
	if got := drainUntil(t, qb, fanURL, 1, 10*time.Second); len(got) != 1 || aws.ToString(got[0].Body) != "from B" {
		t.Fatalf("the topic's queue: %+v", got)
	}

	// A FIFO group in flight on B is held on A too.
	fifo, err := qa.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("shared.fifo"), Attributes: map[string]string{"FifoQueue": "true", "ContentBasedDeduplication": "true"}})
	if err != nil {
		t.Fatal(err)
	}
	fa := aws.ToString(fifo.QueueUrl)
	fb := b.URL + "/000000000000/shared.fifo"
	for i := range 3 {
		qa.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &fa, MessageBody: aws.String("f" + strconv.Itoa(i)), MessageGroupId: aws.String("g")})
	}
	var rb *sqs.ReceiveMessageOutput
	waitUntil(t, "node B to receive from the FIFO queue", func() bool {
		rb, err = qb.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &fb, MaxNumberOfMessages: 2})
		return err == nil && len(rb.Messages) > 0
	})
	if len(rb.Messages) != 2 || aws.ToString(rb.Messages[0].Body) != "f0" {
		t.Fatalf("node B's FIFO batch: %+v", rb.Messages)
	}
	if ra, err := qa.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &fa, MaxNumberOfMessages: 10}); err != nil || len(ra.Messages) != 0 {
		t.Fatalf("node A received from a group in flight on node B: %+v %v", ra, err)
	}
	for _, m := range rb.Messages {
		if _, err := qa.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: &fa, ReceiptHandle: m.ReceiptHandle}); err != nil {
			t.Fatal(err)
		}
	}
	ra, err := qa.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &fa, MaxNumberOfMessages: 10})
	if err != nil || len(ra.Messages) != 1 || aws.ToString(ra.Messages[0].Body) != "f2" {
		t.Fatalf("node A after node B's batch: %+v %v", ra, err)
	}
}

// TestQueuesRefuseUnsigned checks that SQS and SNS refuse unsigned and
// wrongly signed requests in their own shapes: JSON with SQS's query
// error code for the JSON protocol, XML for the query protocol.
func TestQueuesRefuseUnsigned(t *testing.T) {
	srv := alofttest.Start(t)
	post := func(query, body string, header map[string]string) (*http.Response, string) {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/"+query, strings.NewReader(body))
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	resp, body := post("", `{}`, map[string]string{"X-Amz-Target": "AmazonSQS.ListQueues", "Content-Type": "application/x-amz-json-1.0"})
	if resp.StatusCode != 403 || !strings.Contains(body, `"__type"`) || resp.Header.Get("X-Amzn-Query-Error") == "" {
		t.Fatalf("unsigned SQS JSON: %d %v %s", resp.StatusCode, resp.Header, body)
	}
	// Unsigned query requests are recognised by the Action in the URL
	// (the front door reads no body before a signature).
	resp, body = post("?Action=ListQueues&Version=2012-11-05", "", nil)
	if resp.StatusCode != 403 || !strings.Contains(body, "<ErrorResponse") {
		t.Fatalf("unsigned SQS query: %d %s", resp.StatusCode, body)
	}
	resp, body = post("?Action=ListTopics&Version=2010-03-31", "", nil)
	if resp.StatusCode != 403 || !strings.Contains(body, "<ErrorResponse") {
		t.Fatalf("unsigned SNS: %d %s", resp.StatusCode, body)
	}
	// Signed with a wrong secret.
	cfg := srv.Config()
	cfg.Credentials = credentials.NewStaticCredentialsProvider(alofttest.AccessKeyID, "not-the-secret", "")
	bad := sqs.NewFromConfig(cfg, func(o *sqs.Options) { o.BaseEndpoint = aws.String(srv.URL) })
	_, err := bad.ListQueues(ctxT(t), &sqs.ListQueuesInput{})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "SignatureDoesNotMatch" {
		t.Fatalf("a wrong signature: %v", err)
	}
	badSNS := sns.NewFromConfig(cfg, func(o *sns.Options) { o.BaseEndpoint = aws.String(srv.URL) })
	_, err = badSNS.ListTopics(ctxT(t), &sns.ListTopicsInput{})
	if !errors.As(err, &ae) || ae.ErrorCode() != "SignatureDoesNotMatch" {
		t.Fatalf("a wrong signature to SNS: %v", err)
	}
}

// TestQueueAndTopicPolicies lets a user with no policies of its own send
// to a queue and publish to a topic because their access policies say
// so, and nothing else.
func TestQueueAndTopicPolicies(t *testing.T) {
	srv := alofttest.Start(t)
	ctx := ctxT(t)
	root := clientsFor(srv, srv.Config().Credentials)
	root.iam.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("producer")})
	key, err := root.iam.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("producer")})
	if err != nil {
		t.Fatal(err)
	}
	cfg := srv.Config()
	cfg.Credentials = credentials.NewStaticCredentialsProvider(aws.ToString(key.AccessKey.AccessKeyId), aws.ToString(key.AccessKey.SecretAccessKey), "")
	ep := aws.String(srv.URL)
	pq := sqs.NewFromConfig(cfg, func(o *sqs.Options) { o.BaseEndpoint = ep })
	ps := sns.NewFromConfig(cfg, func(o *sns.Options) { o.BaseEndpoint = ep })
	qc, sc := srv.SQS(), srv.SNS()
	u, arn := queueWithARN(t, qc, "inbox", nil)
	topic, err := sc.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("news")})
	if err != nil {
		t.Fatal(err)
	}
	send := func() error {
		_, err := pq.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &u, MessageBody: aws.String("hi")})
		return err
	}
	publish := func() error {
		_, err := ps.Publish(ctx, &sns.PublishInput{TopicArn: topic.TopicArn, Message: aws.String("hi")})
		return err
	}
	var ae smithy.APIError
	if err := send(); !errors.As(err, &ae) || ae.ErrorCode() != "AccessDenied" {
		t.Fatalf("send without a grant: %v", err)
	}
	if err := publish(); !errors.As(err, &ae) || ae.ErrorCode() != "AccessDenied" {
		t.Fatalf("publish without a grant: %v", err)
	}
	grant := func(action, resource string) string {
		return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:user/producer"},"Action":"` + action + `","Resource":"` + resource + `"}]}`
	}
	if _, err := qc.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: &u, Attributes: map[string]string{"Policy": grant("sqs:SendMessage", arn)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := sc.SetTopicAttributes(ctx, &sns.SetTopicAttributesInput{TopicArn: topic.TopicArn, AttributeName: aws.String("Policy"),
		AttributeValue: aws.String(grant("sns:Publish", aws.ToString(topic.TopicArn)))}); err != nil {
		t.Fatal(err)
	}
	if err := send(); err != nil {
		t.Fatalf("send with the queue's grant: %v", err)
	}
	if err := publish(); err != nil {
		t.Fatalf("publish with the topic's grant: %v", err)
	}
	_, err = pq.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &u})
	if !errors.As(err, &ae) || ae.ErrorCode() != "AccessDenied" {
		t.Fatalf("receive, which the policy does not grant: %v", err)
	}
	_, err = qc.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: &u, Attributes: map[string]string{"Policy": `{"Statement":[{"Effect":"Allow","Action":"sqs:*","Resource":"*","Condition":{"StringEquals":{"sqs:Mystery":"x"}}}]}`}})
	sqsCode(t, err, "InvalidAttributeValue")
}
