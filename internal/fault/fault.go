// Package fault is the one vocabulary in which Aloft's domain packages say
// why they refused a request: a Kind, which each API package renders as
// its wire's status and exception name (awsproto.Status gives the
// status), and a message meant for the caller. Domain packages return
// *Error, or their own error types carrying a Kind; they never speak HTTP.
package fault

import (
	"errors"
	"fmt"
)

// Kind classifies a refusal.
type Kind uint8

// The kinds. The zero Kind means the error is not a refusal: a failure
// of the server's own, which clients see as an internal error.
const (
	Internal           Kind = iota // the server failed (500)
	Invalid                        // the request is malformed or out of range (400)
	NotFound                       // the named thing does not exist (404)
	Conflict                       // it exists already, is busy, or clashes with another (409)
	PreconditionFailed             // a revision or condition the caller gave no longer holds (412)
	TooLarge                       // a payload or archive is over its limit (413)
	Unsupported                    // a media type or feature is not served (415)
	Denied                         // the caller may not do this, or was not authenticated (403)
	Throttled                      // a concurrency or rate limit was hit (429)
	// Unavailable: the server cannot do this now, though it may soon,
	// and the request may be sent again (503): on a node of a cluster,
	// that its backbone has no majority to take a write.
	Unavailable
)

var names = [...]string{"internal", "invalid", "not found", "conflict", "precondition failed", "too large", "unsupported", "denied", "throttled", "unavailable"}

// String names the kind.
func (k Kind) String() string {
	if int(k) < len(names) {
		return names[k]
	}
	return fmt.Sprintf("kind %d", k)
}

// Error is a refusal with a message for the caller.
type Error struct {
	Kind    Kind
	Message string
}

// Error returns the message.
func (e *Error) Error() string { return e.Message }

// Errorf returns an *Error of kind k with a formatted message.
func Errorf(k Kind, format string, args ...any) *Error {
	return &Error{Kind: k, Message: fmt.Sprintf(format, args...)}
}

// Kinded is an error that carries a Kind: *Error, and the domain error
// types that add fields of their own (function.Error, say).
type Kinded interface {
	error
	FaultKind() Kind
}

// FaultKind returns e's kind.
func (e *Error) FaultKind() Kind { return e.Kind }

// KindOf returns the kind of the first error in err's chain that has
// one, or Internal.
func KindOf(err error) Kind {
	var k Kinded
	if errors.As(err, &k) {
		return k.FaultKind()
	}
	return Internal
}
