package lambdaapi

import (
	"context"
	"github.com/aloft-dev/aloft/internal/awsproto"
	"github.com/aloft-dev/aloft/internal/edge"
	"log/slog"
	"net/http"
	"strings"

	"github.com/aloft-dev/aloft/internal/async"
	"github.com/aloft-dev/aloft/internal/function"
	"github.com/aloft-dev/aloft/internal/invoke"
	"github.com/aloft-dev/aloft/internal/keepalive"
	"github.com/aloft-dev/aloft/internal/layers"
	"github.com/aloft-dev/aloft/internal/meter"
	"github.com/aloft-dev/aloft/internal/policy"
	"github.com/aloft-dev/aloft/internal/registry"
	"github.com/aloft-dev/aloft/internal/traces/traceid"
)

// Invoker runs invocations and keeps provisioned instances.
type Invoker interface {
	Invoke(ctx context.Context, req *invoke.Invocation) (*invoke.Response, error)
	Provision(req *invoke.Invocation, n int) error
	Provisioned(name string) (requested, ready int)
	KeepAlive(name string) keepalive.State
}

// Queue stores asynchronous invocations.
type Queue interface {
	Enqueue(ctx context.Context, ev *async.Event) error
	Stats(ctx context.Context) ([]async.Stats, error)
}

// Deps are the API's collaborators.
type Deps struct {
	Registry     Functions
	Invoker      Invoker
	Usage        func() meter.Report
	CheckRuntime func(runtime string) error // can this host run the runtime (on an interpreter of its version)?
	// Runtimes lists the runtimes this host runs, each with its
	// interpreter ("" for provided ones); nil answers none.
	Runtimes func() map[string]string
	// CheckRole says whether Lambda may assume an execution role (it
	// exists and trusts lambda.amazonaws.com); nil accepts every role.
	CheckRole func(roleARN string) error
	Queue     Queue // asynchronous invocations; nil refuses Event invokes
	CodeURL   func(region, codeHex string) string
	// Mappings stores event source mappings; nil refuses them.
	Mappings Mappings
	// CheckSourceAccess says whether an execution role may perform
	// action on an event source's resource; nil lets every role.
	CheckSourceAccess func(roleARN, action, resource string) error
	// ConcurrencyLimit is the account's concurrent executions (0: 1,000).
	ConcurrencyLimit int
	Logger           *slog.Logger
	// URLs stores function URL configurations, and FunctionURL gives a
	// URL's address. Nil refuses them.
	URLs        URLs
	FunctionURL func(urlID, region string) string
	// Sampler decides which invocations are traced; nil traces none it
	// decides itself (a Sampled=1 header still is).
	Sampler *traceid.Sampler
	// Layers stores layer versions; nil refuses the layer operations
	// and functions with layers.
	Layers *layers.Store
	// S3Code reads a code archive from Aloft's S3 for CreateFunction,
	// UpdateFunctionCode and PublishLayerVersion, with the permissions of
	// the request's caller; its errors are Lambda's (S3CodeError,
	// S3CodeDenied). Nil refuses code from S3.
	S3Code func(r *http.Request, bucket, key, versionID string) ([]byte, error)
	// CodeUnzipped returns the unzipped size of a function's stored
	// code, for the limit on code and layers combined; nil counts 0.
	CodeUnzipped func(ctx context.Context, codeHex string) (int64, error)
}

// Functions is the function registry as the API uses it
// (*registry.Registry); tests give it a fake.
type Functions interface {
	Get(name string) (*registry.Record, bool)
	List() []*registry.Record
	Create(ctx context.Context, cfg function.Config, region string, tags map[string]string, zip []byte) (*registry.Record, error)
	Update(ctx context.Context, name, revisionID string, zip []byte, change func(*function.Config) error) (*registry.Record, error)
	Amend(ctx context.Context, name string, change func(rec *registry.Record) error) (*registry.Record, error)
	Delete(ctx context.Context, name string) error
	SetReserved(ctx context.Context, name string, n *int, check func(others int) error) (*registry.Record, error)
	ReservedTotal() int
	TotalCodeSize() int64
	EventConfig(ctx context.Context, name string) (*function.EventInvokeConfig, error)
	PutEventConfig(ctx context.Context, name string, c *function.EventInvokeConfig) error
	DeleteEventConfig(ctx context.Context, name string) error
	EventConfigs(ctx context.Context, name string) ([]*function.EventInvokeConfig, error)
	// Versions and aliases (registry/versions.go).
	Publish(ctx context.Context, name, codeSha256, revisionID, description string) (*function.Config, error)
	Versions(name string) ([]function.Config, error)
	DeleteVersion(ctx context.Context, name, version string) error
	PutAlias(ctx context.Context, name, alias string, create bool, c registry.AliasChange) (*registry.Alias, error)
	Alias(name, alias string) (*registry.Alias, error)
	Aliases(name string) ([]*registry.Alias, error)
	DeleteAlias(ctx context.Context, name, alias string) error
}

