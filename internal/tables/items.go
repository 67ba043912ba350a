package tables

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/aloft-dev/aloft/internal/fault"
	"github.com/aloft-dev/aloft/internal/ids"
	"github.com/aloft-dev/aloft/internal/item"
	"github.com/aloft-dev/aloft/internal/itemexpr"
	"github.com/aloft-dev/aloft/internal/store"
)

// maxPage is the most a Query or Scan page reads, as DynamoDB's 1 MB.
const maxPage = 1 << 20

// keyOf checks key (exactly the table's key attributes, of their
// declared types) and returns its values and hash.
func (d *Def) keyOf(key item.Item, exact bool) (pk, sk *item.Value, hash string, err error) {
	want := 1
	if d.RangeKey() != "" {
		want = 2
	}
	if exact && len(key) != want {
		return nil, nil, "", validation("The provided key element does not match the schema")
	}
	for _, k := range d.KeySchema {
		v := key[k.AttributeName]
		if v == nil {
			if exact {
				return nil, nil, "", validation("The provided key element does not match the schema")
			}
			return nil, nil, "", validation("One or more parameter values were invalid: Missing the key %s in the item", k.AttributeName)
		}
		typ := d.attrType(k.AttributeName)
		if v.Kind.String() != typ {
			return nil, nil, "", validation("One or more parameter values were invalid: Type mismatch for key %s expected: %s actual: %s", k.AttributeName, typ, v.Kind)
		}
		if (v.Kind == item.S || v.Kind == item.B) && v.Str == "" {
			return nil, nil, "", validation("One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty %s value. Key: %s",
				map[item.Kind]string{item.S: "string", item.B: "binary"}[v.Kind], k.AttributeName)
		}
		if k.KeyType == "HASH" {
			pk = v
		} else {
			sk = v
		}
	}
	return pk, sk, keyHash(pk, sk), nil
}

// keyItem returns the key attributes of an item.
func (d *Def) keyItem(it item.Item) item.Item {
	out := item.Item{}
	for _, k := range d.KeySchema {
		if v := it[k.AttributeName]; v != nil {
			out[k.AttributeName] = v
		}
	}
	return out
}

// table returns table name, its index ready.
func (s *Service) table(name string) (*table, error) {
	t, err := s.get(name)
	if err != nil {
		return nil, err
	}
	t.idx.waitReady()
	return t, nil
}

// consistent waits for the index of t to hold everything the stream
// holds now: what a strongly consistent read sees.
func (s *Service) consistent(ctx context.Context, t *table) error {
	st, err := s.itemStream(ctx)
	if err != nil {
		return readErr(t, err)
	}
	m, err := st.GetLastMsgForSubject(ctx, t.def.subjects())
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil // nothing stored yet
	}
	if err != nil {
		return err
	}
	t.idx.seq.Wait(m.Sequence)
	return nil
}

// GetItem returns the item with key, or nil.
func (s *Service) GetItem(ctx context.Context, name string, key item.Item, consistentRead bool) (item.Item, error) {
	t, err := s.table(name)
	if err != nil {
		return nil, err
	}
	_, _, hash, err := t.def.keyOf(key, true)
	if err != nil {
		return nil, err
	}
	if consistentRead {
		if err := s.consistent(ctx, t); err != nil {
			return nil, err
		}
	}
	if e := t.idx.lookup(hash); e != nil {
		return e.item, nil
	}
	return nil, nil
}

// Condition is a write's condition: ConditionExpression's, and whether
// its failure returns the item (ReturnValuesOnConditionCheckFailure
// ALL_OLD).
type Condition struct {
	Expr       *itemexpr.Condition
	ReturnItem bool
}

// conditionFailed is DynamoDB's ConditionalCheckFailedException.
func conditionFailed(c Condition, cur item.Item) *Error {
	e := &Error{Kind: fault.Invalid, Type: "ConditionalCheckFailedException", Message: "The conditional request failed"}
	if c.ReturnItem && cur != nil {
		e.Item = map[string]any{"Item": cur}
	}
	return e
}

// write changes the item with key by change (given its current version,
// nil for none; returning the next, nil to delete it), stored only if
// nobody changed the item since that version; it returns the item's
// versions before and after.
func (s *Service) write(ctx context.Context, t *table, key item.Item, change func(cur item.Item) (item.Item, error)) (item.Item, item.Item, error) {
	return s.writeAs(ctx, t, key, false, change)
}

