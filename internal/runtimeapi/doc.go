// Package runtimeapi serves the Lambda Runtime API (2018-06-01) to one
// function instance. The invoker hands an invocation to Invoke; the
// instance's runtime long-polls GET /runtime/invocation/next, receives it,
// and answers with POST .../{id}/response or .../{id}/error. A runtime that
// cannot start posts /runtime/init/error. A response posted in streaming
// mode reaches the invocation's Sink as it arrives (stream.go).
//
// One server runs per instance on its own loopback port, so a request's
// connection identifies the instance and no routing table is shared between
// instances. The handlers are written for the invoke hot path: no ServeMux,
// no per-request maps beyond the response headers, bodies read once into a
// buffer sized from Content-Length.
package runtimeapi
