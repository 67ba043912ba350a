package route

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseKey(t *testing.T) {
	good := []struct {
		key  string
		want Key
	}{
		{"$default", Key{}},
		{"GET /", Key{Method: "GET", Path: "/"}},
		{"ANY /items/{id}", Key{Method: "ANY", Path: "/items/{id}", Segments: []Segment{{KindLiteral, "items"}, {KindParam, "id"}}}},
		{"POST /{proxy+}", Key{Method: "POST", Path: "/{proxy+}", Segments: []Segment{{KindGreedy, "proxy"}}}},
		{"DELETE /a/{b.c}/d/{rest+}", Key{Method: "DELETE", Path: "/a/{b.c}/d/{rest+}", Segments: []Segment{
			{KindLiteral, "a"}, {KindParam, "b.c"}, {KindLiteral, "d"}, {KindGreedy, "rest"}}}},
	}
	for _, tc := range good {
		got, err := ParseKey(tc.key)
		if err != nil {
			t.Errorf("ParseKey(%q): %v", tc.key, err)
			continue
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("ParseKey(%q) (-want +got):\n%s", tc.key, diff)
		}
		if got.String() != tc.key {
			t.Errorf("ParseKey(%q).String() = %q", tc.key, got.String())
		}
	}
	for _, bad := range []string{
		"", "GET", "get /", "FETCH /a", "GET a", "GET /a//b", "GET /a/", "GET /{proxy+}/x",
		"GET /{a}/{a}", "GET /x{a}", "GET /{}", "GET /{a b}", "GET /a b", "GET /a?b", "GET  /a",
		"$DEFAULT", "GET /%41",
	} {
		if _, err := ParseKey(bad); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("ParseKey(%q) = %v, want ErrInvalidKey", bad, err)
		}
	}
}

func table(t testing.TB, keys ...string) *Table[string] {
	t.Helper()
	var tb Table[string]
	for _, k := range keys {
		if err := tb.Add(k, k); err != nil {
			t.Fatalf("Add(%q): %v", k, err)
		}
	}
	return &tb
}

func TestMatchPrecedence(t *testing.T) {
	tb := table(t,
		"GET /pets", "ANY /pets", "POST /pets/dog/1", "GET /pets/dog/1", "GET /pets/{kind}/{id}",
		"ANY /pets/{proxy+}", "GET /files/{path+}", "GET /", "PUT /a/{x}/c", "ANY /a/b/{y}",
		"GET /caf\u00e9", "$default",
	)
	cases := []struct {
		method, path, key string
		params            []Param
	}{
		{"GET", "/pets", "GET /pets", nil},
		{"POST", "/pets", "ANY /pets", nil},
		{"BREW", "/pets", "ANY /pets", nil},
		{"GET", "/pets/dog/1", "GET /pets/dog/1", nil},
		{"POST", "/pets/dog/1", "POST /pets/dog/1", nil},
		{"GET", "/pets/cat/2", "GET /pets/{kind}/{id}", []Param{{"kind", "cat"}, {"id", "2"}}},
		// A specific path with no route for the method falls back to a
		// less specific path that has one.
		{"DELETE", "/pets/dog/1", "ANY /pets/{proxy+}", []Param{{"proxy", "dog/1"}}},
		{"POST", "/pets/cat/2", "ANY /pets/{proxy+}", []Param{{"proxy", "cat/2"}}},
		{"GET", "/pets/a/b/c", "ANY /pets/{proxy+}", []Param{{"proxy", "a/b/c"}}},
		{"GET", "/pets/", "$default", nil}, // a greedy parameter needs at least one character
		{"GET", "/pets/x/", "ANY /pets/{proxy+}", []Param{{"proxy", "x/"}}},
		{"GET", "/files/a%20b/c%2Fd", "GET /files/{path+}", []Param{{"path", "a b/c/d"}}},
		{"GET", "/pets/caf%C3%A9/%zz", "GET /pets/{kind}/{id}", []Param{{"kind", "caf\u00e9"}, {"id", "%zz"}}},
		{"GET", "/", "GET /", nil},
		{"POST", "/", "$default", nil},
		{"GET", "", "$default", nil},
		{"GET", "nope", "$default", nil},
		// The path decides before the method: a literal second segment
		// beats a parameter even for a route of the request's method.
		{"PUT", "/a/b/c", "ANY /a/b/{y}", []Param{{"y", "c"}}},
		{"PUT", "/a/x/c", "PUT /a/{x}/c", []Param{{"x", "x"}}},
		{"PUT", "/a/b/d", "ANY /a/b/{y}", []Param{{"y", "d"}}},
		{"GET", "/caf%C3%A9", "GET /caf\u00e9", nil},
		{"GET", "/pets//x", "ANY /pets/{proxy+}", []Param{{"proxy", "/x"}}},
		{"GET", "/a//c", "$default", nil}, // parameters are never empty
	}
	buf := make([]Param, 0, 4)
	for _, tc := range cases {
		m, ok := tb.Match(tc.method, tc.path, buf)
		if !ok {
			t.Errorf("%s %s: no match, want %q", tc.method, tc.path, tc.key)
			continue
		}
		if m.Key != tc.key || m.Value != tc.key {
			t.Errorf("%s %s: got route %q (value %q), want %q", tc.method, tc.path, m.Key, m.Value, tc.key)
		}
		if len(m.Params) == 0 {
			m.Params = nil
		}
		if diff := cmp.Diff(tc.params, m.Params); diff != "" {
			t.Errorf("%s %s: params (-want +got):\n%s", tc.method, tc.path, diff)
		}
	}
}

