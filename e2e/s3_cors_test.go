package e2e

import (
	"crypto/md5"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/chromedp/chromedp"
)

// corsAnswer is an unsigned request's answer: status, headers, body.
type corsAnswer struct {
	status int
	hdr    http.Header
	body   string
}

// corsRequest sends an unsigned request, as a browser does, with host
// as the Host header when it is not empty (virtual-host style).
func (e *s3Env) corsRequest(t *testing.T, method, path, host string, hdr map[string]string) corsAnswer {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return corsAnswer{resp.StatusCode, resp.Header, string(b)}
}

// corsMD5 is the Content-MD5 of b.
func corsMD5(b []byte) string {
	sum := md5.Sum(b)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// corsError is a preflight refusal's document.
type corsError struct {
	Code, Message, Method, ResourceType, RequestId string
}

func wantCORSError(t *testing.T, a corsAnswer, status int, code, msgPrefix string) corsError {
	t.Helper()
	var e corsError
	if a.status != status || xml.Unmarshal([]byte(a.body), &e) != nil || e.Code != code || !strings.HasPrefix(e.Message, msgPrefix) {
		t.Fatalf("got %d %s, want %d %s %q", a.status, a.body, status, code, msgPrefix)
	}
	if a.hdr.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("a refused preflight carries Access-Control-Allow-Origin: %v", a.hdr)
	}
	return e
}

