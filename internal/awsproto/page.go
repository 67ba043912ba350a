package awsproto

import (
	"encoding/base64"
	"slices"
	"strings"
)

// Page cuts one page of at most limit items from sorted, a listing in
// ascending order of key, starting after the position that token (a
// NextToken, NextMarker or Marker an earlier page returned; empty for the
// first) names. next is the token of the following page, empty on the
// last; ok is false for a token that is not one of Page's.
//
// A token names the key of the last item returned, so a listing that
// changes between pages neither repeats nor skips the items that stay.
func Page[T any](sorted []T, key func(T) string, token string, limit int) (page []T, next string, ok bool) {
	start := 0
	if token != "" {
		b, err := base64.RawURLEncoding.DecodeString(token)
		if err != nil || len(b) == 0 {
			return nil, "", false
		}
		after := string(b)
		start, _ = slices.BinarySearchFunc(sorted, after, func(v T, k string) int { return strings.Compare(key(v), k) })
		if start < len(sorted) && key(sorted[start]) == after {
			start++
		}
	}
	page = sorted[start:]
	if limit > 0 && len(page) > limit {
		page = page[:limit]
		next = base64.RawURLEncoding.EncodeToString([]byte(key(page[len(page)-1])))
	}
	return page, next, true
}
