package observe

import (
	"sync"
	"sync/atomic"
)

// cowMap is a map read without locks or allocation and written by
// copying: for small sets written rarely (one entry per function), read
// on every invocation.
type cowMap[V any] struct {
	mu sync.Mutex // serialises writers
	m  atomic.Pointer[map[string]V]
}

// load returns the value under k.
func (c *cowMap[V]) load(k string) (V, bool) {
	if m := c.m.Load(); m != nil {
		v, ok := (*m)[k]
		return v, ok
	}
	var zero V
	return zero, false
}

// loadOrStore returns the value under k, storing mk() there first if
// there is none.
func (c *cowMap[V]) loadOrStore(k string, mk func() V) V {
	if v, ok := c.load(k); ok {
		return v
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.m.Load()
	if old != nil {
		if v, ok := (*old)[k]; ok {
			return v
		}
	}
	n := make(map[string]V, 1+lenOf(old))
	if old != nil {
		for k2, v2 := range *old {
			n[k2] = v2
		}
	}
	v := mk()
	n[k] = v
	c.m.Store(&n)
	return v
}

// delete removes k.
func (c *cowMap[V]) delete(k string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.m.Load()
	if old == nil {
		return
	}
	if _, ok := (*old)[k]; !ok {
		return
	}
	n := make(map[string]V, len(*old))
	for k2, v2 := range *old {
		if k2 != k {
			n[k2] = v2
		}
	}
	c.m.Store(&n)
}

func lenOf[V any](m *map[string]V) int {
	if m == nil {
		return 0
	}
	return len(*m)
}
