package queues

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/aloft-dev/aloft/internal/ids"
	"github.com/aloft-dev/aloft/internal/store"
)

// FIFO queues keep each message group in order and hand out one batch
// of a group at a time. The backbone has no consumer of that shape, so a
// FIFO queue is read without one:
//
//   - a message is a stream message on sqs.<id>.g.<group key>, in
//     order within its group; the stream deduplicates by
//     MessageDeduplicationId (or the body's SHA-256) over five minutes;
//   - a group's state, in the bucket aloft_fifo, is what of it is in
//     flight (sequences, until when, under which lock) and how often
//     its head messages were received; receiving takes a group's lock
//     by a compare-and-set on that record, so a group is in one
//     receiver's hands across all nodes;
//   - deleting removes the message from the stream and then from the
//     group's state; a receipt handle names the lock it was handed out
//     under, so a stale one is refused.
//
// A long poll waits on the queue's wake subject, which stores and
// deletes publish to, and on a short tick for visibility timeouts.

const fifoBucket = "aloft_fifo"

// groupState is a FIFO group's record.
type groupState struct {
	Lock     string           `json:"lock,omitempty"`     // the lock of the batch in flight
	InFlight map[uint64]int64 `json:"inFlight,omitempty"` // sequence: visible again at (Unix ms)
	Counts   map[uint64]int   `json:"counts,omitempty"`   // sequence: receives
	First    map[uint64]int64 `json:"first,omitempty"`    // sequence: first receive (Unix ms)
}

// busy says whether the group has a message in flight now.
func (g *groupState) busy(now int64) bool {
	for _, until := range g.InFlight {
		if until > now {
			return true
		}
	}
	return false
}

func (r *record) fifo() bool { return r.Attrs[AttrFifo] == "true" }

// groupKey is a message group's subject token.
func groupKey(group string) string {
	sum := sha256.Sum256([]byte(group))
	return hex.EncodeToString(sum[:12])
}

func (r *record) groupSubject(key string) string { return "sqs." + r.ID + ".g." + key }
func (r *record) wakeSubject() string            { return "sqsw." + r.ID }
func stateKey(r *record, key string) string      { return r.ID + "." + key }

// fifoState opens the bucket of FIFO groups' states, the first time it
// is needed. A failure (the cluster electing a leader, a caller that
// gave up) is not kept: the next request tries again.
func (s *Service) fifoState(ctx context.Context) (jetstream.KeyValue, error) {
	kv, err := s.fifoKV.Get(func() (jetstream.KeyValue, error) {
		return s.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: fifoBucket, History: 1, Storage: jetstream.FileStorage})
	})
	if err != nil {
		return nil, fmt.Errorf("queues: the FIFO groups' bucket: %w", err)
	}
	return kv, nil
}

var validGroup = func(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for _, c := range s {
		if c < 0x21 || c > 0x7e {
			return false
		}
	}
	return true
}

// checkFifo checks a message for FIFO queue r: a group, a deduplication
// id unless the queue deduplicates by content, and no delay of its own.
func checkFifo(r *record, m *Message) *Error {
	if m.GroupID == "" {
		return invalid(MissingParameter, "The request must contain the parameter MessageGroupId.")
	}
	if !validGroup(m.GroupID) {
		return invalid(InvalidParameterValue, "Value %s for parameter MessageGroupId is invalid. Reason: MessageGroupId can only include alphanumeric and punctuation characters. 1 to 128 in length.", m.GroupID)
	}
	if m.DedupID == "" && r.Attrs[AttrContentDedup] != "true" {
		return invalid(InvalidParameterValue, "The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly")
	}
	if m.DedupID != "" && !validGroup(m.DedupID) {
		return invalid(InvalidParameterValue, "Value %s for parameter MessageDeduplicationId is invalid. Reason: MessageDeduplicationId can only include alphanumeric and punctuation characters. 1 to 128 in length.", m.DedupID)
	}
	if m.Delay >= 0 {
		return invalid(InvalidParameterValue, "Value %d for parameter DelaySeconds is invalid. Reason: The request include parameter that is not valid for this queue type.", m.Delay)
	}
	return nil
}

