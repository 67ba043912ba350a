package metrics

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Metric math: the expressions of GetMetricData. An expression combines
// the queries' series (by their Id), numbers, the arithmetic operators
// + - * / ^ (series with series by timestamp, series with numbers point
// by point) and these functions:
//
//	SUM, AVG, MIN, MAX  of an array of series: one series, per timestamp;
//	                    of one series: a number (over all its points)
//	METRICS()           every metric query's series; METRICS("s"), those
//	                    whose Id or label contains s
//	FILL(x, v)          x with v at every period it has no value for
//	RATE(x), DIFF(x)    change per second, and change, from each point
//	                    to the next
//	ABS(x)              absolute values

// expr is a parsed expression.
type expr interface{}

type (
	numExpr   float64
	strExpr   string
	refExpr   string
	unaryExpr struct{ x expr }
	binExpr   struct {
		op   byte
		l, r expr
	}
	callExpr struct {
		fn   string
		args []expr
	}
)

// parser reads one expression.
type parser struct {
	s   string
	pos int
}

func parseExpr(s string) (expr, error) {
	p := &parser{s: s}
	e, err := p.sum()
	if err != nil {
		return nil, err
	}
	p.space()
	if p.pos != len(p.s) {
		return nil, fmt.Errorf("unexpected %q at position %d", p.s[p.pos:], p.pos+1)
	}
	return e, nil
}

func (p *parser) space() {
	for p.pos < len(p.s) && (p.s[p.pos] == ' ' || p.s[p.pos] == '\t' || p.s[p.pos] == '\n') {
		p.pos++
	}
}

func (p *parser) peek() byte {
	p.space()
	if p.pos < len(p.s) {
		return p.s[p.pos]
	}
	return 0
}

func (p *parser) sum() (expr, error) {
	l, err := p.product()
	if err != nil {
		return nil, err
	}
	for c := p.peek(); c == '+' || c == '-'; c = p.peek() {
		p.pos++
		r, err := p.product()
		if err != nil {
			return nil, err
		}
		l = binExpr{c, l, r}
	}
	return l, nil
}

func (p *parser) product() (expr, error) {
	l, err := p.unary()
	if err != nil {
		return nil, err
	}
	for c := p.peek(); c == '*' || c == '/'; c = p.peek() {
		p.pos++
		r, err := p.unary()
		if err != nil {
			return nil, err
		}
		l = binExpr{c, l, r}
	}
	return l, nil
}

func (p *parser) unary() (expr, error) {
	if p.peek() == '-' {
		p.pos++
		x, err := p.unary()
		if err != nil {
			return nil, err
		}
		return unaryExpr{x}, nil
	}
	base, err := p.primary()
	if err != nil {
		return nil, err
	}
	if p.peek() == '^' {
		p.pos++
		exp, err := p.unary()
		if err != nil {
			return nil, err
		}
		return binExpr{'^', base, exp}, nil
	}
	return base, nil
}

func (p *parser) primary() (expr, error) {
	c := p.peek()
	switch {
	case c == 0:
		return nil, fmt.Errorf("the expression ends where a value was expected")
	case c == '(':
		p.pos++
		e, err := p.sum()
		if err != nil {
			return nil, err
		}
		if p.peek() != ')' {
			return nil, fmt.Errorf("missing ) at position %d", p.pos+1)
		}
		p.pos++
		return e, nil
	case c == '"' || c == '\'':
		end := strings.IndexByte(p.s[p.pos+1:], c)
		if end < 0 {
			return nil, fmt.Errorf("unterminated string at position %d", p.pos+1)
		}
		s := p.s[p.pos+1 : p.pos+1+end]
		p.pos += end + 2
		return strExpr(s), nil
	case c >= '0' && c <= '9' || c == '.':
		start := p.pos
		for p.pos < len(p.s) && (p.s[p.pos] >= '0' && p.s[p.pos] <= '9' || p.s[p.pos] == '.' || p.s[p.pos] == 'e' || p.s[p.pos] == 'E' ||
			(p.pos > start && (p.s[p.pos] == '-' || p.s[p.pos] == '+') && (p.s[p.pos-1] == 'e' || p.s[p.pos-1] == 'E'))) {
			p.pos++
		}
		f, err := strconv.ParseFloat(p.s[start:p.pos], 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not a number", p.s[start:p.pos])
		}
		return numExpr(f), nil
	case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
		start := p.pos
		for p.pos < len(p.s) && (p.s[p.pos] >= 'a' && p.s[p.pos] <= 'z' || p.s[p.pos] >= 'A' && p.s[p.pos] <= 'Z' ||
			p.s[p.pos] >= '0' && p.s[p.pos] <= '9' || p.s[p.pos] == '_') {
			p.pos++
		}
		name := p.s[start:p.pos]
		if p.peek() != '(' {
			return refExpr(name), nil
		}
		p.pos++
		call := callExpr{fn: name}
		if p.peek() == ')' {
			p.pos++
			return call, nil
		}
		for {
			a, err := p.sum()
			if err != nil {
				return nil, err
			}
			call.args = append(call.args, a)
			switch p.peek() {
			case ',':
				p.pos++
				continue
			case ')':
				p.pos++
				return call, nil
			}
			return nil, fmt.Errorf("expected , or ) at position %d", p.pos+1)
		}
	}
	return nil, fmt.Errorf("unexpected %q at position %d", string(c), p.pos+1)
}

