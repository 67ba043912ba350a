package itemexpr

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/aloft-dev/aloft/internal/item"
)

// Params are a request's ExpressionAttributeNames and
// ExpressionAttributeValues, shared by its expressions, which note which
// ones they use.
type Params struct {
	Names  map[string]string
	Values map[string]*item.Value
	usedN  map[string]bool
	usedV  map[string]bool
}

// Unused refuses placeholders no expression of the request used, as
// DynamoDB does; call it once every expression is parsed.
func (p *Params) Unused() error {
	var names, values []string
	for k := range p.Names {
		if !p.usedN[k] {
			names = append(names, k)
		}
	}
	for k := range p.Values {
		if !p.usedV[k] {
			values = append(values, k)
		}
	}
	slices.Sort(names)
	slices.Sort(values)
	if len(names) > 0 {
		return &Error{"Value provided in ExpressionAttributeNames unused in expressions: keys: {" + strings.Join(names, ", ") + "}"}
	}
	if len(values) > 0 {
		return &Error{"Value provided in ExpressionAttributeValues unused in expressions: keys: {" + strings.Join(values, ", ") + "}"}
	}
	return nil
}

// PathElem is one step of a document path: an attribute or map key by
// name, or a list element by index.
type PathElem struct {
	Name    string
	Index   int
	IsIndex bool
}

// Path is a document path.
type Path []PathElem

func (p Path) String() string {
	var b strings.Builder
	for i, e := range p {
		switch {
		case e.IsIndex:
			fmt.Fprintf(&b, "[%d]", e.Index)
		case i > 0:
			b.WriteString(", " + e.Name)
		default:
			b.WriteString(e.Name)
		}
	}
	return "[" + b.String() + "]"
}

// operand is a value in an expression: a path, a :value, a function
// (size, if_not_exists, list_append) or an arithmetic sum (+, -).
type operand struct {
	path  Path
	value *item.Value
	fn    string
	args  []*operand
	arith string
}

// cond is a condition: and, or, not, a comparison, BETWEEN, IN or a
// boolean function.
type cond struct {
	op   string // "and", "or", "not", "cmp", "between", "in", "fn"
	cmp  string // the comparator of "cmp", the function of "fn"
	kids []*cond
	args []*operand
}

// parser reads one expression.
type parser struct {
	src  string
	toks []token
	i    int
	p    *Params
}

func newParser(src string, p *Params) (*parser, error) {
	if strings.TrimSpace(src) == "" {
		return nil, &Error{"The expression can not be empty;"}
	}
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	if p.usedN == nil {
		p.usedN, p.usedV = map[string]bool{}, map[string]bool{}
	}
	return &parser{src: src, toks: toks, p: p}, nil
}

func (ps *parser) peek() token { return ps.toks[ps.i] }

func (ps *parser) next() token {
	t := ps.toks[ps.i]
	if t.kind != "eof" {
		ps.i++
	}
	return t
}

func (ps *parser) fail() *Error {
	t := ps.peek()
	return syntaxError(ps.src, t.pos, t.text)
}

// keyword reports whether the next token is word (any case), taking it.
func (ps *parser) keyword(word string) bool {
	t := ps.peek()
	if t.kind == "name" && strings.EqualFold(t.text, word) {
		ps.i++
		return true
	}
	return false
}

func (ps *parser) expect(kind string) error {
	if ps.peek().kind != kind {
		return ps.fail()
	}
	ps.i++
	return nil
}

func (ps *parser) end() error {
	if ps.peek().kind != "eof" {
		return ps.fail()
	}
	return nil
}

// path reads a document path.
func (ps *parser) path() (Path, error) {
	var out Path
	name, err := ps.name()
	if err != nil {
		return nil, err
	}
	out = append(out, PathElem{Name: name})
	for {
		switch ps.peek().kind {
		case ".":
			ps.i++
			name, err := ps.name()
			if err != nil {
				return nil, err
			}
			out = append(out, PathElem{Name: name})
		case "[":
			ps.i++
			t := ps.next()
			if t.kind != "num" {
				return nil, syntaxError(ps.src, t.pos, t.text)
			}
			n, err := strconv.Atoi(t.text)
			if err != nil {
				return nil, syntaxError(ps.src, t.pos, t.text)
			}
			if err := ps.expect("]"); err != nil {
				return nil, err
			}
			out = append(out, PathElem{Index: n, IsIndex: true})
		default:
			return out, nil
		}
	}
}

// name reads an attribute name: a bare name that is no reserved word,
// or a #placeholder that is defined.
func (ps *parser) name() (string, error) {
	t := ps.next()
	switch t.kind {
	case "name":
		if reserved[strings.ToUpper(t.text)] {
			return "", &Error{"Attribute name is a reserved keyword; reserved keyword: " + t.text}
		}
		return t.text, nil
	case "#":
		n, ok := ps.p.Names[t.text]
		if !ok {
			return "", &Error{"An expression attribute name used in the document path is not defined; attribute name: " + t.text}
		}
		ps.p.usedN[t.text] = true
		return n, nil
	}
	return "", syntaxError(ps.src, t.pos, t.text)
}

// value reads a :value that is defined.
func (ps *parser) value() (*item.Value, error) {
	t := ps.next()
	if t.kind != ":" {
		return nil, syntaxError(ps.src, t.pos, t.text)
	}
	v, ok := ps.p.Values[t.text]
	if !ok {
		return nil, &Error{"An expression attribute value used in expression is not defined; attribute value: " + t.text}
	}
	ps.p.usedV[t.text] = true
	return v, nil
}

