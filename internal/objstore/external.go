package objstore

import (
	"context"
	"fmt"
)

// What a Store other than Disk needs to read from a call's context: the
// parameters the S3 handler passes that way rather than as arguments.

// CustomerKey returns the SSE-C key ctx carries: the one given with
// WithCustomerKey, or with source set the copy source's
// (WithCopySourceCustomerKey); nil if none.
func CustomerKey(ctx context.Context, source bool) []byte { return customerKeyOf(ctx, source) }

// CopySourceVersion returns the copy source's version ctx names (see
// WithCopySourceVersion), "" for the current one.
func CopySourceVersion(ctx context.Context) string { return copySourceVersion(ctx) }

// WriteConditionOf returns the write condition ctx carries (see
// WithWriteCondition), or nil.
func WriteConditionOf(ctx context.Context) *WriteCondition { return writeCondition(ctx) }

// BypassGovernance reports whether ctx asks to bypass GOVERNANCE
// retention (see WithBypassGovernance).
func BypassGovernance(ctx context.Context) bool { return bypassGovernance(ctx) }

// ServiceError is a refusal a store gives in S3's own terms: an error
// another S3-compatible service answered that none of this package's
// errors names. The S3 handler answers it as it is.
type ServiceError struct {
	Status  int    // HTTP status
	Code    string // S3 error code, e.g. "InvalidRequest"
	Message string
}

func (e *ServiceError) Error() string {
	return fmt.Sprintf("objstore: %s (%d): %s", e.Code, e.Status, e.Message)
}
