package cluster

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/aloft-dev/aloft/internal/alofttest"
	"github.com/aloft-dev/aloft/internal/store"
)

// lossFunction is the function the node-loss tests invoke: the Go test
// function (e2e/functions/gofn), whose "sleep" keeps an event in flight
// for a while.
const lossFunction = "loss"

// lossSink is the queue every successful asynchronous invocation's
// destination record goes to.
const lossSink = "loss-delivered"

// lossCluster is a cluster of three nodes with the function and its
// destination queue, through node 1.
type lossCluster struct {
	*alofttest.Cluster
	sinkURL string // lossSink's URL at node 1
}

// startLossCluster starts three nodes, creates the function and its
// OnSuccess destination through node 1, and waits until every stream has
// three replicas, so that losing a node loses nothing written before.
func startLossCluster(tb testing.TB) *lossCluster {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := &lossCluster{Cluster: alofttest.StartCluster(tb, 3)}
	n1 := c.Nodes[0]
	c.sinkURL = deployRecorder(ctx, tb, n1, lossFunction, lossSink, alofttest.GoFunction(tb, "e2e/functions/gofn", "v1"), 30, nil)
	for i, n := range c.Nodes {
		waitUntil(tb, fmt.Sprintf("node %d to run the function", i+1), 30*time.Second, func() bool {
			out, err := n.Lambda().Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(lossFunction), Payload: []byte(`{"op":"noop"}`)})
			return err == nil && out.FunctionError == nil
		})
	}
	alofttest.WaitReplicated(tb, n1, 3)
	return c
}

// lossEventSleep is how long each asynchronous invocation runs.
const lossEventSleep = 800 * time.Millisecond

// lossEventEvery is how often each node is sent an asynchronous
// invocation.
const lossEventEvery = 150 * time.Millisecond

// collectRecords reads the destination records from the sink through s
// until every one of want has come or timeout passes, and returns every
// record read, by id (the first of each; dups counts the others).
func collectRecords(tb testing.TB, s *alofttest.Server, sinkURL string, want map[string]bool, timeout time.Duration) (got map[string]destRecord, dups int) {
	tb.Helper()
	got = map[string]destRecord{}
	missing := func() int {
		n := 0
		for id := range want {
			if _, ok := got[id]; !ok {
				n++
			}
		}
		return n
	}
	for deadline := time.Now().Add(timeout); missing() > 0 && time.Now().Before(deadline); {
		for _, r := range receiveRecords(tb, s, sinkURL, false) {
			if _, seen := got[r.RequestPayload.Text]; seen {
				dups++
				continue
			}
			got[r.RequestPayload.Text] = r
		}
	}
	return got, dups
}

// firstWrite creates queues named prefix-N through s (a write that needs
// the backbone's meta group, which creates the queue's stream, and the
// queues' bucket): see firstSuccess.
func firstWrite(tb testing.TB, s *alofttest.Server, prefix string, timeout time.Duration) (time.Time, error) {
	sq := s.SQS()
	return firstSuccess(tb, "a new queue through "+s.URL, timeout, func(ctx context.Context, n int) error {
		_, err := sq.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(fmt.Sprintf("%s-%d", prefix, n))}, func(o *sqs.Options) { o.RetryMaxAttempts = 1 })
		return err
	})
}

// firstUpdate tags the queue at url through s (a write of the queues'
// bucket alone): see firstSuccess.
func firstUpdate(tb testing.TB, s *alofttest.Server, url string, timeout time.Duration) (time.Time, error) {
	sq := s.SQS()
	return firstSuccess(tb, "a queue's tag through "+s.URL, timeout, func(ctx context.Context, n int) error {
		_, err := sq.TagQueue(ctx, &sqs.TagQueueInput{QueueUrl: aws.String(url), Tags: map[string]string{"write": strconv.Itoa(n)}}, func(o *sqs.Options) { o.RetryMaxAttempts = 1 })
		return err
	})
}

// firstSuccess sends write n (0, 1, ...) every 250 ms while none has
// succeeded, each allowed the rest of timeout, and returns when the first
// succeeded: the moment the cluster took such a write again, however long
// the writes sent before it waited.
func firstSuccess(tb testing.TB, what string, timeout time.Duration, write func(ctx context.Context, n int) error) (time.Time, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	done := make(chan time.Time, 1)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var last error
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for n := 0; ; n++ {
		wg.Go(func() {
			began := time.Now()
			err := write(ctx, n)
			if err == nil {
				select {
				case done <- time.Now():
				default:
				}
				return
			}
			if ctx.Err() == nil {
				tb.Logf("%s, write %d, failed after %v: %v", what, n, time.Since(began).Round(time.Millisecond), err)
			}
			mu.Lock()
			last = err
			mu.Unlock()
		})
		select {
		case at := <-done:
			cancel()
			wg.Wait()
			return at, nil
		case <-ctx.Done():
			wg.Wait()
			select {
			case at := <-done:
				return at, nil
			default:
			}
			return time.Time{}, fmt.Errorf("%s: none succeeded in %v: %w", what, timeout, last)
		case <-tick.C:
		}
	}
}

