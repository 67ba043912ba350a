// Package iamapi serves the IAM and STS APIs (query protocol, versions
// 2010-05-08 and 2011-06-15) over package iam, as the AWS CLI and SDKs
// call them: users, access keys, roles, inline and managed policies,
// and GetCallerIdentity, AssumeRole and GetSessionToken. Each API is an
// awsproto.QueryAPI; Operation is its table from requests to IAM
// actions for the front door.
package iamapi

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aloft-dev/aloft/internal/awsproto"
	"github.com/aloft-dev/aloft/internal/edge"
	"github.com/aloft-dev/aloft/internal/iam"
	"github.com/aloft-dev/aloft/internal/sigv4"
)

// The APIs' versions and namespaces.
const (
	IAMVersion = "2010-05-08"
	STSVersion = "2011-06-15"
	iamNS      = "https://iam.amazonaws.com/doc/2010-05-08/"
	stsNS      = "https://sts.amazonaws.com/doc/2011-06-15/"
	timeFormat = "2006-01-02T15:04:05Z"
)

// wireError is the table from package iam's refusals to the wire.
func wireError(err error) *awsproto.Error {
	var e *iam.Error
	if !errors.As(err, &e) {
		return nil
	}
	status, code := http.StatusBadRequest, "InvalidInput"
	switch e.Reason {
	case iam.NoSuchEntity:
		status, code = http.StatusNotFound, "NoSuchEntity"
	case iam.AlreadyExists:
		status, code = http.StatusConflict, "EntityAlreadyExists"
	case iam.DeleteConflict:
		status, code = http.StatusConflict, "DeleteConflict"
	case iam.LimitExceeded:
		status, code = http.StatusConflict, "LimitExceeded"
	case iam.MalformedPolicy:
		code = "MalformedPolicyDocument"
	case iam.AccessDenied:
		status, code = http.StatusForbidden, "AccessDenied"
	case iam.ExpiredToken:
		status, code = http.StatusForbidden, "ExpiredToken"
	case iam.InvalidToken, iam.InvalidClientToken:
		status, code = http.StatusForbidden, "InvalidClientTokenId"
	}
	return &awsproto.Error{Status: status, Code: code, Message: e.Message}
}

func invalid(format string, args ...any) error {
	return awsproto.Errorf(http.StatusBadRequest, "InvalidInput", format, args...)
}

// unsupported refuses a parameter this server does not implement rather
// than ignoring it.
func unsupported(p url.Values, names ...string) error {
	for _, n := range names {
		for k := range p {
			if k == n || strings.HasPrefix(k, n+".") {
				return awsproto.Errorf(http.StatusBadRequest, "InvalidInput", "The parameter %s is not supported by this server.", n)
			}
		}
	}
	return nil
}

func required(p url.Values, name string) (string, error) {
	v := p.Get(name)
	if v == "" {
		return "", awsproto.Errorf(http.StatusBadRequest, "ValidationError", "1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", lowerFirst(name))
	}
	return v, nil
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

// caller is who signed the request.
func caller(ctx context.Context) *iam.Principal {
	if p := edge.Principal(ctx); p != nil {
		return p
	}
	return iam.Root
}

// tags reads Tags.member.N.Key and .Value.
func tags(p url.Values) []iam.Tag {
	var out []iam.Tag
	for i := 1; ; i++ {
		k := p.Get("Tags.member." + strconv.Itoa(i) + ".Key")
		if k == "" {
			return out
		}
		out = append(out, iam.Tag{Key: k, Value: p.Get("Tags.member." + strconv.Itoa(i) + ".Value")})
	}
}

// seconds reads an optional number of seconds.
func seconds(p url.Values, name string) (time.Duration, error) {
	v := p.Get(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, awsproto.Errorf(http.StatusBadRequest, "ValidationError", "Invalid %s %q", name, v)
	}
	return time.Duration(n) * time.Second, nil
}

// page cuts a listing by Marker and MaxItems.
func page[T any](p url.Values, all []T, key func(T) string) ([]T, string, error) {
	limit := 100
	if v := p.Get("MaxItems"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return nil, "", awsproto.Errorf(http.StatusBadRequest, "ValidationError", "1 validation error detected: Value '%s' at 'maxItems' failed to satisfy constraint: Member must have value between 1 and 1000", v)
		}
		limit = n
	}
	out, next, ok := awsproto.Page(all, key, p.Get("Marker"), limit)
	if !ok {
		return nil, "", invalid("Invalid Marker.")
	}
	return out, next, nil
}

// policyDoc is a policy document as IAM returns it: URL-encoded.
func policyDoc(doc string) string { return url.PathEscape(doc) }

// Operation is the IAM and STS APIs' table from requests to IAM actions
// and resources, for the front door's authorization: iam:<Action> on
// the user, role or policy the request names, or "*". STS's actions
// need no permission of the caller's own, but AssumeRole, which the
// role's trust policy decides.
func Operation(r *http.Request, body []byte) (edge.Operation, *awsproto.Error) {
	p, aerr := awsproto.QueryParams(r, body)
	if aerr != nil {
		return edge.Operation{}, aerr
	}
	action := p.Get("Action")
	if _, svc, _ := sigv4.Scope(r); svc == "sts" {
		return edge.Operation{}, nil // STS decides itself (AssumeRole's trust policy)
	}
	if action == "" {
		return edge.Operation{}, awsproto.Errorf(http.StatusBadRequest, "MissingAction", "The request must contain the parameter Action.")
	}
	base := "arn:aws:iam::" + awsproto.AccountID + ":"
	// The resource is the entity the action acts on, named by the
	// parameter of that kind of entity, whatever other parameters say.
	res := "*"
	switch {
	case strings.Contains(action, "Role") && p.Get("RoleName") != "":
		res = base + "role/" + p.Get("RoleName")
	case strings.Contains(action, "Group") && p.Get("GroupName") != "":
		res = base + "group/" + p.Get("GroupName")
	case (strings.Contains(action, "User") || strings.Contains(action, "AccessKey")) && p.Get("UserName") != "":
		res = base + "user/" + p.Get("UserName")
	case strings.Contains(action, "Policy") && !strings.Contains(action, "User") && !strings.Contains(action, "Role") &&
		!strings.Contains(action, "Group") && p.Get("PolicyArn") != "":
		res = p.Get("PolicyArn")
	case action == "CreatePolicy" && p.Get("PolicyName") != "":
		res = base + "policy/" + p.Get("PolicyName")
	case action == "GetUser" || strings.Contains(action, "AccessKey"):
		// Without UserName, these act on the caller.
		if c := edge.Principal(r.Context()); c != nil && c.Kind == iam.UserPrincipal {
			res = c.ARN
		}
	}
	return edge.Operation{Action: "iam:" + action, Resource: res}, nil
}

// Actions returns the IAM actions of the IAM and STS APIs' operations.
func Actions() []string {
	var out []string
	for _, op := range NewIAM(nil, nil).(*awsproto.QueryAPI).Operations() {
		out = append(out, "iam:"+op)
	}
	for _, op := range NewSTS(nil, nil).(*awsproto.QueryAPI).Operations() {
		out = append(out, "sts:"+op)
	}
	return out
}
