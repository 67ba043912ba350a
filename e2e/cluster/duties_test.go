package cluster

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	stypes "github.com/aws/aws-sdk-go-v2/service/scheduler/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/aloft-dev/aloft/internal/alofttest"
	"github.com/aloft-dev/aloft/internal/lease"
)

// dutyFunction is the function the schedules invoke (e2e/functions/gofn,
// op "noop"); every invocation that succeeds sends its destination
// record, with the schedule's input, to the queue dutySink.
const (
	dutyFunction = "duty-tick"
	dutySink     = "duty-fired"
)

// TestScheduleFiresOnceAcrossNodes creates one-time schedules through node
// 2 of three and checks that each is delivered exactly once and fired by
// one node; then it kills the node holding the scheduler's lease and
// checks that schedules made through a survivor still fire exactly once,
// from a survivor, within the lease's TTL.
func TestScheduleFiresOnceAcrossNodes(t *testing.T) {
	alofttest.Binary(t) // built before the clock starts
	began := time.Now()
	c := alofttest.StartCluster(t, 3)
	t.Logf("the cluster formed in %v", time.Since(began).Round(time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	n2 := c.Nodes[1]
	sinkURL := dutySetup(ctx, t, n2)

	// Three one-time schedules a few seconds ahead, through node 2.
	first := []string{"tick-1", "tick-2", "tick-3"}
	for i, name := range first {
		dutySchedule(ctx, t, n2, name, time.Duration(3+i)*time.Second)
	}
	dutyCollect(t, n2, sinkURL, first, 30*time.Second)
	holder, _ := dutyCheckOnce(t, c, first, -1)
	t.Logf("node %d holds the scheduler's lease and fired %v", holder+1, first)

	// Every stream (the leases' bucket too) is replicated before a node
	// is lost, so that the survivors keep a majority of each.
	alofttest.WaitReplicated(t, n2, 3)
	t.Logf("every stream has three replicas %v after the start", time.Since(began).Round(time.Millisecond))

	// The holder dies; schedules made through a survivor fire once, from
	// a survivor, within the lease's TTL (and a renewal interval, and an
	// election of the lease bucket's leader) of the holder's last renewal,
	// so at most that late.
	survivor := c.Nodes[(holder+1)%3]
	c.Nodes[holder].Kill()
	killed := time.Now()
	second := []string{"tick-4", "tick-5", "tick-6"}
	for i, name := range second {
		dutySchedule(ctx, t, survivor, name, time.Duration(2+i)*time.Second)
	}
	// The lease lapses on the lease bucket's leader: when the dead node
	// led that bucket too, its survivors first elect another, which takes
	// up to the backbone's longest election timeout (6 s on a cluster).
	limit := lease.DefaultTTL + lease.DefaultTTL/3 + 2*time.Second + 6*time.Second
	var fired int
	var late time.Duration
	for deadline := time.Now().Add(limit + 10*time.Second); ; time.Sleep(200 * time.Millisecond) {
		var err error
		if fired, late, err = dutyFired(c, second, holder); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatal(err)
		}
	}
	t.Logf("after node %d was killed, node %d took the lease and fired %v, at most %v late (%v after the kill)",
		holder+1, fired+1, second, late.Round(time.Millisecond), time.Since(killed).Round(time.Millisecond))
	if late > limit {
		t.Errorf("schedules due 2-4 s after the kill fired up to %v late, more than the lease's TTL, a renewal interval and an election (%v)", late, limit)
	}

	// Each is delivered once. The killed node comes back first: what the
	// event queue kept on it alone (a consumer not yet replicated) is
	// needed to invoke the function.
	c.Nodes[holder].Restart()
	dutyCollect(t, survivor, dutySinkAt(ctx, t, survivor), second, 60*time.Second)
	if _, _, err := dutyFired(c, second, holder); err != nil {
		t.Fatalf("once the killed node is back: %v", err)
	}
}

// dutySetup creates, through s, the function, its OnSuccess destination
// queue and a role that may send to it, and returns the queue's URL.
func dutySetup(ctx context.Context, t *testing.T, s *alofttest.Server) string {
	t.Helper()
	return deployRecorder(ctx, t, s, dutyFunction, dutySink, alofttest.GoFunction(t, "e2e/functions/gofn", "v1"), 10, aws.Int32(0))
}

// dutySinkAt returns the destination queue's URL at s.
func dutySinkAt(ctx context.Context, t *testing.T, s *alofttest.Server) string {
	t.Helper()
	q, err := s.SQS().GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(dutySink)})
	if err != nil {
		t.Fatalf("the destination queue at %s: %v", s.URL, err)
	}
	return aws.ToString(q.QueueUrl)
}

