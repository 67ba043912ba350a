// Package item holds DynamoDB's attribute values and items: their wire
// form ({"S": "x"}, {"N": "1.5"}, {"M": {...}}, ...), the checks
// DynamoDB makes of them (one type each, numbers of 38 significant
// digits within 1E-130 and 1E+126, sets neither empty nor repeating),
// the order of keys, and an item's size as DynamoDB counts it.
package item

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/cockroachdb/apd/v3"
)

// Kind is an attribute value's data type.
type Kind uint8

// The data types, by their wire names.
const (
	S Kind = iota + 1
	N
	B
	BOOL
	NULL
	SS
	NS
	BS
	M
	L
)

var kindNames = [...]string{S: "S", N: "N", B: "B", BOOL: "BOOL", NULL: "NULL", SS: "SS", NS: "NS", BS: "BS", M: "M", L: "L"}

func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return fmt.Sprintf("kind %d", k)
}

// KindNamed returns the kind with wire name name.
func KindNamed(name string) (Kind, bool) {
	for k, n := range kindNames {
		if n == name && n != "" {
			return Kind(k), true
		}
	}
	return 0, false
}

// Value is an attribute value. Numbers are kept in DynamoDB's canonical
// text (no exponent where avoidable, no trailing zeros), binary values as
// their bytes in a string, and sets in the order they were given.
type Value struct {
	Kind Kind
	Str  string            // S, N, B
	Bool bool              // BOOL
	Set  []string          // SS, NS, BS
	Map  map[string]*Value // M
	List []*Value          // L
}

// Item is an item: its attributes by name.
type Item map[string]*Value

// Error is a refusal of a value, worded as DynamoDB's ValidationException.
type Error struct{ Message string }

func (e *Error) Error() string { return e.Message }

func invalid(format string, args ...any) *Error { return &Error{fmt.Sprintf(format, args...)} }

// wire is an attribute value's JSON form.
type wire struct {
	S    *string                    `json:"S,omitempty"`
	N    *string                    `json:"N,omitempty"`
	B    *string                    `json:"B,omitempty"`
	BOOL *bool                      `json:"BOOL,omitempty"`
	NULL *bool                      `json:"NULL,omitempty"`
	SS   []string                   `json:"SS,omitempty"`
	NS   []string                   `json:"NS,omitempty"`
	BS   []string                   `json:"BS,omitempty"`
	M    map[string]json.RawMessage `json:"M,omitempty"`
	L    []json.RawMessage          `json:"L,omitempty"`
}

// maxDepth bounds nesting, as DynamoDB's 32 levels.
const maxDepth = 32

// UnmarshalJSON reads and checks an attribute value.
func (v *Value) UnmarshalJSON(b []byte) error {
	return v.read(b, 0)
}

func (v *Value) read(b []byte, depth int) error {
	if depth > maxDepth {
		return invalid("Nesting Levels have exceeded supported limits: Attribute values exceed the maximum of 32 nested levels")
	}
	var w struct{ wire }
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return invalid("Supplied AttributeValue is not valid JSON: %v", err)
	}
	present := 0
	for k := range raw {
		if _, ok := KindNamed(k); !ok {
			return invalid("Supplied AttributeValue has an unknown datatype %q", k)
		}
		present++
	}
	if present == 0 {
		return invalid("Supplied AttributeValue is empty, must contain exactly one of the supported datatypes")
	}
	if present > 1 {
		return invalid("Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes")
	}
	if err := json.Unmarshal(b, &w.wire); err != nil {
		return invalid("Supplied AttributeValue is not valid: %v", err)
	}
	switch {
	case w.S != nil:
		*v = Value{Kind: S, Str: *w.S}
	case w.N != nil:
		n, err := Number(*w.N)
		if err != nil {
			return err
		}
		*v = Value{Kind: N, Str: n}
	case w.B != nil:
		raw, err := base64.StdEncoding.DecodeString(*w.B)
		if err != nil {
			return invalid("Invalid Binary value: it must be base64")
		}
		*v = Value{Kind: B, Str: string(raw)}
	case w.BOOL != nil:
		*v = Value{Kind: BOOL, Bool: *w.BOOL}
	case w.NULL != nil:
		if !*w.NULL {
			return invalid("One or more parameter values were invalid: Null attribute value types must have the value of true")
		}
		*v = Value{Kind: NULL}
	case raw["SS"] != nil:
		return v.readSet(SS, w.SS)
	case raw["NS"] != nil:
		return v.readSet(NS, w.NS)
	case raw["BS"] != nil:
		return v.readSet(BS, w.BS)
	case raw["M"] != nil:
		m := make(map[string]*Value, len(w.M))
		for k, rb := range w.M {
			e := new(Value)
			if err := e.read(rb, depth+1); err != nil {
				return err
			}
			m[k] = e
		}
		*v = Value{Kind: M, Map: m}
	case raw["L"] != nil:
		l := make([]*Value, len(w.L))
		for i, rb := range w.L {
			e := new(Value)
			if err := e.read(rb, depth+1); err != nil {
				return err
			}
			l[i] = e
		}
		*v = Value{Kind: L, List: l}
	default:
		return invalid("Supplied AttributeValue is empty, must contain exactly one of the supported datatypes")
	}
	return nil
}

