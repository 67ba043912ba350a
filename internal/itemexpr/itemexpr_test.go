package itemexpr

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/aloft-dev/aloft/internal/item"
)

func mustItem(t *testing.T, s string) item.Item {
	t.Helper()
	var it item.Item
	if err := json.Unmarshal([]byte(s), &it); err != nil {
		t.Fatal(err)
	}
	return it
}

func values(t *testing.T, s string) map[string]*item.Value {
	t.Helper()
	var m map[string]*item.Value
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// The product of DynamoDB's documentation examples.
const product = `{"Id":{"N":"123"},"Title":{"S":"Bicycle 123"},"Description":{"S":"123 description"},"BicycleType":{"S":"Hybrid"},
"Brand":{"S":"Brand-Company C"},"Price":{"N":"500"},"Color":{"SS":["Red","Black"]},"ProductCategory":{"S":"Bicycle"},"InStock":{"BOOL":true},
"QuantityOnHand":{"NULL":true},"RelatedItems":{"L":[{"N":"341"},{"N":"472"},{"N":"649"}]},
"Pictures":{"M":{"FrontView":{"S":"http://example.com/products/123_front.jpg"},"RearView":{"S":"http://example.com/products/123_rear.jpg"}}},
"ProductReviews":{"M":{"FiveStar":{"L":[{"S":"Excellent! Can't recommend it highly enough! Buy it!"},{"S":"Do yourself a favor and buy this."}]},
"OneStar":{"L":[{"S":"Terrible product! Do not buy this."}]}}},"Comment":{"S":"This product sells out quickly during the summer"},
"Safety.Warning":{"S":"Always wear a helmet"}}`

func TestConditions(t *testing.T) {
	it := mustItem(t, product)
	vals := `{":p":{"N":"500"},":lo":{"N":"100"},":hi":{"N":"600"},":c":{"S":"Red"},":t":{"S":"Hybrid"},":pre":{"S":"http://"},
":s":{"S":"S"},":n":{"N":"3"},":bike":{"S":"Bicycle"},":x":{"S":"nothing"},":rel":{"N":"472"},":l":{"S":"L"}}`
	cases := []struct {
		expr string
		want bool
	}{
		{"Price = :p", true},
		{"Price <> :p", false},
		{"Price BETWEEN :lo AND :hi", true},
		{"Price > :hi", false},
		{"contains(Color, :c)", true},
		{"contains(Color, :x)", false},
		{"contains(RelatedItems, :rel)", true},
		{"contains(Description, :bike) OR BicycleType = :t", true},
		{"begins_with(Pictures.FrontView, :pre)", true},
		{"attribute_exists(Pictures.SideView)", false},
		{"attribute_not_exists(Pictures.SideView)", true},
		{"attribute_type(ProductReviews.FiveStar, :l)", true},
		{"attribute_type(Title, :s)", true},
		{"size(RelatedItems) = :n", true},
		{"size(ProductReviews.FiveStar) > :n", false},
		{"ProductCategory IN (:x, :bike)", true},
		{"NOT (ProductCategory IN (:x))", true},
		{"RelatedItems[1] = :rel", true},
		{"ProductReviews.OneStar[0] <> :x AND NOT attribute_exists(Absent)", true},
		{"Absent <> :x", true},
		{"Absent = :x", false},
		{"Title < :p", false}, // different types do not compare
		{"#sw = :x", false},
	}
	for _, c := range cases {
		p := &Params{Values: values(t, vals), Names: map[string]string{"#sw": "Safety.Warning"}}
		cond, err := ParseCondition("ConditionExpression", c.expr, p)
		if err != nil {
			t.Fatalf("%s: %v", c.expr, err)
		}
		if got := cond.Match(it); got != c.want {
			t.Errorf("%s: %v, want %v", c.expr, got, c.want)
		}
	}
}

func TestRefusals(t *testing.T) {
	vals := `{":v":{"N":"1"},":a":{"N":"5"},":b":{"N":"2"},":t":{"S":"X"}}`
	for _, c := range []struct{ expr, msg string }{
		{"status = :v", "Invalid ConditionExpression: Attribute name is a reserved keyword; reserved keyword: status"},
		{"a = :missing", "An expression attribute value used in expression is not defined; attribute value: :missing"},
		{"#n = :v", "An expression attribute name used in the document path is not defined; attribute name: #n"},
		{"a = ", "Syntax error; token: \"<EOF>\""},
		{"a BETWEEN :a AND :b", "The BETWEEN operator requires upper bound to be greater than or equal to lower bound"},
		{"attribute_type(a, :t)", "Invalid attribute type name found; type: X"},
		{"frobnicate(a)", "Invalid function name; function: frobnicate"},
		{"a = :v AND", "Syntax error"},
		{"", "The expression can not be empty"},
	} {
		_, err := ParseCondition("ConditionExpression", c.expr, &Params{Values: values(t, vals)})
		if err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%q: %v, want %q", c.expr, err, c.msg)
		}
	}
	p := &Params{Values: values(t, `{":v":{"N":"1"},":unused":{"N":"2"}}`), Names: map[string]string{"#a": "a"}}
	if _, err := ParseCondition("ConditionExpression", "#a = :v", p); err != nil {
		t.Fatal(err)
	}
	if err := p.Unused(); err == nil || err.Error() != "Value provided in ExpressionAttributeValues unused in expressions: keys: {:unused}" {
		t.Errorf("unused value: %v", err)
	}
}

