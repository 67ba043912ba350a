package itemexpr

import (
	"slices"
	"strings"

	"github.com/cockroachdb/apd/v3"

	"github.com/aloft-dev/aloft/internal/item"
)

// Update is a parsed update expression: its SET, REMOVE, ADD and DELETE
// actions, each clause at most once.
type Update struct {
	actions []action
}

type action struct {
	verb  string // SET, REMOVE, ADD, DELETE
	path  Path
	value *operand // SET's value; ADD's and DELETE's :value
}

// Paths returns the paths the update changes.
func (u *Update) Paths() []Path {
	out := make([]Path, len(u.actions))
	for i, a := range u.actions {
		out[i] = a.path
	}
	return out
}

// ParseUpdate reads an update expression.
func ParseUpdate(expr string, p *Params) (*Update, error) {
	u, err := parseUpdate(expr, p)
	if err != nil {
		return nil, wrap("UpdateExpression", err)
	}
	return u, nil
}

func parseUpdate(expr string, p *Params) (*Update, error) {
	ps, err := newParser(expr, p)
	if err != nil {
		return nil, err
	}
	u := &Update{}
	seen := map[string]bool{}
	for ps.peek().kind != "eof" {
		t := ps.next()
		verb := strings.ToUpper(t.text)
		if t.kind != "name" || (verb != "SET" && verb != "REMOVE" && verb != "ADD" && verb != "DELETE") {
			return nil, syntaxError(ps.src, t.pos, t.text)
		}
		if seen[verb] {
			return nil, &Error{"The \"" + verb + "\" section can only be used once in an update expression;"}
		}
		seen[verb] = true
		for {
			path, err := ps.path()
			if err != nil {
				return nil, err
			}
			a := action{verb: verb, path: path}
			switch verb {
			case "SET":
				if t := ps.next(); t.kind != "op" || t.text != "=" {
					return nil, syntaxError(ps.src, t.pos, t.text)
				}
				if a.value, err = ps.setValue(); err != nil {
					return nil, err
				}
			case "ADD", "DELETE":
				v, err := ps.value()
				if err != nil {
					return nil, err
				}
				a.value = &operand{value: v}
				ok := v.Kind == item.SS || v.Kind == item.NS || v.Kind == item.BS || (verb == "ADD" && v.Kind == item.N)
				if !ok {
					return nil, &Error{"Incorrect operand type for operator or function; operator: " + verb + ", operand type: " + v.Kind.String()}
				}
			}
			for _, b := range u.actions {
				if overlap(b.path, path) {
					return nil, &Error{"Two document paths overlap with each other; must remove or rewrite one of these paths; path one: " + b.path.String() + ", path two: " + path.String()}
				}
			}
			u.actions = append(u.actions, a)
			if ps.peek().kind != "," {
				break
			}
			ps.i++
		}
	}
	if len(u.actions) == 0 {
		return nil, &Error{"The expression can not be empty;"}
	}
	return u, nil
}

// setValue reads SET's value: an operand, or two joined by + or -.
func (ps *parser) setValue() (*operand, error) {
	left, err := ps.setOperand()
	if err != nil {
		return nil, err
	}
	if t := ps.peek(); t.kind == "op" && (t.text == "+" || t.text == "-") {
		ps.i++
		right, err := ps.setOperand()
		if err != nil {
			return nil, err
		}
		return &operand{arith: t.text, args: []*operand{left, right}}, nil
	}
	return left, nil
}

