package gatewayapi

import (
	"net/http"

	"github.com/aloft-dev/aloft/internal/awsproto"
	"github.com/aloft-dev/aloft/internal/edge"
	"github.com/aloft-dev/aloft/internal/sigv4"
)

// Operation is the API Gateway management API's table from requests to
// IAM actions and resources, as API Gateway's own: the action is the
// HTTP method (apigateway:GET, apigateway:POST, ...) and the resource
// the path under arn:aws:apigateway:REGION::.
func Operation(r *http.Request, _ []byte) (edge.Operation, *awsproto.Error) {
	region, _, _ := sigv4.Scope(r)
	if region == "" {
		region = awsproto.DefaultRegion
	}
	return edge.Operation{Action: "apigateway:" + r.Method, Resource: "arn:aws:apigateway:" + region + "::" + r.URL.Path}, nil
}

// Actions are the IAM actions of the API Gateway management API: one per
// HTTP method.
var Actions = []string{"apigateway:GET", "apigateway:POST", "apigateway:PUT", "apigateway:PATCH", "apigateway:DELETE"}
