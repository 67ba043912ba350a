// Package gatewayapi serves the subset of the API Gateway v2 management
// API (rest-json, SigV4 service "apigateway", paths under /v2/apis) that
// HTTP APIs with Lambda proxy integrations need, so that `aws apigatewayv2`
// and the AWS SDKs manage Aloft's gateway:
//
//	CreateApi (quick create with Target and RouteKey), GetApi, GetApis, UpdateApi, DeleteApi, DeleteCorsConfiguration
//	CreateRoute, GetRoute, GetRoutes, UpdateRoute, DeleteRoute
//	CreateIntegration (AWS_PROXY), GetIntegration, GetIntegrations, UpdateIntegration, DeleteIntegration
//	CreateStage, GetStage, GetStages, UpdateStage, DeleteStage, CreateDeployment
//	CreateAuthorizer (REQUEST, payload 2.0), GetAuthorizer, GetAuthorizers, UpdateAuthorizer, DeleteAuthorizer
//
// Stages carry route throttles (DefaultRouteSettings and RouteSettings with
// ThrottlingRateLimit and ThrottlingBurstLimit). API keys and usage plans,
// which API Gateway offers for REST APIs only, are served in the REST API
// management's shapes and paths, with the same service name:
//
//	CreateApiKey, GetApiKeys, GetApiKey, UpdateApiKey, DeleteApiKey          /apikeys
//	CreateUsagePlan, GetUsagePlans, GetUsagePlan, DeleteUsagePlan            /usageplans
//	CreateUsagePlanKey, GetUsagePlanKeys, DeleteUsagePlanKey                 /usageplans/{id}/keys
//	GetUsage                                                                 /usageplans/{id}/usage
//
// A key's value is returned once, by CreateApiKey; only its SHA-256
// digest is stored. GetUsage reports what the gateways counted, each
// server's counts as of its last save (every few seconds).
//
// Every stage deploys automatically, so CreateDeployment only answers.
// Errors are NotFoundException (404), BadRequestException (400) and
// ConflictException (409) with a {"message"} body, and
// ServiceUnavailableException (503) for a write the cluster cannot take
// now. Requests reach the
// handler already authenticated.
package gatewayapi

import (
	"context"
	"encoding/json"
	"errors"
	"github.com/aloft-dev/aloft/internal/awsproto"
	"github.com/aloft-dev/aloft/internal/fault"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/aloft-dev/aloft/internal/gateway/catalog"
)

// Deps are the handler's collaborators.
type Deps struct {
	Catalog *catalog.Catalog
	// Endpoint returns the address that serves an API
	// (http://<id>.execute-api.localhost:<port>).
	Endpoint func(apiID string) string
	// Usage reads the usage plans' daily request counts; nil reports none.
	Usage  Usage
	Logger *slog.Logger
}

// Usage reads the daily request counts of a usage plan's keys
// (catalog.Counts): key id → day → requests.
type Usage interface {
	Daily(ctx context.Context, planID, keyID string, first, last time.Time) (map[string]map[time.Time]int64, error)
}

// Handler serves the management API.
type Handler struct {
	d   Deps
	mux *http.ServeMux
}

// New returns the handler.
func New(d Deps) *Handler {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	h := &Handler{d: d, mux: http.NewServeMux()}
	const api = "/v2/apis/{apiId}"
	h.handle("POST /v2/apis", h.createAPI)
	h.handle("GET /v2/apis", h.getAPIs)
	h.handle("GET "+api, h.getAPI)
	h.handle("PATCH "+api, h.updateAPI)
	h.handle("DELETE "+api, h.deleteAPI)
	h.handle("DELETE "+api+"/cors", h.deleteCors)
	h.handle("POST "+api+"/routes", h.createRoute)
	h.handle("GET "+api+"/routes", h.getRoutes)
	h.handle("GET "+api+"/routes/{routeId}", h.getRoute)
	h.handle("PATCH "+api+"/routes/{routeId}", h.updateRoute)
	h.handle("DELETE "+api+"/routes/{routeId}", h.deleteRoute)
	h.handle("POST "+api+"/integrations", h.createIntegration)
	h.handle("GET "+api+"/integrations", h.getIntegrations)
	h.handle("GET "+api+"/integrations/{integrationId}", h.getIntegration)
	h.handle("PATCH "+api+"/integrations/{integrationId}", h.updateIntegration)
	h.handle("DELETE "+api+"/integrations/{integrationId}", h.deleteIntegration)
	h.handle("POST "+api+"/stages", h.createStage)
	h.handle("GET "+api+"/stages", h.getStages)
	h.handle("GET "+api+"/stages/{stageName}", h.getStage)
	h.handle("PATCH "+api+"/stages/{stageName}", h.updateStage)
	h.handle("DELETE "+api+"/stages/{stageName}", h.deleteStage)
	h.handle("POST "+api+"/deployments", h.createDeployment)
	h.handle("POST "+api+"/authorizers", h.createAuthorizer)
	h.handle("GET "+api+"/authorizers", h.getAuthorizers)
	h.handle("GET "+api+"/authorizers/{authorizerId}", h.getAuthorizer)
	h.handle("PATCH "+api+"/authorizers/{authorizerId}", h.updateAuthorizer)
	h.handle("DELETE "+api+"/authorizers/{authorizerId}", h.deleteAuthorizer)
	h.handle("POST /apikeys", h.createAPIKey)
	h.handle("GET /apikeys", h.getAPIKeys)
	h.handle("GET /apikeys/{keyId}", h.getAPIKey)
	h.handle("PATCH /apikeys/{keyId}", h.updateAPIKey)
	h.handle("DELETE /apikeys/{keyId}", h.deleteAPIKey)
	h.handle("POST /usageplans", h.createUsagePlan)
	h.handle("GET /usageplans", h.getUsagePlans)
	h.handle("GET /usageplans/{planId}", h.getUsagePlan)
	h.handle("DELETE /usageplans/{planId}", h.deleteUsagePlan)
	h.handle("POST /usageplans/{planId}/keys", h.createUsagePlanKey)
	h.handle("GET /usageplans/{planId}/keys", h.getUsagePlanKeys)
	h.handle("DELETE /usageplans/{planId}/keys/{keyId}", h.deleteUsagePlanKey)
	h.handle("GET /usageplans/{planId}/usage", h.getUsage)
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, &apiError{http.StatusNotFound, "NotFoundException", "This server does not serve " + r.Method + " " + r.URL.Path})
	})
	return h
}