// setOperand reads a path, a :value, if_not_exists(path, value) or
// list_append(a, b).
func (ps *parser) setOperand() (*operand, error) {
	t := ps.peek()
	if t.kind == "name" && ps.toks[ps.i+1].kind == "(" {
		if t.text != "if_not_exists" && t.text != "list_append" {
			return nil, &Error{"Invalid function name; function: " + t.text}
		}
		// if_not_exists(path, operand) or list_append(operand, operand).
		ps.i += 2
		var first *operand
		if t.text == "if_not_exists" {
			p, err := ps.path()
			if err != nil {
				return nil, err
			}
			first = &operand{path: p}
		} else {
			var err error
			if first, err = ps.setOperand(); err != nil {
				return nil, err
			}
		}
		if err := ps.expect(","); err != nil {
			return nil, err
		}
		second, err := ps.setOperand()
		if err != nil {
			return nil, err
		}
		if err := ps.expect(")"); err != nil {
			return nil, err
		}
		return &operand{fn: t.text, args: []*operand{first, second}}, nil
	}
	if t.kind == ":" {
		v, err := ps.value()
		return &operand{value: v}, err
	}
	p, err := ps.path()
	return &operand{path: p}, err
}

// Apply returns a copy of it with the update applied (it may be empty,
// for an item that does not exist yet).
func (u *Update) Apply(it item.Item) (item.Item, error) {
	out := it.Clone()
	if out == nil {
		out = item.Item{}
	}
	// Values are taken from the item before any action changes it, and
	// list elements are removed by their indexes before any removal
	// (the highest first).
	var actions, removes []action
	for _, a := range u.actions {
		if a.verb == "REMOVE" {
			removes = append(removes, a)
		} else {
			actions = append(actions, a)
		}
	}
	slices.SortStableFunc(removes, func(a, b action) int { return removeKey(b) - removeKey(a) })
	actions = append(actions, removes...)
	for _, a := range actions {
		var v *item.Value
		if a.verb == "SET" {
			var err error
			if v, err = a.value.compute(it); err != nil {
				return nil, wrap("UpdateExpression", err)
			}
		}
		if err := a.apply(out, v); err != nil {
			return nil, wrap("UpdateExpression", err)
		}
	}
	return out, nil
}

// removeKey orders removals: names first, then list elements from the
// highest index down.
func removeKey(a action) int {
	if last := a.path[len(a.path)-1]; last.IsIndex {
		return last.Index
	}
	return 1 << 30
}

// compute evaluates a SET value against the item as it was.
func (o *operand) compute(it item.Item) (*item.Value, error) {
	switch {
	case o.value != nil:
		return o.value, nil
	case o.arith != "":
		a, err := o.args[0].compute(it)
		if err != nil {
			return nil, err
		}
		b, err := o.args[1].compute(it)
		if err != nil {
			return nil, err
		}
		for _, v := range []*item.Value{a, b} {
			if v.Kind != item.N {
				return nil, &Error{"Incorrect operand type for operator or function; operator or function: " + o.arith + ", operand type: " + v.Kind.String()}
			}
		}
		return arith(o.arith, a.Str, b.Str)
	case o.fn == "if_not_exists":
		if v := resolve(it, o.args[0].path); v != nil {
			return v, nil
		}
		return o.args[1].compute(it)
	case o.fn == "list_append":
		a, err := o.args[0].compute(it)
		if err != nil {
			return nil, err
		}
		b, err := o.args[1].compute(it)
		if err != nil {
			return nil, err
		}
		for _, v := range []*item.Value{a, b} {
			if v.Kind != item.L {
				return nil, &Error{"Incorrect operand type for operator or function; operator or function: list_append, operand type: " + v.Kind.String()}
			}
		}
		return &item.Value{Kind: item.L, List: append(slices.Clone(a.List), b.List...)}, nil
	}
	v := resolve(it, o.path)
	if v == nil {
		return nil, &Error{"The provided expression refers to an attribute that does not exist in the item"}
	}
	return v, nil
}

