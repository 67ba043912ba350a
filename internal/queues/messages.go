package queues

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/aloft-dev/aloft/internal/fault"
	"github.com/aloft-dev/aloft/internal/ids"
	"github.com/aloft-dev/aloft/internal/store"
)

// Attribute is a message attribute: a data type (String, Number, Binary,
// each optionally with a .label) and its value.
type Attribute struct {
	DataType    string `json:"DataType"`
	StringValue string `json:"StringValue,omitempty"`
	BinaryValue []byte `json:"BinaryValue,omitempty"`
}

// Message is a message to send.
type Message struct {
	Body string
	// Delay is the message's delay in seconds; negative means the
	// queue's DelaySeconds.
	Delay      int
	Attributes map[string]Attribute
	// System holds the message system attributes (AWSTraceHeader).
	System map[string]Attribute
	// Sender is who sent it, as SenderId reports.
	Sender string
	// GroupID and DedupID are a FIFO queue's MessageGroupId and
	// MessageDeduplicationId.
	GroupID, DedupID string
}

// Sent is what SendMessage reports of a message.
type Sent struct {
	ID, MD5Body, MD5Attributes, MD5System string
	Sequence                              string // a FIFO message's SequenceNumber
}

// Received is a message handed out by Receive.
type Received struct {
	ID, Handle, Body, MD5Body, MD5Attributes string
	Attributes                               map[string]Attribute
	// System holds the system attributes asked for: SentTimestamp,
	// SenderId, ApproximateReceiveCount, ...
	System map[string]string
}

// Header names of a stored message.
const (
	hID     = "Sqs-Id"
	hSent   = "Sqs-Sent"
	hSender = "Sqs-Sender"
	hAttrs  = "Sqs-Attrs"
	hTrace  = "Sqs-Trace"
	hGroup  = "Sqs-Group"
	hDedup  = "Sqs-Dedup"
)

// shortPoll is how long a receive without a wait waits for a message
// that is arriving.
const shortPoll = 20 * time.Millisecond

// maxBatch is the most entries a batch request carries.
const maxBatch = 10

// CheckMessage validates m for queue name, returning the refusal SQS
// gives a bad message.
func (s *Service) CheckMessage(name string, m *Message) error {
	r, qerr := s.get(name)
	if qerr != nil {
		return qerr
	}
	return checkMessage(r, m)
}

func checkMessage(r *record, m *Message) *Error {
	if m.Body == "" {
		return invalid(MissingParameter, "The request must contain the parameter MessageBody.")
	}
	if m.Delay > 900 {
		return invalid(InvalidParameterValue, "Value %d for parameter DelaySeconds is invalid. Reason: DelaySeconds must be >= 0 and <= 900.", m.Delay)
	}
	if err := validText(m.Body); err != nil {
		return err
	}
	size := len(m.Body)
	if len(m.Attributes) > 10 {
		return invalid(InvalidParameterValue, "Number of message attributes [%d] exceeds the allowed maximum [10].", len(m.Attributes))
	}
	for name, a := range m.Attributes {
		if err := checkAttribute(name, a); err != nil {
			return err
		}
		size += len(name) + len(a.DataType) + len(a.StringValue) + len(a.BinaryValue)
	}
	for name, a := range m.System {
		if name != "AWSTraceHeader" {
			return invalid(InvalidParameterValue, "Message system attribute name '%s' is invalid.", name)
		}
		if a.DataType != "String" || a.StringValue == "" {
			return invalid(InvalidParameterValue, "Message system attribute AWSTraceHeader must be a String.")
		}
	}
	if limit := r.seconds(AttrMaxSize); size > limit {
		return invalid(InvalidParameterValue, "One or more parameters are invalid. Reason: Message must be shorter than %d bytes.", limit)
	}
	return nil
}

