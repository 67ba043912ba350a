package objstore

import (
	"context"
	"errors"
	"io/fs"
	"strings"
)

// ErrPreconditionFailed is what a conditional write whose condition does
// not hold returns; nothing was written. A write whose If-Match names a key
// that does not exist returns ErrNoSuchKey instead.
var ErrPreconditionFailed = errors.New("objstore: precondition failed")

// WriteCondition is what must hold of a key, at the moment a write
// commits, for the write to happen: S3's conditional writes.
type WriteCondition struct {
	// IfNoneMatch: the key must not exist (If-None-Match: *).
	IfNoneMatch bool
	// IfMatch, if set, is an If-Match value (one ETag, "*" or a
	// comma-separated list, quotes optional) the key's current ETag must
	// match; the key must exist.
	IfMatch string
}

// conditionKey is the context key of a WriteCondition.
type conditionKey struct{}

// WithWriteCondition returns ctx carrying c: PutObject, CopyObject (of
// its destination) and CompleteUpload called with it check c under the
// key's lock, against the object as it is when the new one would replace
// it, so that of two conditional writers of one key exactly one can win;
// DeleteObject checks its IfMatch the same way before it deletes.
func WithWriteCondition(ctx context.Context, c WriteCondition) context.Context {
	if !c.IfNoneMatch && c.IfMatch == "" {
		return ctx
	}
	return context.WithValue(ctx, conditionKey{}, &c)
}

// writeCondition returns the condition ctx carries, or nil.
func writeCondition(ctx context.Context) *WriteCondition {
	if ctx == nil {
		return nil
	}
	c, _ := ctx.Value(conditionKey{}).(*WriteCondition)
	return c
}

// check tests c against the object at path; the caller holds the key's
// lock.
func (c *WriteCondition) check(path string) error {
	if c == nil {
		return nil
	}
	m, err := statMeta(path)
	exists := err == nil && !m.DeleteMarker
	if err != nil && !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, errNotDir) {
		return err
	}
	if c.IfNoneMatch && exists {
		return ErrPreconditionFailed
	}
	if c.IfMatch != "" {
		if !exists {
			return ErrNoSuchKey
		}
		if !ETagListHas(c.IfMatch, m.ETag) {
			return ErrPreconditionFailed
		}
	}
	return nil
}

// ValidIfNoneMatch reports whether v is an If-None-Match value a write
// can carry: only "*" (S3 takes no ETag list on writes).
func ValidIfNoneMatch(v string) bool { return strings.TrimSpace(v) == "*" }
