package tables

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aloft-dev/aloft/internal/item"
	"github.com/aloft-dev/aloft/internal/itemexpr"
	"github.com/aloft-dev/aloft/internal/store"
)

func openStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), store.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func service(t *testing.T, st *store.Store) *Service {
	t.Helper()
	s, err := Open(context.Background(), st.JetStream(), st.Conn(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func it(t *testing.T, s string) item.Item {
	t.Helper()
	var out item.Item
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func errType(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Type
	}
	return ""
}

func ordersTable(t *testing.T, s *Service) {
	t.Helper()
	_, err := s.CreateTable(context.Background(), Def{Name: "orders", BillingMode: "PAY_PER_REQUEST",
		KeySchema:            []KeyElement{{"customer", "HASH"}, {"n", "RANGE"}},
		AttributeDefinitions: []AttributeDefinition{{"customer", "S"}, {"n", "N"}}})
	if err != nil {
		t.Fatal(err)
	}
}

func TestItems(t *testing.T) {
	s := service(t, openStore(t))
	ctx := context.Background()
	ordersTable(t, s)
	if _, err := s.CreateTable(ctx, Def{Name: "orders", BillingMode: "PAY_PER_REQUEST", KeySchema: []KeyElement{{"a", "HASH"}},
		AttributeDefinitions: []AttributeDefinition{{"a", "S"}}}); errType(err) != "ResourceInUseException" {
		t.Fatalf("a second table of the name: %v", err)
	}
	for i := 1; i <= 20; i++ {
		if _, err := s.PutItem(ctx, "orders", it(t, `{"customer":{"S":"ada"},"n":{"N":"`+strconv.Itoa(i)+`"},"total":{"N":"`+strconv.Itoa(i*10)+`"}}`), Condition{}); err != nil {
			t.Fatal(err)
		}
	}
	s.PutItem(ctx, "orders", it(t, `{"customer":{"S":"bob"},"n":{"N":"1"}}`), Condition{})
	got, err := s.GetItem(ctx, "orders", it(t, `{"customer":{"S":"ada"},"n":{"N":"7"}}`), true)
	if err != nil || got["total"].Str != "70" {
		t.Fatalf("get: %v %v", got, err)
	}
	if _, err := s.GetItem(ctx, "orders", it(t, `{"customer":{"S":"ada"}}`), false); errType(err) != "ValidationException" {
		t.Fatalf("a partial key: %v", err)
	}
	if _, err := s.PutItem(ctx, "orders", it(t, `{"customer":{"N":"1"},"n":{"N":"1"}}`), Condition{}); errType(err) != "ValidationException" {
		t.Fatalf("a key of the wrong type: %v", err)
	}
	// Conditional writes.
	notThere, _ := itemexpr.ParseCondition("ConditionExpression", "attribute_not_exists(customer)", &itemexpr.Params{})
	_, err = s.PutItem(ctx, "orders", it(t, `{"customer":{"S":"ada"},"n":{"N":"7"}}`), Condition{Expr: notThere, ReturnItem: true})
	var ce *Error
	if !errors.As(err, &ce) || ce.Type != "ConditionalCheckFailedException" || ce.Item == nil {
		t.Fatalf("a put over an existing item: %v", err)
	}
	p := &itemexpr.Params{Values: map[string]*item.Value{":inc": {Kind: item.N, Str: "5"}}, Names: map[string]string{"#t": "total"}}
	u, err := itemexpr.ParseUpdate("ADD #t :inc", p)
	if err != nil {
		t.Fatal(err)
	}
	old, now, err := s.UpdateItem(ctx, "orders", it(t, `{"customer":{"S":"ada"},"n":{"N":"7"}}`), u, Condition{})
	if err != nil || old["total"].Str != "70" || now["total"].Str != "75" {
		t.Fatalf("update: %v %v %v", old, now, err)
	}
	// Query: a range, backwards, a filter, paging.
	parts, _ := itemexpr.ParseKeyCondition("customer = :c AND n BETWEEN :a AND :b", &itemexpr.Params{Values: map[string]*item.Value{
		":c": {Kind: item.S, Str: "ada"}, ":a": {Kind: item.N, Str: "5"}, ":b": {Kind: item.N, Str: "15"}}})
	page, err := s.Query(ctx, "orders", QueryInput{Key: parts, ReadInput: ReadInput{Limit: 4}})
	if err != nil || len(page.Items) != 4 || page.Items[0]["n"].Str != "5" || page.Last["n"].Str != "8" {
		t.Fatalf("query page 1: %+v %v", page, err)
	}
	page, err = s.Query(ctx, "orders", QueryInput{Key: parts, ReadInput: ReadInput{Start: page.Last}})
	if err != nil || len(page.Items) != 7 || page.Items[0]["n"].Str != "9" || page.Last != nil {
		t.Fatalf("query page 2: %+v %v", page, err)
	}
	page, err = s.Query(ctx, "orders", QueryInput{Key: parts, Backward: true, ReadInput: ReadInput{Limit: 1}})
	if err != nil || page.Items[0]["n"].Str != "15" {
		t.Fatalf("backwards: %+v %v", page, err)
	}
	big, err := itemexpr.ParseCondition("FilterExpression", "#t > :t", &itemexpr.Params{Values: map[string]*item.Value{":t": {Kind: item.N, Str: "100"}}, Names: map[string]string{"#t": "total"}})
	if err != nil {
		t.Fatal(err)
	}
	page, err = s.Query(ctx, "orders", QueryInput{Key: parts, ReadInput: ReadInput{Filter: big}})
	if err != nil || len(page.Items) != 5 || page.Scanned != 11 {
		t.Fatalf("filtered query: %d items of %d scanned, %v", len(page.Items), page.Scanned, err)
	}
	scan, err := s.Scan(ctx, "orders", ScanInput{})
	if err != nil || len(scan.Items) != 21 {
		t.Fatalf("scan: %d %v", len(scan.Items), err)
	}
	n := 0
	for seg := range 3 {
		p, _ := s.Scan(ctx, "orders", ScanInput{Segment: seg, Total: 3})
		n += len(p.Items)
	}
	if n != 21 {
		t.Fatalf("three segments held %d items", n)
	}
	if old, err := s.DeleteItem(ctx, "orders", it(t, `{"customer":{"S":"bob"},"n":{"N":"1"}}`), Condition{}); err != nil || old == nil {
		t.Fatalf("delete: %v %v", old, err)
	}
	if got, _ := s.GetItem(ctx, "orders", it(t, `{"customer":{"S":"bob"},"n":{"N":"1"}}`), true); got != nil {
		t.Fatal("a deleted item is still there")
	}
}

// TestCountersAcrossNodes increments one counter from two nodes at once:
// every increment counts, because each write is stored only against the
// version it was computed from.
func TestCountersAcrossNodes(t *testing.T) {
	st := openStore(t)
	a, b := service(t, st), service(t, st)
	ctx := context.Background()
	ordersTable(t, a)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if _, _, _, err := b.Describe("orders"); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the second node never saw the table")
		}
	}
	key := it(t, `{"customer":{"S":"c"},"n":{"N":"1"}}`)
	u, _ := itemexpr.ParseUpdate("ADD hits :one", &itemexpr.Params{Values: map[string]*item.Value{":one": {Kind: item.N, Str: "1"}}})
	var wg sync.WaitGroup
	for _, s := range []*Service{a, b} {
		for range 4 {
			wg.Go(func() {
				for range 25 {
					if _, _, err := s.UpdateItem(ctx, "orders", key, u, Condition{}); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
	}
	wg.Wait()
	for _, s := range []*Service{a, b} {
		got, err := s.GetItem(ctx, "orders", key, true)
		if err != nil || got["hits"].Str != "200" {
			t.Fatalf("hits %v %v, want 200", got["hits"], err)
		}
		// Each node's index took every version it wrote as set aside
		// (conflicting writes withdrew theirs): none is left over.
		s.local.Range(func(k, _ any) bool {
			t.Fatalf("a version left set aside: %v", k)
			return false
		})
	}
}

// TestTransactions moves money between accounts in two tables from two
// nodes at once: every transfer is all or nothing, so the total holds;
// a failed condition cancels the whole transaction with its reasons.
func TestTransactions(t *testing.T) {
	st := openStore(t)
	a, b := service(t, st), service(t, st)
	ctx := context.Background()
	for _, name := range []string{"accounts", "ledger"} {
		if _, err := a.CreateTable(ctx, Def{Name: name, BillingMode: "PAY_PER_REQUEST", KeySchema: []KeyElement{{"id", "HASH"}},
			AttributeDefinitions: []AttributeDefinition{{"id", "S"}}}); err != nil {
			t.Fatal(err)
		}
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if _, _, _, err := b.Describe("ledger"); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the second node never saw the tables")
		}
	}
	for _, id := range []string{"x", "y"} {
		a.PutItem(ctx, "accounts", it(t, `{"id":{"S":"`+id+`"},"balance":{"N":"100"}}`), Condition{})
	}
	vals := func() *itemexpr.Params {
		return &itemexpr.Params{Values: map[string]*item.Value{":amt": {Kind: item.N, Str: "1"}, ":neg": {Kind: item.N, Str: "-1"}}}
	}
	transfer := func(s *Service, from, to string, i int) error {
		p := vals()
		take, _ := itemexpr.ParseUpdate("ADD balance :neg", p)
		give, _ := itemexpr.ParseUpdate("ADD balance :amt", p)
		enough, _ := itemexpr.ParseCondition("ConditionExpression", "balance >= :amt", p)
		return s.TransactWrite(ctx, []TxWrite{
			{Table: "accounts", Key: it(t, `{"id":{"S":"`+from+`"}}`), Update: take, Cond: Condition{Expr: enough}},
			{Table: "accounts", Key: it(t, `{"id":{"S":"`+to+`"}}`), Update: give},
			{Table: "ledger", Put: it(t, `{"id":{"S":"`+from+to+strconv.Itoa(i)+`"}}`)},
		})
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	done := 0
	for n, s := range []*Service{a, b} {
		for w := range 3 {
			wg.Go(func() {
				for i := range 15 {
					from, to := "x", "y"
					if (i+w)%2 == 0 {
						from, to = to, from
					}
					if err := transfer(s, from, to, n*1000+w*100+i); err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					done++
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	x, _ := a.GetItem(ctx, "accounts", it(t, `{"id":{"S":"x"}}`), true)
	y, _ := a.GetItem(ctx, "accounts", it(t, `{"id":{"S":"y"}}`), true)
	xs, _ := strconv.Atoi(x["balance"].Str)
	ys, _ := strconv.Atoi(y["balance"].Str)
	ledger, _ := a.Scan(ctx, "ledger", ScanInput{ReadInput: ReadInput{Consistent: true}})
	if xs+ys != 200 || len(ledger.Items) != done {
		t.Fatalf("balances %d + %d, %d ledger entries for %d transfers", xs, ys, len(ledger.Items), done)
	}
	// A transfer the condition refuses writes nothing.
	a.PutItem(ctx, "accounts", it(t, `{"id":{"S":"empty"},"balance":{"N":"0"}}`), Condition{})
	err := transfer(a, "empty", "x", 9999)
	var te *Error
	if !errors.As(err, &te) || te.Type != "TransactionCanceledException" || te.Message != "Transaction cancelled, please refer cancellation reasons for specific reasons [ConditionalCheckFailed, None, None]" {
		t.Fatalf("a refused transfer: %v", err)
	}
	if got, _ := a.GetItem(ctx, "ledger", it(t, `{"id":{"S":"emptyx9999"}}`), true); got != nil {
		t.Fatal("a cancelled transaction wrote its ledger entry")
	}
	if err := a.TransactWrite(ctx, []TxWrite{{Table: "accounts", Key: it(t, `{"id":{"S":"x"}}`), Delete: true},
		{Table: "accounts", Key: it(t, `{"id":{"S":"x"}}`), Delete: true}}); errType(err) != "ValidationException" {
		t.Fatalf("two actions on one item: %v", err)
	}
}

// TestStreamRecords records inserts, changes and removals in order, each
// once, with the images the view type asks for, readable from every
// iterator type.
func TestStreamRecords(t *testing.T) {
	s := service(t, openStore(t))
	ctx := context.Background()
	if _, err := s.CreateTable(ctx, Def{Name: "events", BillingMode: "PAY_PER_REQUEST", KeySchema: []KeyElement{{"id", "HASH"}},
		AttributeDefinitions: []AttributeDefinition{{"id", "S"}}, Stream: &StreamSpec{ViewType: "NEW_AND_OLD_IMAGES"}}); err != nil {
		t.Fatal(err)
	}
	d, _, _, _ := s.Describe("events")
	arn := d.StreamARN()
	s.PutItem(ctx, "events", it(t, `{"id":{"S":"a"},"v":{"N":"1"}}`), Condition{})
	s.PutItem(ctx, "events", it(t, `{"id":{"S":"a"},"v":{"N":"2"}}`), Condition{})
	s.PutItem(ctx, "events", it(t, `{"id":{"S":"b"}}`), Condition{})
	s.DeleteItem(ctx, "events", it(t, `{"id":{"S":"a"}}`), Condition{})
	s.DeleteItem(ctx, "events", it(t, `{"id":{"S":"nothing"}}`), Condition{}) // no change, no record
	desc, err := s.DescribeStream(ctx, arn)
	if err != nil {
		t.Fatal(err)
	}
	iter, err := s.Iterator(ctx, arn, ShardID(desc), "TRIM_HORIZON", 0)
	if err != nil {
		t.Fatal(err)
	}
	recs, next, err := s.Records(ctx, iter, 2)
	if err != nil || len(recs) != 2 || recs[0].Name != "INSERT" || recs[1].Name != "MODIFY" || recs[1].Old["v"].Str != "1" || recs[1].New["v"].Str != "2" {
		t.Fatalf("first page: %+v %v", recs, err)
	}
	more, _, err := s.Records(ctx, next, 100)
	if err != nil || len(more) != 2 || more[0].Name != "INSERT" || more[1].Name != "REMOVE" || more[1].New != nil || more[1].Old["v"].Str != "2" {
		t.Fatalf("second page: %+v %v", more, err)
	}
	after, _ := s.Iterator(ctx, arn, ShardID(desc), "AFTER_SEQUENCE_NUMBER", recs[1].Seq)
	if r, _, _ := s.Records(ctx, after, 100); len(r) != 2 || r[0].Keys["id"].Str != "b" {
		t.Fatalf("after the second record: %+v", r)
	}
	latest, _ := s.Iterator(ctx, arn, ShardID(desc), "LATEST", 0)
	if r, _, _ := s.Records(ctx, latest, 100); len(r) != 0 {
		t.Fatalf("LATEST gave %d records", len(r))
	}
	s.PutItem(ctx, "events", it(t, `{"id":{"S":"c"}}`), Condition{})
	if r, _, _ := s.Records(ctx, latest, 100); len(r) != 1 || r[0].Keys["id"].Str != "c" {
		t.Fatalf("LATEST after a put: %+v", r)
	}
	if _, _, err := s.Records(ctx, latest+"x", 1); errType(err) != "ValidationException" {
		t.Fatalf("a forged iterator: %v", err)
	}
	// Transactions record their changes too.
	u, _ := itemexpr.ParseUpdate("SET v = :v", &itemexpr.Params{Values: map[string]*item.Value{":v": {Kind: item.N, Str: "9"}}})
	if err := s.TransactWrite(ctx, []TxWrite{{Table: "events", Key: it(t, `{"id":{"S":"b"}}`), Update: u}, {Table: "events", Put: it(t, `{"id":{"S":"d"}}`)}}); err != nil {
		t.Fatal(err)
	}
	all, _, _ := s.Records(ctx, iter, 100)
	if len(all) != 7 || all[5].Name != "MODIFY" || all[5].New["v"].Str != "9" || all[6].Name != "INSERT" {
		t.Fatalf("all records: %d, %+v", len(all), all[len(all)-2:])
	}
	if _, err := s.SetStream(ctx, "events", false, ""); err != nil {
		t.Fatal(err)
	}
	s.PutItem(ctx, "events", it(t, `{"id":{"S":"e"}}`), Condition{})
	if r, _, _ := s.Records(ctx, iter, 100); len(r) != 7 {
		t.Fatalf("a disabled stream recorded more: %d", len(r))
	}
}
