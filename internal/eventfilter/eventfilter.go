// Package eventfilter reads and applies the event patterns of AWS's
// content filtering, the one language of SNS subscription filter
// policies and Lambda event source mapping filters: a JSON object whose
// keys name fields of the event and whose leaves are lists of matchers,
// any of which may match (keys must all match):
//
//	"x"  42  true  null                 equal (numbers by value)
//	{"prefix": "a"}  {"suffix": "z"}     the start or end of a string
//	{"equals-ignore-case": "a"}          equal but for case
//	{"wildcard": "a*z"}                  * stands for any run of characters
//	{"anything-but": v | [v...] | {"prefix"|"suffix"|"equals-ignore-case"|"wildcard": ...}}
//	{"numeric": [">", 0, "<=", 5]}       a number in range (=, <, <=, >, >=)
//	{"exists": true|false}               the field is there, or is not
//	{"cidr": "10.0.0.0/24"}              an IP address in a range
//
// and "$or": [pattern, ...] at any level. A field whose value is a list
// matches when any element does.
package eventfilter

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strings"
)

// Pattern is a parsed event pattern.
type Pattern struct {
	root *object
}

type object struct {
	fields map[string]*field // by key, for an AND of them
	ors    [][]*object       // each $or: one of its patterns
}

type field struct {
	sub      *object   // a nested pattern
	matchers []matcher // or the leaf's matchers
}

type matcher struct {
	kind    string // "value", "prefix", "suffix", "ignorecase", "wildcard", "numeric", "exists", "cidr", "but"
	value   any    // the literal of "value" (string, float64, bool, nil)
	text    string
	ranges  []bound
	exists  bool
	prefix  netip.Prefix
	but     []matcher // anything-but's matchers, of kinds value, prefix, suffix, ignorecase, wildcard
	numeric bool      // the literal of "value" is a number
}

type bound struct {
	op string
	n  float64
}

// Error is a pattern that cannot be read, with the reason.
type Error struct{ Reason string }

func (e *Error) Error() string { return e.Reason }

func errorf(format string, args ...any) *Error { return &Error{fmt.Sprintf(format, args...)} }

// Parse reads pattern b.
func Parse(b []byte) (*Pattern, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var doc any
	if err := d.Decode(&doc); err != nil {
		return nil, errorf("the pattern is not valid JSON: %v", err)
	}
	if d.More() {
		return nil, errorf("the pattern is not one JSON object")
	}
	m, ok := doc.(map[string]any)
	if !ok {
		return nil, errorf("the pattern must be a JSON object")
	}
	root, err := parseObject(m, 0)
	if err != nil {
		return nil, err
	}
	return &Pattern{root}, nil
}

func parseObject(m map[string]any, depth int) (*object, error) {
	if depth > 50 {
		return nil, errorf("the pattern is nested too deep")
	}
	o := &object{fields: map[string]*field{}}
	for k, v := range m {
		if k == "$or" {
			list, ok := v.([]any)
			if !ok || len(list) < 2 {
				return nil, errorf("$or takes a list of at least two patterns")
			}
			var alts []*object
			for _, it := range list {
				sm, ok := it.(map[string]any)
				if !ok {
					return nil, errorf("each pattern of $or must be an object")
				}
				so, err := parseObject(sm, depth+1)
				if err != nil {
					return nil, err
				}
				alts = append(alts, so)
			}
			o.ors = append(o.ors, alts)
			continue
		}
		switch v := v.(type) {
		case map[string]any:
			so, err := parseObject(v, depth+1)
			if err != nil {
				return nil, err
			}
			o.fields[k] = &field{sub: so}
		case []any:
			if len(v) == 0 {
				return nil, errorf("the matchers of %q are an empty list", k)
			}
			f := &field{}
			for _, it := range v {
				mt, err := parseMatcher(k, it)
				if err != nil {
					return nil, err
				}
				f.matchers = append(f.matchers, mt)
			}
			o.fields[k] = f
		default:
			return nil, errorf("the value of %q must be an object or a list of matchers", k)
		}
	}
	return o, nil
}

func parseMatcher(key string, v any) (matcher, error) {
	switch v := v.(type) {
	case string, bool, nil:
		return matcher{kind: "value", value: v}, nil
	case json.Number:
		f, err := v.Float64()
		if err != nil {
			return matcher{}, errorf("%q: %v is not a number", key, v)
		}
		return matcher{kind: "value", value: f, numeric: true}, nil
	case map[string]any:
		if len(v) != 1 {
			return matcher{}, errorf("%q: a matcher object has exactly one operator", key)
		}
		for op, arg := range v {
			return parseOperator(key, op, arg)
		}
	}
	return matcher{}, errorf("%q: a matcher cannot be a list", key)
}

