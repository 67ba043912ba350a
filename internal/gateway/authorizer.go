package gateway

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/aloft-dev/aloft/internal/function"
	"github.com/aloft-dev/aloft/internal/gateway/catalog"
	"github.com/aloft-dev/aloft/internal/gateway/payload"
	"github.com/aloft-dev/aloft/internal/policy"
)

var unauthorizedBody = []byte(`{"message":"Unauthorized"}`)

// identity returns the values of z's identity sources, or ok false when
// one is missing or empty.
func identity(x *exchange, z *catalog.CompiledAuthorizer) (values []string, ok bool) {
	values = make([]string, 0, len(z.Sources))
	for _, s := range z.Sources {
		var v string
		switch s.Kind {
		case catalog.FromHeader:
			v = strings.Join(x.r.Header[s.Name], ",")
		case catalog.FromQuery:
			v = strings.Join(x.r.URL.Query()[s.Name], ",")
		case catalog.FromStageVariable:
			v = x.ev.StageVariables[s.Name]
		case catalog.FromContext:
			switch s.Name {
			case "requestId":
				v = x.reqID
			case "routeKey":
				v = x.ev.RouteKey
			case "stage":
				v = x.ev.Stage
			case "apiId":
				v = x.ev.APIID
			case "identity.sourceIp":
				v = payload.SourceIP(x.r)
			}
		}
		if v == "" {
			return nil, false
		}
		values = append(values, v)
	}
	return values, true
}

// identityKey returns the digest that keys an authorizer's cache: each
// value with its length before it, so that no two lists of values share
// one, and the key is the same size whatever the caller sends.
func identityKey(values []string) [32]byte {
	var buf [256]byte
	b := buf[:0]
	for _, v := range values {
		b = binary.BigEndian.AppendUint64(b, uint64(len(v)))
		b = append(b, v...)
	}
	return sha256.Sum256(b)
}

// routeARN returns the ARN of the request's route, as the authorizer's
// event gives it and its policies name it:
// arn:aws:execute-api:{region}:{account}:{api id}/{stage}/{METHOD}/{path},
// the path being the one within the stage.
func routeARN(x *exchange) string {
	return "arn:aws:execute-api:" + function.DefaultRegion + ":" + function.AccountID + ":" +
		x.ev.APIID + "/" + x.ev.Stage + "/" + x.r.Method + x.routePath
}

// authorizeLambda runs a route's Lambda authorizer (or takes its cached
// answer) and answers 401, 403 or 500 itself when the request may not go
// on. A policy answer is evaluated against the request's route ARN each
// time, cached or not. An allowed request's event carries the
// authorizer's context.
func (h *Handler) authorizeLambda(x *exchange, z *catalog.CompiledAuthorizer) bool {
	values, ok := identity(x, z)
	if !ok {
		h.fail(x, http.StatusUnauthorized, unauthorizedBody)
		return false
	}
	x.identity = identityKey(values)
	d := z.Cached(x.identity, x.started)
	if d == nil {
		if d = h.askAuthorizer(x, z, values); d == nil {
			h.fail(x, http.StatusInternalServerError, internalBody)
			return false
		}
		z.Remember(x.identity, d, x.started)
	}
	allowed := d.Allow
	if d.Policy != nil {
		allowed = d.Policy.Allows(policy.InvokeAction, routeARN(x))
	}
	if !allowed {
		h.fail(x, http.StatusForbidden, deniedBody)
		return false
	}
	x.decision = d
	x.ev.Authorized, x.ev.Lambda, x.ev.PrincipalID = true, d.Context, d.PrincipalID
	return true
}

// askAuthorizer invokes the authorizer's function with the REQUEST event
// (payload 2.0) and reads its answer; nil when it failed.
func (h *Handler) askAuthorizer(x *exchange, z *catalog.CompiledAuthorizer, values []string) *catalog.Decision {
	event, err := authorizerEvent(x, values)
	if err != nil {
		h.d.Logger.Error("authorizer event", "err", err)
		return nil
	}
	req, ok := h.d.Functions.Prepare(z.Function, z.Qualifier, event)
	if !ok {
		h.d.Logger.Warn("authorizer names a missing function", "function", z.Function, "authorizer", z.ID)
		return nil
	}
	resp, err := h.call(x.r.Context(), req, 0)
	if err != nil || resp.FunctionError != "" {
		h.d.Logger.Warn("authorizer failed", "function", z.Function, "authorizer", z.ID, "err", err)
		return nil
	}
	d, err := decide(resp.Payload, z.Simple)
	if err != nil {
		h.d.Logger.Warn("authorizer answer cannot be read", "function", z.Function, "authorizer", z.ID, "err", err)
		return nil
	}
	return d
}

// authorizerEvent is the route's payload 2.0 event without the body, with
// the fields of a REQUEST authorizer's event.
func authorizerEvent(x *exchange, values []string) ([]byte, error) {
	ev := x.ev
	ev.Body = []byte{}
	ev.RequestID, ev.Time = x.reqID, x.started
	var m map[string]json.RawMessage
	if err := json.Unmarshal(payload.Append(nil, payload.V2, &ev), &m); err != nil {
		return nil, err
	}
	delete(m, "body")
	delete(m, "isBase64Encoded")
	m["type"] = json.RawMessage(`"REQUEST"`)
	for k, v := range map[string]any{"routeArn": routeARN(x), "identitySource": values} {
		b, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		m[k] = b
	}
	return json.Marshal(m)
}

// authorizerAnswer is a simple response or an IAM policy response.
type authorizerAnswer struct {
	IsAuthorized   *bool           `json:"isAuthorized"`
	PrincipalID    string          `json:"principalId"`
	Context        json.RawMessage `json:"context"`
	PolicyDocument json.RawMessage `json:"policyDocument"`
}

// decide reads an authorizer's answer. A simple response allows when
// isAuthorized is true; a policy is parsed whole (see package policy), to be
// evaluated for each request, and one that cannot be evaluated faithfully
// is an error.
func decide(b []byte, simple bool) (*catalog.Decision, error) {
	var a authorizerAnswer
	if err := json.Unmarshal(b, &a); err != nil {
		return nil, err
	}
	d := &catalog.Decision{PrincipalID: a.PrincipalID}
	if c := bytes.TrimSpace(a.Context); len(c) > 0 && c[0] == '{' {
		d.Context = c
	}
	hasPolicy := len(a.PolicyDocument) > 0 && !bytes.Equal(bytes.TrimSpace(a.PolicyDocument), []byte("null"))
	switch {
	case simple && a.IsAuthorized != nil:
		d.Allow = *a.IsAuthorized
	case hasPolicy:
		p, err := policy.Parse(a.PolicyDocument)
		if err != nil {
			return nil, err
		}
		if p.Conditional() {
			// API Gateway evaluates an authorizer's policy by its effect,
			// actions and resources only; a condition it would not
			// evaluate makes the answer malformed, never ignored.
			return nil, errors.New("gateway: an authorizer's policy may not have a Condition")
		}
		d.Policy = p
	default:
		return nil, errMalformedAuthorizer
	}
	d.Caller = callerDigest(d.PrincipalID, d.Context)
	return d, nil
}

// callerDigest is who an authorizer says the caller is, its principal and
// context, in a fixed size.
func callerDigest(principal string, context []byte) [32]byte {
	h := sha256.New()
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(principal)))
	h.Write(n[:])
	h.Write([]byte(principal))
	h.Write(context)
	var sum [32]byte
	h.Sum(sum[:0])
	return sum
}
