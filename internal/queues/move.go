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
// task runs on the node that started it; its record, in the queues'
// bucket under task.<handle>, is how the others list and cancel it.

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
	rev            uint64
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
	t := &MoveTask{Handle: base64.RawURLEncoding.EncodeToString([]byte(id + " " + sourceArn)), Status: "RUNNING", SourceArn: sourceArn,
		DestinationArn: destArn, MaxPerSecond: perSecond, ToMove: c.Visible + c.InFlight + c.Delayed, Started: time.Now().UnixMilli()}
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
// empty, the task is cancelled, or a move fails.
func (s *Service) runMove(id string, t MoveTask, src *record) {
	ctx := context.Background()
	save := func(status, reason string) {
		for range 10 {
			s.mu.RLock()
			cur := s.tasks[id]
			s.mu.RUnlock()
			if cur == nil {
				return
			}
			c := *cur
			c.Moved = t.Moved
			if status != "" {
				c.Status, c.FailureReason = status, reason
			}
			doc, _ := json.Marshal(&c)
			if _, err := s.kv.Update(ctx, taskPrefix+id, doc, cur.rev); err == nil {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	last := time.Now()
	for {
		s.mu.RLock()
		cur := s.tasks[id]
		s.mu.RUnlock()
		if cur == nil {
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
		if time.Since(last) > time.Second {
			save("", "")
			last = time.Now()
		}
		if t.MaxPerSecond > 0 {
			time.Sleep(time.Duration(len(msgs)) * time.Second / time.Duration(t.MaxPerSecond))
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
