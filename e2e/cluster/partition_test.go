//go:build linux

package cluster

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	stypes "github.com/aws/aws-sdk-go-v2/service/scheduler/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/aloft-dev/aloft/internal/alofttest"
	"github.com/aloft-dev/aloft/internal/client"
)

// The partition test's function (e2e/functions/gofn), the queue every
// successful asynchronous invocation's record goes to, and the queue
// written through every node.
const (
	partFunction = "part"
	partSink     = "part-delivered"
	partQueue    = "part-queue"
)

// partCut is how long node 3 is cut off.
const partCut = 30 * time.Second

// partWarm is how long the load runs through every node before the cut.
const partWarm = 5 * time.Second

// partElection bounds the time after the cut until every stream has a
// leader on nodes 1 and 2: the backbone's groups that node 3 led elect a
// new leader once they have missed its heartbeats for an election
// timeout (4 to 9 seconds), and again if the two split their votes.
// Writes begun before then may fail.
const partElection = 30 * time.Second

// partRefusal bounds how long a write through node 3 during the cut may
// take to be refused.
const partRefusal = 30 * time.Second

// partTicks are when, after the cut, the one-time schedules made before
// it are due: during the cut (the first while the scheduler's lease may
// still be held by the node cut off) and after the heal.
var partTicks = []time.Duration{4 * time.Second, 12 * time.Second, 20 * time.Second, 27 * time.Second,
	partCut + 5*time.Second, partCut + 9*time.Second}

