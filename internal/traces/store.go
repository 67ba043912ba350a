package traces

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/aloft-dev/aloft/internal/traces/traceid"
)

// The stream that holds traces.
const (
	StreamName    = "aloft_traces"
	subjectPrefix = "aloft.traces."
)

// Defaults of Options.
const (
	DefaultMaxAge     = 30 * 24 * time.Hour // as X-Ray keeps traces
	DefaultMaxBytes   = 1 << 30
	DefaultBuffer     = 10000
	DefaultBatch      = 500
	DefaultFlushEvery = 200 * time.Millisecond
)

// Options configure a Store; the zero value takes the defaults.
type Options struct {
	MaxAge     time.Duration // how long traces are kept
	MaxBytes   int64         // the stream's byte budget (oldest traces go first)
	Replicas   int
	Buffer     int           // segments held in memory at most; more are dropped
	Batch      int           // a batch is written when this many segments wait
	FlushEvery time.Duration // and at least this often
	// Export, if set, is handed every batch after it is written, on the
	// writer's goroutine; it must not block (package otlp queues).
	Export func([]Doc)
	Logger *slog.Logger
}

// Stats are a store's counters.
type Stats struct {
	Added, Written, Dropped, Failed uint64
}

// Store keeps segments on the backbone. Create it with Open.
type Store struct {
	js     jetstream.JetStream
	stream jetstream.Stream
	o      Options

	mu  sync.Mutex // guards buf and invs
	buf []Doc
	// invs are sampled invocations whose segments the writer builds,
	// off the invocations' path; each counts as two segments.
	invs []Invocation
	kick chan struct{} // a full batch waits
	quit chan struct{}
	done chan struct{}
	once sync.Once

	added, written, dropped, failed atomic.Uint64
}

// ErrClosed is returned by a closed Store's writes.
var ErrClosed = errors.New("traces: store closed")

// Open creates or updates the trace stream and starts the writer.
func Open(ctx context.Context, js jetstream.JetStream, o Options) (*Store, error) {
	if o.MaxAge <= 0 {
		o.MaxAge = DefaultMaxAge
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.Replicas <= 0 {
		o.Replicas = 1
	}
	if o.Buffer <= 0 {
		o.Buffer = DefaultBuffer
	}
	if o.Batch <= 0 {
		o.Batch = DefaultBatch
	}
	if o.FlushEvery <= 0 {
		o.FlushEvery = DefaultFlushEvery
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	st, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        StreamName,
		Description: "Aloft traces (X-Ray segment documents)",
		Subjects:    []string{subjectPrefix + ">"},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
		MaxAge:      o.MaxAge,
		MaxBytes:    o.MaxBytes,
		Replicas:    o.Replicas,
		AllowDirect: true,
		Compression: jetstream.S2Compression,
	})
	if err != nil {
		return nil, fmt.Errorf("traces: create stream: %w", err)
	}
	s := &Store{js: js, stream: st, o: o, kick: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{})}
	go s.run()
	return s, nil
}

// Record adds the segments of a sampled invocation (Build), which the
// writer builds from a copy of inv; it does nothing for one that is not
// sampled, nor, counting two segments dropped, when the buffer is full.
func (s *Store) Record(inv *Invocation) {
	if !traceid.IsSampled(inv.Trace) {
		return
	}
	s.mu.Lock()
	if s.closed() || s.o.Buffer-len(s.buf)-2*len(s.invs) < 2 {
		s.mu.Unlock()
		s.dropped.Add(2)
		return
	}
	s.invs = append(s.invs, *inv)
	full := len(s.buf)+2*len(s.invs) >= s.o.Batch
	s.mu.Unlock()
	if inv.Outcome == Throttled {
		s.added.Add(1) // a service segment alone
	} else {
		s.added.Add(2)
	}
	if full {
		select {
		case s.kick <- struct{}{}:
		default:
		}
	}
}

