package gatewayapi

import (
	"net/http"

	"github.com/aloft-dev/aloft/internal/awsproto"
	"github.com/aloft-dev/aloft/internal/edge"
	"github.com/aloft-dev/aloft/internal/function"
	"github.com/aloft-dev/aloft/internal/gateway/catalog"
	"github.com/aloft-dev/aloft/internal/iam"
)

// The gateway serves what an API names to whoever calls its routes, with
// no credentials of its own: a function invoked, a bucket's objects read.
// Whoever configures an API must therefore be allowed what it will do on
// their behalf, or the gateway would be their deputy: lambda:InvokeFunction
// on every function an integration or authorizer names, s3:GetObject on
// the objects a static-site integration serves.

// guard checks that the signer of r may let the API a do what it names.
func guard(r *http.Request, a *catalog.API) error {
	p := edge.Principal(r.Context())
	if p == nil || p.Kind == iam.RootPrincipal {
		return nil
	}
	region := awsproto.DefaultRegion
	check := func(action, resource string) error {
		if err := p.Authorize(action, resource); err != nil {
			return &apiError{http.StatusForbidden, "AccessDeniedException", err.Error() + " (the API would do it for whoever calls its routes)"}
		}
		return nil
	}
	fn := func(uri string) error {
		name, qualifier, err := catalog.ParseFunctionURI(uri)
		if err != nil {
			return nil // an invalid URI is the catalog's to refuse
		}
		return check("lambda:InvokeFunction", function.ARN(region, name, qualifier))
	}
	for _, in := range a.Integrations {
		switch in.Type {
		case catalog.IntegrationS3:
			if bucket, prefix, ok := catalog.ParseBucketURI(in.URI); ok {
				if err := check("s3:GetObject", "arn:aws:s3:::"+bucket+"/"+prefix+"*"); err != nil {
					return err
				}
			}
		case catalog.IntegrationProxy:
			if err := fn(in.URI); err != nil {
				return err
			}
		}
	}
	for _, z := range a.Authorizers {
		if z.URI != "" {
			if err := fn(z.URI); err != nil {
				return err
			}
		}
	}
	return nil
}

// changeAPI applies change to the API the path names, refusing what the
// signer may not let it do.
func (h *Handler) changeAPI(r *http.Request, change func(a *catalog.API) error) (*catalog.API, error) {
	return h.d.Catalog.UpdateAPI(r.Context(), r.PathValue("apiId"), func(a *catalog.API) error {
		if err := change(a); err != nil {
			return err
		}
		return guard(r, a)
	})
}
