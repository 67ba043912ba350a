package schedule

import (
	"testing"
	"time"
)

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"cron(0 10 * * ? *)", "cron(0/15 * * * ? *)", "cron(0 18 ? * MON-FRI *)",
		"cron(0 9 ? * 2#1 *)", "cron(15 10 ? * 6L 2022-2023)", "cron(0 0 L * ? *)",
		"cron(0 0 15W * ? *)", "cron(0 0 LW * ? *)", "cron(30 2 * * ? *)", "cron(0 22-1 ? * FRI-MON 2030/5)",
		"cron(0 0 31 2 ? *)", "cron(0 0 1 1 ? 2150)", "rate(5 minutes)", "rate(1 day)",
		"at(2024-03-10T02:30:00)", "at(2024-13-01T00:00:00)", "cron(0 10 ? * ? *)", "garbage",
	} {
		f.Add(s)
	}
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		f.Fatal(err)
	}
	starts := []time.Time{
		time.Date(2024, 3, 10, 6, 59, 0, 0, time.UTC),  // just before a New York spring-forward
		time.Date(2024, 11, 3, 5, 10, 30, 0, time.UTC), // in New York's repeated hour
		time.Date(2099, 12, 31, 23, 0, 0, 0, time.UTC), // near the end of computable years
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, loc := range []*time.Location{nil, ny} {
			e, err := Parse(s, loc)
			if err != nil {
				if _, ok := err.(*Error); !ok {
					t.Fatalf("Parse(%q): error %T, want *Error", s, err)
				}
				continue
			}
			// The normalised form parses to itself.
			again, err := Parse(e.String(), loc)
			if err != nil || again.String() != e.String() {
				t.Fatalf("Parse(%q).String() = %q does not round-trip: %v, %v", s, e.String(), again, err)
			}
			for _, from := range starts {
				prev := from
				for range 4 {
					n := e.Next(prev)
					if n.IsZero() {
						break
					}
					if !n.After(prev) {
						t.Fatalf("%s in %v: Next(%v) = %v, not after", e, loc, prev, n)
					}
					prev = n
				}
			}
		}
	})
}
