package function

import (
	"errors"
	"fmt"

	"github.com/aloft-dev/aloft/internal/awsproto"
	"github.com/aloft-dev/aloft/internal/fault"
)

// Error is an error a client is meant to see: its kind (which gives the
// status), Lambda's exception name for the x-amzn-ErrorType header, and
// a message.
type Error struct {
	Kind    fault.Kind
	Type    string // AWS exception name, e.g. "ResourceNotFoundException"
	Message string
	Reason  string // optional machine-readable reason (throttling)
}

func (e *Error) Error() string { return e.Type + ": " + e.Message }

// FaultKind returns e's kind.
func (e *Error) FaultKind() fault.Kind { return e.Kind }

// Errorf builds an *Error of kind k and AWS type.
func Errorf(k fault.Kind, awsType, format string, args ...any) *Error {
	return &Error{Kind: k, Type: awsType, Message: fmt.Sprintf(format, args...)}
}

// AsError returns the *Error inside err. When there is none, it returns
// Lambda's 503 ServiceException, as awsproto.Unavailable words it, for an
// error of kind fault.Unavailable (a write the cluster cannot take now,
// which the caller may send again), and an internal error wrapping err's
// text for any other.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	if u := awsproto.Unavailable(awsproto.Lambda, err); u != nil {
		return &Error{Kind: fault.Unavailable, Type: u.Code, Message: u.Message}
	}
	return &Error{Kind: fault.Internal, Type: "ServiceException", Message: err.Error()}
}

// NotFound reports a missing function (ResourceNotFoundException).
func NotFound(arn string) *Error {
	return Errorf(fault.NotFound, "ResourceNotFoundException", "Function not found: %s", arn)
}

// InvalidParameter reports a bad parameter value (InvalidParameterValueException).
func InvalidParameter(format string, args ...any) *Error {
	return Errorf(fault.Invalid, "InvalidParameterValueException", format, args...)
}

// Validation reports a constraint violation the way Lambda's front end does
// (ValidationException, "1 validation error detected: ...").
func Validation(value any, field, constraint string) *Error {
	return Errorf(fault.Invalid, "ValidationException",
		"1 validation error detected: Value '%v' at '%s' failed to satisfy constraint: %s", value, field, constraint)
}

// TooLarge reports an oversize request (RequestEntityTooLargeException).
func TooLarge(format string, args ...any) *Error {
	return Errorf(fault.TooLarge, "RequestEntityTooLargeException", format, args...)
}

// Throttled reports an invocation refused for lack of concurrency
// (TooManyRequestsException, 429) with Lambda's reason.
func Throttled(reason string) *Error {
	return &Error{Kind: fault.Throttled, Type: "TooManyRequestsException", Message: "Rate Exceeded.", Reason: reason}
}

// Throttle reasons.
const (
	ReasonReserved = "ReservedFunctionConcurrentInvocationLimitExceeded"
	ReasonAccount  = "ConcurrentInvocationLimitExceeded"
)
