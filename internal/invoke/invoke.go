// Package invoke is the one seam through which the APIs, the gateway and
// the event sources run functions: it builds the invoker's request for a
// stored function, so that every path that runs a function synchronously
// (the Lambda Invoke API, the HTTP gateway, the asynchronous queue's
// deliveries) asks the invoker the same way, and names the invoker's
// request, response and failure types for them. Only this package (and
// the app that builds the invoker) imports package invoker.
package invoke

import (
	"github.com/aloft-dev/aloft/internal/function"
	"github.com/aloft-dev/aloft/internal/invoker"
	"github.com/aloft-dev/aloft/internal/registry"
)

// The invoker's types, as its callers see them.
type (
	// Invocation is a request to run a function once.
	Invocation = invoker.Request
	// Response is a function's answer, or its failure.
	Response = invoker.Response
	// Failure is a failure outside the function's own code.
	Failure = invoker.Failure
	// FailureKind is the kind of a Failure.
	FailureKind = invoker.FailureKind
	// Observation is what one invocation did, for metrics and traces.
	Observation = invoker.Observation
	// Outcome is how an invocation ended.
	Outcome = invoker.Outcome
	// FunctionState is one function's instances and running invocations.
	FunctionState = invoker.FunctionState
)

// The outcomes of an invocation.
const (
	Succeeded     = invoker.Succeeded
	FunctionError = invoker.FunctionError
	Failed        = invoker.Failed
	Throttled     = invoker.Throttled
)

// The failure kinds callers tell apart.
const FailTimeout = invoker.FailTimeout

// Request returns a request that invokes the current configuration of
// rec with payload. reservedTotal is the concurrency reserved by all
// functions (Registry.ReservedTotal). The region and invoked ARN are the
// function's own; a caller that knows better (the region of a signed
// request, a qualified ARN) sets them on the result.
func Request(rec *registry.Record, reservedTotal int, payload []byte) *invoker.Request {
	return &invoker.Request{
		Config:        &rec.Config,
		Revision:      rec.Revision(),
		Reserved:      rec.Reserved,
		ReservedTotal: reservedTotal,
		Region:        rec.Region,
		CodeKey:       rec.CodeHex,
		InvokedARN:    rec.Config.FunctionArn,
		Payload:       payload,
	}
}

// For returns a request that invokes what t resolved to (a version of a
// function, perhaps through an alias) with payload; the invoked ARN is
// t's, qualifier included.
func For(t *registry.Target, reservedTotal int, payload []byte) *invoker.Request {
	req := Request(t.Record, reservedTotal, payload)
	req.Config, req.CodeKey, req.InvokedARN = t.Config, t.CodeKey, t.ARN
	return req
}

// PoolKey names the instances of a configuration ($LATEST's or a
// version's) for the invoker's per-pool counts.
func PoolKey(cfg *function.Config) string { return invoker.PoolKey(cfg) }

// Store is where stored functions are found (*registry.Registry).
type Store interface {
	Get(name string) (*registry.Record, bool)
	ReservedTotal() int
}

// Functions prepares invocations of stored functions by name, for the
// callers that know a function only by name (the gateway's integrations
// and authorizers).
type Functions struct{ Store Store }

// Prepare returns a request that invokes function name at qualifier
// (empty, $LATEST, a version or an alias) with payload; ok is false when
// there is no such function, version or alias.
func (f Functions) Prepare(name, qualifier string, payload []byte) (req *Invocation, ok bool) {
	rec, ok := f.Store.Get(name)
	if !ok {
		return nil, false
	}
	t, err := rec.Resolve(qualifier)
	if err != nil {
		return nil, false
	}
	return For(t, f.Store.ReservedTotal(), payload), true
}
