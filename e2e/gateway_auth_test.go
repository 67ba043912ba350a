package e2e

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2"
	gwtypes "github.com/aws/aws-sdk-go-v2/service/apigatewayv2/types"

	"github.com/aloft-dev/aloft/internal/alofttest"
)

// TestGatewayAuthorizer puts a Python Lambda authorizer made with the SDK
// in front of two routes, one caching its decisions, and calls them with
// a plain HTTP client.
func TestGatewayAuthorizer(t *testing.T) {
	f := newGatewayFixture(t)
	create(t, f.srv.Lambda(), "gwauth", runtimeCase{runtime: "python3.11", handler: "app.handler"}, alofttest.ZipDir(t, "testdata/gwauth"))
	echo := f.integration(t, "gwecho", "2.0", 0)
	authorizer := func(name string, ttl int32) string {
		out, err := f.gw.CreateAuthorizer(ctxT(t), &apigatewayv2.CreateAuthorizerInput{
			ApiId: aws.String(f.apiID), Name: aws.String(name), AuthorizerType: gwtypes.AuthorizerTypeRequest,
			AuthorizerUri:                  aws.String("arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:000000000000:function:gwauth/invocations"),
			IdentitySource:                 []string{"$request.header.Authorization"},
			AuthorizerPayloadFormatVersion: aws.String("2.0"), EnableSimpleResponses: aws.Bool(true), AuthorizerResultTtlInSeconds: aws.Int32(ttl),
		})
		if err != nil {
			t.Fatalf("CreateAuthorizer: %v", err)
		}
		return aws.ToString(out.AuthorizerId)
	}
	cached, uncached := authorizer("cached", 300), authorizer("uncached", 0)
	for key, id := range map[string]string{"GET /private": cached, "GET /fresh": uncached} {
		_, err := f.gw.CreateRoute(ctxT(t), &apigatewayv2.CreateRouteInput{ApiId: aws.String(f.apiID), RouteKey: aws.String(key), Target: aws.String(echo),
			AuthorizationType: gwtypes.AuthorizationTypeCustom, AuthorizerId: aws.String(id)})
		if err != nil {
			t.Fatalf("CreateRoute %s: %v", key, err)
		}
	}
	list, err := f.gw.GetAuthorizers(ctxT(t), &apigatewayv2.GetAuthorizersInput{ApiId: aws.String(f.apiID)})
	if err != nil || len(list.Items) != 2 {
		t.Fatalf("GetAuthorizers: %+v %v", list, err)
	}
	if _, err := f.gw.DeleteAuthorizer(ctxT(t), &apigatewayv2.DeleteAuthorizerInput{ApiId: aws.String(f.apiID), AuthorizerId: aws.String(cached)}); err == nil {
		t.Fatal("deleted an authorizer a route uses")
	}

	bearer := func(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }
	call(t, "GET", f.base()+"/private", "", nil, nil).expect(t, 401, `{"message":"Unauthorized"}`)
	for i := range 3 {
		ev := call(t, "GET", f.base()+"/private", "", nil, bearer("good")).v2Event(t)
		if ev.RequestContext.Authorizer == nil || ev.RequestContext.Authorizer.Lambda["user"] != "alice" ||
			ev.RequestContext.Authorizer.Lambda["calls"] != float64(1) || ev.RequestContext.Authorizer.Lambda["route"] != "GET /private" {
			t.Fatalf("request %d: authorizer context %+v, want the first (cached) decision", i, ev.RequestContext.Authorizer)
		}
	}
	call(t, "GET", f.base()+"/private", "", nil, bearer("bad")).expect(t, 403, `{"message":"Forbidden"}`)
	// The uncached authorizer runs for each request: its count goes up.
	first := call(t, "GET", f.base()+"/fresh", "", nil, bearer("good")).v2Event(t).RequestContext.Authorizer.Lambda["calls"].(float64)
	second := call(t, "GET", f.base()+"/fresh", "", nil, bearer("good")).v2Event(t).RequestContext.Authorizer.Lambda["calls"].(float64)
	if second <= first {
		t.Fatalf("uncached authorizer counts %v then %v, want a rising count", first, second)
	}
	call(t, "GET", f.base()+"/fresh", "", nil, bearer("bad")).expect(t, 403, "")
}

