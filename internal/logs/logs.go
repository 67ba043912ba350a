// Package logs stores function logs on the backbone and answers queries over
// them with CloudWatch Logs semantics.
//
// Storage. All logs live in one JetStream stream, ALOFT_LOGS, with one
// subject per log stream (see codec.go for the subject and body layout). A
// JetStream message carries whole batches of events (an invocation's START,
// output, END and REPORT lines is one batch): the writer gathers batches
// for up to linger (50 ms) after the first of a round, and puts those of
// one log stream in one message, so a busy function's invocations share publishes and flushes
// to disk. Limits retention with MaxAge expires old messages.
//
// Writing. Append never waits for I/O: it hands the batch to a bounded queue
// drained by one writer goroutine, which takes up to maxRound batches at a
// time (lingering briefly for more, see linger), publishes them with
// JetStream async publish and then waits for all their acks. When the queue is full Append drops the oldest queued batch to
// make room (drop-oldest): the invoke path never blocks on a slow or
// unavailable backbone, memory stays bounded, and the most recent logs, the
// ones most useful to someone debugging, are the ones kept. Drops are
// counted (Stats) and logged at most every few seconds.
//
// Index. A small in-memory index holds, per log group and log stream, the
// metadata the Describe calls return and the sequence range of its
// messages. Open rebuilds it from the stream's subject state (one subject
// per log stream) and the first and last message of each subject, without
// scanning the logs. On a backbone other servers write to (Options.Follow)
// it then follows the stream for the messages they store; otherwise it
// assumes this Store is the only writer. It is not refreshed when MaxAge
// expires messages, so a log stream whose messages all expired stays
// listed until the next Open.
//
// Reading. Event queries read with ordered consumers filtered to the
// subjects of the log streams concerned, starting at a sequence (from a
// paging token) or at a time (the query's start minus startSlack), and stop
// at the last sequence the index knows for those log streams.
package logs

import (
	"context"
	"errors"
	"fmt"
	"github.com/aloft-dev/aloft/internal/awsproto"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go/jetstream"
)

// StreamName is the JetStream stream holding all logs.
const StreamName = "ALOFT_LOGS"

const (
	defaultMaxAge     = 30 * 24 * time.Hour
	defaultQueueSize  = 4096
	defaultQueueBytes = 64 << 20
	defaultMaxBytes   = 1 << 30
	defaultRegion     = awsproto.DefaultRegion
	accountID         = awsproto.AccountID

	// maxRound is how many queued batches the writer publishes before it
	// waits for their acks.
	maxRound = 256
	// ackWait bounds the wait for one round's acks.
	ackWait = 10 * time.Second
	// publishRetries is how many synchronous retries a failed publish gets.
	publishRetries = 3

	// maxChunkEvents and maxChunkBytes split large batches over several
	// messages (the server's default payload limit is 1 MiB).
	maxChunkEvents = 8192
	maxChunkBytes  = 512 << 10
	// MaxEventBytes is the longest message kept; longer ones are truncated.
	MaxEventBytes = 256 << 10

	// startSlack is subtracted from a query's start time before it is used
	// as a JetStream delivery start time: message times are ingestion
	// times, which follow event times, but the backbone's clock may lag
	// the host's and PutLogEvents accepts events up to this far ahead.
	startSlack = 2 * time.Minute

	dropLogEvery = 10 * time.Second
)

// Event is one log event. Timestamp and Ingestion are milliseconds since
// the epoch; Ingestion is set by the store and ignored on input.
type Event struct {
	Timestamp int64
	Message   string
	Ingestion int64
}

// FilteredEvent is an event returned by FilterLogEvents.
type FilteredEvent struct {
	Event
	Stream  string // log stream name
	EventID string // unique and stable
}

// Group describes a log group.
type Group struct {
	Name            string
	CreationTime    int64
	StoredBytes     int64
	Arn             string // ends in ":*" like CloudWatch's arn field
	RetentionInDays int    // 0 when MaxAge is not a whole number of days
}