// Add queues segment documents to be written. It never blocks on I/O:
// when the buffer is full the documents are dropped and counted.
func (s *Store) Add(docs ...Doc) { s.add(docs) }

// add is Add, returning how many of docs (the first ones) it kept.
func (s *Store) add(docs []Doc) int {
	s.mu.Lock()
	if s.closed() {
		s.mu.Unlock()
		s.dropped.Add(uint64(len(docs)))
		return 0
	}
	room := s.o.Buffer - len(s.buf) - 2*len(s.invs)
	n := max(min(room, len(docs)), 0)
	s.buf = append(s.buf, docs[:n]...)
	full := len(s.buf)+2*len(s.invs) >= s.o.Batch
	s.mu.Unlock()
	s.added.Add(uint64(n))
	if n < len(docs) {
		s.dropped.Add(uint64(len(docs) - n))
	}
	if full {
		select {
		case s.kick <- struct{}{}:
		default:
		}
	}
	return n
}

func (s *Store) closed() bool {
	select {
	case <-s.quit:
		return true
	default:
		return false
	}
}

// Stats returns the store's counters.
func (s *Store) Stats() Stats {
	return Stats{Added: s.added.Load(), Written: s.written.Load(), Dropped: s.dropped.Load(), Failed: s.failed.Load()}
}

// Flush writes what waits now.
func (s *Store) Flush(ctx context.Context) error {
	s.mu.Lock()
	batch, invs := s.buf, s.invs
	s.buf, s.invs = nil, nil
	s.mu.Unlock()
	for i := range invs {
		batch = append(batch, Build(&invs[i])...)
	}
	return s.write(ctx, batch)
}

// Close writes what waits and stops the writer. It is idempotent.
func (s *Store) Close(ctx context.Context) error {
	var err error
	s.once.Do(func() {
		close(s.quit)
		select {
		case <-s.done:
		case <-ctx.Done():
			err = ctx.Err()
			return
		}
		err = s.Flush(ctx)
	})
	return err
}

// run writes batches until Close.
func (s *Store) run() {
	defer close(s.done)
	t := time.NewTicker(s.o.FlushEvery)
	defer t.Stop()
	for {
		select {
		case <-s.quit:
			return
		case <-t.C:
		case <-s.kick:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := s.Flush(ctx); err != nil {
			s.o.Logger.Warn("traces not written", "err", err)
		}
		cancel()
	}
}

// write stores a batch: one message per trace, published together.
func (s *Store) write(ctx context.Context, batch []Doc) error {
	if len(batch) == 0 {
		return nil
	}
	byTrace := map[string][]json.RawMessage{}
	order := make([]string, 0, 8)
	for _, d := range batch {
		if _, ok := byTrace[d.Trace]; !ok {
			order = append(order, d.Trace)
		}
		byTrace[d.Trace] = append(byTrace[d.Trace], d.Body)
	}
	futures := make([]jetstream.PubAckFuture, 0, len(order))
	counts := make([]int, 0, len(order))
	var errs []error
	for _, root := range order {
		body, _ := json.Marshal(byTrace[root]) // raw documents always encode
		f, err := s.js.PublishAsync(subjectPrefix+root, body)
		if err != nil {
			s.failed.Add(uint64(len(byTrace[root])))
			errs = append(errs, err)
			continue
		}
		futures = append(futures, f)
		counts = append(counts, len(byTrace[root]))
	}
	for i, f := range futures {
		select {
		case <-f.Ok():
			s.written.Add(uint64(counts[i]))
		case err := <-f.Err():
			s.failed.Add(uint64(counts[i]))
			errs = append(errs, err)
		case <-ctx.Done():
			s.failed.Add(uint64(counts[i]))
			errs = append(errs, ctx.Err())
		}
	}
	if s.o.Export != nil {
		s.o.Export(batch)
	}
	if len(errs) > 0 {
		return fmt.Errorf("traces: write %d traces: %w", len(errs), errors.Join(errs...))
	}
	return nil
}
