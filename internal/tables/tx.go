package tables

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/aloft-dev/aloft/internal/fault"
	"github.com/aloft-dev/aloft/internal/ids"
	"github.com/aloft-dev/aloft/internal/item"
	"github.com/aloft-dev/aloft/internal/itemexpr"
)

// TxWrite is one action of TransactWriteItems: a Put, an Update, a
// Delete or a ConditionCheck of one item.
type TxWrite struct {
	Table  string
	Key    item.Item // the item's key (Put: taken from Put)
	Put    item.Item
	Update *itemexpr.Update
	Delete bool
	Cond   Condition // required for a ConditionCheck
}

// checkOnly says whether w only checks its condition.
func (w *TxWrite) checkOnly() bool { return w.Put == nil && w.Update == nil && !w.Delete }

// checkSubject is where a transaction's condition checks are stored:
// each asserts, in the same atomic batch, that an item it does not write
// is still the version it checked.
const checkSubject = "ddb.tx.checks"

// TransactWrite performs writes all or none: every condition holds, and
// no item changes meanwhile, or nothing is written.
func (s *Service) TransactWrite(ctx context.Context, writes []TxWrite) error {
	if len(writes) == 0 || len(writes) > 100 {
		return validation("1 validation error detected: Value at 'transactItems' failed to satisfy constraint: Member must have length less than or equal to 100, Member must have length greater than or equal to 1")
	}
	type target struct {
		t       *table
		hash    string
		subject string
	}
	targets := make([]target, len(writes))
	seen := map[string]bool{}
	for i := range writes {
		w := &writes[i]
		t, err := s.table(w.Table)
		if err != nil {
			return err
		}
		if w.Put != nil {
			if _, _, _, err := t.def.keyOf(w.Put, false); err != nil {
				return err
			}
			w.Key = t.def.keyItem(w.Put)
		}
		_, _, hash, err := t.def.keyOf(w.Key, true)
		if err != nil {
			return err
		}
		if seen[t.def.ID+hash] {
			return validation("Transaction request cannot include multiple operations on one item")
		}
		seen[t.def.ID+hash] = true
		if w.checkOnly() && w.Cond.Expr == nil {
			return validation("A ConditionCheck needs a ConditionExpression")
		}
		targets[i] = target{t, hash, t.def.subject(hash)}
	}
	for attempt := 0; attempt < 100; attempt++ {
		if attempt > 5 {
			time.Sleep(time.Duration(attempt) * 200 * time.Microsecond)
		}
		reasons := make([]map[string]any, len(writes))
		failed := false
		msgs := make([]*nats.Msg, 0, len(writes))
		owners := make([]*table, 0, len(writes)) // the table each message is for
		stale := false
		for i, w := range writes {
			tg := targets[i]
			var cur item.Item
			var seq uint64
			if e := tg.t.idx.lookup(tg.hash); e != nil {
				cur, seq = e.item, e.seq
			}
			reasons[i] = map[string]any{"Code": "None"}
			if w.Cond.Expr != nil && !w.Cond.Expr.Match(cur) {
				if fresh, err := s.caughtUp(ctx, tg.t, tg.subject, seq); err != nil {
					return err
				} else if !fresh {
					stale = true
					break
				}
				failed = true
				reasons[i] = map[string]any{"Code": "ConditionalCheckFailed", "Message": "The conditional request failed"}
				if w.Cond.ReturnItem && cur != nil {
					reasons[i]["Item"] = cur
				}
				continue
			}
			h := nats.Header{"Nats-Expected-Last-Subject-Sequence": []string{strconv.FormatUint(seq, 10)}, "Nats-Rollup": []string{"sub"}}
			if w.checkOnly() {
				h.Set("Nats-Expected-Last-Subject-Sequence-Subject", tg.subject)
				msgs = append(msgs, &nats.Msg{Subject: checkSubject, Header: h})
				owners = append(owners, nil)
				continue
			}
			var next item.Item
			switch {
			case w.Put != nil:
				next = w.Put
			case w.Update != nil:
				next = cur.Clone()
				if next == nil {
					next = item.Item{}
				}
				for k, v := range w.Key {
					next[k] = v
				}
				var err error
				if next, err = w.Update.Apply(next); err != nil {
					return validation("%s", err.Error())
				}
			}
			if err := tg.t.def.checkNext(next); err != nil {
				return err
			}
			if next == nil && cur == nil {
				// Deleting what is not there: hold it absent.
				h.Set("Nats-Expected-Last-Subject-Sequence-Subject", tg.subject)
				msgs = append(msgs, &nats.Msg{Subject: checkSubject, Header: h})
				owners = append(owners, nil)
				continue
			}
			msg, _ := versionMsg(tg.t.def, tg.subject, seq, tg.t.def.keyItem(w.Key), next, cur, false)
			msgs = append(msgs, msg)
			owners = append(owners, tg.t)
		}
		if stale {
			continue
		}
		if failed {
			codes := make([]string, len(reasons))
			for i, r := range reasons {
				codes[i] = r["Code"].(string)
			}
			return &Error{Kind: fault.Invalid, Type: "TransactionCanceledException",
				Message: "Transaction cancelled, please refer cancellation reasons for specific reasons [" + strings.Join(codes, ", ") + "]",
				Item:    map[string]any{"CancellationReasons": reasons}}
		}
		seq, err := s.commit(ctx, msgs)
		if errors.Is(err, errChanged) {
			for i := range writes {
				if _, err := s.caughtUp(ctx, targets[i].t, targets[i].subject, 0); err != nil {
					return err
				}
			}
			continue
		}
		if err != nil {
			return err
		}
		// A batch's messages have consecutive sequences: each table's
		// index is waited for up to its own message.
		for i, t := range owners {
			if t != nil {
				t.idx.seq.Wait(seq - uint64(len(msgs)-1-i))
			}
		}
		return nil
	}
	return &Error{Kind: fault.Conflict, Type: "TransactionConflictException", Message: "Transaction is ongoing for the item"}
}

