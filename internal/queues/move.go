package queues

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/aloft-dev/aloft/internal/ids"
)

// Message move tasks (StartMessageMoveTask) move what a dead-letter
// queue holds to another queue, or back to the queues it came from. A
// task runs on one node at a time, first the one that started it; its
// record, in the queues' bucket under task.<handle>, is how the others
// list and cancel it, and the lease its runner holds: the runner stamps
// it (Runner, Beat) at least every beatEvery, and a task whose stamp is
// older than orphanAfter (its node died, or stopped) is taken over by
// whichever node's Service sees it first, with a revision-guarded
// update, and goes on from where it was (each move is deduplicated by
// the backbone, so a message the dead runner had stored but not yet
// deleted is not stored twice). Its Moved count, approximate as SQS's
// is, then leaves out what the dead runner moved after its last stamp.

const taskPrefix = "task."

// MoveTask is a message move task, as ListMessageMoveTasks reports it.
type MoveTask struct {
	Handle         string `json:"handle"`
	Status         string `json:"status"` // RUNNING, COMPLETED, CANCELLING, CANCELLED or FAILED
	SourceArn      string `json:"source"`
	DestinationArn string `json:"destination,omitempty"`
	MaxPerSecond   int    `json:"maxPerSecond,omitempty"`
	Moved          int64  `json:"moved"`
	ToMove         int64  `json:"toMove"`
	FailureReason  string `json:"failure,omitempty"`
	Started        int64  `json:"started"` // Unix ms
	// Runner is the Service running it, and Beat when it last said so
	// (Unix ms).
	Runner string `json:"runner,omitempty"`
	Beat   int64  `json:"beat,omitempty"`
	rev    uint64
}

// The task lease's timing: a runner stamps its task at least every
// beatEvery; a task not stamped for orphanAfter is taken over, looked for
// every adoptEvery. (Variables, for the tests.)
var (
	beatEvery   = time.Second
	orphanAfter = 10 * time.Second
	adoptEvery  = 3 * time.Second
)

// orphaned reports whether t is running or being cancelled without a
// runner that stamped it lately.
func (t *MoveTask) orphaned(now time.Time) bool {
	if t.Status != "RUNNING" && t.Status != "CANCELLING" {
		return false
	}
	beat := t.Beat
	if beat == 0 {
		beat = t.Started
	}
	return now.Sub(time.UnixMilli(beat)) > orphanAfter
}

// adopt takes over, every adoptEvery until Close, the tasks whose runner
// stopped stamping them.
func (s *Service) adopt() {
	defer close(s.adopted)
	tick := time.NewTicker(adoptEvery)
	defer tick.Stop()
	for {
		select {
		case <-s.closing:
			return
		case <-tick.C:
		}
		now := time.Now()
		var orphans []MoveTask
		s.mu.RLock()
		for id, t := range s.tasks {
			if t.orphaned(now) {
				c := *t
				c.Handle = id // the key's id, for the update below
				orphans = append(orphans, c)
			}
		}
		s.mu.RUnlock()
		for _, t := range orphans {
			s.takeOver(t)
		}
	}
}

// takeOver makes this Service the runner of orphaned task t (whose Handle
// holds its id) and runs it, unless another node took it first.
func (s *Service) takeOver(t MoveTask) {
	id := t.Handle
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s.mu.RLock()
	cur := s.tasks[id]
	s.mu.RUnlock()
	if cur == nil || !cur.orphaned(time.Now()) {
		return
	}
	c := *cur
	c.Runner, c.Beat = s.runner, time.Now().UnixMilli()
	doc, _ := json.Marshal(&c)
	rev, err := s.kv.Update(ctx, taskPrefix+id, doc, cur.rev)
	if err != nil {
		return // another node took it, or the backbone cannot take writes now: the next round sees
	}
	s.waitFor(rev)
	s.log.Info("took over a message move task whose runner stopped", "source", c.SourceArn, "moved", c.Moved, "previous_beat_ms_ago", time.Since(time.UnixMilli(cur.Beat)).Milliseconds())
	src, qerr := s.get(arnName(c.SourceArn))
	if qerr != nil {
		s.runMove(id, c, nil) // marks it failed
		return
	}
	go s.runMove(id, c, src)
}

