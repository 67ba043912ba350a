package logs

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/aloft-dev/aloft/internal/store"
)

const (
	maxDescribeLimit = 50
	maxEventsLimit   = 10000
	// maxResponseBytes caps the events of one page like CloudWatch's 1 MB,
	// counting 26 bytes of overhead per event.
	maxResponseBytes = 1 << 20
	eventOverhead    = 26
	// maxFilterSubjects is the most log streams a FilterLogEvents consumer
	// filters by subject; beyond it the whole group is read and the streams
	// picked out client side.
	maxFilterSubjects = 32
	// maxScanMessages bounds the messages one FilterLogEvents page reads;
	// a page cut short returns a token to continue.
	maxScanMessages = 20000
)

var errBadToken = invalidParam("The specified nextToken is invalid.")

func checkLimit(limit, maxLimit int) (int, error) {
	switch {
	case limit == 0:
		return maxLimit, nil
	case limit < 0:
		return 0, violation("limit", limit, "Member must have value greater than or equal to 1")
	case limit > maxLimit:
		return 0, violation("limit", limit, fmt.Sprintf("Member must have value less than or equal to %d", maxLimit))
	}
	return limit, nil
}

// DescribeLogGroups lists log groups whose names start with prefix, in
// name order, limit (1-50, 0 for 50) at a time.
func (s *Store) DescribeLogGroups(ctx context.Context, prefix string, limit int, next string) ([]Group, string, error) {
	limit, err := checkLimit(limit, maxDescribeLimit)
	if err != nil {
		return nil, "", err
	}
	after, hasAfter := "", false
	if next != "" {
		k, ok := parseKeyToken(next)
		if !ok || !strings.HasPrefix(k, "g") {
			return nil, "", errBadToken
		}
		after, hasAfter = k[1:], true
	}
	var out []Group
	s.idx.mu.RLock()
	for name, g := range s.idx.groups {
		if !strings.HasPrefix(name, prefix) || hasAfter && name <= after {
			continue
		}
		out = append(out, Group{
			Name:            name,
			CreationTime:    g.created,
			StoredBytes:     g.bytes,
			Arn:             s.groupArn(name),
			RetentionInDays: s.retentionDays(),
		})
	}
	s.idx.mu.RUnlock()
	slices.SortFunc(out, func(a, b Group) int { return strings.Compare(a.Name, b.Name) })
	if len(out) > limit {
		out = out[:limit]
		return out, keyToken("g" + out[limit-1].Name), nil
	}
	return out, "", nil
}

// DescribeLogStreams lists the log streams of group, by name (optionally
// only those starting with prefix) or by last event time, limit (1-50, 0
// for 50) at a time.
func (s *Store) DescribeLogStreams(ctx context.Context, group, prefix string, orderByLastEvent, descending bool, limit int, next string) ([]Stream, string, error) {
	if orderByLastEvent && prefix != "" {
		return nil, "", invalidParam("Cannot order by LastEventTime with a logStreamNamePrefix.")
	}
	limit, err := checkLimit(limit, maxDescribeLimit)
	if err != nil {
		return nil, "", err
	}
	var out []Stream
	s.idx.mu.RLock()
	g := s.idx.groups[group]
	if g == nil {
		s.idx.mu.RUnlock()
		return nil, "", ErrGroupNotFound
	}
	for name, e := range g.streams {
		if !strings.HasPrefix(name, prefix) {
			continue
		}
		st := Stream{
			Name:         name,
			CreationTime: e.created,
			StoredBytes:  e.storedBytes(),
			Arn:          s.streamArn(group, name),
		}
		if e.hasEvents {
			st.FirstEventTimestamp = e.firstTs
			st.LastEventTimestamp = e.lastTs
			st.LastIngestionTime = e.lastIngest
		}
		out = append(out, st)
	}
	s.idx.mu.RUnlock()

	// order compares a stream with a sort key in the requested order.
	order := func(name string, ts int64, kName string, kTs int64) int {
		c := 0
		if orderByLastEvent {
			c = cmp.Compare(ts, kTs)
		}
		if c == 0 {
			c = strings.Compare(name, kName)
		}
		if descending {
			c = -c
		}
		return c
	}
	slices.SortFunc(out, func(a, b Stream) int {
		return order(a.Name, a.LastEventTimestamp, b.Name, b.LastEventTimestamp)
	})
	if next != "" {
		kName, kTs, ok := parseStreamKey(next, orderByLastEvent)
		if !ok {
			return nil, "", errBadToken
		}
		i, _ := slices.BinarySearchFunc(out, 0, func(st Stream, _ int) int {
			if order(st.Name, st.LastEventTimestamp, kName, kTs) <= 0 {
				return -1
			}
			return 1
		})
		out = out[i:]
	}
	if len(out) > limit {
		out = out[:limit]
		last := out[limit-1]
		key := "n" + last.Name
		if orderByLastEvent {
			key = "t" + strconv.FormatInt(last.LastEventTimestamp, 10) + "/" + last.Name
		}
		return out, keyToken(key), nil
	}
	return out, "", nil
}

