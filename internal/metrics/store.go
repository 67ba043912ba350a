package metrics

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/aloft-dev/aloft/internal/follow"
	"github.com/aloft-dev/aloft/internal/ids"
	"github.com/aloft-dev/aloft/internal/lease"
)

// Retention is how long datapoints and metrics are kept, as CloudWatch
// keeps 1-minute data.
const Retention = 15 * 24 * time.Hour

// DefaultMaxMetrics is how many distinct metrics (namespace, name and
// dimensions) a deployment holds unless Options say otherwise.
const DefaultMaxMetrics = 50_000

// The backbone's buckets: datapoints, one key per metric, unit, hour and
// node (<metric>.<unit>.<hour>.<node>) holding that node's minutes of
// the hour; the metrics themselves, one key per metric; and alarms.
const (
	dataBucket  = "aloft_metrics"
	namesBucket = "aloft_metric_names"
	alarmBucket = "aloft_alarms"
)

// Options configure a Store. The zero value is usable.
type Options struct {
	// Node names this node in the keys it writes; empty takes a random
	// name, unique to this run.
	Node string
	// FlushInterval is how often datapoints go to the backbone (10 s).
	FlushInterval time.Duration
	// EvalInterval is how often alarms are evaluated, on one node at a
	// time (10 s).
	EvalInterval time.Duration
	// MaxMetrics bounds the distinct metrics (DefaultMaxMetrics).
	MaxMetrics int
	// Actions run alarms' actions; nil runs none.
	Actions Actions
	// Leases decide which node evaluates the alarms (EvalLease); nil
	// opens leases of the store's own on the backbone.
	Leases *lease.Leases
	Logger *slog.Logger
	// Now is the clock (time.Now).
	Now func() time.Time
}

// Store keeps metrics: datapoints aggregated per minute in memory on
// each node, flushed to the backbone, and read back merged across
// nodes. It is safe for concurrent use.
type Store struct {
	o      Options
	data   jetstream.KeyValue
	names  jetstream.KeyValue
	alarms jetstream.KeyValue
	leases *lease.Leases
	own    bool // leases were opened here, and are closed by Close

	evalCtx  context.Context // ends at Close, ending the evaluator
	evalStop context.CancelFunc
	node     string

	shards [nShards]shard

	namesMu sync.RWMutex
	known   map[uint64]*metricInfo // guarded by namesMu: every metric of the deployment
	dropped atomic.Int64           // datapoints Record dropped over the limit

	alarmsMu  sync.RWMutex
	alarmSet  map[string]*alarmRecord // guarded by alarmsMu, by name
	followers []*follow.Follower

	stop        chan struct{}
	cancelFlush context.CancelFunc // the periodic flushes' context, set by Start
	wg          sync.WaitGroup
	once        sync.Once
}

const nShards = 16

// shard holds the series whose metric hashes to it.
type shard struct {
	mu     sync.Mutex
	series map[uint64]*series // guarded by mu, by seriesKey; collisions chain by next
}

// series is one metric in one unit on this node: the hours it has data
// for that are not yet flushed or are recent.
type series struct {
	hash      uint64
	unit      uint8
	namespace string
	name      string
	dims      []Dimension // sorted by name
	hours     []*hourAgg
	next      *series
	lastData  int64 // unix seconds of the newest datapoint recorded
	announced int64 // unix seconds the metric was last written to the names bucket
}

// hourAgg is one hour of a series on this node: what it holds is this
// node's whole contribution to the hour's key, once merged (fresh false)
// with what the key held when the hour came into memory.
type hourAgg struct {
	hour  int64 // unix hours
	min   [60]*stat
	dirty bool
	fresh bool
}

// metricInfo is a metric, as the names bucket keeps it.
type metricInfo struct {
	Namespace  string      `json:"ns"`
	MetricName string      `json:"name"`
	Dimensions []Dimension `json:"dims,omitempty"`
	Last       int64       `json:"last"` // unix seconds of recent data
}

