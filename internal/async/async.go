// Package async holds Aloft's asynchronous invocations. An accepted event is
// published to a JetStream work-queue stream (one subject per function) and
// acknowledged to the caller only once the stream has stored it; workers
// then deliver it to the function at least once, with Lambda's rules:
// function errors and timeouts are retried up to MaximumRetryAttempts with
// growing delays, an event older than MaximumEventAgeInSeconds is given up,
// and the outcome can be sent to an OnSuccess or OnFailure destination as
// Lambda's destination record. Failures that are not the function's
// (throttling, shutdown) are retried without counting against it.
//
// An event is acknowledged to the stream only after its outcome (and any
// destination event) is stored, so a crash at any point means the event is
// delivered again, never lost.
package async

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/aloft-dev/aloft/internal/fault"
	"github.com/aloft-dev/aloft/internal/function"
	"github.com/aloft-dev/aloft/internal/store"
)

const (
	streamName   = "ALOFT_ASYNC"
	consumerName = "aloft-async"
	subjectRoot  = "async."
)

// Event is one asynchronous invocation as stored.
type Event struct {
	ID       string `json:"id"`       // the request id the caller was given
	Function string `json:"function"` // bare name
	// Qualifier is the version or alias invoked, "" for $LATEST.
	Qualifier string          `json:"qualifier,omitempty"`
	Payload   json.RawMessage `json:"payload,omitempty"`
	Enqueued  int64           `json:"enqueued"` // ms since the epoch
	// TraceID is the X-Amzn-Trace-Id of the request that queued the
	// event, so that its invocation joins that request's trace; "" for
	// an event source that had none (the delivery then starts one).
	TraceID string `json:"trace,omitempty"`
}

// Result is what an invocation returned.
type Result struct {
	Payload       []byte
	FunctionError string // "Unhandled" when the function failed
	Version       string
	RequestID     string
}

// Deps are the queue's collaborators.
type Deps struct {
	// Invoke runs an event synchronously. An error means the event could
	// not be run (the function is gone: ErrGone, or the platform is busy or
	// closing) rather than that the function failed.
	Invoke func(ctx context.Context, ev *Event) (*Result, error)
	// Target describes the function an event is for, at the event's
	// qualifier ("" for $LATEST), or returns ErrGone.
	Target func(ctx context.Context, function, qualifier string) (*Target, error)
	// Send delivers a destination record or a dead letter to a queue or
	// a topic (an ARN of either), with message attributes; nil makes
	// such destinations fail.
	Send   func(ctx context.Context, arn string, body []byte, attrs map[string]string) error
	Logger *slog.Logger
	// Workers bounds the events delivered at once (0: 64).
	Workers int
	// RetryBase is the delay before the first retry of a failed event; the
	// second waits twice as long (0: one minute, as Lambda).
	RetryBase time.Duration
	Now       func() time.Time
	// Observe, when set, is told of each milestone of an event of the
	// named function, for metrics; age is the event's age at Delivering.
	// It must be quick.
	Observe func(function string, m Milestone, age time.Duration)
	// Node names this server among the nodes of a cluster, which share
	// the queue: each saves its counters under its name, and Stats adds
	// the counters the others saved (every few seconds) to its own. ""
	// for a server alone.
	Node string
}

// Milestone is a point in an event's life that metrics count.
type Milestone uint8

// Milestones.
const (
	Received          Milestone = iota + 1 // stored by Enqueue
	Delivering                             // handed to the function, at an age
	Dropped                                // given up: too old, retries exhausted, or the function refuses all events
	DeadLetterFailed                       // its dead letter could not be sent
	DestinationFailed                      // its destination record could not be sent
)

// observe tells Deps.Observe of a milestone.
func (q *Queue) observe(fn string, m Milestone, age time.Duration) {
	if q.d.Observe != nil {
		q.d.Observe(fn, m, age)
	}
}