// Stream describes a log stream. The event fields are 0 for a log stream
// without events.
type Stream struct {
	Name                string
	CreationTime        int64
	FirstEventTimestamp int64
	LastEventTimestamp  int64
	LastIngestionTime   int64
	StoredBytes         int64
	Arn                 string
}

// Options configures Open.
type Options struct {
	MaxAge    time.Duration // retention; 0 means 30 days
	Region    string        // used in ARNs; "" means us-east-1
	QueueSize int           // batches the write queue holds; 0 means 4096
	// QueueBytes bounds the message bytes of batches queued or being
	// written; 0 means 64 MiB. Past it Append drops the oldest queued
	// batches, or the new one when nothing queued is left to drop.
	QueueBytes int64
	// MaxBytes bounds the stored logs; the oldest go first. 0 means
	// 1 GiB. Logs live in a stream of their own, so they never take the
	// room of the registry or the queues.
	MaxBytes int64
	Replicas int          // stream replicas on a cluster; 0 means 1
	Logger   *slog.Logger // nil discards
	// AsyncPersist writes the stream in the backbone's asynchronous
	// persist mode: a write is acknowledged once the backbone holds it,
	// and reaches the disk within milliseconds (the kernel) and on the
	// backbone's sync interval (the disk), instead of each write being
	// flushed to disk before its acknowledgement. A kill -9 of the
	// server then loses at most the writes of the last few milliseconds
	// (besides linger's), a power loss those since the last sync. Only
	// for a stream that is not replicated; a stream created in one mode
	// keeps it.
	AsyncPersist bool
	// Follow is for a backbone other servers write logs to as well (the
	// nodes of a cluster): the index then follows the stream, recording
	// every message stored after Open that this Store did not write, so
	// that queries see the logs every node wrote. (Deletions of groups
	// and streams through another node are seen at the next Open.)
	Follow bool
}

// Stats counts batches since Open.
type Stats struct {
	Appended uint64 // accepted by Append and Put
	Written  uint64 // batches JetStream acknowledged
	Dropped  uint64 // batches dropped because the queue was full
	Failed   uint64 // batches that could not be published (wholly or in part)
}

var (
	ErrGroupNotFound    = errors.New("logs: log group does not exist")
	ErrStreamNotFound   = errors.New("logs: log stream does not exist")
	ErrGroupExists      = errors.New("logs: log group already exists")
	ErrStreamExists     = errors.New("logs: log stream already exists")
	ErrInvalidParameter = errors.New("logs: invalid parameter")
	ErrClosed           = errors.New("logs: store is closed")
	ErrDropped          = errors.New("logs: batch dropped, write queue full")
)

// ParamError is an invalid argument to a query; it matches
// ErrInvalidParameter with errors.Is. It is either a broken constraint
// (Param, Value and Constraint, which the API words as its wire does) or
// another refusal, whose Msg is fit for callers.
type ParamError struct {
	Msg        string
	Param      string // the parameter that breaks Constraint
	Value      any    // its value; nil when it has none worth showing
	Constraint string // e.g. "Member must have value greater than or equal to 1"
}

// Error describes the refusal.
func (e *ParamError) Error() string {
	if e.Param != "" {
		return fmt.Sprintf("logs: %s %v: %s", e.Param, e.Value, e.Constraint)
	}
	return e.Msg
}

// Is makes a ParamError match ErrInvalidParameter.
func (e *ParamError) Is(target error) bool { return target == ErrInvalidParameter }

func invalidParam(msg string) error { return &ParamError{Msg: msg} }

// violation reports parameter param, whose value is value, breaking
// constraint.
func violation(param string, value any, constraint string) error {
	return &ParamError{Param: param, Value: value, Constraint: constraint}
}

// batch is one unit of the write queue. stream "" asks for a group marker.
type batch struct {
	group, stream string
	events        []Event
	done          chan error // nil for Append
	size          int64      // message bytes, counted in queued (Append's only)
}

