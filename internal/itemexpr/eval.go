package itemexpr

import (
	"strings"
	"unicode/utf8"

	"github.com/aloft-dev/aloft/internal/item"
)

// Condition is a parsed condition or filter expression.
type Condition struct{ c *cond }

// ParseCondition reads a condition expression (kind names the request
// parameter, ConditionExpression or FilterExpression, for messages).
func ParseCondition(kind, expr string, p *Params) (*Condition, error) {
	ps, err := newParser(expr, p)
	if err != nil {
		return nil, wrap(kind, err)
	}
	c, err := ps.condition()
	if err == nil {
		err = ps.end()
	}
	if err != nil {
		return nil, wrap(kind, err)
	}
	return &Condition{c}, nil
}

// wrap prefixes an expression's refusal with the parameter it is in, as
// DynamoDB's messages do.
func wrap(kind string, err error) error {
	if e, ok := err.(*Error); ok {
		return &Error{"Invalid " + kind + ": " + e.Message}
	}
	return err
}

// Match reports whether item it satisfies the condition (a missing item
// is an empty one).
func (c *Condition) Match(it item.Item) bool { return c.c.eval(it) }

// resolve returns the value at path p in it, or nil.
func resolve(it item.Item, p Path) *item.Value {
	if len(p) == 0 || p[0].IsIndex {
		return nil
	}
	v := it[p[0].Name]
	for _, e := range p[1:] {
		if v == nil {
			return nil
		}
		switch {
		case e.IsIndex && v.Kind == item.L && e.Index < len(v.List):
			v = v.List[e.Index]
		case !e.IsIndex && v.Kind == item.M:
			v = v.Map[e.Name]
		default:
			return nil
		}
	}
	return v
}

// value evaluates an operand of a condition.
func (o *operand) eval(it item.Item) *item.Value {
	switch {
	case o.value != nil:
		return o.value
	case o.fn == "size":
		v := resolve(it, o.args[0].path)
		if v == nil {
			return nil
		}
		n := -1
		switch v.Kind {
		case item.S:
			n = utf8.RuneCountInString(v.Str)
		case item.B:
			n = len(v.Str)
		case item.SS, item.NS, item.BS:
			n = len(v.Set)
		case item.M:
			n = len(v.Map)
		case item.L:
			n = len(v.List)
		}
		if n < 0 {
			return nil
		}
		return &item.Value{Kind: item.N, Str: itoa(n)}
	}
	return resolve(it, o.path)
}

func (c *cond) eval(it item.Item) bool {
	switch c.op {
	case "and":
		return c.kids[0].eval(it) && c.kids[1].eval(it)
	case "or":
		return c.kids[0].eval(it) || c.kids[1].eval(it)
	case "not":
		return !c.kids[0].eval(it)
	case "cmp":
		a, b := c.args[0].eval(it), c.args[1].eval(it)
		switch c.cmp {
		case "=":
			return a != nil && b != nil && item.Equal(a, b)
		case "<>":
			return !(a != nil && b != nil && item.Equal(a, b))
		}
		n, ok := item.Compare(a, b)
		if !ok {
			return false
		}
		switch c.cmp {
		case "<":
			return n < 0
		case "<=":
			return n <= 0
		case ">":
			return n > 0
		}
		return n >= 0
	case "between":
		v, lo, hi := c.args[0].eval(it), c.args[1].eval(it), c.args[2].eval(it)
		a, ok1 := item.Compare(v, lo)
		b, ok2 := item.Compare(v, hi)
		return ok1 && ok2 && a >= 0 && b <= 0
	case "in":
		v := c.args[0].eval(it)
		if v == nil {
			return false
		}
		for _, o := range c.args[1:] {
			if w := o.eval(it); w != nil && item.Equal(v, w) {
				return true
			}
		}
		return false
	case "fn":
		v := resolve(it, c.args[0].path)
		switch c.cmp {
		case "attribute_exists":
			return v != nil
		case "attribute_not_exists":
			return v == nil
		case "attribute_type":
			k, _ := item.KindNamed(c.args[1].eval(it).Str)
			return v != nil && v.Kind == k
		case "begins_with":
			w := c.args[1].eval(it)
			return v != nil && w != nil && v.Kind == w.Kind && (v.Kind == item.S || v.Kind == item.B) && strings.HasPrefix(v.Str, w.Str)
		case "contains":
			w := c.args[1].eval(it)
			if v == nil || w == nil {
				return false
			}
			switch v.Kind {
			case item.S:
				return w.Kind == item.S && strings.Contains(v.Str, w.Str)
			case item.B:
				return w.Kind == item.B && strings.Contains(v.Str, w.Str)
			case item.SS, item.BS, item.NS:
				member := map[item.Kind]item.Kind{item.SS: item.S, item.BS: item.B, item.NS: item.N}[v.Kind]
				if w.Kind != member {
					return false
				}
				for _, s := range v.Set {
					if item.Equal(&item.Value{Kind: member, Str: s}, w) {
						return true
					}
				}
			case item.L:
				for _, e := range v.List {
					if item.Equal(e, w) {
						return true
					}
				}
			}
			return false
		}
	}
	return false
}

