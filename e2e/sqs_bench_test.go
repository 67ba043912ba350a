package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/aloft-dev/aloft/internal/alofttest"
	"github.com/aloft-dev/aloft/internal/benchtest"
)

// benchServer starts a server for a queue benchmark, with the backbone's
// sync interval ALOFT_BENCH_SYNC names (default: a flush before every
// acknowledgement).
func benchServer(b *testing.B, args ...string) *alofttest.Server {
	if v := os.Getenv("ALOFT_BENCH_SYNC"); v != "" {
		args = append(args, "--sync-interval", v)
	}
	return alofttest.Start(b, args...)
}

// sqsBatch is a batch of ten small messages.
func sqsBatch(tag string) []types.SendMessageBatchRequestEntry {
	out := make([]types.SendMessageBatchRequestEntry, 10)
	for i := range out {
		out[i] = types.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), MessageBody: aws.String(tag + " message " + strconv.Itoa(i))}
	}
	return out
}

// handlerStarts returns a function that waits for the n-th invocation
// recorded in dir (see e2e/functions/evrec) and returns when its handler
// started.
func handlerStarts(b *testing.B, dir string) func(n int) time.Time {
	return func(n int) time.Time {
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Microsecond) {
			files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
			if len(files) >= n {
				slices.Sort(files)
				name := filepath.Base(files[len(files)-1])
				ns, _ := strconv.ParseInt(name[:strings.IndexByte(name, '-')], 10, 64)
				return time.Unix(0, ns)
			}
		}
		b.Fatalf("the function was not invoked %d times", n)
		return time.Time{}
	}
}

// BenchmarkSQSSend stores batches of ten messages from 16 clients at
// once; each op is one SendMessageBatch.
func BenchmarkSQSSend(b *testing.B) {
	srv := benchServer(b)
	c := srv.SQS()
	ctx := context.Background()
	q, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("bench-send")})
	if err != nil {
		b.Fatal(err)
	}
	entries := sqsBatch("send")
	benchtest.Clients(b, 16, 10, "msgs/s", func(int) error {
		out, err := c.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: q.QueueUrl, Entries: entries})
		if err == nil && len(out.Failed) > 0 {
			err = fmt.Errorf("%d entries failed: %s", len(out.Failed), aws.ToString(out.Failed[0].Message))
		}
		return err
	})
}

// BenchmarkSQSSendReceiveDelete sends, receives and deletes batches of
// ten from 16 clients at once; each op is one batch through all three.
func BenchmarkSQSSendReceiveDelete(b *testing.B) {
	srv := benchServer(b)
	c := srv.SQS()
	ctx := context.Background()
	q, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("bench-srd")})
	if err != nil {
		b.Fatal(err)
	}
	entries := sqsBatch("srd")
	benchtest.Clients(b, 16, 10, "msgs/s", func(int) error {
		if _, err := c.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: q.QueueUrl, Entries: entries}); err != nil {
			return err
		}
		for got := 0; got < 10; {
			r, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, MaxNumberOfMessages: int32(10 - got), WaitTimeSeconds: 1})
			if err != nil {
				return err
			}
			if len(r.Messages) == 0 {
				continue
			}
			del := make([]types.DeleteMessageBatchRequestEntry, len(r.Messages))
			for i, m := range r.Messages {
				del[i] = types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle}
			}
			out, err := c.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: q.QueueUrl, Entries: del})
			if err != nil {
				return err
			}
			if len(out.Failed) > 0 {
				return fmt.Errorf("delete: %s", aws.ToString(out.Failed[0].Message))
			}
			got += len(r.Messages)
		}
		return nil
	})
}

// BenchmarkSQSLongPollWake measures how soon a waiting long poll returns
// a message once SendMessage has stored it.
func BenchmarkSQSLongPollWake(b *testing.B) {
	srv := benchServer(b)
	c := srv.SQS()
	ctx := context.Background()
	q, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("bench-wake")})
	if err != nil {
		b.Fatal(err)
	}
	wakes := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		got := make(chan time.Time, 1)
		go func() {
			r, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, WaitTimeSeconds: 20})
			if err == nil && len(r.Messages) == 1 {
				c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: q.QueueUrl, ReceiptHandle: r.Messages[0].ReceiptHandle})
			}
			got <- time.Now()
		}()
		time.Sleep(20 * time.Millisecond) // the poll is waiting
		if _, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: q.QueueUrl, MessageBody: aws.String("wake")}); err != nil {
			b.Fatal(err)
		}
		stored := time.Now()
		woke := <-got
		wakes = append(wakes, max(woke.Sub(stored), 0))
	}
	b.StopTimer()
	b.ReportMetric(float64(percentile(wakes, 0.5).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(percentile(wakes, 0.99).Microseconds())/1000, "p99-ms")
}

// BenchmarkSQSToFunction measures the time from sending a message to
// the start of the function invocation an event source mapping makes of
// it (BatchSize 1, no window).
func BenchmarkSQSToFunction(b *testing.B) {
	srv := benchServer(b, "--sandbox", "process") // the function writes to a host directory
	ctx := context.Background()
	c, lc := srv.SQS(), srv.Lambda()
	dir := b.TempDir()
	createEventRecorder(b, lc, "bench-consumer", dir)
	role := sqsReaderRoleTB(b, srv, "bench-consumer-role")
	if _, err := lc.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("bench-consumer"), Role: &role}); err != nil {
		b.Fatal(err)
	}
	q, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("bench-fn")})
	if err != nil {
		b.Fatal(err)
	}
	arn := "arn:aws:sqs:us-east-1:000000000000:bench-fn"
	if _, err := lc.CreateEventSourceMapping(ctx, &lambda.CreateEventSourceMappingInput{FunctionName: aws.String("bench-consumer"), EventSourceArn: &arn, BatchSize: aws.Int32(1)}); err != nil {
		b.Fatal(err)
	}
	// One message first, to warm the function.
	warm := handlerStarts(b, dir)
	c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: q.QueueUrl, MessageBody: aws.String("warm")})
	warm(1)
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		if _, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: q.QueueUrl, MessageBody: aws.String("m" + strconv.Itoa(i))}); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, warm(i+2).Sub(start))
	}
	b.StopTimer()
	b.ReportMetric(float64(percentile(lat, 0.5).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(percentile(lat, 0.99).Microseconds())/1000, "p99-ms")
	os.RemoveAll(dir)
}
