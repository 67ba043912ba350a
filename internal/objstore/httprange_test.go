package objstore

import (
	"net/http"
	"testing"
	"time"
)

func TestParseRange(t *testing.T) {
	for _, tc := range []struct {
		h              string
		size           int64
		start, length  int64
		partial, wrong bool
	}{
		{"", 10, 0, 10, false, false},
		{"bytes=0-0", 10, 0, 1, true, false},
		{"bytes=2-5", 10, 2, 4, true, false},
		{"bytes=2-", 10, 2, 8, true, false},
		{"bytes=-3", 10, 7, 3, true, false},
		{"bytes=-30", 10, 0, 10, true, false},
		{"bytes=5-100", 10, 5, 5, true, false},
		{"bytes=10-", 10, 0, 0, false, true},
		{"bytes=10-20", 10, 0, 0, false, true},
		{"bytes=-0", 10, 0, 0, false, true},
		{"bytes=0-", 0, 0, 0, false, true},
		{"bytes=5-2", 10, 0, 10, false, false},
		{"bytes=0-1,3-4", 10, 0, 10, false, false},
		{"items=0-1", 10, 0, 10, false, false},
		{"bytes=x-1", 10, 0, 10, false, false},
	} {
		start, length, partial, err := ParseRange(tc.h, tc.size)
		if (err != nil) != tc.wrong || (err == nil && (start != tc.start || length != tc.length || partial != tc.partial)) {
			t.Errorf("ParseRange(%q, %d) = %d, %d, %v, %v", tc.h, tc.size, start, length, partial, err)
		}
	}
}

func TestNotModified(t *testing.T) {
	mod := time.Date(2024, 5, 1, 12, 0, 0, 500e6, time.UTC)
	at := func(d time.Duration) string { return mod.Truncate(time.Second).Add(d).Format(http.TimeFormat) }
	for _, tc := range []struct {
		inm, ims string
		want     bool
	}{
		{`"abc"`, "", true},
		{`"x", W/"abc"`, "", true},
		{"*", "", true},
		{`"x"`, at(time.Hour), false}, // If-None-Match decides when present
		{"", at(0), true},             // same second as Last-Modified
		{"", at(-time.Second), false},
		{"", "not a date", false},
		{"", "", false},
	} {
		if got := NotModified(tc.inm, tc.ims, "abc", mod); got != tc.want {
			t.Errorf("If-None-Match %q If-Modified-Since %q: %v, want %v", tc.inm, tc.ims, got, tc.want)
		}
	}
}
