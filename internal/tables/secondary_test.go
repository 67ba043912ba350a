package tables

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aloft-dev/aloft/internal/item"
	"github.com/aloft-dev/aloft/internal/itemexpr"
)

func keyEq(name string, v *item.Value) []itemexpr.KeyPart {
	return []itemexpr.KeyPart{{Name: name, Op: "=", Values: []*item.Value{v}}}
}

func str(s string) *item.Value { return &item.Value{Kind: item.S, Str: s} }

// TestSecondaryIndexes keeps a global and a local index on two nodes:
// sparse items, projections, changes of an index key moving an item,
// an index added later filled from the items on every node, and one
// removed.
func TestSecondaryIndexes(t *testing.T) {
	st := openStore(t)
	a, b := service(t, st), service(t, st)
	ctx := context.Background()
	_, err := a.CreateTable(ctx, Def{Name: "games", BillingMode: "PAY_PER_REQUEST",
		KeySchema:            []KeyElement{{"user", "HASH"}, {"game", "RANGE"}},
		AttributeDefinitions: []AttributeDefinition{{"user", "S"}, {"game", "S"}, {"score", "N"}, {"day", "S"}},
		Indexes: []SecondaryIndex{
			{Name: "byScore", Global: true, KeySchema: []KeyElement{{"game", "HASH"}, {"score", "RANGE"}}, Projection: Projection{ProjectionType: "KEYS_ONLY"}},
			{Name: "byDay", KeySchema: []KeyElement{{"user", "HASH"}, {"day", "RANGE"}}, Projection: Projection{ProjectionType: "INCLUDE", NonKeyAttributes: []string{"note"}}},
		}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		doc := fmt.Sprintf(`{"user":{"S":"u%d"},"game":{"S":"chess"},"score":{"N":"%d"},"day":{"S":"2026-01-%02d"},"note":{"S":"n%d"},"extra":{"S":"x"}}`, i, i*10, i+1, i)
		if i == 9 {
			doc = `{"user":{"S":"u9"},"game":{"S":"chess"}}` // in neither index
		}
		if _, err := a.PutItem(ctx, "games", it(t, doc), Condition{}); err != nil {
			t.Fatal(err)
		}
	}
	q := QueryInput{Key: keyEq("game", str("chess")), Backward: true, ReadInput: ReadInput{Index: "byScore", Limit: 3, Consistent: false}}
	// b catches up through a strongly consistent read of the table.
	waitFor(t, func() bool { _, _, _, err := b.Describe("games"); return err == nil })
	if _, err := b.Scan(ctx, "games", ScanInput{ReadInput: ReadInput{Consistent: true, Limit: 1}}); err != nil {
		t.Fatal(err)
	}
	p, err := b.Query(ctx, "games", q)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Items) != 3 || p.Items[0]["score"].Str != "80" || p.Items[2]["score"].Str != "60" || len(p.Items[0]) != 3 || p.Items[0]["note"] != nil {
		t.Fatalf("top three by score: %v", p.Items)
	}
	if len(p.Last) != 3 || p.Last["user"].Str != "u6" || p.Last["score"].Str != "60" {
		t.Fatalf("LastEvaluatedKey: %v", p.Last)
	}
	q.Start, q.Limit = p.Last, 0
	if p, err = b.Query(ctx, "games", q); err != nil || len(p.Items) != 6 || p.Items[5]["score"].Str != "0" || p.Last != nil {
		t.Fatalf("the rest by score: %v %v", p, err)
	}
	if _, err := b.Query(ctx, "games", QueryInput{Key: keyEq("game", str("chess")), ReadInput: ReadInput{Index: "byScore", Consistent: true}}); errType(err) != "ValidationException" {
		t.Fatalf("consistent read of a global index: %v", err)
	}
	if _, err := b.Query(ctx, "games", QueryInput{Key: keyEq("game", str("chess")), ReadInput: ReadInput{Index: "byScore", AllAttributes: true}}); errType(err) != "ValidationException" {
		t.Fatalf("ALL_ATTRIBUTES of a KEYS_ONLY global index: %v", err)
	}
	// The local index: its projection, or the whole item when asked.
	lq := QueryInput{Key: keyEq("user", str("u3")), ReadInput: ReadInput{Index: "byDay"}}
	if p, err = b.Query(ctx, "games", lq); err != nil || len(p.Items) != 1 || p.Items[0]["note"] == nil || p.Items[0]["extra"] != nil {
		t.Fatalf("local index projection: %v %v", p, err)
	}
	lq.AllAttributes = true
	if p, err = b.Query(ctx, "games", lq); err != nil || len(p.Items) != 1 || p.Items[0]["extra"] == nil {
		t.Fatalf("local index, all attributes: %v %v", p, err)
	}
	// Changing the index key moves the item; removing it takes it out.
	u, _ := itemexpr.ParseUpdate("SET score = :s", &itemexpr.Params{Values: map[string]*item.Value{":s": {Kind: item.N, Str: "1000"}}})
	if _, _, err := a.UpdateItem(ctx, "games", it(t, `{"user":{"S":"u0"},"game":{"S":"chess"}}`), u, Condition{}); err != nil {
		t.Fatal(err)
	}
	rm, _ := itemexpr.ParseUpdate("REMOVE score", &itemexpr.Params{})
	if _, _, err := a.UpdateItem(ctx, "games", it(t, `{"user":{"S":"u8"},"game":{"S":"chess"}}`), rm, Condition{}); err != nil {
		t.Fatal(err)
	}
	b.Scan(ctx, "games", ScanInput{ReadInput: ReadInput{Consistent: true, Limit: 1}})
	q = QueryInput{Key: keyEq("game", str("chess")), Backward: true, ReadInput: ReadInput{Index: "byScore"}}
	if p, err = b.Query(ctx, "games", q); err != nil || len(p.Items) != 8 || p.Items[0]["user"].Str != "u0" || p.Items[1]["user"].Str != "u7" {
		t.Fatalf("after the changes: %v %v", p, err)
	}
	if _, err := a.PutItem(ctx, "games", it(t, `{"user":{"S":"u1"},"game":{"S":"go"},"score":{"S":"high"}}`), Condition{}); errType(err) != "ValidationException" {
		t.Fatalf("an index key of the wrong type: %v", err)
	}
	// An index added later holds the items already there, on both nodes.
	_, err = a.Update(ctx, "games", Update{AttributeDefinitions: []AttributeDefinition{{"note", "S"}},
		CreateIndex: &SecondaryIndex{Name: "byNote", KeySchema: []KeyElement{{"note", "HASH"}}, Projection: Projection{ProjectionType: "ALL"}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []*Service{a, b} {
		waitFor(t, func() bool {
			p, err := s.Query(ctx, "games", QueryInput{Key: keyEq("note", str("n4")), ReadInput: ReadInput{Index: "byNote"}})
			return err == nil && len(p.Items) == 1 && p.Items[0]["extra"] != nil
		})
		waitFor(t, func() bool { return s.IndexStats("games")["byNote"].Count == 9 })
	}
	if _, err := a.Update(ctx, "games", Update{DeleteIndex: "byScore"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		_, err := b.Query(ctx, "games", q)
		return errType(err) == "ValidationException"
	})
	d, _, _, _ := b.Describe("games")
	if len(d.AttributeDefinitions) != 4 || d.attrType("score") != "" {
		t.Fatalf("attribute definitions after the index went: %v", d.AttributeDefinitions)
	}
	// Definitions that DynamoDB refuses.
	for name, def := range map[string]Def{
		"local index on another partition key": {Name: "bad1", BillingMode: "PAY_PER_REQUEST", KeySchema: []KeyElement{{"a", "HASH"}, {"b", "RANGE"}},
			AttributeDefinitions: []AttributeDefinition{{"a", "S"}, {"b", "S"}, {"c", "S"}},
			Indexes:              []SecondaryIndex{{Name: "bad", KeySchema: []KeyElement{{"c", "HASH"}, {"b", "RANGE"}}, Projection: Projection{ProjectionType: "ALL"}}}},
		"unused attribute definition": {Name: "bad2", BillingMode: "PAY_PER_REQUEST", KeySchema: []KeyElement{{"a", "HASH"}},
			AttributeDefinitions: []AttributeDefinition{{"a", "S"}, {"b", "S"}, {"c", "S"}},
			Indexes:              []SecondaryIndex{{Name: "g1", Global: true, KeySchema: []KeyElement{{"b", "HASH"}}, Projection: Projection{ProjectionType: "ALL"}}}},
		"INCLUDE without attributes": {Name: "bad3", BillingMode: "PAY_PER_REQUEST", KeySchema: []KeyElement{{"a", "HASH"}},
			AttributeDefinitions: []AttributeDefinition{{"a", "S"}, {"b", "S"}},
			Indexes:              []SecondaryIndex{{Name: "g1", Global: true, KeySchema: []KeyElement{{"b", "HASH"}}, Projection: Projection{ProjectionType: "INCLUDE"}}}},
	} {
		if _, err := a.CreateTable(ctx, def); errType(err) != "ValidationException" {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	for range 500 {
		if ok() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("not reached in 5 s")
}
