package e2e

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/aloft-dev/aloft/internal/alofttest"
)

// websiteAnswer is a website endpoint's answer.
type websiteAnswer struct {
	status int
	hdr    http.Header
	body   string
}

// visit sends an unsigned request, as a browser does, to the website
// endpoint host on the server's S3 address, following no redirect.
func (e *s3Env) visit(t *testing.T, method, host, path string, hdr map[string]string) websiteAnswer {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	req.Header.Set("Accept", "text/html,application/xhtml+xml")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return websiteAnswer{resp.StatusCode, resp.Header, string(b)}
}

// wantPage asserts an answer is S3's HTML error page for code.
func wantPage(t *testing.T, what string, a websiteAnswer, status int, code string) {
	t.Helper()
	if a.status != status || a.hdr.Get("X-Amz-Error-Code") != code || !strings.HasPrefix(a.hdr.Get("Content-Type"), "text/html") ||
		!strings.Contains(a.body, "<li>Code: "+code+"</li>") || !strings.Contains(a.body, "<h1>"+strconv.Itoa(status)+" ") {
		t.Fatalf("%s: got %d %v %q, want S3's %d %s page", what, a.status, a.hdr, a.body, status, code)
	}
}

func TestS3Website(t *testing.T) {
	e := newS3Env(t)
	ctx := ctxT(t)
	e.bucket(t, "site")
	b := aws.String("site")
	port := e.srv.URL[strings.LastIndexByte(e.srv.URL, ':'):]
	host := "site.s3-website.localhost" + port

	// No configuration yet: the API and the endpoint say so.
	_, err := e.c.GetBucketWebsite(ctx, &s3.GetBucketWebsiteInput{Bucket: b})
	apiErr(t, err, "NoSuchWebsiteConfiguration", 404)
	a := e.visit(t, "GET", host, "/", nil)
	wantPage(t, "unconfigured bucket", a, 404, "NoSuchWebsiteConfiguration")
	if !strings.Contains(a.body, "<li>BucketName: site</li>") {
		t.Fatalf("unconfigured bucket's page names no bucket: %s", a.body)
	}
	wantPage(t, "missing bucket", e.visit(t, "GET", "nothing.s3-website.localhost"+port, "/", nil), 404, "NoSuchBucket")

	// Refusals, with S3's codes and words; nothing is stored.
	refusals := []struct {
		name, code, msg string
		cfg             *types.WebsiteConfiguration
	}{
		{"no index", "InvalidArgument", "A value for IndexDocument Suffix must be provided if RedirectAllRequestsTo is empty",
			&types.WebsiteConfiguration{ErrorDocument: &types.ErrorDocument{Key: aws.String("e.html")}}},
		{"index with a slash", "InvalidArgument", "The IndexDocument Suffix is not well formed",
			&types.WebsiteConfiguration{IndexDocument: &types.IndexDocument{Suffix: aws.String("a/index.html")}}},
		{"empty index", "InvalidArgument", "The IndexDocument Suffix is not well formed",
			&types.WebsiteConfiguration{IndexDocument: &types.IndexDocument{Suffix: aws.String("")}}},
		{"redirect all and more", "InvalidArgument", "RedirectAllRequestsTo cannot be provided in conjunction with other Routing Rules.",
			&types.WebsiteConfiguration{IndexDocument: &types.IndexDocument{Suffix: aws.String("index.html")},
				RedirectAllRequestsTo: &types.RedirectAllRequestsTo{HostName: aws.String("example.com")}}},
		{"both replacements", "InvalidRequest", "You can only define ReplaceKeyPrefix or ReplaceKey but not both.",
			&types.WebsiteConfiguration{IndexDocument: &types.IndexDocument{Suffix: aws.String("index.html")},
				RoutingRules: []types.RoutingRule{{Redirect: &types.Redirect{ReplaceKeyWith: aws.String("a"), ReplaceKeyPrefixWith: aws.String("b/")}}}}},
		{"redirect code 300", "InvalidRequest", "The provided HTTP redirect code (300) is not valid. Valid codes are 3XX except 300.",
			&types.WebsiteConfiguration{IndexDocument: &types.IndexDocument{Suffix: aws.String("index.html")},
				RoutingRules: []types.RoutingRule{{Redirect: &types.Redirect{HttpRedirectCode: aws.String("300")}}}}},
		{"error code 302", "InvalidRequest", "The provided HTTP error code (302) is not valid. Valid codes are 4XX or 5XX.",
			&types.WebsiteConfiguration{IndexDocument: &types.IndexDocument{Suffix: aws.String("index.html")},
				RoutingRules: []types.RoutingRule{{Condition: &types.Condition{HttpErrorCodeReturnedEquals: aws.String("302")},
					Redirect: &types.Redirect{HostName: aws.String("example.com")}}}}},
	}
	many := make([]types.RoutingRule, 51)
	for i := range many {
		many[i] = types.RoutingRule{Redirect: &types.Redirect{HostName: aws.String("example.com")}}
	}
	refusals = append(refusals, struct {
		name, code, msg string
		cfg             *types.WebsiteConfiguration
	}{"51 rules", "InvalidRequest", "51 routing rules provided, the number of routing rules in a website configuration is limited to 50.",
		&types.WebsiteConfiguration{IndexDocument: &types.IndexDocument{Suffix: aws.String("index.html")}, RoutingRules: many}})
	for _, c := range refusals {
		_, err := e.c.PutBucketWebsite(ctx, &s3.PutBucketWebsiteInput{Bucket: b, WebsiteConfiguration: c.cfg})
		if msg := apiErr(t, err, c.code, 400); msg != c.msg {
			t.Fatalf("%s: message %q, want %q", c.name, msg, c.msg)
		}
	}
	for _, doc := range []string{
		`<WebsiteConfiguration><IndexDocument><Suffix>index.html</Suffix>`,
		`<WebsiteConfiguration><IndexDocument><Suffix>index.html</Suffix></IndexDocument><Colour>red</Colour></WebsiteConfiguration>`,
		`<WebsiteConfiguration><IndexDocument><Suffix>index.html</Suffix></IndexDocument><RoutingRules></RoutingRules></WebsiteConfiguration>`,
		`<WebsiteConfiguration><IndexDocument><Suffix>index.html</Suffix></IndexDocument><RoutingRules><RoutingRule><Condition><KeyPrefixEquals>a</KeyPrefixEquals></Condition></RoutingRule></RoutingRules></WebsiteConfiguration>`,
	} {
		st, _, body := e.raw(t, "PUT", "/site?website", []byte(doc), map[string]string{"Content-MD5": corsMD5([]byte(doc))})
		if st != 400 || !strings.Contains(body, "<Code>MalformedXML</Code>") {
			t.Fatalf("PUT %s: %d %s, want 400 MalformedXML", doc, st, body)
		}
	}
	const plain = `<WebsiteConfiguration><IndexDocument><Suffix>index.html</Suffix></IndexDocument></WebsiteConfiguration>`
	if st, _, body := e.raw(t, "PUT", "/site?website", []byte(plain), nil); st != 400 || !strings.Contains(body, "<Code>InvalidRequest</Code>") ||
		!strings.Contains(body, "Content-MD5") {
		t.Fatalf("PUT without Content-MD5: %d %s, want 400 InvalidRequest", st, body)
	}
	_, err = e.c.GetBucketWebsite(ctx, &s3.GetBucketWebsiteInput{Bucket: b})
	apiErr(t, err, "NoSuchWebsiteConfiguration", 404)

	// A site: round trip.
	cfg := &types.WebsiteConfiguration{
		IndexDocument: &types.IndexDocument{Suffix: aws.String("index.html")},
		ErrorDocument: &types.ErrorDocument{Key: aws.String("error.html")},
		RoutingRules: []types.RoutingRule{
			{Condition: &types.Condition{KeyPrefixEquals: aws.String("old/")},
				Redirect: &types.Redirect{ReplaceKeyPrefixWith: aws.String("new/")}},
			{Condition: &types.Condition{HttpErrorCodeReturnedEquals: aws.String("404"), KeyPrefixEquals: aws.String("lost/")},
				Redirect: &types.Redirect{HostName: aws.String("example.com"), Protocol: types.ProtocolHttps,
					HttpRedirectCode: aws.String("307"), ReplaceKeyWith: aws.String("found.html")}},
		},
	}
	if _, err := e.c.PutBucketWebsite(ctx, &s3.PutBucketWebsiteInput{Bucket: b, WebsiteConfiguration: cfg}); err != nil {
		t.Fatal(err)
	}
	got, err := e.c.GetBucketWebsite(ctx, &s3.GetBucketWebsiteInput{Bucket: b})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(got.IndexDocument.Suffix) != "index.html" || aws.ToString(got.ErrorDocument.Key) != "error.html" ||
		got.RedirectAllRequestsTo != nil || len(got.RoutingRules) != 2 {
		t.Fatalf("GetBucketWebsite: %+v", got)
	}
	r0, r1 := got.RoutingRules[0], got.RoutingRules[1]
	if aws.ToString(r0.Condition.KeyPrefixEquals) != "old/" || r0.Condition.HttpErrorCodeReturnedEquals != nil ||
		aws.ToString(r0.Redirect.ReplaceKeyPrefixWith) != "new/" || r0.Redirect.ReplaceKeyWith != nil || r0.Redirect.HostName != nil {
		t.Fatalf("rule 0 read back as %+v / %+v", r0.Condition, r0.Redirect)
	}
	if aws.ToString(r1.Condition.HttpErrorCodeReturnedEquals) != "404" || aws.ToString(r1.Redirect.HostName) != "example.com" ||
		r1.Redirect.Protocol != types.ProtocolHttps || aws.ToString(r1.Redirect.HttpRedirectCode) != "307" || aws.ToString(r1.Redirect.ReplaceKeyWith) != "found.html" {
		t.Fatalf("rule 1 read back as %+v / %+v", r1.Condition, r1.Redirect)
	}
	for key, body := range map[string]string{"index.html": "home", "docs/index.html": "docs home", "error.html": "oops", "page.html": "a page"} {
		if _, err := e.c.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String(key), Body: strings.NewReader(body), ContentType: aws.String("text/html")}); err != nil {
			t.Fatal(err)
		}
	}

	// Nothing public yet: 403, as S3's page (the error document is not
	// public either).
	a = e.visit(t, "GET", host, "/", nil)
	wantPage(t, "private site", a, 403, "AccessDenied")
	if !strings.Contains(a.body, "An Error Occurred While Attempting to Retrieve a Custom Error Document") {
		t.Fatalf("private site's page does not say the error document failed too: %s", a.body)
	}

	// Public: anybody may read the objects and list the bucket.
	public := `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::site/*"},
		{"Effect":"Allow","Principal":"*","Action":"s3:ListBucket","Resource":"arn:aws:s3:::site"}]}`
	if _, err := e.c.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: b, Policy: aws.String(public)}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ path, body string }{{"/", "home"}, {"/docs/", "docs home"}, {"/page.html", "a page"}, {"/docs/index.html", "docs home"}} {
		a := e.visit(t, "GET", host, c.path, nil)
		if a.status != 200 || a.body != c.body || a.hdr.Get("Content-Type") != "text/html" || a.hdr.Get("Etag") == "" {
			t.Fatalf("GET %s: %d %v %q, want 200 %q", c.path, a.status, a.hdr, a.body, c.body)
		}
	}
	// Every region form of the host.
	for _, h := range []string{"site.s3-website-us-east-1.localhost" + port, "site.s3-website.us-east-1.localhost" + port, "SITE.S3-Website.localhost."} {
		if a := e.visit(t, "GET", h, "/", nil); a.status != 200 || a.body != "home" {
			t.Fatalf("GET / on %s: %d %q", h, a.status, a.body)
		}
	}
	// A folder without its slash.
	if a := e.visit(t, "GET", host, "/docs", nil); a.status != 302 || a.hdr.Get("Location") != "/docs/" {
		t.Fatalf("GET /docs: %d %v, want 302 to /docs/", a.status, a.hdr)
	}
	// Missing: the error document, with 404.
	if a := e.visit(t, "GET", host, "/missing.html", nil); a.status != 404 || a.body != "oops" || a.hdr.Get("X-Amz-Error-Code") != "NoSuchKey" {
		t.Fatalf("GET /missing.html: %d %v %q, want 404 with the error document", a.status, a.hdr, a.body)
	}
	// A routing rule on the key prefix, before anything is read.
	if a := e.visit(t, "GET", host, "/old/a%20b.html", nil); a.status != 301 || a.hdr.Get("Location") != "http://"+host+"/new/a%20b.html" {
		t.Fatalf("GET /old/a b.html: %d %v, want 301 to /new/a%%20b.html", a.status, a.hdr)
	}
	// A routing rule on the error code: only when the key is missing.
	if a := e.visit(t, "GET", host, "/lost/thing", nil); a.status != 307 || a.hdr.Get("Location") != "https://example.com/found.html" {
		t.Fatalf("GET /lost/thing: %d %v, want 307 to https://example.com/found.html", a.status, a.hdr)
	}
	if _, err := e.c.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String("lost/here"), Body: strings.NewReader("here")}); err != nil {
		t.Fatal(err)
	}
	if a := e.visit(t, "GET", host, "/lost/here", nil); a.status != 200 || a.body != "here" {
		t.Fatalf("GET /lost/here: %d %q, want the object", a.status, a.body)
	}
	// HEAD, conditions and ranges.
	a = e.visit(t, "HEAD", host, "/", nil)
	if a.status != 200 || a.body != "" || a.hdr.Get("Content-Length") != "4" {
		t.Fatalf("HEAD /: %d %v %q", a.status, a.hdr, a.body)
	}
	if c := e.visit(t, "GET", host, "/", map[string]string{"If-None-Match": a.hdr.Get("Etag")}); c.status != 304 {
		t.Fatalf("GET / with its ETag: %d, want 304", c.status)
	}
	if c := e.visit(t, "GET", host, "/", map[string]string{"Range": "bytes=1-2"}); c.status != 206 || c.body != "om" {
		t.Fatalf("GET / bytes=1-2: %d %q, want 206 om", c.status, c.body)
	}
	// The bucket's CORS configuration applies to the website too.
	if _, err := e.c.PutBucketCors(ctx, &s3.PutBucketCorsInput{Bucket: b, CORSConfiguration: &types.CORSConfiguration{
		CORSRules: []types.CORSRule{{AllowedOrigins: []string{"https://app.example"}, AllowedMethods: []string{"GET"}}}}}); err != nil {
		t.Fatal(err)
	}
	if a := e.visit(t, "GET", host, "/page.html", map[string]string{"Origin": "https://app.example"}); a.status != 200 || a.hdr.Get("Access-Control-Allow-Origin") != "https://app.example" {
		t.Fatalf("cross-origin GET: %d %v", a.status, a.hdr)
	}
	if a := e.visit(t, "OPTIONS", host, "/page.html", map[string]string{"Origin": "https://app.example", "Access-Control-Request-Method": "GET"}); a.status != 200 ||
		a.hdr.Get("Access-Control-Allow-Origin") != "https://app.example" {
		t.Fatalf("preflight: %d %v %s", a.status, a.hdr, a.body)
	}
	if a := e.visit(t, "OPTIONS", host, "/page.html", map[string]string{"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}); a.status != 403 {
		t.Fatalf("preflight from another origin: %d %v %s", a.status, a.hdr, a.body)
	}
	// Only reads.
	for _, m := range []string{"PUT", "POST", "DELETE"} {
		a := e.visit(t, m, host, "/index.html", nil)
		wantPage(t, m, a, 405, "MethodNotAllowed")
	}
	if body, _ := e.get(t, "site", "index.html"); string(body) != "home" {
		t.Fatalf("index.html after the refused writes: %q", body)
	}

	// Without the error document: S3's page, saying so.
	if _, err := e.c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: b, Key: aws.String("error.html")}); err != nil {
		t.Fatal(err)
	}
	a = e.visit(t, "GET", host, "/missing.html", nil)
	wantPage(t, "missing without error document", a, 404, "NoSuchKey")
	if !strings.Contains(a.body, "<li>Key: missing.html</li>") || !strings.Contains(a.body, "Custom Error Document</h3>\n<ul>\n<li>Code: NoSuchKey</li>") {
		t.Fatalf("missing without error document: %s", a.body)
	}
	if h := e.visit(t, "HEAD", host, "/missing.html", nil); h.status != 404 || h.body != "" || h.hdr.Get("X-Amz-Error-Code") != "NoSuchKey" {
		t.Fatalf("HEAD /missing.html: %d %v %q", h.status, h.hdr, h.body)
	}

	// Whoever may not list the bucket learns nothing of missing keys: 403.
	readOnly := `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::site/*"},
		{"Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::site/docs/*"}]}`
	if _, err := e.c.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: b, Policy: aws.String(readOnly)}); err != nil {
		t.Fatal(err)
	}
	wantPage(t, "missing, unlisted", e.visit(t, "GET", host, "/missing.html", nil), 403, "AccessDenied")
	wantPage(t, "denied folder", e.visit(t, "GET", host, "/docs/", nil), 403, "AccessDenied")
	if a := e.visit(t, "GET", host, "/", nil); a.status != 200 || a.body != "home" {
		t.Fatalf("GET / under the narrower policy: %d %q", a.status, a.body)
	}

	// Every request elsewhere.
	all := &types.WebsiteConfiguration{RedirectAllRequestsTo: &types.RedirectAllRequestsTo{HostName: aws.String("example.org"), Protocol: types.ProtocolHttps}}
	if _, err := e.c.PutBucketWebsite(ctx, &s3.PutBucketWebsiteInput{Bucket: b, WebsiteConfiguration: all}); err != nil {
		t.Fatal(err)
	}
	got, err = e.c.GetBucketWebsite(ctx, &s3.GetBucketWebsiteInput{Bucket: b})
	if err != nil || got.RedirectAllRequestsTo == nil || aws.ToString(got.RedirectAllRequestsTo.HostName) != "example.org" ||
		got.RedirectAllRequestsTo.Protocol != types.ProtocolHttps || got.IndexDocument != nil {
		t.Fatalf("GetBucketWebsite of a redirect: %+v, %v", got, err)
	}
	if a := e.visit(t, "GET", host, "/a/b?c=d", nil); a.status != 301 || a.hdr.Get("Location") != "https://example.org/a/b?c=d" {
		t.Fatalf("GET /a/b?c=d redirected all: %d %v", a.status, a.hdr)
	}

	// Deleted, twice: the endpoint says so again.
	for range 2 {
		if _, err := e.c.DeleteBucketWebsite(ctx, &s3.DeleteBucketWebsiteInput{Bucket: b}); err != nil {
			t.Fatal(err)
		}
	}
	_, err = e.c.GetBucketWebsite(ctx, &s3.GetBucketWebsiteInput{Bucket: b})
	apiErr(t, err, "NoSuchWebsiteConfiguration", 404)
	wantPage(t, "deleted configuration", e.visit(t, "GET", host, "/", nil), 404, "NoSuchWebsiteConfiguration")
	_, err = e.c.GetBucketWebsite(ctx, &s3.GetBucketWebsiteInput{Bucket: aws.String("nothing")})
	apiErr(t, err, "NoSuchBucket", 404)

	// The API on the same listener is the API still.
	out, err := e.c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: b, Prefix: aws.String("docs/")})
	if err != nil || len(out.Contents) != 1 {
		t.Fatalf("ListObjectsV2 beside the website: %+v, %v", out, err)
	}
}