var setNames = map[Kind]string{SS: "string", NS: "number", BS: "binary"}

func (v *Value) readSet(k Kind, in []string) error {
	if len(in) == 0 {
		return invalid("One or more parameter values were invalid: An %s set  may not be empty", setNames[k])
	}
	out := make([]string, len(in))
	seen := map[string]bool{}
	for i, s := range in {
		switch k {
		case NS:
			n, err := Number(s)
			if err != nil {
				return err
			}
			s = n
		case BS:
			raw, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				return invalid("Invalid Binary value in a binary set: it must be base64")
			}
			s = string(raw)
		}
		if seen[s] {
			return invalid("One or more parameter values were invalid: Input collection %s contains duplicates.", "["+strings.Join(in, ", ")+"]")
		}
		seen[s] = true
		out[i] = s
	}
	*v = Value{Kind: k, Set: out}
	return nil
}

// MarshalJSON writes an attribute value in its wire form.
func (v *Value) MarshalJSON() ([]byte, error) {
	switch v.Kind {
	case S:
		return json.Marshal(map[string]string{"S": v.Str})
	case N:
		return json.Marshal(map[string]string{"N": v.Str})
	case B:
		return json.Marshal(map[string]string{"B": base64.StdEncoding.EncodeToString([]byte(v.Str))})
	case BOOL:
		return json.Marshal(map[string]bool{"BOOL": v.Bool})
	case NULL:
		return []byte(`{"NULL":true}`), nil
	case SS, NS:
		return json.Marshal(map[string][]string{v.Kind.String(): v.Set})
	case BS:
		out := make([]string, len(v.Set))
		for i, s := range v.Set {
			out[i] = base64.StdEncoding.EncodeToString([]byte(s))
		}
		return json.Marshal(map[string][]string{"BS": out})
	case M:
		m := v.Map
		if m == nil {
			m = map[string]*Value{}
		}
		return json.Marshal(map[string]map[string]*Value{"M": m})
	case L:
		l := v.List
		if l == nil {
			l = []*Value{}
		}
		return json.Marshal(map[string][]*Value{"L": l})
	}
	return nil, errors.New("item: a value without a type")
}

// The bounds of DynamoDB's numbers.
var (
	maxNumber = apd.New(1, 126)  // exclusive
	minNumber = apd.New(1, -130) // inclusive, for non-zero magnitudes
)

// Number checks s as a DynamoDB number and returns its canonical text:
// at most 38 significant digits, magnitude between 1E-130 and under
// 1E+126 (or zero), trailing zeros and a negative zero dropped.
func Number(s string) (string, error) {
	d, err := ParseNumber(s)
	if err != nil {
		return "", err
	}
	return FormatNumber(d), nil
}

// ParseNumber reads s as a DynamoDB number.
func ParseNumber(s string) (*apd.Decimal, error) {
	t := strings.TrimSpace(s)
	d, _, err := apd.NewFromString(t)
	if err != nil || t == "" || d.Form != apd.Finite || strings.ContainsAny(t, "xXpP_") {
		return nil, invalid("A value provided cannot be converted into a number")
	}
	d.Reduce(d)
	if d.IsZero() {
		return apd.New(0, 0), nil
	}
	if d.NumDigits() > 38 {
		return nil, invalid("Attempting to store more than 38 significant digits in a Number")
	}
	var abs apd.Decimal
	abs.Abs(d)
	if abs.Cmp(maxNumber) >= 0 {
		return nil, invalid("Number overflow. Attempting to store a number with magnitude larger than supported range")
	}
	if abs.Cmp(minNumber) < 0 {
		return nil, invalid("Number underflow. Attempting to store a number with magnitude smaller than supported range")
	}
	return d, nil
}

// FormatNumber writes a number as DynamoDB answers it: plain digits,
// without an exponent.
func FormatNumber(d *apd.Decimal) string {
	var r apd.Decimal
	r.Reduce(d)
	if r.IsZero() {
		return "0"
	}
	return r.Text('f')
}

// CompareNumbers orders two numbers. Canonical ones (as Number writes
// them) are compared as text, without parsing.
func CompareNumbers(a, b string) int {
	if c, ok := compareCanonical(a, b); ok {
		return c
	}
	x, _, _ := apd.NewFromString(a)
	y, _, _ := apd.NewFromString(b)
	if x == nil || y == nil {
		return strings.Compare(a, b)
	}
	return x.Cmp(y)
}

// compareCanonical orders two canonical numbers by their digits; ok is
// false when either is not canonical.
func compareCanonical(a, b string) (int, bool) {
	an, ai, af, ok := canonicalParts(a)
	if !ok {
		return 0, false
	}
	bn, bi, bf, ok := canonicalParts(b)
	if !ok {
		return 0, false
	}
	if an != bn {
		if an {
			return -1, true
		}
		return 1, true
	}
	c := cmp.Compare(len(ai), len(bi))
	if c == 0 {
		c = strings.Compare(ai, bi)
	}
	if c == 0 {
		c = strings.Compare(af, bf) // no trailing zeros: text order is value order
	}
	if an {
		c = -c
	}
	return c, true
}