// Target is what the queue needs to know of a function.
type Target struct {
	ARN        string
	Config     *function.EventInvokeConfig // nil: Lambda's defaults
	DeadLetter string                      // ARN of a function that receives failed events, or ""
	Disabled   bool                        // reserved concurrency 0: every event fails at once
}

// ErrGone means the event's function no longer exists.
var ErrGone = errors.New("queue: function does not exist")

// Queue is the durable queue of asynchronous invocations.
type Queue struct {
	d    Deps
	js   jetstream.JetStream
	cons jetstream.Consumer
	log  *slog.Logger

	mu        sync.Mutex
	stats     map[string]*Stats // guarded by mu
	dirty     map[string]bool   // guarded by mu: counters changed since they were saved
	counters  jetstream.KeyValue
	throttled map[string]int // guarded by mu: deliveries of an event refused for concurrency, by event id

	// progress reports the events being delivered as in progress, so
	// that a long invocation is not handed to another node while this
	// one runs it; set by Start.
	progress *store.Progress
	stop     chan struct{}
	wg       sync.WaitGroup
	once     sync.Once
}

// Stats counts what happened to one function's events. The counters are
// kept on the backbone (bucket aloft_async_stats, saved every few seconds
// and at Close), so they outlive restarts.
type Stats struct {
	Function     string `json:"Function"`
	Queued       uint64 `json:"Queued"`       // waiting in the stream (filled by Stats)
	InFlight     int64  `json:"InFlight"`     // being delivered now
	Succeeded    uint64 `json:"Succeeded"`    // delivered and the function succeeded
	Retried      uint64 `json:"Retried"`      // function errors that will be retried
	Throttled    uint64 `json:"Throttled"`    // deliveries refused for concurrency, to be retried
	Failed       uint64 `json:"Failed"`       // retries exhausted or too old
	Destinations uint64 `json:"Destinations"` // destination records and dead-letter events sent
}

// ackWait is how long a delivery may go without word of progress before
// the stream hands the event to another worker: the events a dead node
// held are delivered by another within seconds (see store.AckWait).
const ackWait = store.AckWait

// Open creates the stream and consumer. Call Start to deliver.
func Open(ctx context.Context, js jetstream.JetStream, d Deps) (*Queue, error) {
	if d.Invoke == nil || d.Target == nil {
		return nil, errors.New("queue: Invoke and Target are required")
	}
	if d.Workers <= 0 {
		d.Workers = 64
	}
	if d.RetryBase <= 0 {
		d.RetryBase = time.Minute
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	_, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:       streamName,
		Subjects:   []string{subjectRoot + ">"},
		Retention:  jetstream.WorkQueuePolicy,
		Storage:    jetstream.FileStorage,
		Duplicates: 5 * time.Minute,
	})
	if err != nil {
		return nil, fmt.Errorf("queue: stream: %w", err)
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, streamName, jetstream.ConsumerConfig{
		Durable:       consumerName,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       ackWait,
		MaxDeliver:    -1,
		MaxAckPending: 100000,
		FilterSubject: subjectRoot + ">",
	})
	if err != nil {
		return nil, fmt.Errorf("queue: consumer: %w", err)
	}
	counters, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: countersBucket, History: 1, Storage: jetstream.FileStorage})
	if err != nil {
		return nil, fmt.Errorf("queue: counters: %w", err)
	}
	q := &Queue{d: d, js: js, cons: cons, log: d.Logger, stats: map[string]*Stats{}, dirty: map[string]bool{}, counters: counters,
		throttled: map[string]int{}, stop: make(chan struct{})}
	if err := q.loadCounters(ctx); err != nil {
		return nil, err
	}
	return q, nil
}

// countersBucket keeps the counters of Stats across restarts.
const countersBucket = "aloft_async_stats"

// saveEvery is how often changed counters are saved.
const saveEvery = 2 * time.Second