// sendFifo stores msgs on FIFO queue r, in order, each once per
// deduplication id within five minutes.
func (s *Service) sendFifo(ctx context.Context, r *record, msgs []*Message, out []Sent, errs []error) {
	for i, m := range msgs {
		if errs[i] != nil {
			continue
		}
		if err := checkFifo(r, m); err != nil {
			errs[i] = err
			continue
		}
		dedup := m.DedupID
		if dedup == "" {
			sum := sha256.Sum256([]byte(m.Body))
			dedup = hex.EncodeToString(sum[:])
		}
		if r.Attrs[AttrDedupScope] == "messageGroup" {
			dedup = m.GroupID + "\x00" + dedup
		}
		nm, sent := s.stored(r, m)
		nm.Subject = r.groupSubject(groupKey(m.GroupID))
		if d := r.seconds(AttrDelay); d > 0 {
			nm.Subject = "sqs." + r.ID + ".d." + nuid.Next()
			nm.Header.Set("Nats-Schedule-Target", r.groupSubject(groupKey(m.GroupID)))
		}
		nm.Header.Set(hGroup, m.GroupID)
		nm.Header.Set(hDedup, m.DedupID)
		nm.Header.Set("Nats-Msg-Id", dedupID(dedup))
		ack, err := s.js.PublishMsg(ctx, nm)
		if err != nil {
			errs[i] = fmt.Errorf("queues: store a message on %s: %w", r.Name, err)
			continue
		}
		if ack.Duplicate {
			// Accepted, not stored again: the first one's id.
			if st, err := s.js.Stream(ctx, r.stream()); err == nil {
				if orig, err := st.GetMsg(ctx, ack.Sequence); err == nil && orig.Header.Get(hID) != "" {
					sent.ID = orig.Header.Get(hID)
				}
			}
		}
		sent.Sequence = sequenceNumber(ack.Sequence)
		out[i] = sent
	}
	s.nc.Publish(r.wakeSubject(), nil)
}