// operand reads an operand of a condition: a path, a :value or size().
func (ps *parser) operand() (*operand, error) {
	t := ps.peek()
	switch {
	case t.kind == ":":
		v, err := ps.value()
		return &operand{value: v}, err
	case t.kind == "name" && t.text == "size" && ps.toks[ps.i+1].kind == "(":
		ps.i += 2
		p, err := ps.path()
		if err != nil {
			return nil, err
		}
		if err := ps.expect(")"); err != nil {
			return nil, err
		}
		return &operand{fn: "size", args: []*operand{{path: p}}}, nil
	case t.kind == "name" && ps.toks[ps.i+1].kind == "(":
		return nil, &Error{"Invalid function name; function: " + t.text}
	}
	p, err := ps.path()
	return &operand{path: p}, err
}

// condition reads OR of ANDs of NOTs of primaries.
func (ps *parser) condition() (*cond, error) {
	left, err := ps.and()
	if err != nil {
		return nil, err
	}
	for ps.keyword("OR") {
		right, err := ps.and()
		if err != nil {
			return nil, err
		}
		left = &cond{op: "or", kids: []*cond{left, right}}
	}
	return left, nil
}

func (ps *parser) and() (*cond, error) {
	left, err := ps.not()
	if err != nil {
		return nil, err
	}
	for ps.keyword("AND") {
		right, err := ps.not()
		if err != nil {
			return nil, err
		}
		left = &cond{op: "and", kids: []*cond{left, right}}
	}
	return left, nil
}

func (ps *parser) not() (*cond, error) {
	if ps.keyword("NOT") {
		c, err := ps.not()
		if err != nil {
			return nil, err
		}
		return &cond{op: "not", kids: []*cond{c}}, nil
	}
	return ps.primary()
}

// boolFuncs are the functions that are conditions, with their arities.
var boolFuncs = map[string]int{"attribute_exists": 1, "attribute_not_exists": 1, "attribute_type": 2, "begins_with": 2, "contains": 2}

func (ps *parser) primary() (*cond, error) {
	t := ps.peek()
	if t.kind == "(" {
		ps.i++
		c, err := ps.condition()
		if err != nil {
			return nil, err
		}
		if err := ps.expect(")"); err != nil {
			return nil, err
		}
		return c, nil
	}
	if n, ok := boolFuncs[t.text]; ok && t.kind == "name" && ps.toks[ps.i+1].kind == "(" {
		ps.i += 2
		p, err := ps.path()
		if err != nil {
			return nil, err
		}
		c := &cond{op: "fn", cmp: t.text, args: []*operand{{path: p}}}
		for range n - 1 {
			if err := ps.expect(","); err != nil {
				return nil, err
			}
			o, err := ps.operand()
			if err != nil {
				return nil, err
			}
			c.args = append(c.args, o)
		}
		if err := ps.expect(")"); err != nil {
			return nil, err
		}
		if t.text == "attribute_type" {
			if v := c.args[1].value; v == nil || v.Kind != item.S {
				return nil, &Error{"Incorrect operand type for operator or function; operator or function: attribute_type, operand type: " + kindOf(c.args[1])}
			} else if _, ok := item.KindNamed(v.Str); !ok {
				return nil, &Error{"Invalid attribute type name found; type: " + v.Str + ", valid types: { B,NULL,SS,BOOL,L,BS,N,NS,S,M }"}
			}
		}
		return c, nil
	}
	left, err := ps.operand()
	if err != nil {
		return nil, err
	}
	switch {
	case ps.peek().kind == "op" && ps.peek().text != "+" && ps.peek().text != "-":
		op := ps.next().text
		right, err := ps.operand()
		if err != nil {
			return nil, err
		}
		return &cond{op: "cmp", cmp: op, args: []*operand{left, right}}, nil
	case ps.keyword("BETWEEN"):
		lo, err := ps.operand()
		if err != nil {
			return nil, err
		}
		if !ps.keyword("AND") {
			return nil, ps.fail()
		}
		hi, err := ps.operand()
		if err != nil {
			return nil, err
		}
		if lo.value != nil && hi.value != nil {
			if c, ok := item.Compare(lo.value, hi.value); ok && c > 0 {
				return nil, &Error{"The BETWEEN operator requires upper bound to be greater than or equal to lower bound; lower operand: " + show(lo.value) + ", upper operand: " + show(hi.value)}
			}
		}
		return &cond{op: "between", args: []*operand{left, lo, hi}}, nil
	case ps.keyword("IN"):
		if err := ps.expect("("); err != nil {
			return nil, err
		}
		c := &cond{op: "in", args: []*operand{left}}
		for {
			o, err := ps.operand()
			if err != nil {
				return nil, err
			}
			c.args = append(c.args, o)
			if ps.peek().kind == "," {
				ps.i++
				continue
			}
			break
		}
		if err := ps.expect(")"); err != nil {
			return nil, err
		}
		if len(c.args) > 101 {
			return nil, &Error{"The IN operator is provided with too many operands; number of operands: " + strconv.Itoa(len(c.args)-1)}
		}
		return c, nil
	}
	return nil, ps.fail()
}

func kindOf(o *operand) string {
	if o.value != nil {
		return o.value.Kind.String()
	}
	return "PATH"
}

// show writes a value as DynamoDB's messages do: {S:x}.
func show(v *item.Value) string {
	switch v.Kind {
	case item.S, item.N:
		return "{" + v.Kind.String() + ":" + v.Str + "}"
	}
	return "{" + v.Kind.String() + "}"
}
