package schedule

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/cronexpr"
)

// Cron is a parsed cron(Minutes Hours Day-of-month Month Day-of-week Year)
// expression. It fires at second 0 of every matching minute of its time
// zone's wall clock; see the package documentation for daylight-saving
// changes.
//
// Every field takes lists, ranges, * and steps (n/s, a-b/s, */s). Exactly
// one of day-of-month and day-of-week must be ?. Day-of-month also takes L,
// LW or nW, each standing alone; day-of-week takes L (Saturday), nL (last
// such day of the month) or n#k (k-th such day, k 1-5), each standing alone.
// Months are 1-12 or JAN-DEC, days of the week 1-7 or SUN-SAT with Sunday 1,
// years 1970-2199; names are case-insensitive. A range written backwards
// wraps around in minutes, hours, month and day-of-week (FRI-MON) and is an
// error in day-of-month and year.
//
// Fire times are computed up to the end of 2099: years 2100-2199 are
// accepted, as AWS accepts them, but never reached.
type Cron struct {
	text string
	loc  *time.Location

	// mu serialises expr.Next, which keeps scratch state in the Expression.
	mu   sync.Mutex
	expr *cronexpr.Expression // nil when no listed year is computable
}

// Location returns the time zone the expression is evaluated in.
func (c *Cron) Location() *time.Location { return c.loc }

// String returns the expression with single spaces between fields and names
// in upper case.
func (c *Cron) String() string { return "cron(" + c.text + ")" }

// Next returns the first fire time strictly after t, in the expression's
// location, or the zero Time if the expression never fires again.
func (c *Cron) Next(t time.Time) time.Time {
	if c.expr == nil {
		return time.Time{}
	}
	w := wallOf(t, c.loc)
	if floor := time.Date(1969, 12, 31, 23, 59, 59, 0, time.UTC); w.Before(floor) {
		w = floor
	}
	// Walk the matching wall-clock readings in order. A reading the clocks
	// skip has no instant; a reading whose earliest instant is not after t
	// has already fired (this is how a repeated hour fires only once).
	for {
		c.mu.Lock()
		w = c.expr.Next(w)
		c.mu.Unlock()
		if w.IsZero() {
			return w
		}
		if inst, ok := resolve(w, c.loc); ok && inst.After(t) {
			return inst
		}
	}
}

// lastComputableYear is the last year the cron evaluator supports.
const lastComputableYear = 2099

type fieldSpec struct {
	name     string
	min, max int
	names    map[string]int // accepted names, upper case
	cyclic   bool           // a range may wrap from max back to min
}

var (
	minutesField = fieldSpec{name: "minutes", min: 0, max: 59, cyclic: true}
	hoursField   = fieldSpec{name: "hours", min: 0, max: 23, cyclic: true}
	domField     = fieldSpec{name: "day-of-month", min: 1, max: 31}
	monthField   = fieldSpec{name: "month", min: 1, max: 12, cyclic: true, names: map[string]int{
		"JAN": 1, "FEB": 2, "MAR": 3, "APR": 4, "MAY": 5, "JUN": 6,
		"JUL": 7, "AUG": 8, "SEP": 9, "OCT": 10, "NOV": 11, "DEC": 12,
	}}
	dowField = fieldSpec{name: "day-of-week", min: 1, max: 7, cyclic: true, names: map[string]int{
		"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7,
	}}
	yearField = fieldSpec{name: "year", min: 1970, max: 2199}
)

// parseCron parses the text between "cron(" and ")".
func parseCron(inner string, loc *time.Location) (Expr, string) {
	f := strings.Fields(inner)
	if len(f) != 6 {
		return nil, fmt.Sprintf("cron: want 6 fields (minutes hours day-of-month month day-of-week year), got %d", len(f))
	}
	for i := range f {
		f[i] = strings.ToUpper(f[i])
	}
	switch domAny, dowAny := f[2] == "?", f[4] == "?"; {
	case domAny && dowAny:
		return nil, `cron: day-of-month and day-of-week cannot both be "?"`
	case !domAny && !dowAny:
		return nil, `cron: one of day-of-month and day-of-week must be "?"`
	}
	lib, ok, err := translate(f)
	if err != nil {
		return nil, err.Error()
	}
	c := &Cron{text: strings.Join(f, " "), loc: loc}
	if ok {
		if c.expr, err = cronexpr.Parse(lib); err != nil {
			// translate only emits syntax the evaluator reads.
			return nil, fmt.Sprintf("cron: internal translation %q rejected: %v", lib, err)
		}
	}
	return c, ""
}

// translate validates the six upper-cased AWS fields and rewrites them for
// the cron evaluator: numbers only, and day-of-week shifted from AWS's 1-7
// (Sunday = 1) to the evaluator's 0-6 (Sunday = 0). ok is false when none of
// the listed years is computable.
func translate(f []string) (lib string, ok bool, err error) {
	mins, err := parseList(minutesField, f[0])
	if err != nil {
		return "", false, err
	}
	hours, err := parseList(hoursField, f[1])
	if err != nil {
		return "", false, err
	}
	dom, err := translateDOM(f[2])
	if err != nil {
		return "", false, err
	}
	months, err := parseList(monthField, f[3])
	if err != nil {
		return "", false, err
	}
	dow, err := translateDOW(f[4])
	if err != nil {
		return "", false, err
	}
	years, err := parseList(yearField, f[5])
	if err != nil {
		return "", false, err
	}
	years = slices.DeleteFunc(years, func(y int) bool { return y > lastComputableYear })
	if len(years) == 0 {
		return "", false, nil
	}
	lib = strings.Join([]string{
		joinInts(mins, 0), joinInts(hours, 0), dom, joinInts(months, 0), dow, joinInts(years, 0),
	}, " ")
	return lib, true, nil
}

