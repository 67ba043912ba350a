package gateway

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/aloft-dev/aloft/internal/function"
	"github.com/aloft-dev/aloft/internal/gateway/catalog"
	"github.com/aloft-dev/aloft/internal/gateway/cors"
	"github.com/aloft-dev/aloft/internal/invoke"
	"github.com/aloft-dev/aloft/internal/registry"
	"github.com/aloft-dev/aloft/internal/sigv4"
	"github.com/aloft-dev/aloft/internal/store"
)

// fakeFunctions holds records by name.
type fakeFunctions map[string]*registry.Record

func (f fakeFunctions) Get(name string) (*registry.Record, bool) { r, ok := f[name]; return r, ok }
func (f fakeFunctions) ReservedTotal() int                       { return 0 }

// fakeInvoker answers with what its function for the request's function
// name returns, and keeps the last event.
type fakeInvoker struct {
	mu     sync.Mutex
	events map[string][]byte
	fns    map[string]func(event []byte) (*invoke.Response, error)
}

func (f *fakeInvoker) Invoke(ctx context.Context, req *invoke.Invocation) (*invoke.Response, error) {
	name := req.Config.FunctionName
	f.mu.Lock()
	f.events[name] = req.Payload
	fn := f.fns[name]
	f.mu.Unlock()
	return fn(req.Payload)
}

func (f *fakeInvoker) event(name string) []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.events[name]
}

func answer(payload string) func([]byte) (*invoke.Response, error) {
	return func([]byte) (*invoke.Response, error) { return &invoke.Response{Payload: []byte(payload)}, nil }
}