// hSource is the header that names the queue a dead letter came from.
const hSource = "Sqs-Source"

// StartMoveTask starts moving the messages of dead-letter queue
// sourceArn to destArn ("": each back to the queue it came from), at most
// perSecond a second (0: as fast as they go).
func (s *Service) StartMoveTask(ctx context.Context, sourceArn, destArn string, perSecond int) (*MoveTask, error) {
	src, qerr := s.get(arnName(sourceArn))
	if qerr != nil || src.ARN() != sourceArn {
		return nil, invalid(ResourceNotFound, "The resource that you specified for the SourceArn parameter doesn't exist.")
	}
	if src.fifo() {
		return nil, invalid(UnsupportedOperation, "Message move tasks move the messages of standard queues only.")
	}
	if sources, _ := s.DeadLetterSources(src.Name); len(sources) == 0 {
		return nil, invalid(InvalidParameterValue, "Source queue must be configured as a Dead Letter Queue.")
	}
	if destArn != "" {
		dst, qerr := s.get(arnName(destArn))
		if qerr != nil || dst.ARN() != destArn {
			return nil, invalid(ResourceNotFound, "The resource that you specified for the DestinationArn parameter doesn't exist.")
		}
		if dst.fifo() || dst.ID == src.ID {
			return nil, invalid(InvalidParameterValue, "The destination must be another standard queue.")
		}
	}
	if perSecond < 0 || perSecond > 500 {
		return nil, invalid(InvalidParameterValue, "Value %d for parameter MaxNumberOfMessagesPerSecond is invalid. Reason: Must be between 1 and 500.", perSecond)
	}
	for _, t := range s.MoveTasks(sourceArn) {
		if t.Status == "RUNNING" || t.Status == "CANCELLING" {
			return nil, invalid(UnsupportedOperation, "There is already a task running. Only one active task is allowed for a source queue arn at a given time.")
		}
	}
	c, err := s.Counts(ctx, src.Name)
	if err != nil {
		return nil, err
	}
	id := ids.New()
	now := time.Now().UnixMilli()
	t := &MoveTask{Handle: base64.RawURLEncoding.EncodeToString([]byte(id + " " + sourceArn)), Status: "RUNNING", SourceArn: sourceArn,
		DestinationArn: destArn, MaxPerSecond: perSecond, ToMove: c.Visible + c.InFlight + c.Delayed, Started: now,
		Runner: s.runner, Beat: now}
	doc, _ := json.Marshal(t)
	rev, err := s.kv.Create(ctx, taskPrefix+id, doc)
	if err != nil {
		return nil, fmt.Errorf("queues: start a move task: %w", err)
	}
	s.waitFor(rev)
	t.rev = rev
	go s.runMove(id, *t, src)
	return t, nil
}

// MoveTasks returns the move tasks of source queue sourceArn, the most
// recent first.
func (s *Service) MoveTasks(sourceArn string) []MoveTask {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []MoveTask
	for _, t := range s.tasks {
		if t.SourceArn == sourceArn {
			out = append(out, *t)
		}
	}
	slices.SortFunc(out, func(a, b MoveTask) int { return int(b.Started - a.Started) })
	return out
}

// CancelMoveTask asks the running task with handle to stop; it returns
// how many messages the task had moved.
func (s *Service) CancelMoveTask(ctx context.Context, handle string) (int64, error) {
	raw, err := base64.RawURLEncoding.DecodeString(handle)
	id, _, ok := strings.Cut(string(raw), " ")
	if err != nil || !ok {
		return 0, invalid(ResourceNotFound, "The resource that you specified for the TaskHandle parameter doesn't exist.")
	}
	for range 10 {
		s.mu.RLock()
		t := s.tasks[id]
		s.mu.RUnlock()
		if t == nil {
			return 0, invalid(ResourceNotFound, "The resource that you specified for the TaskHandle parameter doesn't exist.")
		}
		if t.Status != "RUNNING" {
			return 0, invalid(UnsupportedOperation, "Only a running task can be cancelled; this one is %s.", t.Status)
		}
		c := *t
		c.Status = "CANCELLING"
		doc, _ := json.Marshal(&c)
		rev, err := s.kv.Update(ctx, taskPrefix+id, doc, t.rev)
		if errors.Is(err, jetstream.ErrKeyExists) {
			time.Sleep(10 * time.Millisecond)
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("queues: cancel a move task: %w", err)
		}
		s.waitFor(rev)
		return c.Moved, nil
	}
	return 0, fmt.Errorf("queues: cancel a move task: too many concurrent changes")
}

