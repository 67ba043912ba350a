package store

import (
	"context"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// AckWait is how long a message taken from a work-queue stream may go
// without being acknowledged or reported in progress before the stream
// hands it to another consumer. It is what a node that dies (killed,
// powered off) costs the work it held: another node takes it up this soon
// after the last word from it. A node that works on a message for longer
// reports its progress (Progress), every AckWait/3, for as long as the
// work takes.
//
// When the node that leads a consumer dies, the others elect a new leader
// within 4 to 9 seconds (the backbone's election timeout); the new leader
// hands out at once the messages whose last word is older than AckWait,
// which is then every message in flight on the dead node, and may be some
// that living nodes were working on, whose progress went unheard while
// there was no leader: those are delivered twice, which at-least-once
// delivery allows.
const AckWait = 5 * time.Second

// progressEvery is how long a message may go unreported while it is
// worked on.
const progressEvery = AckWait / 3

// progressTick is how often Progress looks for messages to report.
const progressTick = 500 * time.Millisecond

// Progress reports the messages this node is working on to their streams
// as in progress, so that none is handed to another node while this one
// works on it, however long that takes. One goroutine does it for every
// message, each at most every AckWait/3 and only once it has been worked
// on that long, so that short work costs nothing but a map entry.
type Progress struct {
	mu      sync.Mutex
	working map[jetstream.Msg]time.Time // guarded by mu: when each was taken or last reported
	stop    chan struct{}
	done    chan struct{}
	once    sync.Once
}

// NewProgress starts reporting progress until Close.
func NewProgress() *Progress {
	p := &Progress{working: map[jetstream.Msg]time.Time{}, stop: make(chan struct{}), done: make(chan struct{})}
	go p.run()
	return p
}

// Begin counts m as worked on from now.
func (p *Progress) Begin(m jetstream.Msg) {
	now := time.Now()
	p.mu.Lock()
	p.working[m] = now
	p.mu.Unlock()
}

// End stops reporting m. Call it before m is acknowledged, rejected or
// left to be delivered again later: once End returns, no progress of m is
// reported, so none overrides a delay asked for m.
func (p *Progress) End(m jetstream.Msg) {
	p.mu.Lock()
	delete(p.working, m)
	p.mu.Unlock()
}

// Working returns how many messages are being worked on.
func (p *Progress) Working() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.working)
}

// Close stops reporting and waits for the reporter to end. It is safe to
// call more than once.
func (p *Progress) Close() {
	p.once.Do(func() { close(p.stop) })
	<-p.done
}

func (p *Progress) run() {
	defer close(p.done)
	t := time.NewTicker(progressTick)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case now := <-t.C:
			p.report(now)
		}
	}
}

// report tells the streams of the messages not reported for
// progressEvery that they are still worked on. It reports under the
// lock, so that End waits for a report under way: a report is only a
// buffered publish on the connection.
func (p *Progress) report(now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for m, last := range p.working {
		if now.Sub(last) >= progressEvery {
			_ = m.InProgress() // a lost report is made again next time; an acknowledged message is already out of the map
			p.working[m] = now
		}
	}
}

// Track counts m as worked on from now (Begin) and returns it wrapped so
// that acknowledging, rejecting or terminating it ends its reports first
// (End). Call End too when the work may end without settling it.
func (p *Progress) Track(m jetstream.Msg) jetstream.Msg {
	p.Begin(m)
	return tracked{Msg: m, p: p}
}

// tracked is a message whose settlement ends its progress reports.
type tracked struct {
	jetstream.Msg
	p *Progress
}

func (t tracked) Ack() error {
	t.p.End(t.Msg)
	return t.Msg.Ack()
}

func (t tracked) DoubleAck(ctx context.Context) error {
	t.p.End(t.Msg)
	return t.Msg.DoubleAck(ctx)
}

func (t tracked) Nak() error {
	t.p.End(t.Msg)
	return t.Msg.Nak()
}

func (t tracked) NakWithDelay(delay time.Duration) error {
	t.p.End(t.Msg)
	return t.Msg.NakWithDelay(delay)
}

func (t tracked) Term() error {
	t.p.End(t.Msg)
	return t.Msg.Term()
}

func (t tracked) TermWithReason(reason string) error {
	t.p.End(t.Msg)
	return t.Msg.TermWithReason(reason)
}
