package function

import (
	"errors"
	"fmt"
)

// Code classifies an error for the layers that render it; each code maps to
// one HTTP status in the API layer.
type Code string

// Error codes.
const (
	ENOTFOUND     Code = "not_found"    // the named thing does not exist (404)
	ECONFLICT     Code = "conflict"     // the thing exists already or is busy (409)
	EINVALID      Code = "invalid"      // the request is malformed or out of range (400)
	ETOOLARGE     Code = "too_large"    // a payload or archive is over its limit (413)
	EUNAUTHORIZED Code = "unauthorized" // the caller could not be authenticated (403)
	ETHROTTLED    Code = "throttled"    // a concurrency or rate limit was hit (429)
	EUNSUPPORTED  Code = "unsupported"  // a media type or feature is not served (415)
	EINTERNAL     Code = "internal"     // anything else (500)
)

// Error is an error a client is meant to see: a code for the status, the
// AWS exception name for the x-amzn-ErrorType header, and a message.
type Error struct {
	Code    Code
	Type    string // AWS exception name, e.g. "ResourceNotFoundException"
	Message string
	Reason  string // optional machine-readable reason (throttling)
}

func (e *Error) Error() string { return e.Type + ": " + e.Message }

// Errorf builds an *Error of the given code and AWS type.
func Errorf(code Code, awsType, format string, args ...any) *Error {
	return &Error{Code: code, Type: awsType, Message: fmt.Sprintf(format, args...)}
}

// AsError returns the *Error inside err, or an internal error wrapping err's
// text when there is none.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Code: EINTERNAL, Type: "ServiceException", Message: err.Error()}
}

// ErrorCode returns the code of err, or EINTERNAL.
func ErrorCode(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// NotFound reports a missing function (ResourceNotFoundException).
func NotFound(arn string) *Error {
	return Errorf(ENOTFOUND, "ResourceNotFoundException", "Function not found: %s", arn)
}

// InvalidParameter reports a bad parameter value (InvalidParameterValueException).
func InvalidParameter(format string, args ...any) *Error {
	return Errorf(EINVALID, "InvalidParameterValueException", format, args...)
}

// Validation reports a constraint violation the way Lambda's front end does
// (ValidationException, "1 validation error detected: ...").
func Validation(value any, field, constraint string) *Error {
	return Errorf(EINVALID, "ValidationException",
		"1 validation error detected: Value '%v' at '%s' failed to satisfy constraint: %s", value, field, constraint)
}

// TooLarge reports an oversize request (RequestEntityTooLargeException).
func TooLarge(format string, args ...any) *Error {
	return Errorf(ETOOLARGE, "RequestEntityTooLargeException", format, args...)
}

// Throttled reports an invocation refused for lack of concurrency
// (TooManyRequestsException, 429) with Lambda's reason.
func Throttled(reason string) *Error {
	return &Error{Code: ETHROTTLED, Type: "TooManyRequestsException", Message: "Rate Exceeded.", Reason: reason}
}

// Throttle reasons.
const (
	ReasonReserved = "ReservedFunctionConcurrentInvocationLimitExceeded"
	ReasonAccount  = "ConcurrentInvocationLimitExceeded"
)