// translateDOM handles ?, L, LW, nW and plain lists in day-of-month.
func translateDOM(s string) (string, error) {
	switch {
	case s == "?":
		return "*", nil
	case s == "L" || s == "LW":
		return s, nil
	case strings.HasPrefix(s, "L-"):
		return "", fmt.Errorf("cron: day-of-month %q: offsets from the last day (L-n) are not supported", s)
	case strings.ContainsAny(s, "LW") && strings.Contains(s, ","):
		return "", fmt.Errorf("cron: day-of-month %q: L and W must stand alone, not in a list", s)
	case strings.HasSuffix(s, "W"):
		d, err := parseValue(domField, s[:len(s)-1], s)
		if err != nil {
			return "", err
		}
		return strconv.Itoa(d) + "W", nil
	}
	days, err := parseList(domField, s)
	if err != nil {
		return "", err
	}
	return joinInts(days, 0), nil
}

// translateDOW handles ?, L, nL, n#k and plain lists in day-of-week.
func translateDOW(s string) (string, error) {
	switch {
	case s == "?":
		return "*", nil
	case s == "L": // by itself, the last day of the week: Saturday
		return "6", nil
	case strings.Contains(s, "#"):
		if strings.Contains(s, ",") {
			return "", fmt.Errorf(`cron: day-of-week %q: only one "#" expression is allowed`, s)
		}
		day, nth, _ := strings.Cut(s, "#")
		d, err := parseValue(dowField, day, s)
		if err != nil {
			return "", err
		}
		k, err := strconv.Atoi(nth)
		if err != nil || !isDigits(nth) || k < 1 || k > 5 {
			return "", fmt.Errorf("cron: day-of-week %q: occurrence %q out of range 1-5", s, nth)
		}
		return strconv.Itoa(d-1) + "#" + strconv.Itoa(k), nil
	case strings.Contains(s, "L") && strings.Contains(s, ","):
		return "", fmt.Errorf("cron: day-of-week %q: L must stand alone, not in a list", s)
	case strings.HasSuffix(s, "L"):
		d, err := parseValue(dowField, s[:len(s)-1], s)
		if err != nil {
			return "", err
		}
		return strconv.Itoa(d-1) + "L", nil
	}
	days, err := parseList(dowField, s)
	if err != nil {
		return "", err
	}
	return joinInts(days, -1), nil
}

// parseList parses a comma-separated list of *, n, a-b, */s, n/s and a-b/s
// items into the sorted set of values it selects.
func parseList(spec fieldSpec, s string) ([]int, error) {
	size := spec.max - spec.min + 1
	seen := make([]bool, size)
	for _, item := range strings.Split(s, ",") {
		base, stepText, stepped := strings.Cut(item, "/")
		step := 1
		if stepped {
			n, err := strconv.Atoi(stepText)
			if err != nil || !isDigits(stepText) || n < 1 || n > size {
				return nil, fmt.Errorf("cron: %s %q: step %q out of range 1-%d", spec.name, s, stepText, size)
			}
			step = n
		}
		var lo, hi int
		switch {
		case base == "*":
			lo, hi = spec.min, spec.max
		case strings.Contains(base, "-"):
			a, b, _ := strings.Cut(base, "-")
			var err error
			if lo, err = parseValue(spec, a, s); err != nil {
				return nil, err
			}
			if hi, err = parseValue(spec, b, s); err != nil {
				return nil, err
			}
			if lo > hi && !spec.cyclic {
				return nil, fmt.Errorf("cron: %s %q: range %q runs backwards", spec.name, s, base)
			}
		default:
			var err error
			if lo, err = parseValue(spec, base, s); err != nil {
				return nil, err
			}
			hi = lo
			if stepped { // n/s runs from n to the end of the field
				hi = spec.max
			}
		}
		// A backwards range in a cyclic field wraps past max to min.
		span := (hi-lo+size)%size + 1
		for off := 0; off < span; off += step {
			seen[(lo-spec.min+off)%size] = true
		}
	}
	var vals []int
	for i, ok := range seen {
		if ok {
			vals = append(vals, spec.min+i)
		}
	}
	return vals, nil
}

// parseValue parses one number or name of a field; whole is the field's text,
// for error messages.
func parseValue(spec fieldSpec, tok, whole string) (int, error) {
	if isDigits(tok) {
		n, err := strconv.Atoi(tok)
		if err != nil || n < spec.min || n > spec.max {
			return 0, fmt.Errorf("cron: %s %q out of range %d-%d", spec.name, tok, spec.min, spec.max)
		}
		return n, nil
	}
	if n, ok := spec.names[tok]; ok {
		return n, nil
	}
	switch {
	case tok == "?":
		return 0, fmt.Errorf(`cron: %s %q: "?" is allowed only as the whole day-of-month or day-of-week field`, spec.name, whole)
	case spec.names != nil:
		return 0, fmt.Errorf("cron: %s %q: %q is not a number or a name (%s)", spec.name, whole, tok, nameRange(spec))
	default:
		return 0, fmt.Errorf("cron: %s %q: %q is not a number", spec.name, whole, tok)
	}
}

// nameRange describes a field's names, e.g. "SUN-SAT".
func nameRange(spec fieldSpec) string {
	var first, last string
	for name, n := range spec.names {
		if n == spec.min {
			first = name
		}
		if n == spec.max {
			last = name
		}
	}
	return first + "-" + last
}

// joinInts formats vals, each plus shift, as a comma-separated list.
func joinInts(vals []int, shift int) string {
	parts := make([]string, len(vals))
	for i, v := range vals {
		parts[i] = strconv.Itoa(v + shift)
	}
	return strings.Join(parts, ",")
}