type env struct {
	t    *testing.T
	js   jetstream.JetStream
	cat  *catalog.Catalog
	inv  *fakeInvoker
	srv  *httptest.Server
	h    *Handler
	fns  fakeFunctions
	keys map[string]string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	st, err := store.Open(context.Background(), store.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cat, err := catalog.Open(context.Background(), st.JetStream(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cat.Close)
	e := &env{t: t, js: st.JetStream(), cat: cat, fns: fakeFunctions{}, keys: map[string]string{"AKIDTEST": "secret"},
		inv: &fakeInvoker{events: map[string][]byte{}, fns: map[string]func([]byte) (*invoke.Response, error){}}}
	verifier := &sigv4.Verifier{Lookup: func(id string) (string, bool) { s, ok := e.keys[id]; return s, ok }}
	e.h = NewHandler(Deps{Catalog: cat, Functions: invoke.Functions{Store: e.fns}, Invoker: e.inv, Verifier: verifier})
	e.srv = httptest.NewServer(e.h)
	t.Cleanup(e.srv.Close)
	return e
}

// function adds a function that answers with fn.
func (e *env) function(name string, timeout int, fn func([]byte) (*invoke.Response, error)) {
	e.fns[name] = &registry.Record{Config: function.Config{FunctionName: name, FunctionArn: function.ARN("us-east-1", name, ""), Timeout: timeout}, Region: "us-east-1"}
	e.inv.fns[name] = fn
}

// api creates an API with a $default stage, one integration per function
// named in routes (key → function[@format]) and the routes.
func (e *env) api(corsCfg *cors.Config, routes map[string]string) *catalog.API {
	e.t.Helper()
	a := &catalog.API{Name: "test", ProtocolType: catalog.ProtocolHTTP, Cors: corsCfg,
		Stages: []*catalog.Stage{{Name: catalog.DefaultStage, AutoDeploy: true}, {Name: "prod", StageVariables: map[string]string{"v": "1"}}}}
	i := 0
	for key, fn := range routes {
		i++
		name, format, _ := strings.Cut(fn, "@")
		in := &catalog.Integration{ID: "i" + string(rune('a'+i)), Type: catalog.IntegrationProxy, URI: name, PayloadFormatVersion: format}
		if name == "slow" {
			in.TimeoutInMillis = 200
		}
		a.Integrations = append(a.Integrations, in)
		a.Routes = append(a.Routes, &catalog.Route{ID: "r" + string(rune('a'+i)), Key: key, Target: catalog.RouteTarget(in.ID)})
	}
	got, err := e.cat.CreateAPI(context.Background(), a)
	if err != nil {
		e.t.Fatal(err)
	}
	return got
}

type result struct {
	status int
	header http.Header
	body   string
}

func (e *env) do(r *http.Request) result {
	e.t.Helper()
	resp, err := e.srv.Client().Do(r)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return result{resp.StatusCode, resp.Header, string(b)}
}

func (e *env) req(method, path string, body io.Reader) *http.Request {
	r, err := http.NewRequest(method, e.srv.URL+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

func (e *env) expect(r *http.Request, status int, body string) result {
	e.t.Helper()
	got := e.do(r)
	if got.status != status || (body != "" && got.body != body) {
		e.t.Fatalf("%s %s: got %d %q, want %d %q", r.Method, r.URL, got.status, got.body, status, body)
	}
	return got
}

func TestRoutingAndEvents(t *testing.T) {
	e := newEnv(t)
	echo := func(ev []byte) (*invoke.Response, error) {
		b, _ := json.Marshal(map[string]any{"statusCode": 200, "body": string(ev), "cookies": []string{"a=1; Path=/", "b=2"},
			"headers": map[string]string{"content-type": "application/json", "access-control-allow-origin": "*"}})
		return &invoke.Response{Payload: b}, nil
	}
	e.function("items", 3, echo)
	e.function("legacy", 3, echo)
	a := e.api(nil, map[string]string{"GET /items/{id}": "items", "ANY /{proxy+}": "legacy@1.0"})

	// The only API answers at the root; the Host form and the path form
	// reach it too.
	r := e.req("GET", "/items/42?x=1&x=2", nil)
	r.Header.Add("Cookie", "s=abc; t=def")
	got := e.expect(r, 200, "")
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal([]byte(got.body), &ev); err != nil {
		t.Fatal(err)
	}
	if ev.RouteKey != "GET /items/{id}" || ev.PathParameters["id"] != "42" || ev.QueryStringParameters["x"] != "1,2" ||
		strings.Join(ev.Cookies, "|") != "s=abc|t=def" || ev.RequestContext.APIID != a.ID || ev.RequestContext.Stage != "$default" ||
		ev.RequestContext.RequestID != got.header.Get("Apigw-Requestid") || ev.RequestContext.DomainName != a.ID+".execute-api.localhost" {
		t.Fatalf("event: %+v, request id header %q", ev, got.header.Get("Apigw-Requestid"))
	}
	if c := got.header.Values("Set-Cookie"); strings.Join(c, "|") != "a=1; Path=/|b=2" {
		t.Fatalf("Set-Cookie: %q", c)
	}
	if got.header.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatal("without CORS configured, the function's CORS headers pass through")
	}

	r = e.req("POST", "/some/where", strings.NewReader("hi"))
	r.Host = a.ID + ".execute-api.localhost:1234"
	var v1 events.APIGatewayProxyRequest
	json.Unmarshal([]byte(e.expect(r, 200, "").body), &v1)
	if v1.Resource != "/{proxy+}" || v1.PathParameters["proxy"] != "some/where" || v1.Body != "hi" || v1.HTTPMethod != "POST" {
		t.Fatalf("1.0 event: %+v", v1)
	}

	r = e.req("GET", "/_aloft/apis/"+a.ID+"/prod/items/7", nil)
	json.Unmarshal([]byte(e.expect(r, 200, "").body), &ev)
	if ev.RawPath != "/prod/items/7" || ev.PathParameters["id"] != "7" || ev.RequestContext.Stage != "prod" || ev.StageVariables["v"] != "1" {
		t.Fatalf("event through a named stage: %+v", ev)
	}

	e.expect(e.req("GET", "/_aloft/apis/nosuchapi/items/1", nil), 404, `{"message":"Not Found"}`)
	e.expect(e.req("GET", "/", nil), 404, `{"message":"Not Found"}`)
	// With two APIs, a request that names none finds none.
	e.api(nil, map[string]string{"$default": "items"})
	e.expect(e.req("GET", "/items/1", nil), 404, `{"message":"Not Found"}`)
}

func TestFailures(t *testing.T) {
	e := newEnv(t)
	e.function("error", 3, answer(`{"errorType":"Error","errorMessage":"boom"}`))
	e.inv.fns["error"] = func([]byte) (*invoke.Response, error) {
		return &invoke.Response{Payload: []byte(`{"errorType":"Error","errorMessage":"boom"}`), FunctionError: "Unhandled"}, nil
	}
	e.function("timeout", 3, func([]byte) (*invoke.Response, error) {
		f := &invoke.Failure{Kind: invoke.FailTimeout, Message: "Task timed out after 3.00 seconds"}
		return &invoke.Response{Payload: f.Payload(), FunctionError: "Unhandled", Failure: f}, nil
	})
	// A function's own error that merely names the timeout's type is the
	// function's error, not a timeout.
	e.function("liar", 3, answer(`{"errorType":"Sandbox.Timedout","errorMessage":"not really"}`))
	e.inv.fns["liar"] = func([]byte) (*invoke.Response, error) {
		return &invoke.Response{Payload: []byte(`{"errorType":"Sandbox.Timedout","errorMessage":"not really"}`), FunctionError: "Unhandled"}, nil
	}
	release := make(chan struct{})
	e.function("slow", 60, func([]byte) (*invoke.Response, error) {
		<-release
		return &invoke.Response{Payload: []byte(`"late"`)}, nil
	})
	e.function("malformed", 3, answer(`{"statusCode":"nope"}`))
	e.function("v1bad", 3, answer(`{"body":"no status"}`))
	e.function("throttled", 3, func([]byte) (*invoke.Response, error) { return nil, function.Throttled(function.ReasonReserved) })
	e.function("echo", 3, answer(`{"ok":true}`))
	e.api(nil, map[string]string{
		"GET /error": "error", "GET /timeout": "timeout", "GET /slow": "slow", "GET /malformed": "malformed",
		"GET /v1bad": "v1bad@1.0", "GET /throttled": "throttled", "GET /missing": "nosuchfunction", "POST /echo": "echo",
		"GET /liar": "liar",
	})
	e.expect(e.req("GET", "/error", nil), 502, `{"message":"Internal Server Error","reason":"the function error failed: Error: boom"}`)
	e.expect(e.req("GET", "/timeout", nil), 504, `{"message":"Endpoint request timed out","reason":"the function timeout failed: Sandbox.Timedout: Task timed out after 3.00 seconds"}`)
	e.expect(e.req("GET", "/liar", nil), 502, `{"message":"Internal Server Error","reason":"the function liar failed: Sandbox.Timedout: not really"}`)
	t0 := time.Now()
	e.expect(e.req("GET", "/slow", nil), 504, `{"message":"Endpoint request timed out","reason":"the integration timed out before the function slow answered"}`)
	if el := time.Since(t0); el > 5*time.Second {
		t.Fatalf("integration timeout of 200ms answered after %v", el)
	}
	e.expect(e.req("GET", "/malformed", nil), 502, `{"message":"Internal Server Error","reason":"the function malformed's answer is not a response: malformed Lambda proxy response: statusCode \"nope\" is not an HTTP status"}`)
	e.expect(e.req("GET", "/v1bad", nil), 502, `{"message":"Internal Server Error","reason":"the function v1bad's answer is not a response: malformed Lambda proxy response: statusCode is missing"}`)
	got := e.expect(e.req("GET", "/throttled", nil), 429, `{"message":"Too Many Requests"}`)
	if got.header.Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}
	e.expect(e.req("GET", "/missing", nil), 500, `{"message":"Internal Server Error","reason":"the integration's function nosuchfunction does not exist"}`)
	e.expect(e.req("GET", "/nothing", nil), 404, `{"message":"Not Found"}`)

	// Bodies: more than 10 MB is refused before reading; an event over
	// Lambda's 6 MB payload limit too.
	r := e.req("POST", "/echo", bytes.NewReader(make([]byte, MaxBody+1)))
	e.expect(r, 413, `{"message":"Request Entity Too Large"}`)
	r = e.req("POST", "/echo", bytes.NewReader(make([]byte, 5<<20)))
	r.Header.Set("Content-Type", "application/octet-stream") // base64 makes it about 6.7 MB
	e.expect(r, 413, `{"message":"Request Entity Too Large"}`)
	e.expect(e.req("POST", "/echo", strings.NewReader(`{"x":1}`)), 200, `{"ok":true}`)

	// The slow invocation still runs; Wait sees it end.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := e.h.Wait(ctx); err == nil {
		t.Fatal("Wait returned while an invocation was running")
	}
	close(release)
	if err := e.h.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestBinaryAndResponseShapes(t *testing.T) {
	e := newEnv(t)
	e.function("bin", 3, func(ev []byte) (*invoke.Response, error) {
		var in events.APIGatewayV2HTTPRequest
		json.Unmarshal(ev, &in)
		// Send the (base64) body back as binary.
		b, _ := json.Marshal(map[string]any{"statusCode": 201, "isBase64Encoded": in.IsBase64Encoded, "body": in.Body,
			"headers": map[string]string{"content-type": "application/octet-stream"}, "multiValueHeaders": map[string][]string{"x-m": {"1", "2"}}})
		return &invoke.Response{Payload: b}, nil
	})
	e.function("str", 3, answer(`"plain words"`))
	e.function("obj", 3, answer(`{"message":"hi"}`))
	e.api(nil, map[string]string{"POST /bin": "bin", "GET /str": "str", "GET /obj": "obj"})
	blob := []byte{0, 1, 2, 0xff, 0xfe, '\n'}
	r := e.req("POST", "/bin", bytes.NewReader(blob))
	r.Header.Set("Content-Type", "image/png")
	got := e.expect(r, 201, string(blob))
	if got.header.Get("Content-Type") != "application/octet-stream" || strings.Join(got.header.Values("X-M"), ",") != "1,2" {
		t.Fatalf("headers: %v", got.header)
	}
	got = e.expect(e.req("GET", "/str", nil), 200, "plain words")
	if got.header.Get("Content-Type") != "application/json" {
		t.Fatalf("string answer content type %q", got.header.Get("Content-Type"))
	}
	e.expect(e.req("GET", "/obj", nil), 200, `{"message":"hi"}`)
}

func intp(i int) *int { return &i }

func TestCORS(t *testing.T) {
	e := newEnv(t)
	e.function("fn", 3, answer(`{"statusCode":200,"headers":{"Access-Control-Allow-Origin":"*"},"body":"x"}`))
	e.api(&cors.Config{AllowOrigins: []string{"https://app.example.com"}, AllowMethods: []string{"GET", "POST"},
		AllowHeaders: []string{"content-type"}, ExposeHeaders: []string{"x-id"}, MaxAge: intp(600)}, map[string]string{"GET /fn": "fn"})
	r := e.req("OPTIONS", "/anything", nil)
	r.Header.Set("Origin", "https://app.example.com")
	r.Header.Set("Access-Control-Request-Method", "POST")
	got := e.expect(r, 204, "")
	if got.header.Get("Access-Control-Allow-Origin") != "https://app.example.com" || got.header.Get("Access-Control-Allow-Methods") != "GET,POST" ||
		got.header.Get("Access-Control-Max-Age") != "600" || got.header.Get("Apigw-Requestid") == "" {
		t.Fatalf("preflight headers: %v", got.header)
	}
	r = e.req("GET", "/fn", nil)
	r.Header.Set("Origin", "https://app.example.com")
	got = e.expect(r, 200, "x")
	if got.header.Get("Access-Control-Allow-Origin") != "https://app.example.com" || got.header.Get("Access-Control-Expose-Headers") != "x-id" {
		t.Fatalf("response headers: %v", got.header)
	}
	r = e.req("GET", "/fn", nil)
	r.Header.Set("Origin", "https://evil.example.com")
	if got = e.expect(r, 200, "x"); got.header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("a refused origin got %v", got.header)
	}
}

func TestFunctionURLs(t *testing.T) {
	e := newEnv(t)
	var seen []byte
	e.function("open", 3, func(ev []byte) (*invoke.Response, error) {
		seen = ev
		return &invoke.Response{Payload: []byte(`{"statusCode":200,"body":"open"}`)}, nil
	})
	e.function("locked", 3, func(ev []byte) (*invoke.Response, error) {
		seen = ev
		return &invoke.Response{Payload: []byte(`"locked"`)}, nil
	})
	ctx := context.Background()
	open, err := e.cat.CreateURL(ctx, &catalog.URLConfig{Function: "open", FunctionArn: function.ARN("us-east-1", "open", ""), Region: "us-east-1", AuthType: catalog.AuthNone})
	if err != nil {
		t.Fatal(err)
	}
	locked, err := e.cat.CreateURL(ctx, &catalog.URLConfig{Function: "locked", FunctionArn: function.ARN("us-east-1", "locked", ""), Region: "us-east-1", AuthType: catalog.AuthIAM})
	if err != nil {
		t.Fatal(err)
	}
	r := e.req("GET", "/a/b?q=1", nil)
	r.Host = open.URLID + ".lambda-url.us-east-1.localhost"
	got := e.expect(r, 200, "open")
	var ev events.LambdaFunctionURLRequest
	json.Unmarshal(seen, &ev)
	if ev.RawPath != "/a/b" || ev.RequestContext.DomainName != open.URLID+".lambda-url.us-east-1.localhost" ||
		ev.RequestContext.RequestID != got.header.Get("X-Amzn-Requestid") || ev.RequestContext.Authorizer != nil {
		t.Fatalf("event: %+v", ev)
	}
	e.expect(e.req("GET", "/_aloft/urls/"+open.URLID+"/x", nil), 200, "open")

	// AWS_IAM: unsigned and wrongly signed requests are refused.
	e.expect(e.req("POST", "/_aloft/urls/"+locked.URLID+"/x", strings.NewReader("b")), 403, `{"Message":"Forbidden"}`)
	sign := func(r *http.Request, body []byte, secret, service string) {
		sum := sha256.Sum256(body)
		err := v4.NewSigner().SignHTTP(ctx, aws.Credentials{AccessKeyID: "AKIDTEST", SecretAccessKey: secret}, r, hex.EncodeToString(sum[:]), service, "us-east-1", time.Now())
		if err != nil {
			t.Fatal(err)
		}
	}
	r = e.req("POST", "/_aloft/urls/"+locked.URLID+"/x", strings.NewReader("b"))
	sign(r, []byte("b"), "wrong", "lambda")
	e.expect(r, 403, `{"Message":"Forbidden"}`)
	r = e.req("POST", "/_aloft/urls/"+locked.URLID+"/x", strings.NewReader("b"))
	sign(r, []byte("b"), "secret", "s3")
	e.expect(r, 403, `{"Message":"Forbidden"}`)
	r = e.req("POST", "/_aloft/urls/"+locked.URLID+"/x", strings.NewReader("b"))
	sign(r, []byte("b"), "secret", "lambda")
	e.expect(r, 200, "locked")
	json.Unmarshal(seen, &ev)
	if ev.RequestContext.Authorizer == nil || ev.RequestContext.Authorizer.IAM.AccessKey != "AKIDTEST" || ev.Body != "b" {
		t.Fatalf("signed event: %+v", ev.RequestContext)
	}
	e.expect(e.req("GET", "/_aloft/urls/nosuchurlid/x", nil), 404, `{"message":"Not Found"}`)
}

func TestServerShutdown(t *testing.T) {
	s, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if s.Port() == "" || s.Port() == "0" {
		t.Fatalf("port %q", s.Port())
	}
	e := newEnv(t)
	s.Serve(e.h)
	resp, err := http.Get("http://" + s.Addr() + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatalf("second Shutdown: %v", err)
	}
}

func TestAddress(t *testing.T) {
	for _, tc := range []struct{ host, path, kind, id, rest string }{
		{"abc.execute-api.localhost:8080", "/x", "apis", "abc", "/x"},
		{"abc.execute-api.us-east-1.amazonaws.com", "/", "apis", "abc", "/"},
		{"u1.lambda-url.us-east-1.localhost", "/p", "urls", "u1", "/p"},
		{"127.0.0.1:8080", "/_aloft/apis/abc", "apis", "abc", "/"},
		{"localhost", "/_aloft/urls/u1/a/b", "urls", "u1", "/a/b"},
		{"localhost:8080", "/x", "", "", "/x"},
		{"example.com", "/_aloft/other", "", "", "/_aloft/other"},
	} {
		kind, id, rest := address(tc.host, tc.path)
		if kind != tc.kind || id != tc.id || rest != tc.rest {
			t.Errorf("address(%q, %q) = %q %q %q, want %q %q %q", tc.host, tc.path, kind, id, rest, tc.kind, tc.id, tc.rest)
		}
	}
}

// BenchmarkHandler measures the gateway's own work on a warm request:
// address, route match, event encoding, invoke call (a fake that answers
// at once) and response mapping, without the network.
func BenchmarkHandler(b *testing.B) {
	st, err := store.Open(context.Background(), store.Options{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	cat, err := catalog.Open(context.Background(), st.JetStream(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer cat.Close()
	fns := fakeFunctions{"fn": &registry.Record{Config: function.Config{FunctionName: "fn", FunctionArn: function.ARN("us-east-1", "fn", ""), Timeout: 3}}}
	inv := &fakeInvoker{events: map[string][]byte{}, fns: map[string]func([]byte) (*invoke.Response, error){
		"fn": answer(`{"statusCode":200,"body":"ok"}`)}}
	_, err = cat.CreateAPI(context.Background(), &catalog.API{Name: "b", ProtocolType: catalog.ProtocolHTTP,
		Integrations: []*catalog.Integration{{ID: "i", Type: catalog.IntegrationProxy, URI: "fn"}},
		Routes:       []*catalog.Route{{ID: "r", Key: "GET /items/{id}", Target: catalog.RouteTarget("i")}},
		Stages:       []*catalog.Stage{{Name: catalog.DefaultStage}}})
	if err != nil {
		b.Fatal(err)
	}
	h := NewHandler(Deps{Catalog: cat, Functions: invoke.Functions{Store: fns}, Invoker: inv})
	r := httptest.NewRequest("GET", "http://127.0.0.1:8080/items/42", nil)
	r.Header.Set("User-Agent", "bench")
	r.Header.Set("Accept", "*/*")
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != 200 {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}
