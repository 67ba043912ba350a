package policy

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Context gives the values of a request's condition keys (aws:username,
// aws:SourceIp, s3:prefix, ...) and of the policy variables that name
// them. Key names are matched without regard to case.
type Context interface {
	// Values returns the values of key and whether the request has it.
	Values(key string) (vals []string, ok bool)
}

// opKind is a condition operator's family.
type opKind uint8

const (
	opString opKind = iota + 1
	opStringIgnoreCase
	opStringLike
	opNumeric
	opDate
	opBool
	opBinary
	opIP
	opARN
	opARNLike
	opNull
)

// cmp says how an operator of the numeric and date families compares.
type cmp uint8

const (
	cmpEq cmp = iota
	cmpLt
	cmpLe
	cmpGt
	cmpGe
)

// condition is one key under one operator of a Condition block.
type condition struct {
	kind     opKind
	cmp      cmp
	negated  bool // the operator's Not form: no value may match
	ifExists bool // a missing key satisfies it
	set      int8 // 0 single-valued, 1 ForAnyValue, 2 ForAllValues
	key      string
	values   []string
	vars     bool // values hold policy variables
}

// operators are the base operators by name.
var operators = map[string]struct {
	kind    opKind
	cmp     cmp
	negated bool
}{
	"StringEquals": {opString, cmpEq, false}, "StringNotEquals": {opString, cmpEq, true},
	"StringEqualsIgnoreCase": {opStringIgnoreCase, cmpEq, false}, "StringNotEqualsIgnoreCase": {opStringIgnoreCase, cmpEq, true},
	"StringLike": {opStringLike, cmpEq, false}, "StringNotLike": {opStringLike, cmpEq, true},
	"NumericEquals": {opNumeric, cmpEq, false}, "NumericNotEquals": {opNumeric, cmpEq, true},
	"NumericLessThan": {opNumeric, cmpLt, false}, "NumericLessThanEquals": {opNumeric, cmpLe, false},
	"NumericGreaterThan": {opNumeric, cmpGt, false}, "NumericGreaterThanEquals": {opNumeric, cmpGe, false},
	"DateEquals": {opDate, cmpEq, false}, "DateNotEquals": {opDate, cmpEq, true},
	"DateLessThan": {opDate, cmpLt, false}, "DateLessThanEquals": {opDate, cmpLe, false},
	"DateGreaterThan": {opDate, cmpGt, false}, "DateGreaterThanEquals": {opDate, cmpGe, false},
	"Bool": {opBool, cmpEq, false}, "BinaryEquals": {opBinary, cmpEq, false},
	"IpAddress": {opIP, cmpEq, false}, "NotIpAddress": {opIP, cmpEq, true},
	"ArnEquals": {opARN, cmpEq, false}, "ArnNotEquals": {opARN, cmpEq, true},
	"ArnLike": {opARNLike, cmpEq, false}, "ArnNotLike": {opARNLike, cmpEq, true},
	"Null": {opNull, cmpEq, false},
}

// Keys are the condition keys this server gives requests: a condition on
// another would never see a value here, so that an Allow it guards never
// applies and, worse, a Deny it guards never does. A policy naming one is
// refused rather than evaluated as AWS would not.
var Keys = []string{"aws:username", "aws:userid", "aws:principalarn", "aws:principaltype", "aws:principalaccount",
	"aws:sourceip", "aws:currenttime", "aws:epochtime", "aws:securetransport", "aws:requestedregion",
	"s3:prefix", "s3:delimiter", "s3:max-keys"}

// resourceKeys are further keys a resource-based policy may name: those
// of the statements AddPermission writes for services, and the
// aws:SourceOwner of queue and topic policies.
var resourceKeys = []string{"aws:sourcearn", "aws:sourceaccount", "aws:sourceowner", "lambda:functionurlauthtype"}

