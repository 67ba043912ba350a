package schedule

import (
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the tests must not depend on the host's zone database
)

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("LoadLocation(%q): %v", name, err)
	}
	return loc
}

// In 2024 America/New_York went from 02:00 EST to 03:00 EDT on 10 March
// (07:00Z) and from 02:00 EDT back to 01:00 EST on 3 November (06:00Z).
// Europe/London went from 01:00 GMT to 02:00 BST on 31 March (01:00Z) and
// from 02:00 BST back to 01:00 GMT on 27 October (01:00Z).
func TestCronTimeZones(t *testing.T) {
	tests := []struct {
		name string
		zone string
		expr string
		from string
		want []string
	}{
		{"daily 10:00 follows the local clock", "America/New_York", "cron(0 10 * * ? *)", "2024-03-08T12:00:00Z", []string{
			"2024-03-08T15:00:00Z", "2024-03-09T15:00:00Z", "2024-03-10T14:00:00Z", "2024-03-11T14:00:00Z"}},
		{"skipped 02:30 does not fire on spring-forward day", "America/New_York", "cron(30 2 * * ? *)", "2024-03-09T00:00:00Z", []string{
			"2024-03-09T07:30:00Z", "2024-03-11T06:30:00Z", "2024-03-12T06:30:00Z"}},
		{"every 30 min across the skipped hour", "America/New_York", "cron(0/30 * * * ? *)", "2024-03-10T06:15:00Z", []string{
			"2024-03-10T06:30:00Z", "2024-03-10T07:00:00Z", "2024-03-10T07:30:00Z"}},
		{"repeated 01:30 fires once, at its first occurrence", "America/New_York", "cron(30 1 * * ? *)", "2024-11-02T12:00:00Z", []string{
			"2024-11-03T05:30:00Z", "2024-11-04T06:30:00Z"}},
		{"every 30 min across the repeated hour", "America/New_York", "cron(0/30 * * * ? *)", "2024-11-03T04:15:00Z", []string{
			"2024-11-03T04:30:00Z", "2024-11-03T05:00:00Z", "2024-11-03T05:30:00Z", "2024-11-03T07:00:00Z", "2024-11-03T07:30:00Z"}},
		{"inside the second pass of the repeated hour", "America/New_York", "cron(0/30 * * * ? *)", "2024-11-03T06:10:00Z", []string{
			"2024-11-03T07:00:00Z"}},
		{"hourly at :45 on fall-back day", "America/New_York", "cron(45 * * * ? *)", "2024-11-03T04:00:00Z", []string{
			"2024-11-03T04:45:00Z", "2024-11-03T05:45:00Z", "2024-11-03T07:45:00Z"}},
		{"London skipped 01:30", "Europe/London", "cron(30 1 * * ? *)", "2024-03-30T00:00:00Z", []string{
			"2024-03-30T01:30:00Z", "2024-04-01T00:30:00Z"}},
		{"London repeated 01:30 fires once", "Europe/London", "cron(30 1 * * ? *)", "2024-10-26T12:00:00Z", []string{
			"2024-10-27T00:30:00Z", "2024-10-28T01:30:00Z"}},
		{"London repeated hour, minutely steps", "Europe/London", "cron(0/20 1 * * ? *)", "2024-10-27T00:00:00Z", []string{
			"2024-10-27T00:20:00Z", "2024-10-27T00:40:00Z", "2024-10-28T01:00:00Z"}},
		{"day-of-week is read on the local calendar", "Asia/Tokyo", "cron(30 8 ? * MON *)", "2024-01-01T00:00:00Z", []string{
			"2024-01-07T23:30:00Z", "2024-01-14T23:30:00Z"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			loc := mustZone(t, tc.zone)
			e, err := Parse(tc.expr, loc)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.expr, err)
			}
			got := fires(e, mustTime(t, tc.from), len(tc.want))
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("%s in %s after %s: got %v, want %v", tc.expr, tc.zone, tc.from, got, tc.want)
			}
			if n := e.Next(mustTime(t, tc.from)); n.Location() != loc {
				t.Errorf("Next location: got %v, want %v", n.Location(), loc)
			}
		})
	}
}

func TestResolve(t *testing.T) {
	ny := mustZone(t, "America/New_York")
	london := mustZone(t, "Europe/London")
	tests := []struct {
		loc    *time.Location
		wall   string
		want   string
		exists bool
	}{
		{ny, "2024-07-01T12:00:00Z", "2024-07-01T16:00:00Z", true},
		{ny, "2024-03-10T02:30:00Z", "2024-03-10T07:30:00Z", false}, // skipped: 03:30 EDT
		{ny, "2024-11-03T01:30:00Z", "2024-11-03T05:30:00Z", true},  // repeated: EDT
		{london, "2024-03-31T01:30:00Z", "2024-03-31T01:30:00Z", false},
		{london, "2024-10-27T01:30:00Z", "2024-10-27T00:30:00Z", true}, // repeated: BST
		{time.UTC, "2024-03-10T02:30:00Z", "2024-03-10T02:30:00Z", true},
	}
	for _, tc := range tests {
		got, ok := resolve(mustTime(t, tc.wall), tc.loc)
		if !got.Equal(mustTime(t, tc.want)) || ok != tc.exists {
			t.Errorf("resolve(%s, %v): got %s %v, want %s %v", tc.wall, tc.loc, got.UTC().Format(time.RFC3339), ok, tc.want, tc.exists)
		}
	}
}