func parseStreamKey(tok string, byTime bool) (name string, ts int64, ok bool) {
	k, ok := parseKeyToken(tok)
	if !ok || k == "" {
		return "", 0, false
	}
	switch {
	case !byTime && k[0] == 'n':
		return k[1:], 0, true
	case byTime && k[0] == 't':
		tsStr, name, found := strings.Cut(k[1:], "/")
		if !found {
			return "", 0, false
		}
		ts, err := strconv.ParseInt(tsStr, 10, 64)
		return name, ts, err == nil
	}
	return "", 0, false
}

// posEvent is an event with its position.
type posEvent struct {
	pos uint64
	Event
}

// GetLogEvents returns events of one log stream with start <= timestamp <
// end (end 0: no bound), in stored order, at most limit (1-10000, 0 for
// 10000) and about 1 MB. Without a token it returns the first events when
// startFromHead is set and the last ones otherwise. The forward token
// continues after the last event returned and the backward token before the
// first; when there is nothing further in that direction the token that
// was passed in comes back unchanged.
func (s *Store) GetLogEvents(ctx context.Context, group, stream string, start, end int64, limit int, next string, startFromHead bool) (events []Event, nextForward, nextBackward string, err error) {
	limit, err = checkLimit(limit, maxEventsLimit)
	if err != nil {
		return nil, "", "", err
	}
	v, err := s.idx.streamView(group, stream)
	if err != nil {
		return nil, "", "", err
	}
	forward := startFromHead
	var p uint64
	switch {
	case next != "":
		if pos, ok := parsePosToken(next, "f/"); ok {
			forward, p = true, pos
		} else if pos, ok := parsePosToken(next, "b/"); ok {
			forward, p = false, pos
		} else {
			return nil, "", "", errBadToken
		}
	case forward:
		p = 0
	default:
		p = position(v.lastSeq+1, 0)
	}
	inRange := func(ts int64) bool { return ts >= start && (end <= 0 || ts < end) }
	var got []posEvent
	if forward {
		got, err = s.readForward(ctx, v, p, start, inRange, limit)
	} else {
		got, err = s.readBackward(ctx, v, p, start, inRange, limit)
	}
	if err != nil {
		return nil, "", "", err
	}
	events = make([]Event, len(got))
	for i := range got {
		events[i] = got[i].Event
	}
	if len(got) == 0 {
		nextForward, nextBackward = posToken("f/", p), posToken("b/", p)
		if next != "" {
			if forward {
				nextForward = next
			} else {
				nextBackward = next
			}
		}
		return events, nextForward, nextBackward, nil
	}
	return events, posToken("f/", got[len(got)-1].pos+1), posToken("b/", got[0].pos), nil
}

func (x *index) streamView(group, stream string) (streamView, error) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	g := x.groups[group]
	if g == nil {
		return streamView{}, ErrGroupNotFound
	}
	e := g.streams[stream]
	if e == nil {
		return streamView{}, ErrStreamNotFound
	}
	return e.view(), nil
}

// readForward returns up to limit events at positions >= p.
func (s *Store) readForward(ctx context.Context, v streamView, p uint64, start int64, inRange func(int64) bool, limit int) ([]posEvent, error) {
	from := scanFrom{seq: max(posSeq(p), v.firstSeq)}
	if posSeq(p) == 0 && start > 0 {
		from = scanFrom{time: time.UnixMilli(start).Add(-startSlack)}
	}
	if from.seq > v.lastSeq {
		return nil, nil
	}
	var out []posEvent
	size := 0
	err := s.scan(ctx, []string{v.subject}, from, v.lastSeq, func(m jetstream.Msg, meta *jetstream.MsgMetadata) bool {
		seq, more := meta.Sequence.Stream, true
		h, err := readBody(m.Data(), func(i int, ts int64, msg []byte) bool {
			pos := position(seq, i)
			if pos < p || !inRange(ts) {
				return true
			}
			if len(out) > 0 && size+len(msg)+eventOverhead > maxResponseBytes {
				more = false
				return false
			}
			size += len(msg) + eventOverhead
			out = append(out, posEvent{pos, Event{Timestamp: ts, Message: string(msg)}})
			if len(out) == limit {
				more = false
				return false
			}
			return true
		})
		if err != nil {
			s.log.Warn("skipping malformed log message", "seq", seq)
		}
		setIngestion(out, seq, h.ingestion)
		return more
	})
	return out, err
}