// timeSeries is a time series: values by unix second.
type timeSeries struct {
	id, label string
	pts       map[int64]float64
}

// value is what an expression evaluates to: a number, one series or an
// array of series.
type value struct {
	num   float64
	one   *timeSeries
	arr   []*timeSeries
	isNum bool
	isArr bool
}

// env is what expressions are evaluated against.
type env struct {
	ref     func(id string) (value, error)
	metrics []*timeSeries // the metric queries' series, for METRICS()
	grid    []int64       // the timestamps of the result's periods
}

func (en *env) eval(e expr) (value, error) {
	switch e := e.(type) {
	case numExpr:
		return value{num: float64(e), isNum: true}, nil
	case strExpr:
		return value{}, fmt.Errorf("a string (%q) is only an argument of METRICS", string(e))
	case refExpr:
		return en.ref(string(e))
	case unaryExpr:
		x, err := en.eval(e.x)
		if err != nil {
			return value{}, err
		}
		return apply(x, value{num: -1, isNum: true}, '*')
	case binExpr:
		l, err := en.eval(e.l)
		if err != nil {
			return value{}, err
		}
		r, err := en.eval(e.r)
		if err != nil {
			return value{}, err
		}
		return apply(l, r, e.op)
	case callExpr:
		return en.call(e)
	}
	return value{}, fmt.Errorf("unknown expression")
}

func arith(a, b float64, op byte) float64 {
	switch op {
	case '+':
		return a + b
	case '-':
		return a - b
	case '*':
		return a * b
	case '/':
		return a / b
	}
	return math.Pow(a, b)
}

// apply combines l and r with op.
func apply(l, r value, op byte) (value, error) {
	switch {
	case l.isNum && r.isNum:
		return value{num: arith(l.num, r.num, op), isNum: true}, nil
	case l.isArr && r.isArr:
		return value{}, fmt.Errorf("an operator cannot combine two arrays of series")
	case l.isArr || r.isArr:
		arr, other, left := l.arr, r, true
		if r.isArr {
			arr, other, left = r.arr, l, false
		}
		out := value{isArr: true}
		for _, s := range arr {
			var v value
			var err error
			if left {
				v, err = apply(value{one: s}, other, op)
			} else {
				v, err = apply(other, value{one: s}, op)
			}
			if err != nil {
				return value{}, err
			}
			v.one.id, v.one.label = s.id, s.label
			out.arr = append(out.arr, v.one)
		}
		return out, nil
	}
	out := &timeSeries{pts: map[int64]float64{}}
	switch {
	case l.isNum:
		out.label = r.one.label
		for t, v := range r.one.pts {
			out.pts[t] = arith(l.num, v, op)
		}
	case r.isNum:
		out.label = l.one.label
		for t, v := range l.one.pts {
			out.pts[t] = arith(v, r.num, op)
		}
	default:
		for t, v := range l.one.pts {
			if w, ok := r.one.pts[t]; ok {
				out.pts[t] = arith(v, w, op)
			}
		}
	}
	return value{one: out}, nil
}

