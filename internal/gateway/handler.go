package gateway

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aloft-dev/aloft/internal/fault"
	"github.com/aloft-dev/aloft/internal/function"
	"github.com/aloft-dev/aloft/internal/gateway/catalog"
	"github.com/aloft-dev/aloft/internal/gateway/cors"
	"github.com/aloft-dev/aloft/internal/gateway/payload"
	"github.com/aloft-dev/aloft/internal/gateway/route"
	"github.com/aloft-dev/aloft/internal/gateway/throttle"
	"github.com/aloft-dev/aloft/internal/iam"
	"github.com/aloft-dev/aloft/internal/invoke"
	"github.com/aloft-dev/aloft/internal/sigv4"
	"github.com/aloft-dev/aloft/internal/traces"
	"github.com/aloft-dev/aloft/internal/traces/traceid"
)

// Invoker runs synchronous invocations.
type Invoker interface {
	Invoke(ctx context.Context, req *invoke.Invocation) (*invoke.Response, error)
}

// Functions prepares invocations of stored functions by name
// (invoke.Functions).
type Functions interface {
	Prepare(name, qualifier string, payload []byte) (*invoke.Invocation, bool)
}

// Catalog gives the current compiled configuration.
type Catalog interface {
	Snapshot() *catalog.Snapshot
}

// Verifier checks AWS Signature Version 4 signatures.
type Verifier interface {
	Verify(r *http.Request, payloadHash string) (sigv4.Identity, error)
}

// Counts keeps usage plan request counts by plan, key, day and server run
// (catalog.Counts).
type Counts interface {
	Save(ctx context.Context, n catalog.DailyCount) error
	Watch(ctx context.Context, fn func(catalog.DailyCount)) (stop func(), err error)
}

// Deps are the gateway's collaborators.
type Deps struct {
	Catalog   Catalog
	Functions Functions
	Invoker   Invoker
	Verifier  Verifier // checks requests to AWS_IAM function URLs; nil refuses them
	// Report, if set, records why the gateway failed a request to a
	// function, where the function's owner looks: its log group.
	Report func(function, reason string)
	// Resolve tells who signed a request to an AWS_IAM function URL,
	// who must then be allowed lambda:InvokeFunctionUrl on the function;
	// nil lets every valid signature through.
	Resolve func(id sigv4.Identity) (*iam.Principal, error)
	Objects Objects // serves static sites; nil answers their routes 404
	Counts  Counts  // shares quota counts with other servers and later runs; nil keeps them in memory only
	Logger  *slog.Logger
	Now     func() time.Time
	// Sampler decides which requests are traced; nil traces only those
	// whose header says Sampled=1. Traces keeps the segments of the
	// traced ones (traces.Store); nil keeps none.
	Sampler *traceid.Sampler
	Traces  Traces
	// Observe, when set, is told of each answered request for metrics:
	// the route key that matched ("GET /items/{id}", "$default"),
	// RouteFunctionURL for a function URL or RouteNone, and the status.
	// It must be quick.
	Observe func(route string, status int)
}

// Route labels of requests that matched no route key.
const (
	RouteNone        = "none"         // no API, URL or route matched
	RouteFunctionURL = "function_url" // a function URL
)

// statusWriter notes the status of an answer, for Deps.Observe.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap gives http.ResponseController the writer underneath.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Traces keeps segment documents (traces.Store).
type Traces interface {
	Add(docs ...traces.Doc)
}

// Limits of a request.
const (
	MaxBody = 10 << 20 // bytes of a request body, as API Gateway
	// maxParams is how many path parameters fit without allocating.
	maxParams = 8
)

// Prefixes of the path forms of addresses.
const (
	APIPathPrefix = "/_aloft/apis/"
	URLPathPrefix = "/_aloft/urls/"
)

// Handler serves the gateway's requests. It is safe for concurrent use.
type Handler struct {
	d      Deps
	bg     sync.WaitGroup // invocations that outlived their request's timeout
	meters sync.Map       // catalog.KeyPlan.Meter → *meter: each key's throttle and quota under each plan

	run      string        // names this handler's counts among those of other servers and runs
	others   tally         // the counts of other servers and runs
	saveMu   sync.Mutex    // serialises saving counts; guards meter.saved
	stopSave chan struct{} // closed to stop saving counts in the background
	saving   chan struct{} // closed when the background saving has stopped
	unwatch  func()        // stops the watch of others' counts
}

