package lambdaapi

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/aloft-dev/aloft/internal/async"
	"github.com/aloft-dev/aloft/internal/function"
	"github.com/aloft-dev/aloft/internal/invoke"
	"github.com/aloft-dev/aloft/internal/keepalive"
	"github.com/aloft-dev/aloft/internal/meter"
	"github.com/aloft-dev/aloft/internal/registry"
	"github.com/aloft-dev/aloft/internal/sigv4"
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
	Verifier     *sigv4.Verifier
	Logs         http.Handler // the CloudWatch Logs JSON API
	Scheduler    http.Handler // the EventBridge Scheduler API (SigV4 service "scheduler")
	S3           http.Handler // the S3 API, handed requests before their bodies are read (see isS3)
	Usage        func() meter.Report
	CheckRuntime func(function.Family) error // can this host run the family?
	Queue        Queue                       // asynchronous invocations; nil refuses Event invokes
	CodeURL      func(region, codeHex string) string
	// ConcurrencyLimit is the account's concurrent executions (0: 1,000).
	ConcurrencyLimit int
	Code             http.Handler // serves the URLs CodeURL makes (see CodeLinks), unsigned
	Logger           *slog.Logger
	// Gateway serves the API Gateway v2 management API (SigV4 service
	// "apigateway"); URLs stores function URL configurations, and
	// FunctionURL gives a URL's address. Nil refuses them.
	Gateway     http.Handler
	URLs        URLs
	FunctionURL func(urlID, region string) string
	// Health adds fields to GET /health's answer, beside "status": "ok"
	// (how functions are isolated, for one).
	Health map[string]string
	// SpoolDir holds, unlinked, the bodies of requests larger than
	// memBody while their signatures are checked; empty means the
	// system's temporary directory.
	SpoolDir string
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
}

var _ Functions = (*registry.Registry)(nil)

// Server routes and authenticates API requests.
type Server struct {
	d      Deps
	mux    *http.ServeMux
	health map[string]string // GET /health's answer
}

// New returns the API server.
func New(d Deps) *Server {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.ConcurrencyLimit <= 0 {
		d.ConcurrencyLimit = 1000
	}
	s := &Server{d: d, mux: http.NewServeMux(), health: map[string]string{"status": "ok"}}
	for k, v := range d.Health {
		if k != "status" {
			s.health[k] = v
		}
	}
	fn := "/2015-03-31/functions"
	for _, p := range []string{fn, fn + "/"} {
		s.handle("POST "+p, s.createFunction)
		s.handle("GET "+p, s.listFunctions)
	}
	s.handle("GET "+fn+"/{fn}", s.getFunction)
	s.handle("DELETE "+fn+"/{fn}", s.deleteFunction)
	s.handle("GET "+fn+"/{fn}/configuration", s.getConfiguration)
	s.handle("PUT "+fn+"/{fn}/configuration", s.updateConfiguration)
	s.handle("PUT "+fn+"/{fn}/code", s.updateCode)
	s.handle("POST "+fn+"/{fn}/invocations", s.invoke)
	s.handle("GET /2016-08-19/account-settings", s.accountSettings)
	s.handle("GET /2016-08-19/account-settings/", s.accountSettings)
	s.handle("GET /aloft/v1/usage", s.usage)
	s.handle("GET /aloft/v1/queue", s.queueStats)
	s.handle("GET /aloft/v1/functions/{fn}/keepalive", s.keepAliveState)
	s.handle("PUT /2017-10-31/functions/{fn}/concurrency", s.putConcurrency)
	s.handle("DELETE /2017-10-31/functions/{fn}/concurrency", s.deleteConcurrency)
	s.handle("GET /2019-09-30/functions/{fn}/concurrency", s.getConcurrency)
	pc := "/2019-09-30/functions/{fn}/provisioned-concurrency"
	s.handle("PUT "+pc, s.putProvisioned)
	s.handle("GET "+pc, s.getProvisioned)
	s.handle("DELETE "+pc, s.deleteProvisioned)
	s.handle("POST /2014-11-13/functions/{fn}/invoke-async", s.invokeAsync)
	s.handle("POST /2014-11-13/functions/{fn}/invoke-async/", s.invokeAsync)
	eic := "/2019-09-25/functions/{fn}/event-invoke-config"
	s.handle("PUT "+eic, s.putEventConfig)
	s.handle("POST "+eic, s.updateEventConfig)
	s.handle("GET "+eic, s.getEventConfig)
	s.handle("DELETE "+eic, s.deleteEventConfig)
	s.handle("GET "+eic+"/list", s.listEventConfigs)
	for _, p := range []string{"/2017-03-31/tags/{arn}", "/2017-03-31/tags/{arn}/"} {
		s.handle("GET "+p, s.listTags)
		s.handle("POST "+p, s.tagResource)
		s.handle("DELETE "+p, s.untagResource)
	}
	url := "/2021-10-31/functions/{fn}/url"
	s.handle("POST "+url, s.createURLConfig)
	s.handle("GET "+url, s.getURLConfig)
	s.handle("PUT "+url, s.updateURLConfig)
	s.handle("DELETE "+url, s.deleteURLConfig)
	s.handle("GET "+url+"s", s.listURLConfigs)
	return s
}

