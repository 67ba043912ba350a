// Package invoke builds the invoker's request for a stored function, so
// that every path that runs a function synchronously (the Lambda Invoke
// API, the HTTP gateway, the asynchronous queue's deliveries) asks the
// invoker the same way.
package invoke

import (
	"github.com/aloft-dev/aloft/internal/invoker"
	"github.com/aloft-dev/aloft/internal/registry"
)

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
