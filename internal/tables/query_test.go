package tables

import (
	"context"
	"slices"
	"strconv"
	"testing"

	"github.com/aloft-dev/aloft/internal/item"
	"github.com/aloft-dev/aloft/internal/itemexpr"
)

// TestQueryRanges answers every sort key condition, forward and
// backward, from the table and from an index, as a filter over the
// whole partition would.
func TestQueryRanges(t *testing.T) {
	s := service(t, openStore(t))
	ctx := context.Background()
	_, err := s.CreateTable(ctx, Def{Name: "ranges", BillingMode: "PAY_PER_REQUEST",
		KeySchema:            []KeyElement{{"p", "HASH"}, {"n", "RANGE"}},
		AttributeDefinitions: []AttributeDefinition{{"p", "S"}, {"n", "N"}, {"g", "S"}, {"w", "S"}},
		Indexes: []SecondaryIndex{{Name: "byWord", Global: true, KeySchema: []KeyElement{{"g", "HASH"}, {"w", "RANGE"}},
			Projection: Projection{ProjectionType: "ALL"}}}})
	if err != nil {
		t.Fatal(err)
	}
	words := []string{"a", "ab", "abc", "abd", "b", "ba", "bb", "c"}
	for _, p := range []string{"x", "y", "z"} {
		for i := range 24 {
			n := strconv.Itoa(i*5-40) + []string{"", ".5"}[i%2]
			it := item.Item{"p": str(p), "n": {Kind: item.N, Str: n}, "g": str(p), "w": str(words[i%len(words)] + strconv.Itoa(i))}
			if _, err := s.PutItem(ctx, "ranges", it, Condition{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	num := func(s string) *item.Value { return &item.Value{Kind: item.N, Str: s} }
	type cond struct {
		op   string
		vals []*item.Value
	}
	nConds := []cond{{"=", []*item.Value{num("0")}}, {"=", []*item.Value{num("1")}}, {"<", []*item.Value{num("-5")}}, {"<=", []*item.Value{num("-5")}},
		{">", []*item.Value{num("30")}}, {">=", []*item.Value{num("30")}}, {"BETWEEN", []*item.Value{num("-12"), num("20.5")}},
		{"BETWEEN", []*item.Value{num("1000"), num("2000")}}, {"<", []*item.Value{num("-1000")}}}
	wConds := []cond{{"begins_with", []*item.Value{str("ab")}}, {"begins_with", []*item.Value{str("b")}}, {"begins_with", []*item.Value{str("q")}},
		{"<", []*item.Value{str("b")}}, {">=", []*item.Value{str("b")}}, {"BETWEEN", []*item.Value{str("abc"), str("bb")}}, {"=", []*item.Value{str("ab1")}}}
	for _, c := range []struct {
		index, hk, rk string
		conds         []cond
	}{{"", "p", "n", nConds}, {"byWord", "g", "w", wConds}} {
		all, err := s.Query(ctx, "ranges", QueryInput{Key: keyEq(c.hk, str("y")), ReadInput: ReadInput{Index: c.index}})
		if err != nil || len(all.Items) != 24 {
			t.Fatalf("the whole partition: %v, %v", all, err)
		}
		for _, k := range c.conds {
			part := itemexpr.KeyPart{Name: c.rk, Op: k.op, Values: k.vals}
			var want []string
			for _, it := range all.Items {
				if part.Matches(it[c.rk]) {
					want = append(want, it[c.rk].Str)
				}
			}
			for _, backward := range []bool{false, true} {
				for _, limit := range []int{0, 3} {
					var got []string
					var start item.Item
					for {
						p, err := s.Query(ctx, "ranges", QueryInput{Key: append(keyEq(c.hk, str("y")), part), Backward: backward,
							ReadInput: ReadInput{Index: c.index, Limit: limit, Start: start}})
						if err != nil {
							t.Fatal(err)
						}
						for _, it := range p.Items {
							got = append(got, it[c.rk].Str)
						}
						if start = p.Last; start == nil {
							break
						}
					}
					w := slices.Clone(want)
					if backward {
						slices.Reverse(w)
					}
					if !slices.Equal(got, w) {
						t.Errorf("%s %s %v backward=%v limit=%d: %v, want %v", c.rk, k.op, k.vals, backward, limit, got, w)
					}
				}
			}
		}
	}
}