// dedupID is a deduplication key as a message id header carries it.
func dedupID(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// sequenceNumber is a FIFO message's SequenceNumber: its stream sequence,
// in the twenty digits SQS writes.
func sequenceNumber(seq uint64) string { return fmt.Sprintf("%020d", seq) }

// receiveFifo hands out up to o.Max messages of FIFO queue r, from
// groups with nothing in flight, a group's messages in order, waiting as
// the long poll asks.
func (s *Service) receiveFifo(ctx context.Context, r *record, o ReceiveOptions, vis, wait int) ([]*Received, error) {
	kv, err := s.fifoState(ctx)
	if err != nil {
		return nil, err
	}
	if o.AttemptID != "" {
		if !validGroup(o.AttemptID) {
			return nil, invalid(InvalidParameterValue, "Value %s for parameter ReceiveRequestAttemptId is invalid. Reason: it can only include alphanumeric and punctuation characters. 1 to 128 in length.", o.AttemptID)
		}
		if out := s.retried(ctx, kv, r, o.AttemptID); out != nil {
			return out, nil
		}
	}
	deadline := time.Now().Add(time.Duration(wait) * time.Second)
	var wake chan struct{}
	for {
		out, err := s.takeFifoLed(ctx, kv, r, o, vis, deadline)
		if err == nil && len(out) > 0 && o.AttemptID != "" {
			s.remember(r, o.AttemptID, out)
		}
		if err != nil || len(out) > 0 || !time.Now().Before(deadline) {
			return out, err
		}
		if wake == nil {
			// One pending wake-up is enough: later ones are dropped here,
			// not by the connection as a slow consumer's.
			wake = make(chan struct{}, 1)
			sub, err := s.nc.Subscribe(r.wakeSubject(), func(*nats.Msg) {
				select {
				case wake <- struct{}{}:
				default:
				}
			})
			if err != nil {
				return nil, fmt.Errorf("queues: wait on %s: %w", r.Name, err)
			}
			defer sub.Unsubscribe()
			continue // look again, now that no store can be missed
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-wake:
		case <-time.After(min(time.Until(deadline), 250*time.Millisecond)):
		}
	}
}

// fifoAttempt bounds one takeFifo while the queue's stream or its groups'
// state may have no leader: answered requests take milliseconds.
const fifoAttempt = 2 * time.Second

// takeFifoLed is takeFifo through a cluster's elections: while the
// queue's stream or the groups' state bucket has no leader to answer (a
// node of the cluster was lost) it tries again, a little later each
// time, for up to leaderWait past the receive's deadline, then fails
// with an error of kind fault.Unavailable (SQS's 503). Messages taken
// before a later request went unanswered are returned, not lost to
// their visibility timeout.
func (s *Service) takeFifoLed(ctx context.Context, kv jetstream.KeyValue, r *record, o ReceiveOptions, vis int, deadline time.Time) ([]*Received, error) {
	leaderless := func(err error) bool { return ctx.Err() == nil && store.Unanswered(err) }
	return untilLed(ctx, r, deadline.Add(leaderWait), leaderless, func() ([]*Received, error) {
		actx, cancel := context.WithTimeout(ctx, fifoAttempt)
		defer cancel()
		out, err := s.takeFifo(actx, kv, r, o, vis)
		if len(out) > 0 {
			return out, nil // taken: the caller's, whatever went unanswered after
		}
		return out, err
	})
}

// takeFifo takes what it can now: groups in order of their oldest
// message, skipping busy ones, each taken by a compare-and-set of its
// state.
func (s *Service) takeFifo(ctx context.Context, kv jetstream.KeyValue, r *record, o ReceiveOptions, vis int) ([]*Received, error) {
	st, err := s.js.Stream(ctx, r.stream())
	if err != nil {
		return nil, fmt.Errorf("queues: receive from %s: %w", r.Name, err)
	}
	info, err := st.Info(ctx, jetstream.WithSubjectFilter("sqs."+r.ID+".g.>"))
	if err != nil {
		return nil, fmt.Errorf("queues: receive from %s: %w", r.Name, err)
	}
	type group struct {
		key   string
		first uint64
	}
	var groups []group
	for subj := range info.State.Subjects {
		key := subj[strings.LastIndexByte(subj, '.')+1:]
		m, err := st.GetMsg(ctx, 0, jetstream.WithGetMsgSubject(subj))
		if err != nil {
			continue
		}
		groups = append(groups, group{key, m.Sequence})
	}
	slices.SortFunc(groups, func(a, b group) int { return int(a.first) - int(b.first) })
	redrive, _ := parseRedrive(r.Attrs[AttrRedrive])
	now := time.Now().UnixMilli()
	var out []*Received
	for _, g := range groups {
		if len(out) >= o.Max {
			break
		}
		e, err := kv.Get(ctx, stateKey(r, g.key))
		var state groupState
		var rev uint64
		if err == nil {
			rev = e.Revision()
			json.Unmarshal(e.Value(), &state)
		} else if !errors.Is(err, jetstream.ErrKeyNotFound) {
			return out, fmt.Errorf("queues: group state: %w", err)
		}
		if state.busy(now) {
			continue
		}
		// The group's messages in order, as many as the batch takes.
		var msgs []*jetstream.RawStreamMsg
		var moved []*jetstream.RawStreamMsg
		for seq := g.first; len(msgs) < o.Max-len(out); {
			m, err := st.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(r.groupSubject(g.key)))
			if err != nil {
				break
			}
			seq = m.Sequence + 1
			if redrive != nil && state.Counts[m.Sequence]+1 > redrive.MaxReceiveCount {
				moved = append(moved, m)
				continue
			}
			msgs = append(msgs, m)
		}
		next := groupState{Lock: ids.Hex(), InFlight: map[uint64]int64{}, Counts: map[uint64]int{}, First: map[uint64]int64{}}
		for _, m := range msgs {
			next.InFlight[m.Sequence] = now + int64(vis)*1000
			next.Counts[m.Sequence] = state.Counts[m.Sequence] + 1
			next.First[m.Sequence] = state.First[m.Sequence]
			if next.First[m.Sequence] == 0 {
				next.First[m.Sequence] = now
			}
		}
		doc, _ := json.Marshal(next)
		var taken uint64
		if rev == 0 {
			taken, err = kv.Create(ctx, stateKey(r, g.key), doc)
		} else {
			taken, err = kv.Update(ctx, stateKey(r, g.key), doc, rev)
		}
		if err != nil {
			continue // another receiver took the group
		}
		// The messages were read before the group was taken: a batch
		// another receiver took, handled and deleted meanwhile may have
		// held some of them. Deletes come before the state that frees
		// the group, so what is still there now is the group's to give.
		msgs = s.stillStored(ctx, kv, st, r, g.key, msgs, next, taken)
		for _, m := range moved {
			if err := s.redriveFifo(ctx, r, redrive, m); err != nil {
				s.log.Warn("queues: moving a message to its dead-letter queue failed; it stays", "queue", r.Name, "err", err)
			}
		}
		for _, m := range msgs {
			out = append(out, s.receivedFifo(r, m, g.key, next, o))
		}
	}
	return out, nil
}

