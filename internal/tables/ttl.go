package tables

import (
	"context"
	"errors"
	"math"
	"strconv"
	"time"

	"github.com/google/btree"

	"github.com/aloft-dev/aloft/internal/item"
	"github.com/aloft-dev/aloft/internal/lease"
)

// TTL is a table's time to live: the attribute holding each item's
// expiry (a number of Unix seconds), when enabled.
type TTL struct {
	Enabled   bool   `json:"enabled"`
	Attribute string `json:"attribute"`
}

// ttlHorizon is how far in the past an expiry may be and still delete
// its item: as on DynamoDB, an older one (most likely milliseconds, or a
// mistake) deletes nothing.
const ttlHorizon = 5 * 365 * 24 * time.Hour

// SweepEvery is how often the sweeper deletes the expired items of the
// tables with a time to live.
var SweepEvery = time.Second

// SweepLease is the lease whose holder sweeps expired items and compacts
// the tables' streams, once Share is called.
const SweepLease = "tables"

// Share makes the sweeper and the compactor run on one node of a
// cluster at a time: from now on this node runs them only while it holds
// SweepLease in l. Until then (and on a server alone) each node runs
// them, which is correct but repeats the work on every node. Call it
// once, before Close.
func (s *Service) Share(l *lease.Leases) {
	s.stopSweep()
	<-s.swept
	sweepCtx, stop := context.WithCancel(context.Background())
	s.stopSweep, s.swept = stop, make(chan struct{})
	go func() {
		defer close(s.swept)
		l.Run(sweepCtx, SweepLease, s.sweep)
	}()
}

// expiry returns an item's expiry in Unix seconds under attribute attr,
// or 0 when it has none (no such attribute, or not a number).
func expiry(it item.Item, attr string) int64 {
	if attr == "" || it == nil {
		return 0
	}
	v := it[attr]
	if v == nil || v.Kind != item.N {
		return 0
	}
	f, err := strconv.ParseFloat(v.Str, 64)
	if err != nil || f <= 0 || f > math.MaxInt64/2 {
		return 0
	}
	return int64(f)
}

// lessExpiry orders entries by expiry, then key.
func lessExpiry(a, b *entry) bool {
	if a.expires != b.expires {
		return a.expires < b.expires
	}
	return a.hash < b.hash
}

// setTTL makes the index follow the expiries of attribute attr ("" for
// none).
func (ix *index) setTTL(attr string) {
	if attr == ix.ttlAttr {
		return
	}
	ix.ttlAttr = attr
	ix.expiring = nil
	if attr == "" {
		return
	}
	ix.expiring = btree.NewG(32, lessExpiry)
	for _, e := range ix.byHash {
		if e.expires = expiry(e.item, attr); e.expires != 0 {
			ix.expiring.ReplaceOrInsert(e)
		}
	}
}

// expired returns up to n entries whose expiry is at or before now and
// within the horizon.
func (ix *index) expired(now time.Time, n int) []*entry {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if ix.expiring == nil {
		return nil
	}
	var out []*entry
	oldest := now.Add(-ttlHorizon).Unix()
	ix.expiring.Ascend(func(e *entry) bool {
		if e.expires > now.Unix() || len(out) == n {
			return false
		}
		if e.expires >= oldest {
			out = append(out, e)
		}
		return true
	})
	return out
}

// errNotExpired refuses a sweeper's deletion of an item changed since.
var errNotExpired = errors.New("tables: the item no longer expires now")

// sweep deletes the expired items of the tables with a time to live,
// and compacts the tables' streams, until ctx ends; each deletion is
// recorded in the table's stream as the service's, as DynamoDB's are.
// One node sweeps at a time (see Share); a deletion is conditional on the
// version it saw all the same, so two nodes never delete twice.
func (s *Service) sweep(ctx context.Context) {
	tick := time.NewTicker(SweepEvery)
	defer tick.Stop()
	compact := time.NewTicker(compactEvery)
	defer compact.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-compact.C:
			s.compact(ctx)
			continue
		case <-tick.C:
		}
		s.mu.RLock()
		var ts []*table
		for _, t := range s.tables {
			if t.def.TTL != nil && t.def.TTL.Enabled && t.idx != nil {
				ts = append(ts, t)
			}
		}
		s.mu.RUnlock()
		for _, t := range ts {
			s.sweepTable(ctx, t)
		}
	}
}

func (s *Service) sweepTable(ctx context.Context, t *table) {
	attr := t.def.TTL.Attribute
	for {
		now := time.Now()
		batch := t.idx.expired(now, 100)
		for _, e := range batch {
			key := t.def.keyItem(e.item)
			_, _, err := s.writeAs(ctx, t, key, true, func(cur item.Item) (item.Item, error) {
				if x := expiry(cur, attr); x == 0 || x > now.Unix() {
					return cur, errNotExpired
				}
				return nil, nil
			})
			if err != nil && !errors.Is(err, errNotExpired) {
				if ctx.Err() == nil {
					s.log.Warn("tables: deleting an expired item", "table", t.def.Name, "err", err)
				}
				return
			}
		}
		if len(batch) < 100 {
			return
		}
	}
}

// SetTTL enables (on attribute attr) or disables table name's time to
// live.
func (s *Service) SetTTL(ctx context.Context, name string, enabled bool, attr string) (*Def, error) {
	return s.change(ctx, name, "time to live", func(d *Def) error {
		on := d.TTL != nil && d.TTL.Enabled
		switch {
		case enabled && on:
			return validation("TimeToLive is already enabled")
		case !enabled && !on:
			return validation("TimeToLive is already disabled")
		case !enabled && d.TTL.Attribute != attr:
			return validation("TimeToLive is active on a different AttributeName: current AttributeName is %s", d.TTL.Attribute)
		}
		d.TTL = &TTL{Enabled: enabled, Attribute: attr}
		return nil
	})
}
