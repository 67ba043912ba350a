package queues

import (
	"fmt"

	"github.com/aloft-dev/aloft/internal/fault"
)

// Error is a refusal of the queue service: a Kind for the HTTP status
// and Code, the name SQS gives the error (QueueDoesNotExist,
// ReceiptHandleIsInvalid, ...).
type Error struct {
	Kind    fault.Kind
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// FaultKind returns e's kind.
func (e *Error) FaultKind() fault.Kind { return e.Kind }

// The codes of SQS's errors that the service returns.
const (
	QueueDoesNotExist            = "QueueDoesNotExist"
	QueueNameExists              = "QueueNameExists"
	InvalidAttributeName         = "InvalidAttributeName"
	InvalidAttributeValue        = "InvalidAttributeValue"
	InvalidParameterValue        = "InvalidParameterValue"
	MissingParameter             = "MissingParameter"
	InvalidMessageContents       = "InvalidMessageContents"
	ReceiptHandleIsInvalid       = "ReceiptHandleIsInvalid"
	PurgeQueueInProgress         = "PurgeQueueInProgress"
	UnsupportedOperation         = "UnsupportedOperation"
	TooManyEntriesInBatchRequest = "TooManyEntriesInBatchRequest"
	EmptyBatchRequest            = "EmptyBatchRequest"
	BatchEntryIdsNotDistinct     = "BatchEntryIdsNotDistinct"
	InvalidBatchEntryID          = "InvalidBatchEntryId"
	BatchRequestTooLong          = "BatchRequestTooLong"
	ResourceNotFound             = "ResourceNotFoundException"
)

func errorf(k fault.Kind, code, format string, args ...any) *Error {
	return &Error{Kind: k, Code: code, Message: fmt.Sprintf(format, args...)}
}

func invalid(code, format string, args ...any) *Error {
	return errorf(fault.Invalid, code, format, args...)
}

func noQueue() *Error {
	return invalid(QueueDoesNotExist, "The specified queue does not exist.")
}
