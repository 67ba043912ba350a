package client

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2/types"

	"github.com/aloft-dev/aloft/internal/function"
)

// DefaultAPIName is the name of the HTTP API that routes go to when no API
// is named.
const DefaultAPIName = "aloft"

// APIGateway returns an API Gateway v2 client for the server's gateway
// management API.
func (c *Client) APIGateway() *apigatewayv2.Client {
	return apigatewayv2.NewFromConfig(c.cfg)
}

// Route is one route of an HTTP API and the function it invokes.
type Route struct {
	APIID         string `json:"apiId"`
	RouteID       string `json:"routeId"`
	RouteKey      string `json:"routeKey"`
	Target        string `json:"target"`   // integrations/<id>
	Function      string `json:"function"` // the function's name; empty without an integration
	PayloadFormat string `json:"payloadFormatVersion"`
	Endpoint      string `json:"apiEndpoint"` // the API's address
}

// FindAPI returns the id and endpoint of the API with the given id or
// name; with create, an API named name is created (with an automatically
// deployed $default stage) when none exists.
func (c *Client) FindAPI(ctx context.Context, idOrName string, create bool) (id, endpoint string, err error) {
	gw := c.APIGateway()
	apis, err := c.apis(ctx)
	if err != nil {
		return "", "", err
	}
	for _, a := range apis {
		if aws.ToString(a.ApiId) == idOrName || aws.ToString(a.Name) == idOrName {
			return aws.ToString(a.ApiId), aws.ToString(a.ApiEndpoint), nil
		}
	}
	if !create {
		return "", "", fmt.Errorf("no HTTP API is called %q", idOrName)
	}
	out, err := gw.CreateApi(ctx, &apigatewayv2.CreateApiInput{Name: aws.String(idOrName), ProtocolType: types.ProtocolTypeHttp})
	if err != nil {
		return "", "", err
	}
	_, err = gw.CreateStage(ctx, &apigatewayv2.CreateStageInput{ApiId: out.ApiId, StageName: aws.String("$default"), AutoDeploy: aws.Bool(true)})
	if err != nil {
		return "", "", err
	}
	return aws.ToString(out.ApiId), aws.ToString(out.ApiEndpoint), nil
}

// CreateRoute adds a route (a route key such as "GET /items/{id}", or
// "$default") that invokes fn (a name or ARN) with the given payload format
// ("2.0" or "1.0") to the API with the given id or name, creating that
// API when it does not exist. An integration of the API that already
// invokes fn with that format is reused.
func (c *Client) CreateRoute(ctx context.Context, api, key, fn, format string) (*Route, error) {
	if format == "" {
		format = "2.0"
	}
	arn := fn
	if !strings.HasPrefix(fn, "arn:") {
		arn = function.ARN(c.Region, fn, "")
	}
	id, endpoint, err := c.FindAPI(ctx, api, true)
	if err != nil {
		return nil, err
	}
	gw := c.APIGateway()
	ints, err := c.integrations(ctx, id)
	if err != nil {
		return nil, err
	}
	var intID string
	for _, in := range ints {
		if aws.ToString(in.IntegrationUri) == arn && aws.ToString(in.PayloadFormatVersion) == format {
			intID = aws.ToString(in.IntegrationId)
		}
	}
	if intID == "" {
		in, err := gw.CreateIntegration(ctx, &apigatewayv2.CreateIntegrationInput{
			ApiId: aws.String(id), IntegrationType: types.IntegrationTypeAwsProxy, IntegrationUri: aws.String(arn),
			PayloadFormatVersion: aws.String(format),
		})
		if err != nil {
			return nil, err
		}
		intID = aws.ToString(in.IntegrationId)
	}
	rt, err := gw.CreateRoute(ctx, &apigatewayv2.CreateRouteInput{ApiId: aws.String(id), RouteKey: aws.String(key), Target: aws.String("integrations/" + intID)})
	if err != nil {
		return nil, err
	}
	name, _, _ := function.ParseRef(arn)
	return &Route{APIID: id, RouteID: aws.ToString(rt.RouteId), RouteKey: key, Target: aws.ToString(rt.Target), Function: name,
		PayloadFormat: format, Endpoint: endpoint}, nil
}

// The API Gateway v2 SDK has no paginators; these follow NextToken.

func (c *Client) apis(ctx context.Context) ([]types.Api, error) {
	var all []types.Api
	var token *string
	for {
		page, err := c.APIGateway().GetApis(ctx, &apigatewayv2.GetApisInput{NextToken: token})
		if err != nil {
			return nil, err
		}
		all = append(all, page.Items...)
		if token = page.NextToken; token == nil {
			return all, nil
		}
	}
}

