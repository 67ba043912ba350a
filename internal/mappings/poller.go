package mappings

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aloft-dev/aloft/internal/eventfilter"
	"github.com/aloft-dev/aloft/internal/queues"
)

const (
	// minPollers is how many batches a mapping polls for at first and
	// at least, as Lambda's SQS pollers start.
	minPollers = 5
	// maxPollers bounds a mapping without MaximumConcurrency.
	maxPollers = 1000
	// maxBatchBytes is the most a batch carries, as Lambda's 6 MB.
	maxBatchBytes = 6 << 20
	// longPoll is how long a poller waits for a message.
	longPoll = 20
)

// poller polls one mapping's queue with a number of workers that grows
// while batches come full and shrinks back when the queue is empty.
type poller struct {
	s       *Service
	m       Mapping
	queue   string
	filters []*eventfilter.Pattern
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	running atomic.Int32
	limit   int32
}

func (s *Service) newPoller(m Mapping) *poller {
	ctx, cancel := context.WithCancel(context.Background())
	p := &poller{s: s, m: m, queue: m.EventSourceArn[strings.LastIndexByte(m.EventSourceArn, ':')+1:], ctx: ctx, cancel: cancel, limit: maxPollers}
	if m.ScalingConfig != nil && m.ScalingConfig.MaximumConcurrency != nil {
		p.limit = int32(*m.ScalingConfig.MaximumConcurrency)
	}
	if m.FilterCriteria != nil {
		for _, f := range m.FilterCriteria.Filters {
			if pat, err := eventfilter.Parse([]byte(f.Pattern)); err == nil {
				p.filters = append(p.filters, pat)
			}
		}
	}
	return p
}

func (p *poller) revision() uint64 { return p.m.rev }

func (p *poller) start() {
	for range min(minPollers, p.limit) {
		p.grow()
	}
}

// floor is how many workers stay when the queue runs dry.
func (p *poller) floor() int32 {
	f := min(minPollers, p.limit)
	if p.s.d.Reserved != nil {
		if n, ok := p.s.d.Reserved(p.m.function()); ok {
			f = min(f, max(int32(n), 1))
		}
	}
	return f
}

// grow adds a worker unless the mapping is at its limit: its
// MaximumConcurrency, and the function's reserved concurrency.
func (p *poller) grow() {
	limit := p.limit
	if p.s.d.Reserved != nil {
		if n, ok := p.s.d.Reserved(p.m.function()); ok {
			limit = min(limit, max(int32(n), 1))
		}
	}
	for {
		n := p.running.Load()
		if n >= limit || p.ctx.Err() != nil {
			return
		}
		if p.running.CompareAndSwap(n, n+1) {
			break
		}
	}
	p.wg.Add(1)
	go p.work()
}

func (p *poller) close() {
	p.cancel()
	p.wg.Wait()
}

// work polls, invokes and settles batches until the mapping stops, or
// until the queue runs dry while more than the first workers run.
func (p *poller) work() {
	defer p.wg.Done()
	defer p.running.Add(-1)
	for p.ctx.Err() == nil {
		batch, full := p.collect()
		if len(batch) == 0 {
			if p.running.Load() > p.floor() {
				return // the queue is dry: fewer pollers
			}
			continue
		}
		if full {
			p.grow() // a backlog: more pollers
		}
		p.handle(batch)
	}
}

// collect receives one batch: up to BatchSize messages, waiting for the
// first as a long poll, and, with a batching window, for more until the
// window ends. full says the batch reached its size.
func (p *poller) collect() ([]*queues.Received, bool) {
	o := queues.ReceiveOptions{Visibility: -1, Wait: longPoll, SystemNames: []string{"All"}, AttributeNames: []string{"All"}}
	var batch []*queues.Received
	size := 0
	var deadline time.Time
	for {
		o.Max = min(10, p.m.BatchSize-len(batch))
		if !deadline.IsZero() {
			o.Wait = max(int(time.Until(deadline).Seconds()), 0)
		}
		got, err := p.s.d.Queues.Receive(p.ctx, p.queue, o)
		if err != nil {
			if p.ctx.Err() == nil {
				p.s.log.Warn("mappings: receive failed", "uuid", p.m.UUID, "queue", p.queue, "err", err)
				p.pause(5 * time.Second)
			}
			return batch, false
		}
		for _, m := range got {
			batch = append(batch, m)
			size += len(m.Body)
		}
		if len(batch) >= p.m.BatchSize || size >= maxBatchBytes {
			return batch, true
		}
		if p.m.MaximumBatchingWindowInSeconds == 0 || p.ctx.Err() != nil {
			return batch, false
		}
		if len(batch) > 0 && deadline.IsZero() {
			deadline = time.Now().Add(time.Duration(p.m.MaximumBatchingWindowInSeconds) * time.Second)
		}
		if !deadline.IsZero() && !time.Now().Before(deadline) {
			return batch, false
		}
	}
}

func (p *poller) pause(d time.Duration) {
	select {
	case <-p.ctx.Done():
	case <-time.After(d):
	}
}

// record is one message of an SQS event, as aws-lambda-go's
// events.SQSMessage reads it.
type record struct {
	MessageID              string                      `json:"messageId"`
	ReceiptHandle          string                      `json:"receiptHandle"`
	Body                   string                      `json:"body"`
	Attributes             map[string]string           `json:"attributes"`
	MessageAttributes      map[string]messageAttribute `json:"messageAttributes"`
	MD5OfBody              string                      `json:"md5OfBody"`
	MD5OfMessageAttributes *string                     `json:"md5OfMessageAttributes"`
	EventSource            string                      `json:"eventSource"`
	EventSourceARN         string                      `json:"eventSourceARN"`
	AWSRegion              string                      `json:"awsRegion"`
}

