// Package edge is the front door of Aloft's AWS-compatible APIs on the
// API listener (--listen). For every request it answers GET /health,
// GET /metrics (unsigned) and the unsigned public paths itself, picks the service the request is for
// from one table, and, unless that service checks its own signatures,
// verifies the AWS Signature Version 4 before it holds the body (see
// readVerified), refuses presigned (query-string) signatures for
// services that take none, and hands the request on with its body and
// who signed it (Verified). Refusals are written in the service's own
// protocol (package awsproto).
//
// # Services
//
// A request names its service by the service of its SigV4 credential
// scope (Authorization header or X-Amz-Credential query parameter).
// Without one (an unsigned request, which the service then refuses in
// its own shape), by the markers in the table, in order, and otherwise
// it is S3's, as an anonymous GET /bucket/key is:
//
//	service     signing name  unsigned markers                   protocol   body limit
//	Lambda      lambda        /YYYY-MM-DD/... and /aloft/...     Lambda     70,167,211 bytes (CreateFunction)
//	Logs        logs          X-Amz-Target: Logs_20140328.*      json-1.1   8 MiB
//	Scheduler   scheduler     /schedules, /schedule-groups       rest-json  1 MiB
//	API GW v2   apigateway    /v2/apis, /v2/domainnames, ...     rest-json  10 MiB
//	SQS         sqs           X-Amz-Target: AmazonSQS.*, or      json-1.0   4 MiB
//	                          Action=SendMessage, ... (query)    and query
//	SNS         sns           Action=Publish, ... (query)        query-xml  8 MiB
//	DynamoDB    dynamodb      X-Amz-Target: DynamoDB_20120810.*  json-1.0   16 MiB
//	CloudWatch  monitoring    POST /service/GraniteService-      cbor,      4 MiB
//	                          Version20100801/operation/*, or    json-1.0
//	                          X-Amz-Target: GraniteService-      and query
//	                          Version20100801.*, or
//	                          Action=PutMetricData, ... (query)
//	IAM         iam           Action=CreateUser, ... in the URL  query-xml  1 MiB
//	STS         sts           Action=AssumeRole, ... in the URL  query-xml  1 MiB
//	X-Ray       xray          /TraceSummaries, /Traces,          rest-json  5 MiB
//	                          /TraceSegments
//	S3          s3            virtual-host Host, anything else   rest-xml   streams; checks its own
//
// A signed request for a service that is not in the table goes to the
// table's default (Lambda), which answers for what it does not serve.
// Only S3 takes presigned URLs.
//
// # How to add a service
//
//  1. Write its domain package (no net/http) and a thin <service>api
//     package that decodes, calls the domain and encodes, mapping the
//     domain's errors to the wire's in one table and writing them with
//     awsproto.WriteError.
//  2. Add a Service to the table app builds: its SigV4 signing name, its
//     protocol, its body limit, and the markers that recognise it
//     unsigned: Target for the JSON protocols, PathUnder for the REST
//     ones, Action for the query ones, CBOR for Smithy RPC v2 CBOR.
//     The RPC protocols' handlers are awsproto.JSONAPI and
//     awsproto.QueryAPI, filled with the service's operations.
//  3. Add its row to the table above, and end-to-end tests that use the
//     AWS SDK's client for it, signed and unsigned.
//
// # Who may do what
//
// After the signature, the front door resolves who signed (Config.Resolve:
// the root, an IAM user, a role session) and asks the service's
// Operation which IAM action on which resource the request is; it
// refuses the request, in the service's shape, unless the signer's
// policies allow it. Each service's Operation is its one table from
// operations to actions and resources. S3, which streams, does the same
// after its own signature check.
//
// Handlers read the verified body from the request (or Verified), and
// the signer from Verified and Principal.
package edge

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"strings"

	"github.com/aloft-dev/aloft/internal/awsproto"
	"github.com/aloft-dev/aloft/internal/iam"
	"github.com/aloft-dev/aloft/internal/ids"
	"github.com/aloft-dev/aloft/internal/policy"
	"github.com/aloft-dev/aloft/internal/sigv4"
)