// counterKey is the key a function's counters are saved under: its name
// on a server alone, the node's name, "=" and its name on a cluster
// (neither kind of name has an "=").
func (q *Queue) counterKey(fn string) string {
	if q.d.Node == "" {
		return fn
	}
	return q.d.Node + "=" + fn
}

// savedCounters reads the saved counters: this node's own, by function,
// or (others) those the other nodes of a cluster saved, added up.
func (q *Queue) savedCounters(ctx context.Context, others bool) (map[string]*Stats, error) {
	keys, err := q.counters.ListKeys(ctx)
	if errors.Is(err, jetstream.ErrNoKeysFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("queue: counters: %w", err)
	}
	defer keys.Stop()
	out := map[string]*Stats{}
	for k := range keys.Keys() {
		node, fn, clustered := strings.Cut(k, "=")
		if !clustered {
			node, fn = "", k
		}
		if (node == q.d.Node) == others {
			continue
		}
		e, err := q.counters.Get(ctx, k)
		if err != nil {
			continue // deleted meanwhile
		}
		var st Stats
		if err := json.Unmarshal(e.Value(), &st); err != nil {
			q.log.Warn("queue: unreadable counters", "key", k, "err", err)
			continue
		}
		st.Function, st.InFlight, st.Queued = fn, 0, 0
		if sum := out[fn]; sum != nil {
			sum.add(&st)
		} else {
			out[fn] = &st
		}
	}
	return out, nil
}

// add adds o's counters to s's.
func (s *Stats) add(o *Stats) {
	s.Succeeded += o.Succeeded
	s.Retried += o.Retried
	s.Throttled += o.Throttled
	s.Failed += o.Failed
	s.Destinations += o.Destinations
}

// loadCounters reads the counters this node saved in earlier runs.
func (q *Queue) loadCounters(ctx context.Context) error {
	own, err := q.savedCounters(ctx, false)
	if err != nil {
		return err
	}
	maps.Copy(q.stats, own)
	return nil
}

// saveCounters writes the counters changed since the last save.
func (q *Queue) saveCounters(ctx context.Context) {
	q.mu.Lock()
	changed := make([]Stats, 0, len(q.dirty))
	for fn := range q.dirty {
		if st := q.stats[fn]; st != nil {
			c := *st
			c.InFlight = 0
			changed = append(changed, c)
		}
	}
	clear(q.dirty)
	q.mu.Unlock()
	for _, st := range changed {
		b, _ := json.Marshal(st) // numbers and a string always encode
		if _, err := q.counters.Put(ctx, q.counterKey(st.Function), b); err != nil {
			q.log.Warn("queue: could not save counters", "function", st.Function, "err", err)
			q.mu.Lock()
			q.dirty[st.Function] = true
			q.mu.Unlock()
		}
	}
}

// Enqueue stores ev durably. It returns once the stream has it; ev.ID is
// used to drop a duplicate sent again within five minutes.
func (q *Queue) Enqueue(ctx context.Context, ev *Event) error {
	if ev.Enqueued == 0 {
		ev.Enqueued = q.d.Now().UnixMilli()
	}
	b, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("queue: encode: %w", err)
	}
	if _, err := q.js.Publish(ctx, subjectRoot+ev.Function, b, jetstream.WithMsgID(ev.ID)); err != nil {
		return fmt.Errorf("queue: enqueue for %s: %w", ev.Function, err)
	}
	q.observe(ev.Function, Received, 0)
	return nil
}

// Start runs the workers, and the saving of the counters, until Close.
func (q *Queue) Start() {
	q.progress = store.NewProgress()
	for range q.d.Workers {
		q.wg.Add(1)
		go q.work()
	}
	q.wg.Add(1)
	go func() {
		defer q.wg.Done()
		t := time.NewTicker(saveEvery)
		defer t.Stop()
		for {
			select {
			case <-q.stop:
				return
			case <-t.C:
				ctx, cancel := context.WithTimeout(context.Background(), saveEvery)
				q.saveCounters(ctx)
				cancel()
			}
		}
	}()
}

