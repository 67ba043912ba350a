package gatewayapi

import (
	"net/http"
	"time"

	"github.com/aloft-dev/aloft/internal/gateway/catalog"
	"github.com/aloft-dev/aloft/internal/gateway/cors"
)

// apiOut is an Api as API Gateway returns it.
type apiOut struct {
	APIEndpoint               string            `json:"apiEndpoint"`
	APIID                     string            `json:"apiId"`
	APIKeySelectionExpression string            `json:"apiKeySelectionExpression"`
	CorsConfiguration         *cors.Config      `json:"corsConfiguration,omitempty"`
	CreatedDate               time.Time         `json:"createdDate"`
	Description               string            `json:"description,omitempty"`
	DisableExecuteAPIEndpoint bool              `json:"disableExecuteApiEndpoint"`
	Name                      string            `json:"name"`
	ProtocolType              string            `json:"protocolType"`
	RouteSelectionExpression  string            `json:"routeSelectionExpression"`
	Tags                      map[string]string `json:"tags"`
	Version                   string            `json:"version,omitempty"`
}

func (h *Handler) out(a *catalog.API) *apiOut {
	tags := a.Tags
	if tags == nil {
		tags = map[string]string{}
	}
	endpoint := ""
	if h.d.Endpoint != nil {
		endpoint = h.d.Endpoint(a.ID)
	}
	return &apiOut{
		APIEndpoint: endpoint, APIID: a.ID, APIKeySelectionExpression: "$request.header.x-api-key", CorsConfiguration: a.Cors,
		CreatedDate: a.CreatedDate, Description: a.Description, DisableExecuteAPIEndpoint: a.DisableExecuteAPIEndpoint,
		Name: a.Name, ProtocolType: a.ProtocolType, RouteSelectionExpression: "$request.method $request.path", Tags: tags,
		Version: a.Version,
	}
}

// apiIn is the body of CreateApi and UpdateApi.
type apiIn struct {
	Name                      *string           `json:"name"`
	ProtocolType              string            `json:"protocolType"`
	Description               *string           `json:"description"`
	Version                   *string           `json:"version"`
	CorsConfiguration         *cors.Config      `json:"corsConfiguration"`
	Tags                      map[string]string `json:"tags"`
	DisableExecuteAPIEndpoint *bool             `json:"disableExecuteApiEndpoint"`
	RouteKey                  string            `json:"routeKey"`
	Target                    string            `json:"target"`
	RouteSelectionExpression  string            `json:"routeSelectionExpression"`
}

func (in *apiIn) apply(a *catalog.API) {
	if in.Name != nil {
		a.Name = *in.Name
	}
	if in.Description != nil {
		a.Description = *in.Description
	}
	if in.Version != nil {
		a.Version = *in.Version
	}
	if in.CorsConfiguration != nil {
		a.Cors = in.CorsConfiguration
	}
	if in.DisableExecuteAPIEndpoint != nil {
		a.DisableExecuteAPIEndpoint = *in.DisableExecuteAPIEndpoint
	}
}

func (h *Handler) createAPI(w http.ResponseWriter, r *http.Request) error {
	var in apiIn
	if err := decode(r, &in); err != nil {
		return err
	}
	if in.Name == nil || *in.Name == "" {
		return badRequest("Name is required")
	}
	if in.ProtocolType == "" {
		return badRequest("ProtocolType is required")
	}
	if in.RouteSelectionExpression != "" && in.RouteSelectionExpression != "$request.method $request.path" {
		return badRequest("HTTP APIs route by $request.method $request.path")
	}
	a := &catalog.API{ProtocolType: in.ProtocolType, Tags: in.Tags}
	in.apply(a)
	switch {
	case in.Target != "":
		// Quick create: one integration, one route ($default unless
		// RouteKey says otherwise) and the $default stage.
		key := in.RouteKey
		if key == "" {
			key = "$default"
		}
		now := time.Now().UTC().Truncate(time.Second)
		in := &catalog.Integration{ID: catalog.NewID(7), Type: catalog.IntegrationProxy, URI: in.Target, PayloadFormatVersion: catalog.DefaultPayload, Managed: true}
		a.Integrations = []*catalog.Integration{in}
		a.Routes = []*catalog.Route{{ID: catalog.NewID(7), Key: key, Target: catalog.RouteTarget(in.ID), Managed: true}}
		a.Stages = []*catalog.Stage{{Name: catalog.DefaultStage, AutoDeploy: true, CreatedDate: now, LastUpdatedDate: now, Managed: true}}
	case in.RouteKey != "":
		return badRequest("RouteKey can only be given with Target (quick create)")
	}
	if err := guard(r, a); err != nil {
		return err
	}
	created, err := h.d.Catalog.CreateAPI(r.Context(), a)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, h.out(created))
}

func (h *Handler) getAPIs(w http.ResponseWriter, r *http.Request) error {
	var all []*apiOut
	for _, a := range h.d.Catalog.APIs() {
		all = append(all, h.out(a))
	}
	return list(w, r, all)
}

func (h *Handler) getAPI(w http.ResponseWriter, r *http.Request) error {
	a, err := h.d.Catalog.API(r.PathValue("apiId"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, h.out(a))
}

func (h *Handler) updateAPI(w http.ResponseWriter, r *http.Request) error {
	var in apiIn
	if err := decode(r, &in); err != nil {
		return err
	}
	if in.ProtocolType != "" && in.ProtocolType != catalog.ProtocolHTTP {
		return badRequest("The protocol type of an API cannot change")
	}
	a, err := h.changeAPI(r, func(a *catalog.API) error {
		in.apply(a)
		if in.Target != "" || in.RouteKey != "" {
			return h.updateQuick(a, in.Target, in.RouteKey)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, h.out(a))
}

// updateQuick changes the target or route key of a quick-created API.
func (h *Handler) updateQuick(a *catalog.API, target, key string) error {
	var route *catalog.Route
	for _, rt := range a.Routes {
		if rt.Managed {
			route = rt
		}
	}
	if route == nil {
		return badRequest("Target and RouteKey can only be updated on an API made by quick create")
	}
	if key != "" {
		route.Key = key
	}
	if target != "" {
		for _, in := range a.Integrations {
			if in.Managed && catalog.RouteTarget(in.ID) == route.Target {
				in.URI = target
			}
		}
	}
	return nil
}

func (h *Handler) deleteAPI(w http.ResponseWriter, r *http.Request) error {
	if err := h.d.Catalog.DeleteAPI(r.Context(), r.PathValue("apiId")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) deleteCors(w http.ResponseWriter, r *http.Request) error {
	_, err := h.changeAPI(r, func(a *catalog.API) error {
		a.Cors = nil
		return nil
	})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
