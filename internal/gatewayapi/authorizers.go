package gatewayapi

import (
	"net/http"
	"slices"

	"github.com/aloft-dev/aloft/internal/gateway/catalog"
)

// authorizerIn is the body of CreateAuthorizer and UpdateAuthorizer.
type authorizerIn struct {
	Name                           *string  `json:"name"`
	AuthorizerType                 *string  `json:"authorizerType"`
	AuthorizerURI                  *string  `json:"authorizerUri"`
	IdentitySource                 []string `json:"identitySource"`
	AuthorizerResultTTLInSeconds   *int     `json:"authorizerResultTtlInSeconds"`
	AuthorizerPayloadFormatVersion *string  `json:"authorizerPayloadFormatVersion"`
	EnableSimpleResponses          *bool    `json:"enableSimpleResponses"`
	AuthorizerCredentialsArn       *string  `json:"authorizerCredentialsArn"`
	IdentityValidationExpression   *string  `json:"identityValidationExpression"`
}

func (in *authorizerIn) apply(z *catalog.Authorizer) {
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	set(&z.Name, in.Name)
	set(&z.Type, in.AuthorizerType)
	set(&z.URI, in.AuthorizerURI)
	set(&z.PayloadFormatVersion, in.AuthorizerPayloadFormatVersion)
	set(&z.AuthorizerCredentialsArn, in.AuthorizerCredentialsArn)
	set(&z.IdentityValidationExpression, in.IdentityValidationExpression)
	if in.IdentitySource != nil {
		z.IdentitySource = in.IdentitySource
	}
	if in.AuthorizerResultTTLInSeconds != nil {
		z.ResultTTLInSeconds = *in.AuthorizerResultTTLInSeconds
	}
	if in.EnableSimpleResponses != nil {
		z.EnableSimpleResponses = *in.EnableSimpleResponses
	}
}

func (h *Handler) createAuthorizer(w http.ResponseWriter, r *http.Request) error {
	var in authorizerIn
	if err := decode(r, &in); err != nil {
		return err
	}
	z := &catalog.Authorizer{ID: catalog.NewID(6)}
	in.apply(z)
	_, err := h.changeAPI(r, func(a *catalog.API) error {
		a.Authorizers = append(a.Authorizers, z)
		return nil
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, z)
}

func (h *Handler) getAuthorizers(w http.ResponseWriter, r *http.Request) error {
	a, err := h.d.Catalog.API(r.PathValue("apiId"))
	if err != nil {
		return err
	}
	return list(w, r, a.Authorizers)
}

func (h *Handler) getAuthorizer(w http.ResponseWriter, r *http.Request) error {
	a, err := h.d.Catalog.API(r.PathValue("apiId"))
	if err != nil {
		return err
	}
	z := a.Authorizer(r.PathValue("authorizerId"))
	if z == nil {
		return notFound("Invalid Authorizer identifier specified " + r.PathValue("authorizerId"))
	}
	return writeJSON(w, http.StatusOK, z)
}

func (h *Handler) updateAuthorizer(w http.ResponseWriter, r *http.Request) error {
	var in authorizerIn
	if err := decode(r, &in); err != nil {
		return err
	}
	id := r.PathValue("authorizerId")
	var out *catalog.Authorizer
	_, err := h.changeAPI(r, func(a *catalog.API) error {
		z := a.Authorizer(id)
		if z == nil {
			return notFound("Invalid Authorizer identifier specified " + id)
		}
		in.apply(z)
		out = z
		return nil
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, out)
}

func (h *Handler) deleteAuthorizer(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("authorizerId")
	_, err := h.changeAPI(r, func(a *catalog.API) error {
		if a.Authorizer(id) == nil {
			return notFound("Invalid Authorizer identifier specified " + id)
		}
		for _, rt := range a.Routes {
			if rt.AuthorizerID == id {
				return conflict("Authorizer " + id + " is used by route " + rt.Key + "; change or delete the route first")
			}
		}
		a.Authorizers = slices.DeleteFunc(a.Authorizers, func(z *catalog.Authorizer) bool { return z.ID == id })
		return nil
	})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