// closeGrace bounds how long Close waits for the deliveries under way:
// the rest of a shutdown (the invoker's, which stops their instances)
// must not find its time spent.
const closeGrace = 5 * time.Second

// Close stops taking events and waits for the deliveries under way until
// ctx ends or closeGrace has passed; events not yet acknowledged then
// are delivered again, after the ack wait, by another node or after a
// restart.
func (q *Queue) Close(ctx context.Context) error {
	q.once.Do(func() { close(q.stop) })
	done := make(chan struct{})
	go func() { q.wg.Wait(); close(done) }()
	grace, cancel := context.WithTimeout(ctx, closeGrace)
	defer cancel()
	select {
	case <-done:
	case <-grace.Done():
		// Deliveries still under way are given back: no longer reported
		// in progress and not acknowledged, they go to another node, or
		// to this one after its restart, once the ack wait has passed
		// (at least once, as Lambda's asynchronous invocations are).
		q.log.Warn("queue: deliveries still under way at close are given back, to be delivered again")
	}
	if q.progress != nil {
		q.progress.Close()
	}
	sctx, cancelSave := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancelSave()
	q.saveCounters(sctx)
	return nil
}

func (q *Queue) stopped() bool {
	select {
	case <-q.stop:
		return true
	default:
		return false
	}
}

func (q *Queue) work() {
	defer q.wg.Done()
	for !q.stopped() {
		batch, err := q.cons.Fetch(1, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			if !q.stopped() {
				q.log.Warn("queue: fetch", "err", err)
				time.Sleep(100 * time.Millisecond)
			}
			continue
		}
		for msg := range batch.Messages() {
			q.deliver(msg)
		}
	}
}

// deliver runs one event and settles it. The event is reported in
// progress from when it is taken until it is settled, so that a long
// invocation, or a destination slow to store its record, does not have it
// handed to another worker.
func (q *Queue) deliver(raw jetstream.Msg) {
	msg := q.progress.Track(raw)
	defer q.progress.End(raw)
	var ev Event
	if err := json.Unmarshal(msg.Data(), &ev); err != nil {
		q.log.Error("queue: unreadable event dropped", "subject", msg.Subject(), "err", err)
		msg.Term()
		return
	}
	md, err := msg.Metadata()
	if err != nil {
		msg.Nak()
		return
	}
	ctx := context.Background()
	tg, err := q.d.Target(ctx, ev.Function, ev.Qualifier)
	if errors.Is(err, ErrGone) {
		q.log.Info("queue: event for a deleted function dropped", "function", ev.Function, "request_id", ev.ID)
		msg.Ack()
		return
	}
	if err != nil {
		msg.NakWithDelay(time.Second)
		return
	}
	// The invoke count leaves out deliveries refused for concurrency, so
	// throttling never uses up a function's retries.
	q.mu.Lock()
	count := int(md.NumDelivered) - q.throttled[ev.ID]
	q.mu.Unlock()
	cfg := tg.Config
	age := q.d.Now().Sub(time.UnixMilli(ev.Enqueued))
	switch {
	case tg.Disabled:
		q.settle(ctx, msg, &ev, tg, "RetriesExhausted", 0, nil)
		return
	case age > time.Duration(cfg.MaxAge())*time.Second:
		q.settle(ctx, msg, &ev, tg, "EventAgeExceeded", count-1, nil)
		return
	}

	q.observe(ev.Function, Delivering, age)
	st := q.stat(ev.Function)
	q.add(&st.InFlight, 1)
	res, err := q.d.Invoke(ctx, &ev)
	q.add(&st.InFlight, -1)
	switch {
	case errors.Is(err, ErrGone):
		msg.Ack()
	case fault.KindOf(err) == fault.Throttled:
		// Lambda's back-off for throttled events: from one second,
		// doubling, to at most five minutes, until the event is too old.
		q.mu.Lock()
		q.throttled[ev.ID]++
		n := q.throttled[ev.ID]
		q.mu.Unlock()
		q.count(func(s *Stats) { s.Throttled++ }, ev.Function)
		msg.NakWithDelay(min(time.Second<<min(n-1, 9), 5*time.Minute))
	case err != nil:
		// Not the function's doing (the platform is closing): try again.
		q.log.Warn("queue: delivery postponed", "function", ev.Function, "request_id", ev.ID, "err", err)
		q.mu.Lock()
		q.throttled[ev.ID]++
		q.mu.Unlock()
		msg.NakWithDelay(time.Second)
	case res.FunctionError == "":
		q.settle(ctx, msg, &ev, tg, "Success", count, res)
	case count <= cfg.Retries():
		q.count(func(s *Stats) { s.Retried++ }, ev.Function)
		msg.NakWithDelay(time.Duration(count) * q.d.RetryBase)
	default:
		q.settle(ctx, msg, &ev, tg, "RetriesExhausted", count, res)
	}
}

