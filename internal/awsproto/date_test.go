package awsproto

import (
	"testing"
	"time"
)

// TestDateHeader checks that the Date header changes with the second and
// only then, and is written in GMT.
func TestDateHeader(t *testing.T) {
	var d dateHeader
	t0 := time.Date(2026, 12, 6, 11, 59, 59, 100, time.UTC)
	a := d.header(t0)
	if b := d.header(t0.Add(800 * time.Millisecond)); &b[0] != &a[0] {
		t.Error("a second value was made within the same second")
	}
	c := d.header(t0.Add(time.Second))
	if a[0] != "Sun, 06 Dec 2026 11:59:59 GMT" || c[0] != "Sun, 06 Dec 2026 12:00:00 GMT" {
		t.Errorf("Date %q then %q", a[0], c[0])
	}
	if z := d.header(time.Date(2026, 12, 6, 13, 0, 0, 0, time.FixedZone("x", 3600))); z[0] != "Sun, 06 Dec 2026 12:00:00 GMT" {
		t.Errorf("a time in another zone: %q, want GMT", z[0])
	}
}

// TestDate checks the shared value against the time it is asked for.
func TestDate(t *testing.T) {
	before := time.Now().Truncate(time.Second)
	got, err := time.Parse(time.RFC1123, Date(time.Now())[0])
	if err != nil || got.Before(before) || got.After(time.Now()) {
		t.Errorf("Date(now) = %v (%v), want the current second", got, err)
	}
}
