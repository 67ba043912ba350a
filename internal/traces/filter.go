package traces

import (
	"fmt"
	"strconv"
	"strings"
)

// Filter is a compiled filter expression: the subset of X-Ray's that
// Aloft evaluates. It supports
//
//	service("name")                      a segment of the trace is named name
//	ok, error, fault, throttle, partial  the trace's flags, alone or = true|false, != ...
//	http.status <op> number              the entry point's response status
//	responsetime <op> number             the entry point's time, in seconds
//	duration <op> number                 the trace's time, in seconds
//	http.url, http.method, http.useragent, http.clientip <sop> "string"
//
// with <op> one of = != < <= > >=, <sop> one of = != CONTAINS BEGINSWITH
// ENDSWITH, combined with AND, OR, ! and parentheses. ParseFilter refuses
// the rest of X-Ray's language (annotations, edges, ids, groups) rather
// than ignore it.
type Filter struct{ root node }

type node interface {
	eval(sum *Summary, segs []fields) bool
}

// ParseFilter compiles a filter expression; an empty one matches every
// trace (nil).
func ParseFilter(expr string) (*Filter, error) {
	if strings.TrimSpace(expr) == "" {
		return nil, nil
	}
	if len(expr) > maxFilter {
		return nil, fmt.Errorf("%w: the filter expression is longer than %d characters", ErrInvalidQuery, maxFilter)
	}
	toks, err := lex(expr)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	n, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.i < len(p.toks) {
		return nil, fmt.Errorf("%w: unexpected %q in the filter expression", ErrInvalidQuery, p.toks[p.i].text)
	}
	return &Filter{root: n}, nil
}

func (f *Filter) match(sum *Summary, segs []fields) bool { return f.root.eval(sum, segs) }

type tokKind uint8

const (
	tIdent tokKind = iota + 1
	tNum
	tStr
	tOp
	tLParen
	tRParen
)

type token struct {
	kind tokKind
	text string
}

func lex(s string) ([]token, error) {
	var out []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(':
			out = append(out, token{tLParen, "("})
			i++
		case c == ')':
			out = append(out, token{tRParen, ")"})
			i++
		case c == '"':
			j := i + 1
			var b strings.Builder
			for ; j < len(s) && s[j] != '"'; j++ {
				if s[j] == '\\' && j+1 < len(s) {
					j++
				}
				b.WriteByte(s[j])
			}
			if j >= len(s) {
				return nil, fmt.Errorf("%w: unterminated string in the filter expression", ErrInvalidQuery)
			}
			out = append(out, token{tStr, b.String()})
			i = j + 1
		case c >= '0' && c <= '9' || c == '.' && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9':
			j := i
			for j < len(s) && (s[j] >= '0' && s[j] <= '9' || s[j] == '.') {
				j++
			}
			out = append(out, token{tNum, s[i:j]})
			i = j
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			j := i
			for j < len(s) && (s[j] == '_' || s[j] == '.' || s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z' || s[j] >= '0' && s[j] <= '9') {
				j++
			}
			out = append(out, token{tIdent, s[i:j]})
			i = j
		default:
			for _, op := range []string{"!=", "<=", ">=", "&&", "||", "=", "<", ">", "!"} {
				if strings.HasPrefix(s[i:], op) {
					out = append(out, token{tOp, op})
					i += len(op)
					goto next
				}
			}
			return nil, fmt.Errorf("%w: unexpected %q in the filter expression", ErrInvalidQuery, string(c))
		next:
		}
	}
	return out, nil
}

// Bounds of a filter expression.
const (
	maxFilter = 4096 // characters
	maxDepth  = 32   // nested parentheses and negations
)

type parser struct {
	toks  []token
	i     int
	depth int
}

func (p *parser) peek() (token, bool) {
	if p.i < len(p.toks) {
		return p.toks[p.i], true
	}
	return token{}, false
}