// setIngestion fills the ingestion time of the trailing events of seq.
func setIngestion(evs []posEvent, seq uint64, ingestion int64) {
	for i := len(evs) - 1; i >= 0 && posSeq(evs[i].pos) == seq; i-- {
		evs[i].Ingestion = ingestion
	}
}

// readBackward returns the last up to limit events at positions < p. It
// reads windows of sequences going back from p, growing each window, until
// it has enough events, reaches the stream's first message or passes the
// query's start time.
func (s *Store) readBackward(ctx context.Context, v streamView, p uint64, start int64, inRange func(int64) bool, limit int) ([]posEvent, error) {
	hi := posSeq(p)
	if p&(1<<idxBits-1) == 0 {
		hi-- // position(seq, 0) excludes all of seq
	}
	hi = min(hi, v.lastSeq)
	if hi < v.firstSeq || hi == 0 {
		return nil, nil
	}
	// First window: the sequence span expected to hold limit messages of
	// this log stream (each holds at least one event), with a margin.
	span := hi - v.firstSeq + 1
	window := span
	if v.msgs > uint64(limit) {
		window = span/v.msgs*uint64(limit) + span%v.msgs*uint64(limit)/v.msgs
		window += window/4 + 64
	}
	var cut time.Time
	if start > 0 {
		cut = time.UnixMilli(start).Add(-startSlack)
	}
	var result []posEvent
	for {
		lo := v.firstSeq
		if hi-v.firstSeq+1 > window {
			lo = hi - window + 1
		}
		var win []posEvent
		pastStart := false
		err := s.scan(ctx, []string{v.subject}, scanFrom{seq: lo}, hi, func(m jetstream.Msg, meta *jetstream.MsgMetadata) bool {
			if !cut.IsZero() && meta.Timestamp.Before(cut) {
				pastStart = true
				return true
			}
			seq := meta.Sequence.Stream
			h, err := readBody(m.Data(), func(i int, ts int64, msg []byte) bool {
				if pos := position(seq, i); pos < p && inRange(ts) {
					win = append(win, posEvent{pos, Event{Timestamp: ts, Message: string(msg)}})
				}
				return true
			})
			if err != nil {
				s.log.Warn("skipping malformed log message", "seq", seq)
			}
			setIngestion(win, seq, h.ingestion)
			if len(win) > 2*limit {
				n := copy(win, win[len(win)-limit:])
				clear(win[n:])
				win = win[:n]
			}
			return true
		})
		if err != nil {
			return nil, err
		}
		result = append(win, result...)
		if len(result) > limit {
			result = result[len(result)-limit:]
		}
		if len(result) >= limit || lo <= v.firstSeq || pastStart {
			break
		}
		hi = lo - 1
		window *= 4
	}
	// Keep the newest events that fit the response size.
	size := 0
	for i := len(result) - 1; i >= 0; i-- {
		size += len(result[i].Message) + eventOverhead
		if size > maxResponseBytes && i < len(result)-1 {
			return result[i+1:], nil
		}
	}
	return result, nil
}