// Service is one API behind the front door.
type Service struct {
	Name     string            // the signing name in a SigV4 credential scope
	Protocol awsproto.Protocol // how the front door writes its refusals
	// ProtocolOf, for a service that speaks more than one protocol
	// (SQS: JSON and query), picks the one request r speaks; nil means
	// Protocol.
	ProtocolOf func(r *http.Request) awsproto.Protocol
	MaxBody    int64 // the largest body it takes
	// Streams says the handler reads its body and checks the signature
	// itself (S3, whose bodies may be gigabytes); it also takes presigned
	// URLs.
	Streams bool
	// Recognize tells an unsigned request for this service.
	Recognize func(r *http.Request) bool
	// TooLarge words the refusal of a body over MaxBody; nil gives
	// RequestEntityTooLargeException with the limit.
	TooLarge func(r *http.Request, limit int64) *awsproto.Error
	// Operation says what a verified request asks to do, from the
	// request and its body: the service's one table from operations to
	// IAM actions and resources. The front door refuses the request
	// unless its signer may. Nil leaves authorization to the handler
	// (S3, which streams).
	Operation func(r *http.Request, body []byte) (Operation, *awsproto.Error)
	// ResourcePolicy returns the resource-based policy of the resource
	// an Operation names (a function's), evaluated beside the signer's
	// own; nil, or a nil answer, for none.
	ResourcePolicy func(resource string) *policy.Policy
	Handler        http.Handler
}

// protocol returns the protocol request r speaks.
func (s *Service) protocol(r *http.Request) awsproto.Protocol {
	if s.ProtocolOf != nil {
		return s.ProtocolOf(r)
	}
	return s.Protocol
}

// Config is the front door's table and collaborators.
type Config struct {
	// Services are the APIs, matched by signing name, and for unsigned
	// requests by Recognize in this order.
	Services []*Service
	// Default serves signed requests for a service not in the table;
	// Fallback, unsigned ones nothing recognises (S3).
	Default, Fallback *Service
	Verifier          *sigv4.Verifier
	// SpoolDir holds, unlinked, the bodies of requests larger than
	// memBody while their signatures are checked; empty means the
	// system's temporary directory.
	SpoolDir string
	// Health is GET /health's answer, beside "status": "ok".
	Health map[string]string
	// Public serves unsigned paths by prefix (code downloads).
	Public map[string]http.Handler
	// Metrics, when set, answers GET and HEAD /metrics that carry no
	// SigV4 signature (a signed one is S3's, for a bucket of that name);
	// it applies its own access rule.
	Metrics http.Handler
	// Resolve tells who signed a verified request; nil skips
	// authorization.
	Resolve Resolver
}

// Edge is the front door. Create it with New.
type Edge struct {
	c      Config
	byName map[string]*Service
	health []byte
}

// New returns the front door for c.
func New(c Config) *Edge {
	e := &Edge{c: c, byName: map[string]*Service{}}
	for _, s := range c.Services {
		e.byName[s.Name] = s
	}
	h := map[string]string{"status": "ok"}
	for k, v := range c.Health {
		if k != "status" {
			h[k] = v
		}
	}
	e.health, _ = json.Marshal(h)
	return e
}

// verified is what the front door hands on with a request.
type verified struct {
	body      []byte
	id        sigv4.Identity
	principal *iam.Principal
	req       iam.Request // the authorization's request context
}

type verifiedKey struct{}

// Verified returns the body the front door read and checked (nil for
// services that stream their own) and who signed the request; ok is
// false for a request that did not come through it.
func Verified(ctx context.Context) (body []byte, id sigv4.Identity, ok bool) {
	v, ok := ctx.Value(verifiedKey{}).(*verified)
	if !ok {
		return nil, sigv4.Identity{}, false
	}
	return v.body, v.id, true
}

// Principal returns who signed the request, as the front door resolved
// it; nil for a request that did not come through it or when it has no
// resolver.
func Principal(ctx context.Context) *iam.Principal {
	v, ok := ctx.Value(verifiedKey{}).(*verified)
	if !ok {
		return nil
	}
	return v.principal
}

