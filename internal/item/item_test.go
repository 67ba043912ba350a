package item

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/apd/v3"
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

// TestCompareNumbers orders numbers as their values do, canonical or not.
func TestCompareNumbers(t *testing.T) {
	nums := []string{"0", "1", "-1", "10", "9", "0.5", "0.25", "-0.5", "-0.25", "100", "99.999", "-100", "1E+2", "007", "+3", "-0",
		"12345678901234567890123456789012345678", "0.00000000000000000000000000000000000001", "-12.5", "12.5", "12.05", "3.14159"}
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		n := strconv.FormatFloat((r.Float64()-0.5)*math.Pow(10, float64(r.IntN(12)-4)), 'f', r.IntN(6), 64)
		c, err := Number(n)
		if err != nil {
			t.Fatal(err)
		}
		nums = append(nums, c)
	}
	for i, a := range nums {
		x, _, _ := apd.NewFromString(a)
		for _, b := range nums[max(0, i-40):i] {
			y, _, _ := apd.NewFromString(b)
			if got, want := CompareNumbers(a, b), x.Cmp(y); got != want {
				t.Fatalf("CompareNumbers(%s, %s) = %d, want %d", a, b, got, want)
			}
		}
	}
}

// TestNumberSize counts a number's significant digits, two to a byte,
// plus one byte.
func TestNumberSize(t *testing.T) {
	for _, c := range []struct {
		n    string
		size int
	}{{"0", 1}, {"1", 2}, {"-1", 2}, {"12", 2}, {"123", 3}, {"1000", 2}, {"0.001", 2}, {"-12.5", 3}, {"100.01", 4},
		{"12345678901234567890123456789012345678", 20}} {
		if got := numberSize(c.n); got != c.size {
			t.Errorf("numberSize(%s) = %d, want %d", c.n, got, c.size)
		}
	}
}
