package schedule

import "time"

// A wall-clock reading (year, month, day, hour, minute, second) is carried in
// a time.Time in UTC, where every reading exists exactly once. Readings are
// mapped to instants of a zone by resolve.

// wallOf returns the reading of t's clock in loc.
func wallOf(t time.Time, loc *time.Location) time.Time {
	l := t.In(loc)
	return time.Date(l.Year(), l.Month(), l.Day(), l.Hour(), l.Minute(), l.Second(), l.Nanosecond(), time.UTC)
}

// sameWall reports whether t, read in its own location, shows reading w.
func sameWall(t, w time.Time) bool {
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	wy, wmo, wd := w.Date()
	wh, wmi, ws := w.Clock()
	return y == wy && mo == wmo && d == wd && h == wh && mi == wmi && s == ws
}

// resolve returns the earliest instant at which loc's clock shows reading w.
// If the clocks skip over w, ok is false and the instant returned is w read
// with the offset in force before the skip, which lies after the skip by as
// much as w lies after its start.
func resolve(w time.Time, loc *time.Location) (inst time.Time, ok bool) {
	t := time.Date(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), w.Second(), w.Nanosecond(), loc)
	_, off := t.Zone()
	start, end := t.ZoneBounds()
	if sameWall(t, w) {
		// When the clocks go back a reading occurs twice, and time.Date may
		// pick either occurrence. The earlier one belongs to the zone period
		// before t's, and exists only if that period's offset was larger.
		if !start.IsZero() {
			_, prev := start.Add(-time.Nanosecond).Zone()
			if prev > off {
				e := t.Add(-time.Duration(prev-off) * time.Second)
				if e.Before(start) && sameWall(e, w) {
					return e, true
				}
			}
		}
		return t, true
	}
	// w was skipped. The skip is at whichever bound of t's zone period is
	// nearer to t; the offset before it is the smaller of the two.
	other := off
	if !end.IsZero() && (start.IsZero() || end.Sub(t) < t.Sub(start)) {
		_, other = end.Zone()
	} else if !start.IsZero() {
		_, other = start.Add(-time.Nanosecond).Zone()
	}
	before := min(off, other)
	return w.Add(-time.Duration(before) * time.Second).In(loc), false
}
