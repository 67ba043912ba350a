package logs

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSubjectRoundTrip(t *testing.T) {
	for _, c := range []struct{ group, stream string }{
		{"/aws/lambda/fn", "2024/05/01/[$LATEST]0123456789abcdef0123456789abcdef"},
		{"a.b*c>d e\tf", "x.y"},
		{"_", "_"},
		{"ünïcödé", "日本"},
	} {
		subj := streamSubject(nameToken(c.group), nameToken(c.stream))
		tokens := strings.Split(subj, ".")
		if len(tokens) != 3 || strings.ContainsAny(subj, "*> \t") {
			t.Errorf("unsafe subject %q", subj)
		}
		g, s, err := parseSubject(subj)
		if err != nil || g != c.group || s != c.stream {
			t.Errorf("%q -> %q %q %v", subj, g, s, err)
		}
		g, s, err = parseSubject(groupSubject(nameToken(c.group)))
		if err != nil || g != c.group || s != "" {
			t.Errorf("marker of %q -> %q %q %v", c.group, g, s, err)
		}
	}
	for _, bad := range []string{"other.x.y", "logs.x", "logs.!!.AA", "logs..AA"} {
		if _, _, err := parseSubject(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestBodyRoundTrip(t *testing.T) {
	evs := []Event{{Timestamp: 1714564800000, Message: "START"}, {Timestamp: -5, Message: ""}, {Timestamp: 7, Message: "x\ny"}}
	b := appendBody(nil, 1234, 99, evs)
	var got []Event
	h, err := readBody(b, func(i int, ts int64, msg []byte) bool {
		got = append(got, Event{Timestamp: ts, Message: string(msg)})
		return true
	})
	if err != nil || h != (bodyHeader{ingestion: 1234, prior: 99, count: 3}) {
		t.Fatalf("header %+v %v", h, err)
	}
	if d := cmp.Diff(evs, got); d != "" {
		t.Error(d)
	}
	sum, _ := summarize(b)
	if sum.minTs != -5 || sum.maxTs != 1714564800000 || sum.bytes != 8 {
		t.Errorf("summary %+v", sum)
	}
	for i := range b {
		if _, err := readBody(b[:i], func(int, int64, []byte) bool { return true }); err == nil {
			t.Errorf("truncated body of %d bytes accepted", i)
		}
	}
}

func TestPositions(t *testing.T) {
	for _, pos := range []uint64{0, position(1, 0), position(12345, 8191), position(1<<47, 65535)} {
		s := formatPos(pos)
		got, ok := parsePos(s)
		if len(s) != posDigits || !ok || got != pos {
			t.Errorf("%d -> %q -> %d %v", pos, s, got, ok)
		}
	}
	if formatPos(position(2, 0)) <= formatPos(position(1, 9)) {
		t.Error("ids do not sort like positions")
	}
	for _, bad := range []string{"", "12", strings.Repeat("9", posDigits), strings.Repeat("a", posDigits)} {
		if _, ok := parsePos(bad); ok {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestPattern(t *testing.T) {
	cases := []struct {
		pattern string
		match   []string
		miss    []string
	}{
		{"", []string{"", "anything"}, nil},
		{"ERROR", []string{"an ERROR here", "ERRORS"}, []string{"error"}},
		{"ERROR db", []string{"ERROR in db"}, []string{"ERROR", "db"}},
		{`"timed out"`, []string{"request timed out"}, []string{"timed  out", "out timed"}},
		{`?ERROR ?"bad thing"`, []string{"ERROR", "a bad thing"}, []string{"bad", "fine"}},
		{"ERROR -retry", []string{"ERROR final"}, []string{"ERROR will retry"}},
		{`"say \"hi\""`, []string{`they say "hi"`}, []string{"say hi"}},
	}
	for _, c := range cases {
		p, err := parsePattern(c.pattern)
		if err != nil {
			t.Fatalf("%q: %v", c.pattern, err)
		}
		for _, m := range c.match {
			if !p.match([]byte(m)) {
				t.Errorf("%q should match %q", c.pattern, m)
			}
		}
		for _, m := range c.miss {
			if p.match([]byte(m)) {
				t.Errorf("%q should not match %q", c.pattern, m)
			}
		}
	}
	for _, bad := range []string{`{ $.level = "ERROR" }`, "[ip, user]", "%ERR.*%", `"open`, "? x"} {
		if _, err := parsePattern(bad); !errors.Is(err, ErrInvalidParameter) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestChunk(t *testing.T) {
	evs := make([]Event, maxChunkEvents*2+1)
	cs := chunk(evs)
	if len(cs) != 3 || len(cs[0]) != maxChunkEvents || len(cs[2]) != 1 {
		t.Errorf("by count: %d chunks", len(cs))
	}
	big := strings.Repeat("x", maxChunkBytes/3)
	cs = chunk([]Event{{Message: big}, {Message: big}, {Message: big}, {Message: big}})
	if len(cs) != 2 {
		t.Errorf("by size: %d chunks", len(cs))
	}
	if cs := chunk(nil); len(cs) != 1 || len(cs[0]) != 0 {
		t.Errorf("empty: %v", cs)
	}
	if got := truncate("aé", 2); got != "a" {
		t.Errorf("truncate %q", got)
	}
}
