package item

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestValues(t *testing.T) {
	for _, c := range []struct{ in, out string }{
		{`{"S":"héllo"}`, `{"S":"héllo"}`},
		{`{"N":"1.500"}`, `{"N":"1.5"}`},
		{`{"N":"-0"}`, `{"N":"0"}`},
		{`{"N":"1E+3"}`, `{"N":"1000"}`},
		{`{"N":"0.000120"}`, `{"N":"0.00012"}`},
		{`{"B":"AAEC"}`, `{"B":"AAEC"}`},
		{`{"BOOL":false}`, `{"BOOL":false}`},
		{`{"NULL":true}`, `{"NULL":true}`},
		{`{"NS":["1","2.50"]}`, `{"NS":["1","2.5"]}`},
		{`{"M":{"a":{"L":[{"S":"x"},{"N":"2"}]}}}`, `{"M":{"a":{"L":[{"S":"x"},{"N":"2"}]}}}`},
	} {
		var v Value
		if err := json.Unmarshal([]byte(c.in), &v); err != nil {
			t.Fatalf("%s: %v", c.in, err)
		}
		b, _ := json.Marshal(&v)
		if string(b) != c.out {
			t.Errorf("%s came back as %s, want %s", c.in, b, c.out)
		}
	}
}

func TestRefusals(t *testing.T) {
	for _, c := range []struct{ in, msg string }{
		{`{}`, "Supplied AttributeValue is empty"},
		{`{"S":"a","N":"1"}`, "more than one datatypes"},
		{`{"N":"abc"}`, "cannot be converted into a number"},
		{`{"N":"1` + strings.Repeat("1", 38) + `"}`, "more than 38 significant digits"},
		{`{"N":"1E+126"}`, "Number overflow"},
		{`{"N":"1E-131"}`, "Number underflow"},
		{`{"SS":[]}`, "An string set  may not be empty"},
		{`{"NS":["1","1.0"]}`, "contains duplicates"},
		{`{"NULL":false}`, "Null attribute value types must have the value of true"},
		{`{"X":"1"}`, "unknown datatype"},
	} {
		var v Value
		err := json.Unmarshal([]byte(c.in), &v)
		if err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: %v, want %q", c.in, err, c.msg)
		}
	}
	deep := strings.Repeat(`{"L":[`, 40) + `{"S":"x"}` + strings.Repeat(`]}`, 40)
	var v Value
	if err := json.Unmarshal([]byte(deep), &v); err == nil || !strings.Contains(err.Error(), "32 nested levels") {
		t.Errorf("40 levels: %v", err)
	}
}

func TestCompareAndEqual(t *testing.T) {
	n := func(s string) *Value { v, _ := Number(s); return &Value{Kind: N, Str: v} }
	if c, ok := Compare(n("10"), n("9.99999999999999999999999999999")); !ok || c <= 0 {
		t.Error("10 > 9.999...")
	}
	if c, ok := Compare(n("-5"), n("-40")); !ok || c <= 0 {
		t.Error("-5 > -40")
	}
	if c, _ := Compare(&Value{Kind: S, Str: "a"}, &Value{Kind: S, Str: "B"}); c <= 0 {
		t.Error(`"a" > "B" by bytes`)
	}
	if _, ok := Compare(n("1"), &Value{Kind: S, Str: "1"}); ok {
		t.Error("a number and a string compared")
	}
	a := &Value{Kind: NS, Set: []string{"1", "2"}}
	b := &Value{Kind: NS, Set: []string{"2", "1"}}
	if !Equal(a, b) {
		t.Error("sets in another order differ")
	}
}

func TestSize(t *testing.T) {
	// AWS's example sizes: a name and a string, a number, nested.
	if s := Size("name", &Value{Kind: S, Str: "héllo"}); s != 4+6 {
		t.Errorf("string size %d", s)
	}
	if s := Size("n", &Value{Kind: N, Str: "12345"}); s != 1+4 {
		t.Errorf("number size %d", s)
	}
	m := &Value{Kind: M, Map: map[string]*Value{"a": {Kind: BOOL, Bool: true}}}
	if s := Size("m", m); s != 1+3+1+1+1 {
		t.Errorf("map size %d", s)
	}
}
