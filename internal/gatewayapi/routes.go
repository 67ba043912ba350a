package gatewayapi

import (
	"net/http"
	"slices"
	"time"

	"github.com/aloft-dev/aloft/internal/gateway/catalog"
)

// routeIn is the body of CreateRoute and UpdateRoute.
type routeIn struct {
	RouteKey          *string `json:"routeKey"`
	Target            *string `json:"target"`
	AuthorizationType *string `json:"authorizationType"`
	APIKeyRequired    *bool   `json:"apiKeyRequired"`
	OperationName     *string `json:"operationName"`
	AuthorizerID      *string `json:"authorizerId"`
	// Aloft's response cache.
	CacheTTLInSeconds *int     `json:"aloftCacheTtlInSeconds"`
	CacheKeyHeaders   []string `json:"aloftCacheKeyHeaders"`
}

func (in *routeIn) apply(rt *catalog.Route) {
	if in.RouteKey != nil {
		rt.Key = *in.RouteKey
	}
	if in.Target != nil {
		rt.Target = *in.Target
	}
	if in.AuthorizationType != nil {
		rt.AuthorizationType = *in.AuthorizationType
	}
	if in.APIKeyRequired != nil {
		rt.APIKeyRequired = *in.APIKeyRequired
	}
	if in.OperationName != nil {
		rt.OperationName = *in.OperationName
	}
	if in.AuthorizerID != nil {
		rt.AuthorizerID = *in.AuthorizerID
	}
	if in.CacheTTLInSeconds != nil {
		rt.CacheTTLInSeconds = *in.CacheTTLInSeconds
	}
	if in.CacheKeyHeaders != nil {
		rt.CacheKeyHeaders = in.CacheKeyHeaders
	}
}

// checkKeyFree refuses a route key another route of a already has.
func checkKeyFree(a *catalog.API, key, except string) error {
	for _, rt := range a.Routes {
		if rt.Key == key && rt.ID != except {
			return conflict("Route with key " + key + " already exists for this API")
		}
	}
	return nil
}

