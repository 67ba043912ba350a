package lambdaapi

import (
	"context"
	"errors"
	"net/http"
	"sort"

	"github.com/aloft-dev/aloft/internal/fault"
	"github.com/aloft-dev/aloft/internal/function"
	"github.com/aloft-dev/aloft/internal/gateway/catalog"
	"github.com/aloft-dev/aloft/internal/gateway/cors"
	"github.com/aloft-dev/aloft/internal/registry"
)

// URLs stores function URL configurations.
type URLs interface {
	URL(fn string) (*catalog.URLConfig, bool)
	CreateURL(ctx context.Context, u *catalog.URLConfig) (*catalog.URLConfig, error)
	UpdateURL(ctx context.Context, fn string, change func(u *catalog.URLConfig) error) (*catalog.URLConfig, error)
	DeleteURL(ctx context.Context, fn string) error
}

// urlCors is Lambda's Cors shape.
type urlCors struct {
	AllowCredentials *bool    `json:"AllowCredentials,omitempty"`
	AllowHeaders     []string `json:"AllowHeaders,omitempty"`
	AllowMethods     []string `json:"AllowMethods,omitempty"`
	AllowOrigins     []string `json:"AllowOrigins,omitempty"`
	ExposeHeaders    []string `json:"ExposeHeaders,omitempty"`
	MaxAge           *int     `json:"MaxAge,omitempty"`
}

func (c *urlCors) config() *cors.Config {
	if c == nil {
		return nil
	}
	return &cors.Config{AllowCredentials: c.AllowCredentials != nil && *c.AllowCredentials, AllowHeaders: c.AllowHeaders,
		AllowMethods: c.AllowMethods, AllowOrigins: c.AllowOrigins, ExposeHeaders: c.ExposeHeaders, MaxAge: c.MaxAge}
}

func wireCors(c *cors.Config) *urlCors {
	if c == nil {
		return nil
	}
	out := &urlCors{AllowHeaders: c.AllowHeaders, AllowMethods: c.AllowMethods, AllowOrigins: c.AllowOrigins,
		ExposeHeaders: c.ExposeHeaders, MaxAge: c.MaxAge}
	if c.AllowCredentials {
		out.AllowCredentials = &c.AllowCredentials
	}
	return out
}

// urlConfigIn is the body of CreateFunctionUrlConfig and
// UpdateFunctionUrlConfig.
type urlConfigIn struct {
	AuthType   *string  `json:"AuthType"`
	Cors       *urlCors `json:"Cors"`
	InvokeMode *string  `json:"InvokeMode"`
}

// urlConfigOut is a FunctionUrlConfig as Lambda returns it.
type urlConfigOut struct {
	FunctionURL      string   `json:"FunctionUrl"`
	FunctionArn      string   `json:"FunctionArn"`
	AuthType         string   `json:"AuthType"`
	Cors             *urlCors `json:"Cors,omitempty"`
	CreationTime     string   `json:"CreationTime"`
	LastModifiedTime string   `json:"LastModifiedTime,omitempty"`
	InvokeMode       string   `json:"InvokeMode"`
}

func (s *Server) urlOut(u *catalog.URLConfig) *urlConfigOut {
	addr := ""
	if s.d.FunctionURL != nil {
		addr = s.d.FunctionURL(u.URLID, u.Region)
	}
	return &urlConfigOut{FunctionURL: addr, FunctionArn: u.FunctionArn, AuthType: u.AuthType, Cors: wireCors(u.Cors),
		CreationTime: u.CreationTime, LastModifiedTime: u.LastModifiedTime, InvokeMode: u.InvokeMode}
}

// urlError turns a catalog error into Lambda's; the cluster's
// unavailability stays as it is, for writeError's 503.
func urlError(err error, arn string) error {
	var ce *fault.Error
	if !errors.As(err, &ce) {
		return err
	}
	switch ce.Kind {
	case fault.Unavailable:
		return err
	case fault.NotFound:
		return function.Errorf(fault.NotFound, "ResourceNotFoundException", "The resource you requested does not exist.")
	case fault.Conflict:
		return function.Errorf(fault.Conflict, "ResourceConflictException",
			"Failed to create function url config for [functionArn = %s]. Error message:  %s", arn, ce.Message)
	}
	if len(ce.Message) > 0 && ce.Message[0] == '1' { // "1 validation error detected: ..."
		return function.Errorf(fault.Invalid, "ValidationException", "%s", ce.Message)
	}
	return function.InvalidParameter("%s", ce.Message)
}

