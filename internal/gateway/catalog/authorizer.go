package catalog

import (
	"net/http"
	"strings"
	"sync"
	"time"
)

// IdentitySourceKind says where an identity source is read.
type IdentitySourceKind uint8

// Identity source kinds.
const (
	FromHeader        IdentitySourceKind = iota + 1 // $request.header.<name>
	FromQuery                                       // $request.querystring.<name>
	FromStageVariable                               // $stageVariables.<name>
	FromContext                                     // $context.<name>
)

// IdentitySource is one compiled identity source.
type IdentitySource struct {
	Kind IdentitySourceKind
	Name string // canonical header name, query or stage variable name, or context field
}

func parseIdentitySource(s string) (IdentitySource, error) {
	for _, p := range [...]struct {
		prefix string
		kind   IdentitySourceKind
	}{{"$request.header.", FromHeader}, {"$request.querystring.", FromQuery}, {"$stageVariables.", FromStageVariable}, {"$context.", FromContext}} {
		if name, ok := strings.CutPrefix(s, p.prefix); ok && name != "" {
			if p.kind == FromHeader {
				name = http.CanonicalHeaderKey(name)
			}
			return IdentitySource{Kind: p.kind, Name: name}, nil
		}
	}
	return IdentitySource{}, invalidf("Invalid identity source %s: want $request.header.<name>, $request.querystring.<name>, $stageVariables.<name> or $context.<name>", s)
}

// CompiledAuthorizer is an authorizer compiled for serving, with the
// cache of its decisions. The cache lives as long as the snapshot: a
// change to the API empties it.
type CompiledAuthorizer struct {
	ID        string
	Function  string
	Qualifier string
	Sources   []IdentitySource
	TTL       time.Duration
	Simple    bool // EnableSimpleResponses

	cache sync.Map // identity values joined by "\x00" → *Decision
}

// Decision is an authorizer's answer for one set of identity values.
type Decision struct {
	Allow       bool
	Context     []byte // a JSON object, or nil
	PrincipalID string // of an IAM policy answer
	Expires     time.Time
}

// Cached returns the decision held for key at now, if any.
func (z *CompiledAuthorizer) Cached(key string, now time.Time) *Decision {
	if z.TTL <= 0 {
		return nil
	}
	v, ok := z.cache.Load(key)
	if !ok {
		return nil
	}
	d := v.(*Decision)
	if !now.Before(d.Expires) {
		z.cache.CompareAndDelete(key, v)
		return nil
	}
	return d
}

// Remember caches d for key until now plus the TTL.
func (z *CompiledAuthorizer) Remember(key string, d *Decision, now time.Time) {
	if z.TTL <= 0 {
		return
	}
	d.Expires = now.Add(z.TTL)
	z.cache.Store(key, d)
}

func compileAuthorizer(z *Authorizer) *CompiledAuthorizer {
	c := &CompiledAuthorizer{ID: z.ID, TTL: time.Duration(z.ResultTTLInSeconds) * time.Second, Simple: z.EnableSimpleResponses}
	c.Function, c.Qualifier, _ = ParseFunctionURI(z.URI)
	for _, s := range z.IdentitySource {
		if src, err := parseIdentitySource(s); err == nil {
			c.Sources = append(c.Sources, src)
		}
	}
	return c
}