// lossOutcome is what a kill under load came to.
type lossOutcome struct {
	accepted    map[string]time.Time // asynchronous invocations answered 202, when
	records     map[string]destRecord
	dups        int
	redelivered []time.Duration // kill → record, of events accepted before the kill and delivered more than once
	write       time.Duration   // kill → first new queue through a survivor
	update      time.Duration   // kill → first change of a queue through a survivor
	syncFailed  []attempt       // synchronous invocations through the survivors that failed
	asyncFailed []attempt       // asynchronous ones refused by the survivors
	syncOK      int
	killed      time.Time
}

// killUnderLoad runs the load through every node, kills node 3 with
// SIGKILL after warm, keeps the load on nodes 1 and 2 for after, and
// gathers what became of every request.
func killUnderLoad(tb testing.TB, c *lossCluster, warm, after time.Duration) *lossOutcome {
	tb.Helper()
	load := startInvokeLoad(c.Nodes, lossFunction, lossEventEvery, lossEventSleep, 0, 1, 2)
	time.Sleep(warm)
	c.Nodes[2].Kill()
	killed := time.Now()
	load.stopNode(2)
	o := &lossOutcome{accepted: map[string]time.Time{}, killed: killed}
	var updated time.Time
	var updateErr error
	probe := make(chan struct{})
	go func() {
		defer close(probe)
		updated, updateErr = firstUpdate(tb, c.Nodes[1], c.sinkURL, 20*time.Second)
	}()
	wrote, err := firstWrite(tb, c.Nodes[0], "after-kill", 20*time.Second)
	<-probe
	if err == nil {
		err = updateErr
	}
	if err != nil {
		load.stop()
		tb.Fatalf("a write through a survivor after node 3 was killed: %v", err)
	}
	o.write, o.update = wrote.Sub(killed), updated.Sub(killed)
	if rest := after - time.Since(killed); rest > 0 {
		time.Sleep(rest)
	}
	for _, a := range load.stop() {
		switch {
		case a.err == nil && a.id != "":
			o.accepted[a.id] = a.at
		case a.err == nil:
			o.syncOK++
		case a.node == 2:
			// Requests to the killed node may fail.
		case a.id == "":
			o.syncFailed = append(o.syncFailed, a)
		default:
			o.asyncFailed = append(o.asyncFailed, a)
		}
	}
	want := map[string]bool{}
	for id := range o.accepted {
		want[id] = true
	}
	o.records, o.dups = collectRecords(tb, c.Nodes[0], c.sinkURL, want, 30*time.Second)
	for id, r := range o.records {
		if at, ok := o.accepted[id]; ok && at.Before(killed) && r.RequestContext.InvokeCount > 1 {
			o.redelivered = append(o.redelivered, r.at.Sub(killed))
		}
	}
	slices.Sort(o.redelivered)
	return o
}

