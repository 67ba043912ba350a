package catalog

import (
	"strings"
	"time"

	"github.com/aloft-dev/aloft/internal/fault"
	"github.com/aloft-dev/aloft/internal/gateway/cors"
	"github.com/aloft-dev/aloft/internal/gateway/payload"
	"github.com/aloft-dev/aloft/internal/gateway/route"
	"github.com/aloft-dev/aloft/internal/gateway/throttle"
)

// Snapshot is the catalog compiled for serving: every API's route table
// and CORS policy, and every function URL by its id. A Snapshot is never
// changed once published; a change to the catalog publishes a new one.
type Snapshot struct {
	apis map[string]*Endpoint
	urls map[string]*URLEndpoint
	only *Endpoint         // the API, when exactly one exists
	keys map[[32]byte]*Key // API keys by the SHA-256 of their value
}

// Endpoint is one API compiled for serving.
type Endpoint struct {
	API    *API
	Routes *route.Table[*Target]
	CORS   *cors.Policy
	Stages map[string]*Stage // by name
}

// Target is what a route invokes.
type Target struct {
	RouteID  string
	RouteKey string
	Resource string // the route's path, or $default (payload 1.0's resource)
	Function string // the function's name; empty when the route has no integration
	// Qualifier is the version or alias the integration names, if any.
	Qualifier string
	Format    payload.Format
	Timeout   time.Duration
	// APIKeyRequired: requests need an x-api-key a usage plan of the
	// stage holds.
	APIKeyRequired bool
	// Throttles are the route's token buckets, by stage; a stage without
	// a throttle for the route has none.
	Throttles map[string]*throttle.Bucket
	// Authorizer decides whether a request reaches the route; nil for
	// routes that need no authorization.
	Authorizer *CompiledAuthorizer
	// Site is the bucket the route serves, for ALOFT_S3 integrations.
	Site *Site
	// Cache keeps the route's answers; nil when it keeps none.
	Cache *ResponseCache
}

// Site is a bucket served as a static site.
type Site struct {
	Bucket       string
	Prefix       string // prepended to the request path to make the key
	Index        string
	Error        string
	CacheControl []string
}

// URLEndpoint is one function URL compiled for serving.
type URLEndpoint struct {
	Config *URLConfig
	CORS   *cors.Policy
	IAM    bool // AuthType AWS_IAM: requests must be signed
}

// API returns the API with the given id, or nil.
func (s *Snapshot) API(id string) *Endpoint { return s.apis[id] }

// Only returns the API when exactly one exists, or nil.
func (s *Snapshot) Only() *Endpoint { return s.only }

// URL returns the function URL with the given id, or nil.
func (s *Snapshot) URL(id string) *URLEndpoint { return s.urls[id] }

// compile builds the serving form of a. It fails when the routes cannot
// live together (two keys that serve the same requests).
func compile(a *API) (*Endpoint, error) {
	e := &Endpoint{API: a, Routes: &route.Table[*Target]{}, Stages: map[string]*Stage{}}
	var err error
	if e.CORS, err = cors.Compile(a.Cors); err != nil {
		return nil, invalidf("Invalid CORS configuration: %v", strings.TrimPrefix(err.Error(), "cors: "))
	}
	for _, s := range a.Stages {
		e.Stages[s.Name] = s
	}
	authorizers := map[string]*CompiledAuthorizer{}
	for _, z := range a.Authorizers {
		authorizers[z.ID] = compileAuthorizer(z)
	}
	for _, r := range a.Routes {
		t := &Target{RouteID: r.ID, RouteKey: r.Key, Resource: route.DefaultKey, Timeout: DefaultTimeout * time.Millisecond,
			APIKeyRequired: r.APIKeyRequired, Cache: compileCache(r)}
		if r.AuthorizationType == AuthCustom {
			t.Authorizer = authorizers[r.AuthorizerID]
		}
		for _, s := range a.Stages {
			rs := s.RouteSettings[r.Key]
			if rs == nil {
				rs = s.DefaultRouteSettings
			}
			if rate, burst, ok := rs.throttled(); ok {
				if t.Throttles == nil {
					t.Throttles = map[string]*throttle.Bucket{}
				}
				t.Throttles[s.Name] = throttle.NewBucket(rate, burst)
			}
		}
		if k, err := route.ParseKey(r.Key); err == nil && !k.IsDefault() {
			t.Resource = k.Path
		}
		if id, ok := strings.CutPrefix(r.Target, targetPrefix); ok {
			if in := a.Integration(id); in != nil {
				if in.Type == IntegrationS3 {
					b, p, _ := ParseBucketURI(in.URI)
					t.Site = &Site{Bucket: b, Prefix: p, Index: in.IndexDocument, Error: in.ErrorDocument, CacheControl: []string{in.CacheControl}}
				} else {
					t.Function, t.Qualifier, _ = ParseFunctionURI(in.URI)
				}
				t.Format, _ = payload.ParseFormat(in.PayloadFormatVersion)
				t.Timeout = time.Duration(in.TimeoutInMillis) * time.Millisecond
			}
		}
		if err := e.Routes.Add(r.Key, t); err != nil {
			return nil, &fault.Error{Kind: fault.Conflict, Message: err.Error()}
		}
	}
	return e, nil
}

// compileURL builds the serving form of a function URL.
func compileURL(u *URLConfig) *URLEndpoint {
	p, _ := cors.Compile(u.Cors) // checked when stored
	return &URLEndpoint{Config: u, CORS: p, IAM: u.AuthType == AuthIAM}
}