// stillStored returns those of msgs still in stream st, having taken
// the others out of the group's new state (next, at revision rev).
func (s *Service) stillStored(ctx context.Context, kv jetstream.KeyValue, st jetstream.Stream, r *record, key string, msgs []*jetstream.RawStreamMsg, next groupState, rev uint64) []*jetstream.RawStreamMsg {
	kept := msgs[:0:0]
	for _, m := range msgs {
		if _, err := st.GetMsg(ctx, m.Sequence); errors.Is(err, jetstream.ErrMsgNotFound) {
			delete(next.InFlight, m.Sequence)
			delete(next.Counts, m.Sequence)
			delete(next.First, m.Sequence)
			continue
		}
		kept = append(kept, m)
	}
	if len(kept) == len(msgs) {
		return msgs
	}
	doc, _ := json.Marshal(next)
	if _, err := kv.Update(ctx, stateKey(r, key), doc, rev); err != nil {
		// The group stays held for the gone messages until their
		// visibility timeout ends; the batch is still right.
		s.log.Warn("queues: freeing the gone messages of a FIFO batch", "queue", r.Name, "err", err)
	}
	return kept
}

// receivedFifo is what Receive returns of stream message m of group key.
func (s *Service) receivedFifo(r *record, m *jetstream.RawStreamMsg, key string, state groupState, o ReceiveOptions) *Received {
	nm := &nats.Msg{Header: m.Header, Data: m.Data, Reply: "fifo " + key + " " + strconv.FormatUint(m.Sequence, 10) + " " + state.Lock}
	out := s.received(r, nm, uint64(state.Counts[m.Sequence]), o)
	if out.System != nil {
		if systemWanted("ApproximateFirstReceiveTimestamp", o.SystemNames) {
			out.System["ApproximateFirstReceiveTimestamp"] = strconv.FormatInt(state.First[m.Sequence], 10)
		}
		for k, v := range map[string]string{"MessageGroupId": m.Header.Get(hGroup), "MessageDeduplicationId": m.Header.Get(hDedup),
			"SequenceNumber": sequenceNumber(m.Sequence)} {
			if v != "" && systemWanted(k, o.SystemNames) {
				out.System[k] = v
			}
		}
		if out.System["MessageDeduplicationId"] == "" && systemWanted("MessageDeduplicationId", o.SystemNames) {
			sum := sha256.Sum256(m.Data)
			out.System["MessageDeduplicationId"] = hex.EncodeToString(sum[:])
		}
	}
	return out
}

