// Package runtimeapi serves the Lambda Runtime API (2018-06-01) to one
// function instance. The invoker hands an invocation to Invoke; the
// instance's runtime long-polls GET /runtime/invocation/next, receives it,
// and answers with POST .../{id}/response or .../{id}/error. A runtime that
// cannot start posts /runtime/init/error. A response posted in streaming
// mode reaches the invocation's Sink as it arrives (stream.go).
//
// One server runs per instance on its own loopback port, so a request's
// connection identifies the instance and no routing table is shared between
// instances. Every warm invocation is two HTTP exchanges with the runtime,
// so the package speaks HTTP/1.1 itself, for its four endpoints only
// (conn.go): one goroutine per connection, buffers kept from request to
// request, the /next answer built in one buffer and sent in one write by
// whichever goroutine meets the invocation with the poll (server.go), and
// bodies read once into a buffer sized from Content-Length.
package runtimeapi