func (en *env) call(c callExpr) (value, error) {
	args := make([]value, 0, len(c.args))
	if c.fn == "METRICS" {
		filter := ""
		if len(c.args) > 1 {
			return value{}, fmt.Errorf("METRICS takes at most one argument")
		}
		if len(c.args) == 1 {
			s, ok := c.args[0].(strExpr)
			if !ok {
				return value{}, fmt.Errorf("the argument of METRICS must be a string")
			}
			filter = string(s)
		}
		out := value{isArr: true}
		for _, s := range en.metrics {
			if filter == "" || strings.Contains(s.id, filter) || strings.Contains(s.label, filter) {
				out.arr = append(out.arr, s)
			}
		}
		return out, nil
	}
	for _, a := range c.args {
		v, err := en.eval(a)
		if err != nil {
			return value{}, err
		}
		args = append(args, v)
	}
	want := 1
	if c.fn == "FILL" {
		want = 2
	}
	if len(args) != want {
		return value{}, fmt.Errorf("%s takes %d argument(s), not %d", c.fn, want, len(args))
	}
	x := args[0]
	switch c.fn {
	case "SUM", "AVG", "MIN", "MAX":
		return reduce(c.fn, x), nil
	case "FILL":
		if !args[1].isNum {
			return value{}, fmt.Errorf("the second argument of FILL must be a number")
		}
		return each(x, func(s *timeSeries) *timeSeries {
			out := &timeSeries{id: s.id, label: s.label, pts: map[int64]float64{}}
			for _, t := range en.grid {
				if v, ok := s.pts[t]; ok {
					out.pts[t] = v
				} else {
					out.pts[t] = args[1].num
				}
			}
			return out
		})
	case "RATE", "DIFF":
		return each(x, func(s *timeSeries) *timeSeries {
			out := &timeSeries{id: s.id, label: s.label, pts: map[int64]float64{}}
			ts := sortedTimes(s.pts)
			for i := 1; i < len(ts); i++ {
				d := s.pts[ts[i]] - s.pts[ts[i-1]]
				if c.fn == "RATE" {
					d /= float64(ts[i] - ts[i-1])
				}
				out.pts[ts[i]] = d
			}
			return out
		})
	case "ABS":
		if x.isNum {
			return value{num: math.Abs(x.num), isNum: true}, nil
		}
		return each(x, func(s *timeSeries) *timeSeries {
			out := &timeSeries{id: s.id, label: s.label, pts: map[int64]float64{}}
			for t, v := range s.pts {
				out.pts[t] = math.Abs(v)
			}
			return out
		})
	}
	return value{}, fmt.Errorf("the function %s is not supported", c.fn)
}

// each applies fn to a series or to every series of an array.
func each(x value, fn func(*timeSeries) *timeSeries) (value, error) {
	switch {
	case x.isNum:
		return value{}, fmt.Errorf("a function of series was given a number")
	case x.isArr:
		out := value{isArr: true}
		for _, s := range x.arr {
			out.arr = append(out.arr, fn(s))
		}
		return out, nil
	}
	return value{one: fn(x.one)}, nil
}

func fold(fn string, acc, v float64, n int) float64 {
	if n == 0 {
		return v
	}
	switch fn {
	case "MIN":
		return min(acc, v)
	case "MAX":
		return max(acc, v)
	}
	return acc + v // SUM, and AVG before dividing
}

// reduce is SUM, AVG, MIN or MAX of x.
func reduce(fn string, x value) value {
	switch {
	case x.isNum:
		return x
	case !x.isArr:
		var acc float64
		n := 0
		for _, v := range x.one.pts {
			acc = fold(fn, acc, v, n)
			n++
		}
		if n == 0 {
			return value{num: math.NaN(), isNum: true}
		}
		if fn == "AVG" {
			acc /= float64(n)
		}
		return value{num: acc, isNum: true}
	}
	out := &timeSeries{pts: map[int64]float64{}}
	count := map[int64]int{}
	for _, s := range x.arr {
		for t, v := range s.pts {
			out.pts[t] = fold(fn, out.pts[t], v, count[t])
			count[t]++
		}
	}
	if fn == "AVG" {
		for t := range out.pts {
			out.pts[t] /= float64(count[t])
		}
	}
	return value{one: out}
}

func sortedTimes(pts map[int64]float64) []int64 {
	ts := make([]int64, 0, len(pts))
	for t := range pts {
		ts = append(ts, t)
	}
	slices.Sort(ts)
	return ts
}
