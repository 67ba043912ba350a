package gateway

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/aloft-dev/aloft/internal/gateway/catalog"
	"github.com/aloft-dev/aloft/internal/invoke"
)

func TestLambdaAuthorizer(t *testing.T) {
	e := newEnv(t)
	clock := &fakeClock{t: time.Date(2025, 3, 12, 10, 0, 0, 0, time.UTC)}
	e.h.d.Now = clock.now
	e.function("echo", 3, func(ev []byte) (*invoke.Response, error) {
		b, _ := json.Marshal(map[string]any{"statusCode": 200, "body": string(ev)})
		return &invoke.Response{Payload: b}, nil
	})
	var calls atomic.Int32
	var lastEvent atomic.Value
	e.function("auth", 3, func(ev []byte) (*invoke.Response, error) {
		calls.Add(1)
		lastEvent.Store(ev)
		var in events.APIGatewayV2CustomAuthorizerV2Request
		json.Unmarshal(ev, &in)
		tok := strings.Join(in.IdentitySource, ",")
		switch tok {
		case "good":
			return &invoke.Response{Payload: []byte(`{"isAuthorized":true,"context":{"user":"alice","n":1}}`)}, nil
		case "policy":
			return &invoke.Response{Payload: []byte(`{"principalId":"p","policyDocument":{"Version":"2012-10-17","Statement":[{"Action":"execute-api:Invoke","Effect":"Allow","Resource":"*"}]},"context":{"user":"bob"}}`)}, nil
		case "broken":
			return &invoke.Response{Payload: []byte(`[]`)}, nil
		}
		return &invoke.Response{Payload: []byte(`{"isAuthorized":false}`)}, nil
	})
	a := e.api(nil, map[string]string{"GET /private/{id}": "echo", "GET /iam": "echo"})
	_, err := e.cat.UpdateAPI(context.Background(), a.ID, func(a *catalog.API) error {
		a.Authorizers = []*catalog.Authorizer{
			{ID: "simple", Name: "simple", Type: "REQUEST", URI: "auth", IdentitySource: []string{"$request.header.Authorization"}, ResultTTLInSeconds: 300, EnableSimpleResponses: true},
			{ID: "iam", Name: "iam", Type: "REQUEST", URI: "auth", IdentitySource: []string{"$request.querystring.token"}},
		}
		for _, r := range a.Routes {
			r.AuthorizationType = catalog.AuthCustom
			r.AuthorizerID = map[string]string{"GET /private/{id}": "simple", "GET /iam": "iam"}[r.Key]
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	get := func(path, token string) result {
		r := e.req("GET", path, nil)
		if token != "" {
			r.Header.Set("Authorization", token)
		}
		return e.do(r)
	}
	if got := get("/private/1", ""); got.status != 401 || got.body != `{"message":"Unauthorized"}` {
		t.Fatalf("no token: %d %s", got.status, got.body)
	}
	if calls.Load() != 0 {
		t.Fatal("the authorizer ran without an identity")
	}
	got := get("/private/1", "good")
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal([]byte(got.body), &ev); err != nil || got.status != 200 {
		t.Fatalf("allowed: %d %s", got.status, got.body)
	}
	if ev.RequestContext.Authorizer == nil || ev.RequestContext.Authorizer.Lambda["user"] != "alice" {
		t.Fatalf("authorizer context: %+v", ev.RequestContext.Authorizer)
	}
	var aev events.APIGatewayV2CustomAuthorizerV2Request
	json.Unmarshal(lastEvent.Load().([]byte), &aev)
	if aev.Version != "2.0" || aev.Type != "REQUEST" || aev.RouteKey != "GET /private/{id}" || aev.RawPath != "/private/1" ||
		aev.PathParameters["id"] != "1" || aev.Headers["authorization"] != "good" || !strings.HasSuffix(aev.RouteArn, ":"+a.ID+"/$default/GET/private/1") {
		t.Fatalf("authorizer event: %+v", aev)
	}
	for range 3 {
		if got := get("/private/2", "good"); got.status != 200 {
			t.Fatalf("cached allow: %d", got.status)
		}
	}
	if got := get("/private/1", "bad"); got.status != 403 || got.body != `{"message":"Forbidden"}` {
		t.Fatalf("denied: %d %s", got.status, got.body)
	}
	get("/private/1", "bad")
	if n := calls.Load(); n != 2 {
		t.Fatalf("authorizer ran %d times, want 2 (one per token, then cached)", n)
	}
	clock.add(301 * time.Second)
	get("/private/1", "good")
	if n := calls.Load(); n != 3 {
		t.Fatalf("authorizer ran %d times, want 3 after the TTL", n)
	}
	// Without a TTL every request asks; policies are read.
	if got := e.do(e.req("GET", "/iam?token=policy", nil)); got.status != 200 || !strings.Contains(got.body, `"lambda":{"user":"bob"}`) {
		t.Fatalf("policy allow: %d %s", got.status, got.body)
	}
	e.do(e.req("GET", "/iam?token=policy", nil))
	if n := calls.Load(); n != 5 {
		t.Fatalf("authorizer ran %d times, want 5", n)
	}
	if got := e.do(e.req("GET", "/iam?token=broken", nil)); got.status != 500 {
		t.Fatalf("malformed answer: %d %s", got.status, got.body)
	}
	// A simple response where a policy is expected is malformed.
	if got := e.do(e.req("GET", "/iam?token=nope", nil)); got.status != 500 {
		t.Fatalf("simple answer to a policy authorizer: %d %s", got.status, got.body)
	}
}

// policyEnv is an API whose routes all sit behind one policy authorizer
// (payload 2.0, no simple responses) with the given TTL. The authorizer
// answers, for the token in Authorization, the statements policies holds
// for it; calls counts its runs.
type policyEnv struct {
	*env
	api      *catalog.API
	policies map[string]string // token → Statement
	calls    atomic.Int32
}

func newPolicyEnv(t *testing.T, ttl int, routes ...string) *policyEnv {
	e := &policyEnv{env: newEnv(t), policies: map[string]string{}}
	e.function("fn", 3, answer(`{"statusCode":200,"body":"ok"}`))
	e.function("auth", 3, func(ev []byte) (*invoke.Response, error) {
		e.calls.Add(1)
		var in events.APIGatewayV2CustomAuthorizerV2Request
		if err := json.Unmarshal(ev, &in); err != nil || len(in.IdentitySource) != 1 {
			return nil, err
		}
		st, ok := e.policies[in.IdentitySource[0]]
		if !ok {
			st = "[]"
		}
		return &invoke.Response{Payload: []byte(`{"principalId":"p","policyDocument":{"Version":"2012-10-17","Statement":` + st + `}}`)}, nil
	})
	rm := map[string]string{}
	for _, r := range routes {
		rm[r] = "fn"
	}
	a := e.env.api(nil, rm)
	a, err := e.cat.UpdateAPI(context.Background(), a.ID, func(a *catalog.API) error {
		a.Authorizers = []*catalog.Authorizer{{ID: "iam", Name: "iam", Type: "REQUEST", URI: "auth",
			IdentitySource: []string{"$request.header.Authorization"}, ResultTTLInSeconds: ttl}}
		for _, r := range a.Routes {
			r.AuthorizationType, r.AuthorizerID = catalog.AuthCustom, "iam"
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	e.api = a
	return e
}

// arn returns the route ARN of a request to the API.
func (e *policyEnv) arn(stage, method, path string) string {
	return "arn:aws:execute-api:us-east-1:000000000000:" + e.api.ID + "/" + stage + "/" + method + path
}

func (e *policyEnv) status(method, path, token string) int {
	r := e.req(method, path, nil)
	r.Header.Set("Authorization", token)
	return e.do(r).status
}

// TestAuthorizerPolicies runs policies through the gateway against the
// routes of one API: each request is allowed or denied by its own route
// ARN, and what cannot be evaluated is an error.
func TestAuthorizerPolicies(t *testing.T) {
	e := newPolicyEnv(t, 0, "GET /a", "GET /b", "POST /a", "GET /orders/{id}", "GET /admin")
	requests := []struct{ method, path string }{
		{"GET", "/a"}, {"GET", "/b"}, {"POST", "/a"}, {"GET", "/orders/7"}, {"GET", "/admin"}, {"GET", "/prod/orders/7"},
	}
	allow := func(action, resource string) string {
		return `{"Effect":"Allow","Action":` + action + `,"Resource":` + resource + `}`
	}
	q := strconv.Quote
	cases := []struct {
		name      string
		statement string
		want      string // the status of each request, in order
	}{
		{"allow all", `[` + allow(`"execute-api:Invoke"`, `"*"`) + `]`, "200 200 200 200 200 200"},
		{"one statement, not a list", allow(`"execute-api:Invoke"`, `"*"`), "200 200 200 200 200 200"},
		{"one route", `[` + allow(`"execute-api:Invoke"`, q(e.arn("$default", "GET", "/a"))) + `]`, "200 403 403 403 403 403"},
		{"resource list", `[` + allow(`["execute-api:Invoke"]`, `[`+q(e.arn("$default", "GET", "/a"))+`,`+q(e.arn("$default", "POST", "/a"))+`]`) + `]`,
			"200 403 200 403 403 403"},
		{"wildcards", `[` + allow(`"execute-api:*"`, q("arn:aws:execute-api:*:*:"+e.api.ID+"/*/GET/orders/*")) + `]`, "403 403 403 200 403 200"},
		{"a stage", `[` + allow(`"*"`, q("arn:aws:execute-api:us-east-1:000000000000:"+e.api.ID+"/prod/*")) + `]`, "403 403 403 403 403 200"},
		{"one character", `[` + allow(`"execute-api:Invoke"`, q(e.arn("$default", "GET", "/?"))) + `]`, "200 200 403 403 403 403"},
		{"a star spans slashes", `[` + allow(`"execute-api:Invoke"`, q(e.arn("$default", "*", "/?"))) + `]`, "200 200 200 200 403 403"},
		{"deny wins", `[` + allow(`"execute-api:Invoke"`, `"*"`) + `,{"Effect":"Deny","Action":"execute-api:Invoke","Resource":"*/admin"}]`,
			"200 200 200 200 403 200"},
		{"deny first", `[{"Effect":"Deny","Action":"*","Resource":` + q(e.arn("$default", "GET", "/a")) + `},` + allow(`"*"`, `"*"`) + `]`,
			"403 200 200 200 200 200"},
		{"actions fold case", `[` + allow(`"EXECUTE-API:INVOKE"`, `"*"`) + `]`, "200 200 200 200 200 200"},
		{"resources do not", `[` + allow(`"execute-api:Invoke"`, q(e.arn("$default", "get", "/a"))) + `]`, "403 403 403 403 403 403"},
		{"another action", `[` + allow(`"execute-api:ManageConnections"`, `"*"`) + `]`, "403 403 403 403 403 403"},
		{"no statement", `[]`, "403 403 403 403 403 403"},
		{"not action", `[{"Effect":"Allow","NotAction":"s3:*","Resource":"*"}]`, "200 200 200 200 200 200"},
		{"deny not resource", `[` + allow(`"*"`, `"*"`) + `,{"Effect":"Deny","Action":"*","NotResource":"*/GET/orders/*"}]`,
			"403 403 403 200 403 200"},
		{"condition", `[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"127.0.0.1/32"}}}]`,
			"500 500 500 500 500 500"},
		{"principal", `[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]`, "500 500 500 500 500 500"},
		{"bad effect", `[{"Effect":"Permit","Action":"*","Resource":"*"}]`, "500 500 500 500 500 500"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			token := "token-" + tc.name
			e.policies[token] = tc.statement
			var got []string
			for _, r := range requests {
				got = append(got, strconv.Itoa(e.status(r.method, r.path, token)))
			}
			if g := strings.Join(got, " "); g != tc.want {
				t.Fatalf("got %s, want %s (requests %v)", g, tc.want, requests)
			}
		})
	}
}

// TestAuthorizerCachedPolicy checks that a cached policy is evaluated
// again for each request: allowed for one route, it does not open the
// others behind the same authorizer.
func TestAuthorizerCachedPolicy(t *testing.T) {
	e := newPolicyEnv(t, 300, "GET /a", "GET /b", "POST /a")
	e.policies["only-a"] = `[{"Effect":"Allow","Action":"execute-api:Invoke","Resource":"` + e.arn("$default", "GET", "/a") + `"}]`
	e.policies["all-but-b"] = `[{"Effect":"Allow","Action":"execute-api:Invoke","Resource":"*"},{"Effect":"Deny","Action":"execute-api:Invoke","Resource":"*/GET/b"}]`
	steps := []struct {
		method, path, token string
		want                int
		calls               int32
	}{
		{"GET", "/a", "only-a", 200, 1},
		{"GET", "/b", "only-a", 403, 1}, // the cached answer, read for /b
		{"POST", "/a", "only-a", 403, 1},
		{"GET", "/a", "only-a", 200, 1},
		{"GET", "/b", "all-but-b", 403, 2}, // cached from a denied request
		{"GET", "/a", "all-but-b", 200, 2},
		{"GET", "/b", "all-but-b", 403, 2},
	}
	for i, s := range steps {
		if got := e.status(s.method, s.path, s.token); got != s.want {
			t.Fatalf("step %d, %s %s with %s: got %d, want %d", i, s.method, s.path, s.token, got, s.want)
		}
		if n := e.calls.Load(); n != s.calls {
			t.Fatalf("step %d: the authorizer ran %d times, want %d", i, n, s.calls)
		}
	}
}

// TestAuthorizerCacheBound sends more distinct identities than an
// authorizer's cache holds: it keeps the most recent ones, up to its
// bound.
func TestAuthorizerCacheBound(t *testing.T) {
	e := newPolicyEnv(t, 300, "GET /x")
	z := authorizerOf(t, e.env, "GET", "/x")
	get := func(token string) int {
		r := httptest.NewRequest("GET", "/x", nil)
		r.Header.Set("Authorization", token)
		w := httptest.NewRecorder()
		e.h.ServeHTTP(w, r)
		return w.Code
	}
	const n = catalog.MaxCachedDecisions + 500
	for i := range n {
		if got := get("t" + strconv.Itoa(i)); got != 403 {
			t.Fatalf("request %d: %d, want 403", i, got)
		}
	}
	if got := z.CachedLen(); got != catalog.MaxCachedDecisions {
		t.Fatalf("the cache holds %d answers, want %d", got, catalog.MaxCachedDecisions)
	}
	if c := e.calls.Load(); c != n {
		t.Fatalf("the authorizer ran %d times, want %d", c, n)
	}
	get("t" + strconv.Itoa(n-1)) // recent: still cached
	if c := e.calls.Load(); c != n {
		t.Fatalf("a recent identity was asked again (%d runs)", c)
	}
	get("t0") // the oldest: pushed out
	if c := e.calls.Load(); c != n+1 {
		t.Fatalf("the oldest identity was still cached (%d runs)", c)
	}
	if got := z.CachedLen(); got != catalog.MaxCachedDecisions {
		t.Fatalf("the cache holds %d answers, want %d", got, catalog.MaxCachedDecisions)
	}
}

// authorizerOf returns the compiled authorizer of the route a request
// reaches in the only API.
func authorizerOf(t *testing.T, e *env, method, path string) *catalog.CompiledAuthorizer {
	t.Helper()
	m, ok := e.cat.Snapshot().Only().Routes.Match(method, path, nil)
	if !ok || m.Value.Authorizer == nil {
		t.Fatalf("no authorizer for %s %s", method, path)
	}
	return m.Value.Authorizer
}

func TestIdentityKey(t *testing.T) {
	keys := map[[32]byte][]string{}
	for _, values := range [][]string{{}, {""}, {"a"}, {"a", "b"}, {"ab"}, {"a\x00b"}, {"a\x00", "b"}, {"a", "\x00b"}, {"", "ab"}} {
		k := identityKey(values)
		if prev, ok := keys[k]; ok {
			t.Fatalf("%q and %q share a key", prev, values)
		}
		keys[k] = values
	}
	if identityKey([]string{"x", "y"}) != identityKey([]string{"x", "y"}) {
		t.Fatal("the same values give different keys")
	}
	if n := testing.AllocsPerRun(10, func() { identityKey([]string{"Bearer abc.def.ghi"}) }); n != 0 {
		t.Fatalf("identityKey allocates %v times for a short token, want 0", n)
	}
}
