package topics

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/aloft-dev/aloft/internal/eventfilter"
	"github.com/aloft-dev/aloft/internal/fault"
	"github.com/aloft-dev/aloft/internal/ids"
	"github.com/aloft-dev/aloft/internal/queues"
	"github.com/aloft-dev/aloft/internal/store"
)

const (
	deliveryStream  = "SNS_DELIVERY"
	deliverySubject = "sns.deliver."
	// maxMessage is the largest message, attributes included.
	maxMessage = 256 * 1024
)

// Attribute is a message attribute: String, Number, Binary or
// String.Array, with its value.
type Attribute struct {
	DataType    string `json:"DataType"`
	StringValue string `json:"StringValue,omitempty"`
	BinaryValue []byte `json:"BinaryValue,omitempty"`
}

// Message is a message to publish.
type Message struct {
	Message    string
	Subject    string
	Structure  string // "json": Message holds one message per protocol
	Attributes map[string]Attribute
	// GroupID and DedupID are a FIFO topic's MessageGroupId and
	// MessageDeduplicationId.
	GroupID, DedupID string
}

// job is one delivery to one subscription, as stored on the stream.
type job struct {
	Sub        string               `json:"sub"`
	Type       string               `json:"type"` // Notification or SubscriptionConfirmation
	MessageID  string               `json:"id"`
	Timestamp  string               `json:"ts"`
	Message    string               `json:"message,omitempty"`
	Subject    string               `json:"subject,omitempty"`
	Attributes map[string]Attribute `json:"attrs,omitempty"`
	Sequence   string               `json:"seq,omitempty"` // a FIFO topic's SequenceNumber
}

// Publish stores one delivery of m per subscription of topic name whose
// filter policy it matches, and returns the message id once every one is
// on disk.
func (s *Service) Publish(ctx context.Context, name string, m *Message) (string, error) {
	ids1, err := s.PublishBatch(ctx, name, []*Message{m})
	if err != nil {
		return "", err
	}
	if ids1[0].Err != nil {
		return "", ids1[0].Err
	}
	return ids1[0].ID, nil
}

// Published is one message's outcome in a batch.
type Published struct {
	ID       string
	Sequence string // a FIFO topic's SequenceNumber
	Err      error
}

// PublishBatch publishes msgs to topic name, each succeeding or failing
// alone.
func (s *Service) PublishBatch(ctx context.Context, name string, msgs []*Message) ([]Published, error) {
	t, err := s.getTopic(name)
	if err != nil {
		return nil, err
	}
	if t.fifo() {
		return s.publishFifo(ctx, t, msgs)
	}
	s.mu.RLock()
	var subs []*subscription
	for _, sub := range s.subs {
		if sub.Topic == name && !sub.Pending {
			subs = append(subs, sub)
		}
	}
	s.mu.RUnlock()
	out := make([]Published, len(msgs))
	var jobs []job
	for i, m := range msgs {
		if err := checkMessage(m); err != nil {
			out[i].Err = err
			continue
		}
		if m.GroupID != "" || m.DedupID != "" {
			out[i].Err = invalid("MessageGroupId and MessageDeduplicationId are for FIFO topics")
			continue
		}
		id := ids.New()
		out[i].ID = id
		ts := now()
		for _, sub := range subs {
			f, err := compileFilter(sub.Attrs["FilterPolicy"], sub.Attrs["FilterPolicyScope"])
			if err != nil || !f.matches(m) {
				continue
			}
			jobs = append(jobs, job{Sub: sub.ID, Type: "Notification", MessageID: id, Timestamp: ts,
				Message: messageFor(m, sub.Protocol), Subject: m.Subject, Attributes: m.Attributes})
		}
	}
	if err := s.enqueue(ctx, jobs); err != nil {
		return nil, err
	}
	return out, nil
}