func (c *Client) integrations(ctx context.Context, apiID string) ([]types.Integration, error) {
	var all []types.Integration
	var token *string
	for {
		page, err := c.APIGateway().GetIntegrations(ctx, &apigatewayv2.GetIntegrationsInput{ApiId: aws.String(apiID), NextToken: token})
		if err != nil {
			return nil, err
		}
		all = append(all, page.Items...)
		if token = page.NextToken; token == nil {
			return all, nil
		}
	}
}

func (c *Client) routes(ctx context.Context, apiID string) ([]types.Route, error) {
	var all []types.Route
	var token *string
	for {
		page, err := c.APIGateway().GetRoutes(ctx, &apigatewayv2.GetRoutesInput{ApiId: aws.String(apiID), NextToken: token})
		if err != nil {
			return nil, err
		}
		all = append(all, page.Items...)
		if token = page.NextToken; token == nil {
			return all, nil
		}
	}
}

// Routes returns the routes of the API with the given id or name, or of
// every API when api is empty.
func (c *Client) Routes(ctx context.Context, api string) ([]Route, error) {
	all, err := c.apis(ctx)
	if err != nil {
		return nil, err
	}
	var apis []types.Api
	for _, a := range all {
		if api == "" || aws.ToString(a.ApiId) == api || aws.ToString(a.Name) == api {
			apis = append(apis, a)
		}
	}
	if api != "" && len(apis) == 0 {
		return nil, fmt.Errorf("no HTTP API is called %q", api)
	}
	var out []Route
	for _, a := range apis {
		id := aws.ToString(a.ApiId)
		ints, err := c.integrations(ctx, id)
		if err != nil {
			return nil, err
		}
		byTarget := map[string]types.Integration{}
		for _, in := range ints {
			byTarget["integrations/"+aws.ToString(in.IntegrationId)] = in
		}
		routes, err := c.routes(ctx, id)
		if err != nil {
			return nil, err
		}
		for _, rt := range routes {
			r := Route{APIID: id, RouteID: aws.ToString(rt.RouteId), RouteKey: aws.ToString(rt.RouteKey), Target: aws.ToString(rt.Target),
				Endpoint: aws.ToString(a.ApiEndpoint)}
			if in, ok := byTarget[aws.ToString(rt.Target)]; ok {
				r.Function, _, _ = function.ParseRef(functionRef(aws.ToString(in.IntegrationUri)))
				r.PayloadFormat = aws.ToString(in.PayloadFormatVersion)
			}
			out = append(out, r)
		}
	}
	return out, nil
}

// functionRef takes the function ARN out of API Gateway's invocation URI
// form; other URIs are returned as they are.
func functionRef(uri string) string {
	if _, rest, ok := strings.Cut(uri, ":lambda:path/2015-03-31/functions/"); ok {
		return strings.TrimSuffix(rest, "/invocations")
	}
	return uri
}

// ErrNoRoute is returned by DeleteRoute when the API has no such route.
var ErrNoRoute = errors.New("no such route")

// DeleteRoute removes the route with the given key from the API with the
// given id or name, and the route's integration when no other route uses
// it.
func (c *Client) DeleteRoute(ctx context.Context, api, key string) error {
	routes, err := c.Routes(ctx, api)
	if err != nil {
		return err
	}
	gw := c.APIGateway()
	for _, r := range routes {
		if r.RouteKey != key {
			continue
		}
		if _, err := gw.DeleteRoute(ctx, &apigatewayv2.DeleteRouteInput{ApiId: aws.String(r.APIID), RouteId: aws.String(r.RouteID)}); err != nil {
			return err
		}
		for _, other := range routes {
			if other.RouteID != r.RouteID && other.APIID == r.APIID && other.Target == r.Target {
				return nil // the integration is still in use
			}
		}
		if intID, ok := strings.CutPrefix(r.Target, "integrations/"); ok {
			_, err := gw.DeleteIntegration(ctx, &apigatewayv2.DeleteIntegrationInput{ApiId: aws.String(r.APIID), IntegrationId: aws.String(intID)})
			return err
		}
		return nil
	}
	return fmt.Errorf("%w %q in API %q", ErrNoRoute, key, api)
}

// PathURL returns the gateway address of an API in the path form, which
// works without name resolution: http://<gateway host:port>/_aloft/apis/<id>.
// endpoint is the API's endpoint as the server gives it.
func PathURL(endpoint, apiID string) string {
	u, err := url.Parse(endpoint)
	if err != nil || u.Port() == "" {
		return ""
	}
	return "http://127.0.0.1:" + u.Port() + "/_aloft/apis/" + apiID
}
