package schedule

import (
	"strings"
	"sync"
	"testing"
	"time"
)

// mustTime parses an RFC 3339 time.
func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatalf("bad test time %q: %v", s, err)
	}
	return v
}

// fires returns the next n fire times of e after from, as RFC 3339 in UTC;
// a zero time is written as "zero" and ends the list.
func fires(e Expr, from time.Time, n int) []string {
	var out []string
	for range n {
		from = e.Next(from)
		if from.IsZero() {
			return append(out, "zero")
		}
		out = append(out, from.UTC().Format(time.RFC3339))
	}
	return out
}

func TestCronDocExamples(t *testing.T) {
	tests := []struct {
		expr string
		from string
		want []string
	}{
		// Every day at 10:00 UTC.
		{"cron(0 10 * * ? *)", "2024-01-01T00:00:00Z", []string{
			"2024-01-01T10:00:00Z", "2024-01-02T10:00:00Z", "2024-01-03T10:00:00Z"}},
		// Every day at 12:15.
		{"cron(15 12 * * ? *)", "2024-01-01T12:15:00Z", []string{
			"2024-01-02T12:15:00Z", "2024-01-03T12:15:00Z"}},
		// 18:00 Monday to Friday; 2024-01-01 is a Monday.
		{"cron(0 18 ? * MON-FRI *)", "2024-01-03T18:00:00Z", []string{
			"2024-01-04T18:00:00Z", "2024-01-05T18:00:00Z", "2024-01-08T18:00:00Z"}},
		// 08:00 on the first day of every month.
		{"cron(0 8 1 * ? *)", "2024-01-01T08:00:01Z", []string{
			"2024-02-01T08:00:00Z", "2024-03-01T08:00:00Z", "2024-04-01T08:00:00Z"}},
		// Every 15 minutes; a time on the boundary is not "after".
		{"cron(0/15 * * * ? *)", "2024-01-01T00:00:00Z", []string{
			"2024-01-01T00:15:00Z", "2024-01-01T00:30:00Z", "2024-01-01T00:45:00Z", "2024-01-01T01:00:00Z"}},
		// Every 10 minutes on weekdays: Friday night rolls over to Monday.
		{"cron(0/10 * ? * MON-FRI *)", "2024-01-05T23:45:00Z", []string{
			"2024-01-05T23:50:00Z", "2024-01-08T00:00:00Z", "2024-01-08T00:10:00Z"}},
		// Every 5 minutes between 08:00 and 17:55 on weekdays.
		{"cron(0/5 8-17 ? * MON-FRI *)", "2024-01-01T17:50:00Z", []string{
			"2024-01-01T17:55:00Z", "2024-01-02T08:00:00Z", "2024-01-02T08:05:00Z"}},
		// 09:00 on the first Monday of each month (2 = Monday).
		{"cron(0 9 ? * 2#1 *)", "2023-12-31T00:00:00Z", []string{
			"2024-01-01T09:00:00Z", "2024-02-05T09:00:00Z", "2024-03-04T09:00:00Z"}},
		// Noon every day.
		{"cron(0 12 * * ? *)", "2024-02-28T12:00:00Z", []string{
			"2024-02-29T12:00:00Z", "2024-03-01T12:00:00Z"}},
		// 10:15 on the last Friday of each month in 2022 and 2023.
		{"cron(15 10 ? * 6L 2022-2023)", "2022-01-01T00:00:00Z", []string{
			"2022-01-28T10:15:00Z", "2022-02-25T10:15:00Z", "2022-03-25T10:15:00Z"}},
		{"cron(15 10 ? * 6L 2022-2023)", "2023-11-25T00:00:00Z", []string{
			"2023-12-29T10:15:00Z", "zero"}},
		// Midnight on the last day of the month, leap February included.
		{"cron(0 0 L * ? *)", "2024-01-15T00:00:00Z", []string{
			"2024-01-31T00:00:00Z", "2024-02-29T00:00:00Z", "2024-03-31T00:00:00Z", "2024-04-30T00:00:00Z"}},
		{"cron(0 0 L 2 ? *)", "2023-01-01T00:00:00Z", []string{
			"2023-02-28T00:00:00Z", "2024-02-29T00:00:00Z"}},
		// Weekday nearest the 15th: 2024-06-15 is a Saturday, 2024-09-15 a Sunday.
		{"cron(0 0 15W * ? *)", "2024-06-01T00:00:00Z", []string{
			"2024-06-14T00:00:00Z", "2024-07-15T00:00:00Z", "2024-08-15T00:00:00Z", "2024-09-16T00:00:00Z"}},
	}
	for _, tc := range tests {
		e, err := Parse(tc.expr, nil)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.expr, err)
			continue
		}
		got := fires(e, mustTime(t, tc.from), len(tc.want))
		if strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("%s after %s: got %v, want %v", tc.expr, tc.from, got, tc.want)
		}
	}
}

