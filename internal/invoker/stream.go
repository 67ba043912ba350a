package invoker

import "github.com/aloft-dev/aloft/internal/runtimeapi"

// Stream receives the body of a response a function streams, piece by
// piece as the runtime sends it (runtimeapi.Sink): Start once with its
// Content-Type, then each piece to Write. The invocation's Response then
// has Streamed set and carries no body; a failure part way (the
// function's error, a timeout, the runtime's exit, a stream over
// runtimeapi.MaxStreamedResponse) is its FunctionError and Payload, as
// for any invocation. A function that answers whole gives a Response
// with the body, as without a Stream.
//
// Nothing reaches a Stream after Invoke returns. A write to it that
// blocks holds the invocation's instance, so a Stream that writes to a
// network peer bounds its writes in time.
type Stream = runtimeapi.Sink