// size returns the bytes events hold, as the queue's bound counts them.
func eventsSize(events []Event) int64 {
	var n int64
	for _, e := range events {
		n += int64(len(e.Message)) + 32
	}
	return n
}

type streamKey struct{ group, stream string }

type flushWaiter struct {
	target uint64
	ch     chan struct{}
}

// Store is an open log store.
type Store struct {
	js     jetstream.JetStream
	stream jetstream.Stream
	log    *slog.Logger
	region string
	maxAge time.Duration

	idx index

	queue chan batch
	// queued counts the bytes of Append's batches from Append until they
	// are finished (written, failed or dropped); maxQueued bounds it.
	queued    atomic.Int64
	maxQueued int64
	quit      chan struct{}
	stopped   chan struct{}
	following jetstream.ConsumeContext // Options.Follow's, nil without
	closed    atomic.Bool
	once      sync.Once
	cerr      error

	appended atomic.Uint64
	written  atomic.Uint64
	dropped  atomic.Uint64
	failed   atomic.Uint64

	flushMu  sync.Mutex
	finished uint64
	waiters  []flushWaiter
	hurry    chan struct{} // ends the writer's linger (nudge)

	// cum holds, per subject, the bytes written to the log stream so far,
	// including messages still in flight; it gives each body its "prior".
	cumMu sync.Mutex
	cum   map[string]int64

	// writer goroutine only
	subjects    map[streamKey]string
	streams     []roundStream  // write's, kept from round to round
	at          map[string]int // write's
	msgs        []pending      // write's
	bodies      []byte         // write's: the round's message bodies
	lastDropLog time.Time
	dropsLogged uint64
}

// Open creates or updates the ALOFT_LOGS stream, rebuilds the index from it
// and starts the writer.
func Open(ctx context.Context, js jetstream.JetStream, o Options) (*Store, error) {
	if o.MaxAge <= 0 {
		o.MaxAge = defaultMaxAge
	}
	if o.Region == "" {
		o.Region = defaultRegion
	}
	if o.QueueSize <= 0 {
		o.QueueSize = defaultQueueSize
	}
	if o.QueueBytes <= 0 {
		o.QueueBytes = defaultQueueBytes
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = defaultMaxBytes
	}
	if o.Replicas <= 0 {
		o.Replicas = 1
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	cfg := jetstream.StreamConfig{
		Name:        StreamName,
		Description: "Aloft function logs",
		Subjects:    []string{subjectPrefix + ">"},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
		MaxAge:      o.MaxAge,
		MaxBytes:    o.MaxBytes,
		Replicas:    o.Replicas,
		AllowDirect: true,
		Compression: jetstream.S2Compression,
	}
	if o.AsyncPersist && o.Replicas == 1 {
		cfg.PersistMode = jetstream.AsyncPersistMode
	}
	// The persist mode of a stream is fixed when it is created: an
	// existing one keeps its own.
	if info, err := js.Stream(ctx, StreamName); err == nil {
		cfg.PersistMode = info.CachedInfo().Config.PersistMode
	}
	st, err := js.CreateOrUpdateStream(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("logs: create stream: %w", err)
	}
	s := &Store{
		js:        js,
		stream:    st,
		log:       o.Logger,
		region:    o.Region,
		maxAge:    o.MaxAge,
		idx:       index{groups: map[string]*groupEntry{}},
		queue:     make(chan batch, o.QueueSize),
		maxQueued: o.QueueBytes,
		quit:      make(chan struct{}),
		stopped:   make(chan struct{}),
		hurry:     make(chan struct{}, 1),
		cum:       map[string]int64{},
		subjects:  map[streamKey]string{},
	}
	var from uint64 // the first message the rebuild may not see
	if o.Follow {
		info, err := st.Info(ctx)
		if err != nil {
			return nil, fmt.Errorf("logs: stream info: %w", err)
		}
		from = info.State.LastSeq + 1
	}
	if err := s.rebuild(ctx); err != nil {
		return nil, err
	}
	if o.Follow {
		if err := s.follow(ctx, from); err != nil {
			return nil, err
		}
	}
	go s.run()
	return s, nil
}

// follow records in the index every message stored from sequence from
// on, as it arrives; those this Store recorded already (its own, or
// seen by the rebuild) are skipped by the index.
func (s *Store) follow(ctx context.Context, from uint64) error {
	c, err := s.stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{subjectPrefix + ">"},
		DeliverPolicy:  jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:    from,
	})
	if err != nil {
		return fmt.Errorf("logs: follow the stream: %w", err)
	}
	cc, err := c.Consume(func(m jetstream.Msg) {
		meta, err := m.Metadata()
		if err != nil {
			return
		}
		group, stream, err := parseSubject(m.Subject())
		if err != nil {
			return
		}
		sum, err := summarize(m.Data())
		if err != nil {
			s.log.Warn("ignoring malformed log message", "subject", m.Subject(), "seq", meta.Sequence.Stream)
			return
		}
		s.idx.record(group, stream, m.Subject(), meta.Sequence.Stream, sum)
	})
	if err != nil {
		return fmt.Errorf("logs: follow the stream: %w", err)
	}
	s.following = cc
	return nil
}