// enqueue stores jobs, returning once all are on disk.
func (s *Service) enqueue(ctx context.Context, jobs []job) error {
	var futures []jetstream.PubAckFuture
	for _, j := range jobs {
		b, _ := json.Marshal(j)
		m := &nats.Msg{Subject: deliverySubject + j.Sub, Data: b, Header: nats.Header{}}
		m.Header.Set("Nats-Msg-Id", j.MessageID+"."+j.Sub)
		f, err := s.js.PublishMsgAsync(m)
		if err != nil {
			return fmt.Errorf("topics: store a delivery: %w", err)
		}
		futures = append(futures, f)
	}
	for _, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return fmt.Errorf("topics: store a delivery: %w", err)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func checkMessage(m *Message) *Error {
	if m.Message == "" {
		return invalid("Empty message")
	}
	if !utf8.ValidString(m.Message) {
		return invalid("Message must be valid UTF-8")
	}
	size := len(m.Message)
	if len(m.Subject) > 100 || strings.ContainsAny(m.Subject, "\r\n") {
		return invalid("Subject")
	}
	for _, c := range m.Subject {
		if c < 0x20 || c > 0x7e {
			return invalid("Subject: must be ASCII text without control characters")
		}
	}
	if m.Structure != "" {
		if m.Structure != "json" {
			return invalid("MessageStructure")
		}
		var doc map[string]any
		if err := json.Unmarshal([]byte(m.Message), &doc); err != nil {
			return invalid("Message Structure - JSON message body failed to parse")
		}
		if _, ok := doc["default"].(string); !ok {
			return invalid("Message Structure - No default entry in JSON message body")
		}
	}
	if len(m.Attributes) > 10 {
		return invalid("Too many message attributes: at most 10")
	}
	for k, a := range m.Attributes {
		size += len(k) + len(a.DataType) + len(a.StringValue) + len(a.BinaryValue)
		switch base, _, _ := strings.Cut(a.DataType, "."); base {
		case "String":
			if a.StringValue == "" {
				return invalid("Message attribute '%s' must contain non-empty message attribute value for message attribute type 'String'.", k)
			}
			if a.DataType == "String.Array" {
				var arr []any
				if err := json.Unmarshal([]byte(a.StringValue), &arr); err != nil {
					return invalid("Message attribute '%s' of type String.Array must hold a JSON array.", k)
				}
			}
		case "Number":
			if _, err := strconv.ParseFloat(a.StringValue, 64); err != nil {
				return invalid("Could not cast message attribute '%s' value to number.", k)
			}
		case "Binary":
			if len(a.BinaryValue) == 0 {
				return invalid("Message attribute '%s' must contain non-empty message attribute value for message attribute type 'Binary'.", k)
			}
		default:
			return invalid("The message attribute '%s' has an invalid message attribute type, the set of supported type prefixes is Binary, Number, and String.", k)
		}
	}
	if size > maxMessage {
		return invalid("Message too long")
	}
	return nil
}

// messageFor is the message a subscriber by protocol gets: with the JSON
// structure, its protocol's entry or the default.
func messageFor(m *Message, protocol string) string {
	if m.Structure != "json" {
		return m.Message
	}
	var doc map[string]any
	json.Unmarshal([]byte(m.Message), &doc)
	if v, ok := doc[protocol].(string); ok {
		return v
	}
	return doc["default"].(string)
}

// filter is a subscription's compiled filter policy.
type filter struct {
	p    *eventfilter.Pattern
	body bool // the policy looks at the message body, not its attributes
}

// compileFilter reads a filter policy, giving the refusal SNS gives one
// it cannot take. An empty policy matches everything.
func compileFilter(policy, scope string) (*filter, *Error) {
	if policy == "" {
		return &filter{}, nil
	}
	p, err := eventfilter.Parse([]byte(policy))
	if err != nil {
		return nil, invalid("FilterPolicy: %v", err)
	}
	fields, combos := p.Fields()
	if fields > 5 && scope != "MessageBody" {
		return nil, invalid("FilterPolicy: Filter policy can not have more than 5 keys")
	}
	if combos > 150 {
		return nil, &Error{Kind: fault.Invalid, Code: "InvalidParameter", Message: "Invalid parameter: FilterPolicy: Filter policy is too complex"}
	}
	return &filter{p: p, body: scope == "MessageBody"}, nil
}

// matches says whether m passes the filter: by its attributes (a
// String.Array attribute matching when any element does), or by its
// body, which must then be a JSON object.
func (f *filter) matches(m *Message) bool {
	if f.p == nil {
		return true
	}
	ev := map[string]any{}
	if f.body {
		d := json.NewDecoder(strings.NewReader(m.Message))
		d.UseNumber()
		if err := d.Decode(&ev); err != nil {
			return false
		}
		return f.p.Match(ev)
	}
	for k, a := range m.Attributes {
		switch {
		case a.DataType == "String.Array":
			var arr []any
			d := json.NewDecoder(strings.NewReader(a.StringValue))
			d.UseNumber()
			if d.Decode(&arr) == nil {
				ev[k] = arr
			}
		case strings.HasPrefix(a.DataType, "Number"):
			ev[k] = json.Number(a.StringValue)
		case strings.HasPrefix(a.DataType, "String"):
			ev[k] = a.StringValue
		}
	}
	return f.p.Match(ev)
}

// deliveryPolicy is the part of an HTTP delivery policy that sets
// retries.
type deliveryPolicy struct {
	HealthyRetryPolicy struct {
		MinDelayTarget     int    `json:"minDelayTarget"`
		MaxDelayTarget     int    `json:"maxDelayTarget"`
		NumRetries         int    `json:"numRetries"`
		NumNoDelayRetries  int    `json:"numNoDelayRetries"`
		NumMinDelayRetries int    `json:"numMinDelayRetries"`
		NumMaxDelayRetries int    `json:"numMaxDelayRetries"`
		BackoffFunction    string `json:"backoffFunction"`
	} `json:"healthyRetryPolicy"`
}

func defaultDeliveryPolicy() *deliveryPolicy {
	p := &deliveryPolicy{}
	h := &p.HealthyRetryPolicy
	h.MinDelayTarget, h.MaxDelayTarget, h.NumRetries, h.BackoffFunction = 20, 20, 3, "linear"
	return p
}

func parseDeliveryPolicy(s string) (*deliveryPolicy, *Error) {
	p := defaultDeliveryPolicy()
	var doc struct {
		HTTP *deliveryPolicy `json:"http"`
		deliveryPolicy
	}
	if err := json.Unmarshal([]byte(s), &doc); err != nil {
		return nil, invalid("DeliveryPolicy: not valid JSON")
	}
	if doc.HTTP != nil {
		*p = *doc.HTTP
	} else if doc.HealthyRetryPolicy.NumRetries > 0 || doc.HealthyRetryPolicy.MinDelayTarget > 0 {
		*p = doc.deliveryPolicy
	}
	h := &p.HealthyRetryPolicy
	if h.NumRetries < 0 || h.NumRetries > 100 || h.MinDelayTarget < 1 || h.MaxDelayTarget < h.MinDelayTarget || h.MaxDelayTarget > 3600 {
		return nil, invalid("DeliveryPolicy: numRetries 0 to 100, and 1 <= minDelayTarget <= maxDelayTarget <= 3600")
	}
	return p, nil
}

func effectiveDeliveryPolicy(s string) string {
	p := defaultDeliveryPolicy()
	if s != "" {
		if q, err := parseDeliveryPolicy(s); err == nil {
			p = q
		}
	}
	b, _ := json.Marshal(map[string]any{"http": map[string]any{"defaultHealthyRetryPolicy": p.HealthyRetryPolicy, "disableSubscriptionOverrides": false}})
	return string(b)
}

// maxAttempts bounds the deliveries this node makes at once: an HTTP
// endpoint that hangs holds one for up to its timeout, and must not hold
// up the deliveries to queues and functions behind it.
const maxAttempts = 256

// Start starts this node's delivery workers: they fetch deliveries and
// make each one in a goroutine of its own, at most maxAttempts at once.
func (s *Service) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	s.stop = cancel
	s.progress = store.NewProgress()
	slots := make(chan struct{}, maxAttempts)
	for range s.d.Workers {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			for ctx.Err() == nil {
				batch, err := s.cons.Fetch(1, jetstream.FetchMaxWait(2*time.Second))
				if err != nil {
					time.Sleep(100 * time.Millisecond)
					continue
				}
				for m := range batch.Messages() {
					select {
					case slots <- struct{}{}:
					case <-ctx.Done():
						return
					}
					s.wg.Add(1)
					go func() {
						defer s.wg.Done()
						defer func() { <-slots }()
						defer s.progress.End(m)
						s.deliver(ctx, s.progress.Track(m))
					}()
				}
			}
		}()
	}
}

