package catalog

import (
	"net/http"
	"strings"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"

	"github.com/aloft-dev/aloft/internal/policy"
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

// MaxCachedDecisions bounds each authorizer's cache of answers. The keys
// come from callers (their identity source values), so without a bound a
// caller could fill memory by sending new values; beyond it the least
// recently used answer makes room, which costs that caller one more call
// of the authorizer at worst.
const MaxCachedDecisions = 10_000

// CompiledAuthorizer is an authorizer compiled for serving, with the
// cache of its answers. The cache lives as long as the snapshot: a
// change to the API empties it.
type CompiledAuthorizer struct {
	ID        string
	Function  string
	Qualifier string
	Sources   []IdentitySource
	TTL       time.Duration
	Simple    bool // EnableSimpleResponses

	// cache holds answers by the digest of the identity values; nil when
	// TTL is 0. It is a plain LRU: expiry is checked against the caller's
	// clock on each read (Decision.Expires), since the library's own
	// expiry would start a goroutine per snapshot that never ends.
	cache *expirable.LRU[[32]byte, *Decision]
}

// Decision is an authorizer's answer for one set of identity values, as
// it is cached: a policy is kept whole and evaluated for each request.
type Decision struct {
	// Allow is a simple response's isAuthorized. It does not count when
	// Policy is set.
	Allow bool
	// Policy is an IAM policy answer, to be evaluated against each
	// request's route ARN; nil for simple responses.
	Policy      *policy.Policy
	Context     []byte // a JSON object, or nil
	PrincipalID string // of an IAM policy answer
	// Caller is a digest of PrincipalID and Context: who the authorizer
	// says the caller is.
	Caller  [32]byte
	Expires time.Time
}

// Cached returns the decision held for key at now, if any.
func (z *CompiledAuthorizer) Cached(key [32]byte, now time.Time) *Decision {
	if z.cache == nil {
		return nil
	}
	d, ok := z.cache.Get(key)
	if !ok {
		return nil
	}
	if !now.Before(d.Expires) {
		z.cache.Remove(key)
		return nil
	}
	return d
}

// Remember caches d for key until now plus the TTL.
func (z *CompiledAuthorizer) Remember(key [32]byte, d *Decision, now time.Time) {
	if z.cache == nil {
		return
	}
	d.Expires = now.Add(z.TTL)
	z.cache.Add(key, d)
}

// CachedLen returns how many decisions the cache holds, expired ones
// included until they are read or pushed out.
func (z *CompiledAuthorizer) CachedLen() int {
	if z.cache == nil {
		return 0
	}
	return z.cache.Len()
}

func compileAuthorizer(z *Authorizer) *CompiledAuthorizer {
	c := &CompiledAuthorizer{ID: z.ID, TTL: time.Duration(z.ResultTTLInSeconds) * time.Second, Simple: z.EnableSimpleResponses}
	if c.TTL > 0 {
		c.cache = expirable.NewLRU[[32]byte, *Decision](MaxCachedDecisions, nil, 0)
	}
	c.Function, c.Qualifier, _ = ParseFunctionURI(z.URI)
	for _, s := range z.IdentitySource {
		if src, err := parseIdentitySource(s); err == nil {
			c.Sources = append(c.Sources, src)
		}
	}
	return c
}