// ServeHTTP serves one authenticated request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

type handlerFunc func(w http.ResponseWriter, r *http.Request) error

func (h *Handler) handle(pattern string, fn handlerFunc) {
	h.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		if err := fn(w, r); err != nil {
			e := wireError(err)
			if e.Status >= 500 { // the server's failure: internal, or the cluster's unavailability
				h.d.Logger.Error("gateway management request failed", "method", r.Method, "path", r.URL.Path, "err", err)
			}
			awsproto.WriteError(w, nil, awsproto.RESTJSON, e, "")
		}
	})
}

// apiError is an error in API Gateway's shape.
type apiError struct {
	status  int
	code    string
	message string
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

func badRequest(msg string) error {
	return &apiError{http.StatusBadRequest, "BadRequestException", msg}
}
func notFound(msg string) error { return &apiError{http.StatusNotFound, "NotFoundException", msg} }
func conflict(msg string) error { return &apiError{http.StatusConflict, "ConflictException", msg} }

// writeError writes err as API Gateway does (wireError).
func writeError(w http.ResponseWriter, err error) {
	awsproto.WriteError(w, nil, awsproto.RESTJSON, wireError(err), "")
}

// wireError maps err to API Gateway's errors: an *apiError as it is; a
// refusal of the catalog's by its kind, a write the cluster cannot take
// now being 503 ServiceUnavailableException (awsproto.Unavailable); and
// anything else a 500 InternalServerErrorException.
func wireError(err error) *awsproto.Error {
	var ae *apiError
	if errors.As(err, &ae) {
		return &awsproto.Error{Status: ae.status, Code: ae.code, Message: ae.message}
	}
	if u := awsproto.Unavailable(awsproto.RESTJSON, err); u != nil {
		return u
	}
	var ce *fault.Error
	switch {
	case errors.As(err, &ce) && ce.Kind == fault.NotFound:
		return &awsproto.Error{Status: http.StatusNotFound, Code: "NotFoundException", Message: ce.Message}
	case errors.As(err, &ce) && ce.Kind == fault.Conflict:
		return &awsproto.Error{Status: http.StatusConflict, Code: "ConflictException", Message: ce.Message}
	case errors.As(err, &ce):
		return &awsproto.Error{Status: http.StatusBadRequest, Code: "BadRequestException", Message: ce.Message}
	}
	return &awsproto.Error{Status: http.StatusInternalServerError, Code: "InternalServerErrorException", Message: "Internal server error", Err: err}
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
	return nil
}

// decode reads a JSON request body into v; an empty body leaves v alone.
func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		return badRequest("Invalid request body: " + err.Error())
	}
	return nil
}

// page cuts n items at the request's nextToken and maxResults.
func page(r *http.Request, n int) (start, end int, next string, err error) {
	q := r.URL.Query()
	limit := n
	if v := q.Get("maxResults"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 {
			return 0, 0, "", badRequest("maxResults must be a positive integer")
		}
	}
	if t := q.Get("nextToken"); t != "" {
		if start, err = strconv.Atoi(t); err != nil || start < 0 || start > n {
			return 0, 0, "", badRequest("Invalid nextToken")
		}
	}
	end = min(start+limit, n)
	if end < n {
		next = strconv.Itoa(end)
	}
	return start, end, next, nil
}

// items is the shape of every Get* list.
type items[T any] struct {
	Items     []T    `json:"items"`
	NextToken string `json:"nextToken,omitempty"`
}

func list[T any](w http.ResponseWriter, r *http.Request, all []T) error {
	start, end, next, err := page(r, len(all))
	if err != nil {
		return err
	}
	out := items[T]{Items: all[start:end], NextToken: next}
	if out.Items == nil {
		out.Items = []T{}
	}
	return writeJSON(w, http.StatusOK, out)
}
