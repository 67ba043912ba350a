package s3api

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/aloft-dev/aloft/internal/objstore"
	"github.com/aloft-dev/aloft/internal/sigv4"
)

func TestParseCORS(t *testing.T) {
	rule := func(inner string) string {
		return `<CORSConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><CORSRule>` + inner + `</CORSRule></CORSConfiguration>`
	}
	many := "<CORSConfiguration>" + strings.Repeat("<CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule>", 101) + "</CORSConfiguration>"
	tests := []struct {
		name, doc, code, msg string
	}{
		{"ok", rule(`<ID>r1</ID><AllowedOrigin>http://*.example.com</AllowedOrigin><AllowedMethod>GET</AllowedMethod><AllowedHeader>x-amz-*</AllowedHeader><MaxAgeSeconds>30</MaxAgeSeconds>`), "", ""},
		{"no namespace", `<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>PUT</AllowedMethod></CORSRule></CORSConfiguration>`, "", ""},
		{"not xml", `{"CORSRules":[]}`, "MalformedXML", ""},
		{"other root", `<Tagging><CORSRule/></Tagging>`, "MalformedXML", ""},
		{"no rules", `<CORSConfiguration/>`, "MalformedXML", ""},
		{"101 rules", many, "MalformedXML", ""},
		{"no origin", rule(`<AllowedMethod>GET</AllowedMethod>`), "MalformedXML", ""},
		{"no method", rule(`<AllowedOrigin>*</AllowedOrigin>`), "MalformedXML", ""},
		{"unknown element", rule(`<AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod><AllowCredentials>true</AllowCredentials>`), "MalformedXML", ""},
		{"two max ages", rule(`<AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod><MaxAgeSeconds>1</MaxAgeSeconds><MaxAgeSeconds>2</MaxAgeSeconds>`), "MalformedXML", ""},
		{"bad max age", rule(`<AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod><MaxAgeSeconds>soon</MaxAgeSeconds>`), "MalformedXML", ""},
		{"OPTIONS", rule(`<AllowedOrigin>*</AllowedOrigin><AllowedMethod>OPTIONS</AllowedMethod>`), "InvalidRequest", "Found unsupported HTTP method in CORS config. Unsupported method is OPTIONS"},
		{"lower-case method", rule(`<AllowedOrigin>*</AllowedOrigin><AllowedMethod>get</AllowedMethod>`), "InvalidRequest", "Found unsupported HTTP method in CORS config. Unsupported method is get"},
		{"two origin wildcards", rule(`<AllowedOrigin>*example*.com</AllowedOrigin><AllowedMethod>GET</AllowedMethod>`), "InvalidRequest", `AllowedOrigin "*example*.com" can not have more than one wildcard.`},
		{"two header wildcards", rule(`<AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod><AllowedHeader>x-*-*</AllowedHeader>`), "InvalidRequest", `AllowedHeader "x-*-*" can not have more than one wildcard.`},
		{"long id", rule(`<ID>` + strings.Repeat("i", 256) + `</ID><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod>`), "InvalidArgument", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := parseCORS([]byte(tt.doc))
			if tt.code == "" {
				if err != nil || cfg == nil || len(cfg.Rules) != 1 {
					t.Fatalf("got %+v, %v; want one rule", cfg, err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) || e.Code != tt.code {
				t.Fatalf("got %v, want %s", err, tt.code)
			}
			if tt.msg != "" && e.Message != tt.msg {
				t.Fatalf("message %q, want %q", e.Message, tt.msg)
			}
		})
	}
}

func TestMatchCORS(t *testing.T) {
	cfg, err := parseCORS([]byte(`<CORSConfiguration>
<CORSRule><AllowedOrigin>https://app.example.com</AllowedOrigin><AllowedMethod>PUT</AllowedMethod><AllowedHeader>Content-Type</AllowedHeader><AllowedHeader>x-amz-*</AllowedHeader></CORSRule>
<CORSRule><AllowedOrigin>http://*.example.com</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule>
<CORSRule><AllowedOrigin>start*end</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule>
<CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>HEAD</AllowedMethod></CORSRule>
</CORSConfiguration>`))
	if err != nil {
		t.Fatal(err)
	}
	rules := compileCORS(cfg)
	tests := []struct {
		origin, method, headers string
		want                    int // index of the rule, -1 for none
	}{
		{"https://app.example.com", "PUT", "", 0},
		{"https://app.example.com", "PUT", "content-type,x-amz-date, X-AMZ-META-A", 0},
		{"https://app.example.com", "PUT", "content-type, authorization", -1},
		{"https://app.example.com", "GET", "", -1},
		{"http://app.example.com", "PUT", "", -1}, // scheme differs
		{"https://app.example.com:443", "PUT", "", -1},
		{"http://a.example.com", "GET", "", 1},
		{"http://a.example.com", "GET", "x-custom", -1}, // the rule allows no header
		{"http://example.com", "GET", "", -1},
		{"http://a.example.com/", "GET", "", -1},
		{"startend", "GET", "", 2}, // "*" matches the empty string
		{"start-x-end", "GET", "", 2},
		{"0startend", "GET", "", -1},
		{"null", "HEAD", "", 3},
		{"anything", "DELETE", "", -1},
	}
	for _, tt := range tests {
		got := matchCORS(rules, tt.origin, tt.method, tt.headers)
		want := (*corsRule)(nil)
		if tt.want >= 0 {
			want = &rules[tt.want]
		}
		if got != want {
			t.Errorf("%s %s [%s]: got rule %p, want %p (rule %d)", tt.origin, tt.method, tt.headers, got, want, tt.want)
		}
	}
	if got := allowedHeaders("Content-Type,x-amz-date, ,X-Amz-Meta-A"); got != "content-type, x-amz-date, x-amz-meta-a" {
		t.Errorf("allowedHeaders: %q", got)
	}
	// Matching allocates nothing.
	if n := testing.AllocsPerRun(100, func() {
		matchCORS(rules, "https://app.example.com", "PUT", "content-type, x-amz-date")
	}); n != 0 {
		t.Errorf("matchCORS allocates %v times", n)
	}
}

func TestCORSHandler(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("web")}); err != nil {
		t.Fatal(err)
	}
	preflight := func(path string, hdr map[string]string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodOptions, e.srv.URL+path, nil)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	ask := map[string]string{"Origin": "https://app.example.com", "Access-Control-Request-Method": "PUT"}
	if resp := preflight("/web/k", ask); resp.StatusCode != 403 {
		t.Fatalf("preflight without configuration: %d", resp.StatusCode)
	}
	_, err := e.c.PutBucketCors(ctx, &s3.PutBucketCorsInput{Bucket: aws.String("web"), CORSConfiguration: &types.CORSConfiguration{
		CORSRules: []types.CORSRule{{AllowedOrigins: []string{"https://app.example.com"}, AllowedMethods: []string{"PUT"}}}}})
	if err != nil {
		t.Fatal(err)
	}
	resp := preflight("/web/k", ask)
	if resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" {
		t.Fatalf("preflight after PutBucketCors: %d %v", resp.StatusCode, resp.Header)
	}
	// A change made behind the handler's back (another node) is seen
	// once the cached copy is no longer fresh.
	if err := e.store.PutCORS(ctx, "web", nil); err != nil {
		t.Fatal(err)
	}
	if x, ok := e.h.cors.m.Load("web"); ok {
		x.(*corsEntry).checked.Store(0)
	}
	if resp := preflight("/web/k", ask); resp.StatusCode != 403 {
		t.Fatalf("preflight after the configuration was removed elsewhere: %d", resp.StatusCode)
	}
}

// BenchmarkPreflight answers a preflight through the handler, the
// configuration cached.
func BenchmarkPreflight(b *testing.B) {
	store, err := objstore.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if err := store.CreateBucket(ctx, "web", ""); err != nil {
		b.Fatal(err)
	}
	cfg, err := parseCORS([]byte(`<CORSConfiguration><CORSRule><AllowedOrigin>https://app.example.com</AllowedOrigin><AllowedMethod>PUT</AllowedMethod><AllowedHeader>*</AllowedHeader><MaxAgeSeconds>600</MaxAgeSeconds></CORSRule></CORSConfiguration>`))
	if err != nil {
		b.Fatal(err)
	}
	if err := store.PutCORS(ctx, "web", cfg); err != nil {
		b.Fatal(err)
	}
	h := New(Deps{Store: store, Verifier: &sigv4.Verifier{Lookup: func(string) (string, bool) { return "", false }}})
	req := httptest.NewRequest(http.MethodOptions, "/web/k", nil)
	req.Header.Set("Origin", "https://app.example.com")
	req.Header.Set("Access-Control-Request-Method", "PUT")
	req.Header.Set("Access-Control-Request-Headers", "content-type")
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d", w.Code)
		}
	}
}