// deliver makes one delivery attempt of m, acknowledging it when it
// succeeded or when there is nothing more to try.
func (s *Service) deliver(ctx context.Context, m jetstream.Msg) {
	var j job
	if err := json.Unmarshal(m.Data(), &j); err != nil {
		s.log.Error("topics: a damaged delivery is dropped", "err", err)
		m.Term()
		return
	}
	sub, err := s.getSub(j.Sub)
	if err != nil {
		m.Ack() // unsubscribed since
		return
	}
	md, _ := m.Metadata()
	attempt := 1
	if md != nil {
		attempt = int(md.NumDelivered)
	}
	err = s.attempt(ctx, sub, &j)
	if err == nil {
		m.Ack()
		return
	}
	retries, delay := s.retryPlan(sub, attempt)
	if attempt <= retries {
		s.log.Info("topics: delivery failed; it will be retried", "subscription", sub.ARN(), "attempt", attempt, "err", err)
		m.NakWithDelay(delay)
		return
	}
	s.log.Warn("topics: delivery failed for good", "subscription", sub.ARN(), "attempts", attempt, "err", err)
	if dlq := sub.Attrs["RedrivePolicy"]; dlq != "" && j.Type == "Notification" {
		var p struct {
			Arn string `json:"deadLetterTargetArn"`
		}
		json.Unmarshal([]byte(dlq), &p)
		body, _ := s.envelope(sub, &j)
		if err := s.sendToQueue(ctx, p.Arn, string(body), nil); err != nil {
			s.log.Error("topics: the dead-letter queue refused a failed delivery; it will be retried", "queue", p.Arn, "err", err)
			m.NakWithDelay(time.Minute)
			return
		}
	}
	m.Ack()
}