// Append queues one batch of events for a log stream, creating the group
// and stream on first use. It never blocks on I/O: when the queue is full
// the oldest queued batch is dropped. Append copies events. Ingestion
// times are assigned by the store.
func (s *Store) Append(group, stream string, events []Event) {
	if len(events) == 0 || group == "" || stream == "" || s.closed.Load() {
		return
	}
	b := batch{group: group, stream: stream, events: append([]Event(nil), events...), size: eventsSize(events)}
	s.appended.Add(1)
	for s.queued.Add(b.size) > s.maxQueued {
		s.queued.Add(-b.size)
		select {
		case old := <-s.queue:
			s.drop(old)
			continue
		default:
		}
		// Nothing queued is left to drop: the bytes are in the batches
		// being written.
		b.size = 0 // not counted
		s.dropped.Add(1)
		s.finish(b, ErrDropped)
		return
	}
	for {
		select {
		case s.queue <- b:
			if s.queued.Load() >= s.maxQueued/4 || len(s.queue) >= min(maxRound, cap(s.queue)/2) {
				s.nudge() // a round's worth is waiting, or half the queue
			}
			return
		default:
		}
		select {
		case old := <-s.queue:
			s.drop(old)
		default:
		}
	}
}

// drop gives up a batch Append queued.
func (s *Store) drop(b batch) {
	s.dropped.Add(1)
	s.finish(b, ErrDropped)
}

