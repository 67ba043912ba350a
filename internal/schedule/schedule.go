// Package schedule parses AWS schedule expressions and computes when they fire.
//
// Three forms are accepted, as EventBridge Scheduler and EventBridge scheduled
// rules define them:
//
//	rate(N unit)                 every N minutes, hours or days
//	cron(Min Hour DOM Month DOW Year)
//	at(yyyy-mm-ddThh:mm:ss)      once
//
// Cron and at expressions are evaluated on the wall clock of the schedule's
// time zone. Across daylight-saving changes they behave as EventBridge
// Scheduler documents: a cron time that does not exist on the day the clocks
// go forward is skipped, and a cron time that occurs twice on the day the
// clocks go back fires once, at its first occurrence. A one-time at() whose
// wall time falls in a skipped interval fires at the same wall time read with
// the offset in force before the change (02:30 becomes 03:30 when 02:00 jumps
// to 03:00); an at() in a repeated interval fires at its first occurrence.
//
// Rate expressions do not depend on the time zone: a day is always 24 hours,
// counted from the schedule's anchor (see Rate).
//
// Cron and at expressions have one-second resolution, and cron always fires
// at second 0 of a minute. Delivery precision (EventBridge Scheduler invokes
// within the minute) is left to the caller.
package schedule

import (
	"strconv"
	"strings"
	"time"
)

// Expr is a parsed schedule expression.
type Expr interface {
	// Next returns the first fire time strictly after t, or the zero Time if
	// there is none (an at() in the past, a cron whose years are over).
	Next(t time.Time) time.Time
	// String returns the expression as given, normalised.
	String() string
}

// Error reports an expression that cannot be parsed.
type Error struct {
	Expr   string // the expression as given
	Reason string // what is wrong, e.g. `cron: day-of-week "8" out of range 1-7`
}

// Error implements the error interface.
func (e *Error) Error() string {
	return "invalid schedule expression " + strconv.Quote(e.Expr) + ": " + e.Reason
}

// Parse parses rate(...), cron(...) and at(...) expressions. loc is the
// schedule's time zone (ScheduleExpressionTimezone); nil means UTC. Cron and
// at expressions are evaluated in loc; rate expressions ignore it and are
// anchored at the Unix epoch, so rate(1 hour) fires on the hour UTC (use
// ParseWithAnchor, or set Rate.Anchor, to count from a schedule's start).
// Errors are of type *Error.
func Parse(expr string, loc *time.Location) (Expr, error) {
	return ParseWithAnchor(expr, loc, time.Time{})
}

// ParseWithAnchor is like Parse, but a rate expression counts its periods
// from anchor: the schedule's StartDate or, without one, its creation time.
// A zero anchor means the Unix epoch. Cron and at expressions ignore anchor.
func ParseWithAnchor(expr string, loc *time.Location, anchor time.Time) (Expr, error) {
	if loc == nil {
		loc = time.UTC
	}
	s := strings.TrimSpace(expr)
	var (
		e      Expr
		reason string
	)
	switch {
	case strings.HasPrefix(s, "rate(") && strings.HasSuffix(s, ")"):
		e, reason = parseRate(s[len("rate(") : len(s)-1])
		if r, ok := e.(*Rate); ok {
			r.Anchor = anchor
		}
	case strings.HasPrefix(s, "cron(") && strings.HasSuffix(s, ")"):
		e, reason = parseCron(s[len("cron("):len(s)-1], loc)
	case strings.HasPrefix(s, "at(") && strings.HasSuffix(s, ")"):
		e, reason = parseAt(s[len("at("):len(s)-1], loc)
	default:
		reason = "expected rate(...), cron(...) or at(...)"
	}
	if reason != "" {
		return nil, &Error{Expr: expr, Reason: reason}
	}
	return e, nil
}
