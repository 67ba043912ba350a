package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/aloft-dev/aloft/internal/alofttest"
)

// TestQueueSurvivesKill sends 10,000 messages from 16 clients into a
// queue that an event source mapping runs into a function, kills the
// server (SIGKILL) once half are sent, while messages are still being
// sent and delivered, restarts it, sends what was not acknowledged
// again, and checks that every message reached the function at least
// once. ALOFT_QUEUE_CRASH_MESSAGES sets another count.
func TestQueueSurvivesKill(t *testing.T) {
	total := 10000
	if v, err := strconv.Atoi(os.Getenv("ALOFT_QUEUE_CRASH_MESSAGES")); err == nil && v > 0 {
		total = v
	}
	srv := alofttest.Start(t, "--sandbox", "process") // the function writes to a host directory
	ctx := context.Background()
	lc, qc := srv.Lambda(), srv.SQS()
	dir := t.TempDir()
	createEventRecorder(t, lc, "crash-worker", dir)
	role := sqsReaderRole(t, srv, "crash-worker-role")
	if _, err := lc.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("crash-worker"), Role: &role}); err != nil {
		t.Fatal(err)
	}
	u, arn := queueWithARN(t, qc, "crash", map[string]string{"VisibilityTimeout": "5"})
	if _, err := lc.CreateEventSourceMapping(ctx, &lambda.CreateEventSourceMappingInput{FunctionName: aws.String("crash-worker"), EventSourceArn: &arn}); err != nil {
		t.Fatal(err)
	}

	// Sending: each client sends its share in batches of ten and notes
	// what was acknowledged.
	var mu sync.Mutex
	acked := map[string]bool{}
	send := func(c *sqs.Client) {
		var wg sync.WaitGroup
		for w := range 16 {
			wg.Go(func() {
				for i := w * 10; i < total; i += 16 * 10 {
					var entries []types.SendMessageBatchRequestEntry
					mu.Lock()
					for j := i; j < min(i+10, total); j++ {
						if body := "m" + strconv.Itoa(j); !acked[body] {
							entries = append(entries, types.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(len(entries))), MessageBody: aws.String(body)})
						}
					}
					mu.Unlock()
					if len(entries) == 0 {
						continue
					}
					out, err := c.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: &u, Entries: entries})
					if err != nil {
						return // the server is gone
					}
					mu.Lock()
					for _, s := range out.Successful {
						n, _ := strconv.Atoi(aws.ToString(s.Id))
						acked[aws.ToString(entries[n].MessageBody)] = true
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
	}
	var sending sync.WaitGroup
	sending.Go(func() { send(qc) })
	// Kill once half has been sent and some delivered.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= total/2 && len(processed(t, dir)) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d messages acknowledged before the kill", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	srv.Kill()
	sending.Wait()
	before := len(processed(t, dir))
	mu.Lock()
	sent := len(acked)
	mu.Unlock()
	if sent == total && before == total {
		t.Fatalf("everything was sent and handled before the kill; the test proves nothing")
	}
	srv.Restart()
	send(srv.SQS()) // what was not acknowledged, again
	if len(acked) != total {
		t.Fatalf("only %d of %d messages acknowledged after the restart", len(acked), total)
	}
	deadline = time.Now().Add(3 * time.Minute)
	for {
		seen := processed(t, dir)
		missing := 0
		for body := range acked {
			if seen[body] == 0 {
				missing++
			}
		}
		if missing == 0 {
			dups := 0
			for _, n := range seen {
				dups += n - 1
			}
			t.Logf("%d of %d messages acknowledged and %d handled before the kill; all handled after a restart, %d more than once", sent, total, before, dups)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the restart %d of %d acknowledged messages never reached the function", missing, total)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// processed reads the events the recorder wrote in dir: how often each
// message body was handled.
func processed(t *testing.T, dir string) map[string]int {
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	out := map[string]int{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var ev events.SQSEvent
		if err := json.Unmarshal(b, &ev); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, r := range ev.Records {
			out[r.Body]++
		}
	}
	return out
}

// TestTopicSurvivesKill publishes 2,000 messages to a topic with two
// queues subscribed, kills the server once half are acknowledged,
// restarts it, publishes what was not acknowledged again, and checks
// that both queues got every message.
func TestTopicSurvivesKill(t *testing.T) {
	const total = 2000
	srv := alofttest.Start(t)
	ctx := context.Background()
	sc, qc := srv.SNS(), srv.SQS()
	topic, err := sc.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("crash-fanout")})
	if err != nil {
		t.Fatal(err)
	}
	var urls []string
	for _, name := range []string{"fan-a", "fan-b"} {
		u, arn := queueWithARN(t, qc, name, nil)
		urls = append(urls, u)
		if _, err := sc.Subscribe(ctx, &sns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("sqs"), Endpoint: &arn,
			Attributes: map[string]string{"RawMessageDelivery": "true"}}); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	acked := map[string]bool{}
	publish := func(c *sns.Client) {
		var wg sync.WaitGroup
		for w := range 8 {
			wg.Go(func() {
				for i := w; i < total; i += 8 {
					body := "p" + strconv.Itoa(i)
					mu.Lock()
					done := acked[body]
					mu.Unlock()
					if done {
						continue
					}
					if _, err := c.Publish(ctx, &sns.PublishInput{TopicArn: topic.TopicArn, Message: &body}); err != nil {
						return
					}
					mu.Lock()
					acked[body] = true
					mu.Unlock()
				}
			})
		}
		wg.Wait()
	}
	var publishing sync.WaitGroup
	publishing.Go(func() { publish(sc) })
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(5 * time.Millisecond) {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= total/2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d published before the kill", n)
		}
	}
	srv.Kill()
	publishing.Wait()
	before := len(acked)
	srv.Restart()
	publish(srv.SNS())
	if len(acked) != total {
		t.Fatalf("only %d of %d published after the restart", len(acked), total)
	}
	qc = srv.SQS()
	for _, u := range urls {
		got := map[string]bool{}
		for deadline := time.Now().Add(2 * time.Minute); len(got) < total && time.Now().Before(deadline); {
			r, err := qc.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &u, MaxNumberOfMessages: 10, WaitTimeSeconds: 2})
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range r.Messages {
				got[aws.ToString(m.Body)] = true
				qc.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: &u, ReceiptHandle: m.ReceiptHandle})
			}
		}
		if len(got) != total {
			t.Fatalf("%s got %d of %d messages (%d acknowledged before the kill)", u, len(got), total, before)
		}
	}
	t.Logf("%d of %d published before the kill; both queues got all", before, total)
}

