package gatewayapi

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2/types"
	"github.com/aws/smithy-go"

	"github.com/aloft-dev/aloft/internal/gateway/catalog"
	"github.com/aloft-dev/aloft/internal/store"
)

// openCatalog opens a catalog in a fresh store.
func openCatalog(t *testing.T) *catalog.Catalog {
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
	return cat
}

func newClient(t *testing.T) (*apigatewayv2.Client, *catalog.Catalog) {
	t.Helper()
	cat := openCatalog(t)
	srv := httptest.NewServer(New(Deps{Catalog: cat, Endpoint: func(id string) string { return "http://" + id + ".execute-api.localhost:8080" }}))
	t.Cleanup(srv.Close)
	c := apigatewayv2.New(apigatewayv2.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), Credentials: credentials.NewStaticCredentialsProvider("a", "b", ""),
		HTTPClient: srv.Client(), Retryer: aws.NopRetryer{},
	})
	return c, cat
}

func wantError(t *testing.T, err error, code string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != code {
		t.Fatalf("got %v, want %s", err, code)
	}
	if ae.ErrorMessage() == "" {
		t.Fatalf("%s without a message", code)
	}
}

func TestQuickCreate(t *testing.T) {
	c, cat := newClient(t)
	ctx := context.Background()
	out, err := c.CreateApi(ctx, &apigatewayv2.CreateApiInput{
		Name: aws.String("quick"), ProtocolType: types.ProtocolTypeHttp, Target: aws.String("arn:aws:lambda:us-east-1:000000000000:function:fn"),
		CorsConfiguration: &types.Cors{AllowOrigins: []string{"*"}, MaxAge: aws.Int32(60)},
	})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(out.ApiId)
	if len(id) != 10 || aws.ToString(out.ApiEndpoint) != "http://"+id+".execute-api.localhost:8080" || out.CreatedDate == nil ||
		aws.ToString(out.RouteSelectionExpression) != "$request.method $request.path" || out.CorsConfiguration == nil ||
		aws.ToInt32(out.CorsConfiguration.MaxAge) != 60 {
		t.Fatalf("CreateApi: %+v", out)
	}
	routes, err := c.GetRoutes(ctx, &apigatewayv2.GetRoutesInput{ApiId: out.ApiId})
	if err != nil || len(routes.Items) != 1 || aws.ToString(routes.Items[0].RouteKey) != "$default" || !aws.ToBool(routes.Items[0].ApiGatewayManaged) {
		t.Fatalf("GetRoutes: %+v, %v", routes, err)
	}
	ints, err := c.GetIntegrations(ctx, &apigatewayv2.GetIntegrationsInput{ApiId: out.ApiId})
	if err != nil || len(ints.Items) != 1 || aws.ToString(ints.Items[0].PayloadFormatVersion) != "2.0" ||
		ints.Items[0].IntegrationType != types.IntegrationTypeAwsProxy || aws.ToInt32(ints.Items[0].TimeoutInMillis) != 30000 ||
		"integrations/"+aws.ToString(ints.Items[0].IntegrationId) != aws.ToString(routes.Items[0].Target) {
		t.Fatalf("GetIntegrations: %+v, %v", ints, err)
	}
	stages, err := c.GetStages(ctx, &apigatewayv2.GetStagesInput{ApiId: out.ApiId})
	if err != nil || len(stages.Items) != 1 || aws.ToString(stages.Items[0].StageName) != "$default" || !aws.ToBool(stages.Items[0].AutoDeploy) {
		t.Fatalf("GetStages: %+v, %v", stages, err)
	}
	if m, ok := cat.Snapshot().API(id).Routes.Match("GET", "/anything", nil); !ok || m.Value.Function != "fn" {
		t.Fatal("the quick-created API does not route to its function")
	}
	_, err = c.DeleteRoute(ctx, &apigatewayv2.DeleteRouteInput{ApiId: out.ApiId, RouteId: routes.Items[0].RouteId})
	wantError(t, err, "BadRequestException")

	// UpdateApi changes CORS; DeleteCorsConfiguration removes it.
	up, err := c.UpdateApi(ctx, &apigatewayv2.UpdateApiInput{ApiId: out.ApiId, CorsConfiguration: &types.Cors{AllowOrigins: []string{"https://a.example"}, AllowCredentials: aws.Bool(true)}})
	if err != nil || up.CorsConfiguration == nil || up.CorsConfiguration.AllowOrigins[0] != "https://a.example" {
		t.Fatalf("UpdateApi: %+v, %v", up, err)
	}
	_, err = c.UpdateApi(ctx, &apigatewayv2.UpdateApiInput{ApiId: out.ApiId, CorsConfiguration: &types.Cors{AllowOrigins: []string{"*"}, AllowCredentials: aws.Bool(true)}})
	wantError(t, err, "BadRequestException")
	if _, err := c.DeleteCorsConfiguration(ctx, &apigatewayv2.DeleteCorsConfigurationInput{ApiId: out.ApiId}); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetApi(ctx, &apigatewayv2.GetApiInput{ApiId: out.ApiId})
	if err != nil || got.CorsConfiguration != nil || aws.ToString(got.Name) != "quick" {
		t.Fatalf("GetApi: %+v, %v", got, err)
	}
	if _, err := c.DeleteApi(ctx, &apigatewayv2.DeleteApiInput{ApiId: out.ApiId}); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetApi(ctx, &apigatewayv2.GetApiInput{ApiId: out.ApiId})
	wantError(t, err, "NotFoundException")
}

