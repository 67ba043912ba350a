package lambdaapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/aloft-dev/aloft/internal/awsproto"
	"github.com/aloft-dev/aloft/internal/edge"
	"github.com/aloft-dev/aloft/internal/function"
	"github.com/aloft-dev/aloft/internal/sigv4"
)

// Operation is the Lambda API's table from requests to IAM actions and
// resources, for the front door's authorization: the action each route
// was registered with, on the ARN of the function the path names (with
// the Qualifier the request gives), the resource of a tags request, or
// "*" for the routes that name no function. A request no route serves
// asks for nothing; the API refuses it itself.
func (s *Server) Operation(r *http.Request, body []byte) (edge.Operation, *awsproto.Error) {
	var action string
	if _, ok := invokeTarget(r); ok {
		action = "lambda:InvokeFunction" // the hot path, without the router's work
	} else {
		_, pattern := s.mux.Handler(r)
		if action = s.actions[pattern]; action == "" {
			return edge.Operation{}, nil
		}
	}
	region, _, _ := sigv4.Scope(r)
	if region == "" {
		region = awsproto.DefaultRegion
	}
	op := edge.Operation{Action: action, Resource: "*"}
	// /VERSION/KIND/NAME/...: the third segment names the function (or,
	// for tags, the resource).
	// (Aloft's own routes are /aloft/v1/KIND/NAME/....)
	_, rest, _ := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, "/aloft"), "/"), "/")
	kind, rest, _ := strings.Cut(rest, "/")
	name, _, _ := strings.Cut(rest, "/")
	switch {
	case kind == "layers":
		op.Action, op.Resource = layerOperation(r, region, action)
	case action == "lambda:CreateFunction":
		var in struct{ FunctionName string }
		json.Unmarshal(body, &in) // a body that is not JSON is the handler's to refuse
		op.Resource = s.functionResource(region, in.FunctionName, "")
	case name != "" && kind == "tags":
		if arn, err := url.PathUnescape(name); err == nil {
			name = arn
		}
		op.Resource = s.functionResource(region, name, "")
	case name != "" && kind == "event-source-mappings":
		op.Resource = mappingResource(region, name)
	case name != "" && kind == "functions":
		qualifier := ""
		if r.URL.RawQuery != "" {
			qualifier = r.URL.Query().Get("Qualifier")
		}
		op.Resource = s.functionResource(region, name, qualifier)
	}
	return op, nil
}

const (
	invokePrefix = "/2015-03-31/functions/"
	invokeSuffix = "/invocations"
)

// invokeTarget reports whether r is an Invoke, POST
// /2015-03-31/functions/{fn}/invocations, as the router would route it,
// and returns {fn}. A name the router would not take as it stands (one
// with a slash, escaped or not, or a dot segment, which it redirects) is
// left to the router.
func invokeTarget(r *http.Request) (fn string, ok bool) {
	if r.Method != http.MethodPost || r.URL.RawPath != "" {
		return "", false
	}
	p, ok := strings.CutPrefix(r.URL.Path, invokePrefix)
	if !ok {
		return "", false
	}
	fn, ok = strings.CutSuffix(p, invokeSuffix)
	if !ok || fn == "" || fn == "." || fn == ".." || strings.IndexByte(fn, '/') >= 0 {
		return "", false
	}
	return fn, true
}

// IsInvoke reports whether a request line's method and target are an
// Invoke's: POST /2015-03-31/functions/{name}/invocations, with any query.
func IsInvoke(method, target []byte) bool {
	if string(method) != http.MethodPost {
		return false
	}
	path, _, _ := bytes.Cut(target, []byte("?"))
	name, ok := bytes.CutPrefix(path, []byte(invokePrefix))
	if !ok {
		return false
	}
	name, ok = bytes.CutSuffix(name, []byte(invokeSuffix))
	return ok && len(name) > 0 && bytes.IndexByte(name, '/') < 0
}

// functionResource is the ARN of the function that ref (a name,
// name:qualifier, a partial or a full ARN) and qualifier designate, as
// the handler will find it: by name, in the region it was created in
// (whatever region the request was signed for), and with $LATEST, the
// only version there is, as the unqualified function.
func (s *Server) functionResource(region, ref, qualifier string) string {
	name, q, ok := function.ParseRef(ref)
	if !ok {
		name = ref // an invalid name: the handler refuses it
	}
	if qualifier == "" {
		qualifier = q
	}
	if qualifier == function.LatestVersion {
		qualifier = ""
	}
	if s.d.Registry != nil {
		if rec, found := s.d.Registry.Get(name); found && rec.Region != "" {
			region = rec.Region
		}
	}
	return function.ARN(region, name, qualifier)
}

// Actions returns the IAM actions of the Lambda API's operations.
func Actions() []string {
	s := New(Deps{})
	var out []string
	for _, a := range s.actions {
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	slices.Sort(out)
	return out
}
