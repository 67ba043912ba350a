package itemexpr

import "github.com/aloft-dev/aloft/internal/item"

// ParseKeyCondition reads a key condition expression: key = :v, and at
// most one more condition on the other key (a comparison, BETWEEN or
// begins_with). Which key is which the table decides: Parts returns
// both conditions for it to sort out.
func ParseKeyCondition(expr string, p *Params) ([]KeyPart, error) {
	ps, err := newParser(expr, p)
	if err != nil {
		return nil, wrap("KeyConditionExpression", err)
	}
	c, err := ps.condition()
	if err == nil {
		err = ps.end()
	}
	if err != nil {
		return nil, wrap("KeyConditionExpression", err)
	}
	var parts []KeyPart
	var walk func(c *cond) error
	walk = func(c *cond) error {
		switch c.op {
		case "and":
			if err := walk(c.kids[0]); err != nil {
				return err
			}
			return walk(c.kids[1])
		case "cmp", "between":
			if c.cmp == "<>" {
				return unsupported()
			}
			op := c.cmp
			if c.op == "between" {
				op = "BETWEEN"
			}
			return part(&parts, op, c.args)
		case "fn":
			if c.cmp != "begins_with" {
				return unsupported()
			}
			return part(&parts, "begins_with", c.args)
		}
		return unsupported()
	}
	if err := walk(c); err != nil {
		return nil, wrap("KeyConditionExpression", err)
	}
	if len(parts) > 2 {
		return nil, wrap("KeyConditionExpression", &Error{"The expression has too many key conditions; expected at most two"})
	}
	if len(parts) == 2 && parts[0].Name == parts[1].Name {
		return nil, wrap("KeyConditionExpression", &Error{"KeyConditionExpressions must only contain one condition per key"})
	}
	return parts, nil
}

// KeyPart is one condition of a key condition: on a top-level attribute,
// with values.
type KeyPart struct {
	Name   string
	Op     string
	Values []*item.Value
}

func part(parts *[]KeyPart, op string, args []*operand) error {
	if len(args[0].path) != 1 || args[0].path[0].IsIndex {
		return &Error{"Key condition may only reference top-level attributes"}
	}
	kp := KeyPart{Name: args[0].path[0].Name, Op: op}
	for _, a := range args[1:] {
		if a.value == nil {
			return unsupported()
		}
		kp.Values = append(kp.Values, a.value)
	}
	*parts = append(*parts, kp)
	return nil
}

func unsupported() *Error { return &Error{"Query key condition not supported"} }

// Matches reports whether value v of the sort key satisfies part k.
func (k KeyPart) Matches(v *item.Value) bool {
	if v == nil {
		return false
	}
	if k.Op == "begins_with" {
		w := k.Values[0]
		return v.Kind == w.Kind && len(v.Str) >= len(w.Str) && v.Str[:len(w.Str)] == w.Str
	}
	c, ok := item.Compare(v, k.Values[0])
	if !ok {
		return false
	}
	switch k.Op {
	case "=":
		return c == 0
	case "<":
		return c < 0
	case "<=":
		return c <= 0
	case ">":
		return c > 0
	case ">=":
		return c >= 0
	case "BETWEEN":
		d, ok := item.Compare(v, k.Values[1])
		return c >= 0 && ok && d <= 0
	}
	return false
}
