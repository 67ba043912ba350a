package schedule

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestRate(t *testing.T) {
	const anchor = "2024-01-01T00:00:00Z"
	tests := []struct {
		expr   string
		anchor string // "" means Parse, which anchors at the epoch
		from   string
		want   []string
	}{
		// Before the anchor, the anchor itself is next.
		{"rate(5 minutes)", anchor, "2023-12-31T23:59:59Z", []string{"2024-01-01T00:00:00Z", "2024-01-01T00:05:00Z"}},
		// Exactly on a boundary is not "after".
		{"rate(5 minutes)", anchor, anchor, []string{"2024-01-01T00:05:00Z", "2024-01-01T00:10:00Z"}},
		{"rate(5 minutes)", anchor, "2024-01-01T00:07:00Z", []string{"2024-01-01T00:10:00Z"}},
		{"rate(5 minutes)", anchor, "2024-01-01T00:09:59.999Z", []string{"2024-01-01T00:10:00Z"}},
		{"rate(1 minute)", "2024-01-01T00:00:30Z", "2024-01-01T00:10:00Z", []string{"2024-01-01T00:10:30Z", "2024-01-01T00:11:30Z"}},
		{"rate(1 hour)", "2024-01-01T00:20:00Z", "2024-01-01T05:20:00Z", []string{"2024-01-01T06:20:00Z"}},
		{"rate(12 hours)", anchor, "2024-03-05T13:00:00Z", []string{"2024-03-06T00:00:00Z", "2024-03-06T12:00:00Z"}},
		{"rate(1 day)", "2024-03-09T12:00:00Z", "2024-03-09T12:00:00Z", []string{"2024-03-10T12:00:00Z", "2024-03-11T12:00:00Z"}},
		{"rate(7 days)", anchor, "2024-01-08T00:00:00Z", []string{"2024-01-15T00:00:00Z"}},
		// Without an anchor, periods count from the Unix epoch.
		{"rate(1 hour)", "", "2024-01-01T05:20:00Z", []string{"2024-01-01T06:00:00Z"}},
		{"rate(1 day)", "", "2024-01-01T05:20:00Z", []string{"2024-01-02T00:00:00Z"}},
		// Spans far beyond time.Duration's range.
		{"rate(1 minute)", "1800-01-01T00:00:00Z", "2400-01-01T00:00:30Z", []string{"2400-01-01T00:01:00Z"}},
	}
	for _, tc := range tests {
		var (
			e   Expr
			err error
		)
		if tc.anchor == "" {
			e, err = Parse(tc.expr, nil)
		} else {
			e, err = ParseWithAnchor(tc.expr, nil, mustTime(t, tc.anchor))
		}
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.expr, err)
			continue
		}
		got := fires(e, mustTime(t, tc.from), len(tc.want))
		if strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("%s anchored %q after %s: got %v, want %v", tc.expr, tc.anchor, tc.from, got, tc.want)
		}
	}
}

// TestRateIgnoresTimeZone checks that a day is 24 hours even across a
// daylight-saving change of the schedule's zone.
func TestRateIgnoresTimeZone(t *testing.T) {
	ny := mustZone(t, "America/New_York")
	start := time.Date(2024, 3, 9, 12, 0, 0, 0, ny) // 17:00Z
	e, err := ParseWithAnchor("rate(1 day)", ny, start)
	if err != nil {
		t.Fatal(err)
	}
	got := fires(e, start, 2)
	want := []string{"2024-03-10T17:00:00Z", "2024-03-11T17:00:00Z"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("rate(1 day) across spring-forward: got %v, want %v", got, want)
	}
}