// dutySchedule creates through s a one-time schedule, name, due in
// about d (at() counts whole seconds), that invokes the function with
// its name as the text. Just after a node's loss the backbone's streams
// it led elect new leaders, and a write fails for a few seconds: the
// creation is tried again, as a client would, for up to 20 seconds.
func dutySchedule(ctx context.Context, t *testing.T, s *alofttest.Server, name string, d time.Duration) {
	t.Helper()
	sc := scheduler.NewFromConfig(s.Config(), func(o *scheduler.Options) { o.BaseEndpoint = aws.String(s.URL) })
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		when := time.Now().UTC().Add(d).Format("2006-01-02T15:04:05")
		_, err := sc.CreateSchedule(ctx, &scheduler.CreateScheduleInput{
			Name:               aws.String(name),
			ScheduleExpression: aws.String("at(" + when + ")"),
			FlexibleTimeWindow: &stypes.FlexibleTimeWindow{Mode: stypes.FlexibleTimeWindowModeOff},
			Target: &stypes.Target{Arn: aws.String("arn:aws:lambda:us-east-1:000000000000:function:" + dutyFunction),
				RoleArn: aws.String("arn:aws:iam::000000000000:role/duty-sender"), Input: aws.String(`{"op":"noop","text":"` + name + `"}`)},
		})
		var conflict *stypes.ConflictException
		if err == nil || errors.As(err, &conflict) { // a try that failed but was stored
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("create schedule %s through %s: %v", name, s.URL, err)
		}
		t.Logf("create schedule %s through %s: %v; trying again", name, s.URL, err)
	}
}

// dutyCollect reads the destination records from the sink through s
// until every one of want has come and then three seconds more, to see
// any duplicate, failing after timeout. It returns when each record
// arrived, by schedule, failing on a duplicate.
func dutyCollect(t *testing.T, s *alofttest.Server, sinkURL string, want []string, timeout time.Duration) map[string]time.Time {
	t.Helper()
	got := map[string]time.Time{}
	var complete time.Time
	for deadline := time.Now().Add(timeout); complete.IsZero() || time.Since(complete) < 3*time.Second; {
		if time.Now().After(deadline) {
			t.Fatalf("after %v the destination has records of %v, want %v", timeout, dutyKeys(got), want)
		}
		for _, r := range receiveRecords(t, s, sinkURL, true) {
			if _, dup := got[r.RequestPayload.Text]; dup {
				t.Fatalf("schedule %s was delivered twice", r.RequestPayload.Text)
			}
			got[r.RequestPayload.Text] = time.Now()
		}
		if complete.IsZero() && len(got) >= len(want) {
			complete = time.Now()
		}
	}
	for _, name := range want {
		if _, ok := got[name]; !ok {
			t.Fatalf("records of %v, want %v", dutyKeys(got), want)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("records of %v, want only %v", dutyKeys(got), want)
	}
	return got
}

func dutyKeys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// dutyLogLine is what the tests read of a server's log line.
type dutyLogLine struct {
	Time      time.Time `json:"time"`
	Msg       string    `json:"msg"`
	Lease     string    `json:"lease"`
	Schedule  string    `json:"schedule"`
	Scheduled time.Time `json:"scheduled_time"`
}

// dutyCheckOnce checks in the nodes' logs (but gone's, -1 for none) that
// each schedule of names was fired once, all by the one node that holds
// the scheduler's lease, and returns that node's index and how late
// after its time the latest of them fired.
func dutyCheckOnce(t *testing.T, c *alofttest.Cluster, names []string, gone int) (holder int, late time.Duration) {
	t.Helper()
	holder, late, err := dutyFired(c, names, gone)
	if err != nil {
		t.Fatal(err)
	}
	return holder, late
}

// dutyFired is dutyCheckOnce's reading of the logs; it says what is
// wrong, if anything. Node gone's log counts only for the schedules it
// fired, since it was killed holding the lease.
func dutyFired(c *alofttest.Cluster, names []string, gone int) (holder int, late time.Duration, err error) {
	firedBy := map[string][]int{}
	holder = -1
	for i, n := range c.Nodes {
		held := false
		sc := bufio.NewScanner(strings.NewReader(n.Log()))
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var l dutyLogLine
			if json.Unmarshal(sc.Bytes(), &l) != nil {
				continue
			}
			switch {
			case l.Msg == "schedule fired":
				name := l.Schedule[strings.LastIndex(l.Schedule, "/")+1:]
				firedBy[name] = append(firedBy[name], i)
				for _, n := range names {
					if n == name {
						late = max(late, l.Time.Sub(l.Scheduled))
					}
				}
			case l.Lease == "scheduler" && l.Msg == "lease taken":
				held = true
			case l.Lease == "scheduler" && (l.Msg == "lease given up" || l.Msg == "lease lost"):
				held = false
			}
		}
		if held && i != gone {
			if holder >= 0 {
				return -1, 0, fmt.Errorf("nodes %d and %d both hold the scheduler's lease", holder+1, i+1)
			}
			holder = i
		}
	}
	if holder < 0 {
		return -1, 0, fmt.Errorf("no node holds the scheduler's lease")
	}
	for _, name := range names {
		if by := firedBy[name]; len(by) != 1 || by[0] != holder {
			return -1, 0, fmt.Errorf("schedule %s was fired by nodes %v, want once by node %d, the lease's holder", name, by, holder+1)
		}
	}
	return holder, late, nil
}
