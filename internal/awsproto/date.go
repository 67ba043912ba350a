package awsproto

import (
	"net/http"
	"sync/atomic"
	"time"
)

// Date returns an HTTP Date header's value for now, as a header map holds
// it. The value is formatted once a second and shared by every caller in
// that second, which must not change the slice. A handler that sets it on
// its answer just before writing the header spares net/http formatting
// the time itself.
func Date(now time.Time) []string { return date.header(now) }

// date is the value Date gives.
var date dateHeader

// dateHeader is an HTTP Date header value made once a second.
type dateHeader struct{ p atomic.Pointer[dateStamp] }

type dateStamp struct {
	sec int64
	hdr []string
}

// header returns the Date header for now.
func (d *dateHeader) header(now time.Time) []string {
	sec := now.Unix()
	if s := d.p.Load(); s != nil && s.sec == sec {
		return s.hdr
	}
	s := &dateStamp{sec: sec, hdr: []string{now.UTC().Format(http.TimeFormat)}}
	d.p.Store(s)
	return s.hdr
}