// urlRef is the function URL a request names: its function, the alias
// (or "" for $LATEST), the key of its configuration and its ARN.
type urlRef struct {
	rec            *registry.Record
	qualifier, key string
	arn            string
}

// urlTarget returns the URL store and the function URL {fn} and the
// Qualifier name: a function's URL is for $LATEST or for an alias.
func (s *Server) urlTarget(r *http.Request, req *request) (URLs, *urlRef, error) {
	if s.d.URLs == nil {
		return nil, nil, function.InvalidParameter("Function URLs are not enabled on this server.")
	}
	t, err := s.target(r, req, false)
	if err != nil {
		return nil, nil, err
	}
	q := t.Qualifier
	if q == function.LatestVersion {
		q = ""
	}
	if _, alias := t.Record.Aliases[q]; q != "" && !alias {
		return nil, nil, function.InvalidParameter("A function URL can be set for $LATEST or an alias, not for version %s.", q)
	}
	name := t.Record.Config.FunctionName
	return s.d.URLs, &urlRef{rec: t.Record, qualifier: q, key: catalog.URLKey(name, q), arn: function.ARN(t.Record.Region, name, q)}, nil
}

func (s *Server) createURLConfig(w http.ResponseWriter, r *http.Request, req *request) error {
	urls, ref, err := s.urlTarget(r, req)
	if err != nil {
		return err
	}
	var in urlConfigIn
	if err := decode(req.body, &in); err != nil {
		return err
	}
	if in.AuthType == nil {
		return function.Validation("null", "authType", "Member must not be null")
	}
	rec := ref.rec
	u := &catalog.URLConfig{Function: rec.Config.FunctionName, Qualifier: ref.qualifier, FunctionArn: ref.arn, Region: rec.Region,
		AuthType: *in.AuthType, Cors: in.Cors.config()}
	if in.InvokeMode != nil {
		u.InvokeMode = *in.InvokeMode
	}
	u, err = urls.CreateURL(r.Context(), u)
	if err != nil {
		return urlError(err, ref.arn)
	}
	out := s.urlOut(u)
	out.LastModifiedTime = ""
	writeJSON(w, http.StatusCreated, out)
	return nil
}

func (s *Server) getURLConfig(w http.ResponseWriter, r *http.Request, req *request) error {
	urls, ref, err := s.urlTarget(r, req)
	if err != nil {
		return err
	}
	u, ok := urls.URL(ref.key)
	if !ok {
		return urlError(&fault.Error{Kind: fault.NotFound}, ref.arn)
	}
	writeJSON(w, http.StatusOK, s.urlOut(u))
	return nil
}

func (s *Server) updateURLConfig(w http.ResponseWriter, r *http.Request, req *request) error {
	urls, ref, err := s.urlTarget(r, req)
	if err != nil {
		return err
	}
	var in urlConfigIn
	if err := decode(req.body, &in); err != nil {
		return err
	}
	u, err := urls.UpdateURL(r.Context(), ref.key, func(u *catalog.URLConfig) error {
		if in.AuthType != nil {
			u.AuthType = *in.AuthType
		}
		if in.Cors != nil {
			u.Cors = in.Cors.config()
		}
		if in.InvokeMode != nil {
			u.InvokeMode = *in.InvokeMode
		}
		return nil
	})
	if err != nil {
		return urlError(err, ref.arn)
	}
	writeJSON(w, http.StatusOK, s.urlOut(u))
	return nil
}

func (s *Server) deleteURLConfig(w http.ResponseWriter, r *http.Request, req *request) error {
	urls, ref, err := s.urlTarget(r, req)
	if err != nil {
		return err
	}
	if err := urls.DeleteURL(r.Context(), ref.key); err != nil {
		return urlError(err, ref.arn)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// listURLConfigs serves ListFunctionUrlConfigs: the URLs of $LATEST and
// of the function's aliases, on one page.
func (s *Server) listURLConfigs(w http.ResponseWriter, r *http.Request, req *request) error {
	urls, ref, err := s.urlTarget(r, req)
	if err != nil {
		return err
	}
	out := struct {
		FunctionURLConfigs []*urlConfigOut `json:"FunctionUrlConfigs"`
	}{FunctionURLConfigs: []*urlConfigOut{}}
	qs := []string{""}
	for a := range ref.rec.Aliases {
		qs = append(qs, a)
	}
	sort.Strings(qs)
	for _, q := range qs {
		if u, ok := urls.URL(catalog.URLKey(ref.rec.Config.FunctionName, q)); ok {
			out.FunctionURLConfigs = append(out.FunctionURLConfigs, s.urlOut(u))
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