func TestMatchWithoutDefault(t *testing.T) {
	tb := table(t, "GET /a")
	if m, ok := tb.Match("GET", "/b", nil); ok {
		t.Fatalf("got %q, want no match", m.Key)
	}
	if _, ok := (&Table[int]{}).Match("GET", "/", nil); ok {
		t.Fatal("an empty table matched")
	}
}

func TestAddConflicts(t *testing.T) {
	var tb Table[int]
	for _, k := range []string{"GET /a/{x}", "ANY /a/{x}", "GET /a/{x}/{r+}", "$default"} {
		if err := tb.Add(k, 1); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range []string{"GET /a/{x}", "GET /a/{y}", "ANY /a/{z}", "GET /a/{q}/{s+}", "$default", "nonsense"} {
		if err := tb.Add(k, 2); err == nil {
			t.Errorf("Add(%q) succeeded, want a conflict", k)
		}
	}
	if tb.Len() != 4 {
		t.Errorf("Len() = %d, want 4", tb.Len())
	}
}

func TestMatchAllocations(t *testing.T) {
	tb := table(t, "GET /items/{id}", "ANY /static/{path+}", "GET /health", "$default")
	buf := make([]Param, 0, 8)
	for _, p := range []string{"/items/42", "/static/css/site.css", "/health", "/other/x"} {
		n := testing.AllocsPerRun(100, func() {
			if _, ok := tb.Match("GET", p, buf); !ok {
				t.Fatal("no match")
			}
		})
		if n != 0 {
			t.Errorf("Match(%q) allocates %v times, want 0", p, n)
		}
	}
}

func BenchmarkMatch(b *testing.B) {
	var keys []string
	for i := range 50 {
		keys = append(keys, fmt.Sprintf("GET /svc%d/items/{id}", i), fmt.Sprintf("POST /svc%d/items", i))
	}
	keys = append(keys, "ANY /static/{path+}", "$default")
	tb := table(b, keys...)
	buf := make([]Param, 0, 8)
	b.ReportAllocs()
	for b.Loop() {
		tb.Match("GET", "/svc42/items/1234", buf)
	}
}

// reference is a slow, obviously correct matcher: it tries every route and
// keeps the most specific one that serves the request.
func reference(keys []string, method, path string) (string, bool) {
	best, bestRank := "", []int(nil)
	bestExact := false
	var def bool
	segs := []string{}
	if path != "/" && strings.HasPrefix(path, "/") {
		segs = strings.Split(path[1:], "/")
	}
	for _, key := range keys {
		k, err := ParseKey(key)
		if err != nil {
			continue
		}
		if k.IsDefault() {
			def = true
			continue
		}
		if !strings.HasPrefix(path, "/") || (k.Method != AnyMethod && k.Method != method) {
			continue
		}
		rank, ok := rankOf(k.Segments, segs)
		if !ok {
			continue
		}
		exact := k.Method != AnyMethod
		if c := compareRanks(rank, bestRank); bestRank == nil || c > 0 || (c == 0 && exact && !bestExact) {
			best, bestRank, bestExact = key, rank, exact
		}
	}
	if bestRank != nil {
		return best, true
	}
	if def {
		return DefaultKey, true
	}
	return "", false
}

// rankOf says whether route segments match path segments, and how
// specifically: one number per route segment, higher for more specific.
func rankOf(route []Segment, segs []string) ([]int, bool) {
	rank := []int{}
	for i, s := range route {
		if s.Kind == KindGreedy {
			rest := strings.Join(segs[min(i, len(segs)):], "/")
			if i >= len(segs) || rest == "" {
				return nil, false
			}
			return append(rank, 0), true
		}
		if i >= len(segs) || segs[i] == "" {
			return nil, false
		}
		if s.Kind == KindLiteral {
			if decode(segs[i]) != s.Text {
				return nil, false
			}
			rank = append(rank, 2)
		} else {
			rank = append(rank, 1)
		}
	}
	return rank, len(route) == len(segs)
}

func compareRanks(a, b []int) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return a[i] - b[i]
		}
	}
	return 0
}