// TestFifoQueueSurvivesKill runs 3 message groups of 300 through an event
// source mapping of a FIFO queue, kills the server halfway, restarts it,
// and checks that every message reached the function and that each
// group's messages first reached it in order.
func TestFifoQueueSurvivesKill(t *testing.T) {
	const perGroup = 300
	groups := []string{"g1", "g2", "g3"}
	srv := alofttest.Start(t, "--sandbox", "process") // the function writes to a host directory
	ctx := context.Background()
	lc, qc := srv.Lambda(), srv.SQS()
	dir := t.TempDir()
	createEventRecorder(t, lc, "fifo-crash", dir)
	role := sqsReaderRole(t, srv, "fifo-crash-role")
	if _, err := lc.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("fifo-crash"), Role: &role}); err != nil {
		t.Fatal(err)
	}
	u, arn := queueWithARN(t, qc, "crash.fifo", map[string]string{"FifoQueue": "true", "VisibilityTimeout": "3"})
	if _, err := lc.CreateEventSourceMapping(ctx, &lambda.CreateEventSourceMappingInput{FunctionName: aws.String("fifo-crash"), EventSourceArn: &arn}); err != nil {
		t.Fatal(err)
	}
	// Each group is sent in order by its own client, resuming after the
	// restart where its acknowledgements stopped.
	next := map[string]int{}
	var mu sync.Mutex
	send := func(c *sqs.Client) {
		var wg sync.WaitGroup
		for _, g := range groups {
			wg.Go(func() {
				for {
					mu.Lock()
					i := next[g]
					mu.Unlock()
					if i >= perGroup {
						return
					}
					var entries []types.SendMessageBatchRequestEntry
					for j := i; j < min(i+10, perGroup); j++ {
						entries = append(entries, types.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(j)), MessageBody: aws.String(g + "-" + strconv.Itoa(j)),
							MessageGroupId: aws.String(g), MessageDeduplicationId: aws.String(g + "-" + strconv.Itoa(j))})
					}
					out, err := c.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: &u, Entries: entries})
					if err != nil || len(out.Failed) > 0 {
						return // the server is gone (a batch is resent whole: deduplicated)
					}
					mu.Lock()
					next[g] = i + len(entries)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
	}
	var sending sync.WaitGroup
	sending.Go(func() { send(qc) })
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(5 * time.Millisecond) {
		if _, n := fifoSeen(t, dir); n >= len(groups)*perGroup/3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("too little was handled before the kill")
		}
	}
	srv.Kill()
	sending.Wait()
	_, before := fifoSeen(t, dir)
	srv.Restart()
	send(srv.SQS())
	deadline := time.Now().Add(2 * time.Minute)
	for {
		seen, _ := fifoSeen(t, dir)
		done := true
		for _, g := range groups {
			firsts := firstSeen(seen[g])
			if len(firsts) < perGroup {
				done = false
				continue
			}
			if !slices.IsSorted(firsts) {
				t.Fatalf("group %s first reached the function in the order %v", g, firsts)
			}
		}
		if done {
			t.Logf("%d messages handled before the kill; all %d after a restart, each group in order", before, len(groups)*perGroup)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the restart not every message reached the function")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// firstSeen keeps the first of each number, in order.
func firstSeen(order []int) []int {
	seen := map[int]bool{}
	var out []int
	for _, i := range order {
		if !seen[i] {
			seen[i] = true
			out = append(out, i)
		}
	}
	return out
}

// TestRedriveSurvivesKill moves 1,000 messages to a dead-letter queue by
// receiving them past maxReceiveCount, kills the server while they move,
// restarts it, and checks that the dead-letter queue ends with each
// message exactly once.
func TestRedriveSurvivesKill(t *testing.T) {
	const total = 1000
	srv := alofttest.Start(t)
	ctx := context.Background()
	qc := srv.SQS()
	dlqURL, dlqARN := queueWithARN(t, qc, "rd-dlq", nil)
	srcURL, _ := queueWithARN(t, qc, "rd-src", map[string]string{"VisibilityTimeout": "0",
		"RedrivePolicy": `{"deadLetterTargetArn":"` + dlqARN + `","maxReceiveCount":1}`})
	for i := 0; i < total; i += 10 {
		var entries []types.SendMessageBatchRequestEntry
		for j := i; j < i+10; j++ {
			entries = append(entries, types.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(j - i)), MessageBody: aws.String("r" + strconv.Itoa(j))})
		}
		if _, err := qc.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: &srcURL, Entries: entries}); err != nil {
			t.Fatal(err)
		}
	}
	// Receivers: the first receive of a message counts, the next moves it.
	receive := func(c *sqs.Client, stop <-chan struct{}) {
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					r, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &srcURL, MaxNumberOfMessages: 10})
					if err != nil {
						return
					}
					if len(r.Messages) == 0 {
						a, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &srcURL, AttributeNames: []types.QueueAttributeName{"All"}})
						if err != nil || (a.Attributes["ApproximateNumberOfMessages"] == "0" && a.Attributes["ApproximateNumberOfMessagesNotVisible"] == "0") {
							return
						}
					}
				}
			})
		}
		wg.Wait()
	}
	stop := make(chan struct{})
	var receiving sync.WaitGroup
	receiving.Go(func() { receive(qc, stop) })
	dlqCount := func(c *sqs.Client) int {
		a, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &dlqURL, AttributeNames: []types.QueueAttributeName{"All"}})
		if err != nil {
			return -1
		}
		n, _ := strconv.Atoi(a.Attributes["ApproximateNumberOfMessages"])
		return n
	}
	for deadline := time.Now().Add(time.Minute); dlqCount(qc) < total/4; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("too little moved before the kill")
		}
	}
	srv.Kill()
	close(stop)
	receiving.Wait()
	srv.Restart()
	qc = srv.SQS()
	// Moves cut short come back within a minute (visible again), and
	// are deduplicated on the dead-letter queue.
	receive(qc, make(chan struct{}))
	seen := map[string]int{}
	for deadline := time.Now().Add(3 * time.Minute); len(seen) < total && time.Now().Before(deadline); {
		r, err := qc.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &dlqURL, MaxNumberOfMessages: 10, WaitTimeSeconds: 2})
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Messages) == 0 {
			receive(qc, make(chan struct{})) // stragglers back on the source
		}
		for _, m := range r.Messages {
			seen[aws.ToString(m.MessageId)]++
			qc.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: &dlqURL, ReceiptHandle: m.ReceiptHandle})
		}
	}
	if len(seen) != total {
		t.Fatalf("the dead-letter queue got %d of %d messages", len(seen), total)
	}
	for id, n := range seen {
		if n > 1 {
			t.Fatalf("message %s reached the dead-letter queue %d times", id, n)
		}
	}
	if r, _ := qc.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &dlqURL, WaitTimeSeconds: 1}); len(r.Messages) != 0 {
		t.Fatalf("more on the dead-letter queue: %+v", r.Messages)
	}
}