// errChanged is a batch refused because an item changed since it was
// read.
var errChanged = errors.New("tables: an item changed")

// commit stores msgs as one atomic batch, returning the last sequence.
func (s *Service) commit(ctx context.Context, msgs []*nats.Msg) (uint64, error) {
	id := ids.Hex()
	var last uint64
	for i, m := range msgs {
		m.Header.Set("Nats-Batch-Id", id)
		m.Header.Set("Nats-Batch-Sequence", strconv.Itoa(i+1))
		if i == len(msgs)-1 {
			m.Header.Set("Nats-Batch-Commit", "1")
		}
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		resp, err := s.nc.RequestMsgWithContext(rctx, m)
		cancel()
		if err != nil {
			return 0, fmt.Errorf("tables: transaction: %w", err)
		}
		if len(resp.Data) == 0 {
			continue // stored, awaiting the commit
		}
		var ack struct {
			Seq   uint64 `json:"seq"`
			Error *struct {
				Code    int    `json:"code"`
				ErrCode int    `json:"err_code"`
				Desc    string `json:"description"`
			} `json:"error"`
		}
		if err := json.Unmarshal(resp.Data, &ack); err != nil {
			return 0, fmt.Errorf("tables: transaction: %w", err)
		}
		if ack.Error != nil {
			if ack.Error.ErrCode == int(jetstream.JSErrCodeStreamWrongLastSequence) {
				return 0, errChanged
			}
			return 0, fmt.Errorf("tables: transaction: %s", ack.Error.Desc)
		}
		last = ack.Seq
	}
	return last, nil
}

// TransactGet reads items, all as of the stream's state when it began.
func (s *Service) TransactGet(ctx context.Context, tableNames []string, keys []item.Item) ([]item.Item, error) {
	if len(keys) == 0 || len(keys) > 100 {
		return nil, validation("1 validation error detected: Value at 'transactItems' failed to satisfy constraint: Member must have length less than or equal to 100, Member must have length greater than or equal to 1")
	}
	out := make([]item.Item, len(keys))
	seen := map[string]bool{}
	for i, k := range keys {
		t, err := s.table(tableNames[i])
		if err != nil {
			return nil, err
		}
		_, _, hash, err := t.def.keyOf(k, true)
		if err != nil {
			return nil, err
		}
		if seen[t.def.ID+hash] {
			return nil, validation("Transaction request cannot include multiple operations on one item")
		}
		seen[t.def.ID+hash] = true
		if err := s.consistent(ctx, t); err != nil {
			return nil, err
		}
		if e := t.idx.lookup(hash); e != nil {
			out[i] = e.item
		}
	}
	return out, nil
}
