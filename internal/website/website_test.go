package website

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aloft-dev/aloft/internal/objstore"
)

// denyGuard lets keys under allow be read, and nobody list.
type denyGuard struct{ allow string }

func (g denyGuard) CanRead(key string) bool                { return strings.HasPrefix(key, g.allow) }
func (g denyGuard) CanList() bool                          { return false }
func (g denyGuard) ErrorHeaders(h http.Header, f *Failure) { h.Set("X-Error", f.Code) }

func newSite(t *testing.T, files map[string]string) *objstore.Disk {
	t.Helper()
	d, err := objstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := d.CreateBucket(ctx, "bkt", ""); err != nil {
		t.Fatal(err)
	}
	for k, v := range files {
		if _, err := d.PutObject(ctx, "bkt", k, strings.NewReader(v), objstore.PutOptions{ContentType: "text/html"}); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

func serve(d *objstore.Disk, site *Site, method, url, path string, guard Guard) (*httptest.ResponseRecorder, *Failure) {
	w := httptest.NewRecorder()
	r := httptest.NewRequest(method, url, nil)
	return w, Serve(w, r, d, site, path, guard)
}

func TestServe(t *testing.T) {
	d := newSite(t, map[string]string{"www/index.html": "home", "www/docs/index.html": "docs", "www/404.html": "lost", "other": "x"})
	site := &Site{Bucket: "bkt", Prefix: "www/", Index: "index.html", Error: "404.html", CacheControl: []string{"max-age=60"}}
	cases := []struct {
		method, path string
		status       int
		body, loc    string
	}{
		{"GET", "/", 200, "home", ""},
		{"GET", "/docs/", 200, "docs", ""},
		{"HEAD", "/docs/index.html", 200, "", ""},
		{"GET", "/docs", 302, "", "/docs/"},
		{"GET", "/nothing", 404, "lost", ""},
		{"GET", "/other", 404, "lost", ""}, // outside the prefix
	}
	for _, c := range cases {
		w, f := serve(d, site, c.method, "http://h"+c.path, c.path, nil)
		if f != nil || w.Code != c.status || w.Body.String() != c.body || w.Header().Get("Location") != c.loc {
			t.Fatalf("%s %s: %d %q %v, failure %v; want %d %q", c.method, c.path, w.Code, w.Body, w.Header(), f, c.status, c.body)
		}
		if c.status == 200 && w.Header().Get("Cache-Control") != "max-age=60" {
			t.Fatalf("%s %s: Cache-Control %q", c.method, c.path, w.Header().Get("Cache-Control"))
		}
	}
	// Keys no object can have are missing, not failures.
	long := "/" + strings.Repeat("k", objstore.MaxKeyLen+1)
	for _, p := range []string{"/\xff", long} {
		if w, f := serve(d, site, "GET", "http://h/x", p, nil); f != nil || w.Code != 404 || w.Body.String() != "lost" {
			t.Fatalf("GET %.20q: %d %v", p, w.Code, f)
		}
	}
	if _, f := serve(d, &Site{Bucket: "bkt"}, "GET", "http://h/", "/", nil); f == nil || f.Status != 404 {
		t.Fatalf("GET / of a site without an index: %+v", f)
	}
	if w, f := serve(d, site, "PUT", "http://h/", "/", nil); f == nil || f.Status != 405 || f.Code != MethodNotAllowed || w.Body.Len() != 0 {
		t.Fatalf("PUT: %v, wrote %q", f, w.Body)
	}
	// No error document: the failure is the caller's to word.
	bare := &Site{Bucket: "bkt", Prefix: "www/", Index: "index.html"}
	if w, f := serve(d, bare, "GET", "http://h/nothing", "/nothing", nil); f == nil || f.Status != 404 || f.Code != NoSuchKey || f.Key != "www/nothing" || w.Body.Len() != 0 {
		t.Fatalf("missing without error document: %+v, wrote %q", f, w.Body)
	}
	// A guard: what it keeps is 403, and so is what is missing to those
	// who may not list; the error document is served with the status.
	g := denyGuard{allow: "www/"}
	if w, f := serve(d, site, "GET", "http://h/", "/", g); f != nil || w.Code != 200 {
		t.Fatalf("allowed: %d %v", w.Code, f)
	}
	w, f := serve(d, site, "GET", "http://h/nothing", "/nothing", g)
	if f != nil || w.Code != 403 || w.Body.String() != "lost" || w.Header().Get("X-Error") != AccessDenied {
		t.Fatalf("missing, unlisted: %d %q %v %v", w.Code, w.Body, w.Header(), f)
	}
	g = denyGuard{allow: "www/docs/"}
	if _, f := serve(d, site, "GET", "http://h/", "/", g); f == nil || f.Status != 403 || f.ErrorDocument == nil || f.ErrorDocument.Code != AccessDenied {
		t.Fatalf("denied, with a denied error document: %+v", f)
	}
}

func TestRoutingRules(t *testing.T) {
	d := newSite(t, map[string]string{"index.html": "home", "found": "here"})
	str := func(s string) *string { return &s }
	cfg := &objstore.WebsiteConfig{IndexSuffix: "index.html", Rules: []objstore.WebsiteRule{
		{Condition: &objstore.WebsiteCondition{KeyPrefixEquals: str("docs/")}, Redirect: objstore.WebsiteRedirect{ReplaceKeyPrefixWith: str("")}},
		{Condition: &objstore.WebsiteCondition{KeyPrefixEquals: str("img/")}, Redirect: objstore.WebsiteRedirect{ReplaceKeyWith: str("pics.html"), HTTPRedirectCode: 308}},
		{Condition: &objstore.WebsiteCondition{HTTPErrorCode: 404}, Redirect: objstore.WebsiteRedirect{HostName: "other.example", Protocol: "https", ReplaceKeyPrefixWith: str("old/")}},
	}}
	site := &Site{Bucket: "bkt", Index: "index.html", Config: cfg}
	cases := []struct {
		url, path string
		status    int
		loc       string
	}{
		{"http://h/docs/a%20b", "/docs/a b", 301, "http://h/a%20b"},
		{"http://h/img/x/y.png", "/img/x/y.png", 308, "http://h/pics.html"},
		{"http://h/gone", "/gone", 301, "https://other.example/old/gone"}, // the default status
		{"http://h/found", "/found", 200, ""},
		// Served under a base path (a gateway stage): kept on the same host.
		{"http://h/stage/docs/z", "/docs/z", 301, "http://h/stage/z"},
	}
	for _, c := range cases {
		w, f := serve(d, site, "GET", c.url, c.path, nil)
		if f != nil || w.Code != c.status || w.Header().Get("Location") != c.loc {
			t.Fatalf("GET %s: %d %v %v, want %d %q", c.url, w.Code, w.Header(), f, c.status, c.loc)
		}
	}
	// A rule without a condition takes every request; RedirectAll too,
	// with the path under the site and the query.
	site.Config = &objstore.WebsiteConfig{IndexSuffix: "index.html", Rules: []objstore.WebsiteRule{{Redirect: objstore.WebsiteRedirect{HostName: "x.example"}}}}
	if w, _ := serve(d, site, "GET", "http://h/found", "/found", nil); w.Code != 301 || w.Header().Get("Location") != "http://x.example/found" {
		t.Fatalf("unconditional rule: %d %v", w.Code, w.Header())
	}
	site.Config = &objstore.WebsiteConfig{RedirectAll: &objstore.WebsiteRedirect{HostName: "y.example", Protocol: "https"}}
	if w, _ := serve(d, site, "HEAD", "http://h/stage/a/b?c=d", "/a/b", nil); w.Code != 301 || w.Header().Get("Location") != "https://y.example/a/b?c=d" {
		t.Fatalf("redirect all: %d %v", w.Code, w.Header())
	}
}

func TestConfig(t *testing.T) {
	d := newSite(t, nil)
	ctx := context.Background()
	if cfg, err := Config(ctx, d, "bkt"); cfg != nil || err != nil {
		t.Fatalf("unconfigured: %v, %v", cfg, err)
	}
	if err := d.PutWebsite(ctx, "bkt", &objstore.WebsiteConfig{IndexSuffix: "i.html"}); err != nil {
		t.Fatal(err)
	}
	first, err := Config(ctx, d, "bkt")
	if err != nil || first == nil || first.IndexSuffix != "i.html" {
		t.Fatalf("configured: %+v, %v", first, err)
	}
	if again, _ := Config(ctx, d, "bkt"); again != first {
		t.Fatal("an unchanged configuration was read again")
	}
	if err := d.PutWebsite(ctx, "bkt", nil); err != nil {
		t.Fatal(err)
	}
	if cfg, err := Config(ctx, d, "bkt"); cfg != nil || err != nil {
		t.Fatalf("removed: %+v, %v", cfg, err)
	}
	if _, err := Config(ctx, d, "nope"); err == nil {
		t.Fatal("a missing bucket has a configuration")
	}
}

// BenchmarkServe measures a site's hot path: a conditional GET answered
// 304, and a GET of a small object, with the bucket's configuration
// looked up each time as the servers do.
func BenchmarkServe(b *testing.B) {
	d, err := objstore.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if err := d.CreateBucket(ctx, "bkt", ""); err != nil {
		b.Fatal(err)
	}
	info, err := d.PutObject(ctx, "bkt", "index.html", strings.NewReader("<h1>home</h1>"), objstore.PutOptions{ContentType: "text/html"})
	if err != nil {
		b.Fatal(err)
	}
	if err := d.PutWebsite(ctx, "bkt", &objstore.WebsiteConfig{IndexSuffix: "index.html"}); err != nil {
		b.Fatal(err)
	}
	b.Run("config", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Config(ctx, d, "bkt"); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, c := range []struct{ name, inm string }{{"get", ""}, {"not-modified", `"` + info.ETag + `"`}} {
		b.Run(c.name, func(b *testing.B) {
			r := httptest.NewRequest("GET", "http://h/", nil)
			if c.inm != "" {
				r.Header.Set("If-None-Match", c.inm)
			}
			b.ReportAllocs()
			for b.Loop() {
				cfg, err := Config(ctx, d, "bkt")
				if err != nil {
					b.Fatal(err)
				}
				w := httptest.NewRecorder()
				site := Site{Bucket: "bkt", Index: cfg.IndexSuffix, Config: cfg}
				if f := Serve(w, r, d, &site, "/", nil); f != nil {
					b.Fatal(f)
				}
			}
		})
	}
}
