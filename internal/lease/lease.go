// Package lease holds named leases on the backbone, so that a duty meant
// to happen once per cluster (firing schedules, evaluating alarms,
// sweeping expired items, reading a table's stream in order) runs on one
// node at a time.
//
// A lease is a key of a JetStream key-value bucket whose value names the
// holding node and its turn (so that a holder knows its own write when
// an answer was lost and the write sent again). A node takes a free lease with a revision-guarded Create and
// renews it every TTL/3 with a revision-guarded Update, so that of several
// nodes asking at once exactly one gets it, and a node whose lease another
// took learns so at its next renewal. The bucket's TTL removes a lease its
// holder stopped renewing (a node killed, cut off or stuck), leaving a
// marker that the other nodes, watching the bucket, act on at once; a node
// that stops cleanly deletes its leases, which hands them over at once
// too. Nodes that find a lease held also try again every TTL/3, so a
// takeover never waits longer than the TTL and one renewal interval.
//
// A holder that cannot renew (the backbone unreachable) stops acting
// before its lease can lapse: the context Run gives the duty ends when the
// lease is lost, or TTL − TTL/6 after the start of the last renewal that
// succeeded, which is before the backbone can have removed it. That
// margin assumes the nodes' clocks advance at the same rate; they need not
// agree on the time.
//
// The bucket is kept on disk like every other: a lease is worth nothing
// once its TTL has passed, but on a cluster a node that restarts while
// another is down must find its replica of the bucket where it left it,
// so that the two can elect its leader at once; a replica kept in memory
// comes back empty and has to be rebuilt from the others first (once,
// that kept a node restarting beside a dead one from opening the bucket
// in time). The writes are few (a renewal every TTL/3 per lease
// held). On a cluster the bucket is replicated like every other, so
// losing one node loses no lease.
package lease

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/aloft-dev/aloft/internal/follow"
	"github.com/aloft-dev/aloft/internal/ids"
)

// Bucket is the key-value bucket leases are kept in unless Options say
// otherwise.
const Bucket = "aloft_leases"

// DefaultTTL is how long a lease outlives its holder's last renewal
// unless Options say otherwise: short enough that a duty moves to another
// node within seconds of its holder's loss, long enough that a busy
// backbone does not take leases from live holders.
const DefaultTTL = 10 * time.Second

// Options configure Leases. The zero value is usable.
type Options struct {
	// Node names this node in the leases it holds (a random name when
	// empty).
	Node string
	// TTL is how long a lease outlives its last renewal (DefaultTTL);
	// at least a second. Every node sharing Bucket must use the same.
	TTL time.Duration
	// Bucket is the key-value bucket (Bucket).
	Bucket string
	// Logger says when this node takes, loses and gives up a lease.
	Logger *slog.Logger
}

// Leases holds this node's leases. Its methods are safe for concurrent
// use.
type Leases struct {
	kv     jetstream.KeyValue
	node   string
	ttl    time.Duration
	renew  time.Duration // how often a holder renews, and a waiter asks again
	margin time.Duration // how long before the lease could lapse a holder stops
	log    *slog.Logger
	follow *follow.Follower

	ctx    context.Context // ends at Close
	cancel context.CancelFunc
	runs   sync.WaitGroup // the Runs in progress

	mu     sync.Mutex
	closed bool                     // guarded by mu
	held   map[string]int           // guarded by mu: how many Runs hold each lease (0 or 1, 2 briefly while a duty restarts)
	freed  map[string]chan struct{} // guarded by mu: closed when the lease is next deleted or lapses
}

// Open opens the lease bucket on js (creating it if need be) and starts
// watching it.
func Open(ctx context.Context, js jetstream.JetStream, o Options) (*Leases, error) {
	if o.TTL <= 0 {
		o.TTL = DefaultTTL
	}
	if o.TTL < time.Second {
		return nil, fmt.Errorf("lease: a TTL of %v is shorter than a second", o.TTL)
	}
	if o.Bucket == "" {
		o.Bucket = Bucket
	}
	if o.Node == "" {
		o.Node = ids.New()
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: o.Bucket, History: 1, TTL: o.TTL,
		LimitMarkerTTL: o.TTL, Storage: jetstream.FileStorage})
	if err != nil {
		return nil, fmt.Errorf("lease: open %s: %w", o.Bucket, err)
	}
	l := &Leases{kv: kv, node: o.Node, ttl: o.TTL, renew: o.TTL / 3, margin: o.TTL / 6, log: o.Logger,
		held: map[string]int{}, freed: map[string]chan struct{}{}}
	l.ctx, l.cancel = context.WithCancel(context.Background())
	if l.follow, err = follow.KV(ctx, kv, l.apply, nil); err != nil {
		l.cancel()
		return nil, fmt.Errorf("lease: %w", err)
	}
	return l, nil
}

// TTL is how long a lease outlives its holder's last renewal.
func (l *Leases) TTL() time.Duration { return l.ttl }

// apply wakes the nodes waiting for a lease that was deleted or lapsed.
func (l *Leases) apply(e jetstream.KeyValueEntry) {
	if !follow.Deleted(e) {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if ch := l.freed[e.Key()]; ch != nil {
		close(ch)
		delete(l.freed, e.Key())
	}
}

// released returns a channel closed when lease name is next deleted or
// lapses.
func (l *Leases) released(name string) <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	ch := l.freed[name]
	if ch == nil {
		ch = make(chan struct{})
		l.freed[name] = ch
	}
	return ch
}

// Held reports whether a Run on this node holds lease name now.
func (l *Leases) Held(name string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.held[name] > 0
}