// TestS3WebsiteGatewayRoute serves a bucket with a website configuration
// through a gateway route: the bucket's routing rules and error document
// apply there too, under the route's base path.
func TestS3WebsiteGatewayRoute(t *testing.T) {
	srv := alofttest.Start(t)
	putSite(t, srv, "gsite", map[string][2]string{
		"index.html": {"text/html", "<h1>home</h1>"},
		"sorry.html": {"text/html", "<h1>sorry</h1>"},
	})
	cfg := &types.WebsiteConfiguration{
		IndexDocument: &types.IndexDocument{Suffix: aws.String("index.html")},
		ErrorDocument: &types.ErrorDocument{Key: aws.String("sorry.html")},
		RoutingRules: []types.RoutingRule{{Condition: &types.Condition{KeyPrefixEquals: aws.String("old/")},
			Redirect: &types.Redirect{ReplaceKeyPrefixWith: aws.String("new/"), HttpRedirectCode: aws.String("302")}}},
	}
	if _, err := srv.S3().PutBucketWebsite(ctxT(t), &s3.PutBucketWebsiteInput{Bucket: aws.String("gsite"), WebsiteConfiguration: cfg}); err != nil {
		t.Fatal(err)
	}
	var api struct{ APIID string }
	manage(t, srv, "POST", "/v2/apis", map[string]any{"name": "gsite", "protocolType": "HTTP"}, &api)
	manage(t, srv, "POST", "/v2/apis/"+api.APIID+"/stages", map[string]any{"stageName": "$default", "autoDeploy": true}, nil)
	var in struct{ IntegrationID string }
	manage(t, srv, "POST", "/v2/apis/"+api.APIID+"/integrations", map[string]any{"integrationType": "ALOFT_S3", "integrationUri": "arn:aws:s3:::gsite"}, &in)
	manage(t, srv, "POST", "/v2/apis/"+api.APIID+"/routes", map[string]any{"routeKey": "$default", "target": "integrations/" + in.IntegrationID}, nil)
	base := srv.GatewayURL + "/_aloft/apis/" + api.APIID

	call(t, "GET", base+"/", "", nil, nil).expect(t, 200, "<h1>home</h1>")
	call(t, "GET", base+"/nowhere", "", nil, nil).expect(t, 404, "<h1>sorry</h1>")
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(base + "/old/page.html")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if want := base + "/new/page.html"; resp.StatusCode != 302 || resp.Header.Get("Location") != want {
		t.Fatalf("GET /old/page.html: %d, Location %q, want 302 to %s", resp.StatusCode, resp.Header.Get("Location"), want)
	}
}