// writeAs is write, by the service itself (a time to live's deletion)
// when byService.
func (s *Service) writeAs(ctx context.Context, t *table, key item.Item, byService bool, change func(cur item.Item) (item.Item, error)) (item.Item, item.Item, error) {
	_, _, hash, err := t.def.keyOf(key, true)
	if err != nil {
		return nil, nil, err
	}
	subject := t.def.subject(hash)
	for attempt := 0; attempt < 200; attempt++ {
		if attempt > 10 {
			// Busy: others keep changing the item; let them through.
			time.Sleep(time.Duration(rand.IntN(attempt)) * 100 * time.Microsecond)
		}
		var cur item.Item
		var seq uint64
		if e := t.idx.lookup(hash); e != nil {
			cur, seq = e.item, e.seq
		}
		next, cerr := change(cur)
		if cerr != nil {
			// A refusal on a version this node may not have caught up
			// with yet: look again once it has.
			if fresh, err := s.caughtUp(ctx, t, subject, seq); err != nil {
				return nil, nil, err
			} else if !fresh {
				continue
			}
			return cur, nil, cerr
		}
		if next == nil && cur == nil {
			return nil, nil, nil // nothing to delete
		}
		if err := t.def.checkNext(next); err != nil {
			return nil, nil, err
		}
		msg, r := versionMsg(t.def, subject, seq, t.def.keyItem(key), next, cur, byService)
		token := s.giveLocal(msg, r)
		ack, err := s.js.PublishMsg(ctx, msg)
		if err != nil {
			s.local.Delete(token)
			var apiErr *jetstream.APIError
			if errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence {
				// Changed meanwhile (here or on another node): catch up.
				if _, err := s.caughtUp(ctx, t, subject, seq); err != nil {
					return nil, nil, err
				}
				continue
			}
			if !errors.Is(err, store.ErrUnavailable) && (errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, nats.ErrNoResponders)) {
				return nil, nil, notFound(t.def.Name) // the table's stream is gone
			}
			return nil, nil, err
		}
		t.idx.seq.Wait(ack.Sequence)
		// The index has passed this version; it took it unless another
		// node's rollup removed it before the index read it, so withdraw
		// it here or it would be held forever.
		s.local.Delete(token)
		return cur, next, nil
	}
	return nil, nil, &Error{Kind: fault.Throttled, Type: "TransactionConflictException", Message: "Transaction is ongoing for the item"}
}

// versionMsg is the message that stores a new version of an item of
// table d (next; nil deletes it) over the one at sequence seq (cur),
// made by the service itself when byService. While the table keeps
// history the version is also its stream's record of the change;
// otherwise it replaces the item's earlier versions.
func versionMsg(d *Def, subject string, seq uint64, key, next, cur item.Item, byService bool) (*nats.Msg, *record) {
	r := &record{Key: key, New: next, Old: cur}
	h := nats.Header{"Nats-Expected-Last-Subject-Sequence": []string{strconv.FormatUint(seq, 10)}}
	if d.keepsHistory() {
		r.ID, r.Time, r.Service = ids.Hex(), time.Now().UnixMilli(), byService
	} else {
		h.Set("Nats-Rollup", "sub")
	}
	data, _ := json.Marshal(r)
	return &nats.Msg{Subject: subject, Data: data, Header: h}, r
}

// localHeader names, on a version this node writes, the token under
// which the version waits, already decoded, for this node's index.
const localHeader = "Aloft-Local"

// giveLocal sets aside r, the version msg stores, for this node's index,
// which then need not decode it; it returns the token to withdraw it by
// if the write fails. Items are never changed once written, so the
// index may hold the writer's own values.
func (s *Service) giveLocal(msg *nats.Msg, r *record) string {
	token := s.node + strconv.FormatUint(s.writes.Add(1), 36)
	msg.Header.Set(localHeader, token)
	s.local.Store(token, r)
	return token
}

// takeLocal returns the version a message's header says this node set
// aside, nil when it is another node's (or none).
func (s *Service) takeLocal(h nats.Header) *record {
	token := h.Get(localHeader)
	if token == "" {
		return nil
	}
	if r, ok := s.local.LoadAndDelete(token); ok {
		return r.(*record)
	}
	return nil
}

// itemStream returns the handle of the stream that holds every table's
// items, looked up once (a look-up asks the stream's leader for its
// description). The stream lives as long as the service; its reads by
// subject are direct gets, which any replica answers. Only reads go
// through it: its Info would change the description it holds, which
// those reads consult, under them.
func (s *Service) itemStream(ctx context.Context) (jetstream.Stream, error) {
	return s.items.Get(func() (jetstream.Stream, error) { return s.js.Stream(ctx, itemStream) })
}

