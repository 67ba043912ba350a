package s3api

import (
	"errors"
	"strings"
	"testing"
)

func TestCopySourceRange(t *testing.T) {
	for _, c := range []struct {
		v           string
		off, length int64
		ok          bool
		msg         string // of the InvalidArgument, "" for none
	}{
		{"", 0, -1, false, ""},
		{"bytes=0-0", 0, 1, true, ""},
		{"bytes=10-99", 10, 90, true, ""},
		{"bytes=0-100", 0, 0, false, "Range specified is not valid for source object of size: 100"},
		{"bytes=5-2", 0, 0, false, "must be of the form"},
		{"bytes=-5", 0, 0, false, "must be of the form"},
		{"bytes=5-", 0, 0, false, "must be of the form"},
		{"0-5", 0, 0, false, "must be of the form"},
		{"bytes=0-1,3-4", 0, 0, false, "must be of the form"},
		{"bytes=+1-2", 0, 0, false, "must be of the form"},
		{"bytes=99999999999999999999-1", 0, 0, false, "must be of the form"},
	} {
		off, length, ok, err := copySourceRange(c.v, 100)
		var e *Error
		switch {
		case c.msg == "" && (err != nil || off != c.off || length != c.length || ok != c.ok):
			t.Errorf("%q: %d %d %v %v", c.v, off, length, ok, err)
		case c.msg != "" && (!errors.As(err, &e) || e.Code != "InvalidArgument" || !strings.Contains(e.Message, c.msg)):
			t.Errorf("%q: %v, want InvalidArgument %q", c.v, err, c.msg)
		}
	}
}
