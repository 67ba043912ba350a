package function

import (
	"strings"
	"testing"
)

func TestParseRef(t *testing.T) {
	long := strings.Repeat("a", 64)
	for _, tc := range []struct {
		ref, name, qual string
		ok              bool
	}{
		{"hello", "hello", "", true},
		{long, long, "", true},
		{long + "a", "", "", false},
		{"", "", "", false},
		{"he.llo", "", "", false},
		{"héllo", "", "", false},
		{"fn:$LATEST", "fn", "$LATEST", true},
		{"fn:prod-1_a", "fn", "prod-1_a", true},
		{"fn:" + strings.Repeat("q", 129), "", "", false},
		{"fn:$OTHER", "", "", false},
		{"fn:", "fn", "", true},
		{"arn:aws:lambda:us-east-1:000000000000:function:fn", "fn", "", true},
		{"arn:aws:lambda:us-east-1:000000000000:function:fn:7", "fn", "7", true},
		{"arn:aws:lambda:us-east-1:000000000000:function:fn:7:8", "", "", false},
		{"000000000000:function:fn", "fn", "", true},
	} {
		name, qual, ok := ParseRef(tc.ref)
		if ok != tc.ok || ok && (name != tc.name || qual != tc.qual) {
			t.Errorf("ParseRef(%q) = %q, %q, %v; want %q, %q, %v", tc.ref, name, qual, ok, tc.name, tc.qual, tc.ok)
		}
	}
}