// readErr is the failure to look up table t's stream: the table is gone
// when the stream is; a lookup the cluster did not answer (an election
// under way) is of kind fault.Unavailable (DynamoDB's 503), which the
// client sends again.
func readErr(t *table, err error) error {
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return notFound(t.def.Name)
	}
	return fmt.Errorf("tables: read %s: %w", t.def.Name, store.Unavailable(err))
}

// caughtUp reports whether the index's version of subject (sequence
// seq) is the latest; if not, it waits for the index to reach it.
func (s *Service) caughtUp(ctx context.Context, t *table, subject string, seq uint64) (bool, error) {
	st, err := s.itemStream(ctx)
	if err != nil {
		return false, readErr(t, err)
	}
	m, err := st.GetLastMsgForSubject(ctx, subject)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return seq == 0, nil
	}
	if err != nil {
		return false, err
	}
	if m.Sequence == seq {
		return true, nil
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		t.idx.seq.Wait(m.Sequence)
		if e := t.idx.lookup(subject[len(subject)-32:]); e != nil && e.seq >= m.Sequence {
			break
		}
	}
	return false, nil
}

// PutItem stores it, replacing any item with its key, if cond holds;
// it returns the item it replaced.
func (s *Service) PutItem(ctx context.Context, name string, it item.Item, cond Condition) (item.Item, error) {
	t, err := s.table(name)
	if err != nil {
		return nil, err
	}
	if _, _, _, err := t.def.keyOf(it, false); err != nil {
		return nil, err
	}
	old, _, err := s.write(ctx, t, t.def.keyItem(it), func(cur item.Item) (item.Item, error) {
		if cond.Expr != nil && !cond.Expr.Match(cur) {
			return nil, conditionFailed(cond, cur)
		}
		return it, nil
	})
	return old, err
}

// DeleteItem deletes the item with key, if cond holds; it returns the
// deleted item.
func (s *Service) DeleteItem(ctx context.Context, name string, key item.Item, cond Condition) (item.Item, error) {
	t, err := s.table(name)
	if err != nil {
		return nil, err
	}
	old, _, err := s.write(ctx, t, key, func(cur item.Item) (item.Item, error) {
		if cond.Expr != nil && !cond.Expr.Match(cur) {
			return nil, conditionFailed(cond, cur)
		}
		return nil, nil
	})
	return old, err
}

// UpdateItem applies u to the item with key (made if missing), if cond
// holds; it returns the item before and after.
func (s *Service) UpdateItem(ctx context.Context, name string, key item.Item, u *itemexpr.Update, cond Condition) (item.Item, item.Item, error) {
	t, err := s.table(name)
	if err != nil {
		return nil, nil, err
	}
	if u != nil {
		for _, p := range u.Paths() {
			for _, k := range t.def.KeySchema {
				if p[0].Name == k.AttributeName {
					return nil, nil, validation("One or more parameter values were invalid: Cannot update attribute %s. This attribute is part of the key", k.AttributeName)
				}
			}
		}
	}
	return s.write(ctx, t, key, func(cur item.Item) (item.Item, error) {
		if cond.Expr != nil && !cond.Expr.Match(cur) {
			return nil, conditionFailed(cond, cur)
		}
		next := cur.Clone()
		if next == nil {
			next = item.Item{}
		}
		for k, v := range key {
			next[k] = v
		}
		if u != nil {
			var err error
			if next, err = u.Apply(next); err != nil {
				return nil, validation("%s", err.Error())
			}
		}
		return next, nil
	})
}

// Page is a Query's or Scan's answer.
type Page struct {
	Items   []item.Item
	Scanned int       // items read before the filter
	Last    item.Item // LastEvaluatedKey, nil on the last page
}

// ReadInput is what a Query and a Scan have in common.
type ReadInput struct {
	Index         string // a secondary index, or "" for the table
	Filter        *itemexpr.Condition
	Limit         int // 0: none
	Start         item.Item
	Consistent    bool
	AllAttributes bool // Select ALL_ATTRIBUTES
	Fetch         bool // whole items even from a local index (a ProjectionExpression)
}

// QueryInput is a Query's parameters.
type QueryInput struct {
	ReadInput
	Key      []itemexpr.KeyPart
	Backward bool // ScanIndexForward false
}

