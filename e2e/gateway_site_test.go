package e2e

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/aloft-dev/aloft/internal/alofttest"
)

// putSite creates a bucket and uploads files (key → content type, body).
func putSite(t *testing.T, srv *alofttest.Server, bucket string, files map[string][2]string) {
	t.Helper()
	c := srv.S3()
	if _, err := c.CreateBucket(ctxT(t), &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	for key, f := range files {
		in := &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader([]byte(f[1])), ContentType: aws.String(f[0])}
		if key == "app.js" {
			in.CacheControl = aws.String("no-cache")
		}
		if _, err := c.PutObject(ctxT(t), in); err != nil {
			t.Fatal(err)
		}
	}
}

// TestGatewayStaticSite serves a bucket through an ALOFT_S3 integration:
// index and error documents, content types, ETag and If-None-Match,
// If-Modified-Since, ranges, folder redirects, Cache-Control, HEAD.
func TestGatewayStaticSite(t *testing.T) {
	srv := alofttest.Start(t)
	putSite(t, srv, "site", map[string][2]string{
		"index.html":      {"text/html", "<h1>home</h1>"},
		"docs/index.html": {"text/html", "<h1>docs</h1>"},
		"app.js":          {"text/javascript", "console.log(1)"},
		"404.html":        {"text/html", "<h1>lost</h1>"},
	})
	var api struct{ APIID string }
	manage(t, srv, "POST", "/v2/apis", map[string]any{"name": "site", "protocolType": "HTTP"}, &api)
	manage(t, srv, "POST", "/v2/apis/"+api.APIID+"/stages", map[string]any{"stageName": "$default", "autoDeploy": true}, nil)
	var in struct{ IntegrationID string }
	manage(t, srv, "POST", "/v2/apis/"+api.APIID+"/integrations", map[string]any{"integrationType": "ALOFT_S3", "integrationUri": "arn:aws:s3:::site",
		"aloftErrorDocument": "404.html", "aloftCacheControl": "max-age=120"}, &in)
	manage(t, srv, "POST", "/v2/apis/"+api.APIID+"/routes", map[string]any{"routeKey": "$default", "target": "integrations/" + in.IntegrationID}, nil)
	base := srv.GatewayURL + "/_aloft/apis/" + api.APIID

	home := call(t, "GET", base+"/", "", nil, nil).expect(t, 200, "<h1>home</h1>")
	if home.header.Get("Content-Type") != "text/html" || home.header.Get("Cache-Control") != "max-age=120" || home.header.Get("Etag") == "" || home.header.Get("Last-Modified") == "" {
		t.Fatalf("headers %v", home.header)
	}
	call(t, "GET", base+"/docs/", "", nil, nil).expect(t, 200, "<h1>docs</h1>")
	js := call(t, "GET", base+"/app.js", "", nil, nil).expect(t, 200, "console.log(1)")
	if js.header.Get("Content-Type") != "text/javascript" || js.header.Get("Cache-Control") != "no-cache" {
		t.Fatalf("app.js headers %v", js.header)
	}
	etag := home.header.Get("Etag")
	call(t, "GET", base+"/", "", nil, map[string]string{"If-None-Match": etag}).expect(t, 304, "")
	call(t, "GET", base+"/", "", nil, map[string]string{"If-None-Match": `"other"`}).expect(t, 200, "<h1>home</h1>")
	head := call(t, "HEAD", base+"/index.html", "", nil, nil).expect(t, 200, "")
	if head.header.Get("Content-Length") != "13" || head.header.Get("Etag") != etag {
		t.Fatalf("HEAD headers %v", head.header)
	}
	lost := call(t, "GET", base+"/nowhere.html", "", nil, nil).expect(t, 404, "<h1>lost</h1>")
	if !strings.HasPrefix(lost.header.Get("Content-Type"), "text/html") {
		t.Fatalf("error document type %q", lost.header.Get("Content-Type"))
	}
	call(t, "POST", base+"/", "", []byte("x"), nil).expect(t, 405, `{"message":"Method Not Allowed"}`)

	// Dates: If-Modified-Since at or after the object's time is a 304,
	// before it a 200.
	mod := home.header.Get("Last-Modified")
	call(t, "GET", base+"/", "", nil, map[string]string{"If-Modified-Since": mod}).expect(t, 304, "")
	call(t, "GET", base+"/", "", nil, map[string]string{"If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"}).expect(t, 200, "<h1>home</h1>")

	// Ranges: one range is served (206), past the end is a 416, and
	// If-Range naming another version means the whole object.
	part := call(t, "GET", base+"/index.html", "", nil, map[string]string{"Range": "bytes=4-7"}).expect(t, 206, "home")
	if part.header.Get("Content-Range") != "bytes 4-7/13" || part.header.Get("Content-Length") != "4" {
		t.Fatalf("range headers %v", part.header)
	}
	call(t, "GET", base+"/index.html", "", nil, map[string]string{"Range": "bytes=-5"}).expect(t, 206, "</h1>")
	bad := call(t, "GET", base+"/index.html", "", nil, map[string]string{"Range": "bytes=13-"}).expect(t, 416, "")
	if bad.header.Get("Content-Range") != "bytes */13" {
		t.Fatalf("416 headers %v", bad.header)
	}
	call(t, "GET", base+"/index.html", "", nil, map[string]string{"Range": "bytes=0-3", "If-Range": etag}).expect(t, 206, "<h1>")
	call(t, "GET", base+"/index.html", "", nil, map[string]string{"Range": "bytes=0-3", "If-Range": `"other"`}).expect(t, 200, "<h1>home</h1>")
	call(t, "GET", base+"/index.html", "", nil, map[string]string{"Range": "bytes=0-1,4-5"}).expect(t, 200, "<h1>home</h1>")

	// A folder named without its slash redirects to it, as S3 websites do.
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(base + "/docs")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 302 || resp.Header.Get("Location") != "/_aloft/apis/"+api.APIID+"/docs/" {
		t.Fatalf("GET /docs: %d, Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	call(t, "GET", base+"/docs", "", nil, nil).expect(t, 200, "<h1>docs</h1>")
	call(t, "GET", base+"/nodir", "", nil, nil).expect(t, 404, "<h1>lost</h1>")
}