// NewHandler returns a handler; Catalog, Functions and Invoker are
// required.
func NewHandler(d Deps) *Handler {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	return &Handler{d: d, run: catalog.NewID(10)}
}

// Wait waits until the invocations that outlived their requests end, or
// ctx does.
func (h *Handler) Wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() { h.bg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// Canned answers.
var (
	notFoundBody  = []byte(`{"message":"Not Found"}`)
	tooLargeBody  = []byte(`{"message":"Request Entity Too Large"}`)
	throttledBody = []byte(`{"message":"Too Many Requests"}`)
	internalBody  = []byte(`{"message":"Internal Server Error"}`)
	timeoutBody   = []byte(`{"message":"Endpoint request timed out"}`)
	forbiddenBody = []byte(`{"Message":"Forbidden"}`)
	deniedBody    = []byte(`{"message":"Forbidden"}`)
	quotaBody     = []byte(`{"message":"Limit Exceeded"}`)
	jsonType      = []string{"application/json"}
	retryAfter    = []string{"1"}
)

// exchange is one request on its way through the handler.
type exchange struct {
	w        http.ResponseWriter
	r        *http.Request
	snap     *catalog.Snapshot
	cache    *catalog.ResponseCache // keeps the answer under cacheKey, if set
	cacheKey string
	reqID    string
	idKey    string       // the response header that carries reqID
	policy   *cors.Policy // the API's or URL's CORS policy, if any
	ev       payload.Request
	params   [maxParams]route.Param
	started  time.Time

	routePath string            // the path within the stage
	apiKey    string            // the x-api-key of a route that requires one
	identity  [32]byte          // digest of the values of the authorizer's identity sources
	decision  *catalog.Decision // the answer of the route's authorizer, if it has one

	trace  traces.Hop // the request's hop through the gateway
	traceH string     // the X-Amzn-Trace-Id the answer and the invocation carry
	status int        // the answer's status, when the gateway knows it

	route string       // the route label for Deps.Observe
	sw    statusWriter // w, when observed

	stream *urlStream // the answer of a RESPONSE_STREAM function URL (stream.go)
}

// ServeHTTP routes a request to an API or a function URL and answers it.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	snap := h.d.Catalog.Snapshot()
	x := &exchange{w: w, r: r, snap: snap, reqID: newRequestID(), started: h.d.Now()}
	x.trace = traces.NewHop(h.d.Sampler.Start(r.Header.Get(traceid.XRayHeader), r.Header.Get(traceid.W3CHeader), x.started), x.started)
	x.traceH = x.trace.Downstream()
	if h.d.Observe != nil {
		x.sw.ResponseWriter, x.route = w, RouteNone
		x.w = &x.sw
		defer func() { h.d.Observe(x.route, cmp.Or(x.sw.code, http.StatusOK)) }()
	}
	path := r.URL.EscapedPath()
	kind, id, rest := address(r.Host, path)
	switch kind {
	case "apis":
		h.serveAPI(x, snap.API(id), rest)
	case "urls":
		h.serveURL(x, snap.URL(id), rest)
	default:
		h.serveAPI(x, snap.Only(), path)
	}
	if x.trace.Sampled() && h.d.Traces != nil {
		h.recordHop(x, kind, id)
	}
}

// recordHop records the segment of a traced request's hop through the
// gateway, which its invocation's segments descend from.
func (h *Handler) recordHop(x *exchange, kind, id string) {
	name, origin := "gateway", traces.OriginGateway
	switch {
	case kind == "urls":
		name, origin = "function-url/"+id, ""
	case id != "":
		name = id
	}
	seg := x.trace.Segment(name, origin, h.d.Now())
	host := x.r.RemoteAddr
	if i := strings.LastIndexByte(host, ':'); i > 0 {
		host = host[:i]
	}
	seg.HTTP = &traces.HTTP{Request: &traces.HTTPRequest{Method: x.r.Method, URL: "http://" + x.r.Host + x.r.URL.RequestURI(),
		UserAgent: x.r.UserAgent(), ClientIP: host}}
	if x.status != 0 {
		seg.HTTP.Response = &traces.HTTPResponse{Status: x.status}
		seg.Error = x.status >= 400 && x.status < 500
		seg.Throttle = x.status == http.StatusTooManyRequests
		seg.Fault = x.status >= 500
	}
	h.d.Traces.Add(traces.Encode(seg))
}

