package tables

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// While a table keeps history (see Def.keepsHistory), every version of
// every item stays in the backbone's stream, where it is a record of the
// table's stream. The compactor deletes the versions that are no
// longer any item's latest once they are older than the retention.

// compactEvery is how often each node looks for versions to delete.
var compactEvery = time.Minute

// compact deletes the expired history of every table that has had a
// stream. Each node compacts: a version is deleted only when this
// node's index holds a later one of the same item, and deleting what
// another node deleted already is harmless.
func (s *Service) compact(ctx context.Context) {
	s.mu.RLock()
	var ts []*table
	for _, t := range s.tables {
		if t.def.Stream != nil && t.idx != nil {
			ts = append(ts, t)
		}
	}
	s.mu.RUnlock()
	for _, t := range ts {
		if err := s.compactTable(ctx, t); err != nil && ctx.Err() == nil {
			s.log.Warn("tables: deleting expired stream records", "table", t.def.Name, "err", err)
		}
	}
}

// compactTable reads t's versions from where it last stopped up to the
// first one younger than the retention, deleting those a later version
// of their item replaced.
func (s *Service) compactTable(ctx context.Context, t *table) error {
	st, err := s.itemStream(ctx)
	if err != nil {
		return err
	}
	ix := t.idx
	cutoff := time.Now().Add(-streamRetention)
	next := ix.examined
	defer func() { ix.examined = next }()
	for ctx.Err() == nil {
		m, err := st.GetMsg(ctx, next, jetstream.WithGetMsgSubject(t.def.itemSubjects()))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if m.Time.After(cutoff) || m.Sequence > ix.applied() {
			return nil
		}
		hash := m.Subject[len(m.Subject)-32:]
		if e := ix.lookup(hash); e != nil && e.seq > m.Sequence {
			if err := st.DeleteMsg(ctx, m.Sequence); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
				return err
			}
		}
		next = m.Sequence + 1
	}
	return nil
}