// runMove moves the messages of queue src for task t until the queue is
// empty, the task is cancelled, a move fails, or another runner took the
// task over; a nil src (the queue is gone) fails it.
func (s *Service) runMove(id string, t MoveTask, src *record) {
	ctx := context.Background()
	// save stamps the task (and sets its status, if given); it reports
	// false when the task is no longer this runner's.
	save := func(status, reason string) bool {
		for range 10 {
			s.mu.RLock()
			cur := s.tasks[id]
			s.mu.RUnlock()
			if cur == nil || cur.Runner != s.runner {
				return false
			}
			c := *cur
			c.Moved, c.Beat = t.Moved, time.Now().UnixMilli()
			if status != "" {
				c.Status, c.FailureReason = status, reason
			}
			doc, _ := json.Marshal(&c)
			if rev, err := s.kv.Update(ctx, taskPrefix+id, doc, cur.rev); err == nil {
				s.waitFor(rev)
				return true
			}
			time.Sleep(10 * time.Millisecond)
		}
		return true
	}
	if src == nil {
		save("FAILED", "the source queue no longer exists")
		return
	}
	last := time.Now()
	for {
		select {
		case <-s.closing:
			return // stamped no more: another node takes it over
		default:
		}
		s.mu.RLock()
		cur := s.tasks[id]
		s.mu.RUnlock()
		if cur == nil || cur.Runner != s.runner {
			return
		}
		if cur.Status == "CANCELLING" {
			save("CANCELLED", "")
			return
		}
		n := 10
		if t.MaxPerSecond > 0 {
			n = min(n, t.MaxPerSecond)
		}
		msgs, err := s.pull(ctx, src, n, 0)
		if err != nil {
			save("FAILED", err.Error())
			return
		}
		if len(msgs) == 0 {
			save("COMPLETED", "")
			return
		}
		for _, m := range msgs {
			if err := s.move(ctx, id, t.DestinationArn, m); err != nil {
				s.hide(m.Reply, 0)
				save("FAILED", err.Error())
				return
			}
			t.Moved++
		}
		if time.Since(last) >= beatEvery {
			if !save("", "") {
				return
			}
			last = time.Now()
		}
		if t.MaxPerSecond > 0 {
			time.Sleep(time.Duration(len(msgs)) * time.Second / time.Duration(t.MaxPerSecond)) // at most a second: a batch is at most a second's messages
		}
	}
}

// move stores delivery m on the destination (or the queue it came from)
// under an id the backbone deduplicates, then deletes it here.
func (s *Service) move(ctx context.Context, task, destArn string, m *nats.Msg) error {
	dest := arnName(destArn)
	if destArn == "" {
		dest = m.Header.Get(hSource)
	}
	dst, qerr := s.get(dest)
	if qerr != nil || dest == "" {
		return fmt.Errorf("the destination queue %q does not exist", dest)
	}
	md, err := m.Metadata()
	if err != nil {
		return err
	}
	h := nats.Header{}
	for k, v := range m.Header {
		if strings.HasPrefix(k, "Sqs-") && k != hSource {
			h[k] = v
		}
	}
	h.Set("Nats-Msg-Id", "move."+task+"."+strconv.FormatUint(md.Sequence.Stream, 10))
	if _, err := s.js.PublishMsg(ctx, &nats.Msg{Subject: dst.subject(), Header: h, Data: m.Data}); err != nil {
		return err
	}
	return s.ack(ctx, m.Reply)
}