func (p *parser) isWord(words ...string) bool {
	t, ok := p.peek()
	if !ok {
		return false
	}
	for _, w := range words {
		if (t.kind == tIdent || t.kind == tOp) && strings.EqualFold(t.text, w) {
			return true
		}
	}
	return false
}

func (p *parser) or() (node, error) {
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.isWord("OR", "||") {
		p.i++
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		l = orNode{l, r}
	}
	return l, nil
}

func (p *parser) and() (node, error) {
	l, err := p.unary()
	if err != nil {
		return nil, err
	}
	for p.isWord("AND", "&&") {
		p.i++
		r, err := p.unary()
		if err != nil {
			return nil, err
		}
		l = andNode{l, r}
	}
	return l, nil
}

func (p *parser) unary() (node, error) {
	if p.depth++; p.depth > maxDepth {
		return nil, fmt.Errorf("%w: the filter expression nests deeper than %d", ErrInvalidQuery, maxDepth)
	}
	defer func() { p.depth-- }()
	t, ok := p.peek()
	if !ok {
		return nil, fmt.Errorf("%w: the filter expression ends early", ErrInvalidQuery)
	}
	switch {
	case t.kind == tOp && t.text == "!":
		p.i++
		n, err := p.unary()
		if err != nil {
			return nil, err
		}
		return notNode{n}, nil
	case t.kind == tLParen:
		p.i++
		n, err := p.or()
		if err != nil {
			return nil, err
		}
		if t, ok := p.peek(); !ok || t.kind != tRParen {
			return nil, fmt.Errorf("%w: a parenthesis is not closed in the filter expression", ErrInvalidQuery)
		}
		p.i++
		return n, nil
	case t.kind == tIdent:
		p.i++
		return p.predicate(strings.ToLower(t.text))
	}
	return nil, fmt.Errorf("%w: unexpected %q in the filter expression", ErrInvalidQuery, t.text)
}

func (p *parser) predicate(key string) (node, error) {
	switch key {
	case "service":
		if t, ok := p.peek(); !ok || t.kind != tLParen {
			return nil, fmt.Errorf("%w: service takes a name in parentheses: service(\"name\")", ErrInvalidQuery)
		}
		p.i++
		name, ok := p.peek()
		if !ok || name.kind != tStr {
			return nil, fmt.Errorf("%w: only service(\"name\") is supported of the service keyword's forms", ErrInvalidQuery)
		}
		p.i++
		if t, ok := p.peek(); !ok || t.kind != tRParen {
			return nil, fmt.Errorf("%w: service(\"name\") takes one name", ErrInvalidQuery)
		}
		p.i++
		if t, ok := p.peek(); ok && t.kind == tOp && t.text != "!" && !p.isWord("&&", "||") {
			return nil, fmt.Errorf("%w: service(\"name\") %s is not supported", ErrInvalidQuery, t.text)
		}
		return serviceNode(name.text), nil
	case "ok", "error", "fault", "throttle", "partial":
		want := true
		if t, ok := p.peek(); ok && t.kind == tOp && (t.text == "=" || t.text == "!=") {
			p.i++
			v, ok := p.peek()
			if !ok || v.kind != tIdent || (!strings.EqualFold(v.text, "true") && !strings.EqualFold(v.text, "false")) {
				return nil, fmt.Errorf("%w: %s compares with true or false", ErrInvalidQuery, key)
			}
			p.i++
			want = strings.EqualFold(v.text, "true") == (t.text == "=")
		}
		return flagNode{key, want}, nil
	case "http.status", "responsetime", "duration":
		op, ok := p.peek()
		if !ok || op.kind != tOp || op.text == "!" || op.text == "&&" || op.text == "||" {
			return nil, fmt.Errorf("%w: %s needs a comparison with a number", ErrInvalidQuery, key)
		}
		p.i++
		v, ok := p.peek()
		if !ok || v.kind != tNum {
			return nil, fmt.Errorf("%w: %s compares with a number", ErrInvalidQuery, key)
		}
		p.i++
		n, err := strconv.ParseFloat(v.text, 64)
		if err != nil {
			return nil, fmt.Errorf("%w: %q is not a number", ErrInvalidQuery, v.text)
		}
		return numNode{key, op.text, n}, nil
	case "http.url", "http.method", "http.useragent", "http.clientip":
		op, ok := p.peek()
		if !ok || !(op.kind == tOp && (op.text == "=" || op.text == "!=") || p.isWord("CONTAINS", "BEGINSWITH", "ENDSWITH")) {
			return nil, fmt.Errorf("%w: %s compares with =, !=, CONTAINS, BEGINSWITH or ENDSWITH", ErrInvalidQuery, key)
		}
		p.i++
		v, ok := p.peek()
		if !ok || v.kind != tStr {
			return nil, fmt.Errorf("%w: %s compares with a string in double quotes", ErrInvalidQuery, key)
		}
		p.i++
		return strNode{key, strings.ToUpper(op.text), v.text}, nil
	}
	return nil, fmt.Errorf("%w: the filter keyword %q is not supported; supported: service(\"name\"), ok, error, fault, throttle, partial, http.status, http.url, http.method, http.useragent, http.clientip, responsetime, duration",
		ErrInvalidQuery, key)
}

