package traces

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"sort"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/aloft-dev/aloft/internal/store"
	"github.com/aloft-dev/aloft/internal/traces/traceid"
)

// Limits of the read operations, as X-Ray's.
const (
	MaxRange      = 24 * time.Hour // of a GetTraceSummaries time range
	MaxBatch      = 5              // trace ids of one BatchGetTraces
	PageSize      = 100            // summaries per page
	maxScanned    = 200000         // messages one Summaries reads at most
	endSlack      = 15 * time.Minute
	subsegmentTyp = "subsegment"
)

// Trace is one trace's segment documents.
type Trace struct {
	ID       string
	Duration float64 // seconds from its first segment's start to its last one's end
	Segments []Doc
}

// fields are what reading needs of a segment document.
type fields struct {
	Name       string         `json:"name"`
	ID         string         `json:"id"`
	TraceID    string         `json:"trace_id"`
	ParentID   string         `json:"parent_id"`
	Type       string         `json:"type"`
	StartTime  float64        `json:"start_time"`
	EndTime    float64        `json:"end_time"`
	InProgress bool           `json:"in_progress"`
	Origin     string         `json:"origin"`
	Error      bool           `json:"error"`
	Fault      bool           `json:"fault"`
	Throttle   bool           `json:"throttle"`
	HTTP       *HTTP          `json:"http"`
	Aws        map[string]any `json:"aws"`
}

// Get returns the traces with the given roots; missing are those with no
// segments stored.
func (s *Store) Get(ctx context.Context, roots []string) (found []*Trace, missing []string, err error) {
	if len(roots) == 0 {
		return nil, nil, nil
	}
	subjects := make([]string, 0, len(roots))
	byRoot := map[string]*Trace{}
	for _, r := range roots {
		if !traceid.ValidRoot(r) {
			missing = append(missing, r)
			continue
		}
		if _, dup := byRoot[r]; !dup {
			byRoot[r] = &Trace{ID: r}
			subjects = append(subjects, subjectPrefix+r)
		}
	}
	if len(subjects) > 0 {
		err = s.scan(ctx, subjects, time.Time{}, func(m jetstream.Msg, _ *jetstream.MsgMetadata) bool {
			root := m.Subject()[len(subjectPrefix):]
			if t := byRoot[root]; t != nil {
				t.Segments = appendDocs(t.Segments, root, m.Data())
			}
			return true
		})
		if err != nil {
			return nil, nil, err
		}
	}
	for _, r := range roots {
		t := byRoot[r]
		if t == nil {
			continue
		}
		delete(byRoot, r)
		if len(t.Segments) == 0 {
			missing = append(missing, r)
			continue
		}
		t.Segments = merge(t.Segments)
		t.Duration = duration(t.Segments)
		found = append(found, t)
	}
	return found, missing, nil
}

// appendDocs appends the documents of one stored message.
func appendDocs(dst []Doc, root string, data []byte) []Doc {
	var raw []json.RawMessage
	if json.Unmarshal(data, &raw) != nil {
		return dst
	}
	for _, b := range raw {
		var f struct {
			ID string `json:"id"`
		}
		json.Unmarshal(b, &f)
		dst = append(dst, Doc{Trace: root, ID: f.ID, Body: b})
	}
	return dst
}

