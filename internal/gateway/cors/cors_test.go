package cors

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func intp(i int) *int { return &i }

func TestCompileRejects(t *testing.T) {
	for name, c := range map[string]*Config{
		"star with credentials": {AllowOrigins: []string{"*"}, AllowCredentials: true},
		"origin without scheme": {AllowOrigins: []string{"example.com"}},
		"origin with path":      {AllowOrigins: []string{"https://example.com/x"}},
		"bad method":            {AllowMethods: []string{"GE T"}},
		"bad header":            {AllowHeaders: []string{"a:b"}},
		"max age too large":     {MaxAge: intp(86401)},
		"max age too small":     {MaxAge: intp(-2)},
	} {
		if _, err := Compile(c); err == nil {
			t.Errorf("%s: Compile succeeded, want an error", name)
		}
	}
	if p, err := Compile(nil); p != nil || err != nil {
		t.Errorf("Compile(nil) = %v, %v; want nil, nil", p, err)
	}
}

func preflight(origin, method, headers string) *http.Request {
	r := httptest.NewRequest("OPTIONS", "/x", nil)
	r.Header.Set("Origin", origin)
	r.Header.Set("Access-Control-Request-Method", method)
	if headers != "" {
		r.Header.Set("Access-Control-Request-Headers", headers)
	}
	return r
}

func TestPreflight(t *testing.T) {
	cases := []struct {
		name   string
		cfg    Config
		req    *http.Request
		header http.Header
	}{
		{"listed origin", Config{AllowOrigins: []string{"https://app.example.com"}, AllowMethods: []string{"get", "POST"},
			AllowHeaders: []string{"Content-Type", "X-Token"}, MaxAge: intp(300), AllowCredentials: true},
			preflight("https://APP.example.com", "POST", "x-token"),
			http.Header{"Access-Control-Allow-Origin": {"https://APP.example.com"}, "Vary": {"Origin"},
				"Access-Control-Allow-Credentials": {"true"}, "Access-Control-Allow-Methods": {"GET,POST"},
				"Access-Control-Allow-Headers": {"content-type,x-token"}, "Access-Control-Max-Age": {"300"}}},
		{"any origin, any method and header", Config{AllowOrigins: []string{"*"}, AllowMethods: []string{"*"}, AllowHeaders: []string{"*"}},
			preflight("http://localhost:3000", "DELETE", "authorization,x-a"),
			http.Header{"Access-Control-Allow-Origin": {"*"}, "Access-Control-Allow-Methods": {"DELETE"},
				"Access-Control-Allow-Headers": {"authorization,x-a"}}},
		{"wildcard subdomain", Config{AllowOrigins: []string{"https://*.example.com"}, MaxAge: intp(-1)},
			preflight("https://a.b.example.com", "GET", ""),
			http.Header{"Access-Control-Allow-Origin": {"https://a.b.example.com"}, "Vary": {"Origin"}}},
		{"wildcard does not match the bare domain", Config{AllowOrigins: []string{"https://*.example.com"}},
			preflight("https://example.com", "GET", ""), http.Header{}},
		{"wildcard checks the scheme", Config{AllowOrigins: []string{"https://*.example.com"}},
			preflight("http://a.example.com", "GET", ""), http.Header{}},
		{"other origin", Config{AllowOrigins: []string{"https://app.example.com"}},
			preflight("https://evil.example.com", "GET", ""), http.Header{}},
	}
	for _, tc := range cases {
		p, err := Compile(&tc.cfg)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !IsPreflight(tc.req) {
			t.Fatalf("%s: not a preflight", tc.name)
		}
		h := http.Header{}
		p.Preflight(tc.req, h)
		if diff := cmp.Diff(tc.header, h); diff != "" {
			t.Errorf("%s: headers (-want +got):\n%s", tc.name, diff)
		}
	}
}

func TestApply(t *testing.T) {
	p, err := Compile(&Config{AllowOrigins: []string{"https://app.example.com"}, ExposeHeaders: []string{"X-Request-Id", "ETag"}, AllowCredentials: true})
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{"Access-Control-Allow-Origin": {"*"}, "Content-Type": {"text/plain"}}
	p.Apply("https://app.example.com", h)
	want := http.Header{"Access-Control-Allow-Origin": {"https://app.example.com"}, "Vary": {"Origin"}, "Content-Type": {"text/plain"},
		"Access-Control-Allow-Credentials": {"true"}, "Access-Control-Expose-Headers": {"x-request-id,etag"}}
	if diff := cmp.Diff(want, h); diff != "" {
		t.Errorf("allowed origin (-want +got):\n%s", diff)
	}
	h = http.Header{"Access-Control-Allow-Origin": {"*"}}
	p.Apply("https://other.example.com", h)
	if len(h) != 0 {
		t.Errorf("other origin: got %v, want the function's CORS headers removed and none added", h)
	}
	var none *Policy
	h = http.Header{"Access-Control-Allow-Origin": {"*"}}
	none.Apply("https://app.example.com", h)
	if len(h) != 1 {
		t.Errorf("no policy: got %v, want the function's headers kept", h)
	}
	if IsPreflight(httptest.NewRequest("OPTIONS", "/", nil)) {
		t.Error("an OPTIONS request without Origin is not a preflight")
	}
}