var _ Functions = (*registry.Registry)(nil)

// Server routes and authenticates API requests.
type Server struct {
	d       Deps
	mux     *http.ServeMux
	actions map[string]string // IAM action by route pattern
	// invokeRoute serves POST /2015-03-31/functions/{fn}/invocations.
	invokeRoute func(w http.ResponseWriter, r *http.Request, fn string)
	policies    policy.Cache // functions' resource policies, by name
}

// New returns the API server.
func New(d Deps) *Server {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.ConcurrencyLimit <= 0 {
		d.ConcurrencyLimit = 1000
	}
	s := &Server{d: d, mux: http.NewServeMux(), actions: map[string]string{}}
	fn := "/2015-03-31/functions"
	for _, p := range []string{fn, fn + "/"} {
		s.handle("POST "+p, "lambda:CreateFunction", s.createFunction)
		s.handle("GET "+p, "lambda:ListFunctions", s.listFunctions)
	}
	s.handle("GET "+fn+"/{fn}", "lambda:GetFunction", s.getFunction)
	s.handle("DELETE "+fn+"/{fn}", "lambda:DeleteFunction", s.deleteFunction)
	s.handle("GET "+fn+"/{fn}/configuration", "lambda:GetFunctionConfiguration", s.getConfiguration)
	s.handle("PUT "+fn+"/{fn}/configuration", "lambda:UpdateFunctionConfiguration", s.updateConfiguration)
	s.handle("PUT "+fn+"/{fn}/code", "lambda:UpdateFunctionCode", s.updateCode)
	s.invokeRoute = s.handle("POST "+fn+"/{fn}/invocations", "lambda:InvokeFunction", s.invoke)
	s.handle(streamPath, "lambda:InvokeFunction", s.invokeStream)
	s.handle("POST "+fn+"/{fn}/versions", "lambda:PublishVersion", s.publishVersion)
	s.handle("GET "+fn+"/{fn}/versions", "lambda:ListVersionsByFunction", s.listVersions)
	s.handle("POST "+fn+"/{fn}/aliases", "lambda:CreateAlias", s.createAlias)
	s.handle("GET "+fn+"/{fn}/aliases", "lambda:ListAliases", s.listAliases)
	s.handle("GET "+fn+"/{fn}/aliases/{alias}", "lambda:GetAlias", s.getAlias)
	s.handle("PUT "+fn+"/{fn}/aliases/{alias}", "lambda:UpdateAlias", s.updateAlias)
	s.handle("DELETE "+fn+"/{fn}/aliases/{alias}", "lambda:DeleteAlias", s.deleteAlias)
	esm := "/2015-03-31/event-source-mappings"
	for _, p := range []string{esm, esm + "/"} {
		s.handle("POST "+p, "lambda:CreateEventSourceMapping", s.createMapping)
		s.handle("GET "+p, "lambda:ListEventSourceMappings", s.listMappings)
	}
	s.handle("GET "+esm+"/{uuid}", "lambda:GetEventSourceMapping", s.getMapping)
	s.handle("PUT "+esm+"/{uuid}", "lambda:UpdateEventSourceMapping", s.updateMapping)
	s.handle("DELETE "+esm+"/{uuid}", "lambda:DeleteEventSourceMapping", s.deleteMapping)
	s.handle("GET /2016-08-19/account-settings", "lambda:GetAccountSettings", s.accountSettings)
	s.handle("GET /2016-08-19/account-settings/", "lambda:GetAccountSettings", s.accountSettings)
	s.handle("GET /aloft/v1/usage", "aloft:GetUsage", s.usage)
	s.handle("GET /aloft/v1/queue", "aloft:GetQueueStats", s.queueStats)
	s.handle("GET /aloft/v1/runtimes", "aloft:ListRuntimes", s.listRuntimes)
	s.handle("GET /aloft/v1/functions/{fn}/keepalive", "aloft:GetKeepAlive", s.keepAliveState)
	s.handle("PUT /2017-10-31/functions/{fn}/concurrency", "lambda:PutFunctionConcurrency", s.putConcurrency)
	s.handle("DELETE /2017-10-31/functions/{fn}/concurrency", "lambda:DeleteFunctionConcurrency", s.deleteConcurrency)
	s.handle("GET /2019-09-30/functions/{fn}/concurrency", "lambda:GetFunctionConcurrency", s.getConcurrency)
	pc := "/2019-09-30/functions/{fn}/provisioned-concurrency"
	s.handle("PUT "+pc, "lambda:PutProvisionedConcurrencyConfig", s.putProvisioned)
	s.handle("GET "+pc, "lambda:GetProvisionedConcurrencyConfig", s.getProvisioned)
	s.handle("DELETE "+pc, "lambda:DeleteProvisionedConcurrencyConfig", s.deleteProvisioned)
	s.handle("POST /2014-11-13/functions/{fn}/invoke-async", "lambda:InvokeAsync", s.invokeAsync)
	s.handle("POST /2014-11-13/functions/{fn}/invoke-async/", "lambda:InvokeAsync", s.invokeAsync)
	eic := "/2019-09-25/functions/{fn}/event-invoke-config"
	s.handle("PUT "+eic, "lambda:PutFunctionEventInvokeConfig", s.putEventConfig)
	s.handle("POST "+eic, "lambda:UpdateFunctionEventInvokeConfig", s.updateEventConfig)
	s.handle("GET "+eic, "lambda:GetFunctionEventInvokeConfig", s.getEventConfig)
	s.handle("DELETE "+eic, "lambda:DeleteFunctionEventInvokeConfig", s.deleteEventConfig)
	s.handle("GET "+eic+"/list", "lambda:ListFunctionEventInvokeConfigs", s.listEventConfigs)
	for _, p := range []string{"/2017-03-31/tags/{arn}", "/2017-03-31/tags/{arn}/"} {
		s.handle("GET "+p, "lambda:ListTags", s.listTags)
		s.handle("POST "+p, "lambda:TagResource", s.tagResource)
		s.handle("DELETE "+p, "lambda:UntagResource", s.untagResource)
	}
	pol := fn + "/{fn}/policy"
	s.handle("POST "+pol, "lambda:AddPermission", s.addPermission)
	s.handle("GET "+pol, "lambda:GetPolicy", s.getPolicy)
	s.handle("DELETE "+pol+"/{sid}", "lambda:RemovePermission", s.removePermission)
	s.routeLayers()
	url := "/2021-10-31/functions/{fn}/url"
	s.handle("POST "+url, "lambda:CreateFunctionUrlConfig", s.createURLConfig)
	s.handle("GET "+url, "lambda:GetFunctionUrlConfig", s.getURLConfig)
	s.handle("PUT "+url, "lambda:UpdateFunctionUrlConfig", s.updateURLConfig)
	s.handle("DELETE "+url, "lambda:DeleteFunctionUrlConfig", s.deleteURLConfig)
	s.handle("GET "+url+"s", "lambda:ListFunctionUrlConfigs", s.listURLConfigs)
	return s
}