// merge puts subsegments sent on their own (type "subsegment") into the
// segment, or subsegment, they name as parent, as X-Ray returns them;
// those whose parent is not stored stay on their own.
func merge(docs []Doc) []Doc {
	var subs []map[string]any
	var rest []Doc
	for _, d := range docs {
		var f struct {
			Type string `json:"type"`
		}
		json.Unmarshal(d.Body, &f)
		if f.Type == subsegmentTyp {
			var m map[string]any
			if json.Unmarshal(d.Body, &m) == nil {
				subs = append(subs, m)
				continue
			}
		}
		rest = append(rest, d)
	}
	if len(subs) == 0 {
		return docs
	}
	parsed := make([]map[string]any, len(rest))
	changed := make([]bool, len(rest))
	for i, d := range rest {
		json.Unmarshal(d.Body, &parsed[i])
	}
	var orphans []Doc
	for _, sub := range subs {
		pid, _ := sub["parent_id"].(string)
		placed := false
		for i, p := range parsed {
			if p != nil && attach(p, pid, sub) {
				changed[i], placed = true, true
				break
			}
		}
		if !placed {
			b, _ := json.Marshal(sub)
			id, _ := sub["id"].(string)
			orphans = append(orphans, Doc{ID: id, Body: b})
		}
	}
	for i := range rest {
		if changed[i] {
			rest[i].Body, _ = json.Marshal(parsed[i])
		}
	}
	return append(rest, orphans...)
}

// attach adds sub under the (sub)segment of seg with id pid.
func attach(seg map[string]any, pid string, sub map[string]any) bool {
	if id, _ := seg["id"].(string); id == pid {
		delete(sub, "type")
		delete(sub, "trace_id")
		delete(sub, "parent_id")
		list, _ := seg["subsegments"].([]any)
		seg["subsegments"] = append(list, sub)
		return true
	}
	list, _ := seg["subsegments"].([]any)
	for _, c := range list {
		if cm, ok := c.(map[string]any); ok && attach(cm, pid, sub) {
			return true
		}
	}
	return false
}

func duration(docs []Doc) float64 {
	lo, hi := math.Inf(1), 0.0
	for _, d := range docs {
		var f fields
		if json.Unmarshal(d.Body, &f) != nil {
			continue
		}
		lo, hi = min(lo, f.StartTime), max(hi, f.EndTime)
	}
	if hi < lo {
		return 0
	}
	return math.Round((hi-lo)*1e6) / 1e6
}

// Query is a GetTraceSummaries request.
type Query struct {
	Start, End time.Time
	// ByEvent selects traces by their segments' times (TimeRangeType
	// Event) rather than by their roots' (TraceId).
	ByEvent bool
	Filter  *Filter // nil matches every trace
	// Sample, between 0 and 1 exclusive of 0, keeps that share of the
	// matching traces, the same ones every time; 0 keeps all.
	Sample float64
	Offset int // of the page, into the matching traces
}

// Summary is one trace's summary.
type Summary struct {
	ID           string
	StartTime    float64
	Duration     float64
	ResponseTime float64
	HasError     bool
	HasFault     bool
	HasThrottle  bool
	IsPartial    bool
	HTTP         *HTTP
	EntryPoint   Service
	Services     []Service
}

// Service is a service of a trace: the segments' name and origin.
type Service struct{ Name, Type string }

// Page is one page of summaries.
type Page struct {
	Summaries []Summary
	Processed int // traces read
	Next      int // the Offset of the next page; 0 when this is the last
}

// ErrInvalidQuery marks a query refused for what it asks.
var ErrInvalidQuery = errors.New("traces: invalid query")

