package schedule

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// At is a parsed one-time at(yyyy-mm-ddThh:mm:ss) expression.
type At struct {
	// Time is the instant the schedule fires, in the schedule's time zone.
	Time time.Time

	text string
}

// String returns the expression in the form at(yyyy-mm-ddThh:mm:ss).
func (a *At) String() string { return "at(" + a.text + ")" }

// Next returns Time if it is strictly after t, and the zero Time otherwise.
func (a *At) Next(t time.Time) time.Time {
	if a.Time.After(t) {
		return a.Time
	}
	return time.Time{}
}

const atLayout = "2006-01-02T15:04:05"

// parseAt parses the text between "at(" and ")".
func parseAt(inner string, loc *time.Location) (Expr, string) {
	if !atShape(inner) {
		return nil, fmt.Sprintf("at: %q is not of the form yyyy-mm-ddThh:mm:ss", inner)
	}
	w, err := time.ParseInLocation(atLayout, inner, time.UTC)
	if err != nil {
		why := "not a valid date and time"
		var pe *time.ParseError
		if errors.As(err, &pe) && pe.Message != "" {
			why = strings.TrimPrefix(pe.Message, ": ")
		}
		return nil, fmt.Sprintf("at: %q: %s", inner, why)
	}
	inst, _ := resolve(w, loc)
	return &At{Time: inst, text: inner}, ""
}

// atShape reports whether s has exactly the digits and separators of
// yyyy-mm-ddThh:mm:ss.
func atShape(s string) bool {
	const shape = "dddd-dd-ddTdd:dd:dd"
	if len(s) != len(shape) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if shape[i] == 'd' {
			if s[i] < '0' || s[i] > '9' {
				return false
			}
		} else if s[i] != shape[i] {
			return false
		}
	}
	return true
}
