package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/aloft-dev/aloft/internal/alofttest"
)

// waitUntil polls cond every 100 ms until it holds, failing the test
// after timeout.
func waitUntil(tb testing.TB, what string, timeout time.Duration, cond func() bool) {
	tb.Helper()
	for deadline := time.Now().Add(timeout); !cond(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
	}
}

// deployRecorder creates through s a Go function of the given code, with
// a role that may send SQS messages and write logs, and its queue sink as
// its asynchronous OnSuccess destination (with retries, when not nil, as
// its maximum retry attempts); it returns the sink's URL.
func deployRecorder(ctx context.Context, tb testing.TB, s *alofttest.Server, function, sink string, code []byte, timeout int32, retries *int32) string {
	tb.Helper()
	ic := iam.NewFromConfig(s.Config(), func(o *iam.Options) { o.BaseEndpoint = aws.String(s.URL) })
	role, err := ic.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(function + "-sender"), AssumeRolePolicyDocument: aws.String(
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`)})
	if err != nil {
		tb.Fatalf("create the role: %v", err)
	}
	if _, err := ic.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(function + "-sender"), PolicyName: aws.String("send"), PolicyDocument: aws.String(
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["sqs:SendMessage","logs:*"],"Resource":"*"}]}`)}); err != nil {
		tb.Fatalf("grant the role: %v", err)
	}
	if _, err := s.Lambda().CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String(function),
		Runtime:      ltypes.RuntimeProvidedal2023,
		Handler:      aws.String("bootstrap"),
		Role:         role.Role.Arn,
		Code:         &ltypes.FunctionCode{ZipFile: code},
		Timeout:      aws.Int32(timeout),
	}); err != nil {
		tb.Fatalf("create the function: %v", err)
	}
	q, err := s.SQS().CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(sink)})
	if err != nil {
		tb.Fatalf("create the destination queue: %v", err)
	}
	attrs, err := s.SQS().GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: q.QueueUrl,
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := s.Lambda().PutFunctionEventInvokeConfig(ctx, &lambda.PutFunctionEventInvokeConfigInput{
		FunctionName:         aws.String(function),
		MaximumRetryAttempts: retries,
		DestinationConfig:    &ltypes.DestinationConfig{OnSuccess: &ltypes.OnSuccess{Destination: aws.String(attrs.Attributes["QueueArn"])}},
	}); err != nil {
		tb.Fatalf("put the event invoke config: %v", err)
	}
	return aws.ToString(q.QueueUrl)
}

// attempt is one invocation of an invokeLoad.
type attempt struct {
	node int // 0-based
	at   time.Time
	id   string // an asynchronous invocation's id, "" for a synchronous one
	err  error
}

// invokeLoad invokes a function through some nodes until stopped: on
// each, one client after another synchronously (each invocation sleeping
// 20 ms), and one sending an asynchronous invocation every eventEvery
// (each with its own id, sleeping eventSleep, so that several are in
// flight on every node at any time). A request under way when its node's
// load is stopped counts only if it succeeds.
type invokeLoad struct {
	mu       sync.Mutex
	attempts []attempt // guarded by mu
	stops    map[int]context.CancelFunc
	wg       sync.WaitGroup
}

// startInvokeLoad starts the load on function through nodes (indices of
// servers).
func startInvokeLoad(servers []*alofttest.Server, function string, eventEvery, eventSleep time.Duration, nodes ...int) *invokeLoad {
	l := &invokeLoad{stops: map[int]context.CancelFunc{}}
	for _, i := range nodes {
		ctx, cancel := context.WithCancel(context.Background())
		l.stops[i] = cancel
		record := func(a attempt) {
			if ctx.Err() != nil && a.err != nil {
				return // stopped, not failed
			}
			l.mu.Lock()
			l.attempts = append(l.attempts, a)
			l.mu.Unlock()
		}
		fn := servers[i].Lambda()
		l.wg.Go(func() {
			for ctx.Err() == nil {
				rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				out, err := fn.Invoke(rctx, &lambda.InvokeInput{FunctionName: aws.String(function), Payload: []byte(`{"op":"sleep","ms":20}`)})
				cancel()
				if err == nil && out.FunctionError != nil {
					err = fmt.Errorf("function error %s: %s", aws.ToString(out.FunctionError), out.Payload)
				}
				record(attempt{node: i, at: time.Now(), err: err})
			}
		})
		l.wg.Go(func() {
			tick := time.NewTicker(eventEvery)
			defer tick.Stop()
			for seq := 0; ; seq++ {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				id := fmt.Sprintf("node%d-%d", i+1, seq)
				payload := fmt.Sprintf(`{"op":"sleep","ms":%d,"text":%q}`, eventSleep.Milliseconds(), id)
				rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				out, err := fn.Invoke(rctx, &lambda.InvokeInput{FunctionName: aws.String(function), InvocationType: ltypes.InvocationTypeEvent, Payload: []byte(payload)})
				cancel()
				if err == nil && out.StatusCode != http.StatusAccepted {
					err = fmt.Errorf("status %d", out.StatusCode)
				}
				record(attempt{node: i, at: time.Now(), id: id, err: err})
			}
		})
	}
	return l
}

// stopNode stops the load through node i; its requests under way end as
// they may.
func (l *invokeLoad) stopNode(i int) { l.stops[i]() }

// stop stops the load, waits for its requests to end and returns them.
func (l *invokeLoad) stop() []attempt {
	for _, stop := range l.stops {
		stop()
	}
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.attempts)
}

// destRecord is what the cluster tests read of a destination record.
type destRecord struct {
	Timestamp      string `json:"timestamp"`
	RequestContext struct {
		Condition   string `json:"condition"`
		InvokeCount int    `json:"approximateInvokeCount"`
	} `json:"requestContext"`
	RequestPayload struct {
		Text string `json:"text"`
	} `json:"requestPayload"`
	at time.Time // Timestamp parsed
}

// receiveRecords receives up to ten destination records from the sink at
// sinkURL through s, waiting a second at most, each checked to record a
// success and then hidden for ten minutes, or deleted when del is set. A
// failure to receive is logged and gives none.
func receiveRecords(tb testing.TB, s *alofttest.Server, sinkURL string, del bool) []destRecord {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := s.SQS().ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(sinkURL), MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: 600})
	if err != nil {
		tb.Logf("receive the destination records: %v", err)
		time.Sleep(200 * time.Millisecond)
		return nil
	}
	var recs []destRecord
	for _, m := range out.Messages {
		var r destRecord
		if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &r); err != nil || r.RequestContext.Condition != "Success" {
			tb.Fatalf("destination record %s (%v)", aws.ToString(m.Body), err)
		}
		if r.at, err = time.Parse("2006-01-02T15:04:05.000Z", r.Timestamp); err != nil {
			tb.Fatalf("destination record's timestamp %q: %v", r.Timestamp, err)
		}
		if del {
			if _, err := s.SQS().DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(sinkURL), ReceiptHandle: m.ReceiptHandle}); err != nil {
				tb.Fatalf("delete a destination record: %v", err)
			}
		}
		recs = append(recs, r)
	}
	return recs
}