// TestPartitionHealed cuts one node of three off from the others for 30
// seconds, each node in a network namespace of its own, and heals the
// cut. During the cut, synchronous invocations through the other two all
// succeed, and so do writes through them once every stream has a leader
// there (those begun before may fail); the node cut off says it cannot
// write and refuses a write with a server error rather than hanging; and
// every asynchronous invocation the two accept is delivered. After the
// heal, the node is in the cluster again within a bound, serves what was
// written during the cut and takes writes; a schedule due at any time of
// the episode is delivered exactly once.
func TestPartitionHealed(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a cluster of three in network namespaces and cuts a node off for 30 s")
	}
	alofttest.NetnsSkip(t)
	alofttest.Binary(t) // built before the clock starts
	code := alofttest.GoFunction(t, "e2e/functions/gofn", "v1")
	began := time.Now()
	c := alofttest.StartNetnsCluster(t, 3)
	t.Logf("the cluster formed in %v", time.Since(began).Round(time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	n1, n3 := c.Nodes[0], c.Nodes[2]
	partSetup(ctx, t, n1, code)
	sinks, queues := make([]string, 3), make([]string, 3)
	for i, n := range c.Nodes {
		sinks[i], queues[i] = partQueueURL(ctx, t, n, partSink), partQueueURL(ctx, t, n, partQueue)
		waitUntil(t, fmt.Sprintf("node %d to run the function", i+1), 30*time.Second, func() bool {
			out, err := n.Lambda().Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(partFunction), Payload: []byte(`{"op":"noop"}`)})
			return err == nil && out.FunctionError == nil
		})
	}
	alofttest.WaitReplicated(t, n1, 3)
	t.Logf("every stream has three replicas %v after the start", time.Since(began).Round(time.Millisecond))

	// The schedules, made through node 1 before the cut, so that every
	// node knows them all.
	cut := time.Now().Add(partWarm + 2*time.Second)
	var ticks []string
	for k, d := range partTicks {
		name := fmt.Sprintf("tick-%d", k+1)
		partSchedule(ctx, t, n1, name, cut.Add(d))
		ticks = append(ticks, name)
	}

	// Load through every node, so that each runs the function warm; then
	// the cut, the load through nodes 1 and 2 going on, and writes
	// through them.
	load := startInvokeLoad(c.Nodes, partFunction, 200*time.Millisecond, 100*time.Millisecond, 0, 1, 2)
	time.Sleep(time.Until(cut))
	c.Cut(t, 2)
	cut = time.Now()
	load.stopNode(2)
	t.Logf("node 3 cut off")
	writes := partStartWrites(c.Nodes[:2], queues[:2], code)
	led := make(chan time.Duration, 1)
	go func() { led <- partLeadersMoved(ctx, n1, c.Names[2], cut) }()

	// Node 3 soon says it cannot write.
	var st3 string
	waitUntil(t, "node 3 to say it cannot write", 20*time.Second, func() bool {
		st, err := alofttest.ClusterHealth(n3.URL)
		if err != nil || st.CanWrite {
			return false
		}
		b, _ := json.Marshal(st)
		st3 = string(b)
		return true
	})
	t.Logf("node 3's health %v after the cut: %s", time.Since(cut).Round(time.Millisecond), st3)

	// A write through node 3 fails, with a server error, long before
	// the client would give up.
	wctx, wcancel := context.WithTimeout(ctx, 60*time.Second)
	at := time.Now()
	_, err := n3.SQS().SendMessage(wctx, &sqs.SendMessageInput{QueueUrl: aws.String(queues[2]), MessageBody: aws.String("through node 3 during the cut")})
	wcancel()
	took := time.Since(at)
	var apiErr smithy.APIError
	var respErr *smithyhttp.ResponseError
	switch {
	case err == nil:
		t.Errorf("a write through node 3 during the cut succeeded")
	case !errors.As(err, &apiErr) || !errors.As(err, &respErr):
		t.Errorf("a write through node 3 during the cut failed after %v without an answer: %v", took.Round(time.Millisecond), err)
	default:
		t.Logf("a write through node 3 during the cut failed after %v: HTTP %d %s: %s", took.Round(time.Millisecond), respErr.HTTPStatusCode(), apiErr.ErrorCode(), apiErr.ErrorMessage())
		if respErr.HTTPStatusCode() < 500 || took > partRefusal {
			t.Errorf("a write through node 3 during the cut: HTTP %d %s after %v, want a server error within %v", respErr.HTTPStatusCode(), apiErr.ErrorCode(), took.Round(time.Millisecond), partRefusal)
		}
	}

	// The heal, at the end of the cut.
	time.Sleep(time.Until(cut.Add(partCut)))
	wrote := writes.stop()
	attempts := load.stop()
	c.Heal(t, 2)
	healed := time.Now()
	t.Logf("node 3's link healed after %v", healed.Sub(cut).Round(time.Millisecond))
	c.WaitFormed(t, 2, 60*time.Second)
	t.Logf("node 3 reports the cluster formed %v after the heal", time.Since(healed).Round(time.Millisecond))

	// The writes through nodes 1 and 2 succeeded, but those begun in the
	// moments after the cut while the backbone elected new leaders for
	// what node 3 led, and settled (partSettle).
	elected := <-led
	if elected < 0 {
		t.Errorf("streams still led by node 3, or by none, %v after the cut", partElection)
		elected = partElection
	}
	t.Logf("every stream had a leader on nodes 1 and 2 %v after the cut", elected.Round(time.Millisecond))
	sent, maybe, fns := map[string]bool{}, map[string]bool{}, []string{}
	var lastFailed time.Duration
	okAfter := make([]int, 2)
	for _, w := range wrote {
		since := w.at.Sub(cut)
		switch {
		case w.stopped:
			maybe[w.name] = true
			continue
		case w.err != nil:
			lastFailed = max(lastFailed, since)
			maybe[w.name] = true
			if since > elected+partSettle {
				t.Errorf("a write (%s) through node %d began %v after the cut and failed: %v", w.name, w.node+1, since.Round(time.Millisecond), w.err)
			} else {
				t.Logf("a write (%s) through node %d began %v after the cut, while the backbone elected leaders, and failed: %v", w.name, w.node+1, since.Round(time.Millisecond), w.err)
			}
		case w.function:
			fns = append(fns, w.name)
		default:
			sent[w.name] = true
		}
		if w.err == nil && since > elected+partSettle {
			okAfter[w.node]++
		}
	}
	t.Logf("during the cut, %d writes through nodes 1 and 2 succeeded (%d messages, %d functions), %d failed, the last begun %v after the cut",
		len(sent)+len(fns), len(sent), len(fns), len(maybe), lastFailed.Round(time.Millisecond))
	for i, n := range okAfter {
		if n == 0 {
			t.Errorf("no write through node %d succeeded from %v after the cut", i+1, elected+partSettle)
		}
	}

	// Node 3 serves what was written during the cut, and takes writes.
	for _, name := range fns {
		waitUntil(t, "node 3 to serve the function "+name+" created during the cut", 30*time.Second, func() bool {
			_, err := n3.Lambda().GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(name)})
			return err == nil
		})
	}
	got := map[string]bool{}
	waitUntil(t, "node 3 to serve the messages sent during the cut", 30*time.Second, func() bool {
		out, err := n3.SQS().ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(queues[2]), MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: 600})
		if err != nil {
			t.Logf("receive through node 3: %v", err)
			return false
		}
		for _, m := range out.Messages {
			body := aws.ToString(m.Body)
			if got[body] {
				t.Errorf("node 3 served message %q twice", body)
			}
			got[body] = true
		}
		for body := range sent {
			if !got[body] {
				return false
			}
		}
		return true
	})
	for body := range got {
		if !sent[body] && !maybe[body] {
			t.Errorf("node 3 served message %q, which was never sent (or its refusal stored)", body)
		}
	}
	if _, err := n3.SQS().SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(queues[2]), MessageBody: aws.String("through node 3 after the heal")}); err != nil {
		t.Errorf("a write through node 3 after the heal: %v", err)
	}
	t.Logf("node 3 served the %d messages and %d functions written during the cut and took a write %v after the heal",
		len(sent), len(fns), time.Since(healed).Round(time.Millisecond))

	// What the load came to: synchronous invocations all succeeded, and
	// every asynchronous invocation accepted is delivered, as is every
	// schedule's tick, once.
	accepted := map[string]bool{}
	var syncOK, asyncRefused int
	for _, a := range attempts {
		switch {
		case a.err != nil && a.id == "":
			t.Errorf("a synchronous invocation through node %d %v after the cut failed: %v", a.node+1, a.at.Sub(cut).Round(time.Millisecond), a.err)
		case a.err != nil:
			// Its answer came at a.at: it was sent within a timeout of it.
			asyncRefused++
			if a.at.Sub(cut) > elected+partRefusal {
				t.Errorf("an asynchronous invocation through node %d answered %v after the cut was refused: %v", a.node+1, a.at.Sub(cut).Round(time.Millisecond), a.err)
			} else {
				t.Logf("an asynchronous invocation through node %d answered %v after the cut, sent while the backbone elected leaders, was refused: %v", a.node+1, a.at.Sub(cut).Round(time.Millisecond), a.err)
			}
		case a.id == "":
			syncOK++
		default:
			accepted[a.id] = true
		}
	}
	want := map[string]bool{}
	for id := range accepted {
		want[id] = true
	}
	for _, name := range ticks {
		want[name] = true
	}
	time.Sleep(time.Until(cut.Add(partTicks[len(partTicks)-1])))
	records := partCollect(t, n1, sinks[0], want, 40*time.Second)
	var missing, dups []string
	for id := range want {
		switch n := records[id]; {
		case n == 0:
			missing = append(missing, id)
		case n > 1:
			dups = append(dups, fmt.Sprintf("%s×%d", id, n))
		}
	}
	slices.Sort(missing)
	slices.Sort(dups)
	t.Logf("during the cut: %d synchronous invocations through nodes 1 and 2 succeeded; %d asynchronous accepted, %d refused; records of %d of %d, delivered more than once: %v",
		syncOK, len(accepted), asyncRefused, len(want)-len(missing), len(want), dups)
	if len(missing) > 0 {
		t.Errorf("never delivered: %v", missing)
	}
	for _, name := range ticks {
		if records[name] > 1 {
			t.Errorf("schedule %s was delivered %d times", name, records[name])
		}
	}
	// A tick whose firing could not be recorded is sent again, by the
	// same node or, after a handover of the scheduler's lease, by the
	// next holder; the copies carry the tick's id and the backbone drops
	// them as duplicates, so that each tick is delivered once (above).
	by := partFiredBy(c.Cluster)
	for k, name := range ticks {
		t.Logf("schedule %s (due %v after the cut) sent by nodes %v", name, partTicks[k], partOneBased(by[name]))
	}
	t.Logf("%v in all, %v of it after the heal", time.Since(began).Round(time.Millisecond), time.Since(healed).Round(time.Millisecond))
}

