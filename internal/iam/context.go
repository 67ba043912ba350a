package iam

import (
	"strconv"
	"strings"
	"time"

	"github.com/aloft-dev/aloft/internal/awsproto"
	"github.com/aloft-dev/aloft/internal/policy"
)

// Request is what a policy's conditions may ask of one request beyond
// who signed it: where it came from, when, over what, for which region,
// and the service's own condition keys (s3:prefix, ...). The zero
// Request knows none of these.
type Request struct {
	SourceIP string // the client's address, without port
	Time     time.Time
	Secure   bool   // it came over TLS
	Region   string // of the signature's scope
	// Keys are the service's condition keys, by their names in lower
	// case.
	Keys map[string][]string

	p   *Principal
	val [1]string // scratch for one computed value
}

// Values gives a condition key's values (policy.Context).
func (r *Request) Values(key string) ([]string, bool) {
	switch {
	case strings.EqualFold(key, "aws:SourceIp"):
		return r.one(r.SourceIP)
	case strings.EqualFold(key, "aws:CurrentTime"):
		if r.Time.IsZero() {
			return nil, false
		}
		return r.one(r.Time.UTC().Format(time.RFC3339))
	case strings.EqualFold(key, "aws:EpochTime"):
		if r.Time.IsZero() {
			return nil, false
		}
		return r.one(strconv.FormatInt(r.Time.Unix(), 10))
	case strings.EqualFold(key, "aws:SecureTransport"):
		return r.one(strconv.FormatBool(r.Secure))
	case strings.EqualFold(key, "aws:RequestedRegion"):
		return r.one(r.Region)
	}
	if r.p != nil {
		if v, ok := r.p.Values(key); ok {
			return v, true
		}
	}
	if len(r.Keys) > 0 {
		v, ok := r.Keys[strings.ToLower(key)]
		return v, ok
	}
	return nil, false
}

func (r *Request) one(v string) ([]string, bool) {
	if v == "" {
		return nil, false
	}
	r.val[0] = v
	return r.val[:], true
}

// Values gives the condition keys that describe the principal
// (policy.Context): aws:username, aws:userid, aws:PrincipalArn,
// aws:PrincipalType and aws:PrincipalAccount.
func (p *Principal) Values(key string) ([]string, bool) {
	var v []string
	switch {
	case strings.EqualFold(key, "aws:username"):
		if p.Kind != UserPrincipal {
			return nil, false
		}
		v = p.keys.username
	case strings.EqualFold(key, "aws:userid"):
		v = p.keys.userid
	case strings.EqualFold(key, "aws:PrincipalArn"):
		v = p.keys.arn
	case strings.EqualFold(key, "aws:PrincipalType"):
		v = p.keys.typ
	case strings.EqualFold(key, "aws:PrincipalAccount"):
		v = accountValues
	default:
		return nil, false
	}
	return v, len(v) > 0
}

var accountValues = []string{awsproto.AccountID}

// principalKeys are a principal's condition key values, made once.
type principalKeys struct {
	username, userid, arn, typ []string
}

// withKeys fills p's condition key values.
func (p *Principal) withKeys() *Principal {
	p.keys.userid = []string{p.UserID}
	switch p.Kind {
	case UserPrincipal:
		p.keys.username = []string{p.Name}
		p.keys.arn = []string{p.ARN}
		p.keys.typ = []string{"User"}
	case RolePrincipal:
		// A role session's principal ARN is its role's.
		p.keys.arn = []string{"arn:aws:iam::" + awsproto.AccountID + ":role/" + p.Name}
		p.keys.typ = []string{"AssumedRole"}
	default:
		p.keys.arn = []string{p.ARN}
		p.keys.typ = []string{"Account"}
	}
	return p
}

var _ policy.Context = (*Request)(nil)
var _ policy.Context = (*Principal)(nil)