// Holder returns the node holding lease name, "" when none does.
func (l *Leases) Holder(ctx context.Context, name string) (string, error) {
	e, err := l.kv.Get(ctx, name)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("lease: read %s: %w", name, err)
	}
	node, _, _ := strings.Cut(string(e.Value()), "\n")
	return node, nil
}

// ours reports whether lease name is held with value v (a write of this
// holder's that the backbone took though its answer was lost, or that
// the store's handle sent again), and at which revision.
func (l *Leases) ours(ctx context.Context, name string, v []byte) (uint64, bool) {
	e, err := l.kv.Get(ctx, name)
	if err != nil || !bytes.Equal(e.Value(), v) {
		return 0, false
	}
	return e.Revision(), true
}

// Run runs duty whenever this node holds lease name, until ctx ends or
// Close: it waits until it can take the lease, calls duty with a
// context that ends when the lease is lost (or ctx ends), renews the
// lease while duty runs, and gives it up once duty has returned. A duty
// should run until its context ends; one that returns earlier gives the
// lease up, and Run competes for it again after one renewal interval, as
// it does after losing it. Name must be a valid key ([-/_=.a-zA-Z0-9]).
func (l *Leases) Run(ctx context.Context, name string, duty func(context.Context)) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	l.runs.Add(1)
	l.mu.Unlock()
	defer l.runs.Done()
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	defer context.AfterFunc(l.ctx, stop)()
	for ctx.Err() == nil {
		freed := l.released(name)
		// The value names the node and this turn, so that a holder can
		// tell its own writes from another's, even another Run's of
		// this node.
		v := []byte(l.node + "\n" + ids.New())
		start := time.Now()
		rev, err := l.kv.Create(ctx, name, v)
		if errors.Is(err, jetstream.ErrKeyExists) {
			if r, ok := l.ours(ctx, name, v); ok {
				rev, err = r, nil
			}
		}
		if err == nil {
			l.hold(ctx, name, v, rev, start, duty)
			if ctx.Err() != nil {
				return
			}
			freed = nil // not woken by its own giving up: the others go first
		} else if !errors.Is(err, jetstream.ErrKeyExists) && ctx.Err() == nil {
			l.log.Warn("lease: could not ask for a lease", "lease", name, "err", err)
		}
		// Held elsewhere: ask again when it is freed, or after a renewal
		// interval and a little jitter, so that waiting nodes do not all
		// ask at once. Just lost, or the duty ended: after the interval.
		t := time.NewTimer(l.renew + rand.N(l.renew/10+1))
		select {
		case <-ctx.Done():
		case <-freed:
		case <-t.C:
		}
		t.Stop()
	}
}

// errLost ends a duty whose lease is lost.
var errLost = errors.New("lease: lost")

// hold runs duty under lease name, taken with value v at revision rev by
// a request sent at took, renewing it until duty returns or the lease is
// lost, and then gives it up if it is still this node's.
func (l *Leases) hold(ctx context.Context, name string, v []byte, rev uint64, took time.Time, duty func(context.Context)) {
	l.mu.Lock()
	l.held[name]++
	l.mu.Unlock()
	l.log.Info("lease taken", "lease", name, "node", l.node)
	dctx, cancel := context.WithCancelCause(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		duty(dctx)
	}()
	deadline := took.Add(l.ttl - l.margin) // when this node must have stopped, unless renewed
	t := time.NewTimer(l.renew)
	defer t.Stop()
	lost := func(reason string, err error) {
		cancel(errLost)
		l.log.Warn("lease lost", "lease", name, "node", l.node, "reason", reason, "err", err)
		rev = 0
	}
loop:
	for {
		select {
		case <-done:
			break loop
		case <-ctx.Done():
			break loop
		case <-t.C:
		}
		start := time.Now()
		rctx, rcancel := context.WithDeadline(ctx, deadline)
		r, err := l.kv.Update(rctx, name, v, rev)
		if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			if ours, ok := l.ours(rctx, name, v); ok {
				r, err = ours, nil
			}
		}
		rcancel()
		switch {
		case err == nil:
			rev, deadline = r, start.Add(l.ttl-l.margin)
			t.Reset(l.renew)
		case ctx.Err() != nil:
			break loop
		case errors.Is(err, jetstream.ErrKeyRevisionMismatch), errors.Is(err, jetstream.ErrKeyNotFound), errors.Is(err, jetstream.ErrKeyDeleted):
			lost("taken by another node or lapsed", err)
			break loop
		case !time.Now().Before(deadline):
			lost("not renewed in time", err)
			break loop
		default: // the backbone is slow or away for now: try again soon
			t.Reset(min(l.renew/4, time.Until(deadline)))
		}
	}
	cancel(context.Canceled)
	<-done
	l.mu.Lock()
	l.held[name]--
	if l.held[name] == 0 {
		delete(l.held, name)
	}
	l.mu.Unlock()
	if rev != 0 {
		rctx, rcancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := l.kv.Delete(rctx, name, jetstream.LastRevision(rev))
		rcancel()
		if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			return // it lapsed meanwhile, and may be another node's already
		}
		if err != nil {
			l.log.Warn("lease: could not give a lease up; it lapses on its own", "lease", name, "err", err)
			return
		}
		l.log.Info("lease given up", "lease", name, "node", l.node)
	}
}

// Close ends every Run, waiting for their duties to return and their
// leases to be given up, and stops watching the bucket. It may be called
// more than once.
func (l *Leases) Close() {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	l.cancel()
	l.runs.Wait()
	l.follow.Stop()
}