// canonicalParts splits a canonical number (an optional minus, an integer
// part without leading zeros, and an optional fraction without trailing
// zeros; never "-0") into its sign and parts.
func canonicalParts(s string) (neg bool, whole, frac string, ok bool) {
	if strings.HasPrefix(s, "-") {
		neg, s = true, s[1:]
	}
	whole = s
	if i := strings.IndexByte(s, '.'); i >= 0 {
		whole, frac = s[:i], s[i+1:]
		if frac == "" || frac[len(frac)-1] == '0' || !digits(frac) {
			return false, "", "", false
		}
	}
	if whole == "" || (len(whole) > 1 && whole[0] == '0') || !digits(whole) || (neg && whole == "0" && frac == "") {
		return false, "", "", false
	}
	return neg, whole, frac, true
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Equal reports whether two values are the same value: of the same kind,
// numbers equal by value, sets equal whatever their order.
func Equal(a, b *Value) bool {
	if a == nil || b == nil || a.Kind != b.Kind {
		return a == nil && b == nil
	}
	switch a.Kind {
	case S, B:
		return a.Str == b.Str
	case N:
		return CompareNumbers(a.Str, b.Str) == 0
	case BOOL:
		return a.Bool == b.Bool
	case NULL:
		return true
	case SS, BS, NS:
		if len(a.Set) != len(b.Set) {
			return false
		}
		for _, x := range a.Set {
			if !slices.ContainsFunc(b.Set, func(y string) bool {
				if a.Kind == NS {
					return CompareNumbers(x, y) == 0
				}
				return x == y
			}) {
				return false
			}
		}
		return true
	case M:
		if len(a.Map) != len(b.Map) {
			return false
		}
		for k, x := range a.Map {
			if !Equal(x, b.Map[k]) {
				return false
			}
		}
		return true
	case L:
		if len(a.List) != len(b.List) {
			return false
		}
		for i := range a.List {
			if !Equal(a.List[i], b.List[i]) {
				return false
			}
		}
		return true
	}
	return false
}

// Compare orders two scalar values of one kind (S by UTF-8 bytes, N by
// value, B by bytes), as key conditions and comparisons do; ok is false
// for values that do not compare (other kinds, or kinds that differ).
func Compare(a, b *Value) (int, bool) {
	if a == nil || b == nil || a.Kind != b.Kind {
		return 0, false
	}
	switch a.Kind {
	case S, B:
		return strings.Compare(a.Str, b.Str), true
	case N:
		return CompareNumbers(a.Str, b.Str), true
	}
	return 0, false
}

// Size returns the size DynamoDB counts for an attribute named name with
// value v: the name's UTF-8 length plus the value's.
func Size(name string, v *Value) int {
	return len(name) + valueSize(v)
}

func valueSize(v *Value) int {
	switch v.Kind {
	case S, B:
		return len(v.Str)
	case N:
		return numberSize(v.Str)
	case BOOL, NULL:
		return 1
	case SS, BS:
		n := 0
		for _, s := range v.Set {
			n += len(s)
		}
		return n
	case NS:
		n := 0
		for _, s := range v.Set {
			n += numberSize(s)
		}
		return n
	case M:
		n := 3
		for k, e := range v.Map {
			n += len(k) + valueSize(e) + 1
		}
		return n
	case L:
		n := 3
		for _, e := range v.List {
			n += valueSize(e) + 1
		}
		return n
	}
	return 0
}

// numberSize is a number's size: a byte per two significant digits, and
// one more.
func numberSize(s string) int {
	// The significant digits: from the first nonzero digit to the last,
	// the decimal point and sign not counted.
	first, last, n := -1, -1, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			continue
		}
		if c != '0' {
			if first < 0 {
				first = n
			}
			last = n
		}
		n++
	}
	digits := 0
	if first >= 0 {
		digits = last - first + 1
	}
	return (digits+1)/2 + 1
}

// ItemSize returns an item's size as DynamoDB counts it.
func (it Item) Size() int {
	n := 0
	for k, v := range it {
		n += Size(k, v)
	}
	return n
}

// MaxItemSize is the largest item DynamoDB stores.
const MaxItemSize = 400 * 1024

// Clone returns a deep copy of v.
func (v *Value) Clone() *Value {
	if v == nil {
		return nil
	}
	c := *v
	if v.Set != nil {
		c.Set = slices.Clone(v.Set)
	}
	if v.Map != nil {
		c.Map = make(map[string]*Value, len(v.Map))
		for k, e := range v.Map {
			c.Map[k] = e.Clone()
		}
	}
	if v.List != nil {
		c.List = make([]*Value, len(v.List))
		for i, e := range v.List {
			c.List[i] = e.Clone()
		}
	}
	return &c
}

// Clone returns a deep copy of it.
func (it Item) Clone() Item {
	if it == nil {
		return nil
	}
	out := make(Item, len(it))
	for k, v := range it {
		out[k] = v.Clone()
	}
	return out
}