func (h *Handler) createRoute(w http.ResponseWriter, r *http.Request) error {
	var in routeIn
	if err := decode(r, &in); err != nil {
		return err
	}
	if in.RouteKey == nil || *in.RouteKey == "" {
		return badRequest("RouteKey is required")
	}
	rt := &catalog.Route{ID: catalog.NewID(7)}
	in.apply(rt)
	_, err := h.changeAPI(r, func(a *catalog.API) error {
		if err := checkKeyFree(a, rt.Key, ""); err != nil {
			return err
		}
		a.Routes = append(a.Routes, rt)
		return nil
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, rt)
}

func (h *Handler) getRoutes(w http.ResponseWriter, r *http.Request) error {
	a, err := h.d.Catalog.API(r.PathValue("apiId"))
	if err != nil {
		return err
	}
	return list(w, r, a.Routes)
}

func (h *Handler) getRoute(w http.ResponseWriter, r *http.Request) error {
	a, err := h.d.Catalog.API(r.PathValue("apiId"))
	if err != nil {
		return err
	}
	rt := a.Route(r.PathValue("routeId"))
	if rt == nil {
		return notFound("Invalid Route identifier specified " + r.PathValue("routeId"))
	}
	return writeJSON(w, http.StatusOK, rt)
}

func (h *Handler) updateRoute(w http.ResponseWriter, r *http.Request) error {
	var in routeIn
	if err := decode(r, &in); err != nil {
		return err
	}
	id := r.PathValue("routeId")
	var out *catalog.Route
	_, err := h.changeAPI(r, func(a *catalog.API) error {
		rt := a.Route(id)
		if rt == nil {
			return notFound("Invalid Route identifier specified " + id)
		}
		in.apply(rt)
		out = rt
		return checkKeyFree(a, rt.Key, id)
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, out)
}

func (h *Handler) deleteRoute(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("routeId")
	_, err := h.changeAPI(r, func(a *catalog.API) error {
		rt := a.Route(id)
		if rt == nil {
			return notFound("Invalid Route identifier specified " + id)
		}
		if rt.Managed {
			return badRequest("Cannot delete a route made by quick create; update or delete the API")
		}
		a.Routes = slices.DeleteFunc(a.Routes, func(x *catalog.Route) bool { return x.ID == id })
		return nil
	})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// integrationIn is the body of CreateIntegration and UpdateIntegration.
type integrationIn struct {
	IntegrationType      *string `json:"integrationType"`
	IntegrationURI       *string `json:"integrationUri"`
	IntegrationMethod    *string `json:"integrationMethod"`
	PayloadFormatVersion *string `json:"payloadFormatVersion"`
	TimeoutInMillis      *int    `json:"timeoutInMillis"`
	Description          *string `json:"description"`
	ConnectionType       *string `json:"connectionType"`
	// Static sites (ALOFT_S3).
	IndexDocument *string `json:"aloftIndexDocument"`
	ErrorDocument *string `json:"aloftErrorDocument"`
	CacheControl  *string `json:"aloftCacheControl"`
}

func (in *integrationIn) apply(it *catalog.Integration) {
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	set(&it.Type, in.IntegrationType)
	set(&it.URI, in.IntegrationURI)
	set(&it.Method, in.IntegrationMethod)
	set(&it.PayloadFormatVersion, in.PayloadFormatVersion)
	set(&it.Description, in.Description)
	set(&it.ConnectionType, in.ConnectionType)
	set(&it.IndexDocument, in.IndexDocument)
	set(&it.ErrorDocument, in.ErrorDocument)
	set(&it.CacheControl, in.CacheControl)
	if in.TimeoutInMillis != nil {
		it.TimeoutInMillis = *in.TimeoutInMillis
	}
}

func (h *Handler) createIntegration(w http.ResponseWriter, r *http.Request) error {
	var in integrationIn
	if err := decode(r, &in); err != nil {
		return err
	}
	it := &catalog.Integration{ID: catalog.NewID(7)}
	in.apply(it)
	var out *catalog.Integration
	_, err := h.changeAPI(r, func(a *catalog.API) error {
		a.Integrations = append(a.Integrations, it)
		out = it
		return nil
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, out)
}

func (h *Handler) getIntegrations(w http.ResponseWriter, r *http.Request) error {
	a, err := h.d.Catalog.API(r.PathValue("apiId"))
	if err != nil {
		return err
	}
	return list(w, r, a.Integrations)
}

func (h *Handler) getIntegration(w http.ResponseWriter, r *http.Request) error {
	a, err := h.d.Catalog.API(r.PathValue("apiId"))
	if err != nil {
		return err
	}
	it := a.Integration(r.PathValue("integrationId"))
	if it == nil {
		return notFound("Invalid Integration identifier specified " + r.PathValue("integrationId"))
	}
	return writeJSON(w, http.StatusOK, it)
}

func (h *Handler) updateIntegration(w http.ResponseWriter, r *http.Request) error {
	var in integrationIn
	if err := decode(r, &in); err != nil {
		return err
	}
	id := r.PathValue("integrationId")
	var out *catalog.Integration
	_, err := h.changeAPI(r, func(a *catalog.API) error {
		it := a.Integration(id)
		if it == nil {
			return notFound("Invalid Integration identifier specified " + id)
		}
		in.apply(it)
		out = it
		return nil
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, out)
}

func (h *Handler) deleteIntegration(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("integrationId")
	_, err := h.changeAPI(r, func(a *catalog.API) error {
		it := a.Integration(id)
		if it == nil {
			return notFound("Invalid Integration identifier specified " + id)
		}
		if it.Managed {
			return badRequest("Cannot delete an integration made by quick create; update or delete the API")
		}
		for _, rt := range a.Routes {
			if rt.Target == catalog.RouteTarget(id) {
				return conflict("Integration " + id + " is the target of route " + rt.Key + "; change or delete the route first")
			}
		}
		a.Integrations = slices.DeleteFunc(a.Integrations, func(x *catalog.Integration) bool { return x.ID == id })
		return nil
	})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// stageIn is the body of CreateStage and UpdateStage.
type stageIn struct {
	StageName      *string           `json:"stageName"`
	AutoDeploy     *bool             `json:"autoDeploy"`
	Description    *string           `json:"description"`
	StageVariables map[string]string `json:"stageVariables"`
	// DefaultRouteSettings and RouteSettings carry the throttles.
	DefaultRouteSettings *catalog.RouteSettings            `json:"defaultRouteSettings"`
	RouteSettings        map[string]*catalog.RouteSettings `json:"routeSettings"`
}

func (in *stageIn) apply(s *catalog.Stage) {
	if in.AutoDeploy != nil {
		s.AutoDeploy = *in.AutoDeploy
	}
	if in.Description != nil {
		s.Description = *in.Description
	}
	if in.StageVariables != nil {
		s.StageVariables = in.StageVariables
	}
	if in.DefaultRouteSettings != nil {
		s.DefaultRouteSettings = in.DefaultRouteSettings
	}
	for k, v := range in.RouteSettings {
		if s.RouteSettings == nil {
			s.RouteSettings = map[string]*catalog.RouteSettings{}
		}
		s.RouteSettings[k] = v
	}
	s.LastUpdatedDate = time.Now().UTC().Truncate(time.Second)
}

func (h *Handler) createStage(w http.ResponseWriter, r *http.Request) error {
	var in stageIn
	if err := decode(r, &in); err != nil {
		return err
	}
	if in.StageName == nil || *in.StageName == "" {
		return badRequest("StageName is required")
	}
	s := &catalog.Stage{Name: *in.StageName, CreatedDate: time.Now().UTC().Truncate(time.Second)}
	in.apply(s)
	_, err := h.changeAPI(r, func(a *catalog.API) error {
		if a.Stage(s.Name) != nil {
			return conflict("Stage already exists")
		}
		a.Stages = append(a.Stages, s)
		return nil
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, s)
}

func (h *Handler) getStages(w http.ResponseWriter, r *http.Request) error {
	a, err := h.d.Catalog.API(r.PathValue("apiId"))
	if err != nil {
		return err
	}
	return list(w, r, a.Stages)
}

func (h *Handler) getStage(w http.ResponseWriter, r *http.Request) error {
	a, err := h.d.Catalog.API(r.PathValue("apiId"))
	if err != nil {
		return err
	}
	s := a.Stage(r.PathValue("stageName"))
	if s == nil {
		return notFound("Invalid stage identifier specified")
	}
	return writeJSON(w, http.StatusOK, s)
}

func (h *Handler) updateStage(w http.ResponseWriter, r *http.Request) error {
	var in stageIn
	if err := decode(r, &in); err != nil {
		return err
	}
	name := r.PathValue("stageName")
	var out *catalog.Stage
	_, err := h.changeAPI(r, func(a *catalog.API) error {
		s := a.Stage(name)
		if s == nil {
			return notFound("Invalid stage identifier specified")
		}
		in.apply(s)
		out = s
		return nil
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, out)
}

func (h *Handler) deleteStage(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("stageName")
	_, err := h.changeAPI(r, func(a *catalog.API) error {
		if a.Stage(name) == nil {
			return notFound("Invalid stage identifier specified")
		}
		a.Stages = slices.DeleteFunc(a.Stages, func(x *catalog.Stage) bool { return x.Name == name })
		return nil
	})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// createDeployment answers CreateDeployment: every stage deploys
// automatically, so there is nothing to do but check the API and stage.
func (h *Handler) createDeployment(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		StageName   string `json:"stageName"`
		Description string `json:"description"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	a, err := h.d.Catalog.API(r.PathValue("apiId"))
	if err != nil {
		return err
	}
	if in.StageName != "" && a.Stage(in.StageName) == nil {
		return notFound("Invalid stage identifier specified")
	}
	return writeJSON(w, http.StatusCreated, map[string]any{
		"deploymentId": catalog.NewID(6), "deploymentStatus": "DEPLOYED", "autoDeployed": false,
		"createdDate": time.Now().UTC().Truncate(time.Second), "description": in.Description,
	})
}
