package tables

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"sync"
	"time"

	"github.com/google/btree"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/aloft-dev/aloft/internal/follow"
	"github.com/aloft-dev/aloft/internal/item"
)

// record is what the stream holds for one version of an item.
type record struct {
	Key item.Item `json:"key"`           // the item's key attributes
	New item.Item `json:"new,omitempty"` // nil for a deletion
	Old item.Item `json:"old,omitempty"` // the version it replaced
	// A version written while the table keeps history is also a record
	// of its stream: the record's id and time (Unix ms), and whether the
	// service made it (an expired item's deletion) rather than a request.
	ID      string `json:"id,omitempty"`
	Time    int64  `json:"time,omitempty"`
	Service bool   `json:"service,omitempty"`
}

// entry is an item in the index: its key, its latest version (nil for a
// deleted one, kept so a later write knows the sequence to expect) and
// the stream sequence of that version.
type entry struct {
	hash    string
	pk, sk  *item.Value
	item    item.Item
	seq     uint64
	size    int
	expires int64 // Unix seconds, under the table's time to live; 0: none
}

// index is a table's items on this node, ordered by key.
type index struct {
	def      *Def
	mu       sync.RWMutex
	byHash   map[string]*entry
	tree     *btree.BTreeG[*entry]
	sec      map[string]*secondary // the secondary indexes, by name
	ttlAttr  string                // the time to live's attribute, or ""
	expiring *btree.BTreeG[*entry] // the items with an expiry, by expiry
	n        int
	size     int
	last     uint64           // the last stream sequence applied
	seq      follow.Revisions // tells waiters of last
	changed  chan struct{}    // closed, and replaced, at every change applied
	examined uint64           // the sequence the compactor reads next
	ready    chan struct{}    // closed once the index has what the stream held at start
	stop     context.CancelFunc
	done     chan struct{}
}

// less orders entries by partition key, then sort key.
func less(a, b *entry) bool {
	if c := compareKey(a.pk, b.pk); c != 0 {
		return c < 0
	}
	return compareKey(a.sk, b.sk) < 0
}

// top is a key value above every other, where a backward walk starts.
var top = &item.Value{}

func compareKey(a, b *item.Value) int {
	switch {
	case a == b:
		return 0
	case a == nil || b == top:
		return -1
	case b == nil || a == top:
		return 1
	}
	if c, ok := item.Compare(a, b); ok {
		return c
	}
	return strings.Compare(a.Kind.String(), b.Kind.String())
}

// keyHash is an item's subject token: a hash of its key's values.
func keyHash(pk, sk *item.Value) string {
	h := sha256.New()
	for _, v := range []*item.Value{pk, sk} {
		if v == nil {
			h.Write([]byte{0})
			continue
		}
		s := v.Str
		if v.Kind == item.N {
			s, _ = item.Number(s)
		}
		h.Write([]byte{byte(v.Kind)})
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// newIndex starts following table def's stream from its start.
func newIndex(s *Service, def *Def) *index {
	ctx, cancel := context.WithCancel(context.Background())
	ix := &index{def: def, byHash: map[string]*entry{}, tree: btree.NewG(32, less), ready: make(chan struct{}), changed: make(chan struct{}), stop: cancel, done: make(chan struct{})}
	ix.redefine(def)
	go ix.run(ctx, s)
	return ix
}

// run feeds the index from the stream, in order, until stopped.
func (ix *index) run(ctx context.Context, s *Service) {
	defer close(ix.done)
	var target uint64
	readied := false
	for ctx.Err() == nil {
		st, err := s.js.Stream(ctx, ix.def.stream())
		if err != nil {
			if ctx.Err() == nil {
				time.Sleep(100 * time.Millisecond)
			}
			continue
		}
		if !readied {
			if m, err := st.GetLastMsgForSubject(ctx, ix.def.subjects()); err == nil {
				target = m.Sequence
			}
		}
		cons, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{ix.def.subjects()},
			DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: ix.applied() + 1})
		if err != nil {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		if !readied && target == 0 {
			close(ix.ready)
			readied = true
		}
		it, err := cons.Messages()
		if err != nil {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		go func() { <-ctx.Done(); it.Stop() }()
		for {
			m, err := it.Next()
			if err != nil {
				break
			}
			md, err := m.Metadata()
			if err != nil {
				continue
			}
			ix.applyMsg(m.Subject(), m.Data(), md.Sequence.Stream, s.takeLocal(m.Headers()))
			if !readied && md.Sequence.Stream >= target {
				close(ix.ready)
				readied = true
			}
		}
	}
	if !readied {
		close(ix.ready)
	}
}

func (ix *index) applied() uint64 {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.last
}

// applyMsg folds one stored version into the index: local when this
// node wrote it (see Service.takeLocal), else decoded from data.
func (ix *index) applyMsg(subject string, data []byte, seq uint64, local *record) {
	var r record
	if local != nil {
		r = *local
	} else if err := json.Unmarshal(data, &r); err != nil {
		return
	}
	hash := subject[strings.LastIndexByte(subject, '.')+1:]
	ix.mu.Lock()
	old := ix.byHash[hash]
	if old != nil && old.item != nil {
		ix.tree.Delete(old)
		ix.n--
		ix.size -= old.size
		for _, sx := range ix.sec {
			sx.remove(old)
		}
		if old.expires != 0 && ix.expiring != nil {
			ix.expiring.Delete(old)
		}
	}
	e := &entry{hash: hash, pk: r.Key[ix.def.HashKey()], seq: seq, item: r.New}
	if rk := ix.def.RangeKey(); rk != "" {
		e.sk = r.Key[rk]
	}
	ix.byHash[hash] = e
	if r.New != nil {
		e.size = r.New.Size()
		ix.tree.ReplaceOrInsert(e)
		ix.n++
		ix.size += e.size
		for _, sx := range ix.sec {
			sx.add(e)
		}
		if e.expires = expiry(e.item, ix.ttlAttr); e.expires != 0 {
			ix.expiring.ReplaceOrInsert(e)
		}
	}
	ix.last = seq
	close(ix.changed)
	ix.changed = make(chan struct{})
	ix.mu.Unlock()
	ix.seq.Applied(seq)
}

func (ix *index) close() {
	ix.stop()
	<-ix.done
}

func (ix *index) stats() (int, int) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.n, ix.size
}

// waitReady waits, a while at most, for the index to have what the
// stream held when the node started following it.
func (ix *index) waitReady() {
	select {
	case <-ix.ready:
	case <-time.After(30 * time.Second):
	}
}

// lookup returns the entry of an item's key, or nil.
func (ix *index) lookup(hash string) *entry {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.byHash[hash]
}