func TestS3CORS(t *testing.T) {
	e := newS3Env(t)
	ctx := ctxT(t)
	e.bucket(t, "site")
	e.put(t, "site", "data.json", []byte(`{"ok":true}`))
	b := aws.String("site")

	// Without a configuration.
	_, err := e.c.GetBucketCors(ctx, &s3.GetBucketCorsInput{Bucket: b})
	apiErr(t, err, "NoSuchCORSConfiguration", 404)
	ask := map[string]string{"Origin": "https://app.example.com", "Access-Control-Request-Method": "GET"}
	ce := wantCORSError(t, e.corsRequest(t, "OPTIONS", "/site/data.json", "", ask), 403, "AccessForbidden", "CORSResponse: CORS is not enabled for this bucket.")
	if ce.Method != "GET" || ce.ResourceType != "BUCKET" || ce.RequestId == "" {
		t.Fatalf("no configuration: %+v", ce)
	}
	wantCORSError(t, e.corsRequest(t, "OPTIONS", "/nosuchbucket/k", "", ask), 403, "AccessForbidden", "CORSResponse: Bucket not found")
	if a := e.corsRequest(t, "GET", "/site/data.json", "", map[string]string{"Origin": "https://app.example.com"}); a.hdr.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("an unconfigured bucket answered with CORS headers: %v", a.hdr)
	}

	// Refused configurations.
	_, err = e.c.PutBucketCors(ctx, &s3.PutBucketCorsInput{Bucket: b, CORSConfiguration: &types.CORSConfiguration{
		CORSRules: []types.CORSRule{{AllowedOrigins: []string{"*"}, AllowedMethods: []string{"PATCH"}}}}})
	if msg := apiErr(t, err, "InvalidRequest", 400); !strings.Contains(msg, "Unsupported method is PATCH") {
		t.Fatalf("bad method: %s", msg)
	}
	_, err = e.c.PutBucketCors(ctx, &s3.PutBucketCorsInput{Bucket: b, CORSConfiguration: &types.CORSConfiguration{
		CORSRules: []types.CORSRule{{AllowedOrigins: []string{"http://*.*.example.com"}, AllowedMethods: []string{"GET"}}}}})
	apiErr(t, err, "InvalidRequest", 400)
	for _, doc := range []string{`<CORSConfiguration/>`, `<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin>`,
		`<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin></CORSRule></CORSConfiguration>`} {
		status, hdr, body := e.raw(t, "PUT", "/site?cors", []byte(doc), map[string]string{"Content-Md5": corsMD5([]byte(doc))})
		wantXMLError(t, status, hdr, body, 400, "MalformedXML")
	}
	doc := []byte(`<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>`)
	status, hdr, body := e.raw(t, "PUT", "/site?cors", doc, map[string]string{"Content-Md5": corsMD5([]byte("something else"))})
	wantXMLError(t, status, hdr, body, 400, "BadDigest")
	status, hdr, body = e.raw(t, "PUT", "/site?cors", doc, nil)
	if got := wantXMLError(t, status, hdr, body, 400, "InvalidRequest"); !strings.Contains(got.Message, "Content-MD5") {
		t.Fatalf("no digest: %s", body)
	}
	_, err = e.c.GetBucketCors(ctx, &s3.GetBucketCorsInput{Bucket: b})
	apiErr(t, err, "NoSuchCORSConfiguration", 404)

	// A configuration, through the SDK (which sends a checksum).
	rules := []types.CORSRule{
		{ID: aws.String("app"), AllowedOrigins: []string{"https://app.example.com"}, AllowedMethods: []string{"GET", "PUT"},
			AllowedHeaders: []string{"Content-Type", "x-amz-*"}, ExposeHeaders: []string{"ETag", "x-amz-request-id"}, MaxAgeSeconds: aws.Int32(600)},
		{AllowedOrigins: []string{"http://*.example.org"}, AllowedMethods: []string{"GET"}},
		{AllowedOrigins: []string{"*"}, AllowedMethods: []string{"HEAD"}},
	}
	if _, err := e.c.PutBucketCors(ctx, &s3.PutBucketCorsInput{Bucket: b, CORSConfiguration: &types.CORSConfiguration{CORSRules: rules}}); err != nil {
		t.Fatalf("PutBucketCors: %v", err)
	}
	got, err := e.c.GetBucketCors(ctx, &s3.GetBucketCorsInput{Bucket: b})
	if err != nil || len(got.CORSRules) != 3 {
		t.Fatalf("GetBucketCors: %+v, %v", got, err)
	}
	r0 := got.CORSRules[0]
	if aws.ToString(r0.ID) != "app" || strings.Join(r0.AllowedMethods, ",") != "GET,PUT" || strings.Join(r0.AllowedHeaders, ",") != "Content-Type,x-amz-*" ||
		strings.Join(r0.ExposeHeaders, ",") != "ETag,x-amz-request-id" || aws.ToInt32(r0.MaxAgeSeconds) != 600 ||
		got.CORSRules[1].MaxAgeSeconds != nil || got.CORSRules[2].AllowedOrigins[0] != "*" {
		t.Fatalf("round trip: %+v", got.CORSRules)
	}

	t.Run("preflight allowed", func(t *testing.T) {
		a := e.corsRequest(t, "OPTIONS", "/site/data.json", "", map[string]string{"Origin": "https://app.example.com",
			"Access-Control-Request-Method": "PUT", "Access-Control-Request-Headers": "content-type,X-Amz-Date"})
		want := map[string]string{
			"Access-Control-Allow-Origin":      "https://app.example.com",
			"Access-Control-Allow-Methods":     "GET, PUT",
			"Access-Control-Allow-Headers":     "content-type, x-amz-date",
			"Access-Control-Expose-Headers":    "ETag, x-amz-request-id",
			"Access-Control-Max-Age":           "600",
			"Access-Control-Allow-Credentials": "true",
			"Vary":                             "Origin, Access-Control-Request-Headers, Access-Control-Request-Method",
		}
		if a.status != 200 || a.body != "" {
			t.Fatalf("got %d %q", a.status, a.body)
		}
		for k, v := range want {
			if a.hdr.Get(k) != v {
				t.Errorf("%s: %q, want %q", k, a.hdr.Get(k), v)
			}
		}
	})
	t.Run("refused origin", func(t *testing.T) {
		a := e.corsRequest(t, "OPTIONS", "/site/data.json", "", map[string]string{"Origin": "http://app.example.com", "Access-Control-Request-Method": "PUT"})
		ce := wantCORSError(t, a, 403, "AccessForbidden", "CORSResponse: This CORS request is not allowed.")
		if ce.Method != "PUT" || ce.ResourceType != "OBJECT" {
			t.Fatalf("refusal: %+v", ce)
		}
	})
	t.Run("refused method", func(t *testing.T) {
		a := e.corsRequest(t, "OPTIONS", "/site/data.json", "", map[string]string{"Origin": "https://app.example.com", "Access-Control-Request-Method": "DELETE"})
		wantCORSError(t, a, 403, "AccessForbidden", "CORSResponse: This CORS request is not allowed.")
	})
	t.Run("refused header", func(t *testing.T) {
		a := e.corsRequest(t, "OPTIONS", "/site/data.json", "", map[string]string{"Origin": "https://app.example.com",
			"Access-Control-Request-Method": "PUT", "Access-Control-Request-Headers": "content-type, authorization"})
		wantCORSError(t, a, 403, "AccessForbidden", "CORSResponse: This CORS request is not allowed.")
	})
	t.Run("wildcard origins", func(t *testing.T) {
		a := e.corsRequest(t, "OPTIONS", "/site/data.json", "", map[string]string{"Origin": "http://shop.example.org", "Access-Control-Request-Method": "GET"})
		if a.status != 200 || a.hdr.Get("Access-Control-Allow-Origin") != "http://shop.example.org" || a.hdr.Get("Access-Control-Allow-Methods") != "GET" {
			t.Fatalf("partial wildcard: %d %v", a.status, a.hdr)
		}
		a = e.corsRequest(t, "OPTIONS", "/site/data.json", "", map[string]string{"Origin": "https://anyone.test", "Access-Control-Request-Method": "HEAD"})
		if a.status != 200 || a.hdr.Get("Access-Control-Allow-Origin") != "*" || a.hdr.Get("Access-Control-Allow-Credentials") != "" {
			t.Fatalf("origin *: %d %v", a.status, a.hdr)
		}
	})
	t.Run("missing headers", func(t *testing.T) {
		wantCORSError(t, e.corsRequest(t, "OPTIONS", "/site/data.json", "", map[string]string{"Access-Control-Request-Method": "GET"}),
			400, "BadRequest", "Insufficient information. Origin request header needed.")
		wantCORSError(t, e.corsRequest(t, "OPTIONS", "/site/data.json", "", map[string]string{"Origin": "https://app.example.com"}),
			400, "BadRequest", "Invalid Access-Control-Request-Method: null")
	})
	t.Run("virtual host", func(t *testing.T) {
		port := e.srv.URL[strings.LastIndex(e.srv.URL, ":")+1:]
		a := e.corsRequest(t, "OPTIONS", "/data.json", "site.localhost:"+port, map[string]string{"Origin": "https://app.example.com", "Access-Control-Request-Method": "GET"})
		if a.status != 200 || a.hdr.Get("Access-Control-Allow-Origin") != "https://app.example.com" {
			t.Fatalf("virtual-host preflight: %d %v %s", a.status, a.hdr, a.body)
		}
	})
	t.Run("presigned URL preflight", func(t *testing.T) {
		// A preflight to a presigned URL is answered before, and
		// without, the query's signature.
		pre, err := s3.NewPresignClient(e.c).PresignGetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: aws.String("data.json")})
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest("OPTIONS", pre.URL, nil)
		req.Header.Set("Origin", "https://app.example.com")
		req.Header.Set("Access-Control-Request-Method", "GET")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" {
			t.Fatalf("presigned preflight: %d %v", resp.StatusCode, resp.Header)
		}
	})
	t.Run("actual requests", func(t *testing.T) {
		pre, err := s3.NewPresignClient(e.c).PresignGetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: aws.String("data.json")})
		if err != nil {
			t.Fatal(err)
		}
		get := func(url, origin string) *http.Response {
			req, _ := http.NewRequest("GET", url, nil)
			req.Header.Set("Origin", origin)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			return resp
		}
		resp := get(pre.URL, "https://app.example.com")
		if resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" ||
			resp.Header.Get("Access-Control-Allow-Credentials") != "true" || resp.Header.Get("Access-Control-Expose-Headers") != "ETag, x-amz-request-id" ||
			!strings.Contains(resp.Header.Get("Vary"), "Origin") {
			t.Fatalf("presigned GET with Origin: %d %v", resp.StatusCode, resp.Header)
		}
		// Errors carry the headers too: an unsigned GET is refused.
		resp = get(e.srv.URL+"/site/data.json", "https://app.example.com")
		if resp.StatusCode != 403 || resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" {
			t.Fatalf("refused GET with Origin: %d %v", resp.StatusCode, resp.Header)
		}
		// An origin no rule allows: served, without CORS headers.
		resp = get(pre.URL, "https://evil.example.net")
		if resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != "" || resp.Header.Get("Vary") != "" {
			t.Fatalf("GET from an origin not allowed: %d %v", resp.StatusCode, resp.Header)
		}
	})
	t.Run("browser", func(t *testing.T) { corsBrowser(t, e) })

	// DeleteBucketCors, and the bucket is back to none.
	if _, err := e.c.DeleteBucketCors(ctx, &s3.DeleteBucketCorsInput{Bucket: b}); err != nil {
		t.Fatalf("DeleteBucketCors: %v", err)
	}
	_, err = e.c.GetBucketCors(ctx, &s3.GetBucketCorsInput{Bucket: b})
	apiErr(t, err, "NoSuchCORSConfiguration", 404)
	wantCORSError(t, e.corsRequest(t, "OPTIONS", "/site/data.json", "", ask), 403, "AccessForbidden", "CORSResponse: CORS is not enabled for this bucket.")
	if _, err := e.c.DeleteBucketCors(ctx, &s3.DeleteBucketCorsInput{Bucket: b}); err != nil {
		t.Fatalf("DeleteBucketCors without a configuration: %v", err)
	}
}

