package metrics

import "fmt"

// Codes of the refusals, as CloudWatch's query protocol names them.
const (
	InvalidParameterValue       = "InvalidParameterValue"
	InvalidParameterCombination = "InvalidParameterCombination"
	MissingParameter            = "MissingParameter"
	LimitExceeded               = "LimitExceeded"
	ResourceNotFound            = "ResourceNotFound"
	InvalidNextToken            = "InvalidNextToken"
)

// Error is a refusal of a request, with CloudWatch's code and message.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

func errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

func invalid(format string, args ...any) *Error {
	return errorf(InvalidParameterValue, format, args...)
}

func missing(param string) *Error {
	return errorf(MissingParameter, "The parameter %s is required.", param)
}