// validText refuses characters SQS does not take in a message: only #x9,
// #xA, #xD, #x20 to #xD7FF, #xE000 to #xFFFD and #x10000 to #x10FFFF.
func validText(s string) *Error {
	for i, c := range s {
		ok := c == 0x9 || c == 0xA || c == 0xD || (c >= 0x20 && c <= 0xD7FF) || (c >= 0xE000 && c <= 0xFFFD) || (c >= 0x10000 && c <= 0x10FFFF)
		if !ok || (c == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD")) {
			return invalid(InvalidMessageContents, "Invalid characters found. Valid unicode characters are #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF")
		}
	}
	return nil
}

func checkAttribute(name string, a Attribute) *Error {
	if name == "" || len(name) > 256 || strings.HasPrefix(strings.ToLower(name), "aws.") || strings.HasPrefix(strings.ToLower(name), "amazon.") ||
		strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".") || strings.Contains(name, "..") {
		return invalid(InvalidParameterValue, "Message attribute name '%s' is invalid.", name)
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return invalid(InvalidParameterValue, "Message attribute name '%s' is invalid.", name)
		}
	}
	base, _, _ := strings.Cut(a.DataType, ".")
	switch base {
	case "String", "Number":
		if a.StringValue == "" {
			return invalid(InvalidParameterValue, "Message attribute '%s' must contain a non-empty message attribute value for message attribute type '%s'.", name, base)
		}
		if len(a.BinaryValue) > 0 {
			return invalid(InvalidParameterValue, "Message attribute '%s' with type '%s' must use field 'String'.", name, base)
		}
		if base == "Number" {
			if _, err := strconv.ParseFloat(a.StringValue, 64); err != nil {
				return invalid(InvalidParameterValue, "Could not cast message attribute '%s' value to number.", name)
			}
		}
		return validText(a.StringValue)
	case "Binary":
		if len(a.BinaryValue) == 0 {
			return invalid(InvalidParameterValue, "Message attribute '%s' must contain a non-empty message attribute value for message attribute type 'Binary'.", name)
		}
		if a.StringValue != "" {
			return invalid(InvalidParameterValue, "Message attribute '%s' with type 'Binary' must use field 'Binary'.", name)
		}
		return nil
	}
	return invalid(InvalidParameterValue, "The type of message (user) attribute '%s' is invalid. You must use only the following supported type prefixes: Binary, Number, String.", name)
}

// Send stores messages on queue name, each acknowledged on disk before
// Send returns: the message's result, or its refusal, by index.
func (s *Service) Send(ctx context.Context, name string, msgs []*Message) ([]Sent, []error, error) {
	r, qerr := s.get(name)
	if qerr != nil {
		return nil, nil, qerr
	}
	out := make([]Sent, len(msgs))
	errs := make([]error, len(msgs))
	if r.fifo() {
		for i, m := range msgs {
			if err := checkMessage(r, m); err != nil {
				errs[i] = err
			}
		}
		s.sendFifo(ctx, r, msgs, out, errs)
		return out, errs, nil
	}
	type pending struct {
		i   int
		ack jetstream.PubAckFuture
		msg *nats.Msg
	}
	var waits []pending
	for i, m := range msgs {
		if err := checkMessage(r, m); err != nil {
			errs[i] = err
			continue
		}
		if m.GroupID != "" || m.DedupID != "" {
			errs[i] = invalid(InvalidParameterValue, "The request includes MessageGroupId or MessageDeduplicationId, which are valid only for FIFO queues here.")
			continue
		}
		nm, sent := s.stored(r, m)
		out[i] = sent
		f, err := s.js.PublishMsgAsync(nm)
		if err != nil {
			errs[i] = fmt.Errorf("queues: store a message on %s: %w", name, err)
			continue
		}
		waits = append(waits, pending{i, f, nm})
	}
	for _, w := range waits {
		select {
		case <-w.ack.Ok():
		case err := <-w.ack.Err():
			if store.Unanswered(err) {
				// The stream's group may be electing a leader (a node of
				// the cluster died): the store's handle tries again until
				// one answers. A message stored the first time without an
				// answer is then stored twice, as a standard queue may.
				_, err = s.js.PublishMsg(ctx, w.msg)
			}
			if err != nil {
				errs[w.i] = fmt.Errorf("queues: store a message on %s: %w", name, err)
			}
		case <-ctx.Done():
			errs[w.i] = ctx.Err()
		}
	}
	return out, errs, nil
}

