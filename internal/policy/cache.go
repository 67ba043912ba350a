package policy

import "sync"

// Cache keeps resource-based policies parsed, by the resource they
// belong to, so that the front door parses a queue's, topic's or
// function's policy once per change of its document.
type Cache struct{ m sync.Map } // resource: *cached

type cached struct {
	doc string
	p   *Policy
}

// Get returns doc, the policy document of resource, parsed: nil for an
// empty document, and a policy that allows nothing for one that cannot
// be parsed (documents are checked when they are set).
func (c *Cache) Get(resource, doc string) *Policy {
	if doc == "" {
		return nil
	}
	if v, ok := c.m.Load(resource); ok && v.(*cached).doc == doc {
		return v.(*cached).p
	}
	p, err := ParseResource([]byte(doc))
	if err != nil {
		p = &Policy{}
	}
	c.m.Store(resource, &cached{doc, p})
	return p
}