// ParseProjection reads a projection expression: paths separated by
// commas.
func ParseProjection(expr string, p *Params) ([]Path, error) {
	ps, err := newParser(expr, p)
	if err != nil {
		return nil, wrap("ProjectionExpression", err)
	}
	var out []Path
	for {
		path, err := ps.path()
		if err != nil {
			return nil, wrap("ProjectionExpression", err)
		}
		for _, q := range out {
			if overlap(q, path) {
				return nil, wrap("ProjectionExpression", &Error{"Two document paths overlap with each other; must remove or rewrite one of these paths; path one: " + q.String() + ", path two: " + path.String()})
			}
		}
		out = append(out, path)
		if ps.peek().kind != "," {
			break
		}
		ps.i++
	}
	if err := ps.end(); err != nil {
		return nil, wrap("ProjectionExpression", err)
	}
	return out, nil
}

// overlap reports whether one path is a prefix of the other.
func overlap(a, b Path) bool {
	n := min(len(a), len(b))
	for i := range n {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Project returns the parts of it the paths name, nested as in it; list
// elements keep their order and close up.
func Project(it item.Item, paths []Path) item.Item {
	out := item.Item{}
	for _, p := range paths {
		v := resolve(it, p)
		if v == nil {
			continue
		}
		if len(p) == 1 {
			out[p[0].Name] = v.Clone()
			continue
		}
		place(out, it, p, v)
	}
	// Lists built from indexes close up, in index order.
	for _, v := range out {
		compact(v)
	}
	return out
}

// place puts value v at path p in out, building the containers p goes
// through (maps as maps, lists as maps keyed by index until compact).
func place(out item.Item, src item.Item, p Path, v *item.Value) {
	cur, ok := out[p[0].Name]
	if !ok {
		cur = container(p[1])
		out[p[0].Name] = cur
	}
	for i, e := range p[1:] {
		last := i == len(p)-2
		key := e.Name
		if e.IsIndex {
			key = "\x00" + pad(e.Index)
		}
		if last {
			cur.Map[key] = v.Clone()
			return
		}
		next, ok := cur.Map[key]
		if !ok {
			next = container(p[i+2])
			cur.Map[key] = next
		}
		cur = next
	}
}

// container is the container a path element steps into: a list (kept as
// a map keyed by index for now) or a map.
func container(e PathElem) *item.Value {
	if e.IsIndex {
		return &item.Value{Kind: item.L, Map: map[string]*item.Value{}}
	}
	return &item.Value{Kind: item.M, Map: map[string]*item.Value{}}
}

func compact(v *item.Value) {
	if v.Kind == item.L && v.Map != nil {
		keys := make([]string, 0, len(v.Map))
		for k := range v.Map {
			keys = append(keys, k)
		}
		sortStrings(keys)
		for _, k := range keys {
			v.List = append(v.List, v.Map[k])
		}
		v.Map = nil
	}
	for _, e := range v.Map {
		compact(e)
	}
	for _, e := range v.List {
		compact(e)
	}
}

func pad(n int) string {
	s := itoa(n)
	return strings.Repeat("0", 10-len(s)) + s
}