// stored returns the stream message for m on queue r and what SendMessage
// reports of it.
func (s *Service) stored(r *record, m *Message) (*nats.Msg, Sent) {
	id := ids.New()
	sent := Sent{ID: id, MD5Body: md5Hex(m.Body), MD5Attributes: attributesMD5(m.Attributes), MD5System: attributesMD5(m.System)}
	h := nats.Header{}
	h.Set(hID, id)
	h.Set(hSent, strconv.FormatInt(time.Now().UnixMilli(), 10))
	h.Set(hSender, m.Sender)
	if len(m.Attributes) > 0 {
		b, _ := json.Marshal(m.Attributes)
		h.Set(hAttrs, string(b))
	}
	if t, ok := m.System["AWSTraceHeader"]; ok {
		h.Set(hTrace, t.StringValue)
	}
	nm := &nats.Msg{Subject: r.subject(), Header: h, Data: []byte(m.Body)}
	delay := m.Delay
	if delay < 0 {
		delay = r.seconds(AttrDelay)
	}
	if delay > 0 {
		// A schedule that the backbone fires onto the queue's subject
		// when the delay ends.
		nm.Subject = "sqs." + r.ID + ".d." + nuid.Next()
		h.Set("Nats-Schedule", "@at "+time.Now().Add(time.Duration(delay)*time.Second).UTC().Format(time.RFC3339))
		h.Set("Nats-Schedule-Target", r.subject())
	}
	return nm, sent
}

// ReceiveOptions are ReceiveMessage's parameters.
type ReceiveOptions struct {
	Max int // 1 to 10
	// Visibility is how long the messages stay hidden, in seconds;
	// negative means the queue's VisibilityTimeout.
	Visibility int
	// Wait is how long to wait for a message, in seconds; negative
	// means the queue's ReceiveMessageWaitTimeSeconds.
	Wait int
	// SystemNames and AttributeNames name the system attributes and the
	// message attributes to return ("All"; for message attributes also
	// ".*" and "prefix.*").
	SystemNames, AttributeNames []string
	// AttemptID is a FIFO queue's ReceiveRequestAttemptId: a retry with
	// the same id within five minutes gets the same messages while
	// their batch is still in flight.
	AttemptID string
}

// Receive hands out up to o.Max messages of queue name, waiting for
// one as long as the long poll asks, and moving a message received more
// often than the queue's redrive policy allows to its dead-letter queue
// instead of returning it.
func (s *Service) Receive(ctx context.Context, name string, o ReceiveOptions) ([]*Received, error) {
	r, qerr := s.get(name)
	if qerr != nil {
		return nil, qerr
	}
	if o.Max == 0 {
		o.Max = 1
	}
	if o.Max < 1 || o.Max > maxBatch {
		return nil, invalid(InvalidParameterValue, "Value %d for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided.", o.Max)
	}
	if o.Visibility > 43200 {
		return nil, invalid(InvalidParameterValue, "Value %d for parameter VisibilityTimeout is invalid. Reason: Must be between 0 and 43200, if provided.", o.Visibility)
	}
	if o.Wait > 20 {
		return nil, invalid(InvalidParameterValue, "Value %d for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= 20, if provided.", o.Wait)
	}
	vis := o.Visibility
	if vis < 0 {
		vis = r.seconds(AttrVisibility)
	}
	wait := o.Wait
	if wait < 0 {
		wait = r.seconds(AttrWait)
	}
	if r.fifo() {
		return s.receiveFifo(ctx, r, o, vis, wait)
	}
	redrive, _ := parseRedrive(r.Attrs[AttrRedrive])
	deadline := time.Now().Add(time.Duration(wait) * time.Second)
	for {
		msgs, err := s.pull(ctx, r, o.Max, time.Until(deadline))
		if err != nil {
			return nil, err
		}
		var out []*Received
		for _, m := range msgs {
			md, err := m.Metadata()
			if err != nil {
				s.log.Error("queues: a delivery without metadata", "queue", name, "err", err)
				continue
			}
			if redrive != nil && int(md.NumDelivered) > redrive.MaxReceiveCount {
				if err := s.redrive(ctx, r, redrive, m, md.Sequence.Stream); err != nil {
					s.log.Warn("queues: moving a message to its dead-letter queue failed; it stays", "queue", name, "err", err)
				}
				continue
			}
			if vis == 0 || time.Duration(vis)*time.Second != ackWait(r.seconds(AttrVisibility)) {
				// Hidden for another time than the consumer's ack wait.
				s.hide(m.Reply, vis)
			}
			out = append(out, s.received(r, m, md.NumDelivered, o))
		}
		if len(out) > 0 || time.Now().After(deadline) || len(msgs) == 0 {
			return out, nil
		}
	}
}