// Flush waits until every batch appended before the call has been written
// (or dropped, or has failed).
func (s *Store) Flush(ctx context.Context) error {
	target := s.appended.Load()
	s.flushMu.Lock()
	if s.finished >= target {
		s.flushMu.Unlock()
		return nil
	}
	ch := make(chan struct{})
	s.waiters = append(s.waiters, flushWaiter{target: target, ch: ch})
	s.flushMu.Unlock()
	s.nudge() // a waiter: the writer need not linger
	select {
	case <-ch:
		return nil
	case <-s.stopped:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops accepting batches, flushes the queue and stops the writer.
// It is idempotent; queries keep working on the index after Close.
func (s *Store) Close(ctx context.Context) error {
	s.once.Do(func() {
		s.closed.Store(true)
		err := s.Flush(ctx)
		if s.following != nil {
			s.following.Stop()
		}
		close(s.quit)
		select {
		case <-s.stopped:
		case <-ctx.Done():
			if err == nil {
				err = ctx.Err()
			}
		}
		s.cerr = err
	})
	return s.cerr
}

// Stats returns the write counters.
func (s *Store) Stats() Stats {
	return Stats{
		Appended: s.appended.Load(),
		Written:  s.written.Load(),
		Dropped:  s.dropped.Load(),
		Failed:   s.failed.Load(),
	}
}

// Put writes a batch and waits for it to be stored (PutLogEvents). The log
// stream must exist. Events more than startSlack in the future or older
// than the retention are not stored; their index ranges are reported like
// CloudWatch's rejectedLogEventsInfo (-1 when none).
func (s *Store) Put(ctx context.Context, group, stream string, events []Event) (tooNewStart, expiredEnd int, err error) {
	tooNewStart, expiredEnd = -1, -1
	if !s.idx.hasStream(group, stream) {
		if !s.idx.hasGroup(group) {
			return tooNewStart, expiredEnd, ErrGroupNotFound
		}
		return tooNewStart, expiredEnd, ErrStreamNotFound
	}
	now := time.Now()
	newest := now.Add(startSlack).UnixMilli()
	oldest := now.Add(-s.maxAge).UnixMilli()
	keep := make([]Event, 0, len(events))
	for i, e := range events {
		switch {
		case e.Timestamp > newest:
			if tooNewStart < 0 {
				tooNewStart = i
			}
		case e.Timestamp < oldest:
			expiredEnd = i + 1
		default:
			keep = append(keep, Event{Timestamp: e.Timestamp, Message: e.Message})
		}
	}
	if len(keep) == 0 {
		return tooNewStart, expiredEnd, nil
	}
	return tooNewStart, expiredEnd, s.enqueueWait(ctx, batch{group: group, stream: stream, events: keep})
}

// CreateGroup creates an empty log group.
func (s *Store) CreateGroup(ctx context.Context, group string) error {
	if group == "" {
		return violation("logGroupName", nil, "Member must have length greater than or equal to 1")
	}
	if s.idx.hasGroup(group) {
		return ErrGroupExists
	}
	return s.enqueueWait(ctx, batch{group: group})
}

// CreateStream creates an empty log stream in an existing group.
func (s *Store) CreateStream(ctx context.Context, group, stream string) error {
	if stream == "" {
		return violation("logStreamName", nil, "Member must have length greater than or equal to 1")
	}
	if !s.idx.hasGroup(group) {
		return ErrGroupNotFound
	}
	if s.idx.hasStream(group, stream) {
		return ErrStreamExists
	}
	return s.enqueueWait(ctx, batch{group: group, stream: stream})
}

// DeleteGroup removes a log group and all its events.
func (s *Store) DeleteGroup(ctx context.Context, group string) error {
	if !s.idx.hasGroup(group) {
		return ErrGroupNotFound
	}
	if err := s.Flush(ctx); err != nil {
		return err
	}
	gt := nameToken(group)
	if err := s.stream.Purge(ctx, jetstream.WithPurgeSubject(subjectPrefix+gt+".>")); err != nil {
		return fmt.Errorf("logs: purge group: %w", err)
	}
	s.idx.deleteGroup(group)
	s.forgetCum(subjectPrefix + gt + ".")
	return nil
}

// DeleteStream removes a log stream and its events.
func (s *Store) DeleteStream(ctx context.Context, group, stream string) error {
	if !s.idx.hasGroup(group) {
		return ErrGroupNotFound
	}
	if !s.idx.hasStream(group, stream) {
		return ErrStreamNotFound
	}
	if err := s.Flush(ctx); err != nil {
		return err
	}
	subj := streamSubject(nameToken(group), nameToken(stream))
	if err := s.stream.Purge(ctx, jetstream.WithPurgeSubject(subj)); err != nil {
		return fmt.Errorf("logs: purge stream: %w", err)
	}
	s.idx.deleteStream(group, stream)
	s.forgetCum(subj)
	return nil
}

func (s *Store) forgetCum(prefix string) {
	s.cumMu.Lock()
	for k := range s.cum {
		if strings.HasPrefix(k, prefix) {
			delete(s.cum, k)
		}
	}
	s.cumMu.Unlock()
}

// enqueueWait queues b without dropping and waits for its outcome.
func (s *Store) enqueueWait(ctx context.Context, b batch) error {
	if s.closed.Load() {
		return ErrClosed
	}
	b.done = make(chan error, 1)
	s.appended.Add(1)
	select {
	case s.queue <- b:
		s.nudge() // the writer need not linger
	case <-ctx.Done():
		s.advance(1)
		return ctx.Err()
	case <-s.stopped:
		s.advance(1)
		return ErrClosed
	}
	select {
	case err := <-b.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// finish ends a batch: written, failed or dropped. Its bytes leave the
// queue's count before anyone waiting on it is told.
func (s *Store) finish(b batch, err error) {
	s.queued.Add(-b.size)
	if b.done != nil {
		b.done <- err
	}
	s.advance(1)
}

func (s *Store) advance(n uint64) {
	s.flushMu.Lock()
	s.finished += n
	kept := s.waiters[:0]
	for _, w := range s.waiters {
		if s.finished >= w.target {
			close(w.ch)
		} else {
			kept = append(kept, w)
		}
	}
	clear(s.waiters[len(kept):])
	s.waiters = kept
	s.flushMu.Unlock()
}

// run is the writer goroutine.
func (s *Store) run() {
	defer close(s.stopped)
	round := make([]batch, 0, maxRound)
	timer := time.NewTimer(linger)
	timer.Stop()
	for {
		select {
		case b := <-s.queue:
			round = s.gather(append(round[:0], b), timer)
			s.write(round)
			s.reportDrops()
		case <-s.quit:
			for {
				var held int64
				round = s.collect(round[:0], &held)
				if len(round) == 0 {
					s.reportDrops()
					return
				}
				s.write(round)
			}
		}
	}
}

// linger is how long the writer waits, once a batch has arrived, for more
// to join its round, so that the batches of many invocations cost one
// backbone write (and one flush to disk) instead of one each. Nobody's
// answer waits for it: Append returns at once, and a caller that waits
// for its batch (Put, the markers, Flush and Close) ends the wait. What
// it costs is that logs appear this much later, and that a crash of the
// server (kill -9, power) can lose the batches of this last window.
//
// A round's batches share a message only within one log stream, and
// every instance of a function has a log stream of its own, so a round
// must be long enough for each busy instance to end several invocations
// in it: with 16 instances each ending one every few milliseconds, a
// 5 ms round still cost close to one message (publish, store, ack) per
// invocation, about a tenth of the server's CPU; 50 ms makes it a few
// per hundred.
const linger = 50 * time.Millisecond

// gather adds queued batches to round. Unless a caller waits for one of
// them or the round is full already, it first sleeps for linger and then
// takes what queued meanwhile in one go: the writer is not woken for each
// batch. The sleep ends early when a caller waits for a batch (Put, the
// markers, Flush), when the bytes queued or being written reach a quarter
// of QueueBytes, or when a round's worth of batches (or half the queue)
// waits (see nudge).
func (s *Store) gather(round []batch, timer *time.Timer) []batch {
	var held int64
	for _, b := range round {
		held += b.size
	}
	round = s.collect(round, &held)
	if s.roundFull(round, held) || waited(round) {
		return round
	}
	timer.Reset(linger)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-s.hurry:
	case <-s.quit:
	}
	return s.collect(round, &held)
}

// roundFull says whether a round of these batches, holding held bytes,
// takes no more: maxRound batches, or a quarter of QueueBytes. Batches in
// a round can no longer be dropped for newer ones, so the rest of a burst
// must stay in the queue, where drop-oldest still works.
func (s *Store) roundFull(round []batch, held int64) bool {
	return len(round) >= maxRound || held >= s.maxQueued/4
}

// waited says whether a caller waits for a batch of round.
func waited(round []batch) bool {
	for _, b := range round {
		if b.done != nil {
			return true
		}
	}
	return false
}

// collect adds queued batches to round without blocking, until it is
// full (roundFull); held counts its bytes.
func (s *Store) collect(round []batch, held *int64) []batch {
	for !s.roundFull(round, *held) {
		select {
		case b := <-s.queue:
			round = append(round, b)
			*held += b.size
		default:
			return round
		}
	}
	return round
}

// nudge ends the writer's linger early.
func (s *Store) nudge() {
	select {
	case s.hurry <- struct{}{}:
	default:
	}
}

func (s *Store) reportDrops() {
	d := s.dropped.Load()
	if d == s.dropsLogged || time.Since(s.lastDropLog) < dropLogEvery {
		return
	}
	s.log.Warn("log write queue full, dropped oldest batches", "dropped", d-s.dropsLogged, "total", d)
	s.dropsLogged, s.lastDropLog = d, time.Now()
}

// pending is one published message awaiting its ack.
type pending struct {
	fut     jetstream.PubAckFuture
	err     error
	subject string
	data    []byte
	sum     bodySummary
	batch   int // the log stream's index in the round
}

// write publishes one round of batches and waits for all acks. The
// batches of one log stream go out together, in the order they came, as
// one message (or as few as the size limits allow).
func (s *Store) write(round []batch) {
	now := time.Now().UnixMilli()
	streams := s.streams[:0]
	if s.at == nil {
		s.at = make(map[string]int)
	}
	at := s.at // subject → index in streams
	clear(at)
	for i := range round {
		b := &round[i]
		subj := s.subjectFor(b.group, b.stream)
		k, ok := at[subj]
		if !ok {
			k = len(streams)
			at[subj] = k
			streams = append(streams, roundStream{subject: subj, events: b.events})
		} else {
			st := &streams[k]
			if len(st.batches) == 1 { // copy before appending: events belong to the batch
				st.events = append(make([]Event, 0, len(st.events)+len(b.events)), st.events...)
			}
			st.events = append(st.events, b.events...)
		}
		streams[k].batches = append(streams[k].batches, i)
	}
	// The round's message bodies are cut from one buffer, kept from
	// round to round.
	total := 0
	for k := range streams {
		st := &streams[k]
		st.chunks = chunk(st.events)
		for _, c := range st.chunks {
			total += bodySize(c)
		}
	}
	if cap(s.bodies) < total {
		s.bodies = make([]byte, 0, max(total, 2*cap(s.bodies)))
	}
	bodies := s.bodies[:0]
	msgs := s.msgs[:0]
	for k := range streams {
		st := &streams[k]
		st.left = len(st.chunks)
		for _, c := range st.chunks {
			sum := bodySummary{bodyHeader: bodyHeader{ingestion: now, count: len(c)}}
			for j := range c {
				ts := c[j].Timestamp
				if j == 0 || ts < sum.minTs {
					sum.minTs = ts
				}
				if j == 0 || ts > sum.maxTs {
					sum.maxTs = ts
				}
				sum.bytes += int64(len(c[j].Message))
			}
			sum.prior = s.reserve(st.subject, sum.bytes)
			off := len(bodies)
			bodies = appendBody(bodies, now, sum.prior, c)
			data := bodies[off:len(bodies):len(bodies)]
			p := pending{subject: st.subject, data: data, sum: sum, batch: k}
			p.fut, p.err = s.js.PublishAsync(st.subject, data)
			msgs = append(msgs, p)
		}
	}
	defer func() {
		clear(streams)
		clear(msgs)
		s.streams, s.msgs = streams[:0], msgs[:0]
	}()
	timer := time.NewTimer(ackWait)
	defer timer.Stop()
	expired := false
	giveUp := false // a retry failed: fail the rest of the round fast
	for i := range msgs {
		p := &msgs[i]
		var ack *jetstream.PubAck
		err := p.err
		if err == nil {
			ack, err = awaitAck(p.fut, timer.C, &expired)
		}
		if err != nil && !giveUp {
			if ack, err = s.republish(p); err != nil {
				giveUp = true
			}
		}
		st := &streams[p.batch]
		first := &round[st.batches[0]]
		if err != nil {
			st.err = err
			s.log.Error("log write failed", "group", first.group, "stream", first.stream, "events", p.sum.count, "err", err)
		} else {
			s.idx.record(first.group, first.stream, p.subject, ack.Sequence, p.sum)
		}
		if st.left--; st.left == 0 {
			if st.err != nil {
				s.failed.Add(uint64(len(st.batches)))
			} else {
				s.written.Add(uint64(len(st.batches)))
			}
			for _, b := range st.batches {
				s.finish(round[b], st.err)
			}
		}
	}
	if expired || cap(s.bodies) > keepBodies {
		// A message whose ack did not come in time may still be sent
		// again by the client: its body must stay as it is. A buffer
		// grown by a burst is not held on to either.
		s.bodies = nil
	}
}

// keepBodies is the largest body buffer the writer keeps for its next
// round.
const keepBodies = 1 << 20

// roundStream is one log stream's part of a round the writer writes.
type roundStream struct {
	subject string
	events  []Event
	chunks  [][]Event
	batches []int // indexes in round
	left    int   // messages not yet acked
	err     error
}

func awaitAck(fut jetstream.PubAckFuture, deadline <-chan time.Time, expired *bool) (*jetstream.PubAck, error) {
	if *expired {
		select {
		case ack := <-fut.Ok():
			return ack, nil
		case err := <-fut.Err():
			return nil, err
		default:
			return nil, errors.New("logs: publish ack timed out")
		}
	}
	select {
	case ack := <-fut.Ok():
		return ack, nil
	case err := <-fut.Err():
		return nil, err
	case <-deadline:
		*expired = true
		return awaitAck(fut, deadline, expired)
	}
}

// republish retries a failed message synchronously.
func (s *Store) republish(p *pending) (*jetstream.PubAck, error) {
	var err error
	for attempt := 0; attempt < publishRetries; attempt++ {
		if attempt > 0 {
			time.Sleep(time.Duration(attempt) * 100 * time.Millisecond)
		}
		ctx, cancel := context.WithTimeout(context.Background(), ackWait)
		var ack *jetstream.PubAck
		ack, err = s.js.Publish(ctx, p.subject, p.data)
		cancel()
		if err == nil {
			return ack, nil
		}
	}
	return nil, err
}

// reserve returns the bytes written to subject's log stream so far and
// adds n.
func (s *Store) reserve(subject string, n int64) int64 {
	s.cumMu.Lock()
	defer s.cumMu.Unlock()
	prior, ok := s.cum[subject]
	if !ok {
		prior = s.idx.totalBytes(subject)
	}
	s.cum[subject] = prior + n
	return prior
}

func (s *Store) subjectFor(group, stream string) string {
	k := streamKey{group, stream}
	if subj, ok := s.subjects[k]; ok {
		return subj
	}
	if len(s.subjects) >= 1<<14 {
		clear(s.subjects)
	}
	var subj string
	if stream == "" {
		subj = groupSubject(nameToken(group))
	} else {
		subj = streamSubject(nameToken(group), nameToken(stream))
	}
	s.subjects[k] = subj
	return subj
}

// chunk splits events into message-sized slices, truncating oversized
// messages. An empty batch yields one empty chunk (a marker).
func chunk(events []Event) [][]Event {
	if len(events) == 0 {
		return [][]Event{nil}
	}
	var out [][]Event
	start, size := 0, 0
	for i := range events {
		if len(events[i].Message) > MaxEventBytes {
			events[i].Message = truncate(events[i].Message, MaxEventBytes)
		}
		es := encodedEventSize(&events[i])
		if i > start && (i-start >= maxChunkEvents || size+es > maxChunkBytes) {
			out = append(out, events[start:i])
			start, size = i, 0
		}
		size += es
	}
	return append(out, events[start:])
}

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func (s *Store) groupArn(name string) string {
	return "arn:aws:logs:" + s.region + ":" + accountID + ":log-group:" + name + ":*"
}

func (s *Store) streamArn(group, stream string) string {
	return "arn:aws:logs:" + s.region + ":" + accountID + ":log-group:" + group + ":log-stream:" + stream
}

func (s *Store) retentionDays() int {
	if s.maxAge%(24*time.Hour) != 0 {
		return 0
	}
	return int(s.maxAge / (24 * time.Hour))
}
