package mappings

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/aloft-dev/aloft/internal/eventfilter"
	"github.com/aloft-dev/aloft/internal/ids"
	"github.com/aloft-dev/aloft/internal/item"
	"github.com/aloft-dev/aloft/internal/lease"
)

// A table stream is read by one node at a time, in order: whoever holds
// the mapping's lease (package lease; named by LeaseName) polls it, and
// keeps its position (the next record's sequence) in
// aloft_mapping_positions after each batch it is done with. A node that
// loses the lease stops delivering before another can take it.

const positionsBucket = "aloft_mapping_positions"

// LeaseName is the lease whose holder reads the stream of mapping uuid.
func LeaseName(uuid string) string { return "mapping/" + uuid }

// streamState is what table stream mappings keep on the backbone.
type streamState struct {
	positions jetstream.KeyValue // each mapping's position
	leases    *lease.Leases      // who reads each stream: Deps.Leases, or the service's own
	ownLeases bool               // leases were opened here, and are closed by Close
}

// streamBuckets opens the positions bucket, and leases of the service's
// own when Deps has none, when a poller first needs them (and again
// after a failure).
func (s *Service) streamBuckets(ctx context.Context) (jetstream.KeyValue, *lease.Leases, error) {
	b, err := s.buckets.Get(func() (streamState, error) {
		pos, err := s.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: positionsBucket, History: 1, Storage: jetstream.FileStorage})
		if err != nil {
			return streamState{}, err
		}
		if s.d.Leases != nil {
			return streamState{positions: pos, leases: s.d.Leases}, nil
		}
		l, err := lease.Open(ctx, s.js, lease.Options{Logger: s.log})
		if err != nil {
			return streamState{}, err
		}
		return streamState{positions: pos, leases: l, ownLeases: true}, nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("mappings: stream positions: %w", err)
	}
	return b.positions, b.leases, nil
}

func (s *Service) savePosition(ctx context.Context, id string, next uint64) error {
	pos, _, err := s.streamBuckets(ctx)
	if err != nil {
		return err
	}
	if _, err := pos.Put(ctx, id, []byte(strconv.FormatUint(next, 10))); err != nil {
		return fmt.Errorf("mappings: save a stream position: %w", err)
	}
	return nil
}

func (s *Service) position(ctx context.Context, id string) (uint64, error) {
	pos, _, err := s.streamBuckets(ctx)
	if err != nil {
		return 0, err
	}
	e, err := pos.Get(ctx, id)
	if err != nil {
		return 0, fmt.Errorf("mappings: read a stream position: %w", err)
	}
	return strconv.ParseUint(string(e.Value()), 10, 64)
}

// streamPoller reads one mapping's table stream.
type streamPoller struct {
	s       *Service
	m       Mapping
	filters []*eventfilter.Pattern
	ctx     context.Context
	cancel  context.CancelFunc
	done    chan struct{}
}

func (s *Service) newStreamPoller(m Mapping) *streamPoller {
	ctx, cancel := context.WithCancel(context.Background())
	p := &streamPoller{s: s, m: m, ctx: ctx, cancel: cancel, done: make(chan struct{})}
	if m.FilterCriteria != nil {
		for _, f := range m.FilterCriteria.Filters {
			if pat, err := eventfilter.Parse([]byte(f.Pattern)); err == nil {
				p.filters = append(p.filters, pat)
			}
		}
	}
	return p
}

func (p *streamPoller) revision() uint64 { return p.m.rev }
func (p *streamPoller) start()           { go p.run() }
func (p *streamPoller) close() {
	p.cancel()
	<-p.done
}