// address tells which API or URL a request is for, from its Host or its
// path, and the path left for the function.
func address(host, path string) (kind, id, rest string) {
	if first, after, ok := strings.Cut(host, "."); ok {
		switch {
		case strings.HasPrefix(after, "execute-api.") || after == "execute-api":
			return "apis", first, path
		case strings.HasPrefix(after, "lambda-url."):
			return "urls", first, path
		}
	}
	for _, p := range [...]struct{ prefix, kind string }{{APIPathPrefix, "apis"}, {URLPathPrefix, "urls"}} {
		if strings.HasPrefix(path, p.prefix) {
			id, rest, _ := strings.Cut(path[len(p.prefix):], "/")
			return p.kind, id, "/" + rest
		}
	}
	return "", "", path
}

func (h *Handler) serveAPI(x *exchange, ep *catalog.Endpoint, path string) {
	x.idKey = "Apigw-Requestid"
	if ep == nil {
		h.fail(x, http.StatusNotFound, notFoundBody)
		return
	}
	x.policy = ep.CORS
	if ep.CORS != nil && cors.IsPreflight(x.r) {
		h.preflight(x)
		return
	}
	// A named stage is the first segment; $default serves the rest.
	stage, routePath := catalog.DefaultStage, path
	if seg, after, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/"); seg != "" && seg != catalog.DefaultStage && ep.Stages[seg] != nil {
		stage, routePath = seg, "/"+after
	}
	st := ep.Stages[stage]
	if st == nil {
		h.fail(x, http.StatusNotFound, notFoundBody)
		return
	}
	m, ok := ep.Routes.Match(x.r.Method, routePath, x.params[:0])
	if !ok || (m.Value.Function == "" && m.Value.Site == nil) {
		h.fail(x, http.StatusNotFound, notFoundBody)
		return
	}
	t := m.Value
	x.routePath = routePath
	if b := t.Throttles[stage]; b != nil {
		if ok, wait := b.Take(x.started); !ok {
			h.throttled(x, wait, throttledBody)
			return
		}
	}
	if t.APIKeyRequired && !h.checkKey(x, ep.API.ID, stage) {
		return
	}
	x.route = t.RouteKey
	x.ev = payload.Request{
		HTTP: x.r, Path: path, RouteKey: t.RouteKey, Resource: t.Resource, ResourceID: t.RouteID, Params: m.Params,
		APIID: ep.API.ID, DomainName: ep.API.ID + ".execute-api.localhost", Stage: stage, StageVariables: st.StageVariables,
	}
	if t.Authorizer != nil && !h.authorizeLambda(x, t.Authorizer) {
		return
	}
	if t.Site != nil {
		h.serveSite(x, t.Site, routePath)
		return
	}
	if t.Cache != nil && (x.r.Method == http.MethodGet || x.r.Method == http.MethodHead) && h.cached(x, t, stage) {
		return
	}
	h.invoke(x, t.Function, t.Qualifier, t.Format, t.Timeout)
}

func (h *Handler) serveURL(x *exchange, u *catalog.URLEndpoint, path string) {
	x.idKey = "X-Amzn-Requestid"
	if u == nil {
		h.fail(x, http.StatusNotFound, notFoundBody)
		return
	}
	x.policy = u.CORS
	if u.CORS != nil && cors.IsPreflight(x.r) {
		h.preflight(x)
		return
	}
	cfg := u.Config
	x.route = RouteFunctionURL
	x.ev = payload.Request{
		HTTP: x.r, Path: path, RouteKey: route.DefaultKey, APIID: cfg.URLID,
		DomainName: cfg.URLID + ".lambda-url." + cfg.Region + ".localhost", Stage: catalog.DefaultStage,
	}
	if u.IAM {
		x.ev.Body = h.readBody(x)
		if x.ev.Body == nil {
			return
		}
		if !h.authorize(x, cfg.FunctionArn) {
			return
		}
	}
	if cfg.InvokeMode == catalog.InvokeStream {
		x.stream = newURLStream(h, x)
	}
	h.invoke(x, cfg.Function, cfg.Qualifier, payload.URL, 0)
}