// fifoHandle is what a FIFO receipt handle names.
type fifoHandle struct {
	key  string
	seq  uint64
	lock string
}

func parseFifoHandle(ack string) (fifoHandle, bool) {
	parts := strings.Split(ack, " ")
	if len(parts) != 4 || parts[0] != "fifo" {
		return fifoHandle{}, false
	}
	seq, err := strconv.ParseUint(parts[2], 10, 64)
	return fifoHandle{parts[1], seq, parts[3]}, err == nil
}

// settleFifo deletes (secs < 0) or hides for secs seconds the message a
// FIFO receipt handle names, refusing a handle whose batch is no longer
// the group's.
func (s *Service) settleFifo(ctx context.Context, r *record, h fifoHandle, secs int) error {
	kv, err := s.fifoState(ctx)
	if err != nil {
		return err
	}
	expired := invalid(ReceiptHandleIsInvalid, "The receipt handle has expired.")
	for range 10 {
		e, err := kv.Get(ctx, stateKey(r, h.key))
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return expired
		}
		if err != nil {
			return fmt.Errorf("queues: group state: %w", err)
		}
		var state groupState
		json.Unmarshal(e.Value(), &state)
		if _, ok := state.InFlight[h.seq]; !ok || state.Lock != h.lock {
			return expired
		}
		if secs < 0 {
			// The message goes first: should the state's update be
			// lost, the group frees itself when the batch's time is up.
			if st, err := s.js.Stream(ctx, r.stream()); err == nil {
				if err := st.DeleteMsg(ctx, h.seq); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
					return fmt.Errorf("queues: delete: %w", err)
				}
			}
			delete(state.InFlight, h.seq)
			delete(state.Counts, h.seq)
			delete(state.First, h.seq)
		} else {
			state.InFlight[h.seq] = time.Now().UnixMilli() + int64(secs)*1000
		}
		doc, _ := json.Marshal(state)
		if len(state.InFlight) == 0 && len(state.Counts) == 0 {
			err = kv.Delete(ctx, stateKey(r, h.key), jetstream.LastRevision(e.Revision()))
		} else {
			_, err = kv.Update(ctx, stateKey(r, h.key), doc, e.Revision())
		}
		if err == nil {
			s.nc.Publish(r.wakeSubject(), nil)
			return nil
		}
	}
	return fmt.Errorf("queues: group state: too many concurrent changes")
}

// redriveFifo moves stream message m of FIFO queue r to its dead-letter
// queue: stored there under an id the backbone deduplicates, then
// deleted here.
func (s *Service) redriveFifo(ctx context.Context, r *record, p *RedrivePolicy, m *jetstream.RawStreamMsg) error {
	dlq, qerr := s.get(arnName(p.DeadLetterTargetArn))
	if qerr != nil {
		return fmt.Errorf("dead-letter queue %s: %w", p.DeadLetterTargetArn, qerr)
	}
	h := nats.Header{}
	for k, v := range m.Header {
		if strings.HasPrefix(k, "Sqs-") {
			h[k] = v
		}
	}
	h.Set("Nats-Msg-Id", "redrive."+r.ID+"."+strconv.FormatUint(m.Sequence, 10))
	h.Set(hSource, r.Name)
	subject := dlq.subject()
	if dlq.fifo() {
		subject = dlq.groupSubject(groupKey(m.Header.Get(hGroup)))
	}
	if _, err := s.js.PublishMsg(ctx, &nats.Msg{Subject: subject, Header: h, Data: m.Data}); err != nil {
		return err
	}
	st, err := s.js.Stream(ctx, r.stream())
	if err != nil {
		return err
	}
	if err := st.DeleteMsg(ctx, m.Sequence); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
		return err
	}
	return nil
}