func pause(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// run works batches while this node holds the mapping's lease.
func (p *streamPoller) run() {
	defer close(p.done)
	_, leases, err := p.s.streamBuckets(p.ctx)
	if err != nil {
		p.s.log.Error("mappings: stream mapping stopped", "uuid", p.m.UUID, "err", err)
		return
	}
	leases.Run(p.ctx, LeaseName(p.m.UUID), p.read)
}

// read works batches until ctx ends: the lease is lost or the poller
// closes.
func (p *streamPoller) read(ctx context.Context) {
	for ctx.Err() == nil {
		// Caught up, it waits for the table's next change (or a second,
		// in case the stream went away and came back).
		changed := p.s.d.Tables.NextChange(p.m.EventSourceArn)
		if worked := p.batch(ctx); !worked {
			t := time.NewTimer(time.Second)
			select {
			case <-ctx.Done():
			case <-changed:
			case <-t.C:
			}
			t.Stop()
		}
	}
}

// batch reads and handles one round of records, reporting whether
// there was one. A round is up to BatchSize × ParallelizationFactor
// records; with a factor above one they are dealt to that many lanes by
// their item's key, each lane invoking the function with its records in
// order, so changes to one item are still delivered one after another.
// The position moves past the round once every lane is done with it.
func (p *streamPoller) batch(ctx context.Context) bool {
	from, err := p.s.position(ctx, p.m.UUID)
	if err != nil {
		p.s.log.Warn("mappings: stream position", "uuid", p.m.UUID, "err", err)
		return false
	}
	factor := 1
	if f := p.m.ParallelizationFactor; f != nil && *f > 1 {
		factor = *f
	}
	want := p.m.BatchSize * factor
	recs, next, err := p.s.d.Tables.RecordsFrom(ctx, p.m.EventSourceArn, from, want)
	if err != nil || len(recs) == 0 {
		return false
	}
	if w := p.m.MaximumBatchingWindowInSeconds; w > 0 && len(recs) < want {
		deadline := time.Now().Add(time.Duration(w) * time.Second)
		for len(recs) < want && time.Now().Before(deadline) && ctx.Err() == nil {
			pause(ctx, 100*time.Millisecond)
			more, n, err := p.s.d.Tables.RecordsFrom(ctx, p.m.EventSourceArn, next, want-len(recs))
			if err != nil {
				break
			}
			recs, next = append(recs, more...), n
		}
	}
	p.s.observeAge(p.m, time.Since(time.UnixMilli(recs[len(recs)-1].Time)))
	lanes := make([][]map[string]any, factor)
	for _, r := range recs {
		ev := r.Event(p.m.EventSourceArn)
		if !p.matches(ev) {
			continue
		}
		lane := 0
		if factor > 1 {
			lane = laneOf(r.Keys, factor)
		}
		lanes[lane] = append(lanes[lane], ev)
	}
	var wg sync.WaitGroup
	for _, events := range lanes {
		if len(events) == 0 {
			continue
		}
		wg.Go(func() {
			for len(events) > 0 && ctx.Err() == nil {
				n := min(len(events), p.m.BatchSize)
				p.deliver(ctx, events[:n])
				events = events[n:]
			}
		})
	}
	wg.Wait()
	if ctx.Err() == nil {
		if err := p.s.savePosition(ctx, p.m.UUID, next); err != nil {
			p.s.log.Warn("mappings: save a stream position", "uuid", p.m.UUID, "err", err)
		}
	}
	return true
}

// laneOf picks the lane of an item's changes from its key.
func laneOf(keys item.Item, lanes int) int {
	b, _ := json.Marshal(keys)
	h := fnv.New32a()
	h.Write(b)
	return int(h.Sum32() % uint32(lanes))
}

// behind is the iterator age past which a mapping is said, once, in the
// server's log to be falling behind its stream.
const behind = time.Minute

// observeAge keeps a stream mapping's iterator age: how old the last
// record of its latest round was when the round was read, which is
// Lambda's IteratorAge.
func (s *Service) observeAge(m Mapping, age time.Duration) {
	if s.d.IteratorAge != nil {
		s.d.IteratorAge(m.FunctionArn, age)
	}
	old, _ := s.ages.Swap(m.UUID, age)
	was, _ := old.(time.Duration)
	switch {
	case age >= behind && was < behind:
		s.log.Warn("mappings: a stream mapping is falling behind", "uuid", m.UUID, "function", m.FunctionArn, "iterator_age_ms", age.Milliseconds())
	case age < behind && was >= behind:
		s.log.Info("mappings: a stream mapping has caught up", "uuid", m.UUID, "function", m.FunctionArn, "iterator_age_ms", age.Milliseconds())
	}
}

// IteratorAge is how old the last record a stream mapping read was when
// it read it; false when the mapping has read nothing since this server
// started.
func (s *Service) IteratorAge(uuid string) (time.Duration, bool) {
	v, ok := s.ages.Load(uuid)
	if !ok {
		return 0, false
	}
	return v.(time.Duration), true
}

// matches says whether a record passes the mapping's filters.
func (p *streamPoller) matches(ev map[string]any) bool {
	if len(p.filters) == 0 {
		return true
	}
	b, _ := json.Marshal(ev)
	var doc map[string]any
	json.Unmarshal(b, &doc)
	for _, f := range p.filters {
		if f.Match(doc) {
			return true
		}
	}
	return false
}

// deliver invokes the function with events until it succeeds, bisecting
// a failing batch when asked, and gives up on records past the retry or
// age limits, sending their batch's details to the OnFailure destination.
func (p *streamPoller) deliver(ctx context.Context, events []map[string]any) {
	queue := [][]map[string]any{events}
	for len(queue) > 0 && ctx.Err() == nil {
		batch := queue[0]
		queue = queue[1:]
		attempts := 0
		for ctx.Err() == nil {
			attempts++
			payload, _ := json.Marshal(map[string]any{"Records": batch})
			answer, fnErr, err := p.s.d.Invoke(ctx, p.m.target(), payload)
			failed := err != nil || fnErr != ""
			if !failed && len(p.m.FunctionResponseTypes) > 0 {
				if rest := failedFrom(answer, batch); rest != nil {
					batch, failed = rest, true
				}
			}
			if !failed {
				break
			}
			if p.m.BisectBatchOnFunctionError != nil && *p.m.BisectBatchOnFunctionError && len(batch) > 1 {
				half := len(batch) / 2
				queue = append([][]map[string]any{batch[:half], batch[half:]}, queue...)
				break
			}
			condition := ""
			if n := p.m.MaximumRetryAttempts; n != nil && *n >= 0 && attempts > *n {
				condition = "RetryAttemptsExhausted"
			}
			if a := p.m.MaximumRecordAgeInSeconds; a != nil && *a > 0 && recordAge(batch[0]) > time.Duration(*a)*time.Second {
				condition = "RecordAgeExceeded"
			}
			if condition != "" {
				p.giveUp(ctx, batch, condition, attempts, fnErr)
				break
			}
			pause(ctx, time.Duration(min(attempts, 10))*100*time.Millisecond)
		}
	}
}

// failedFrom reads a partial batch response: the records from the first
// failed one on (the rest are retried, in order), nil when all
// succeeded. A response naming no record of the batch fails it whole.
func failedFrom(answer []byte, batch []map[string]any) []map[string]any {
	var resp struct {
		BatchItemFailures []struct {
			ItemIdentifier string `json:"itemIdentifier"`
		} `json:"batchItemFailures"`
	}
	if json.Unmarshal(answer, &resp) != nil || len(resp.BatchItemFailures) == 0 {
		return nil
	}
	first := -1
	for _, f := range resp.BatchItemFailures {
		for i, ev := range batch {
			if seqOf(ev) == f.ItemIdentifier && (first < 0 || i < first) {
				first = i
			}
		}
	}
	if first < 0 {
		return batch
	}
	return batch[first:]
}

func seqOf(ev map[string]any) string {
	d, _ := ev["dynamodb"].(map[string]any)
	s, _ := d["SequenceNumber"].(string)
	return s
}

func recordAge(ev map[string]any) time.Duration {
	d, _ := ev["dynamodb"].(map[string]any)
	t, _ := d["ApproximateCreationDateTime"].(float64)
	return time.Since(time.Unix(int64(t), 0))
}

// giveUp sends a failed batch's details to the OnFailure destination,
// as Lambda does for streams, and moves on.
func (p *streamPoller) giveUp(ctx context.Context, batch []map[string]any, condition string, attempts int, fnErr string) {
	p.s.log.Warn("mappings: giving up on stream records", "uuid", p.m.UUID, "condition", condition, "records", len(batch))
	dest := ""
	if d := p.m.DestinationConfig; d != nil && d.OnFailure != nil {
		dest = d.OnFailure.Destination
	}
	if dest == "" || p.s.d.Send == nil {
		return
	}
	first, last := batch[0], batch[len(batch)-1]
	at := func(ev map[string]any) string {
		d, _ := ev["dynamodb"].(map[string]any)
		t, _ := d["ApproximateCreationDateTime"].(float64)
		return time.Unix(int64(t), 0).UTC().Format(time.RFC3339)
	}
	streamArn := p.m.EventSourceArn
	label := streamArn[strings.LastIndex(streamArn, "/")+1:]
	rec := map[string]any{
		"requestContext":  map[string]any{"requestId": ids.New(), "functionArn": p.m.FunctionArn, "condition": condition, "approximateInvokeCount": attempts},
		"responseContext": map[string]any{"statusCode": 200, "executedVersion": "$LATEST", "functionError": fnErr},
		"version":         "1.0",
		"timestamp":       time.Now().UTC().Format("2006-01-02T15:04:05.000Z"),
		"DDBStreamBatchInfo": map[string]any{
			"shardId": "shardId-00000001-" + strings.NewReplacer(":", "", "-", "").Replace(label), "startSequenceNumber": seqOf(first), "endSequenceNumber": seqOf(last),
			"approximateArrivalOfFirstRecord": at(first), "approximateArrivalOfLastRecord": at(last), "batchSize": len(batch), "streamArn": streamArn,
		},
	}
	body, _ := json.Marshal(rec)
	if err := p.s.d.Send(ctx, dest, body); err != nil && !errors.Is(err, context.Canceled) {
		p.s.log.Error("mappings: the failure destination refused a record", "uuid", p.m.UUID, "destination", dest, "err", err)
	}
}