// retryPlan returns how many retries a subscription's deliveries get and
// the delay before the next: its delivery policy's for http and https,
// and for queues and functions, a backoff from 1 s to 1 min over 100
// retries.
func (s *Service) retryPlan(sub *subscription, attempt int) (int, time.Duration) {
	if sub.Protocol == "http" || sub.Protocol == "https" {
		p := defaultDeliveryPolicy()
		if q, err := parseDeliveryPolicy(sub.Attrs["DeliveryPolicy"]); sub.Attrs["DeliveryPolicy"] != "" && err == nil {
			p = q
		}
		h := p.HealthyRetryPolicy
		if attempt <= h.NumNoDelayRetries {
			return h.NumRetries, 0
		}
		d := h.MinDelayTarget
		if h.NumRetries > 1 && h.MaxDelayTarget > h.MinDelayTarget {
			d += (h.MaxDelayTarget - h.MinDelayTarget) * (attempt - 1) / (h.NumRetries - 1)
		}
		return h.NumRetries, time.Duration(min(d, h.MaxDelayTarget)) * time.Second
	}
	return 100, min(time.Second<<min(attempt-1, 6), time.Minute)
}

// attempt makes one delivery of j to sub.
func (s *Service) attempt(ctx context.Context, sub *subscription, j *job) error {
	switch sub.Protocol {
	case "sqs":
		if sub.Attrs["RawMessageDelivery"] == "true" {
			return s.sendToQueue(ctx, sub.Endpoint, j.Message, j.Attributes)
		}
		body, err := s.envelope(sub, j)
		if err != nil {
			return err
		}
		return s.sendToQueue(ctx, sub.Endpoint, string(body), nil)
	case "lambda":
		return s.d.Invoke(ctx, sub.Endpoint, s.lambdaEvent(sub, j))
	case "http", "https":
		var body []byte
		if sub.Attrs["RawMessageDelivery"] == "true" && j.Type == "Notification" {
			body = []byte(j.Message)
		} else {
			var err error
			if body, err = s.envelope(sub, j); err != nil {
				return err
			}
		}
		rctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(rctx, http.MethodPost, sub.Endpoint, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "text/plain; charset=UTF-8")
		req.Header.Set("x-amz-sns-message-type", j.Type)
		req.Header.Set("x-amz-sns-message-id", j.MessageID)
		req.Header.Set("x-amz-sns-topic-arn", sub.topicARN())
		if j.Type == "Notification" {
			req.Header.Set("x-amz-sns-subscription-arn", sub.ARN())
		}
		if sub.Attrs["RawMessageDelivery"] == "true" {
			req.Header.Set("x-amz-sns-rawdelivery", "true")
		}
		req.Header.Set("User-Agent", "Amazon Simple Notification Service Agent")
		resp, err := s.d.HTTP.Do(req)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			return fmt.Errorf("the endpoint answered %s", resp.Status)
		}
		return nil
	}
	return fmt.Errorf("no delivery for protocol %s", sub.Protocol)
}

// sendToQueue stores body on the queue with ARN arn, with the message's
// attributes when delivery is raw.
func (s *Service) sendToQueue(ctx context.Context, arn, body string, attrs map[string]Attribute) error {
	return s.sendToQueueIn(ctx, arn, body, attrs, "", "")
}