// FuzzMatch checks the table against the reference matcher, and that a
// match's parameters put back into its route give the request's path.
func FuzzMatch(f *testing.F) {
	f.Add("GET /a/{b}\nANY /a/{p+}\n$default", "GET", "/a/x")
	f.Add("GET /a/b\nPOST /a/{x}\nANY /{p+}", "POST", "/a/b")
	f.Add("ANY /x/{y}/z\nGET /x/{p+}", "GET", "/x/%2F/z")
	f.Add("GET /\nGET /{p+}", "GET", "/")
	f.Add("PUT /caf\u00e9/{id}", "PUT", "/caf%C3%A9/%20")
	f.Fuzz(func(t *testing.T, keyList, method, path string) {
		var tb Table[string]
		var keys []string
		for _, k := range strings.Split(keyList, "\n") {
			if tb.Add(k, k) == nil {
				keys = append(keys, k)
			}
		}
		m, ok := tb.Match(method, path, nil)
		want, wantOK := reference(keys, method, path)
		if ok != wantOK || m.Key != want {
			t.Fatalf("routes %q: %s %q matched %q (%v), reference %q (%v)", keys, method, path, m.Key, ok, want, wantOK)
		}
		if !ok || m.Key == DefaultKey {
			return
		}
		if m.Value != m.Key {
			t.Fatalf("match %q carries value %q", m.Key, m.Value)
		}
		decoded, err := url.PathUnescape(path)
		if err != nil {
			return
		}
		k, _ := ParseKey(m.Key)
		var b strings.Builder
		pi := 0
		for _, s := range k.Segments {
			b.WriteByte('/')
			if s.Kind == KindLiteral {
				b.WriteString(s.Text)
				continue
			}
			if m.Params[pi].Name != s.Text {
				t.Fatalf("parameter %d is %q, want %q", pi, m.Params[pi].Name, s.Text)
			}
			b.WriteString(m.Params[pi].Value)
			pi++
		}
		if len(k.Segments) == 0 {
			b.WriteByte('/')
		}
		if pi != len(m.Params) {
			t.Fatalf("%d parameters for %d in the route", len(m.Params), pi)
		}
		if b.String() != decoded {
			t.Fatalf("route %q with %v rebuilds %q, want %q", m.Key, m.Params, b.String(), decoded)
		}
	})
}
