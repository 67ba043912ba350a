package objstore

import (
	"errors"
	"strconv"
	"strings"
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