// countsFifo returns FIFO queue r's counts: what its groups hold in
// flight now, the rest of its messages waiting.
func (s *Service) countsFifo(ctx context.Context, r *record) (Counts, error) {
	kv, err := s.fifoState(ctx)
	if err != nil {
		return Counts{}, fmt.Errorf("queues: counts of %s: %w", r.Name, store.Unavailable(err))
	}
	st, err := s.js.Stream(ctx, r.stream())
	if err != nil {
		return Counts{}, fmt.Errorf("queues: counts of %s: %w", r.Name, store.Unavailable(err))
	}
	all, err := st.Info(ctx)
	if err != nil {
		return Counts{}, fmt.Errorf("queues: counts of %s: %w", r.Name, store.Unavailable(err))
	}
	groups, err := st.Info(ctx, jetstream.WithSubjectFilter("sqs."+r.ID+".g.>"))
	if err != nil {
		return Counts{}, fmt.Errorf("queues: counts of %s: %w", r.Name, store.Unavailable(err))
	}
	var stored int64
	for _, n := range groups.State.Subjects {
		stored += int64(n)
	}
	var inFlight int64
	now := time.Now().UnixMilli()
	if keys, err := kv.ListKeysFiltered(ctx, r.ID+".>"); err == nil {
		for k := range keys.Keys() {
			if e, err := kv.Get(ctx, k); err == nil {
				var state groupState
				json.Unmarshal(e.Value(), &state)
				for _, until := range state.InFlight {
					if until > now {
						inFlight++
					}
				}
			}
		}
	}
	return Counts{Visible: max(stored-inFlight, 0), InFlight: inFlight, Delayed: max(int64(all.State.Msgs)-stored, 0)}, nil
}

// purgeFifo forgets FIFO queue r's groups' states.
func (s *Service) purgeFifo(ctx context.Context, r *record) {
	kv, err := s.fifoState(ctx)
	if err != nil {
		return
	}
	if keys, err := kv.ListKeysFiltered(ctx, r.ID+".>"); err == nil {
		for k := range keys.Keys() {
			kv.Delete(ctx, k)
		}
	}
}

// attempt is what a receive with a ReceiveRequestAttemptId returned.
type attempt struct {
	out     []*Received
	handles []fifoHandle
	expires time.Time
}

// remember keeps what a receive with attempt id returned, for five
// minutes, on this node.
func (s *Service) remember(r *record, id string, out []*Received) {
	a := &attempt{out: out, expires: time.Now().Add(5 * time.Minute)}
	for _, m := range out {
		ack, _ := s.open(r, m.Handle)
		h, _ := parseFifoHandle(ack)
		a.handles = append(a.handles, h)
	}
	s.attemptsMu.Lock()
	defer s.attemptsMu.Unlock()
	if s.attempts == nil {
		s.attempts = map[string]*attempt{}
	}
	now := time.Now()
	for k, old := range s.attempts {
		if now.After(old.expires) {
			delete(s.attempts, k)
		}
	}
	s.attempts[r.ID+" "+id] = a
}

// retried returns what the receive with attempt id returned, if it is
// remembered and its messages are all still in flight under the same
// batch; nil otherwise.
func (s *Service) retried(ctx context.Context, kv jetstream.KeyValue, r *record, id string) []*Received {
	s.attemptsMu.Lock()
	a := s.attempts[r.ID+" "+id]
	s.attemptsMu.Unlock()
	if a == nil || time.Now().After(a.expires) {
		return nil
	}
	now := time.Now().UnixMilli()
	for _, h := range a.handles {
		e, err := kv.Get(ctx, stateKey(r, h.key))
		if err != nil {
			return nil
		}
		var state groupState
		json.Unmarshal(e.Value(), &state)
		if state.Lock != h.lock || state.InFlight[h.seq] <= now {
			return nil
		}
	}
	return a.out
}