// settle records the outcome, sends the destination record and, for a
// failure, the dead-letter event, then acknowledges the event. If either
// cannot be stored, the event is left to be delivered again.
func (q *Queue) settle(ctx context.Context, msg jetstream.Msg, ev *Event, tg *Target, condition string, count int, res *Result) {
	cfg := tg.Config
	dest := cfg.OnFailure()
	if condition == "Success" {
		dest = cfg.OnSuccess()
	}
	type send struct {
		arn   string
		body  []byte
		attrs map[string]string
		id    string
	}
	var sends []send
	if dest != "" {
		sends = append(sends, send{arn: dest, body: destinationRecord(q.d.Now(), ev, tg.ARN, condition, count, res), id: ev.ID + "-" + condition})
	}
	if condition != "Success" && tg.DeadLetter != "" {
		// A dead letter is the event itself; queues and topics get why
		// it failed in message attributes, as Lambda sends them.
		attrs := map[string]string{"RequestID": ev.ID, "ErrorCode": "200", "ErrorMessage": condition}
		if res != nil && res.FunctionError != "" {
			attrs["ErrorMessage"] = deadLetterMessage(res)
		}
		sends = append(sends, send{arn: tg.DeadLetter, body: ev.Payload, attrs: attrs, id: ev.ID + "-dead-letter"})
	}
	for _, out := range sends {
		var err error
		if strings.HasPrefix(out.arn, "arn:aws:lambda:") {
			name, qualifier, _ := function.ParseRef(out.arn)
			err = q.Enqueue(ctx, &Event{ID: out.id, Function: name, Qualifier: qualifier, Payload: out.body, TraceID: ev.TraceID})
		} else if q.d.Send != nil {
			err = q.d.Send(ctx, out.arn, out.body, out.attrs)
		} else {
			err = fmt.Errorf("no delivery to %s", out.arn)
		}
		if err != nil {
			if out.attrs != nil {
				q.observe(ev.Function, DeadLetterFailed, 0)
			} else {
				q.observe(ev.Function, DestinationFailed, 0)
			}
			q.log.Error("queue: destination not stored; event will be delivered again", "function", ev.Function, "destination", out.arn, "err", err)
			msg.NakWithDelay(time.Second)
			return
		}
		q.count(func(s *Stats) { s.Destinations++ }, ev.Function)
	}
	if condition == "Success" {
		q.count(func(s *Stats) { s.Succeeded++ }, ev.Function)
	} else {
		q.count(func(s *Stats) { s.Failed++ }, ev.Function)
		q.observe(ev.Function, Dropped, 0)
		q.log.Info("queue: event failed", "function", ev.Function, "request_id", ev.ID, "condition", condition, "attempts", count)
	}
	q.mu.Lock()
	delete(q.throttled, ev.ID)
	q.mu.Unlock()
	msg.Ack()
}

