package gateway

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/aloft-dev/aloft/internal/function"
	"github.com/aloft-dev/aloft/internal/gateway/catalog"
	"github.com/aloft-dev/aloft/internal/gateway/payload"
	"github.com/aloft-dev/aloft/internal/invoke"
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

// authorizeLambda runs a route's Lambda authorizer (or takes its cached
// decision) and answers 401, 403 or 500 itself when the request may not
// go on. An allowed request's event carries the authorizer's context.
func (h *Handler) authorizeLambda(x *exchange, z *catalog.CompiledAuthorizer) bool {
	values, ok := identity(x, z)
	if !ok {
		h.fail(x, http.StatusUnauthorized, unauthorizedBody)
		return false
	}
	key := strings.Join(values, "\x00")
	d := z.Cached(key, x.started)
	if d == nil {
		if d = h.askAuthorizer(x, z, values); d == nil {
			h.fail(x, http.StatusInternalServerError, internalBody)
			return false
		}
		z.Remember(key, d, x.started)
	}
	if !d.Allow {
		h.fail(x, http.StatusForbidden, deniedBody)
		return false
	}
	x.ev.Authorized, x.ev.Lambda, x.ev.PrincipalID = true, d.Context, d.PrincipalID
	return true
}

// askAuthorizer invokes the authorizer's function with the REQUEST event
// (payload 2.0) and reads its decision; nil when it failed.
func (h *Handler) askAuthorizer(x *exchange, z *catalog.CompiledAuthorizer, values []string) *catalog.Decision {
	rec, ok := h.d.Functions.Get(z.Function)
	if !ok || (z.Qualifier != "" && z.Qualifier != function.LatestVersion) {
		h.d.Logger.Warn("authorizer names a missing function", "function", z.Function, "authorizer", z.ID)
		return nil
	}
	event, err := authorizerEvent(x, values)
	if err != nil {
		h.d.Logger.Error("authorizer event", "err", err)
		return nil
	}
	req := invoke.Request(rec, h.d.Functions.ReservedTotal(), event)
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
	arn := "arn:aws:execute-api:us-east-1:" + function.AccountID + ":" + ev.APIID + "/" + ev.Stage + "/" + x.r.Method + ev.Path
	for k, v := range map[string]any{"routeArn": arn, "identitySource": values} {
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
	PolicyDocument *struct {
		Statement json.RawMessage `json:"Statement"`
	} `json:"policyDocument"`
}

type statement struct {
	Effect string `json:"Effect"`
}

// decide reads an authorizer's answer. A simple response allows when
// isAuthorized is true; a policy allows when a statement allows and none
// denies (the resources are not compared).
func decide(b []byte, simple bool) (*catalog.Decision, error) {
	var a authorizerAnswer
	if err := json.Unmarshal(b, &a); err != nil {
		return nil, err
	}
	d := &catalog.Decision{PrincipalID: a.PrincipalID}
	if c := bytes.TrimSpace(a.Context); len(c) > 0 && c[0] == '{' {
		d.Context = c
	}
	switch {
	case simple && a.IsAuthorized != nil:
		d.Allow = *a.IsAuthorized
	case a.PolicyDocument != nil:
		var list []statement
		if err := json.Unmarshal(a.PolicyDocument.Statement, &list); err != nil {
			var one statement
			if err := json.Unmarshal(a.PolicyDocument.Statement, &one); err != nil {
				return nil, err
			}
			list = []statement{one}
		}
		for _, s := range list {
			switch s.Effect {
			case "Allow":
				d.Allow = true
			case "Deny":
				d.Allow = false
				return d, nil
			}
		}
	case simple:
		return nil, errMalformedAuthorizer
	default:
		return nil, errMalformedAuthorizer
	}
	return d, nil
}
