package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"strings"
	"sync"
)

// maxCachedKeys bounds the signing-key cache. Keys change daily per secret,
// region and service, so a handful of entries cover normal traffic.
const maxCachedKeys = 1024

// keyCache memoizes derived signing keys. It is safe for concurrent use and
// its zero value is ready.
type keyCache struct {
	mu sync.RWMutex
	m  map[cacheKey][sha256.Size]byte
}

type cacheKey struct{ secret, date, region, service string }

// get returns the signing key for the scope, deriving and caching it on a
// miss. When the cache is full an arbitrary entry makes room.
func (c *keyCache) get(secret, date, region, service string) [sha256.Size]byte {
	k := cacheKey{secret, date, region, service}
	c.mu.RLock()
	key, ok := c.m[k]
	c.mu.RUnlock()
	if ok {
		return key
	}
	key = deriveKey(secret, date, region, service)
	// The scope strings point into the request; copy them before keeping.
	k = cacheKey{secret, strings.Clone(date), strings.Clone(region), strings.Clone(service)}
	c.mu.Lock()
	if c.m == nil {
		c.m = make(map[cacheKey][sha256.Size]byte)
	}
	if len(c.m) >= maxCachedKeys {
		for old := range c.m {
			delete(c.m, old)
			break
		}
	}
	c.m[k] = key
	c.mu.Unlock()
	return key
}

// deriveKey computes the SigV4 signing key: an HMAC-SHA256 chain from
// "AWS4"+secret over the day, region, service and "aws4_request".
func deriveKey(secret, date, region, service string) [sha256.Size]byte {
	key := []byte("AWS4" + secret)
	for _, part := range [...]string{date, region, service, terminator} {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(part))
		key = m.Sum(nil)
	}
	return [sha256.Size]byte(key)
}