// deadLetterMessage is the ErrorMessage of a dead letter: the function's
// errorMessage when its answer has one.
func deadLetterMessage(res *Result) string {
	var e struct {
		ErrorMessage string `json:"errorMessage"`
	}
	if json.Unmarshal(res.Payload, &e) == nil && e.ErrorMessage != "" {
		return e.ErrorMessage
	}
	return res.FunctionError
}

// destinationRecord renders Lambda's record for a destination.
func destinationRecord(now time.Time, ev *Event, arn, condition string, count int, res *Result) json.RawMessage {
	type responseContext struct {
		StatusCode      int    `json:"statusCode"`
		ExecutedVersion string `json:"executedVersion"`
		FunctionError   string `json:"functionError,omitempty"`
	}
	rec := struct {
		Version         string `json:"version"`
		Timestamp       string `json:"timestamp"`
		RequestContext  any    `json:"requestContext"`
		RequestPayload  any    `json:"requestPayload"`
		ResponseContext any    `json:"responseContext,omitempty"`
		ResponsePayload any    `json:"responsePayload,omitempty"`
	}{
		Version:   "1.0",
		Timestamp: now.UTC().Format("2006-01-02T15:04:05.000Z"),
		RequestContext: map[string]any{
			"requestId":              ev.ID,
			"functionArn":            arn + ":" + function.LatestVersion,
			"condition":              condition,
			"approximateInvokeCount": count,
		},
		RequestPayload: rawOrNull(ev.Payload),
	}
	if res != nil {
		rec.ResponseContext = responseContext{StatusCode: 200, ExecutedVersion: res.Version, FunctionError: res.FunctionError}
		rec.ResponsePayload = rawOrNull(res.Payload)
	}
	b, _ := json.Marshal(rec)
	return b
}

func rawOrNull(b []byte) json.RawMessage {
	if len(b) == 0 || !json.Valid(b) {
		return json.RawMessage("null")
	}
	return json.RawMessage(b)
}

func (q *Queue) stat(fn string) *Stats {
	q.mu.Lock()
	defer q.mu.Unlock()
	s := q.stats[fn]
	if s == nil {
		s = &Stats{Function: fn}
		q.stats[fn] = s
	}
	return s
}

func (q *Queue) add(p *int64, n int64) {
	q.mu.Lock()
	*p += n
	q.mu.Unlock()
}

func (q *Queue) count(f func(*Stats), fn string) {
	s := q.stat(fn)
	q.mu.Lock()
	f(s)
	q.dirty[fn] = true
	q.mu.Unlock()
}

// Stats returns the counters of every function that has had events, with
// the number still waiting in the stream.
func (q *Queue) Stats(ctx context.Context) ([]Stats, error) {
	info, err := q.js.Stream(ctx, streamName)
	if err != nil {
		return nil, fmt.Errorf("queue: stats: %w", store.Unavailable(err))
	}
	si, err := info.Info(ctx, jetstream.WithSubjectFilter(subjectRoot+">"))
	if err != nil {
		return nil, fmt.Errorf("queue: stats: %w", store.Unavailable(err))
	}
	var others map[string]*Stats
	if q.d.Node != "" {
		if others, err = q.savedCounters(ctx, true); err != nil {
			return nil, err
		}
	}
	q.mu.Lock()
	out := make(map[string]Stats, len(q.stats)+len(others))
	for fn, s := range q.stats {
		out[fn] = *s
	}
	q.mu.Unlock()
	for fn, o := range others {
		s := out[fn]
		s.Function = fn
		s.add(o)
		out[fn] = s
	}
	for subj, n := range si.State.Subjects {
		fn := subj[len(subjectRoot):]
		s := out[fn]
		s.Function, s.Queued = fn, n
		out[fn] = s
	}
	list := make([]Stats, 0, len(out))
	for _, s := range out {
		list = append(list, s)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Function < list[j].Function })
	return list, nil
}