var (
	cacheHit  = []string{"hit"}
	cacheMiss = []string{"miss"}
)

// cached answers from the route's cache when it holds the request's
// answer; otherwise it notes where the answer is to be kept. Behind an
// authorizer or an API key, answers are kept per caller.
func (h *Handler) cached(x *exchange, t *catalog.Target, stage string) bool {
	c := t.Cache
	var caller *[32]byte
	if t.Authorizer != nil || t.APIKeyRequired {
		d := callerKey(x)
		caller = &d
	}
	key := c.Key(stage, x.r, caller)
	e := c.Get(key, x.started)
	if e == nil {
		x.cache, x.cacheKey = c, key
		return false
	}
	hdr := x.w.Header()
	for k, vs := range e.Header {
		hdr[k] = vs
	}
	hdr["X-Aloft-Cache"] = cacheHit
	h.finish(x)
	x.w.WriteHeader(e.Status)
	io.WriteString(x.w, e.Body)
	return true
}

// callerKey is a digest of who the caller is to the route's authorizer
// (its identity values, and the principal and context it answered) and
// API key (its value).
func callerKey(x *exchange) [32]byte {
	var buf [128]byte
	b := buf[:0]
	if x.decision != nil {
		b = append(b, 1)
		b = append(b, x.identity[:]...)
		b = append(b, x.decision.Caller[:]...)
	} else {
		b = append(b, 0)
	}
	b = append(b, x.apiKey...)
	return sha256.Sum256(b)
}

// throttled answers 429 with the whole seconds to wait in Retry-After.
func (h *Handler) throttled(x *exchange, wait time.Duration, body []byte) {
	x.w.Header()["Retry-After"] = []string{strconv.FormatInt(throttle.RetryAfter(wait), 10)}
	h.fail(x, http.StatusTooManyRequests, body)
}

// authorize checks the signature of a request to an AWS_IAM function URL
// and that its signer may invoke the function's URL, and records the
// caller for the event.
func (h *Handler) authorize(x *exchange, functionARN string) bool {
	if h.d.Verifier == nil {
		h.fail(x, http.StatusForbidden, forbiddenBody)
		return false
	}
	id, err := h.d.Verifier.Verify(x.r, sigv4.PayloadHash(x.ev.Body))
	if err != nil || id.Service != "lambda" {
		h.d.Logger.Debug("function URL request refused", "url", x.ev.APIID, "err", err, "service", id.Service)
		h.fail(x, http.StatusForbidden, forbiddenBody)
		return false
	}
	userARN, userID := "arn:aws:iam::"+function.AccountID+":user/"+id.AccessKeyID, id.AccessKeyID
	if h.d.Resolve != nil {
		p, err := h.d.Resolve(id)
		if err == nil {
			err = p.Authorize("lambda:InvokeFunctionUrl", functionARN)
		}
		if err != nil {
			h.d.Logger.Debug("function URL request refused", "url", x.ev.APIID, "err", err)
			h.fail(x, http.StatusForbidden, forbiddenBody)
			return false
		}
		userARN, userID = p.ARN, p.UserID
	}
	x.ev.IAM = &payload.IAM{AccessKey: id.AccessKeyID, AccountID: function.AccountID, CallerID: userID,
		UserARN: userARN, UserID: userID}
	return true
}

