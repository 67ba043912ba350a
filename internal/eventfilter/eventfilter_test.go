package eventfilter

import (
	"encoding/json"
	"testing"
)

func TestMatch(t *testing.T) {
	event := `{"store":"example_corp","event":"order_placed","customer_interests":["soccer","rugby"],"price_usd":210.75,
		"address":{"city":"Paris","ip":"10.0.3.7"},"flag":true,"nothing":null,"nested":[{"a":1},{"a":2}]}`
	var ev map[string]any
	if err := json.Unmarshal([]byte(event), &ev); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		pattern string
		want    bool
	}{
		{`{"store":["example_corp"]}`, true},
		{`{"store":["other"]}`, false},
		{`{"store":["other","example_corp"]}`, true},
		{`{"customer_interests":["rugby"]}`, true},
		{`{"customer_interests":["golf"]}`, false},
		{`{"price_usd":[210.75]}`, true},
		{`{"price_usd":[{"numeric":[">",100,"<=",210.75]}]}`, true},
		{`{"price_usd":[{"numeric":["<",100]}]}`, false},
		{`{"store":[{"prefix":"exam"}]}`, true},
		{`{"store":[{"prefix":{"equals-ignore-case":"EXAM"}}]}`, true},
		{`{"store":[{"suffix":"corp"}]}`, true},
		{`{"store":[{"equals-ignore-case":"EXAMPLE_CORP"}]}`, true},
		{`{"store":[{"wildcard":"ex*_c*p"}]}`, true},
		{`{"store":[{"wildcard":"ex*x"}]}`, false},
		{`{"store":[{"anything-but":["example_corp"]}]}`, false},
		{`{"store":[{"anything-but":{"prefix":"zzz"}}]}`, true},
		{`{"missing":[{"anything-but":"x"}]}`, false},
		{`{"missing":[{"exists":false}]}`, true},
		{`{"missing":[{"exists":true}]}`, false},
		{`{"store":[{"exists":true}]}`, true},
		{`{"address":{"city":["Paris"]}}`, true},
		{`{"address":{"city":["Rome"]}}`, false},
		{`{"address":{"ip":[{"cidr":"10.0.0.0/16"}]}}`, true},
		{`{"address":{"ip":[{"cidr":"10.1.0.0/16"}]}}`, false},
		{`{"flag":[true]}`, true},
		{`{"flag":["true"]}`, false},
		{`{"nothing":[null]}`, true},
		{`{"price_usd":["210.75"]}`, false},
		{`{"nested":{"a":[2]}}`, true},
		{`{"nested":{"a":[3]}}`, false},
		{`{"store":["example_corp"],"event":["order_cancelled"]}`, false},
		{`{"$or":[{"store":["x"]},{"event":["order_placed"]}]}`, true},
		{`{"$or":[{"store":["x"]},{"event":["y"]}]}`, false},
	}
	for _, c := range cases {
		p, err := Parse([]byte(c.pattern))
		if err != nil {
			t.Fatalf("%s: %v", c.pattern, err)
		}
		if got := p.Match(ev); got != c.want {
			t.Errorf("%s: got %v, want %v", c.pattern, got, c.want)
		}
	}
}

func TestParseRefuses(t *testing.T) {
	for _, bad := range []string{
		`[]`, `{"a":"x"}`, `{"a":[]}`, `{"a":[{"prefix":1}]}`, `{"a":[{"numeric":[">"]}]}`,
		`{"a":[{"numeric":["<",5,">",1]}]}`, `{"a":[{"bogus":1}]}`, `{"a":[{"cidr":"x"}]}`, `{"$or":[{"a":["x"]}]}`,
		`{"a":[{"wildcard":"a**b"}]}`, `{"a":[["x"]]}`, `not json`,
	} {
		if _, err := Parse([]byte(bad)); err == nil {
			t.Errorf("%s was accepted", bad)
		}
	}
}

func TestFields(t *testing.T) {
	p, err := Parse([]byte(`{"a":["1","2"],"b":{"c":["x","y","z"]},"$or":[{"d":["1"]},{"e":["1","2"]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	f, c := p.Fields()
	if f != 4 || c != 2*3*3 {
		t.Fatalf("fields %d combinations %d, want 4 and 18", f, c)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"a":[{"numeric":[">",1]}],"$or":[{"b":["x"]},{"c":[{"prefix":"y"}]}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Parse(b)
		if err != nil {
			return
		}
		p.Fields()
		p.Match(map[string]any{"a": 2.0, "b": "x", "c": []any{"yz"}})
	})
}