func TestProjection(t *testing.T) {
	it := mustItem(t, product)
	paths, err := ParseProjection("Title, Pictures.RearView, RelatedItems[2], RelatedItems[0], ProductReviews.FiveStar[1], Nope", &Params{})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(Project(it, paths))
	want := `{"Pictures":{"M":{"RearView":{"S":"http://example.com/products/123_rear.jpg"}}},"ProductReviews":{"M":{"FiveStar":{"L":[{"S":"Do yourself a favor and buy this."}]}}},"RelatedItems":{"L":[{"N":"341"},{"N":"649"}]},"Title":{"S":"Bicycle 123"}}`
	if string(got) != want {
		t.Errorf("projection:\n got %s\nwant %s", got, want)
	}
	if _, err := ParseProjection("a, a.b", &Params{}); err == nil || !strings.Contains(err.Error(), "overlap") {
		t.Errorf("overlapping paths: %v", err)
	}
}

func TestUpdates(t *testing.T) {
	it := mustItem(t, product)
	vals := `{":p":{"N":"75"},":r":{"L":[{"S":"Hi"}]},":c":{"SS":["Blue","Red"]},":d":{"SS":["Black"]},":q":{"N":"1"},":zero":{"N":"0"},
":one":{"N":"1.5"},":new":{"S":"new"}}`
	cases := []struct{ expr, check string }{
		{"SET Price = Price - :p", `Price={"N":"425"}`},
		{"SET ProductReviews.OneStar = list_append(ProductReviews.OneStar, :r)", `ProductReviews={"M":{"FiveStar":{"L":[{"S":"Excellent! Can't recommend it highly enough! Buy it!"},{"S":"Do yourself a favor and buy this."}]},"OneStar":{"L":[{"S":"Terrible product! Do not buy this."},{"S":"Hi"}]}}}`},
		{"SET Visits = if_not_exists(Visits, :zero) + :one", `Visits={"N":"1.5"}`},
		{"SET Price = if_not_exists(Price, :zero)", `Price={"N":"500"}`},
		{"REMOVE RelatedItems[0], RelatedItems[2]", `RelatedItems={"L":[{"N":"472"}]}`},
		{"ADD Color :c", `Color={"SS":["Red","Black","Blue"]}`},
		{"DELETE Color :d", `Color={"SS":["Red"]}`},
		{"ADD Tally :q", `Tally={"N":"1"}`},
		{"SET RelatedItems[10] = :new", `RelatedItems={"L":[{"N":"341"},{"N":"472"},{"N":"649"},{"S":"new"}]}`},
		{"SET Pictures.SideView = :new REMOVE BicycleType", `Pictures={"M":{"FrontView":{"S":"http://example.com/products/123_front.jpg"},"RearView":{"S":"http://example.com/products/123_rear.jpg"},"SideView":{"S":"new"}}}`},
	}
	for _, c := range cases {
		u, err := ParseUpdate(c.expr, &Params{Values: values(t, vals)})
		if err != nil {
			t.Fatalf("%s: %v", c.expr, err)
		}
		out, err := u.Apply(it)
		if err != nil {
			t.Fatalf("%s: %v", c.expr, err)
		}
		name, want, _ := strings.Cut(c.check, "=")
		got, _ := json.Marshal(out[name])
		if string(got) != want {
			t.Errorf("%s: %s = %s, want %s", c.expr, name, got, want)
		}
		if strings.Contains(c.expr, "REMOVE BicycleType") && out["BicycleType"] != nil {
			t.Errorf("%s: BicycleType kept", c.expr)
		}
	}
	if it["Price"].Str != "500" {
		t.Fatal("Apply changed its input")
	}
	for _, c := range []struct{ expr, msg string }{
		{"SET a = :p, a.b = :p", "Two document paths overlap"},
		{"SET a = :p SET b = :p", `The "SET" section can only be used once`},
		{"ADD a :new", "Incorrect operand type for operator or function; operator: ADD, operand type: S"},
		{"SET Title = Title + :p", "operator or function: +, operand type: S"},
		{"SET Nope.x = :p", "The document path provided in the update expression is invalid for update"},
		{"SET x = Absent", "refers to an attribute that does not exist"},
	} {
		u, err := ParseUpdate(c.expr, &Params{Values: values(t, vals)})
		if err == nil {
			_, err = u.Apply(it)
		}
		if err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%q: %v, want %q", c.expr, err, c.msg)
		}
	}
}

