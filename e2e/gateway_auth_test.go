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