func parseOperator(key, op string, arg any) (matcher, error) {
	str := func() (string, error) {
		s, ok := arg.(string)
		if !ok {
			return "", errorf("%q: %s takes a string", key, op)
		}
		return s, nil
	}
	switch op {
	case "prefix", "suffix":
		if m, ok := arg.(map[string]any); ok {
			// prefix/suffix with equals-ignore-case
			s, ok := m["equals-ignore-case"].(string)
			if len(m) != 1 || !ok {
				return matcher{}, errorf("%q: %s takes a string or {\"equals-ignore-case\": string}", key, op)
			}
			return matcher{kind: op + "-ignorecase", text: strings.ToLower(s)}, nil
		}
		s, err := str()
		if err != nil {
			return matcher{}, err
		}
		return matcher{kind: op, text: s}, nil
	case "equals-ignore-case":
		s, err := str()
		if err != nil {
			return matcher{}, err
		}
		return matcher{kind: "ignorecase", text: strings.ToLower(s)}, nil
	case "wildcard":
		s, err := str()
		if err != nil {
			return matcher{}, err
		}
		if strings.Contains(s, "**") {
			return matcher{}, errorf("%q: a wildcard may not have two * in a row", key)
		}
		return matcher{kind: "wildcard", text: s}, nil
	case "exists":
		b, ok := arg.(bool)
		if !ok {
			return matcher{}, errorf("%q: exists takes true or false", key)
		}
		return matcher{kind: "exists", exists: b}, nil
	case "cidr":
		s, err := str()
		if err != nil {
			return matcher{}, err
		}
		p, perr := netip.ParsePrefix(s)
		if perr != nil {
			return matcher{}, errorf("%q: %q is not a CIDR block", key, s)
		}
		return matcher{kind: "cidr", prefix: p.Masked()}, nil
	case "numeric":
		list, ok := arg.([]any)
		if !ok || len(list) == 0 || len(list)%2 != 0 || len(list) > 4 {
			return matcher{}, errorf("%q: numeric takes one or two pairs of an operator and a number", key)
		}
		m := matcher{kind: "numeric"}
		for i := 0; i < len(list); i += 2 {
			o, ok := list[i].(string)
			n, nok := list[i+1].(json.Number)
			if !ok || !nok || !slices.Contains([]string{"=", "<", "<=", ">", ">="}, o) {
				return matcher{}, errorf("%q: numeric takes operators =, <, <=, >, >= each followed by a number", key)
			}
			f, err := n.Float64()
			if err != nil || math.Abs(f) > 1e9 {
				return matcher{}, errorf("%q: numeric values must be between -1,000,000,000 and 1,000,000,000", key)
			}
			m.ranges = append(m.ranges, bound{o, f})
		}
		if len(m.ranges) == 2 && (m.ranges[0].op == "=" || m.ranges[1].op == "=" ||
			strings.HasPrefix(m.ranges[0].op, "<") || !strings.HasPrefix(m.ranges[1].op, "<") || m.ranges[0].n >= m.ranges[1].n) {
			return matcher{}, errorf("%q: a numeric range is a lower bound (> or >=) followed by a greater upper bound (< or <=)", key)
		}
		return m, nil
	case "anything-but":
		m := matcher{kind: "but"}
		switch a := arg.(type) {
		case []any:
			if len(a) == 0 {
				return matcher{}, errorf("%q: anything-but takes a non-empty list", key)
			}
			for _, it := range a {
				inner, err := parseMatcher(key, it)
				if err != nil || inner.kind != "value" {
					return matcher{}, errorf("%q: anything-but's list holds values", key)
				}
				m.but = append(m.but, inner)
			}
		case map[string]any:
			if len(a) != 1 {
				return matcher{}, errorf("%q: anything-but takes one operator", key)
			}
			for op, v := range a {
				if !slices.Contains([]string{"prefix", "suffix", "equals-ignore-case", "wildcard"}, op) {
					return matcher{}, errorf("%q: anything-but does not take %s", key, op)
				}
				if list, ok := v.([]any); ok && op != "prefix" && op != "suffix" {
					for _, it := range list {
						inner, err := parseOperator(key, op, it)
						if err != nil {
							return matcher{}, err
						}
						m.but = append(m.but, inner)
					}
					continue
				}
				inner, err := parseOperator(key, op, v)
				if err != nil {
					return matcher{}, err
				}
				m.but = append(m.but, inner)
			}
		default:
			inner, err := parseMatcher(key, a)
			if err != nil {
				return matcher{}, err
			}
			m.but = append(m.but, inner)
		}
		return m, nil
	}
	return matcher{}, errorf("%q: unknown operator %q", key, op)
}