// ScanInput is a Scan's parameters.
type ScanInput struct {
	ReadInput
	Segment, Total int // parallel scan: this segment of Total (Total 0: one)
}

// view is what a Query or Scan reads: a table, or one of its indexes.
type view struct {
	t     *table
	x     *SecondaryIndex // nil: the table itself
	hk    string          // the partition key's name
	rk    string          // the sort key's name, or ""
	whole bool            // answer whole items, not the index's projection
}

// view opens what in reads.
func (s *Service) view(ctx context.Context, name string, in *ReadInput) (*view, error) {
	t, err := s.table(name)
	if err != nil {
		return nil, err
	}
	v := &view{t: t, hk: t.def.HashKey(), rk: t.def.RangeKey(), whole: true}
	if in.Index != "" {
		x := t.def.Index(in.Index)
		if x == nil {
			return nil, validation("The table does not have the specified index: %s", in.Index)
		}
		if x.Global && in.Consistent {
			return nil, validation("Consistent reads are not supported on global secondary indexes")
		}
		if x.Global && in.AllAttributes && x.Projection.ProjectionType != "ALL" {
			return nil, validation("One or more parameter values were invalid: Select type ALL_ATTRIBUTES is not supported for global secondary index %s because its projection type is not ALL", x.Name)
		}
		v.x, v.hk, v.rk = x, x.HashKey(), x.RangeKey()
		v.whole = !x.Global && (in.AllAttributes || in.Fetch)
	}
	if in.Consistent {
		if err := s.consistent(ctx, t); err != nil {
			return nil, err
		}
	}
	return v, nil
}

// startRow checks an ExclusiveStartKey and returns its place.
func (v *view) startRow(start item.Item) (*row, error) {
	d := v.t.def
	want := len(d.KeySchema)
	pk, sk, _, err := d.keyOf(start, v.x == nil)
	if err != nil {
		return nil, validation("The provided starting key is invalid: %s", err.(*Error).Message)
	}
	r := &row{pk: pk, sk: sk, e: &entry{pk: pk, sk: sk}}
	if v.x != nil {
		for _, k := range v.x.KeySchema {
			val := start[k.AttributeName]
			if val == nil || val.Kind.String() != d.attrType(k.AttributeName) {
				return nil, validation("The provided starting key is invalid: The provided key element does not match the schema")
			}
			if d.RangeKey() != k.AttributeName && d.HashKey() != k.AttributeName {
				want++
			}
		}
		r.pk, r.sk = start[v.hk], nil
		if v.rk != "" {
			r.sk = start[v.rk]
		}
		if len(start) != want {
			return nil, validation("The provided starting key is invalid: The provided key element does not match the schema")
		}
	}
	return r, nil
}

// walk visits v's rows in order from `from` (inclusive; nil: the first),
// under the index's read lock, until fn returns false.
func (v *view) walk(from *row, backward bool, fn func(*row) bool) {
	ix := v.t.idx
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if v.x != nil {
		tree := ix.sec[v.x.Name].tree
		switch {
		case from == nil:
			tree.Ascend(fn)
		case backward:
			tree.DescendLessOrEqual(from, fn)
		default:
			tree.AscendGreaterOrEqual(from, fn)
		}
		return
	}
	var r row
	visit := func(e *entry) bool {
		r = row{pk: e.pk, sk: e.sk, e: e}
		return fn(&r)
	}
	switch {
	case from == nil:
		ix.tree.Ascend(visit)
	case backward:
		ix.tree.DescendLessOrEqual(&entry{pk: from.pk, sk: from.sk}, visit)
	default:
		ix.tree.AscendGreaterOrEqual(&entry{pk: from.pk, sk: from.sk}, visit)
	}
}

// lastKey is a row's LastEvaluatedKey: the table's key, and the index's.
func (v *view) lastKey(r *row) item.Item {
	out := v.t.def.keyItem(r.e.item)
	if v.x != nil {
		for _, k := range v.x.KeySchema {
			out[k.AttributeName] = r.e.item[k.AttributeName]
		}
	}
	return out
}

// pager fills a page from the rows a walk visits.
type pager struct {
	v      *view
	start  *row
	filter *itemexpr.Condition
	limit  int
	size   int
	out    Page
}

// take reads row r into the page; it returns false once the page is full.
func (p *pager) take(r *row) bool {
	if p.start != nil && compareRows(r, p.start) == 0 {
		return true // ExclusiveStartKey itself
	}
	it := r.item()
	if p.v.whole {
		it = r.e.item
	}
	p.out.Scanned++
	p.size += it.Size()
	if p.filter == nil || p.filter.Match(it) {
		p.out.Items = append(p.out.Items, it)
	}
	if (p.limit > 0 && p.out.Scanned >= p.limit) || p.size >= maxPage {
		p.out.Last = p.v.lastKey(r)
		return false
	}
	return true
}