// hide makes the delivery with acknowledgement subject ack visible again
// after secs seconds (at once for 0), keeping it in flight until then.
func (s *Service) hide(ack string, secs int) error {
	body := []byte("-NAK")
	if secs > 0 {
		body = fmt.Appendf(body, " {\"delay\":%d}", time.Duration(secs)*time.Second)
	}
	return s.nc.Publish(ack, body)
}

// leaderWait bounds how long a receive waits, past its own wait, for its
// queue's consumer to have a leader again (a cluster's election after
// the leader's node was lost takes a few seconds) before it answers
// that the queue is unavailable.
var leaderWait = 10 * time.Second

// errNoLeader is pullOnce's failure when the queue's consumer has no
// leader to answer it now.
var errNoLeader = errors.New("the queue's consumer has no leader now")

// pull asks queue r's consumer for up to n messages, returning as soon
// as there is any or when wait ends (at once for no wait). While the
// consumer has no leader it asks again, a little later each time, for up
// to leaderWait past the wait; then it fails with an error of kind
// fault.Unavailable, which the API answers as SQS's 503.
func (s *Service) pull(ctx context.Context, r *record, n int, wait time.Duration) ([]*nats.Msg, error) {
	deadline := time.Now().Add(max(wait, 0))
	leaderless := func(err error) bool { return errors.Is(err, errNoLeader) }
	return untilLed(ctx, r, deadline.Add(leaderWait), leaderless, func() ([]*nats.Msg, error) {
		return s.pullOnce(ctx, r, n, time.Until(deadline))
	})
}

// untilLed is a receive from queue r through an election: it calls try
// until try does not fail for want of a leader (leaderless), pausing 50
// ms and doubling up to a second between calls, as long as until
// allows; then it fails with an error of kind fault.Unavailable, which
// the API answers as SQS's 503.
func untilLed[T any](ctx context.Context, r *record, until time.Time, leaderless func(error) bool, try func() (T, error)) (T, error) {
	pause := 50 * time.Millisecond
	for {
		v, err := try()
		if err == nil || !leaderless(err) {
			return v, err
		}
		var none T
		if time.Now().Add(pause).After(until) {
			return none, fault.Errorf(fault.Unavailable, "queues: receive from %s: %v", r.Name, err)
		}
		select {
		case <-ctx.Done():
			return none, ctx.Err()
		case <-time.After(pause):
		}
		pause = min(2*pause, time.Second)
	}
}