// partSetup creates, through s, a role, the function with its OnSuccess
// destination queue, and the queue the test writes to.
func partSetup(ctx context.Context, t *testing.T, s *alofttest.Server, code []byte) {
	t.Helper()
	deployRecorder(ctx, t, s, partFunction, partSink, code, 10, nil)
	if _, err := s.SQS().CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(partQueue)}); err != nil {
		t.Fatalf("create queue %s: %v", partQueue, err)
	}
}

// partQueueURL returns queue name's URL at s.
func partQueueURL(ctx context.Context, t *testing.T, s *alofttest.Server, name string) string {
	t.Helper()
	q, err := s.SQS().GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(name)})
	if err != nil {
		t.Fatalf("queue %s at %s: %v", name, s.URL, err)
	}
	return aws.ToString(q.QueueUrl)
}

// partSchedule creates through s a one-time schedule, name, due at when
// (to the second), that invokes the function with its name as the text.
func partSchedule(ctx context.Context, t *testing.T, s *alofttest.Server, name string, when time.Time) {
	t.Helper()
	sc := scheduler.NewFromConfig(s.Config(), func(o *scheduler.Options) { o.BaseEndpoint = aws.String(s.URL) })
	if _, err := sc.CreateSchedule(ctx, &scheduler.CreateScheduleInput{
		Name:               aws.String(name),
		ScheduleExpression: aws.String("at(" + when.UTC().Format("2006-01-02T15:04:05") + ")"),
		FlexibleTimeWindow: &stypes.FlexibleTimeWindow{Mode: stypes.FlexibleTimeWindowModeOff},
		Target: &stypes.Target{Arn: aws.String("arn:aws:lambda:us-east-1:000000000000:function:" + partFunction),
			RoleArn: aws.String("arn:aws:iam::000000000000:role/part-sender"), Input: aws.String(`{"op":"noop","text":"` + name + `"}`)},
	}); err != nil {
		t.Fatalf("create schedule %s: %v", name, err)
	}
}