// Query reads the items of one partition of a table or index in sort
// key order.
func (s *Service) Query(ctx context.Context, name string, q QueryInput) (*Page, error) {
	v, err := s.view(ctx, name, &q.ReadInput)
	if err != nil {
		return nil, err
	}
	d := v.t.def
	var pkPart, skPart *itemexpr.KeyPart
	for i := range q.Key {
		switch q.Key[i].Name {
		case v.hk:
			pkPart = &q.Key[i]
		case v.rk:
			skPart = &q.Key[i]
		default:
			return nil, validation("Query condition missed key schema element: %s", v.hk)
		}
	}
	if pkPart == nil {
		return nil, validation("Query condition missed key schema element: %s", v.hk)
	}
	if pkPart.Op != "=" {
		return nil, validation("Query key condition not supported")
	}
	pk := pkPart.Values[0]
	if pk.Kind.String() != d.attrType(v.hk) {
		return nil, validation("One or more parameter values were invalid: Condition parameter type does not match schema type")
	}
	if skPart != nil {
		for _, val := range skPart.Values {
			if val.Kind.String() != d.attrType(v.rk) {
				return nil, validation("One or more parameter values were invalid: Condition parameter type does not match schema type")
			}
		}
		if skPart.Op == "begins_with" && d.attrType(v.rk) == "N" {
			return nil, validation("Invalid KeyConditionExpression: Incorrect operand type for operator or function; operator or function: begins_with, operand type: N")
		}
	}
	p := &pager{v: v, filter: q.Filter, limit: q.Limit}
	// The walk starts where the sort key condition's range starts (in
	// the walk's direction) and stops where it ends: every key
	// condition is one run of rows in sort key order.
	lo, hi := skBounds(skPart)
	from := &row{pk: pk, sk: lo, e: &entry{}}
	if q.Backward {
		if hi == nil {
			hi = top
		}
		from = &row{pk: pk, sk: hi, e: &entry{pk: top, sk: top}}
	}
	if q.Start != nil {
		if p.start, err = v.startRow(q.Start); err != nil {
			return nil, err
		}
		if !item.Equal(p.start.pk, pk) {
			return nil, validation("The provided starting key is outside query boundaries based on provided conditions")
		}
		from = p.start
	}
	inRange := false
	v.walk(from, q.Backward, func(r *row) bool {
		if compareKey(r.pk, pk) != 0 {
			return false
		}
		if skPart != nil && !skPart.Matches(r.sk) {
			return !inRange // before the range, or past it
		}
		inRange = true
		return p.take(r)
	})
	return &p.out, nil
}

// skBounds is where a sort key condition's range starts and ends (nil:
// open on that side).
func skBounds(k *itemexpr.KeyPart) (lo, hi *item.Value) {
	if k == nil {
		return nil, nil
	}
	switch k.Op {
	case "=":
		return k.Values[0], k.Values[0]
	case "<", "<=":
		return nil, k.Values[0]
	case ">", ">=", "begins_with":
		return k.Values[0], nil
	case "BETWEEN":
		return k.Values[0], k.Values[1]
	}
	return nil, nil
}

// Scan reads every item of a table or index, in its order, or one
// segment's.
func (s *Service) Scan(ctx context.Context, name string, in ScanInput) (*Page, error) {
	v, err := s.view(ctx, name, &in.ReadInput)
	if err != nil {
		return nil, err
	}
	p := &pager{v: v, filter: in.Filter, limit: in.Limit}
	if in.Start != nil {
		if p.start, err = v.startRow(in.Start); err != nil {
			return nil, err
		}
	}
	v.walk(p.start, false, func(r *row) bool {
		if in.Total > 1 {
			h := fnv.New32a()
			h.Write([]byte(r.pk.Kind.String()))
			h.Write([]byte(r.pk.Str))
			if int(h.Sum32()%uint32(in.Total)) != in.Segment {
				return true
			}
		}
		return p.take(r)
	})
	return &p.out, nil
}

// KeyFor returns the key attributes of item it in table name.
func (s *Service) KeyFor(name string, it item.Item) item.Item {
	t, err := s.get(name)
	if err != nil {
		return nil
	}
	return t.def.keyItem(it)
}