// knownKey reports whether key is one this server gives.
func knownKey(key string, resource bool) bool {
	k := strings.ToLower(key)
	for _, list := range [][]string{Keys, resourceKeys} {
		for _, known := range list {
			if k == known {
				return true
			}
		}
		if !resource {
			break
		}
	}
	return false
}

// parseConditions reads a statement's Condition block.
func parseConditions(raw json.RawMessage, resource bool) ([]condition, error) {
	var block map[string]map[string]json.RawMessage
	if err := json.Unmarshal(raw, &block); err != nil {
		return nil, fmt.Errorf("Condition: %v", err)
	}
	var out []condition
	for name, keys := range block {
		c := condition{}
		op := name
		if rest, ok := strings.CutPrefix(op, "ForAnyValue:"); ok {
			op, c.set = rest, 1
		} else if rest, ok := strings.CutPrefix(op, "ForAllValues:"); ok {
			op, c.set = rest, 2
		}
		if rest, ok := strings.CutSuffix(op, "IfExists"); ok && rest != "Null" {
			op, c.ifExists = rest, true
		}
		o, ok := operators[op]
		if !ok {
			return nil, fmt.Errorf("Condition: unknown operator %q", name)
		}
		c.kind, c.cmp, c.negated = o.kind, o.cmp, o.negated
		if len(keys) == 0 {
			return nil, fmt.Errorf("Condition: operator %s names no key", name)
		}
		for key, v := range keys {
			if !knownKey(key, resource) {
				return nil, fmt.Errorf("Condition %s: the condition key %s is not supported by this server", name, key)
			}
			cc := c
			cc.key = key
			vals, err := conditionValues(v)
			if err != nil {
				return nil, fmt.Errorf("Condition %s %s: %v", name, key, err)
			}
			if err := checkValues(cc.kind, vals); err != nil {
				return nil, fmt.Errorf("Condition %s %s: %v", name, key, err)
			}
			cc.values = vals
			for _, s := range vals {
				if strings.Contains(s, "${") {
					cc.vars = true
				}
			}
			out = append(out, cc)
		}
	}
	return out, nil
}

// conditionValues reads a condition's value: a string, number or boolean,
// or a list of them, as strings.
func conditionValues(raw json.RawMessage) ([]string, error) {
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		list = []json.RawMessage{raw}
	}
	if len(list) == 0 {
		return nil, errors.New("no value")
	}
	out := make([]string, 0, len(list))
	for _, r := range list {
		var v any
		if err := json.Unmarshal(r, &v); err != nil {
			return nil, err
		}
		switch x := v.(type) {
		case string:
			out = append(out, x)
		case bool:
			out = append(out, strconv.FormatBool(x))
		case float64:
			out = append(out, strings.TrimSpace(string(r)))
		default:
			return nil, fmt.Errorf("value %s is not a string, number or boolean", r)
		}
	}
	return out, nil
}

// checkValues refuses values an operator could never compare.
func checkValues(k opKind, vals []string) error {
	for _, v := range vals {
		if strings.Contains(v, "${") {
			continue // a policy variable: known at evaluation
		}
		var err error
		switch k {
		case opNumeric:
			_, err = strconv.ParseFloat(v, 64)
		case opDate:
			_, err = parseDate(v)
		case opBool, opNull:
			if v != "true" && v != "false" {
				err = errors.New("want true or false")
			}
		case opIP:
			_, err = parsePrefix(v)
		case opBinary:
			_, err = base64.StdEncoding.DecodeString(v)
		}
		if err != nil {
			return fmt.Errorf("value %q: %v", v, err)
		}
	}
	return nil
}