// partWrite is one write of partWrites.
type partWrite struct {
	node     int // 0-based
	at       time.Time
	name     string // the message's body or the function's name
	function bool
	err      error
	stopped  bool // err is the stop's: it may have been stored
}

// partWrites writes through some nodes until stopped, each every 500
// ms: a message to its queue, and through node 2 every fourth write a
// function instead.
type partWrites struct {
	stopWrites context.CancelFunc
	wg         sync.WaitGroup
	mu         sync.Mutex
	writes     []partWrite // guarded by mu
}

func partStartWrites(nodes []*alofttest.Server, queues []string, code []byte) *partWrites {
	ctx, cancel := context.WithCancel(context.Background())
	w := &partWrites{stopWrites: cancel}
	for i, n := range nodes {
		sq, fn := n.SQS(), n.Lambda()
		w.wg.Go(func() {
			for seq := 0; ctx.Err() == nil; seq++ {
				pw := partWrite{node: i, at: time.Now(), name: fmt.Sprintf("node%d-%d", i+1, seq), function: i == 1 && seq%4 == 3}
				rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				if pw.function {
					pw.name = partFunction + "-" + pw.name
					_, pw.err = fn.CreateFunction(rctx, &lambda.CreateFunctionInput{
						FunctionName: aws.String(pw.name),
						Runtime:      ltypes.RuntimeProvidedal2023,
						Handler:      aws.String("bootstrap"),
						Role:         aws.String("arn:aws:iam::000000000000:role/part-sender"),
						Code:         &ltypes.FunctionCode{ZipFile: code},
					})
				} else {
					_, pw.err = sq.SendMessage(rctx, &sqs.SendMessageInput{QueueUrl: aws.String(queues[i]), MessageBody: aws.String(pw.name)})
				}
				cancel()
				pw.stopped = ctx.Err() != nil && pw.err != nil
				w.mu.Lock()
				w.writes = append(w.writes, pw)
				w.mu.Unlock()
				select {
				case <-ctx.Done():
				case <-time.After(500 * time.Millisecond):
				}
			}
		})
	}
	return w
}