// ServeHTTP answers r or hands it to its service.
func (e *Edge) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reqID := ids.New()
	w.Header()["X-Amzn-Requestid"] = []string{reqID}
	if r.URL.Path == "/health" && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		w.Write(e.health)
		return
	}
	if r.URL.Path == "/metrics" && e.c.Metrics != nil && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		// An AWS signature (V4, or S3's V2 "AWS key:sig") makes it S3's.
		if _, _, signed := sigv4.Scope(r); !signed && !strings.HasPrefix(r.Header.Get("Authorization"), "AWS") {
			e.c.Metrics.ServeHTTP(w, r)
			return
		}
	}
	if r.Method == http.MethodGet && r.URL.RawQuery == "" && r.Header.Get("Authorization") == "" &&
		strings.Contains(r.Header.Get("Accept"), "text/html") {
		switch {
		case r.URL.Path == "/":
			e.welcome(w, r)
			return
		case r.URL.Path == "/console" && e.c.Public["/console/"] != nil:
			// A browser asking for the console without its slash; an S3
			// client listing a bucket named console sends no text/html.
			http.Redirect(w, r, "/console/", http.StatusFound)
			return
		}
	}
	for prefix, h := range e.c.Public {
		if strings.HasPrefix(r.URL.Path, prefix) {
			h.ServeHTTP(w, r)
			return
		}
	}
	svc := e.service(r)
	if svc.Streams {
		// S3 sends its own x-amz-request-id; a second id would be the one
		// some clients report.
		w.Header().Del("X-Amzn-Requestid")
		svc.Handler.ServeHTTP(w, r)
		return
	}
	body, id, aerr := e.readVerified(r, svc)
	if aerr == nil && id.Presigned {
		// Of the services here only S3 takes presigned URLs: a leaked one
		// must not reach the management APIs.
		aerr = awsproto.Errorf(http.StatusForbidden, "AccessDeniedException",
			"Presigned (query-string) requests are not accepted by %s; send the signature in the Authorization header. Only S3 accepts presigned URLs.", id.Service)
	}
	v := &verified{body: body, id: id}
	if aerr == nil {
		v.principal, aerr = e.authorize(r, svc, id, body, v)
	}
	if aerr != nil {
		awsproto.WriteError(w, r, svc.protocol(r), aerr, reqID)
		return
	}
	// The body was read to its end: closed, it is not drained again
	// when the answer's header is written. The service reads the copy
	// in memory, on a copy of the request, leaving the server's own
	// untouched.
	r.Body.Close()
	r = r.WithContext(context.WithValue(r.Context(), verifiedKey{}, v))
	rb := &bodyReader{}
	rb.Reset(body)
	r.Body = rb
	svc.Handler.ServeHTTP(w, r)
}

// bodyReader is a verified body handed on: one allocation where a
// bytes.Reader behind io.NopCloser takes two.
type bodyReader struct{ bytes.Reader }

func (*bodyReader) Close() error { return nil }

// service picks the service r is for.
func (e *Edge) service(r *http.Request) *Service {
	if _, name, ok := sigv4.Scope(r); ok {
		if s := e.byName[name]; s != nil {
			return s
		}
		return e.c.Default
	}
	for _, s := range e.c.Services {
		if s.Recognize != nil && s.Recognize(r) {
			return s
		}
	}
	return e.c.Fallback
}

// welcome answers a browser that opens the endpoint itself: a page that
// says what this server is, rather than S3's AccessDenied document.
func (e *Edge) welcome(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	console := ""
	if e.c.Public["/console/"] != nil {
		console = "\n<p>Open the <a href=\"/console/\">console</a> and sign in with an access key pair.</p>"
	}
	fmt.Fprintf(w, `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Aloft</title></head>
<body style="font-family:sans-serif;max-width:40em;margin:3em auto">
<h1>Aloft</h1>
<p>This is the API endpoint of an Aloft server: Lambda, S3, SQS, SNS,
DynamoDB, CloudWatch (metrics and logs), X-Ray, EventBridge Scheduler,
API Gateway, IAM and STS, signed as AWS signs them.</p>%s
<p>Point the AWS CLI or an SDK at it, with the keys the server saved in
<code>.aloft/credentials</code>:</p>
<pre>aws --endpoint-url http://%s lambda list-functions</pre>
<p>Health: <a href="/health">/health</a>.</p>
</body></html>
`, console, html.EscapeString(r.Host))
}