// pullOnce is one request of pull's.
func (s *Service) pullOnce(ctx context.Context, r *record, n int, wait time.Duration) ([]*nats.Msg, error) {
	inbox := nats.NewInbox()
	sub, err := s.nc.SubscribeSync(inbox)
	if err != nil {
		return nil, fmt.Errorf("queues: receive from %s: %w", r.Name, err)
	}
	defer sub.Unsubscribe()
	// With no_wait and an expiry, the request waits until it expires
	// but returns as soon as it has anything. A short poll waits a
	// moment too: a message stored an instant ago may not have reached
	// the consumer's count yet, and a client that sends and then
	// receives at once expects to get it.
	req := map[string]any{"batch": n, "no_wait": true, "expires": max(wait, shortPoll).Nanoseconds()}
	b, _ := json.Marshal(req)
	if err := s.nc.PublishRequest("$JS.API.CONSUMER.MSG.NEXT."+r.stream()+"."+consumer, inbox, b); err != nil {
		return nil, fmt.Errorf("queues: receive from %s: %w", r.Name, err)
	}
	var out []*nats.Msg
	limit := time.Now().Add(max(wait, 0) + 5*time.Second)
	for len(out) < n {
		wctx, cancel := context.WithDeadline(ctx, limit)
		m, err := sub.NextMsgWithContext(wctx)
		cancel()
		if err != nil {
			if len(out) > 0 || errors.Is(err, context.DeadlineExceeded) {
				return out, nil
			}
			if errors.Is(err, nats.ErrNoResponders) {
				return nil, errNoLeader // an election is under way
			}
			return nil, fmt.Errorf("queues: receive from %s: %w", r.Name, err)
		}
		if status := m.Header.Get("Status"); status != "" && len(m.Data) == 0 {
			switch status {
			case "404", "408", "100":
				if status == "100" {
					continue // a heartbeat
				}
				return out, nil
			}
			if len(out) > 0 {
				return out, nil
			}
			if status == "409" && m.Header.Get("Description") == "Leadership Change" {
				return nil, errNoLeader
			}
			return nil, fmt.Errorf("queues: receive from %s: %s %s", r.Name, status, m.Header.Get("Description"))
		}
		// The request ends with its batch full or with a status: after
		// what was there, a no-wait request is told "no messages".
		out = append(out, m)
	}
	return out, nil
}

// received is what Receive returns of delivery m of queue r.
func (s *Service) received(r *record, m *nats.Msg, delivered uint64, o ReceiveOptions) *Received {
	out := &Received{ID: m.Header.Get(hID), Body: string(m.Data), MD5Body: md5Hex(string(m.Data)), Handle: s.seal(r, m.Reply)}
	if a := m.Header.Get(hAttrs); a != "" && len(o.AttributeNames) > 0 {
		var all map[string]Attribute
		if err := json.Unmarshal([]byte(a), &all); err == nil {
			out.Attributes = map[string]Attribute{}
			for k, v := range all {
				if attributeWanted(k, o.AttributeNames) {
					out.Attributes[k] = v
				}
			}
			out.MD5Attributes = attributesMD5(out.Attributes)
		}
	}
	if len(o.SystemNames) > 0 {
		sys := map[string]string{
			"SentTimestamp":           m.Header.Get(hSent),
			"SenderId":                m.Header.Get(hSender),
			"ApproximateReceiveCount": strconv.FormatUint(delivered, 10),
		}
		if delivered == 1 {
			sys["ApproximateFirstReceiveTimestamp"] = strconv.FormatInt(time.Now().UnixMilli(), 10)
		}
		if t := m.Header.Get(hTrace); t != "" {
			sys["AWSTraceHeader"] = t
		}
		out.System = map[string]string{}
		for k, v := range sys {
			if systemWanted(k, o.SystemNames) {
				out.System[k] = v
			}
		}
	}
	return out
}

func systemWanted(name string, names []string) bool {
	for _, n := range names {
		if n == "All" || n == name {
			return true
		}
	}
	return false
}

// attributeWanted says whether message attribute name is among names:
// All, .*, an exact name or a prefix ending in .*.
func attributeWanted(name string, names []string) bool {
	for _, n := range names {
		if n == "All" || n == ".*" || n == name {
			return true
		}
		if p, ok := strings.CutSuffix(n, ".*"); ok && strings.HasPrefix(name, p+".") {
			return true
		}
	}
	return false
}