type orNode struct{ l, r node }

func (n orNode) eval(s *Summary, f []fields) bool { return n.l.eval(s, f) || n.r.eval(s, f) }

type andNode struct{ l, r node }

func (n andNode) eval(s *Summary, f []fields) bool { return n.l.eval(s, f) && n.r.eval(s, f) }

type notNode struct{ n node }

func (n notNode) eval(s *Summary, f []fields) bool { return !n.n.eval(s, f) }

type serviceNode string

func (n serviceNode) eval(_ *Summary, segs []fields) bool {
	for i := range segs {
		if segs[i].Type != subsegmentTyp && segs[i].Name == string(n) {
			return true
		}
	}
	return false
}

type flagNode struct {
	key  string
	want bool
}

func (n flagNode) eval(s *Summary, _ []fields) bool {
	var v bool
	switch n.key {
	case "ok":
		v = !s.HasError && !s.HasFault && !s.HasThrottle
	case "error":
		v = s.HasError
	case "fault":
		v = s.HasFault
	case "throttle":
		v = s.HasThrottle
	case "partial":
		v = s.IsPartial
	}
	return v == n.want
}

type numNode struct {
	key, op string
	n       float64
}

func (n numNode) eval(s *Summary, _ []fields) bool {
	var v float64
	switch n.key {
	case "http.status":
		if s.HTTP == nil || s.HTTP.Response == nil || s.HTTP.Response.Status == 0 {
			return false
		}
		v = float64(s.HTTP.Response.Status)
	case "responsetime":
		v = s.ResponseTime
	case "duration":
		v = s.Duration
	}
	switch n.op {
	case "=":
		return v == n.n
	case "!=":
		return v != n.n
	case "<":
		return v < n.n
	case "<=":
		return v <= n.n
	case ">":
		return v > n.n
	case ">=":
		return v >= n.n
	}
	return false
}

type strNode struct{ key, op, s string }

func (n strNode) eval(s *Summary, _ []fields) bool {
	if s.HTTP == nil || s.HTTP.Request == nil {
		return false
	}
	var v string
	switch n.key {
	case "http.url":
		v = s.HTTP.Request.URL
	case "http.method":
		v = s.HTTP.Request.Method
	case "http.useragent":
		v = s.HTTP.Request.UserAgent
	case "http.clientip":
		v = s.HTTP.Request.ClientIP
	}
	switch n.op {
	case "=":
		return v == n.s
	case "!=":
		return v != n.s
	case "CONTAINS":
		return strings.Contains(v, n.s)
	case "BEGINSWITH":
		return strings.HasPrefix(v, n.s)
	case "ENDSWITH":
		return strings.HasSuffix(v, n.s)
	}
	return false
}
