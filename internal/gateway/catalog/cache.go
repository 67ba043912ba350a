package catalog

import (
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Response caching is an Aloft extension of routes: aloftCacheTtlInSeconds
// (1 to MaxCacheTTL) makes the gateway keep a route's 200 answers to GET
// and HEAD requests, keyed by stage, path, query, the values of the
// headers aloftCacheKeyHeaders names and, on routes behind an authorizer
// or an API key, who the caller is.
const (
	MaxCacheTTL     = 3600
	MaxCacheEntries = 1024    // per route; beyond it answers are not kept until entries expire
	MaxCachedBody   = 1 << 20 // bytes of one kept answer
	maxCacheHeaders = 10
	cacheKeySep     = "\x00"
)

// ResponseCache holds a route's cached answers. It lives as long as the
// snapshot: a change to the API empties it.
type ResponseCache struct {
	TTL     time.Duration
	Headers []string // canonical names of the headers in the key

	entries sync.Map // key → *CachedResponse
	n       atomic.Int64
}

// CachedResponse is one kept answer.
type CachedResponse struct {
	Status  int
	Header  http.Header
	Body    string
	Expires time.Time
}

// Key returns the cache key of a request served by stage. caller, when
// not nil, identifies the caller (a digest of what the route's authorizer
// and API key saw), so that two callers never share an answer.
func (c *ResponseCache) Key(stage string, r *http.Request, caller *[32]byte) string {
	path := r.URL.EscapedPath()
	var b strings.Builder
	b.Grow(1 + len(caller) + len(stage) + len(path) + 2 + len(r.URL.RawQuery) + 16*len(c.Headers))
	if caller != nil {
		b.WriteByte(1)
		b.Write(caller[:])
	} else {
		b.WriteByte(0)
	}
	b.WriteString(stage)
	b.WriteString(cacheKeySep)
	b.WriteString(path)
	b.WriteString("?")
	b.WriteString(r.URL.RawQuery)
	for _, h := range c.Headers {
		b.WriteString(cacheKeySep)
		for i, v := range r.Header[h] {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(v)
		}
	}
	return b.String()
}

// Get returns the answer kept for key at now, if any.
func (c *ResponseCache) Get(key string, now time.Time) *CachedResponse {
	v, ok := c.entries.Load(key)
	if !ok {
		return nil
	}
	e := v.(*CachedResponse)
	if !now.Before(e.Expires) {
		if c.entries.CompareAndDelete(key, v) {
			c.n.Add(-1)
		}
		return nil
	}
	return e
}

// Put keeps an answer for key from now, unless the cache is full or the
// body too large.
func (c *ResponseCache) Put(key string, e *CachedResponse, now time.Time) {
	if len(e.Body) > MaxCachedBody || c.n.Load() >= MaxCacheEntries {
		return
	}
	e.Expires = now.Add(c.TTL)
	if _, loaded := c.entries.Swap(key, e); !loaded {
		c.n.Add(1)
	}
}

func checkCache(r *Route) error {
	if r.CacheTTLInSeconds < 0 || r.CacheTTLInSeconds > MaxCacheTTL {
		return invalidf("aloftCacheTtlInSeconds must be between 0 and %d", MaxCacheTTL)
	}
	if len(r.CacheKeyHeaders) > maxCacheHeaders {
		return invalidf("aloftCacheKeyHeaders names at most %d headers", maxCacheHeaders)
	}
	return nil
}

func compileCache(r *Route) *ResponseCache {
	if r.CacheTTLInSeconds <= 0 {
		return nil
	}
	c := &ResponseCache{TTL: time.Duration(r.CacheTTLInSeconds) * time.Second}
	for _, h := range r.CacheKeyHeaders {
		c.Headers = append(c.Headers, http.CanonicalHeaderKey(h))
	}
	return c
}
