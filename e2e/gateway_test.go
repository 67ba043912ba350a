package e2e

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2"
	gwtypes "github.com/aws/aws-sdk-go-v2/service/apigatewayv2/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/google/go-cmp/cmp"

	"github.com/aloft-dev/aloft/internal/alofttest"
)

// httpResult is a gateway response read in full.
type httpResult struct {
	status int
	header http.Header
	body   []byte
}

var gatewayClient = &http.Client{Timeout: 2 * time.Minute}

// call sends a request to the gateway; host, when set, replaces the Host
// header (the way a client that resolves *.localhost sends it).
func call(t *testing.T, method, u, host string, body []byte, header map[string]string) httpResult {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := gatewayClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return httpResult{resp.StatusCode, resp.Header, b}
}

// expect asserts a status and, when body is not empty, the body.
func (r httpResult) expect(t *testing.T, status int, body string) httpResult {
	t.Helper()
	if r.status != status || (body != "" && string(r.body) != body) {
		t.Fatalf("got %d %.500s, want %d %s", r.status, r.body, status, body)
	}
	return r
}

// v2Event decodes an echoed payload 2.0 event.
func (r httpResult) v2Event(t *testing.T) events.APIGatewayV2HTTPRequest {
	t.Helper()
	r.expect(t, 200, "")
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(r.body, &ev); err != nil {
		t.Fatalf("event %.300s: %v", r.body, err)
	}
	return ev
}

// checkTime checks an event's time text and epoch against the clock and
// each other, then clears them.
func checkTime(t *testing.T, text *string, epoch *int64) {
	t.Helper()
	at, err := time.Parse("02/Jan/2006:15:04:05 -0700", *text)
	if err != nil {
		t.Fatalf("time %q: %v", *text, err)
	}
	if !strings.HasSuffix(*text, " +0000") || at.Unix() != *epoch/1000 || time.Since(time.UnixMilli(*epoch)).Abs() > time.Minute {
		t.Fatalf("time %q and epoch %d disagree or are not now", *text, *epoch)
	}
	*text, *epoch = "", 0
}

type gatewayFixture struct {
	srv     *alofttest.Server
	gw      *apigatewayv2.Client
	apiID   string
	routeID map[string]string // route key → id
}

// base returns the path-form address of the fixture's API.
func (f *gatewayFixture) base() string { return f.srv.GatewayURL + "/_aloft/apis/" + f.apiID }

func (f *gatewayFixture) integration(t *testing.T, fn, format string, timeoutMs int32) string {
	t.Helper()
	in := &apigatewayv2.CreateIntegrationInput{
		ApiId: aws.String(f.apiID), IntegrationType: gwtypes.IntegrationTypeAwsProxy,
		IntegrationUri: aws.String("arn:aws:lambda:us-east-1:000000000000:function:" + fn), PayloadFormatVersion: aws.String(format),
	}
	if timeoutMs > 0 {
		in.TimeoutInMillis = aws.Int32(timeoutMs)
	}
	out, err := f.gw.CreateIntegration(ctxT(t), in)
	if err != nil {
		t.Fatalf("CreateIntegration %s: %v", fn, err)
	}
	return "integrations/" + aws.ToString(out.IntegrationId)
}

func (f *gatewayFixture) route(t *testing.T, key, target string) {
	t.Helper()
	out, err := f.gw.CreateRoute(ctxT(t), &apigatewayv2.CreateRouteInput{ApiId: aws.String(f.apiID), RouteKey: aws.String(key), Target: aws.String(target)})
	if err != nil {
		t.Fatalf("CreateRoute %s: %v", key, err)
	}
	f.routeID[key] = aws.ToString(out.RouteId)
}