// TestGatewayAuthorizerScoping puts a Python Lambda authorizer that
// answers IAM policies, cached for five minutes, in front of two routes:
// a policy is read against each request's route, so a cached answer that
// allows one route opens no other, and a Deny statement wins over an
// Allow.
func TestGatewayAuthorizerScoping(t *testing.T) {
	f := newGatewayFixture(t)
	create(t, f.srv.Lambda(), "gwpolicy", runtimeCase{runtime: "python3.11", handler: "app.handler"}, alofttest.ZipDir(t, "testdata/gwpolicy"))
	echo := f.integration(t, "gwecho", "2.0", 0)
	out, err := f.gw.CreateAuthorizer(ctxT(t), &apigatewayv2.CreateAuthorizerInput{
		ApiId: aws.String(f.apiID), Name: aws.String("policy"), AuthorizerType: gwtypes.AuthorizerTypeRequest,
		AuthorizerUri:                  aws.String("arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:000000000000:function:gwpolicy/invocations"),
		IdentitySource:                 []string{"$request.header.Authorization"},
		AuthorizerPayloadFormatVersion: aws.String("2.0"), EnableSimpleResponses: aws.Bool(false), AuthorizerResultTtlInSeconds: aws.Int32(300),
	})
	if err != nil {
		t.Fatalf("CreateAuthorizer: %v", err)
	}
	for _, key := range []string{"GET /orders/{id}", "GET /admin"} {
		_, err := f.gw.CreateRoute(ctxT(t), &apigatewayv2.CreateRouteInput{ApiId: aws.String(f.apiID), RouteKey: aws.String(key), Target: aws.String(echo),
			AuthorizationType: gwtypes.AuthorizationTypeCustom, AuthorizerId: out.AuthorizerId})
		if err != nil {
			t.Fatalf("CreateRoute %s: %v", key, err)
		}
	}

	bearer := func(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }
	calls := func(r httpResult) float64 {
		t.Helper()
		ev := r.v2Event(t)
		if ev.RequestContext.Authorizer == nil {
			t.Fatal("no authorizer context in the event")
		}
		n, _ := ev.RequestContext.Authorizer.Lambda["calls"].(float64)
		return n
	}
	call(t, "GET", f.base()+"/orders/1", "", nil, nil).expect(t, 401, `{"message":"Unauthorized"}`)

	// "orders" may call GET /orders/* only. Its answer is cached by the
	// first request and read again for /admin, which it does not allow.
	first := calls(call(t, "GET", f.base()+"/orders/1", "", nil, bearer("orders")))
	call(t, "GET", f.base()+"/admin", "", nil, bearer("orders")).expect(t, 403, `{"message":"Forbidden"}`)
	if again := calls(call(t, "GET", f.base()+"/orders/2", "", nil, bearer("orders"))); again != first {
		t.Fatalf("authorizer runs %v then %v: want the cached answer for every request of the token", first, again)
	}
	call(t, "GET", f.base()+"/admin", "", nil, bearer("orders")).expect(t, 403, `{"message":"Forbidden"}`)

	// "all-but-secret" is allowed everywhere but denied /orders/secret:
	// the Deny wins over the Allow that also matches it.
	call(t, "GET", f.base()+"/admin", "", nil, bearer("all-but-secret")).expect(t, 200, "")
	call(t, "GET", f.base()+"/orders/7", "", nil, bearer("all-but-secret")).expect(t, 200, "")
	call(t, "GET", f.base()+"/orders/secret", "", nil, bearer("all-but-secret")).expect(t, 403, `{"message":"Forbidden"}`)
	call(t, "GET", f.base()+"/orders/secret", "", nil, bearer("orders")).expect(t, 200, "")

	// A policy that allows nothing.
	call(t, "GET", f.base()+"/orders/1", "", nil, bearer("nobody")).expect(t, 403, `{"message":"Forbidden"}`)
}