// Summaries returns the summaries of the traces in q's time range that
// its filter matches, earliest first, a page at a time.
func (s *Store) Summaries(ctx context.Context, q Query) (*Page, error) {
	if !q.End.After(q.Start) {
		return nil, fmt.Errorf("%w: the end time must be after the start time", ErrInvalidQuery)
	}
	if q.End.Sub(q.Start) > MaxRange {
		return nil, fmt.Errorf("%w: the time range may not exceed 24 hours", ErrInvalidQuery)
	}
	traces := map[string][]fields{}
	scanned := 0
	stop := q.End.Add(endSlack)
	err := s.scan(ctx, []string{subjectPrefix + ">"}, q.Start, func(m jetstream.Msg, meta *jetstream.MsgMetadata) bool {
		if meta.Timestamp.After(stop) {
			return false
		}
		scanned++
		var raw []json.RawMessage
		if json.Unmarshal(m.Data(), &raw) == nil {
			root := m.Subject()[len(subjectPrefix):]
			for _, b := range raw {
				var f fields
				if json.Unmarshal(b, &f) == nil {
					traces[root] = append(traces[root], f)
				}
			}
		}
		return scanned < maxScanned
	})
	if err != nil {
		return nil, err
	}
	lo, hi := Seconds(q.Start), Seconds(q.End)
	var all []Summary
	for root, segs := range traces {
		sum := summarize(root, segs)
		t := Seconds(traceid.RootTime(root))
		if q.ByEvent {
			t = sum.StartTime
		}
		if t < lo || t > hi || (q.Filter != nil && !q.Filter.match(&sum, segs)) || !keep(root, q.Sample) {
			continue
		}
		all = append(all, sum)
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].StartTime != all[j].StartTime {
			return all[i].StartTime < all[j].StartTime
		}
		return all[i].ID < all[j].ID
	})
	p := &Page{Processed: len(traces)}
	if q.Offset < len(all) {
		end := min(q.Offset+PageSize, len(all))
		p.Summaries = all[q.Offset:end]
		if end < len(all) {
			p.Next = end
		}
	}
	return p, nil
}

// keep decides, the same way every time, whether a sample at rate keeps
// the trace root.
func keep(root string, rate float64) bool {
	if rate <= 0 || rate >= 1 {
		return true
	}
	h := fnv.New32a()
	h.Write([]byte(root))
	return float64(h.Sum32())/float64(math.MaxUint32) < rate
}

// summarize sums up one trace's segments.
func summarize(root string, segs []fields) Summary {
	sum := Summary{ID: root}
	lo, hi := math.Inf(1), 0.0
	ids := map[string]bool{}
	for i := range segs {
		ids[segs[i].ID] = true
	}
	var entry *fields
	seen := map[Service]bool{}
	for i := range segs {
		f := &segs[i]
		lo, hi = min(lo, f.StartTime), max(hi, f.EndTime)
		sum.HasError = sum.HasError || f.Error
		sum.HasFault = sum.HasFault || f.Fault
		sum.HasThrottle = sum.HasThrottle || f.Throttle
		sum.IsPartial = sum.IsPartial || f.InProgress
		if f.Type == subsegmentTyp {
			continue
		}
		svc := Service{Name: f.Name, Type: f.Origin}
		if !seen[svc] {
			seen[svc] = true
			sum.Services = append(sum.Services, svc)
		}
		// The entry point: the earliest segment whose parent is not in
		// the trace.
		if !ids[f.ParentID] && (entry == nil || f.StartTime < entry.StartTime) {
			entry = f
		}
	}
	if entry != nil {
		sum.EntryPoint = Service{Name: entry.Name, Type: entry.Origin}
		sum.ResponseTime = round6(entry.EndTime - entry.StartTime)
		sum.HTTP = entry.HTTP
	}
	if hi >= lo {
		sum.StartTime, sum.Duration = lo, round6(hi-lo)
	}
	return sum
}

func round6(f float64) float64 { return math.Round(f*1e6) / 1e6 }

// scan reads the messages of subjects in stream order, from time from
// (zero: the beginning), calling fn for each until fn returns false or
// none is left.
func (s *Store) scan(ctx context.Context, subjects []string, from time.Time, fn func(jetstream.Msg, *jetstream.MsgMetadata) bool) error {
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: subjects, DeliverPolicy: jetstream.DeliverAllPolicy, InactiveThreshold: time.Minute}
	if !from.IsZero() {
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &from
	}
	stalled, err := store.Scan(ctx, s.js, StreamName, cfg, fn)
	if err != nil {
		return fmt.Errorf("traces: %w", err)
	}
	if stalled {
		s.o.Logger.Warn("trace read stalled; returning a partial result")
	}
	return nil
}