// sendToQueueIn is sendToQueue with a FIFO queue's group and
// deduplication id.
func (s *Service) sendToQueueIn(ctx context.Context, arn, body string, attrs map[string]Attribute, group, dedup string) error {
	name := arn[strings.LastIndexByte(arn, ':')+1:]
	m := &queues.Message{Body: body, Delay: -1, Sender: Account, GroupID: group, DedupID: dedup}
	if len(attrs) > 0 {
		m.Attributes = map[string]queues.Attribute{}
		for k, a := range attrs {
			m.Attributes[k] = queues.Attribute{DataType: a.DataType, StringValue: a.StringValue, BinaryValue: a.BinaryValue}
		}
	}
	_, errs, err := s.d.Queues.Send(ctx, name, []*queues.Message{m})
	if err != nil {
		return err
	}
	return errs[0]
}

// wireAttributes is how SNS writes message attributes in the JSON it
// delivers: {"Type": ..., "Value": ...}, binary values in base64.
func wireAttributes(attrs map[string]Attribute) map[string]map[string]string {
	if len(attrs) == 0 {
		return nil
	}
	out := map[string]map[string]string{}
	for k, a := range attrs {
		v := a.StringValue
		if strings.HasPrefix(a.DataType, "Binary") {
			v = base64.StdEncoding.EncodeToString(a.BinaryValue)
		}
		out[k] = map[string]string{"Type": a.DataType, "Value": v}
	}
	return out
}

// envelope is the JSON document SNS delivers to queues and HTTP
// endpoints, signed.
func (s *Service) envelope(sub *subscription, j *job) ([]byte, error) {
	t, _ := s.getTopic(sub.Topic)
	version := "1"
	if t != nil && t.Attrs["SignatureVersion"] == "2" {
		version = "2"
	}
	doc := map[string]any{
		"Type": j.Type, "MessageId": j.MessageID, "TopicArn": sub.topicARN(), "Timestamp": j.Timestamp,
		"SignatureVersion": version, "SigningCertURL": s.d.BaseURL + CertPath,
	}
	fields := map[string]string{"MessageId": j.MessageID, "Timestamp": j.Timestamp, "TopicArn": sub.topicARN(), "Type": j.Type}
	if j.Type == "SubscriptionConfirmation" {
		subscribe := s.d.BaseURL + ConfirmPath + "?" + url.Values{"TopicArn": {sub.topicARN()}, "Token": {sub.Token}}.Encode()
		msg := "You have chosen to subscribe to the topic " + sub.topicARN() + ".\nTo confirm the subscription, visit the SubscribeURL included in this message."
		doc["Message"], doc["Token"], doc["SubscribeURL"] = msg, sub.Token, subscribe
		fields["Message"], fields["Token"], fields["SubscribeURL"] = msg, sub.Token, subscribe
	} else {
		doc["Message"] = j.Message
		fields["Message"] = j.Message
		if j.Subject != "" {
			doc["Subject"] = j.Subject
			fields["Subject"] = j.Subject
		}
		doc["UnsubscribeURL"] = s.d.BaseURL + UnsubscribePath + "?" + url.Values{"SubscriptionArn": {sub.ARN()}, "Token": {s.signer.unsubscribeToken(sub.ARN())}}.Encode()
		if a := wireAttributes(j.Attributes); a != nil {
			doc["MessageAttributes"] = a
		}
		if j.Sequence != "" {
			doc["SequenceNumber"] = j.Sequence
		}
	}
	sig, err := s.signer.sign(fields, version)
	if err != nil {
		return nil, err
	}
	doc["Signature"] = sig
	return json.Marshal(doc)
}

// lambdaEvent is the event a function subscribed to a topic gets, as
// aws-lambda-go's events.SNSEvent reads it.
func (s *Service) lambdaEvent(sub *subscription, j *job) []byte {
	env, _ := s.envelope(sub, j)
	var doc map[string]any
	json.Unmarshal(env, &doc)
	sns := map[string]any{
		"Type": doc["Type"], "MessageId": doc["MessageId"], "TopicArn": doc["TopicArn"], "Subject": nil, "Message": doc["Message"],
		"Timestamp": doc["Timestamp"], "SignatureVersion": doc["SignatureVersion"], "Signature": doc["Signature"],
		"SigningCertUrl": doc["SigningCertURL"], "UnsubscribeUrl": doc["UnsubscribeURL"], "MessageAttributes": map[string]any{},
	}
	if v, ok := doc["Subject"]; ok {
		sns["Subject"] = v
	}
	if a, ok := doc["MessageAttributes"]; ok {
		sns["MessageAttributes"] = a
	}
	b, _ := json.Marshal(map[string]any{"Records": []any{map[string]any{
		"EventSource": "aws:sns", "EventVersion": "1.0", "EventSubscriptionArn": sub.ARN(), "Sns": sns,
	}}})
	return b
}