// newGatewayFixture starts a server with the test functions and one HTTP
// API made through the API Gateway v2 SDK.
func newGatewayFixture(t *testing.T) *gatewayFixture {
	srv := alofttest.Start(t)
	c := srv.Lambda()
	goRC := runtimeCases()[0]
	echoZip := alofttest.GoFunction(t, "e2e/functions/gwecho", "v1")
	create(t, c, "gwecho", goRC, echoZip)
	create(t, c, "gwshort", goRC, echoZip, func(in *lambda.CreateFunctionInput) { in.Timeout = aws.Int32(1) })
	create(t, c, "gwlong", goRC, echoZip, func(in *lambda.CreateFunctionInput) { in.Timeout = aws.Int32(30) })
	create(t, c, "gwthrottled", goRC, echoZip)
	if _, err := c.PutFunctionConcurrency(ctxT(t), &lambda.PutFunctionConcurrencyInput{FunctionName: aws.String("gwthrottled"), ReservedConcurrentExecutions: aws.Int32(0)}); err != nil {
		t.Fatal(err)
	}
	create(t, c, "gwpy", runtimeCase{runtime: "python3.11", handler: "app.handler"}, alofttest.ZipDir(t, "testdata/gwpy"))

	f := &gatewayFixture{srv: srv, gw: srv.APIGateway(), routeID: map[string]string{}}
	api, err := f.gw.CreateApi(ctxT(t), &apigatewayv2.CreateApiInput{Name: aws.String("e2e"), ProtocolType: gwtypes.ProtocolTypeHttp})
	if err != nil {
		t.Fatal(err)
	}
	f.apiID = aws.ToString(api.ApiId)
	if _, err := f.gw.CreateStage(ctxT(t), &apigatewayv2.CreateStageInput{ApiId: api.ApiId, StageName: aws.String("$default"), AutoDeploy: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	echo2, echo1 := f.integration(t, "gwecho", "2.0", 0), f.integration(t, "gwecho", "1.0", 0)
	for _, key := range []string{"GET /items/{id}", "GET /items/special", "ANY /items/{id}/{rest+}", "POST /items/{id}", "$default"} {
		f.route(t, key, echo2)
	}
	f.route(t, "POST /v1/{proxy+}", echo1)
	f.route(t, "ANY /py/{proxy+}", f.integration(t, "gwpy", "2.0", 0))
	f.route(t, "GET /integration-timeout", f.integration(t, "gwlong", "2.0", 1000))
	f.route(t, "GET /function-timeout", f.integration(t, "gwshort", "2.0", 0))
	f.route(t, "GET /throttled", f.integration(t, "gwthrottled", "2.0", 0))
	f.route(t, "GET /ghost", f.integration(t, "ghost", "2.0", 0))
	return f
}

// TestGateway drives one HTTP API made with the SDK through the gateway
// with a plain net/http client: route matching, both payload formats field
// by field (Go and Python functions), response mapping, failures, CORS,
// and the routes after a restart.
func TestGateway(t *testing.T) {
	f := newGatewayFixture(t)
	srv := f.srv

	t.Run("matching", func(t *testing.T) {
		cases := []struct {
			method, path, key string
			params            map[string]string
		}{
			{"GET", "/items/42", "GET /items/{id}", map[string]string{"id": "42"}},
			{"GET", "/items/special", "GET /items/special", nil}, // a literal beats a parameter
			{"POST", "/items/9", "POST /items/{id}", map[string]string{"id": "9"}},
			{"PUT", "/items/7/a/b", "ANY /items/{id}/{rest+}", map[string]string{"id": "7", "rest": "a/b"}},
			{"GET", "/items/7/x%20y/%E2%82%AC", "ANY /items/{id}/{rest+}", map[string]string{"id": "7", "rest": "x y/\u20ac"}},
			{"DELETE", "/items/9", "$default", nil}, // no DELETE /items/{id}
			{"GET", "/nowhere/at/all", "$default", nil},
			{"GET", "/items/", "$default", nil}, // parameters are never empty
		}
		for _, tc := range cases {
			ev := call(t, tc.method, f.base()+tc.path, "", nil, nil).v2Event(t)
			if ev.RouteKey != tc.key || ev.RequestContext.RouteKey != tc.key || !cmp.Equal(ev.PathParameters, tc.params) {
				t.Errorf("%s %s: route %q params %v, want %q %v", tc.method, tc.path, ev.RouteKey, ev.PathParameters, tc.key, tc.params)
			}
			if ev.RawPath != tc.path {
				t.Errorf("%s %s: rawPath %q", tc.method, tc.path, ev.RawPath)
			}
		}
		// The same API by Host, and, as the only API, at the root.
		host := f.apiID + ".execute-api.localhost"
		if ev := call(t, "GET", srv.GatewayURL+"/items/1", host, nil, nil).v2Event(t); ev.RouteKey != "GET /items/{id}" || ev.RequestContext.APIID != f.apiID {
			t.Errorf("by Host: %+v", ev)
		}
		if ev := call(t, "GET", srv.GatewayURL+"/items/2", "", nil, nil).v2Event(t); ev.PathParameters["id"] != "2" {
			t.Errorf("at the root: %+v", ev)
		}
		call(t, "GET", srv.GatewayURL+"/_aloft/apis/nosuchapi1/items/1", "", nil, nil).expect(t, 404, `{"message":"Not Found"}`)
	})

	t.Run("endpoint", func(t *testing.T) {
		api, err := f.gw.GetApi(ctxT(t), &apigatewayv2.GetApiInput{ApiId: aws.String(f.apiID)})
		if err != nil {
			t.Fatal(err)
		}
		_, port, _ := strings.Cut(strings.TrimPrefix(srv.GatewayURL, "http://"), ":")
		if want := "http://" + f.apiID + ".execute-api.localhost:" + port; aws.ToString(api.ApiEndpoint) != want {
			t.Fatalf("ApiEndpoint %q, want %q", aws.ToString(api.ApiEndpoint), want)
		}
		curl, err := exec.LookPath("curl")
		if err != nil {
			t.Skip("curl is not installed: the ApiEndpoint's name is not checked")
		}
		// curl resolves *.localhost to loopback itself, as browsers do.
		out, err := exec.CommandContext(ctxT(t), curl, "-sS", "-m", "60", aws.ToString(api.ApiEndpoint)+"/items/77").Output()
		if err != nil {
			t.Fatalf("curl: %v", err)
		}
		var ev events.APIGatewayV2HTTPRequest
		if err := json.Unmarshal(out, &ev); err != nil || ev.PathParameters["id"] != "77" {
			t.Fatalf("curl got %.300s (%v)", out, err)
		}
	})

	t.Run("payload 2.0", func(t *testing.T) {
		hostPort := strings.TrimPrefix(srv.GatewayURL, "http://")
		_, port, _ := strings.Cut(hostPort, ":")
		req, _ := http.NewRequest("GET", f.base()+"/items/42?a=1&a=2&b=x%20y", nil)
		req.Header.Add("X-Multi", "one")
		req.Header.Add("X-Multi", "two")
		req.Header.Set("Cookie", "c1=v1; c2=v2")
		req.Header.Set("User-Agent", "aloft-e2e")
		resp, err := gatewayClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		ev := httpResult{resp.StatusCode, resp.Header, body}.v2Event(t)
		reqID := resp.Header.Get("Apigw-Requestid")
		checkTime(t, &ev.RequestContext.Time, &ev.RequestContext.TimeEpoch)
		want := events.APIGatewayV2HTTPRequest{
			Version: "2.0", RouteKey: "GET /items/{id}", RawPath: "/items/42", RawQueryString: "a=1&a=2&b=x%20y",
			Cookies: []string{"c1=v1", "c2=v2"},
			Headers: map[string]string{
				"accept-encoding": "gzip", "user-agent": "aloft-e2e", "x-multi": "one,two", "host": hostPort,
				"x-forwarded-for": "127.0.0.1", "x-forwarded-port": port, "x-forwarded-proto": "http",
			},
			QueryStringParameters: map[string]string{"a": "1,2", "b": "x y"},
			PathParameters:        map[string]string{"id": "42"},
			RequestContext: events.APIGatewayV2HTTPRequestContext{
				RouteKey: "GET /items/{id}", AccountID: "000000000000", Stage: "$default", RequestID: reqID, APIID: f.apiID,
				DomainName: f.apiID + ".execute-api.localhost", DomainPrefix: f.apiID,
				HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
					Method: "GET", Path: "/items/42", Protocol: "HTTP/1.1", SourceIP: "127.0.0.1", UserAgent: "aloft-e2e",
				},
			},
		}
		if reqID == "" {
			t.Fatal("no apigw-requestid header")
		}
		if diff := cmp.Diff(want, ev); diff != "" {
			t.Fatalf("event (-want +got):\n%s", diff)
		}
		var raw map[string]json.RawMessage
		json.Unmarshal(body, &raw)
		if _, ok := raw["body"]; ok || string(raw["isBase64Encoded"]) != "false" {
			t.Fatalf("a request without a body: body %s, isBase64Encoded %s", raw["body"], raw["isBase64Encoded"])
		}
	})

	t.Run("payload 1.0", func(t *testing.T) {
		hostPort := strings.TrimPrefix(srv.GatewayURL, "http://")
		_, port, _ := strings.Cut(hostPort, ":")
		r := call(t, "POST", f.base()+"/v1/a/b?x=1&x=2", "", []byte(`{"k":"v"}`), map[string]string{"Content-Type": "application/json", "User-Agent": "aloft-e2e"})
		r.expect(t, 200, "")
		var ev events.APIGatewayProxyRequest
		if err := json.Unmarshal(r.body, &ev); err != nil {
			t.Fatal(err)
		}
		rc := &ev.RequestContext
		checkTime(t, &rc.RequestTime, &rc.RequestTimeEpoch)
		reqID := r.header.Get("Apigw-Requestid")
		hdrs := map[string]string{
			"accept-encoding": "gzip", "user-agent": "aloft-e2e", "content-type": "application/json", "content-length": "9",
			"host": hostPort, "x-forwarded-for": "127.0.0.1", "x-forwarded-port": port, "x-forwarded-proto": "http",
		}
		multi := map[string][]string{}
		for k, v := range hdrs {
			multi[k] = []string{v}
		}
		want := events.APIGatewayProxyRequest{
			Resource: "/v1/{proxy+}", Path: "/v1/a/b", HTTPMethod: "POST", Headers: hdrs, MultiValueHeaders: multi,
			QueryStringParameters:           map[string]string{"x": "2"},
			MultiValueQueryStringParameters: map[string][]string{"x": {"1", "2"}},
			PathParameters:                  map[string]string{"proxy": "a/b"},
			RequestContext: events.APIGatewayProxyRequestContext{
				AccountID: "000000000000", ResourceID: f.routeID["POST /v1/{proxy+}"], Stage: "$default",
				DomainName: f.apiID + ".execute-api.localhost", DomainPrefix: f.apiID, RequestID: reqID, ExtendedRequestID: reqID,
				Protocol: "HTTP/1.1", Identity: events.APIGatewayRequestIdentity{SourceIP: "127.0.0.1", UserAgent: "aloft-e2e"},
				ResourcePath: "/v1/{proxy+}", Path: "/v1/a/b", HTTPMethod: "POST", APIID: f.apiID,
			},
			Body: `{"k":"v"}`,
		}
		if diff := cmp.Diff(want, ev); diff != "" {
			t.Fatalf("event (-want +got):\n%s", diff)
		}
		var raw map[string]json.RawMessage
		json.Unmarshal(r.body, &raw)
		if string(raw["version"]) != `"1.0"` || string(raw["stageVariables"]) != "null" || string(raw["isBase64Encoded"]) != "false" {
			t.Fatalf("version %s, stageVariables %s, isBase64Encoded %s", raw["version"], raw["stageVariables"], raw["isBase64Encoded"])
		}
		// 1.0 infers nothing: an answer without statusCode is an error.
		call(t, "POST", f.base()+"/v1/x?op=dict", "", nil, nil).expect(t, 502, `{"message":"Internal Server Error","reason":"the function gwecho's answer is not a response: malformed Lambda proxy response: statusCode is missing"}`)
	})

	t.Run("python", func(t *testing.T) {
		r := call(t, "PUT", f.base()+"/py/deep/path?y=1", "", []byte("text body"), map[string]string{"Content-Type": "text/plain"})
		ev := r.v2Event(t)
		if r.header.Get("X-Runtime") != "python" || ev.RouteKey != "ANY /py/{proxy+}" || ev.PathParameters["proxy"] != "deep/path" ||
			ev.QueryStringParameters["y"] != "1" || ev.Body != "text body" || ev.IsBase64Encoded || ev.RequestContext.HTTP.Method != "PUT" ||
			ev.RequestContext.RequestID != r.header.Get("Apigw-Requestid") || ev.Headers["content-type"] != "text/plain" {
			t.Fatalf("python saw %+v (headers %v)", ev, r.header)
		}
		r = call(t, "GET", f.base()+"/py/x?op=dict", "", nil, nil).expect(t, 200, "")
		var got map[string]string
		if err := json.Unmarshal(r.body, &got); err != nil || got["runtime"] != "python" || got["path"] != "/py/x" ||
			r.header.Get("Content-Type") != "application/json" {
			t.Fatalf("python dict answer: %s %v (%v)", r.body, r.header, err)
		}
	})

	t.Run("binary", func(t *testing.T) {
		blob := make([]byte, 64<<10)
		rand.Read(blob)
		r := call(t, "POST", f.base()+"/items/1/bin?op=binary", "", blob, map[string]string{"Content-Type": "application/octet-stream"})
		r.expect(t, 200, "")
		if !bytes.Equal(r.body, blob) || r.header.Get("X-Request-Base64") != "true" || r.header.Get("Content-Type") != "application/octet-stream" {
			t.Fatalf("binary round trip: %d bytes back (equal %v), headers %v", len(r.body), bytes.Equal(r.body, blob), r.header)
		}
		// A text body reaches the function as text.
		r = call(t, "POST", f.base()+"/items/1/bin?op=binary", "", []byte("héllo"), map[string]string{"Content-Type": "text/plain; charset=utf-8"})
		if r.expect(t, 200, "héllo"); r.header.Get("X-Request-Base64") != "false" {
			t.Fatalf("text body arrived base64-encoded")
		}
	})

	t.Run("responses", func(t *testing.T) {
		r := call(t, "GET", f.base()+"/items/1?op=full", "", nil, nil).expect(t, 201, "created")
		if r.header.Get("Content-Type") != "text/plain" || r.header.Get("X-Custom") != "yes" ||
			!slices.Equal(r.header.Values("X-Multi"), []string{"a", "b"}) ||
			!slices.Equal(r.header.Values("Set-Cookie"), []string{"c1=v1; Path=/", "c2=v2"}) {
			t.Fatalf("headers: %v", r.header)
		}
		r = call(t, "GET", f.base()+"/items/1?op=dict", "", nil, nil).expect(t, 200, "")
		var d map[string]any
		if err := json.Unmarshal(r.body, &d); err != nil || d["hello"] != "world" || r.header.Get("Content-Type") != "application/json" {
			t.Fatalf("dict answer: %s %v", r.body, r.header)
		}
		r = call(t, "GET", f.base()+"/items/1?op=string", "", nil, nil).expect(t, 200, "plain text answer")
		if r.header.Get("Content-Type") != "application/json" {
			t.Fatalf("string answer content type %q", r.header.Get("Content-Type"))
		}
	})

	t.Run("failures", func(t *testing.T) {
		call(t, "GET", f.base()+"/items/1?op=malformed", "", nil, nil).expect(t, 502, `{"message":"Internal Server Error","reason":"the function gwecho's answer is not a response: malformed Lambda proxy response: statusCode \"not a status\" is not an HTTP status"}`)
		call(t, "GET", f.base()+"/items/1?op=error", "", nil, nil).expect(t, 502, `{"message":"Internal Server Error","reason":"the function gwecho failed: errorString: the handler failed on purpose"}`)
		// The same reason reaches the function's log group.
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			out, _, _ := srv.Run(ctxT(t), nil, "logs", "gwecho", "--since", "10m")
			if strings.Contains(out, "[ERROR] gateway") && strings.Contains(out, "the handler failed on purpose") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the gateway's reason is not in aloft logs:\n%s", out)
			}
		}
		call(t, "GET", f.base()+"/ghost", "", nil, nil).expect(t, 500, `{"message":"Internal Server Error","reason":"the integration's function ghost does not exist"}`)
		r := call(t, "GET", f.base()+"/throttled", "", nil, nil).expect(t, 429, `{"message":"Too Many Requests"}`)
		if r.header.Get("Retry-After") == "" {
			t.Fatal("429 without Retry-After")
		}
		t0 := time.Now()
		call(t, "GET", f.base()+"/integration-timeout?op=sleep&ms=4000", "", nil, nil).expect(t, 504, `{"message":"Endpoint request timed out","reason":"the integration timed out before the function gwlong answered"}`)
		if el := time.Since(t0); el > 3500*time.Millisecond {
			t.Fatalf("an integration timeout of 1s answered after %v", el)
		}
		if r := call(t, "GET", f.base()+"/function-timeout?op=sleep&ms=3000", "", nil, nil).expect(t, 504, ""); !strings.HasPrefix(string(r.body), `{"message":"Endpoint request timed out","reason":"the function gwshort failed: Sandbox.Timedout: `) ||
			!strings.HasSuffix(string(r.body), `Task timed out after 1.00 seconds"}`) {
			t.Errorf("function timeout: %s", r.body)
		}
		// Event over Lambda's 6 MB payload limit; body over 10 MB.
		big := bytes.Repeat([]byte("x"), 6<<20+1)
		call(t, "POST", f.base()+"/items/1", "", big, map[string]string{"Content-Type": "text/plain"}).
			expect(t, 413, `{"message":"Request Entity Too Large"}`)
		huge := bytes.Repeat([]byte("x"), 10<<20+1)
		call(t, "POST", f.base()+"/items/1", "", huge, map[string]string{"Content-Type": "text/plain"}).
			expect(t, 413, `{"message":"Request Entity Too Large"}`)
		// The server is still well.
		call(t, "GET", f.base()+"/items/5", "", nil, nil).v2Event(t)
	})

	t.Run("cors", func(t *testing.T) {
		_, err := f.gw.UpdateApi(ctxT(t), &apigatewayv2.UpdateApiInput{ApiId: aws.String(f.apiID), CorsConfiguration: &gwtypes.Cors{
			AllowOrigins: []string{"https://app.example.com"}, AllowMethods: []string{"GET", "POST"},
			AllowHeaders: []string{"content-type", "x-token"}, ExposeHeaders: []string{"x-custom"}, MaxAge: aws.Int32(300),
			AllowCredentials: aws.Bool(true),
		}})
		if err != nil {
			t.Fatal(err)
		}
		r := call(t, "OPTIONS", f.base()+"/items/42", "", nil, map[string]string{
			"Origin": "https://app.example.com", "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "x-token"})
		r.expect(t, 204, "")
		for k, v := range map[string]string{
			"Access-Control-Allow-Origin": "https://app.example.com", "Access-Control-Allow-Methods": "GET,POST",
			"Access-Control-Allow-Headers": "content-type,x-token", "Access-Control-Max-Age": "300", "Access-Control-Allow-Credentials": "true",
		} {
			if got := r.header.Get(k); got != v {
				t.Errorf("preflight %s: %q, want %q", k, got, v)
			}
		}
		r = call(t, "GET", f.base()+"/items/42?op=full", "", nil, map[string]string{"Origin": "https://app.example.com"}).expect(t, 201, "created")
		if r.header.Get("Access-Control-Allow-Origin") != "https://app.example.com" || r.header.Get("Access-Control-Expose-Headers") != "x-custom" {
			t.Errorf("response CORS headers: %v", r.header)
		}
		r = call(t, "GET", f.base()+"/items/42?op=full", "", nil, map[string]string{"Origin": "https://evil.example.com"}).expect(t, 201, "created")
		if r.header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("a foreign origin was allowed: %v", r.header)
		}
		if _, err := f.gw.DeleteCorsConfiguration(ctxT(t), &apigatewayv2.DeleteCorsConfigurationInput{ApiId: aws.String(f.apiID)}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("restart", func(t *testing.T) {
		srv.Restart()
		f.gw = srv.APIGateway() // the API listener moved too
		if ev := call(t, "GET", f.base()+"/items/31", "", nil, nil).v2Event(t); ev.RouteKey != "GET /items/{id}" || ev.PathParameters["id"] != "31" {
			t.Fatalf("after a restart: %+v", ev)
		}
		routes, err := f.gw.GetRoutes(ctxT(t), &apigatewayv2.GetRoutesInput{ApiId: aws.String(f.apiID)})
		if err != nil {
			t.Fatal(err)
		}
		if len(routes.Items) != len(f.routeID) {
			t.Fatalf("after a restart: %d routes, want %d", len(routes.Items), len(f.routeID))
		}
		// Deleting a route through the SDK takes it out of service at once.
		if _, err := f.gw.DeleteRoute(ctxT(t), &apigatewayv2.DeleteRouteInput{ApiId: aws.String(f.apiID), RouteId: aws.String(f.routeID["GET /items/{id}"])}); err != nil {
			t.Fatal(err)
		}
		if ev := call(t, "GET", f.base()+"/items/31", "", nil, nil).v2Event(t); ev.RouteKey != "$default" {
			t.Fatalf("deleted route still served: %q", ev.RouteKey)
		}
	})
}

// TestGatewayCLI creates, lists and deletes a route with the aloft CLI
// and calls it through the gateway.
func TestGatewayCLI(t *testing.T) {
	srv := alofttest.Start(t)
	create(t, srv.Lambda(), "clifn", runtimeCases()[0], alofttest.GoFunction(t, "e2e/functions/gwecho", "v1"))
	ctx := ctxT(t)
	out, errOut, code := srv.Run(ctx, nil, "route", "create", "GET", "/hello/{name}", "--function", "clifn")
	if code != 0 || !strings.Contains(out, "GET /hello/{name} → clifn (payload 2.0)") {
		t.Fatalf("route create: %d %q %q", code, out, errOut)
	}
	ev := call(t, "GET", srv.GatewayURL+"/hello/ada", "", nil, nil).v2Event(t)
	if ev.RouteKey != "GET /hello/{name}" || ev.PathParameters["name"] != "ada" {
		t.Fatalf("event: %+v", ev)
	}
	if out, errOut, code = srv.Run(ctx, nil, "route", "list"); code != 0 || !strings.Contains(out, "GET /hello/{name}") || !strings.Contains(out, "clifn") {
		t.Fatalf("route list: %d %q %q", code, out, errOut)
	}
	if out, errOut, code = srv.Run(ctx, nil, "route", "delete", "GET /hello/{name}"); code != 0 || out != "deleted route GET /hello/{name}\n" {
		t.Fatalf("route delete: %d %q %q", code, out, errOut)
	}
	call(t, "GET", srv.GatewayURL+"/hello/ada", "", nil, nil).expect(t, 404, `{"message":"Not Found"}`)
	if _, errOut, code = srv.Run(ctx, nil, "route", "delete", "GET /hello/{name}"); code == 0 || !strings.Contains(errOut, "no such route") {
		t.Fatalf("deleting a missing route: %d %q", code, errOut)
	}
}

var functionURLPattern = regexp.MustCompile(`^http://([a-z0-9]{32})\.lambda-url\.us-east-1\.localhost:(\d+)/$`)

// TestFunctionURL manages function URLs with the Lambda SDK and calls
// them with a plain HTTP client, unsigned (NONE) and signed (AWS_IAM).
func TestFunctionURL(t *testing.T) {
	srv := alofttest.Start(t)
	c := srv.Lambda()
	zip := alofttest.GoFunction(t, "e2e/functions/gwecho", "v1")
	create(t, c, "urlfn", runtimeCases()[0], zip)
	ctx := ctxT(t)

	out, err := c.CreateFunctionUrlConfig(ctx, &lambda.CreateFunctionUrlConfigInput{FunctionName: aws.String("urlfn"), AuthType: types.FunctionUrlAuthTypeNone})
	if err != nil {
		t.Fatal(err)
	}
	m := functionURLPattern.FindStringSubmatch(aws.ToString(out.FunctionUrl))
	if m == nil || out.InvokeMode != types.InvokeModeBuffered || out.AuthType != types.FunctionUrlAuthTypeNone ||
		aws.ToString(out.FunctionArn) != "arn:aws:lambda:us-east-1:000000000000:function:urlfn" || aws.ToString(out.CreationTime) == "" {
		t.Fatalf("CreateFunctionUrlConfig: %+v", out)
	}
	urlID := m[1]
	if !strings.HasSuffix(srv.GatewayURL, ":"+m[2]) {
		t.Fatalf("the URL's port %s is not the gateway's (%s)", m[2], srv.GatewayURL)
	}
	_, err = c.CreateFunctionUrlConfig(ctx, &lambda.CreateFunctionUrlConfigInput{FunctionName: aws.String("urlfn"), AuthType: types.FunctionUrlAuthTypeNone})
	apiErr(t, err, "ResourceConflictException", 409)
	_, err = c.CreateFunctionUrlConfig(ctx, &lambda.CreateFunctionUrlConfigInput{FunctionName: aws.String("nosuchfn"), AuthType: types.FunctionUrlAuthTypeNone})
	apiErr(t, err, "ResourceNotFoundException", 404)
	_, err = c.CreateFunctionUrlConfig(ctx, &lambda.CreateFunctionUrlConfigInput{FunctionName: aws.String("urlfn"), AuthType: "OPEN"})
	apiErr(t, err, "ValidationException", 400)

	// By Host, as the URL says, and by path.
	host := urlID + ".lambda-url.us-east-1.localhost"
	r := call(t, "POST", srv.GatewayURL+"/some/path?q=1&q=2", host, []byte("hi"), map[string]string{"Content-Type": "text/plain"}).expect(t, 200, "")
	var ev events.LambdaFunctionURLRequest
	if err := json.Unmarshal(r.body, &ev); err != nil {
		t.Fatal(err)
	}
	rc := ev.RequestContext
	if ev.Version != "2.0" || ev.RawPath != "/some/path" || ev.RawQueryString != "q=1&q=2" || ev.QueryStringParameters["q"] != "1,2" ||
		ev.Body != "hi" || ev.IsBase64Encoded || rc.APIID != urlID || rc.DomainPrefix != urlID || rc.DomainName != host ||
		rc.AccountID != "000000000000" || rc.Authorizer != nil || rc.HTTP.Method != "POST" || rc.HTTP.Path != "/some/path" ||
		rc.RequestID == "" || rc.RequestID != r.header.Get("X-Amzn-Requestid") {
		t.Fatalf("event: %+v (request id header %q)", ev, r.header.Get("X-Amzn-Requestid"))
	}
	var raw map[string]json.RawMessage
	json.Unmarshal(r.body, &raw)
	if string(raw["routeKey"]) != `"$default"` {
		t.Fatalf("routeKey %s, want \"$default\"", raw["routeKey"])
	}
	call(t, "GET", srv.GatewayURL+"/_aloft/urls/"+urlID+"/x?op=string", "", nil, nil).expect(t, 200, "plain text answer")
	call(t, "GET", srv.GatewayURL+"/_aloft/urls/"+strings.Repeat("a", 32)+"/x", "", nil, nil).expect(t, 404, `{"message":"Not Found"}`)

	// CORS on the URL.
	_, err = c.UpdateFunctionUrlConfig(ctx, &lambda.UpdateFunctionUrlConfigInput{FunctionName: aws.String("urlfn"),
		Cors: &types.Cors{AllowOrigins: []string{"*"}, AllowMethods: []string{"*"}, MaxAge: aws.Int32(60)}})
	if err != nil {
		t.Fatal(err)
	}
	r = call(t, "OPTIONS", srv.GatewayURL+"/_aloft/urls/"+urlID+"/x", "", nil, map[string]string{"Origin": "http://localhost:3000", "Access-Control-Request-Method": "DELETE"})
	if r.expect(t, 204, ""); r.header.Get("Access-Control-Allow-Origin") != "*" || r.header.Get("Access-Control-Allow-Methods") != "DELETE" || r.header.Get("Access-Control-Max-Age") != "60" {
		t.Fatalf("preflight: %v", r.header)
	}

	// AWS_IAM: unsigned and wrongly signed requests are refused; a request
	// signed for lambda reaches the function, which sees the caller.
	upd, err := c.UpdateFunctionUrlConfig(ctx, &lambda.UpdateFunctionUrlConfigInput{FunctionName: aws.String("urlfn"), AuthType: types.FunctionUrlAuthTypeAwsIam})
	if err != nil || upd.AuthType != types.FunctionUrlAuthTypeAwsIam || upd.Cors == nil || aws.ToString(upd.LastModifiedTime) == "" || aws.ToString(upd.FunctionUrl) != aws.ToString(out.FunctionUrl) {
		t.Fatalf("UpdateFunctionUrlConfig: %+v, %v", upd, err)
	}
	u := srv.GatewayURL + "/_aloft/urls/" + urlID + "/secret"
	call(t, "POST", u, "", []byte("payload"), nil).expect(t, 403, `{"Message":"Forbidden"}`)
	signedBy := func(id, secret string) httpResult {
		body := []byte("payload")
		req, _ := http.NewRequest("POST", u, bytes.NewReader(body))
		sum := sha256.Sum256(body)
		creds := aws.Credentials{AccessKeyID: id, SecretAccessKey: secret}
		if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "lambda", alofttest.Region, time.Now()); err != nil {
			t.Fatal(err)
		}
		resp, err := gatewayClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return httpResult{resp.StatusCode, resp.Header, b}
	}
	signed := func(secret string) httpResult { return signedBy(alofttest.AccessKeyID, secret) }
	signed("not-the-secret").expect(t, 403, `{"Message":"Forbidden"}`)
	r = signed(alofttest.SecretAccessKey).expect(t, 200, "")
	ev = events.LambdaFunctionURLRequest{}
	json.Unmarshal(r.body, &ev)
	if ev.RequestContext.Authorizer == nil || ev.RequestContext.Authorizer.IAM == nil ||
		ev.RequestContext.Authorizer.IAM.AccessKey != alofttest.AccessKeyID || ev.RequestContext.Authorizer.IAM.AccountID != "000000000000" || ev.Body != "payload" {
		t.Fatalf("signed event: %+v", ev.RequestContext)
	}
	// An IAM user needs lambda:InvokeFunctionUrl on the function.
	iamc := clientsFor(srv, srv.Config().Credentials).iam
	iamc.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("caller")})
	key, err := iamc.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("caller")})
	if err != nil {
		t.Fatal(err)
	}
	kid, ksecret := aws.ToString(key.AccessKey.AccessKeyId), aws.ToString(key.AccessKey.SecretAccessKey)
	signedBy(kid, ksecret).expect(t, 403, `{"Message":"Forbidden"}`)
	if _, err := iamc.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("caller"), PolicyName: aws.String("url"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"lambda:InvokeFunctionUrl","Resource":"arn:aws:lambda:*:*:function:urlfn"}}`)}); err != nil {
		t.Fatal(err)
	}
	r = signedBy(kid, ksecret).expect(t, 200, "")
	ev = events.LambdaFunctionURLRequest{}
	json.Unmarshal(r.body, &ev)
	if ev.RequestContext.Authorizer == nil || ev.RequestContext.Authorizer.IAM == nil ||
		ev.RequestContext.Authorizer.IAM.UserARN != "arn:aws:iam::000000000000:user/caller" {
		t.Fatalf("the event of a user's signed request: %+v", ev.RequestContext.Authorizer)
	}

	got, err := c.GetFunctionUrlConfig(ctx, &lambda.GetFunctionUrlConfigInput{FunctionName: aws.String("urlfn")})
	if err != nil || got.AuthType != types.FunctionUrlAuthTypeAwsIam || aws.ToString(got.FunctionUrl) != aws.ToString(out.FunctionUrl) {
		t.Fatalf("GetFunctionUrlConfig: %+v, %v", got, err)
	}
	list, err := c.ListFunctionUrlConfigs(ctx, &lambda.ListFunctionUrlConfigsInput{FunctionName: aws.String("urlfn")})
	if err != nil || len(list.FunctionUrlConfigs) != 1 || aws.ToString(list.FunctionUrlConfigs[0].FunctionUrl) != aws.ToString(out.FunctionUrl) {
		t.Fatalf("ListFunctionUrlConfigs: %+v, %v", list, err)
	}

	// The URL survives a restart (on the new gateway port).
	srv.Restart()
	c = srv.Lambda()
	got, err = c.GetFunctionUrlConfig(ctx, &lambda.GetFunctionUrlConfigInput{FunctionName: aws.String("urlfn")})
	if err != nil || !strings.HasSuffix(aws.ToString(got.FunctionUrl), strings.TrimPrefix(srv.GatewayURL, "http://127.0.0.1")+"/") {
		t.Fatalf("after a restart: %+v, %v (gateway %s)", got, err, srv.GatewayURL)
	}
	u = srv.GatewayURL + "/_aloft/urls/" + urlID + "/secret"
	signed(alofttest.SecretAccessKey).expect(t, 200, "")

	// Delete and create again: the same address.
	if _, err := c.DeleteFunctionUrlConfig(ctx, &lambda.DeleteFunctionUrlConfigInput{FunctionName: aws.String("urlfn")}); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetFunctionUrlConfig(ctx, &lambda.GetFunctionUrlConfigInput{FunctionName: aws.String("urlfn")})
	apiErr(t, err, "ResourceNotFoundException", 404)
	call(t, "GET", srv.GatewayURL+"/_aloft/urls/"+urlID+"/x", "", nil, nil).expect(t, 404, `{"message":"Not Found"}`)
	again, err := c.CreateFunctionUrlConfig(ctx, &lambda.CreateFunctionUrlConfigInput{FunctionName: aws.String("urlfn"), AuthType: types.FunctionUrlAuthTypeNone})
	if err != nil || functionURLPattern.FindStringSubmatch(aws.ToString(again.FunctionUrl))[1] != urlID {
		t.Fatalf("created again: %+v, %v; want the id %s", again, err, urlID)
	}

	// Deleting the function deletes its URL.
	if _, err := c.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String("urlfn")}); err != nil {
		t.Fatal(err)
	}
	call(t, "GET", srv.GatewayURL+"/_aloft/urls/"+urlID+"/x", "", nil, nil).expect(t, 404, `{"message":"Not Found"}`)
	create(t, c, "urlfn", runtimeCases()[0], zip)
	_, err = c.GetFunctionUrlConfig(ctx, &lambda.GetFunctionUrlConfigInput{FunctionName: aws.String("urlfn")})
	apiErr(t, err, "ResourceNotFoundException", 404)
}
