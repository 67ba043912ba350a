package schedule

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Rate is a parsed rate(N unit) expression. It fires at Anchor + k·Period for
// every k ≥ 0. Period is a whole number of minutes, hours or days, and a day
// is always 24 hours whatever the time zone.
type Rate struct {
	// Anchor is the first fire time, normally the schedule's StartDate or
	// creation time. The zero Time means the Unix epoch.
	Anchor time.Time

	period time.Duration
	value  int
	unit   string
}

// Period returns the time between two fires.
func (r *Rate) Period() time.Duration { return r.period }

// String returns the expression in the form rate(N unit).
func (r *Rate) String() string { return "rate(" + strconv.Itoa(r.value) + " " + r.unit + ")" }

// Next returns Anchor if t is before it, and otherwise the first
// Anchor + k·Period strictly after t. The result is in t's location.
func (r *Rate) Next(t time.Time) time.Time {
	a := r.Anchor
	if a.IsZero() {
		a = time.Unix(0, 0)
	}
	if t.Before(a) {
		return a.In(t.Location())
	}
	// Work in whole seconds so that spans longer than time.Duration can hold
	// (about 292 years) do not overflow. The period is a whole number of
	// seconds, so the sub-second part of t-a never changes the count.
	const limit = 1 << 61 // far beyond any real date; keeps the sums below in range
	if t.Unix() >= limit || a.Unix() <= -limit {
		return time.Time{}
	}
	secs := t.Unix() - a.Unix()
	if t.Nanosecond() < a.Nanosecond() {
		secs--
	}
	p := int64(r.period / time.Second)
	k := secs/p + 1
	return time.Unix(a.Unix()+k*p, int64(a.Nanosecond())).In(t.Location())
}

var rateUnits = map[string]struct {
	size   time.Duration
	plural bool
}{
	"minute":  {time.Minute, false},
	"minutes": {time.Minute, true},
	"hour":    {time.Hour, false},
	"hours":   {time.Hour, true},
	"day":     {24 * time.Hour, false},
	"days":    {24 * time.Hour, true},
}

// parseRate parses the text between "rate(" and ")".
func parseRate(inner string) (Expr, string) {
	parts := strings.Fields(inner)
	if len(parts) != 2 {
		return nil, "rate: want rate(value unit), e.g. rate(5 minutes)"
	}
	num, unitText := parts[0], parts[1]
	if !isDigits(num) {
		return nil, fmt.Sprintf("rate: value %q is not a positive integer", num)
	}
	n, err := strconv.Atoi(num)
	if err != nil {
		return nil, fmt.Sprintf("rate: value %q is too large", num)
	}
	if n == 0 {
		return nil, "rate: value must be positive, got 0"
	}
	unit, ok := rateUnits[unitText]
	if !ok {
		return nil, fmt.Sprintf("rate: unit %q is not one of minute, minutes, hour, hours, day, days", unitText)
	}
	switch {
	case n == 1 && unit.plural:
		return nil, fmt.Sprintf("rate: value 1 needs a singular unit, not %q", unitText)
	case n > 1 && !unit.plural:
		return nil, fmt.Sprintf("rate: value %d needs a plural unit, not %q", n, unitText)
	}
	if int64(n) > math.MaxInt64/int64(unit.size) {
		return nil, fmt.Sprintf("rate: value %q is too large", num)
	}
	return &Rate{period: time.Duration(n) * unit.size, value: n, unit: unitText}, ""
}

// isDigits reports whether s is a non-empty string of ASCII digits.
func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