// Fields returns how many leaf fields the pattern names, and how many
// combinations of matchers it has (the product, over the fields, of each
// one's matchers, summed over $or's branches): SNS limits both.
func (p *Pattern) Fields() (fields, combinations int) {
	return p.root.count()
}

func (o *object) count() (fields, combos int) {
	combos = 1
	for _, f := range o.fields {
		if f.sub != nil {
			fs, c := f.sub.count()
			fields += fs
			combos *= c
			continue
		}
		fields++
		combos *= len(f.matchers)
	}
	for _, alts := range o.ors {
		sum := 0
		for _, a := range alts {
			fs, c := a.count()
			fields += fs
			sum += c
		}
		combos *= sum
	}
	return fields, combos
}

// Match reports whether event, a decoded JSON document (maps, lists,
// strings, float64 or json.Number, bools and nil), matches the pattern.
func (p *Pattern) Match(event map[string]any) bool {
	return p.root.match(event)
}

func (o *object) match(ev map[string]any) bool {
	for k, f := range o.fields {
		v, present := ev[k]
		if f.sub != nil {
			if !matchSub(f.sub, v, present) {
				return false
			}
			continue
		}
		if !f.matchLeaf(v, present) {
			return false
		}
	}
	for _, alts := range o.ors {
		ok := false
		for _, a := range alts {
			if a.match(ev) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

func matchSub(o *object, v any, present bool) bool {
	switch v := v.(type) {
	case map[string]any:
		return o.match(v)
	case []any:
		for _, it := range v {
			if m, ok := it.(map[string]any); ok && o.match(m) {
				return true
			}
		}
		return false
	}
	if !present {
		return o.match(map[string]any{})
	}
	return false
}

func (f *field) matchLeaf(v any, present bool) bool {
	values := []any{v}
	if list, ok := v.([]any); ok {
		values = list
	}
	for _, m := range f.matchers {
		if m.kind == "exists" {
			// An empty list or an object is not a value that exists
			// for a leaf.
			_, isObj := v.(map[string]any)
			has := present && !isObj && !(len(values) == 0)
			if has == m.exists {
				return true
			}
			continue
		}
		if !present {
			continue
		}
		for _, x := range values {
			if m.matches(x) {
				return true
			}
		}
	}
	return false
}

func number(x any) (float64, bool) {
	switch n := x.(type) {
	case float64:
		return n, true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}

func (m *matcher) matches(x any) bool {
	s, isStr := x.(string)
	switch m.kind {
	case "value":
		if m.numeric {
			n, ok := number(x)
			return ok && n == m.value.(float64)
		}
		if _, ok := number(x); ok {
			return false
		}
		return x == m.value
	case "prefix":
		return isStr && strings.HasPrefix(s, m.text)
	case "suffix":
		return isStr && strings.HasSuffix(s, m.text)
	case "prefix-ignorecase":
		return isStr && strings.HasPrefix(strings.ToLower(s), m.text)
	case "suffix-ignorecase":
		return isStr && strings.HasSuffix(strings.ToLower(s), m.text)
	case "ignorecase":
		return isStr && strings.ToLower(s) == m.text
	case "wildcard":
		return isStr && wildcard(m.text, s)
	case "numeric":
		n, ok := number(x)
		if !ok {
			return false
		}
		for _, b := range m.ranges {
			if !compare(n, b) {
				return false
			}
		}
		return true
	case "cidr":
		a, err := netip.ParseAddr(s)
		return isStr && err == nil && m.prefix.Contains(a)
	case "but":
		if _, isObj := x.(map[string]any); isObj {
			return false
		}
		for _, b := range m.but {
			if b.matches(x) {
				return false
			}
		}
		return true
	}
	return false
}

func compare(n float64, b bound) bool {
	switch b.op {
	case "=":
		return n == b.n
	case "<":
		return n < b.n
	case "<=":
		return n <= b.n
	case ">":
		return n > b.n
	}
	return n >= b.n
}

// wildcard matches s against pattern p, where * stands for any run of
// characters.
func wildcard(p, s string) bool {
	parts := strings.Split(p, "*")
	if len(parts) == 1 {
		return p == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	for _, mid := range parts[1 : len(parts)-1] {
		i := strings.Index(s, mid)
		if i < 0 {
			return false
		}
		s = s[i+len(mid):]
	}
	return strings.HasSuffix(s, parts[len(parts)-1])
}