func TestKeyConditions(t *testing.T) {
	vals := values(t, `{":pk":{"S":"u1"},":a":{"N":"1"},":b":{"N":"5"},":pre":{"S":"2024-"}}`)
	parts, err := ParseKeyCondition("pk = :pk AND sk BETWEEN :a AND :b", &Params{Values: vals})
	if err != nil || len(parts) != 2 || parts[1].Op != "BETWEEN" {
		t.Fatalf("%+v %v", parts, err)
	}
	if !parts[1].Matches(&item.Value{Kind: item.N, Str: "3"}) || parts[1].Matches(&item.Value{Kind: item.N, Str: "6"}) {
		t.Error("BETWEEN")
	}
	parts, err = ParseKeyCondition("begins_with(sk, :pre) AND pk = :pk", &Params{Values: vals})
	if err != nil || !parts[0].Matches(&item.Value{Kind: item.S, Str: "2024-05"}) {
		t.Fatalf("begins_with: %+v %v", parts, err)
	}
	for _, bad := range []string{"pk = :pk OR sk = :a", "pk <> :pk", "contains(pk, :pk)", "pk = :pk AND pk = :pk", "a.b = :pk"} {
		if _, err := ParseKeyCondition(bad, &Params{Values: vals}); err == nil {
			t.Errorf("%q was accepted", bad)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"a = :v", "SET a = :v + b REMOVE c[1]", "a.b[1], c", "(NOT a < :v) OR contains(b, :v)"} {
		f.Add(s)
	}
	it := item.Item{"a": {Kind: item.N, Str: "1"}}
	f.Fuzz(func(t *testing.T, s string) {
		vals := map[string]*item.Value{":v": {Kind: item.N, Str: "1"}}
		if c, err := ParseCondition("ConditionExpression", s, &Params{Values: vals}); err == nil {
			c.Match(it)
		}
		if u, err := ParseUpdate(s, &Params{Values: vals}); err == nil {
			u.Apply(it)
		}
		if ps, err := ParseProjection(s, &Params{}); err == nil {
			Project(it, ps)
		}
	})
}