// redrive moves delivery m (stream sequence seq) of queue r to the
// dead-letter queue p names. The move survives a crash at any point
// without loss or duplicate: the message is first set to come back
// within a minute, then stored on the dead-letter queue under an id the
// backbone deduplicates for five minutes, then deleted.
func (s *Service) redrive(ctx context.Context, r *record, p *RedrivePolicy, m *nats.Msg, seq uint64) error {
	dlq, qerr := s.get(arnName(p.DeadLetterTargetArn))
	if qerr != nil {
		return fmt.Errorf("dead-letter queue %s: %w", p.DeadLetterTargetArn, qerr)
	}
	if err := s.hide(m.Reply, 60); err != nil {
		return err
	}
	h := nats.Header{}
	for k, v := range m.Header {
		if strings.HasPrefix(k, "Sqs-") {
			h[k] = v
		}
	}
	h.Set("Nats-Msg-Id", "redrive."+r.ID+"."+strconv.FormatUint(seq, 10))
	h.Set(hSource, r.Name)
	if _, err := s.js.PublishMsg(ctx, &nats.Msg{Subject: dlq.subject(), Header: h, Data: m.Data}); err != nil {
		return err
	}
	return s.ack(ctx, m.Reply)
}

// ack deletes the delivery with acknowledgement subject subj, waiting for
// the backbone to confirm.
func (s *Service) ack(ctx context.Context, subj string) error {
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := s.nc.RequestWithContext(rctx, subj, []byte("+ACK")); err != nil {
		return fmt.Errorf("queues: delete: %w", err)
	}
	return nil
}

// seal makes the receipt handle of the delivery of queue r with
// acknowledgement subject ack: the queue's id and the subject, with a
// MAC under the service's secret.
func (s *Service) seal(r *record, ack string) string {
	body := r.ID + " " + ack
	mac := hmac.New(sha256.New, s.secret)
	mac.Write([]byte(body))
	return base64.RawURLEncoding.EncodeToString(mac.Sum([]byte(body))[:len(body)+16])
}

// open returns the acknowledgement subject of a receipt handle of queue
// r, refusing a handle that is damaged, forged or another queue's.
func (s *Service) open(r *record, handle string) (string, *Error) {
	bad := invalid(ReceiptHandleIsInvalid, "The input receipt handle \"%s\" is not a valid receipt handle.", handle)
	raw, err := base64.RawURLEncoding.DecodeString(handle)
	if err != nil || len(raw) < 17 {
		return "", bad
	}
	body, tag := raw[:len(raw)-16], raw[len(raw)-16:]
	mac := hmac.New(sha256.New, s.secret)
	mac.Write(body)
	if !hmac.Equal(mac.Sum(nil)[:16], tag) {
		return "", bad
	}
	id, ack, ok := strings.Cut(string(body), " ")
	if !ok || id != r.ID || !(strings.HasPrefix(ack, "$JS.ACK.") || strings.HasPrefix(ack, "fifo ")) {
		return "", bad
	}
	return ack, nil
}

// DeleteMessage deletes the message of queue name that handle received.
func (s *Service) DeleteMessage(ctx context.Context, name, handle string) error {
	r, qerr := s.get(name)
	if qerr != nil {
		return qerr
	}
	ack, herr := s.open(r, handle)
	if herr != nil {
		return herr
	}
	if h, ok := parseFifoHandle(ack); ok {
		return s.settleFifo(ctx, r, h, -1)
	}
	return s.ack(ctx, ack)
}

// ChangeVisibility hides the message of queue name that handle received
// for secs seconds from now (0: visible at once).
func (s *Service) ChangeVisibility(ctx context.Context, name, handle string, secs int) error {
	r, qerr := s.get(name)
	if qerr != nil {
		return qerr
	}
	if secs < 0 || secs > 43200 {
		return invalid(InvalidParameterValue, "Value %d for parameter VisibilityTimeout is invalid. Reason: Must be between 0 and 43200.", secs)
	}
	ack, herr := s.open(r, handle)
	if herr != nil {
		return herr
	}
	if h, ok := parseFifoHandle(ack); ok {
		return s.settleFifo(ctx, r, h, secs)
	}
	if err := s.hide(ack, secs); err != nil {
		return fmt.Errorf("queues: change visibility: %w", err)
	}
	fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return s.nc.FlushWithContext(fctx)
}