type messageAttribute struct {
	StringValue      *string  `json:"stringValue,omitempty"`
	BinaryValue      *string  `json:"binaryValue,omitempty"`
	StringListValues []string `json:"stringListValues"`
	BinaryListValues []string `json:"binaryListValues"`
	DataType         string   `json:"dataType"`
}

func (p *poller) record(m *queues.Received) record {
	r := record{MessageID: m.ID, ReceiptHandle: m.Handle, Body: m.Body, Attributes: m.System, MessageAttributes: map[string]messageAttribute{},
		MD5OfBody: m.MD5Body, EventSource: "aws:sqs", EventSourceARN: p.m.EventSourceArn, AWSRegion: region(p.m.EventSourceArn)}
	if r.Attributes == nil {
		r.Attributes = map[string]string{}
	}
	if m.MD5Attributes != "" {
		r.MD5OfMessageAttributes = &m.MD5Attributes
	}
	for k, a := range m.Attributes {
		ma := messageAttribute{DataType: a.DataType, StringListValues: []string{}, BinaryListValues: []string{}}
		if len(a.BinaryValue) > 0 {
			b := base64.StdEncoding.EncodeToString(a.BinaryValue)
			ma.BinaryValue = &b
		} else {
			v := a.StringValue
			ma.StringValue = &v
		}
		r.MessageAttributes[k] = ma
	}
	return r
}

func region(arn string) string {
	parts := strings.Split(arn, ":")
	if len(parts) > 3 {
		return parts[3]
	}
	return ""
}

// matches says whether a record passes the mapping's filters (any one
// of them); the body is matched as JSON when it is a JSON object.
func (p *poller) matches(r record) bool {
	if len(p.filters) == 0 {
		return true
	}
	var ev map[string]any
	b, _ := json.Marshal(r)
	json.Unmarshal(b, &ev)
	var body map[string]any
	d := json.NewDecoder(strings.NewReader(r.Body))
	d.UseNumber()
	if d.Decode(&body) == nil && !d.More() {
		ev["body"] = body
	}
	for _, f := range p.filters {
		if f.Match(ev) {
			return true
		}
	}
	return false
}

// handle filters a batch (deleting what no filter matches, as Lambda
// does), invokes the function with the rest and deletes what it handled:
// everything, or, with ReportBatchItemFailures, all but the failures it
// reported. A failed invocation deletes nothing: the messages come back
// when their visibility timeout ends, and move to the queue's
// dead-letter queue after its maxReceiveCount.
func (p *poller) handle(batch []*queues.Received) {
	var recs []record
	var drop []string
	for _, m := range batch {
		r := p.record(m)
		if p.matches(r) {
			recs = append(recs, r)
		} else {
			drop = append(drop, m.Handle)
		}
	}
	p.delete(drop)
	if len(recs) == 0 {
		return
	}
	payload, _ := json.Marshal(map[string]any{"Records": recs})
	answer, fnErr, err := p.s.d.Invoke(p.ctx, p.m.target(), payload)
	if err != nil || fnErr != "" {
		if p.ctx.Err() == nil {
			p.s.log.Info("mappings: the batch failed; its messages will come back", "uuid", p.m.UUID, "function", p.m.function(), "err", err, "function_error", fnErr)
			if err != nil {
				p.pause(time.Second) // throttled, or the function is gone
			}
		}
		return
	}
	handled := make([]string, 0, len(recs))
	failed, ok := p.failures(answer, recs)
	if !ok {
		p.s.log.Info("mappings: the partial batch response names no message of the batch; the whole batch will come back", "uuid", p.m.UUID)
		return
	}
	for _, r := range recs {
		if !failed[r.MessageID] {
			handled = append(handled, r.ReceiptHandle)
		}
	}
	p.delete(handled)
}

// failures reads a partial batch response, when the mapping asks for
// one: the ids of the messages that failed. ok is false when the
// response is malformed or names a message not in the batch, which
// fails the whole batch, as on Lambda.
func (p *poller) failures(answer []byte, recs []record) (map[string]bool, bool) {
	failed := map[string]bool{}
	if len(p.m.FunctionResponseTypes) == 0 {
		return failed, true
	}
	var resp struct {
		BatchItemFailures []struct {
			ItemIdentifier *string `json:"itemIdentifier"`
		} `json:"batchItemFailures"`
	}
	if t := strings.TrimSpace(string(answer)); t == "" || t == "null" {
		return failed, true
	}
	if err := json.Unmarshal(answer, &resp); err != nil {
		return failed, true // not a partial batch response: all succeeded
	}
	ids := map[string]bool{}
	for _, r := range recs {
		ids[r.MessageID] = true
	}
	for _, f := range resp.BatchItemFailures {
		if f.ItemIdentifier == nil || !ids[*f.ItemIdentifier] {
			return nil, false
		}
		failed[*f.ItemIdentifier] = true
	}
	return failed, true
}

func (p *poller) delete(handles []string) {
	for _, h := range handles {
		if err := p.s.d.Queues.DeleteMessage(context.Background(), p.queue, h); err != nil {
			p.s.log.Warn("mappings: could not delete a handled message; it will come back", "uuid", p.m.UUID, "err", err)
		}
	}
}