// readBody reads the request body, at most MaxBody bytes. It answers the
// request itself and returns nil when the body is too large or cannot be
// read; an empty body is an empty, non-nil slice.
func (h *Handler) readBody(x *exchange) []byte {
	r := x.r
	if r.ContentLength > MaxBody {
		h.fail(x, http.StatusRequestEntityTooLarge, tooLargeBody)
		return nil
	}
	if r.ContentLength == 0 || r.Body == nil || r.Body == http.NoBody {
		return []byte{}
	}
	var b []byte
	var err error
	if r.ContentLength > 0 {
		b = make([]byte, r.ContentLength)
		_, err = io.ReadFull(r.Body, b)
	} else {
		b, err = io.ReadAll(io.LimitReader(r.Body, MaxBody+1))
		if len(b) > MaxBody {
			h.fail(x, http.StatusRequestEntityTooLarge, tooLargeBody)
			return nil
		}
	}
	if err != nil {
		h.fail(x, http.StatusBadRequest, []byte(`{"message":"Bad Request"}`))
		return nil
	}
	if b == nil {
		b = []byte{}
	}
	return b
}

// invoke encodes the event, runs the function and answers with what it
// returned.
func (h *Handler) invoke(x *exchange, name, qualifier string, f payload.Format, timeout time.Duration) {
	if x.ev.Body == nil {
		if x.ev.Body = h.readBody(x); x.ev.Body == nil {
			return
		}
	}
	x.ev.RequestID, x.ev.Time = x.reqID, x.started
	event := payload.Append(make([]byte, 0, payload.SizeHint(&x.ev)), f, &x.ev)
	if len(event) > function.MaxSyncPayload {
		h.fail(x, http.StatusRequestEntityTooLarge, tooLargeBody)
		return
	}
	req, ok := h.d.Functions.Prepare(name, qualifier, event)
	if !ok {
		h.d.Logger.Warn("gateway integration names a missing function", "function", name, "qualifier", qualifier)
		h.failWhy(x, http.StatusInternalServerError, internalMessage, "the integration's function "+name+" does not exist")
		return
	}
	req.TraceID = x.traceH
	if x.stream != nil {
		x.stream.attach(req)
	}
	resp, err := h.call(x.r.Context(), req, timeout)
	if x.stream != nil && x.stream.end(name, resp, err) {
		return
	}
	switch {
	case errors.Is(err, errTimeout):
		why := "the integration timed out before the function " + name + " answered"
		h.report(name, x, why)
		h.failWhy(x, http.StatusGatewayTimeout, timeoutMessage, why)
		return
	case err != nil && fault.KindOf(err) == fault.Throttled:
		x.w.Header()["Retry-After"] = retryAfter
		h.fail(x, http.StatusTooManyRequests, throttledBody)
		return
	case err != nil:
		if x.r.Context().Err() == nil {
			h.d.Logger.Error("gateway invocation failed", "function", name, "err", err)
		}
		h.fail(x, http.StatusInternalServerError, internalBody)
		return
	case resp.FunctionError != "":
		why := functionFailure(name, resp.Payload)
		h.d.Logger.Warn("gateway: the function failed", "function", name, "request_id", x.reqID, "reason", why)
		h.report(name, x, why)
		if resp.Failure != nil && resp.Failure.Kind == invoke.FailTimeout {
			h.failWhy(x, http.StatusGatewayTimeout, timeoutMessage, why)
		} else {
			h.failWhy(x, http.StatusBadGateway, internalMessage, why)
		}
		return
	}
	out, err := payload.Decode(f, resp.Payload)
	if err != nil {
		h.d.Logger.Warn("function answer cannot be mapped to a response", "function", name, "err", err)
		why := "the function " + name + "'s answer is not a response: " + err.Error()
		h.report(name, x, why)
		h.failWhy(x, http.StatusBadGateway, internalMessage, why)
		return
	}
	hdr := x.w.Header()
	for k, vs := range out.Header {
		hdr[k] = vs
	}
	for _, c := range out.Cookies {
		hdr["Set-Cookie"] = append(hdr["Set-Cookie"], c)
	}
	if x.cache != nil {
		if out.Status == http.StatusOK && len(out.Cookies) == 0 {
			x.cache.Put(x.cacheKey, &catalog.CachedResponse{Status: out.Status, Header: out.Header, Body: out.Body}, h.d.Now())
		}
		hdr["X-Aloft-Cache"] = cacheMiss
	}
	h.finish(x)
	x.status = out.Status
	x.w.WriteHeader(out.Status)
	io.WriteString(x.w, out.Body)
}

var (
	errTimeout             = errors.New("gateway: integration timed out")
	errMalformedAuthorizer = errors.New("gateway: the authorizer answered neither isAuthorized nor a policy document")
)

