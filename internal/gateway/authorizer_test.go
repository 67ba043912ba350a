package gateway

import (
	"context"
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/aloft-dev/aloft/internal/gateway/catalog"
	"github.com/aloft-dev/aloft/internal/invoker"
)

func TestLambdaAuthorizer(t *testing.T) {
	e := newEnv(t)
	clock := &fakeClock{t: time.Date(2025, 3, 12, 10, 0, 0, 0, time.UTC)}
	e.h.d.Now = clock.now
	e.function("echo", 3, func(ev []byte) (*invoker.Response, error) {
		b, _ := json.Marshal(map[string]any{"statusCode": 200, "body": string(ev)})
		return &invoker.Response{Payload: b}, nil
	})
	var calls atomic.Int32
	var lastEvent atomic.Value
	e.function("auth", 3, func(ev []byte) (*invoker.Response, error) {
		calls.Add(1)
		lastEvent.Store(ev)
		var in events.APIGatewayV2CustomAuthorizerV2Request
		json.Unmarshal(ev, &in)
		tok := strings.Join(in.IdentitySource, ",")
		switch tok {
		case "good":
			return &invoker.Response{Payload: []byte(`{"isAuthorized":true,"context":{"user":"alice","n":1}}`)}, nil
		case "policy":
			return &invoker.Response{Payload: []byte(`{"principalId":"p","policyDocument":{"Version":"2012-10-17","Statement":[{"Action":"execute-api:Invoke","Effect":"Allow","Resource":"*"}]},"context":{"user":"bob"}}`)}, nil
		case "broken":
			return &invoker.Response{Payload: []byte(`[]`)}, nil
		}
		return &invoker.Response{Payload: []byte(`{"isAuthorized":false}`)}, nil
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