func TestRateAnchorField(t *testing.T) {
	e, err := Parse("rate(10 minutes)", time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	r, ok := e.(*Rate)
	if !ok {
		t.Fatalf("Parse returned %T, want *Rate", e)
	}
	if r.Period() != 10*time.Minute {
		t.Errorf("Period: got %v, want 10m", r.Period())
	}
	r.Anchor = mustTime(t, "2024-01-01T00:03:00Z")
	if got, want := r.Next(mustTime(t, "2024-01-01T00:04:00Z")), mustTime(t, "2024-01-01T00:13:00Z"); !got.Equal(want) {
		t.Errorf("Next after setting Anchor: got %v, want %v", got, want)
	}
}

func TestAt(t *testing.T) {
	ny := mustZone(t, "America/New_York")
	london := mustZone(t, "Europe/London")
	tests := []struct {
		expr string
		loc  *time.Location
		from string
		want string // "zero" when it never fires
	}{
		{"at(2024-05-01T10:00:00)", nil, "2024-04-30T00:00:00Z", "2024-05-01T10:00:00Z"},
		{"at(2024-05-01T10:00:00)", nil, "2024-05-01T09:59:59Z", "2024-05-01T10:00:00Z"},
		{"at(2024-05-01T10:00:00)", nil, "2024-05-01T10:00:00Z", "zero"}, // not strictly after
		{"at(2024-05-01T10:00:00)", nil, "2025-01-01T00:00:00Z", "zero"},
		{"at(2024-05-01T10:00:00)", ny, "2024-04-30T00:00:00Z", "2024-05-01T14:00:00Z"},
		{"at(2024-12-01T10:00:00)", ny, "2024-04-30T00:00:00Z", "2024-12-01T15:00:00Z"},
		{"at(2024-05-01T10:00:00)", london, "2024-04-30T00:00:00Z", "2024-05-01T09:00:00Z"},
		// A skipped wall time fires as far past the change as it was past its start.
		{"at(2024-03-10T02:30:00)", ny, "2024-03-01T00:00:00Z", "2024-03-10T07:30:00Z"},
		// A repeated wall time fires at its first occurrence.
		{"at(2024-11-03T01:30:00)", ny, "2024-11-01T00:00:00Z", "2024-11-03T05:30:00Z"},
		{"at(2024-10-27T01:30:00)", london, "2024-10-01T00:00:00Z", "2024-10-27T00:30:00Z"},
		{"at(2024-02-29T23:59:59)", nil, "2024-01-01T00:00:00Z", "2024-02-29T23:59:59Z"},
	}
	for _, tc := range tests {
		e, err := Parse(tc.expr, tc.loc)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.expr, err)
			continue
		}
		got := fires(e, mustTime(t, tc.from), 1)[0]
		if got != tc.want {
			t.Errorf("%s in %v after %s: got %s, want %s", tc.expr, tc.loc, tc.from, got, tc.want)
		}
		if a, ok := e.(*At); !ok {
			t.Errorf("Parse(%q) returned %T, want *At", tc.expr, e)
		} else if tc.loc != nil && a.Time.Location() != tc.loc {
			t.Errorf("%s: Time location got %v, want %v", tc.expr, a.Time.Location(), tc.loc)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		expr string
		want string // a substring of the error
	}{
		// Overall shape.
		{"", "expected rate(...), cron(...) or at(...)"},
		{"garbage", "expected rate(...), cron(...) or at(...)"},
		{"cron 0 10 * * ? *", "expected rate(...), cron(...) or at(...)"},
		{"CRON(0 10 * * ? *)", "expected rate(...), cron(...) or at(...)"},
		{"cron(0 10 * * ? *", "expected rate(...), cron(...) or at(...)"},
		{"every(5 minutes)", "expected rate(...), cron(...) or at(...)"},
		// Rate.
		{"rate(0 minutes)", "rate: value must be positive, got 0"},
		{"rate(1 minutes)", `rate: value 1 needs a singular unit, not "minutes"`},
		{"rate(2 minute)", `rate: value 2 needs a plural unit, not "minute"`},
		{"rate(5 hour)", `rate: value 5 needs a plural unit, not "hour"`},
		{"rate(1 days)", `rate: value 1 needs a singular unit, not "days"`},
		{"rate(5 seconds)", `rate: unit "seconds" is not one of minute, minutes, hour, hours, day, days`},
		{"rate(5 Minutes)", `rate: unit "Minutes" is not one of`},
		{"rate(-5 minutes)", `rate: value "-5" is not a positive integer`},
		{"rate(1.5 hours)", `rate: value "1.5" is not a positive integer`},
		{"rate(five minutes)", `rate: value "five" is not a positive integer`},
		{"rate(5)", "rate: want rate(value unit)"},
		{"rate()", "rate: want rate(value unit)"},
		{"rate(5 minutes extra)", "rate: want rate(value unit)"},
		{"rate(99999999999999999999 days)", "too large"},
		{"rate(9999999999 days)", "too large"},
		// At.
		{"at(2024-13-01T00:00:00)", `at: "2024-13-01T00:00:00": month out of range`},
		{"at(2024-02-30T00:00:00)", `at: "2024-02-30T00:00:00": day out of range`},
		{"at(2024-01-01T24:00:00)", `at: "2024-01-01T24:00:00": hour out of range`},
		{"at(2024-01-01 00:00:00)", "is not of the form yyyy-mm-ddThh:mm:ss"},
		{"at(2024-01-01T00:00)", "is not of the form yyyy-mm-ddThh:mm:ss"},
		{"at(2024-01-01T00:00:00Z)", "is not of the form yyyy-mm-ddThh:mm:ss"},
		{"at(2024-1-01T00:00:00)", "is not of the form yyyy-mm-ddThh:mm:ss"},
		{"at()", "is not of the form yyyy-mm-ddThh:mm:ss"},
		// Cron: field count and the day fields.
		{"cron(0 10 * * ?)", "cron: want 6 fields (minutes hours day-of-month month day-of-week year), got 5"},
		{"cron(0 0 10 * * ? *)", "got 7"},
		{"cron()", "got 0"},
		{"cron(0 10 1 * MON *)", `cron: one of day-of-month and day-of-week must be "?"`},
		{"cron(0 10 * * * *)", `cron: one of day-of-month and day-of-week must be "?"`},
		{"cron(0 10 ? * ? *)", `cron: day-of-month and day-of-week cannot both be "?"`},
		// Cron: ranges.
		{"cron(60 * * * ? *)", `cron: minutes "60" out of range 0-59`},
		{"cron(0 24 * * ? *)", `cron: hours "24" out of range 0-23`},
		{"cron(0 0 32 * ? *)", `cron: day-of-month "32" out of range 1-31`},
		{"cron(0 0 0 * ? *)", `cron: day-of-month "0" out of range 1-31`},
		{"cron(0 0 1 13 ? *)", `cron: month "13" out of range 1-12`},
		{"cron(0 0 1 0 ? *)", `cron: month "0" out of range 1-12`},
		{"cron(0 0 ? * 8 *)", `cron: day-of-week "8" out of range 1-7`},
		{"cron(0 0 ? * 0 *)", `cron: day-of-week "0" out of range 1-7`},
		{"cron(0 0 ? * 1-8 *)", `cron: day-of-week "8" out of range 1-7`},
		{"cron(0 0 1 1 ? 1969)", `cron: year "1969" out of range 1970-2199`},
		{"cron(0 0 1 1 ? 2200)", `cron: year "2200" out of range 1970-2199`},
		{"cron(0 0 99999999999999999999 * ? *)", "out of range 1-31"},
		// Cron: names and syntax.
		{"cron(0 0 ? FOO MON *)", `cron: month "FOO": "FOO" is not a number or a name (JAN-DEC)`},
		{"cron(0 0 ? JANUARY MON *)", `"JANUARY" is not a number or a name (JAN-DEC)`},
		{"cron(0 0 ? * MOX *)", `cron: day-of-week "MOX": "MOX" is not a number or a name (SUN-SAT)`},
		{"cron(MON 0 * * ? *)", `cron: minutes "MON": "MON" is not a number`},
		{"cron(0 0 1 * ? 2024-2020)", `cron: year "2024-2020": range "2024-2020" runs backwards`},
		{"cron(0 0 20-10 * ? *)", `cron: day-of-month "20-10": range "20-10" runs backwards`},
		{"cron(0/0 * * * ? *)", `cron: minutes "0/0": step "0" out of range 1-60`},
		{"cron(0/61 * * * ? *)", `step "61" out of range 1-60`},
		{"cron(*/ * * * ? *)", `step "" out of range 1-60`},
		{"cron(/5 * * * ? *)", `cron: minutes "/5": "" is not a number`},
		{"cron(1,,2 * * * ? *)", `cron: minutes "1,,2": "" is not a number`},
		{"cron(1-2-3 * * * ? *)", `"2-3" is not a number`},
		{"cron(? * * * ? *)", `"?" is allowed only as the whole day-of-month or day-of-week field`},
		{"cron(0 0 ?,1 * ? *)", `day-of-month "?,1"`},
		{"cron(0 0 1 * ?,2 *)", `one of day-of-month and day-of-week must be "?"`},
		{"cron(0 0 ? * ?,2 *)", `cron: day-of-week "?,2": "?" is allowed only`},
		{"cron(0 0 ? * 5 L)", `cron: year "L": "L" is not a number`},
		{"cron(0 0 1 L ? *)", `cron: month "L"`},
		// Cron: L, W and #.
		{"cron(0 0 L-2 * ? *)", `cron: day-of-month "L-2": offsets from the last day (L-n) are not supported`},
		{"cron(0 0 L,15 * ? *)", `cron: day-of-month "L,15": L and W must stand alone, not in a list`},
		{"cron(0 0 15W,20 * ? *)", "L and W must stand alone"},
		{"cron(0 0 W * ? *)", `cron: day-of-month "W": "" is not a number`},
		{"cron(0 0 32W * ? *)", `cron: day-of-month "32" out of range 1-31`},
		{"cron(0 0 5L * ? *)", `cron: day-of-month "5L": "5L" is not a number`},
		{"cron(0 0 ? * 3#1,6#3 *)", `cron: day-of-week "3#1,6#3": only one "#" expression is allowed`},
		{"cron(0 0 ? * 3#6 *)", `cron: day-of-week "3#6": occurrence "6" out of range 1-5`},
		{"cron(0 0 ? * 3#0 *)", `occurrence "0" out of range 1-5`},
		{"cron(0 0 ? * 3# *)", `occurrence "" out of range 1-5`},
		{"cron(0 0 ? * #2 *)", `cron: day-of-week "#2": "" is not a number`},
		{"cron(0 0 ? * 8#2 *)", `cron: day-of-week "8" out of range 1-7`},
		{"cron(0 0 ? * 2L,3 *)", `cron: day-of-week "2L,3": L must stand alone, not in a list`},
		{"cron(0 0 ? * 9L *)", `cron: day-of-week "9" out of range 1-7`},
		{"cron(0 0 ? * L-2 *)", `cron: day-of-week "L-2": "L" is not a number`},
		{"cron(0 0 ? * 2W *)", `cron: day-of-week "2W": "2W" is not a number`},
		{"cron(0 0 LW * ? *)x", "expected rate(...), cron(...) or at(...)"},
	}
	for _, tc := range tests {
		e, err := Parse(tc.expr, nil)
		if err == nil {
			t.Errorf("Parse(%q): got %v, want error containing %q", tc.expr, e, tc.want)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q): got error %q, want it to contain %q", tc.expr, err, tc.want)
		}
		var pe *Error
		if !errors.As(err, &pe) || pe.Expr != tc.expr {
			t.Errorf("Parse(%q): got error %#v, want *Error for the expression", tc.expr, err)
		}
	}
}

func TestErrorMessage(t *testing.T) {
	_, err := Parse("cron(0 0 ? * 8 *)", nil)
	want := `invalid schedule expression "cron(0 0 ? * 8 *)": cron: day-of-week "8" out of range 1-7`
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
}