// Open opens the store's buckets on js and loads the metrics and alarms
// there are. Start begins flushing and evaluating.
func Open(ctx context.Context, js jetstream.JetStream, o Options) (*Store, error) {
	if o.FlushInterval <= 0 {
		o.FlushInterval = 10 * time.Second
	}
	if o.EvalInterval <= 0 {
		o.EvalInterval = 10 * time.Second
	}
	if o.MaxMetrics <= 0 {
		o.MaxMetrics = DefaultMaxMetrics
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &Store{o: o, node: o.Node, known: map[uint64]*metricInfo{}, alarmSet: map[string]*alarmRecord{}, stop: make(chan struct{})}
	s.evalCtx, s.evalStop = context.WithCancel(context.Background())
	if s.node == "" {
		s.node = ids.New()
	}
	s.node = keyToken(s.node)
	for i := range s.shards {
		s.shards[i].series = map[uint64]*series{}
	}
	var err error
	if s.data, err = js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: dataBucket, History: 1, TTL: Retention + 2*time.Hour, Storage: jetstream.FileStorage}); err != nil {
		return nil, fmt.Errorf("metrics: open %s: %w", dataBucket, err)
	}
	if s.names, err = js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: namesBucket, History: 1, TTL: Retention, Storage: jetstream.FileStorage}); err != nil {
		return nil, fmt.Errorf("metrics: open %s: %w", namesBucket, err)
	}
	if s.alarms, err = js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: alarmBucket, History: 1, Storage: jetstream.FileStorage}); err != nil {
		return nil, fmt.Errorf("metrics: open %s: %w", alarmBucket, err)
	}
	f, err := follow.KV(ctx, s.names, s.applyName, nil)
	if err != nil {
		return nil, err
	}
	s.followers = append(s.followers, f)
	if f, err = follow.KV(ctx, s.alarms, s.applyAlarm, nil); err != nil {
		s.followers[0].Stop()
		return nil, err
	}
	s.followers = append(s.followers, f)
	if s.leases = o.Leases; s.leases == nil {
		if s.leases, err = lease.Open(ctx, js, lease.Options{Node: s.node, Logger: o.Logger}); err != nil {
			for _, f := range s.followers {
				f.Stop()
			}
			return nil, fmt.Errorf("metrics: %w", err)
		}
		s.own = true
	}
	return s, nil
}

// keyToken makes s usable as one token of a key.
func keyToken(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, s)
}

func (s *Store) applyName(e jetstream.KeyValueEntry) {
	h, err := strconv.ParseUint(e.Key(), 16, 64)
	if err != nil {
		return
	}
	s.namesMu.Lock()
	defer s.namesMu.Unlock()
	if e.Operation() != jetstream.KeyValuePut {
		delete(s.known, h)
		return
	}
	var m metricInfo
	if json.Unmarshal(e.Value(), &m) == nil {
		if old := s.known[h]; old == nil || old.Last <= m.Last {
			s.known[h] = &m
		}
	}
}

// Start flushes datapoints and evaluates alarms until Close.
func (s *Store) Start() {
	// A flush under way when Close comes is cut short (what it did not
	// write stays to be written by Close's own flush): with a backbone
	// that cannot take writes it would otherwise hold Close for as long
	// as the writes are tried.
	ctx, cancel := context.WithCancel(context.Background())
	s.cancelFlush = cancel
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(s.o.FlushInterval)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-t.C:
				if err := s.Flush(ctx); err != nil {
					s.o.Logger.Warn("metrics: flush", "err", err)
				}
			}
		}
	}()
	go func() {
		defer s.wg.Done()
		s.leases.Run(s.evalCtx, EvalLease, s.evaluateLoop)
	}()
}

// Close stops flushing and evaluating, flushes what is left and stops
// following the buckets. It may be called more than once.
func (s *Store) Close(ctx context.Context) error {
	var err error
	s.once.Do(func() {
		close(s.stop)
		if s.cancelFlush != nil {
			s.cancelFlush()
		}
		s.evalStop()
		s.wg.Wait()
		err = s.Flush(ctx)
		for _, f := range s.followers {
			f.Stop()
		}
		if s.own {
			s.leases.Close()
		}
	})
	return err
}

// fnv64 constants.
const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func fnvString(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	h ^= 0xff // separator
	h *= fnvPrime
	return h
}

// metricHash identifies a metric by its namespace, name and dimensions,
// whatever the order of the dimensions; it is the same on every node.
func metricHash(namespace, name string, dims []Dimension) uint64 {
	h := fnvString(fnvString(fnvOffset, namespace), name)
	var set uint64
	for _, d := range dims {
		dh := fnvString(fnvString(fnvOffset, d.Name), d.Value)
		set += dh * (dh | 1) // order-independent, and not cancelled by a repeat
	}
	h ^= set
	h *= fnvPrime
	return h
}

func seriesKey(hash uint64, unit uint8) uint64 { return hash ^ uint64(unit+1)*0x9e3779b97f4a7c15 }