// missing lists the accepted invocations that have no record.
func (o *lossOutcome) missing() []string {
	var ids []string
	for id := range o.accepted {
		if _, ok := o.records[id]; !ok {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// TestNodeLoss kills one node of three under load: every asynchronous
// invocation the cluster accepted is delivered (those the dead node held,
// by another node within seconds), synchronous invocations through the
// survivors all succeed, a write through a survivor succeeds, and the
// killed node, restarted, rejoins and serves.
func TestNodeLoss(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a cluster of three and kills a node")
	}
	start := time.Now()
	c := startLossCluster(t)
	t.Logf("cluster of three with every stream at three replicas after %v", time.Since(start).Round(time.Millisecond))

	o := killUnderLoad(t, c, 5*time.Second, 15*time.Second)
	t.Logf("%d synchronous invocations through nodes 1 and 2 succeeded, %d failed; %d asynchronous accepted (%d refused by nodes 1 and 2), %d records, %d duplicates",
		o.syncOK, len(o.syncFailed), len(o.accepted), len(o.asyncFailed), len(o.records), o.dups)
	t.Logf("kill → first new queue through node 1: %v, first change of a queue through node 2: %v; kill → records of events redelivered: %v",
		o.write.Round(time.Millisecond), o.update.Round(time.Millisecond), o.redelivered)
	for _, a := range o.asyncFailed {
		t.Logf("node %d refused an asynchronous invocation %v after the kill: %v", a.node+1, a.at.Sub(o.killed).Round(time.Millisecond), a.err)
	}
	if miss := o.missing(); len(miss) > 0 {
		t.Errorf("%d of %d accepted asynchronous invocations never delivered: %v", len(miss), len(o.accepted), miss)
	}
	for _, a := range o.syncFailed {
		t.Errorf("a synchronous invocation through node %d failed: %v", a.node+1, a.err)
	}
	if o.syncOK == 0 || len(o.accepted) == 0 {
		t.Errorf("no load: %d synchronous invocations, %d asynchronous accepted", o.syncOK, len(o.accepted))
	}
	if len(o.redelivered) > 0 && o.redelivered[len(o.redelivered)-1] > 15*time.Second {
		t.Errorf("events held by the killed node delivered as late as %v after the kill", o.redelivered[len(o.redelivered)-1])
	}

	// The killed node, restarted on its data, rejoins and serves.
	n3 := c.Nodes[2]
	n3.Restart()
	c.WaitFormed(t, 2, 60*time.Second)
	c.WaitFormed(t, 0, 30*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := n3.Lambda().Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(lossFunction), Payload: []byte(`{"op":"sleep","ms":1}`)})
	if err != nil || out.FunctionError != nil {
		t.Fatalf("invoke through the restarted node: %v %s", err, out.Payload)
	}
	t.Logf("node 3 restarted and served; %v in all", time.Since(start).Round(time.Millisecond))
}

// TestTwoNodesLost kills two nodes of three: a write through the
// survivor fails within the client's patience, rather than hanging, as
// SQS answers a temporary failure (503 ServiceUnavailable), which
// clients may send again, not as an internal error; the two, restarted,
// rejoin, and what was written before is intact.
func TestTwoNodesLost(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a cluster of three and kills two nodes")
	}
	start := time.Now()
	c := alofttest.StartCluster(t, 3)
	n1 := c.Nodes[0]
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	sq := n1.SQS()
	q, err := sq.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("kept")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sq.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: q.QueueUrl, MessageBody: aws.String("written before")}); err != nil {
		t.Fatal(err)
	}
	alofttest.WaitReplicated(t, n1, 3)
	t.Logf("streams at three replicas after %v", time.Since(start).Round(time.Millisecond))

	c.Nodes[1].Kill()
	c.Nodes[2].Kill()
	killed := time.Now()
	// The SDK's own retries included, as a user's client would.
	began := time.Now()
	_, err = sq.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("after-two-lost")})
	took := time.Since(began)
	var apiErr smithy.APIError
	var respErr *smithyhttp.ResponseError
	switch {
	case err == nil:
		t.Errorf("a write through the last node of three succeeded")
	case !errors.As(err, &apiErr) || !errors.As(err, &respErr):
		t.Errorf("a write through the last node failed without an AWS error: %v", err)
	case respErr.HTTPStatusCode() != http.StatusServiceUnavailable || apiErr.ErrorCode() != "ServiceUnavailable":
		t.Errorf("a write through the last node failed with %d %s, want 503 ServiceUnavailable: %v", respErr.HTTPStatusCode(), apiErr.ErrorCode(), err)
	default:
		t.Logf("a write through the last node, %v after the kill, failed after %v with %d %s: %s",
			began.Sub(killed).Round(time.Millisecond), took.Round(time.Millisecond), respErr.HTTPStatusCode(), apiErr.ErrorCode(), apiErr.ErrorMessage())
	}
	if took > 40*time.Second {
		t.Errorf("the failing write took %v", took)
	}
	// Health says writes are impossible once the node knows.
	var st *store.ClusterStatus
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		if st, err = alofttest.ClusterHealth(n1.URL); err == nil && !st.CanWrite {
			break
		}
	}
	if st == nil || st.CanWrite {
		t.Errorf("the last node's health after the others were killed: %+v (%v)", st, err)
	} else {
		t.Logf("the last node's health %v after the kill: can_write %v, meta leader %q", time.Since(killed).Round(time.Millisecond), st.CanWrite, st.MetaLeader)
	}

	// Restarted together, the two rejoin; what was written before is
	// there, and writes succeed again.
	var wg sync.WaitGroup
	for _, n := range c.Nodes[1:] {
		wg.Go(n.Restart)
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	for i := range c.Nodes {
		c.WaitFormed(t, i, 60*time.Second)
	}
	var got []string
	waitUntil(t, "the message written before the loss", 30*time.Second, func() bool {
		out, err := sq.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, WaitTimeSeconds: 1})
		if err != nil {
			t.Logf("receive: %v", err)
			return false
		}
		for _, m := range out.Messages {
			got = append(got, aws.ToString(m.Body))
		}
		return len(got) > 0
	})
	if len(got) != 1 || got[0] != "written before" {
		t.Fatalf("received %q after the restart, want the message written before", got)
	}
	if _, err := firstWrite(t, n1, "after-restart", 30*time.Second); err != nil {
		t.Fatal(err)
	}
	t.Logf("restarted, rejoined, read and written; %v in all", time.Since(start).Round(time.Millisecond))
}