// slack is how much longer than the function's timeout an invocation may
// take (a cold start's init) before the gateway stops waiting for it.
const slack = 2 * time.Second

// call invokes req. With a timeout, a function that may outlive it runs
// on its own goroutine, and the caller stops waiting when the timeout
// ends; a function whose own timeout is shorter is awaited directly (the
// invoker ends it at its timeout), and its answer discarded if it came
// too late.
func (h *Handler) call(ctx context.Context, req *invoke.Invocation, timeout time.Duration) (*invoke.Response, error) {
	if timeout <= 0 {
		return h.d.Invoker.Invoke(ctx, req)
	}
	fnTimeout := time.Duration(req.Config.Timeout) * time.Second
	if fnTimeout+slack <= timeout {
		start := h.d.Now()
		resp, err := h.d.Invoker.Invoke(ctx, req)
		if err == nil && h.d.Now().Sub(start) > timeout {
			return nil, errTimeout
		}
		return resp, err
	}
	type result struct {
		resp *invoke.Response
		err  error
	}
	done := make(chan result, 1)
	ictx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	h.bg.Add(1)
	go func() {
		defer h.bg.Done()
		defer cancel()
		resp, err := h.d.Invoker.Invoke(ictx, req)
		done <- result{resp, err}
	}()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case res := <-done:
		return res.resp, res.err
	case <-t.C:
		return nil, errTimeout
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
}

// preflight answers a CORS preflight request.
func (h *Handler) preflight(x *exchange) {
	x.policy.Preflight(x.r, x.w.Header())
	x.w.Header()[x.idKey] = []string{x.reqID}
	x.w.WriteHeader(http.StatusNoContent)
}

// finish adds the headers every response carries.
func (h *Handler) finish(x *exchange) {
	hdr := x.w.Header()
	if x.policy != nil {
		x.policy.Apply(x.r.Header.Get("Origin"), hdr)
	}
	hdr[x.idKey] = []string{x.reqID}
	hdr[traceid.XRayHeader] = []string{x.traceH}
}

// fail answers with one of the gateway's own responses.
// The messages of API Gateway's own failures.
const (
	internalMessage = "Internal Server Error"
	timeoutMessage  = "Endpoint request timed out"
)

// failWhy answers a failure of the integration as API Gateway does
// ({"message": message}), and says why in "reason", so that whoever
// calls the route sees what went wrong without the server's log.
func (h *Handler) failWhy(x *exchange, status int, message, reason string) {
	body, _ := json.Marshal(struct {
		Message string `json:"message"`
		Reason  string `json:"reason"`
	}{message, reason}) // strings always encode
	h.fail(x, status, body)
}

// report passes why the gateway failed x to Deps.Report.
func (h *Handler) report(name string, x *exchange, why string) {
	if h.d.Report != nil {
		h.d.Report(name, "[ERROR] gateway "+x.reqID+" "+x.r.Method+" "+x.r.URL.Path+": "+why)
	}
}

// functionFailure words a function error payload ({"errorType",
// "errorMessage"}) as a reason.
func functionFailure(name string, p []byte) string {
	var e struct {
		Type    string `json:"errorType"`
		Message string `json:"errorMessage"`
	}
	json.Unmarshal(p, &e) // a payload that is not one says nothing more
	why := "the function " + name + " failed"
	if e.Type != "" {
		why += ": " + e.Type
	}
	if e.Message != "" {
		why += ": " + e.Message
	}
	return why
}

func (h *Handler) fail(x *exchange, status int, body []byte) {
	hdr := x.w.Header()
	hdr["Content-Type"] = jsonType
	h.finish(x)
	x.status = status
	x.w.WriteHeader(status)
	x.w.Write(body)
}

// newRequestID returns an id in the shape of API Gateway's: 16 characters
// of URL-safe base64. It needs no system call.
func newRequestID() string {
	var b [12]byte
	a, c := rand.Uint64(), rand.Uint32()
	for i := range 8 {
		b[i] = byte(a >> (8 * i))
	}
	for i := range 4 {
		b[8+i] = byte(c >> (8 * i))
	}
	return base64.URLEncoding.EncodeToString(b[:])
}