// sameDims reports whether a (sorted) and b are the same set.
func sameDims(a, b []Dimension) bool {
	if len(a) != len(b) {
		return false
	}
	for _, d := range b {
		found := false
		for _, e := range a {
			if e == d {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// Record adds one datapoint of value v to metric name with dims in
// namespace, of unit unit ("" for None), at time at. It is the hot path
// of the service's own metrics (one call per invocation): in the steady
// state it takes one short lock of one shard and allocates nothing. A
// datapoint of a unit CloudWatch does not know, or of a new metric over
// the limit, is dropped.
func (s *Store) Record(namespace, name string, dims []Dimension, value float64, unit string, at time.Time) {
	u, ok := unitIndex(unit)
	if !ok || math.IsNaN(value) || math.IsInf(value, 0) {
		s.dropped.Add(1)
		return
	}
	s.record(namespace, name, dims, u, at, func(st *stat) { st.add(value, 1) })
}

// RecordValues records many datapoints of one metric at once: each of
// values counts[i] times (once when counts is nil), as PutMetricData's
// Values and Counts do. The series is looked up once for all of them.
// Values that are not numbers or infinite, and counts that are not
// positive, are dropped.
func (s *Store) RecordValues(namespace, name string, dims []Dimension, values, counts []float64, unit string, at time.Time) {
	u, ok := unitIndex(unit)
	if !ok || (counts != nil && len(counts) != len(values)) {
		s.dropped.Add(int64(len(values)))
		return
	}
	var valid, lost int64
	for i, v := range values {
		if validPoint(v, counts, i) {
			valid += weight(counts, i)
		} else {
			lost += weight(counts, i)
		}
	}
	if lost > 0 {
		s.dropped.Add(lost)
	}
	if valid == 0 {
		return
	}
	recorded := s.record(namespace, name, dims, u, at, func(st *stat) {
		for i, v := range values {
			if !validPoint(v, counts, i) {
				continue
			}
			n := 1.0
			if counts != nil {
				n = counts[i]
			}
			st.add(v, n)
		}
	})
	if !recorded { // record counted one
		s.dropped.Add(valid - 1)
	}
}

// weight returns the datapoints value i stands for, as Dropped counts
// them: its count, whole, and at least one.
func weight(counts []float64, i int) int64 {
	if counts == nil {
		return 1
	}
	if c := counts[i]; c >= 1 && c < 1<<53 {
		return int64(c)
	}
	return 1
}

// validPoint says whether v, counted counts[i] times (once when counts
// is nil), can be recorded.
func validPoint(v float64, counts []float64, i int) bool {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return false
	}
	return counts == nil || (counts[i] > 0 && !math.IsInf(counts[i], 0))
}

// record finds (or makes) the series and the stat of the minute of at,
// and has add change it, under the shard's lock.
func (s *Store) record(namespace, name string, dims []Dimension, u uint8, at time.Time, add func(*stat)) bool {
	h := metricHash(namespace, name, dims)
	key := seriesKey(h, u)
	sh := &s.shards[h%nShards]
	sec := at.Unix()
	minute := sec / 60
	sh.mu.Lock()
	defer sh.mu.Unlock()
	se := sh.series[key]
	for se != nil && (se.hash != h || se.unit != u || se.namespace != namespace || se.name != name || !sameDims(se.dims, dims)) {
		se = se.next
	}
	if se == nil {
		if !s.admit(h, namespace, name, dims) {
			s.dropped.Add(1)
			return false
		}
		sorted := slices.Clone(dims)
		slices.SortFunc(sorted, func(a, b Dimension) int { return strings.Compare(a.Name, b.Name) })
		se = &series{hash: h, unit: u, namespace: namespace, name: name, dims: sorted, next: sh.series[key]}
		sh.series[key] = se
	}
	hour := minute / 60
	var ha *hourAgg
	for _, x := range se.hours {
		if x.hour == hour {
			ha = x
			break
		}
	}
	if ha == nil {
		ha = &hourAgg{hour: hour, fresh: true}
		se.hours = append(se.hours, ha)
	}
	st := ha.min[minute%60]
	if st == nil {
		st = &stat{}
		ha.min[minute%60] = st
	}
	add(st)
	ha.dirty = true
	if sec > se.lastData {
		se.lastData = sec
	}
	return true
}

// admit says whether metric h may be recorded: it is known, or there is
// room for one more, which it then takes.
func (s *Store) admit(h uint64, namespace, name string, dims []Dimension) bool {
	s.namesMu.RLock()
	_, ok := s.known[h]
	n := len(s.known)
	s.namesMu.RUnlock()
	if ok {
		return true
	}
	if n >= s.o.MaxMetrics {
		return false
	}
	s.namesMu.Lock()
	if _, ok := s.known[h]; !ok {
		sorted := slices.Clone(dims)
		slices.SortFunc(sorted, func(a, b Dimension) int { return strings.Compare(a.Name, b.Name) })
		s.known[h] = &metricInfo{Namespace: namespace, MetricName: name, Dimensions: sorted, Last: s.o.Now().Unix()}
	}
	s.namesMu.Unlock()
	return true
}

// Dropped returns how many datapoints Record and EMF lines dropped (an
// unknown unit, a value that is not a number, the metric limit).
func (s *Store) Dropped() int64 { return s.dropped.Load() }

// dataKey is the key of a series' hour written by node.
func dataKey(hash uint64, unit uint8, hour int64, node string) string {
	return fmt.Sprintf("%016x.%d.%d.%s", hash, unit, hour, node)
}

// hourDoc is an hour of a series as stored: stats by minute of the hour.
type hourDoc struct {
	Min map[int]*stat `json:"m"`
}

func encodeHour(ha *hourAgg) []byte {
	doc := hourDoc{Min: map[int]*stat{}}
	for i, st := range ha.min {
		if st != nil {
			doc.Min[i] = st
		}
	}
	b, _ := json.Marshal(doc)
	return b
}

func decodeHour(b []byte) (*hourDoc, error) {
	var doc hourDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	return &doc, nil
}

// pending is an hour of a series the flush writes.
type pending struct {
	se    *series
	ha    *hourAgg
	key   string
	fresh bool
	body  []byte
}

// Flush writes every changed hour to the backbone, and the metrics seen
// to the names bucket, and lets go of hours that are done.
func (s *Store) Flush(ctx context.Context) error {
	var errs []error
	now := s.o.Now()
	curHour := now.Unix() / 3600
	for i := range s.shards {
		sh := &s.shards[i]
		var todo []*pending
		var announce []*series
		sh.mu.Lock()
		for key, head := range sh.series {
			var prev *series
			for se := head; se != nil; se = se.next {
				kept := se.hours[:0]
				for _, ha := range se.hours {
					if ha.dirty {
						todo = append(todo, &pending{se: se, ha: ha, key: dataKey(se.hash, se.unit, ha.hour, s.node), fresh: ha.fresh})
					}
					if ha.dirty || ha.fresh || ha.hour >= curHour-1 {
						kept = append(kept, ha)
					}
				}
				clear(se.hours[len(kept):])
				se.hours = kept
				if se.lastData > se.announced+30*60 {
					announce = append(announce, se)
				}
				if len(se.hours) == 0 && se.lastData < now.Unix()-2*3600 {
					// Done with: unlink it.
					if prev == nil {
						if se.next == nil {
							delete(sh.series, key)
						} else {
							sh.series[key] = se.next
						}
					} else {
						prev.next = se.next
					}
					continue
				}
				prev = se
			}
		}
		sh.mu.Unlock()
		// An hour new in memory adds to what the key holds (written before
		// a restart, or before the hour was let go).
		for _, p := range todo {
			if !p.fresh {
				continue
			}
			e, err := s.data.Get(ctx, p.key)
			if errors.Is(err, jetstream.ErrKeyNotFound) {
				continue
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("metrics: read %s: %w", p.key, err))
				p.body = nil
				continue
			}
			doc, err := decodeHour(e.Value())
			if err != nil {
				continue // unreadable: overwritten
			}
			sh.mu.Lock()
			for m, st := range doc.Min {
				if m >= 0 && m < 60 && st != nil {
					if p.ha.min[m] == nil {
						p.ha.min[m] = &stat{}
					}
					p.ha.min[m].merge(st)
				}
			}
			sh.mu.Unlock()
		}
		sh.mu.Lock()
		for _, p := range todo {
			p.ha.fresh = false
			p.ha.dirty = false
			p.body = encodeHour(p.ha)
		}
		for _, se := range announce {
			se.announced = se.lastData
		}
		sh.mu.Unlock()
		for _, p := range todo {
			if _, err := s.data.Put(ctx, p.key, p.body); err != nil {
				errs = append(errs, fmt.Errorf("metrics: write %s: %w", p.key, err))
				sh.mu.Lock()
				p.ha.dirty = true
				sh.mu.Unlock()
			}
		}
		for _, se := range announce {
			b, _ := json.Marshal(metricInfo{Namespace: se.namespace, MetricName: se.name, Dimensions: se.dims, Last: se.announced})
			if _, err := s.names.Put(ctx, fmt.Sprintf("%016x", se.hash), b); err != nil {
				errs = append(errs, fmt.Errorf("metrics: write metric %s: %w", se.name, err))
			}
		}
	}
	return errors.Join(errs...)
}