func TestRoutesIntegrationsStages(t *testing.T) {
	c, cat := newClient(t)
	ctx := context.Background()
	api, err := c.CreateApi(ctx, &apigatewayv2.CreateApiInput{Name: aws.String("shop"), ProtocolType: types.ProtocolTypeHttp})
	if err != nil {
		t.Fatal(err)
	}
	in, err := c.CreateIntegration(ctx, &apigatewayv2.CreateIntegrationInput{
		ApiId: api.ApiId, IntegrationType: types.IntegrationTypeAwsProxy, PayloadFormatVersion: aws.String("1.0"),
		IntegrationUri:  aws.String("arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:000000000000:function:items/invocations"),
		TimeoutInMillis: aws.Int32(5000),
	})
	if err != nil || aws.ToString(in.PayloadFormatVersion) != "1.0" || aws.ToInt32(in.TimeoutInMillis) != 5000 {
		t.Fatalf("CreateIntegration: %+v, %v", in, err)
	}
	target := aws.String("integrations/" + aws.ToString(in.IntegrationId))
	rt, err := c.CreateRoute(ctx, &apigatewayv2.CreateRouteInput{ApiId: api.ApiId, RouteKey: aws.String("GET /items/{id}"), Target: target})
	if err != nil || aws.ToString(rt.RouteKey) != "GET /items/{id}" || rt.AuthorizationType != types.AuthorizationTypeNone {
		t.Fatalf("CreateRoute: %+v, %v", rt, err)
	}
	_, err = c.CreateRoute(ctx, &apigatewayv2.CreateRouteInput{ApiId: api.ApiId, RouteKey: aws.String("GET /items/{id}"), Target: target})
	wantError(t, err, "ConflictException")
	_, err = c.CreateRoute(ctx, &apigatewayv2.CreateRouteInput{ApiId: api.ApiId, RouteKey: aws.String("GET /items/{other}"), Target: target})
	wantError(t, err, "ConflictException")
	_, err = c.CreateRoute(ctx, &apigatewayv2.CreateRouteInput{ApiId: api.ApiId, RouteKey: aws.String("FETCH /x")})
	wantError(t, err, "BadRequestException")
	_, err = c.CreateRoute(ctx, &apigatewayv2.CreateRouteInput{ApiId: api.ApiId, RouteKey: aws.String("GET /x"), Target: aws.String("integrations/nope")})
	wantError(t, err, "BadRequestException")
	_, err = c.CreateRoute(ctx, &apigatewayv2.CreateRouteInput{ApiId: aws.String("nope"), RouteKey: aws.String("GET /x")})
	wantError(t, err, "NotFoundException")
	_, err = c.CreateIntegration(ctx, &apigatewayv2.CreateIntegrationInput{ApiId: api.ApiId, IntegrationType: types.IntegrationTypeHttpProxy, IntegrationUri: aws.String("http://x")})
	wantError(t, err, "BadRequestException")
	_, err = c.DeleteIntegration(ctx, &apigatewayv2.DeleteIntegrationInput{ApiId: api.ApiId, IntegrationId: in.IntegrationId})
	wantError(t, err, "ConflictException")

	st, err := c.CreateStage(ctx, &apigatewayv2.CreateStageInput{ApiId: api.ApiId, StageName: aws.String("$default"), AutoDeploy: aws.Bool(true)})
	if err != nil || aws.ToString(st.StageName) != "$default" || st.CreatedDate == nil {
		t.Fatalf("CreateStage: %+v, %v", st, err)
	}
	_, err = c.CreateStage(ctx, &apigatewayv2.CreateStageInput{ApiId: api.ApiId, StageName: aws.String("$default")})
	wantError(t, err, "ConflictException")
	if _, err := c.CreateDeployment(ctx, &apigatewayv2.CreateDeploymentInput{ApiId: api.ApiId, StageName: aws.String("$default")}); err != nil {
		t.Fatal(err)
	}
	ep := cat.Snapshot().API(aws.ToString(api.ApiId))
	if m, ok := ep.Routes.Match("GET", "/items/9", nil); !ok || m.Value.Function != "items" || ep.Stages["$default"] == nil {
		t.Fatal("the route is not served")
	}

	upd, err := c.UpdateRoute(ctx, &apigatewayv2.UpdateRouteInput{ApiId: api.ApiId, RouteId: rt.RouteId, RouteKey: aws.String("POST /items")})
	if err != nil || aws.ToString(upd.RouteKey) != "POST /items" || aws.ToString(upd.Target) != aws.ToString(target) {
		t.Fatalf("UpdateRoute: %+v, %v", upd, err)
	}
	got, err := c.GetRoute(ctx, &apigatewayv2.GetRouteInput{ApiId: api.ApiId, RouteId: rt.RouteId})
	if err != nil || aws.ToString(got.RouteKey) != "POST /items" {
		t.Fatalf("GetRoute: %+v, %v", got, err)
	}
	if _, err := c.DeleteRoute(ctx, &apigatewayv2.DeleteRouteInput{ApiId: api.ApiId, RouteId: rt.RouteId}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteIntegration(ctx, &apigatewayv2.DeleteIntegrationInput{ApiId: api.ApiId, IntegrationId: in.IntegrationId}); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetRoute(ctx, &apigatewayv2.GetRouteInput{ApiId: api.ApiId, RouteId: rt.RouteId})
	wantError(t, err, "NotFoundException")
	if _, err := c.DeleteStage(ctx, &apigatewayv2.DeleteStageInput{ApiId: api.ApiId, StageName: aws.String("$default")}); err != nil {
		t.Fatal(err)
	}

	// Paging.
	for i := range 3 {
		if _, err := c.CreateApi(ctx, &apigatewayv2.CreateApiInput{Name: aws.String(strings.Repeat("x", i+1)), ProtocolType: types.ProtocolTypeHttp}); err != nil {
			t.Fatal(err)
		}
	}
	var names []string
	var token *string
	for {
		page, err := c.GetApis(ctx, &apigatewayv2.GetApisInput{MaxResults: aws.String("2"), NextToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range page.Items {
			names = append(names, aws.ToString(a.Name))
		}
		if token = page.NextToken; token == nil {
			break
		}
	}
	if len(names) != 4 {
		t.Fatalf("paged through %v, want 4 APIs", names)
	}
	_, err = c.CreateApi(ctx, &apigatewayv2.CreateApiInput{Name: aws.String("ws"), ProtocolType: types.ProtocolTypeWebsocket})
	wantError(t, err, "BadRequestException")
}

func TestUnknownOperation(t *testing.T) {
	c, _ := newClient(t)
	_, err := c.GetAuthorizers(context.Background(), &apigatewayv2.GetAuthorizersInput{ApiId: aws.String("x")})
	wantError(t, err, "NotFoundException")
	var re interface{ HTTPStatusCode() int }
	if !errors.As(err, &re) || re.HTTPStatusCode() != http.StatusNotFound {
		t.Fatalf("status: %v", err)
	}
}