// FilterLogEvents returns events of group, optionally only of the named log
// streams or of those whose names start with streamPrefix, with start <=
// timestamp <= end (0: no bound) matching pattern, at most limit (1-10000,
// 0 for 10000). A page is sorted by timestamp; the returned token, empty at
// the end, continues the search.
func (s *Store) FilterLogEvents(ctx context.Context, group string, streams []string, streamPrefix string, start, end int64, pattern string, limit int, next string) ([]FilteredEvent, string, error) {
	if len(streams) > 0 && streamPrefix != "" {
		return nil, "", invalidParam("logStreamNames and logStreamNamePrefix are mutually exclusive.")
	}
	limit, err := checkLimit(limit, maxEventsLimit)
	if err != nil {
		return nil, "", err
	}
	pat, err := parsePattern(pattern)
	if err != nil {
		return nil, "", err
	}
	var p uint64
	if next != "" {
		var ok bool
		if p, ok = parsePosToken(next, "n/"); !ok {
			return nil, "", errBadToken
		}
	}
	sel, err := s.idx.selectStreams(group, streams, streamPrefix)
	if err != nil {
		return nil, "", err
	}
	if len(sel.names) == 0 || end > 0 && start > end {
		return nil, "", nil
	}
	from := scanFrom{seq: posSeq(p)}
	if p == 0 && start > 0 {
		from = scanFrom{time: time.UnixMilli(start).Add(-startSlack)}
	}
	if from.seq > sel.stop {
		return nil, "", nil
	}
	var (
		out     []FilteredEvent
		size    int
		nextPos uint64
		scanned int
	)
	err = s.scan(ctx, sel.subjects, from, sel.stop, func(m jetstream.Msg, meta *jetstream.MsgMetadata) bool {
		seq := meta.Sequence.Stream
		name, ok := sel.names[m.Subject()]
		if !ok {
			return true
		}
		first := len(out)
		h, err := readBody(m.Data(), func(i int, ts int64, msg []byte) bool {
			pos := position(seq, i)
			if pos < p || ts < start || end > 0 && ts > end || !pat.match(msg) {
				return true
			}
			if len(out) > 0 && size+len(msg)+eventOverhead > maxResponseBytes {
				nextPos = pos
				return false
			}
			size += len(msg) + eventOverhead
			out = append(out, FilteredEvent{
				Event:   Event{Timestamp: ts, Message: string(msg)},
				Stream:  name,
				EventID: formatPos(pos),
			})
			if len(out) == limit {
				nextPos = pos + 1
				return false
			}
			return true
		})
		if err != nil {
			s.log.Warn("skipping malformed log message", "seq", seq)
		}
		for i := first; i < len(out); i++ {
			out[i].Ingestion = h.ingestion
		}
		if nextPos != 0 {
			return false
		}
		if scanned++; scanned >= maxScanMessages && seq < sel.stop {
			nextPos = position(seq+1, 0)
			return false
		}
		return true
	})
	if err != nil {
		return nil, "", err
	}
	slices.SortStableFunc(out, func(a, b FilteredEvent) int {
		if c := cmp.Compare(a.Timestamp, b.Timestamp); c != 0 {
			return c
		}
		return strings.Compare(a.EventID, b.EventID)
	})
	if nextPos != 0 {
		return out, posToken("n/", nextPos), nil
	}
	return out, "", nil
}

// selection is the set of log streams a FilterLogEvents call searches.
type selection struct {
	names    map[string]string // subject -> log stream name
	subjects []string          // consumer filter
	stop     uint64            // highest sequence among them
}

func (x *index) selectStreams(group string, names []string, prefix string) (selection, error) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	g := x.groups[group]
	if g == nil {
		return selection{}, ErrGroupNotFound
	}
	sel := selection{names: map[string]string{}}
	add := func(e *streamEntry) {
		sel.names[e.subject] = e.name
		sel.stop = max(sel.stop, e.lastSeq)
	}
	if len(names) > 0 {
		for _, n := range names {
			if e := g.streams[n]; e != nil {
				add(e)
			}
		}
	} else {
		for name, e := range g.streams {
			if strings.HasPrefix(name, prefix) {
				add(e)
			}
		}
	}
	if len(sel.names) > maxFilterSubjects || len(names) == 0 && prefix == "" {
		sel.subjects = []string{subjectPrefix + g.token + ".*"}
	} else {
		for subj := range sel.names {
			sel.subjects = append(sel.subjects, subj)
		}
		slices.Sort(sel.subjects)
	}
	return sel, nil
}

// scanFrom is where a scan starts: at a sequence, else at a time, else at
// the beginning.
type scanFrom struct {
	seq  uint64
	time time.Time
}

// scan reads the messages of subjects in stream order from from up to
// sequence stop (inclusive) with an ordered consumer, calling fn for each
// until fn returns false.
func (s *Store) scan(ctx context.Context, subjects []string, from scanFrom, stop uint64, fn func(jetstream.Msg, *jetstream.MsgMetadata) bool) error {
	cfg := jetstream.OrderedConsumerConfig{
		FilterSubjects:    subjects,
		DeliverPolicy:     jetstream.DeliverAllPolicy,
		InactiveThreshold: time.Minute,
	}
	switch {
	case from.seq > 0:
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, from.seq
	case !from.time.IsZero():
		t := from.time
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &t
	}
	stalled, err := store.Scan(ctx, s.js, StreamName, cfg, func(m jetstream.Msg, meta *jetstream.MsgMetadata) bool {
		if meta.Sequence.Stream > stop {
			return false
		}
		return fn(m, meta) && meta.Sequence.Stream < stop
	})
	if err != nil {
		return fmt.Errorf("logs: %w", err)
	}
	if stalled {
		s.log.Warn("log read stalled; returning partial result")
	}
	return nil
}