// stop stops the writes, waits for those under way and returns them all.
func (w *partWrites) stop() []partWrite {
	w.stopWrites()
	w.wg.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.writes)
}

// partCollect reads the destination records from the sink through s
// until every one of want has come and then three seconds more, to see
// any duplicate, or until timeout passes; it returns how many records
// came of each.
func partCollect(t *testing.T, s *alofttest.Server, sinkURL string, want map[string]bool, timeout time.Duration) map[string]int {
	t.Helper()
	got := map[string]int{}
	complete := func() bool {
		for id := range want {
			if got[id] == 0 {
				return false
			}
		}
		return true
	}
	var done time.Time
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline) && (done.IsZero() || time.Since(done) < 3*time.Second); {
		for _, r := range receiveRecords(t, s, sinkURL, false) {
			got[r.RequestPayload.Text]++
		}
		if done.IsZero() && complete() {
			done = time.Now()
		}
	}
	return got
}

// partFiredBy reads the nodes' logs for the schedules each sent, and
// returns the nodes that sent each schedule's tick, once a send, by name.
func partFiredBy(c *alofttest.Cluster) map[string][]int {
	by := map[string][]int{}
	for i, n := range c.Nodes {
		sc := bufio.NewScanner(strings.NewReader(n.Log()))
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var l struct {
				Msg      string `json:"msg"`
				Schedule string `json:"schedule"`
			}
			if json.Unmarshal(sc.Bytes(), &l) == nil && l.Msg == "schedule fired" {
				name := l.Schedule[strings.LastIndex(l.Schedule, "/")+1:]
				by[name] = append(by[name], i)
			}
		}
	}
	return by
}

// partLeadersMoved polls `aloft cluster status` through s until every
// stream has a leader other than node gone, and returns how long after
// cut that was, or -1 after partElection.
func partLeadersMoved(ctx context.Context, s *alofttest.Server, gone string, cut time.Time) time.Duration {
	for time.Since(cut) < partElection {
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		out, _, code := s.Run(rctx, nil, "cluster", "status", "--output", "json")
		cancel()
		var rep client.ClusterReport
		if code == 0 && json.Unmarshal([]byte(out), &rep) == nil && len(rep.Streams) > 0 && rep.Cluster != nil {
			moved := rep.Cluster.MetaLeader != "" && rep.Cluster.MetaLeader != gone
			for _, st := range rep.Streams {
				if st.Leader == "" || st.Leader == gone {
					moved = false
				}
			}
			if moved {
				return time.Since(cut)
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	return -1
}

// partSettle is how long after the streams and the meta group have
// leaders on the majority a write may still fail: the leaders of the
// consumers a read creates, which the status does not list, can move
// later, and a request sent to a replica on the cut-off node waits until
// the route to it is found dead (two missed pings, 2 s apart, and
// longer on a loaded machine).
const partSettle = 10 * time.Second

// partOneBased returns the node indexes as node numbers.
func partOneBased(nodes []int) []int {
	out := make([]int, len(nodes))
	for i, n := range nodes {
		out[i] = n + 1
	}
	return out
}