func parseDate(s string) (time.Time, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(n, 0), nil
	}
	for _, f := range []string{time.RFC3339Nano, "2006-01-02T15:04Z07:00", "2006-01-02"} {
		if t, err := time.Parse(f, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, errors.New("not a date (ISO 8601 or seconds since the epoch)")
}

func parsePrefix(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// holds evaluates c against the request's context.
func (c *condition) holds(ctx Context) bool {
	var req []string
	present := false
	if ctx != nil {
		req, present = ctx.Values(c.key)
	}
	if c.kind == opNull {
		return present != (c.values[0] == "true")
	}
	if !present || len(req) == 0 {
		if c.set == 2 { // ForAllValues of nothing
			return true
		}
		return c.ifExists || c.negated
	}
	switch c.set {
	case 2: // every request value matches one of the policy's
		for _, r := range req {
			if !c.matchesAny(r, ctx) {
				return false
			}
		}
		return true
	default: // single-valued, or ForAnyValue: some request value matches
		for _, r := range req {
			if c.matchesAny(r, ctx) {
				return true
			}
		}
		return false
	}
}

// matchesAny applies the operator to one request value: true when it
// matches one of the policy's values (for a Not operator, none).
func (c *condition) matchesAny(r string, ctx Context) bool {
	any := false
	for _, v := range c.values {
		if c.vars && strings.Contains(v, "${") {
			v = substitute(v, ctx)
		}
		if c.match(r, v) {
			any = true
			break
		}
	}
	return any != c.negated
}

// match compares request value r with policy value v.
func (c *condition) match(r, v string) bool {
	switch c.kind {
	case opString:
		return r == v
	case opStringIgnoreCase:
		return strings.EqualFold(r, v)
	case opStringLike:
		return Match(v, r, false)
	case opARN:
		return r == v
	case opARNLike:
		return arnLike(v, r)
	case opBool:
		return strings.EqualFold(r, v)
	case opBinary:
		return r == v
	case opNumeric:
		a, err1 := strconv.ParseFloat(r, 64)
		b, err2 := strconv.ParseFloat(v, 64)
		return err1 == nil && err2 == nil && compare(c.cmp, cmpFloat(a, b))
	case opDate:
		a, err1 := parseDate(r)
		b, err2 := parseDate(v)
		return err1 == nil && err2 == nil && compare(c.cmp, a.Compare(b))
	case opIP:
		a, err1 := netip.ParseAddr(r)
		p, err2 := parsePrefix(v)
		return err1 == nil && err2 == nil && p.Contains(a.Unmap())
	}
	return false
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func compare(c cmp, sign int) bool {
	switch c {
	case cmpLt:
		return sign < 0
	case cmpLe:
		return sign <= 0
	case cmpGt:
		return sign > 0
	case cmpGe:
		return sign >= 0
	}
	return sign == 0
}

// arnLike matches an ARN against a pattern part by part: the six
// colon-separated parts each match with wildcards, the resource part
// taking the rest.
func arnLike(pattern, arn string) bool {
	for i := 0; i < 5; i++ {
		p, prest, ok1 := strings.Cut(pattern, ":")
		a, arest, ok2 := strings.Cut(arn, ":")
		if !ok1 || !ok2 {
			return false
		}
		if !Match(p, a, false) {
			return false
		}
		pattern, arn = prest, arest
	}
	return Match(pattern, arn, false)
}

// substitute replaces the policy variables in s (${aws:username}, and the
// escapes ${*}, ${?} and ${$}) with the request's values; a variable the
// request has no value for becomes a string no request value equals.
func substitute(s string, ctx Context) string {
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		name := s[i+2 : i+j]
		switch name {
		case "*", "?", "$":
			b.WriteString(name)
		default:
			// A default may follow the key: ${aws:username, 'nobody'}.
			key, def, hasDef := strings.Cut(name, ",")
			key = strings.TrimSpace(key)
			var vals []string
			ok := false
			if ctx != nil {
				vals, ok = ctx.Values(key)
			}
			switch {
			case ok && len(vals) == 1:
				b.WriteString(vals[0])
			case hasDef:
				b.WriteString(strings.Trim(strings.TrimSpace(def), "'"))
			default:
				b.WriteString("\x00unset:" + key) // matches nothing a request sends
			}
		}
		s = s[i+j+1:]
	}
}