// TestCronDayOfWeek checks AWS's numbering, where 1 is Sunday and 7 Saturday.
func TestCronDayOfWeek(t *testing.T) {
	const from = "2024-01-01T12:00:00Z" // a Monday, after 10:00
	tests := []struct {
		dow  string
		want []string
	}{
		{"2", []string{"2024-01-08T10:00:00Z", "2024-01-15T10:00:00Z"}},   // Monday
		{"1", []string{"2024-01-07T10:00:00Z", "2024-01-14T10:00:00Z"}},   // Sunday
		{"7", []string{"2024-01-06T10:00:00Z", "2024-01-13T10:00:00Z"}},   // Saturday
		{"SUN", []string{"2024-01-07T10:00:00Z"}},                         // names need no shift
		{"mon", []string{"2024-01-08T10:00:00Z"}},                         // any case
		{"L", []string{"2024-01-06T10:00:00Z"}},                           // alone: Saturday
		{"2,4", []string{"2024-01-03T10:00:00Z", "2024-01-08T10:00:00Z"}}, // Mon, Wed
		{"3-5", []string{"2024-01-02T10:00:00Z", "2024-01-03T10:00:00Z", "2024-01-04T10:00:00Z", "2024-01-09T10:00:00Z"}},
		{"1/2", []string{"2024-01-02T10:00:00Z", "2024-01-04T10:00:00Z", "2024-01-06T10:00:00Z", "2024-01-07T10:00:00Z"}},
		{"FRI-MON", []string{"2024-01-05T10:00:00Z", "2024-01-06T10:00:00Z", "2024-01-07T10:00:00Z", "2024-01-08T10:00:00Z", "2024-01-12T10:00:00Z"}},
		{"1L", []string{"2024-01-28T10:00:00Z", "2024-02-25T10:00:00Z"}},    // last Sunday
		{"7#1", []string{"2024-01-06T10:00:00Z", "2024-02-03T10:00:00Z"}},   // first Saturday
		{"MON#5", []string{"2024-01-29T10:00:00Z", "2024-04-29T10:00:00Z"}}, // fifth Monday, when there is one
		{"3#2", []string{"2024-01-09T10:00:00Z", "2024-02-13T10:00:00Z"}},   // second Tuesday
	}
	for _, tc := range tests {
		expr := "cron(0 10 ? * " + tc.dow + " *)"
		e, err := Parse(expr, nil)
		if err != nil {
			t.Errorf("Parse(%q): %v", expr, err)
			continue
		}
		got := fires(e, mustTime(t, from), len(tc.want))
		if strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("%s: got %v, want %v", expr, got, tc.want)
		}
		if wd := e.Next(mustTime(t, from)).Weekday(); tc.dow == "2" && wd != time.Monday {
			t.Errorf("%s fires on %v, want Monday", expr, wd)
		}
	}
}

func TestCronDayOfMonth(t *testing.T) {
	tests := []struct {
		dom  string
		from string
		want []string
	}{
		// Last weekday: 2024-03-31 is a Sunday, 2024-08-31 a Saturday.
		{"LW", "2024-03-01T00:00:00Z", []string{"2024-03-29T10:00:00Z", "2024-04-30T10:00:00Z"}},
		{"LW", "2024-08-01T00:00:00Z", []string{"2024-08-30T10:00:00Z"}},
		// 2024-06-01 is a Saturday: the nearest weekday in June is Monday the 3rd.
		{"1W", "2024-06-01T00:00:00Z", []string{"2024-06-03T10:00:00Z", "2024-07-01T10:00:00Z"}},
		{"1,15", "2024-01-01T10:00:00Z", []string{"2024-01-15T10:00:00Z", "2024-02-01T10:00:00Z"}},
		{"10-12", "2024-01-11T10:00:00Z", []string{"2024-01-12T10:00:00Z", "2024-02-10T10:00:00Z"}},
		{"1/10", "2024-01-01T10:00:00Z", []string{"2024-01-11T10:00:00Z", "2024-01-21T10:00:00Z", "2024-01-31T10:00:00Z", "2024-02-01T10:00:00Z"}},
		// The 31st is skipped in months without one.
		{"31", "2024-01-31T10:00:00Z", []string{"2024-03-31T10:00:00Z"}},
		{"*", "2024-01-31T10:00:00Z", []string{"2024-02-01T10:00:00Z"}},
	}
	for _, tc := range tests {
		expr := "cron(0 10 " + tc.dom + " * ? *)"
		e, err := Parse(expr, nil)
		if err != nil {
			t.Errorf("Parse(%q): %v", expr, err)
			continue
		}
		got := fires(e, mustTime(t, tc.from), len(tc.want))
		if strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("%s after %s: got %v, want %v", expr, tc.from, got, tc.want)
		}
	}
}