// handlerFunc is an API handler: it returns an error for writeError.
type handlerFunc func(w http.ResponseWriter, r *http.Request, req *request) error

// handle routes pattern to h, which the front door authorizes as action;
// it returns the route's serve function, which takes the {fn} path value.
func (s *Server) handle(pattern, action string, h handlerFunc) func(w http.ResponseWriter, r *http.Request, fn string) {
	s.actions[pattern] = action
	serve := func(w http.ResponseWriter, r *http.Request, fn string) {
		body, id, _ := edge.Verified(r.Context())
		req := &request{body: body, region: id.Region, fn: fn}
		if req.region == "" {
			req.region = function.DefaultRegion
		}
		if err := h(w, r, req); err != nil {
			// Every failure of the server's own is logged: an internal
			// error (500), and a write the cluster cannot take now (503).
			if awsproto.Status(function.AsError(err).Kind) >= 500 {
				s.d.Logger.Error("api request failed", "method", r.Method, "path", r.URL.Path, "err", err)
			}
			writeError(w, err)
		}
	}
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		serve(w, r, r.PathValue("fn"))
	})
	return serve
}

// request is what the edge learned about a request before routing.
type request struct {
	body   []byte
	region string
	fn     string // the {fn} path value, if the route has one
	stream bool   // InvokeWithResponseStream: answer with an event stream
}

// ServeHTTP routes a request the front door (package edge) has verified.
// An Invoke, the one request on the hot path, is told by its path alone,
// without the router's work.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if fn, ok := invokeTarget(r); ok {
		s.invokeRoute(w, r, fn)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// Recognize tells an unsigned request for the Lambda API or Aloft's own
// endpoints: its path starts with a dated API version (/2015-03-31/) or
// /aloft/.
func Recognize(r *http.Request) bool {
	return strings.HasPrefix(r.URL.Path, "/aloft/") || datedPath(r.URL.Path)
}

// datedPath reports whether p begins with an API version: /YYYY-MM-DD/.
func datedPath(p string) bool {
	if len(p) < 12 || p[0] != '/' || p[11] != '/' {
		return false
	}
	for i, c := range []byte(p[1:11]) {
		if i == 4 || i == 7 {
			if c != '-' {
				return false
			}
		} else if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// TooLarge refuses a body over limit as Lambda does, naming the
// operation (for the front door's table).
func TooLarge(r *http.Request, limit int64) *awsproto.Error {
	op := "the"
	p := strings.TrimSuffix(r.URL.Path, "/")
	switch {
	case strings.HasSuffix(p, "/invocations"):
		op, limit = "InvokeFunction", function.MaxSyncPayload
	case strings.HasSuffix(p, "/code"):
		op = "UpdateFunctionCode"
	case strings.HasSuffix(p, "/functions"):
		op = "CreateFunction"
	}
	return awsproto.Errorf(http.StatusRequestEntityTooLarge, "RequestEntityTooLargeException",
		"Request must be smaller than %d bytes for the %s operation", limit, op)
}
