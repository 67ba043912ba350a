package logs

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/nats-io/nats.go/jetstream"
)

// index is the in-memory view of which log groups and streams exist and
// what the Describe calls report about them.
type index struct {
	mu     sync.RWMutex
	groups map[string]*groupEntry
}

type groupEntry struct {
	name    string
	token   string
	created int64
	lastSeq uint64 // highest sequence of any of the group's subjects
	bytes   int64  // sum of the streams' stored bytes
	streams map[string]*streamEntry
}

type streamEntry struct {
	name       string
	subject    string
	created    int64
	firstTs    int64
	lastTs     int64
	lastIngest int64
	hasEvents  bool
	firstSeq   uint64
	lastSeq    uint64
	msgs       uint64
	base       int64 // "prior" of the first retained message
	total      int64 // bytes written through the last message
}

func (e *streamEntry) storedBytes() int64 { return e.total - e.base }

// streamView is a copy of the fields a query needs.
type streamView struct {
	name     string
	subject  string
	firstSeq uint64
	lastSeq  uint64
	msgs     uint64
}

func (e *streamEntry) view() streamView {
	return streamView{name: e.name, subject: e.subject, firstSeq: e.firstSeq, lastSeq: e.lastSeq, msgs: e.msgs}
}

func (x *index) hasGroup(group string) bool {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.groups[group] != nil
}

func (x *index) hasStream(group, stream string) bool {
	x.mu.RLock()
	defer x.mu.RUnlock()
	g := x.groups[group]
	return g != nil && g.streams[stream] != nil
}

// totalBytes returns the bytes written to the log stream of subject.
func (x *index) totalBytes(subject string) int64 {
	group, stream, err := parseSubject(subject)
	if err != nil || stream == "" {
		return 0
	}
	x.mu.RLock()
	defer x.mu.RUnlock()
	if g := x.groups[group]; g != nil {
		if e := g.streams[stream]; e != nil {
			return e.total
		}
	}
	return 0
}

func (x *index) group(group string) *groupEntry {
	g := x.groups[group]
	if g == nil {
		g = &groupEntry{name: group, token: nameToken(group), streams: map[string]*streamEntry{}}
		x.groups[group] = g
	}
	return g
}

// record accounts for one stored message.
func (x *index) record(group, stream, subject string, seq uint64, sum bodySummary) {
	x.mu.Lock()
	defer x.mu.Unlock()
	g := x.group(group)
	if g.created == 0 || sum.ingestion < g.created {
		g.created = sum.ingestion
	}
	g.lastSeq = max(g.lastSeq, seq)
	if stream == "" {
		return
	}
	e := g.streams[stream]
	if e == nil {
		e = &streamEntry{name: stream, subject: subject, created: sum.ingestion, firstSeq: seq, base: sum.prior, total: sum.prior}
		g.streams[stream] = e
	} else if seq <= e.lastSeq {
		return // recorded already: a log stream's messages come in order
	}
	e.msgs++
	e.firstSeq = min(e.firstSeq, seq)
	e.lastSeq = max(e.lastSeq, seq)
	if sum.count > 0 {
		if !e.hasEvents || sum.minTs < e.firstTs {
			e.firstTs = sum.minTs
		}
		if !e.hasEvents || sum.maxTs > e.lastTs {
			e.lastTs = sum.maxTs
		}
		e.hasEvents = true
		e.lastIngest = max(e.lastIngest, sum.ingestion)
	}
	if t := sum.prior + sum.bytes; t > e.total {
		g.bytes += t - e.total
		e.total = t
	}
}

func (x *index) deleteGroup(group string) {
	x.mu.Lock()
	delete(x.groups, group)
	x.mu.Unlock()
}

func (x *index) deleteStream(group, stream string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if g := x.groups[group]; g != nil {
		if e := g.streams[stream]; e != nil {
			g.bytes -= e.storedBytes()
			delete(g.streams, stream)
		}
	}
}

// rebuildWorkers bounds the concurrent message fetches of rebuild.
const rebuildWorkers = 4

// rebuild fills the index from the stream: the subject state lists every
// log stream with its message count, and the first and last message of
// each subject give the rest.
func (s *Store) rebuild(ctx context.Context) error {
	info, err := s.stream.Info(ctx, jetstream.WithSubjectFilter(subjectPrefix+">"))
	if err != nil {
		return fmt.Errorf("logs: stream info: %w", err)
	}
	type job struct {
		subject string
		count   uint64
	}
	jobs := make(chan job)
	var (
		wg       sync.WaitGroup
		errMu    sync.Mutex
		firstErr error
	)
	for range rebuildWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				if err := s.rebuildSubject(ctx, j.subject, j.count, info.State.FirstSeq); err != nil {
					errMu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					errMu.Unlock()
				}
			}
		}()
	}
	for subj, n := range info.State.Subjects {
		jobs <- job{subj, n}
	}
	close(jobs)
	wg.Wait()
	if firstErr != nil {
		return fmt.Errorf("logs: rebuild index: %w", firstErr)
	}
	return nil
}

func (s *Store) rebuildSubject(ctx context.Context, subject string, count, firstSeq uint64) error {
	group, stream, err := parseSubject(subject)
	if err != nil {
		s.log.Warn("ignoring unexpected log subject", "subject", subject)
		return nil
	}
	first, err := s.stream.GetMsg(ctx, max(firstSeq, 1), jetstream.WithGetMsgSubject(subject))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil // expired meanwhile
	}
	if err != nil {
		return err
	}
	fsum, err := summarize(first.Data)
	if err != nil {
		s.log.Warn("ignoring malformed log message", "subject", subject, "seq", first.Sequence)
		return nil
	}
	last, lsum := first, fsum
	if count > 1 {
		if last, err = s.stream.GetLastMsgForSubject(ctx, subject); err != nil {
			return err
		}
		if lsum, err = summarize(last.Data); err != nil {
			return err
		}
	}
	x := &s.idx
	if stream == "" {
		x.mu.Lock()
		g := x.group(group)
		if g.created == 0 || fsum.ingestion < g.created {
			g.created = fsum.ingestion
		}
		g.lastSeq = max(g.lastSeq, last.Sequence)
		x.mu.Unlock()
		return nil
	}
	// The first message may be the empty one CreateLogStream writes; the
	// first event timestamp is then in a later one.
	evFirst := fsum
	for seq, tries := first.Sequence, 0; evFirst.count == 0 && seq < last.Sequence && tries < 8; tries++ {
		m, err := s.stream.GetMsg(ctx, seq+1, jetstream.WithGetMsgSubject(subject))
		if err != nil {
			break
		}
		if evFirst, err = summarize(m.Data); err != nil {
			break
		}
		seq = m.Sequence
	}
	e := &streamEntry{
		name:       stream,
		subject:    subject,
		created:    fsum.ingestion,
		firstSeq:   first.Sequence,
		lastSeq:    last.Sequence,
		msgs:       count,
		base:       fsum.prior,
		total:      lsum.prior + lsum.bytes,
		lastIngest: lsum.ingestion,
	}
	if evFirst.count > 0 {
		e.hasEvents = true
		e.firstTs = evFirst.minTs
		e.lastTs = max(lsum.maxTs, evFirst.maxTs)
		if lsum.count == 0 {
			e.lastIngest = evFirst.ingestion
		}
	}
	x.mu.Lock()
	g := x.group(group)
	if g.created == 0 || e.created < g.created {
		g.created = e.created
	}
	g.lastSeq = max(g.lastSeq, e.lastSeq)
	g.streams[stream] = e
	g.bytes += e.storedBytes()
	x.mu.Unlock()
	return nil
}
