package edge

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/aloft-dev/aloft/internal/awsproto"
	"github.com/aloft-dev/aloft/internal/iam"
	"github.com/aloft-dev/aloft/internal/policy"
	"github.com/aloft-dev/aloft/internal/sigv4"
)

// Operation is what a request asks to do, in IAM's terms: an action
// (lambda:InvokeFunction) on a resource (the function's ARN, or "*" for
// an action that names none). The zero Operation asks for nothing: the
// service refuses the request itself, or decides its permission itself.
type Operation struct {
	Action   string
	Resource string
	// Keys are the service's condition keys of the request (s3:prefix,
	// ...), by their names in lower case; nil for none.
	Keys map[string][]string
}

// Resolver tells who signed a request from its verified identity: the
// principal of its access key and session token, or a refusal.
type Resolver func(id sigv4.Identity) (*iam.Principal, error)

// authorize resolves who signed r and checks that they may perform the
// operation svc says r is. A nil principal with a nil error means the
// front door has no resolver (tests of other parts).
func (e *Edge) authorize(r *http.Request, svc *Service, id sigv4.Identity, body []byte, v *verified) (*iam.Principal, *awsproto.Error) {
	if e.c.Resolve == nil {
		return nil, nil
	}
	p, err := e.c.Resolve(id)
	if err != nil {
		return nil, Refusal(err, svc.protocol(r))
	}
	if svc.Operation == nil || p.Kind == iam.RootPrincipal {
		return p, nil // the root may do everything: no need to ask what
	}
	// The operation table sees who signed (Principal), as the handler
	// will.
	v.principal = p
	rc := &v.req
	op, aerr := svc.Operation(r.WithContext(context.WithValue(r.Context(), verifiedKey{}, v)), body)
	if aerr != nil {
		return nil, aerr
	}
	if op.Action == "" {
		// Nothing to authorize here: an operation the service does not
		// serve (it refuses it), or one whose permission it decides
		// itself (STS's AssumeRole, by the role's trust policy).
		return p, nil
	}
	RequestContext(r, id, rc)
	rc.Keys = op.Keys
	var rp *policy.Policy
	if svc.ResourcePolicy != nil {
		rp = svc.ResourcePolicy(op.Resource)
	}
	if err := p.AuthorizeRequest(op.Action, op.Resource, rc, rp); err != nil {
		return nil, Refusal(err, svc.protocol(r))
	}
	return p, nil
}

// RequestContext fills rc with what policies' conditions may ask of r:
// the client's address, the time, whether it came over TLS and the
// region of its signature.
func RequestContext(r *http.Request, id sigv4.Identity, rc *iam.Request) {
	host := r.RemoteAddr
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	rc.SourceIP, rc.Time, rc.Secure, rc.Region = host, time.Now(), r.TLS != nil, id.Region
}

// Refusal words an identity's refusal (iam.Error) as clients of protocol
// p expect it: AccessDenied for the XML protocols, AccessDeniedException
// for the JSON ones, and the token errors each family has. An err that is
// no refusal is the server's failure: a 503 when it is of kind
// fault.Unavailable (see awsproto.Unavailable), else InternalFailure.
func Refusal(err error, p awsproto.Protocol) *awsproto.Error {
	var ie *iam.Error
	if !errors.As(err, &ie) {
		if e := awsproto.Unavailable(p, err); e != nil {
			return e
		}
		return &awsproto.Error{Status: http.StatusInternalServerError, Code: "InternalFailure", Message: "The request could not be authorized.", Err: err}
	}
	xml := p == awsproto.QueryXML || p == awsproto.RESTXML
	code := "AccessDeniedException"
	switch ie.Reason {
	case iam.AccessDenied:
		if xml {
			code = "AccessDenied"
		}
	case iam.ExpiredToken:
		code = "ExpiredTokenException"
		if xml {
			code = "ExpiredToken"
		}
	default: // invalid, foreign or unknown keys and tokens
		code = "UnrecognizedClientException"
		switch p {
		case awsproto.QueryXML:
			code = "InvalidClientTokenId"
		case awsproto.RESTXML:
			code = "InvalidAccessKeyId"
		}
	}
	e := &awsproto.Error{Status: http.StatusForbidden, Code: code, Message: ie.Message}
	if p == awsproto.JSON10Query {
		// The query protocol's code, which SQS's JSON clients report.
		e.QueryCode = Refusal(err, awsproto.QueryXML).Code
	}
	return e
}
