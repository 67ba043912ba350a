package catalog

import (
	"errors"
	"fmt"
)

// Kind classifies an Error for the APIs that render it.
type Kind uint8

// Error kinds.
const (
	Invalid  Kind = iota + 1 // the request is malformed or out of range
	NotFound                 // the named thing does not exist
	Conflict                 // the thing exists already, or clashes with another
)

// Error is an error a client is meant to see.
type Error struct {
	Kind    Kind
	Message string
}

func (e *Error) Error() string { return e.Message }

// KindOf returns the kind of err, or 0 when it is not an *Error.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return 0
}

func notFound(format string, args ...any) error {
	return &Error{Kind: NotFound, Message: fmt.Sprintf(format, args...)}
}
