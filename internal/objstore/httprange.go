package objstore

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ErrInvalidRange is ParseRange's error for a range no byte of the object
// satisfies.
var ErrInvalidRange = errors.New("objstore: the requested range is not satisfiable")

// ParseRange interprets an HTTP Range header for an object of size bytes
// as S3 does. One range is served: a header it cannot use (another unit,
// several ranges, bad syntax) means the whole object. A range that starts
// past the end is ErrInvalidRange.
func ParseRange(h string, size int64) (start, length int64, partial bool, err error) {
	spec, ok := strings.CutPrefix(strings.TrimSpace(h), "bytes=")
	if !ok || strings.Contains(spec, ",") {
		return 0, size, false, nil
	}
	first, last, ok := strings.Cut(strings.TrimSpace(spec), "-")
	if !ok {
		return 0, size, false, nil
	}
	invalid := ErrInvalidRange
	if first == "" {
		n, perr := strconv.ParseInt(last, 10, 64)
		if perr != nil || n < 0 {
			return 0, size, false, nil
		}
		if n == 0 || size == 0 {
			return 0, 0, false, invalid
		}
		n = min(n, size)
		return size - n, n, true, nil
	}
	a, perr := strconv.ParseInt(first, 10, 64)
	if perr != nil || a < 0 {
		return 0, size, false, nil
	}
	b := size - 1
	if last != "" {
		if b, perr = strconv.ParseInt(last, 10, 64); perr != nil || b < a {
			return 0, size, false, nil
		}
		b = min(b, size-1)
	}
	if a >= size {
		return 0, 0, false, invalid
	}
	return a, b - a + 1, true, nil
}

// ETagListHas reports whether a list of entity tags from If-Match or
// If-None-Match names etag (an object's ETag, unquoted), or is "*". Weak
// tags compare like strong ones, as S3 compares them.
func ETagListHas(list, etag string) bool {
	for _, t := range strings.Split(list, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || strings.Trim(t, `"`) == etag {
			return true
		}
	}
	return false
}

// NotModified reports whether a read with these If-None-Match and
// If-Modified-Since headers may be answered 304: If-None-Match names etag,
// or, without If-None-Match, If-Modified-Since is no older than modified
// (compared to the second, as Last-Modified carries it).
func NotModified(ifNoneMatch, ifModifiedSince, etag string, modified time.Time) bool {
	if ifNoneMatch != "" {
		return ETagListHas(ifNoneMatch, etag)
	}
	t, err := http.ParseTime(ifModifiedSince)
	return ifModifiedSince != "" && err == nil && !modified.UTC().Truncate(time.Second).After(t)
}