func TestCronFields(t *testing.T) {
	tests := []struct {
		expr string
		from string
		want []string
	}{
		// A wrapping hour range.
		{"cron(0 22-1 * * ? *)", "2024-01-01T12:00:00Z", []string{
			"2024-01-01T22:00:00Z", "2024-01-01T23:00:00Z", "2024-01-02T00:00:00Z", "2024-01-02T01:00:00Z", "2024-01-02T22:00:00Z"}},
		// Minute steps start from the given minute.
		{"cron(1/20 9 * * ? *)", "2024-01-01T00:00:00Z", []string{
			"2024-01-01T09:01:00Z", "2024-01-01T09:21:00Z", "2024-01-01T09:41:00Z", "2024-01-02T09:01:00Z"}},
		// Month names, a list and seconds in the reference time.
		{"cron(30 6 1 JAN,jul ? *)", "2024-01-01T06:29:59.5Z", []string{
			"2024-01-01T06:30:00Z", "2024-07-01T06:30:00Z", "2025-01-01T06:30:00Z"}},
		// Year steps.
		{"cron(0 0 1 1 ? 2030/5)", "2024-01-01T00:00:00Z", []string{
			"2030-01-01T00:00:00Z", "2035-01-01T00:00:00Z"}},
		// Years beyond the evaluator's reach parse but never fire.
		{"cron(0 0 1 1 ? 2150)", "2024-01-01T00:00:00Z", []string{"zero"}},
		{"cron(0 0 1 1 ? 2099-2101)", "2024-01-01T00:00:00Z", []string{"2099-01-01T00:00:00Z", "zero"}},
		// A past year.
		{"cron(0 0 * * ? 2020)", "2024-01-01T00:00:00Z", []string{"zero"}},
		// Times before 1970 are treated as 1970.
		{"cron(0 0 1 1 ? *)", "1900-06-01T00:00:00Z", []string{"1970-01-01T00:00:00Z", "1971-01-01T00:00:00Z"}},
		// Extra white space is allowed.
		{" cron( 0  10\t* * ?  * ) ", "2024-01-01T00:00:00Z", []string{"2024-01-01T10:00:00Z"}},
	}
	for _, tc := range tests {
		e, err := Parse(tc.expr, nil)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.expr, err)
			continue
		}
		got := fires(e, mustTime(t, tc.from), len(tc.want))
		if strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("%s after %s: got %v, want %v", tc.expr, tc.from, got, tc.want)
		}
	}
}

func TestCronStringNormalised(t *testing.T) {
	tests := []struct{ in, want string }{
		{"cron(0 18 ? * mon-fri *)", "cron(0 18 ? * MON-FRI *)"},
		{"  cron(0   10 * * ?\t*)", "cron(0 10 * * ? *)"},
		{"cron(0 0 lw jan ? *)", "cron(0 0 LW JAN ? *)"},
		{"rate(5 minutes)", "rate(5 minutes)"},
		{"rate( 1  day )", "rate(1 day)"},
		{"rate(007 hours)", "rate(7 hours)"},
		{"at(2024-05-01T10:00:00)", "at(2024-05-01T10:00:00)"},
	}
	for _, tc := range tests {
		e, err := Parse(tc.in, nil)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.in, err)
			continue
		}
		if got := e.String(); got != tc.want {
			t.Errorf("Parse(%q).String(): got %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestCronConcurrentNext runs Next from several goroutines; with -race it
// checks that a shared Cron is safe to use concurrently.
func TestCronConcurrentNext(t *testing.T) {
	e, err := Parse("cron(0 0 L * ? *)", nil)
	if err != nil {
		t.Fatal(err)
	}
	from := mustTime(t, "2024-01-01T00:00:00Z")
	want := strings.Join(fires(e, from, 12), " ")
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if got := strings.Join(fires(e, from, 12), " "); got != want {
				t.Errorf("concurrent Next: got %v, want %v", got, want)
			}
		})
	}
	wg.Wait()
}