// handlerFunc is an API handler: it returns an error for writeError.
type handlerFunc func(w http.ResponseWriter, r *http.Request, req *request) error

func (s *Server) handle(pattern string, h handlerFunc) {
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		req := r.Context().Value(requestKey{}).(*request)
		if err := h(w, r, req); err != nil {
			if e := function.AsError(err); e.Code == function.EINTERNAL {
				s.d.Logger.Error("api request failed", "method", r.Method, "path", r.URL.Path, "err", err)
			}
			writeError(w, err)
		}
	})
}

// request is what the edge learned about a request before routing.
type request struct {
	body   []byte
	region string
}

type requestKey struct{}

// ServeHTTP answers /health, serves code downloads, and authenticates
// everything else before routing it. Presigned (query-string) signatures
// are accepted for S3 only.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Amzn-Requestid", function.NewID())
	switch {
	case r.URL.Path == "/health" && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		writeJSON(w, http.StatusOK, s.health)
		return
	case s.d.Code != nil && strings.HasPrefix(r.URL.Path, CodePath):
		s.d.Code.ServeHTTP(w, r)
		return
	case s.d.S3 != nil && s.isS3(r):
		s.d.S3.ServeHTTP(w, r) // S3 streams its bodies, which may be gigabytes
		return
	}
	body, id, err := s.readVerified(r, function.MaxCreateBody)
	if err != nil {
		writeError(w, err)
		return
	}
	h := s.service(r, id)
	if id.Presigned {
		// Of the services here only S3 (routed above) takes presigned
		// URLs: a leaked one must not reach the management APIs.
		writeError(w, presignedError(id.Service))
		return
	}
	if h != nil {
		r.Body = io.NopCloser(bytes.NewReader(body))
		h.ServeHTTP(w, r)
		return
	}
	req := &request{body: body, region: id.Region}
	if req.region == "" {
		req.region = function.DefaultRegion
	}
	s.mux.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestKey{}, req)))
}

// service picks the API a verified request is for: the Scheduler or API
// Gateway by the credential scope, CloudWatch Logs by X-Amz-Target. It
// returns nil for Lambda and Aloft's own endpoints, which s.mux serves.
func (s *Server) service(r *http.Request, id sigv4.Identity) http.Handler {
	switch {
	case id.Service == "scheduler" && s.d.Scheduler != nil:
		return s.d.Scheduler
	case id.Service == "apigateway" && s.d.Gateway != nil:
		return s.d.Gateway
	case strings.HasPrefix(r.Header.Get("X-Amz-Target"), "Logs_20140328.") && s.d.Logs != nil:
		return s.d.Logs
	}
	return nil
}

// presignedError refuses a presigned (query-string) request signed for
// service, which is not S3.
func presignedError(service string) error {
	return function.Errorf(function.EUNAUTHORIZED, "AccessDeniedException",
		"Presigned (query-string) requests are not accepted by %s; send the signature in the Authorization header. Only S3 accepts presigned URLs.", service)
}

// tooLarge names the operation as Lambda does in its size errors.
func tooLarge(r *http.Request, limit int64) error {
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
	return function.TooLarge("Request must be smaller than %d bytes for the %s operation", limit, op)
}

// authError turns a signature failure into the error the service gives.
func authError(err error, r *http.Request) error {
	var se *sigv4.Error
	if !errors.As(err, &se) {
		return function.Errorf(function.EUNAUTHORIZED, "AccessDeniedException", "%v", err)
	}
	service := "lambda"
	if strings.HasPrefix(r.Header.Get("X-Amz-Target"), "Logs_") {
		service = "logs"
	}
	return &function.Error{Code: function.EUNAUTHORIZED, Type: se.AWSCode(service), Message: se.Message}
}