// corsBrowser has a page on another origin fetch a presigned object from
// the server in headless Chromium: the browser's own CORS check passes
// only with the headers S3 sends.
func corsBrowser(t *testing.T, e *s3Env) {
	ctx := ctxT(t)
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, "<!doctype html><title>other origin</title><p>page</p>")
	}))
	defer page.Close()
	origin := page.URL // http://127.0.0.1:PORT: another origin than the server's port
	rules := []types.CORSRule{{AllowedOrigins: []string{origin}, AllowedMethods: []string{"GET"}, AllowedHeaders: []string{"*"}, ExposeHeaders: []string{"ETag"}}}
	if _, err := e.c.PutBucketCors(ctx, &s3.PutBucketCorsInput{Bucket: aws.String("site"), CORSConfiguration: &types.CORSConfiguration{CORSRules: rules}}); err != nil {
		t.Fatal(err)
	}
	pre, err := s3.NewPresignClient(e.c).PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("site"), Key: aws.String("data.json")})
	if err != nil {
		t.Fatal(err)
	}
	bctx := browser(t)
	run(t, bctx, "open the page", 20*time.Second, chromedp.Navigate(page.URL+"/"))
	fetch := func(url string, hdr string) string {
		t.Helper()
		eval[int](t, bctx, "start fetch", fmt.Sprintf(`window.got = null; fetch(%q, {headers: %s, cache: "no-store"}).then(r => r.text().then(b => window.got = r.status + " " + (r.headers.get("ETag") ? "etag " : "") + b), err => window.got = "error " + err); 0`, url, hdr))
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			if v := eval[string](t, bctx, "read fetch", `window.got || ""`); v != "" {
				return v
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatal("the fetch did not end")
		return ""
	}
	// A simple GET, and one with a custom header (a preflight first).
	if got := fetch(pre.URL, "{}"); got != `200 etag {"ok":true}` {
		t.Fatalf("fetch from %s: %s", origin, got)
	}
	if got := fetch(pre.URL, `{"X-Custom": "1"}`); got != `200 etag {"ok":true}` {
		t.Fatalf("fetch with a preflight from %s: %s", origin, got)
	}
	// Without a rule for the page's origin, the browser refuses.
	rules[0].AllowedOrigins = []string{"https://elsewhere.example.com"}
	if _, err := e.c.PutBucketCors(ctx, &s3.PutBucketCorsInput{Bucket: aws.String("site"), CORSConfiguration: &types.CORSConfiguration{CORSRules: rules}}); err != nil {
		t.Fatal(err)
	}
	if got := fetch(pre.URL, "{}"); !strings.HasPrefix(got, "error ") {
		t.Fatalf("a fetch no rule allows was let through: %s", got)
	}
}
