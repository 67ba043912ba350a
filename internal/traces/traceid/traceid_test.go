package traceid

import (
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	const root = "1-5759e988-bd862e3fe1be46a994272793"
	tests := []struct {
		name, in string
		want     Header
		ok       bool
	}{
		{"full", "Root=" + root + ";Parent=53995c3f42cd8ad8;Sampled=1", Header{root, "53995c3f42cd8ad8", Sampled}, true},
		{"root only", "Root=" + root, Header{root, "", Undecided}, true},
		{"not sampled", "Root=" + root + ";Sampled=0", Header{root, "", NotSampled}, true},
		{"requested decision", "Root=" + root + ";Sampled=?", Header{root, "", Undecided}, true},
		{"spaces and case", " root=" + root + " ; parent=53995c3f42cd8ad8 ;SAMPLED=1", Header{root, "53995c3f42cd8ad8", Sampled}, true},
		{"extra fields", "Self=1-67891233-12456789abcdef012345678;Root=" + root + ";Lineage=a87bd80c:1|68fd508a:5", Header{root, "", Undecided}, true},
		{"bad parent dropped", "Root=" + root + ";Parent=xyz;Sampled=1", Header{root, "", Sampled}, true},
		{"no root", "Parent=53995c3f42cd8ad8;Sampled=1", Header{}, false},
		{"bad root", "Root=1-5759e98-bd862e3fe1be46a9942727931", Header{}, false},
		{"root not hex", "Root=1-5759e988-bd862e3fe1be46a99427279z", Header{}, false},
		{"wrong version", "Root=2-5759e988-bd862e3fe1be46a994272793", Header{}, false},
		{"empty", "", Header{}, false},
		{"too long", "Root=" + root + ";" + strings.Repeat("x", 300), Header{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := Parse(tc.in)
			if ok != tc.ok || got != tc.want {
				t.Errorf("Parse(%q) = %+v, %v; want %+v, %v", tc.in, got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestTraceparent(t *testing.T) {
	tests := []struct {
		in   string
		want Header
		ok   bool
	}{
		{"00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01", Header{"1-5759e988-bd862e3fe1be46a994272793", "53995c3f42cd8ad8", Sampled}, true},
		{"00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-00", Header{"1-5759e988-bd862e3fe1be46a994272793", "53995c3f42cd8ad8", NotSampled}, true},
		{"01-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01-later", Header{"1-5759e988-bd862e3fe1be46a994272793", "53995c3f42cd8ad8", Sampled}, true},
		{"00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01-later", Header{}, false},
		{"ff-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01", Header{}, false},
		{"00-00000000000000000000000000000000-53995c3f42cd8ad8-01", Header{}, false},
		{"00-5759e988bd862e3fe1be46a994272793-0000000000000000-01", Header{}, false},
		{"00-5759e988bd862e3fe1be46a99427279-53995c3f42cd8ad8-01", Header{}, false},
		{"", Header{}, false},
	}
	for _, tc := range tests {
		got, ok := ParseTraceparent(tc.in)
		if ok != tc.ok || got != tc.want {
			t.Errorf("ParseTraceparent(%q) = %+v, %v; want %+v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
	// Both ways: the W3C form of an X-Ray header reads back as it.
	h := Header{Root: NewRoot(time.Now()), Parent: NewID(), Sampled: Sampled}
	back, ok := ParseTraceparent(h.Traceparent())
	if !ok || back != h {
		t.Errorf("round trip of %+v through %q = %+v, %v", h, h.Traceparent(), back, ok)
	}
	if got, _ := Parse(h.String()); got != h {
		t.Errorf("Parse(String()) = %+v, want %+v", got, h)
	}
}

func TestMint(t *testing.T) {
	now := time.Unix(0x5759e988, 0)
	r := NewRoot(now)
	if !ValidRoot(r) || !strings.HasPrefix(r, "1-5759e988-") {
		t.Fatalf("NewRoot = %q", r)
	}
	if !RootTime(r).Equal(now) {
		t.Errorf("RootTime(%q) = %v, want %v", r, RootTime(r), now)
	}
	if NewRoot(now) == r {
		t.Error("two roots of one second are the same")
	}
	if id := NewID(); !ValidID(id) || id == NewID() {
		t.Errorf("NewID = %q", id)
	}
	if got := W3CTraceID(r); len(got) != 32 || got[:8] != "5759e988" {
		t.Errorf("W3CTraceID = %q", got)
	}
}

func TestForFunction(t *testing.T) {
	const reqID = "0123abcd-4567-4abc-8def-0123456789ab"
	got := ForFunction("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1", reqID)
	want := "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=8def0123456789ab;Sampled=1"
	if got != want {
		t.Errorf("ForFunction = %q, want %q", got, want)
	}
	if s, f := ServiceSegmentID(reqID), FunctionSegmentID(reqID); s != "0123abcd45674abc" || f != "8def0123456789ab" {
		t.Errorf("segment ids = %q, %q", s, f)
	}
	if ServiceSegmentID("short") != "" {
		t.Error("a request id without 32 hex digits gave an id")
	}
	if got := ForFunction("garbage", reqID); got != "garbage" {
		t.Errorf("ForFunction(garbage) = %q", got)
	}
}

func TestSampler(t *testing.T) {
	s := &Sampler{Rate: -1} // the reservoir alone
	now := time.Unix(1000, 0)
	if !s.Sample(now) {
		t.Error("the first request of a second is not sampled")
	}
	for i := 0; i < 100; i++ {
		if s.Sample(now.Add(time.Duration(i) * time.Millisecond)) {
			t.Fatal("a second request in the same second is sampled with rate 0")
		}
	}
	if !s.Sample(now.Add(time.Second)) {
		t.Error("the first request of the next second is not sampled")
	}

	// The rate: 5% of many, within a wide margin.
	s = &Sampler{}
	n := 0
	for i := 0; i < 20000; i++ {
		if s.Sample(now) {
			n++
		}
	}
	if n < 700 || n > 1300 {
		t.Errorf("sampled %d of 20000 at 5%%", n)
	}

	// Headers decide first.
	const root = "1-5759e988-bd862e3fe1be46a994272793"
	if h := (&Sampler{Rate: -1}).Start("Root="+root+";Sampled=1", "", now); h.Sampled != Sampled || h.Root != root {
		t.Errorf("Sampled=1 gave %+v", h)
	}
	fresh := &Sampler{}
	if h := fresh.Start("Root="+root+";Sampled=0", "", now); h.Sampled != NotSampled {
		t.Errorf("Sampled=0 gave %+v", h)
	}
	if h := fresh.Start("", "", now); h.Sampled != Sampled || !ValidRoot(h.Root) {
		t.Errorf("the first undecided request of a second gave %+v", h)
	}
	if h := fresh.Start("", "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01", now); h.Root != root || h.Parent != "53995c3f42cd8ad8" || h.Sampled != Sampled {
		t.Errorf("traceparent gave %+v", h)
	}
	var none *Sampler
	if h := none.Start("", "", now); h.Sampled != NotSampled || h.Root == "" {
		t.Errorf("a nil sampler gave %+v", h)
	}
}

func BenchmarkStartUnsampled(b *testing.B) {
	s := &Sampler{Rate: -1}
	now := time.Now()
	s.Sample(now)
	b.ReportAllocs()
	for b.Loop() {
		_ = s.Start("", "", now).String()
	}
}

func FuzzParse(f *testing.F) {
	f.Add("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")
	f.Add("00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01")
	f.Add("Root=;;;=;Sampled")
	f.Fuzz(func(t *testing.T, s string) {
		if h, ok := Parse(s); ok {
			if !ValidRoot(h.Root) || (h.Parent != "" && !ValidID(h.Parent)) {
				t.Fatalf("Parse(%q) = %+v", s, h)
			}
			if back, ok := Parse(h.String()); !ok || back != h {
				t.Fatalf("Parse(%q).String() = %q reads as %+v", s, h.String(), back)
			}
		}
		if h, ok := ParseTraceparent(s); ok {
			if back, ok := ParseTraceparent(h.Traceparent()); !ok || back.Root != h.Root || back.Parent != h.Parent {
				t.Fatalf("ParseTraceparent(%q) = %+v, which writes as %q", s, h, h.Traceparent())
			}
		}
	})
}
