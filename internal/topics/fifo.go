package topics

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/aloft-dev/aloft/internal/ids"
)

// FIFO topics deliver to SQS queues only, in order within a message
// group. Publishing stores the message straight on every matching
// subscriber's queue before it answers (a FIFO queue keeps the group's
// order), so there is no delivery to retry: a publish that failed half
// way is retried by its client. Each publish first takes a sequence
// number from the stream SNS_FIFO, which also recognises a repeated
// publish (same deduplication id within five minutes): it is delivered
// again under the first one's message id, which FIFO queues drop as a
// duplicate.

const fifoStream = "SNS_FIFO"

func (s *Service) fifoSequences(ctx context.Context) (jetstream.Stream, error) {
	st, err := s.fifoSeq.Get(func() (jetstream.Stream, error) {
		return s.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: fifoStream, Subjects: []string{"snsfifo.>"},
			Storage: jetstream.FileStorage, MaxAge: 10 * time.Minute, Duplicates: 5 * time.Minute})
	})
	if err != nil {
		return nil, fmt.Errorf("topics: FIFO sequences: %w", err)
	}
	return st, nil
}

// publishFifo publishes msgs to FIFO topic t, in order.
func (s *Service) publishFifo(ctx context.Context, t *topic, msgs []*Message) ([]Published, error) {
	seqs, err := s.fifoSequences(ctx)
	if err != nil {
		return nil, err
	}
	s.mu.RLock()
	var subs []*subscription
	for _, sub := range s.subs {
		if sub.Topic == t.Name {
			subs = append(subs, sub)
		}
	}
	s.mu.RUnlock()
	out := make([]Published, len(msgs))
	for i, m := range msgs {
		if err := checkMessage(m); err != nil {
			out[i].Err = err
			continue
		}
		if m.GroupID == "" {
			out[i].Err = invalid("The MessageGroupId parameter is required for FIFO topics")
			continue
		}
		dedup := m.DedupID
		if dedup == "" {
			if t.Attrs["ContentBasedDeduplication"] != "true" {
				out[i].Err = invalid("The topic should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly")
				continue
			}
			sum := sha256.Sum256([]byte(m.Message))
			dedup = hex.EncodeToString(sum[:])
		}
		id := ids.New()
		key := sha256.Sum256([]byte(t.Name + "\x00" + dedup))
		ack, err := s.js.PublishMsg(ctx, &nats.Msg{Subject: "snsfifo." + hex.EncodeToString(key[:8]), Data: []byte(id),
			Header: nats.Header{"Nats-Msg-Id": []string{hex.EncodeToString(key[:])}}})
		if err != nil {
			out[i].Err = fmt.Errorf("topics: publish to %s: %w", t.Name, err)
			continue
		}
		out[i].Sequence = fmt.Sprintf("%020d", ack.Sequence)
		if ack.Duplicate {
			// Published before, perhaps not to every queue (a crash on
			// the way): delivered again under the first id, which the
			// FIFO queues drop if they have it.
			if orig, err := seqs.GetMsg(ctx, ack.Sequence); err == nil {
				id = string(orig.Data)
			}
		}
		out[i].ID = id
		j := job{Type: "Notification", MessageID: id, Timestamp: now(), Message: "", Subject: m.Subject, Attributes: m.Attributes, Sequence: out[i].Sequence}
		for _, sub := range subs {
			f, ferr := compileFilter(sub.Attrs["FilterPolicy"], sub.Attrs["FilterPolicyScope"])
			if ferr != nil || !f.matches(m) {
				continue
			}
			j.Sub, j.Message = sub.ID, messageFor(m, sub.Protocol)
			body := j.Message
			var attrs map[string]Attribute
			if sub.Attrs["RawMessageDelivery"] == "true" {
				attrs = m.Attributes
			} else {
				b, err := s.envelope(sub, &j)
				if err != nil {
					out[i].Err = err
					break
				}
				body = string(b)
			}
			group, qdedup := "", ""
			if strings.HasSuffix(sub.Endpoint, ".fifo") {
				group, qdedup = m.GroupID, id
			}
			if err := s.sendToQueueIn(ctx, sub.Endpoint, body, attrs, group, qdedup); err != nil {
				out[i].Err = fmt.Errorf("topics: deliver to %s: %w", sub.Endpoint, err)
				break
			}
		}
	}
	return out, nil
}