// arith adds or subtracts two numbers.
func arith(op, a, b string) (*item.Value, error) {
	x, _, err := apd.NewFromString(a)
	if err != nil {
		return nil, &Error{"A value provided cannot be converted into a number"}
	}
	y, _, err := apd.NewFromString(b)
	if err != nil {
		return nil, &Error{"A value provided cannot be converted into a number"}
	}
	ctx := apd.BaseContext.WithPrecision(39)
	var r apd.Decimal
	if op == "+" {
		_, err = ctx.Add(&r, x, y)
	} else {
		_, err = ctx.Sub(&r, x, y)
	}
	if err != nil {
		return nil, &Error{err.Error()}
	}
	n, verr := item.Number(r.Text('f'))
	if verr != nil {
		return nil, &Error{verr.Error()}
	}
	return &item.Value{Kind: item.N, Str: n}, nil
}

// apply performs one action on out.
func (a *action) apply(out item.Item, v *item.Value) error {
	parent, last, err := holder(out, a.path)
	if err != nil {
		return err
	}
	cur := get(parent, out, last)
	switch a.verb {
	case "SET":
		return put(parent, out, last, v.Clone())
	case "REMOVE":
		remove(parent, out, last)
		return nil
	case "ADD":
		add := a.value.value
		switch {
		case cur == nil:
			return put(parent, out, last, add.Clone())
		case add.Kind == item.N && cur.Kind == item.N:
			sum, err := arith("+", cur.Str, add.Str)
			if err != nil {
				return err
			}
			return put(parent, out, last, sum)
		case add.Kind == cur.Kind && add.Set != nil:
			merged := cur.Clone()
			for _, s := range add.Set {
				if !slices.Contains(merged.Set, s) {
					merged.Set = append(merged.Set, s)
				}
			}
			return put(parent, out, last, merged)
		}
		return &Error{"An operand in the update expression has an incorrect data type"}
	case "DELETE":
		del := a.value.value
		if cur == nil {
			return nil
		}
		if cur.Kind != del.Kind {
			return &Error{"An operand in the update expression has an incorrect data type"}
		}
		kept := cur.Clone()
		kept.Set = slices.DeleteFunc(kept.Set, func(s string) bool { return slices.Contains(del.Set, s) })
		if len(kept.Set) == 0 {
			remove(parent, out, last)
			return nil
		}
		return put(parent, out, last, kept)
	}
	return nil
}

// holder finds the map or list holding path p's last element (nil for
// the item itself). A path through something missing is refused.
func holder(it item.Item, p Path) (*item.Value, PathElem, error) {
	if len(p) == 1 {
		return nil, p[0], nil
	}
	v := it[p[0].Name]
	for _, e := range p[1 : len(p)-1] {
		switch {
		case v == nil:
		case e.IsIndex && v.Kind == item.L && e.Index < len(v.List):
			v = v.List[e.Index]
			continue
		case !e.IsIndex && v.Kind == item.M:
			v = v.Map[e.Name]
			continue
		}
		v = nil
		break
	}
	last := p[len(p)-1]
	if v == nil || (last.IsIndex && v.Kind != item.L) || (!last.IsIndex && v.Kind != item.M) {
		return nil, last, &Error{"The document path provided in the update expression is invalid for update"}
	}
	return v, last, nil
}

func get(parent *item.Value, it item.Item, e PathElem) *item.Value {
	switch {
	case parent == nil:
		return it[e.Name]
	case e.IsIndex:
		if e.Index < len(parent.List) {
			return parent.List[e.Index]
		}
		return nil
	}
	return parent.Map[e.Name]
}

func put(parent *item.Value, it item.Item, e PathElem, v *item.Value) error {
	switch {
	case parent == nil:
		it[e.Name] = v
	case e.IsIndex:
		if e.Index < len(parent.List) {
			parent.List[e.Index] = v
		} else {
			parent.List = append(parent.List, v) // past the end: appended
		}
	default:
		parent.Map[e.Name] = v
	}
	return nil
}

func remove(parent *item.Value, it item.Item, e PathElem) {
	switch {
	case parent == nil:
		delete(it, e.Name)
	case e.IsIndex:
		if e.Index < len(parent.List) {
			parent.List = slices.Delete(parent.List, e.Index, e.Index+1)
		}
	default:
		delete(parent.Map, e.Name)
	}
}
