package function

import (
	"strings"
	"unicode/utf8"
)

// Tags Aloft reads from a function's tags.
const (
	// NetworkTag chooses how a function's instances reach the network:
	// NetworkDefault (outbound connections, as on Lambda) or NetworkNone
	// (nothing but the Runtime API).
	NetworkTag     = "aloft:network"
	NetworkDefault = "default"
	NetworkNone    = "none"
)

// MaxTags is how many tags a function may have.
const MaxTags = 50

// ValidateTags checks tags as Lambda does (at most 50; keys of 1 to 128
// characters that do not start with "aws:"; values of at most 256) and the
// values of Aloft's own tags.
func ValidateTags(tags map[string]string) error {
	if len(tags) > MaxTags {
		return InvalidParameter("A function can have at most %d tags; %d were given.", MaxTags, len(tags))
	}
	for k, v := range tags {
		if n := utf8.RuneCountInString(k); n < 1 || n > 128 {
			return InvalidParameter("Tag keys must be 1 to 128 characters long: %q", k)
		}
		if strings.HasPrefix(strings.ToLower(k), "aws:") {
			return InvalidParameter("Tag keys may not start with the reserved prefix aws: %q", k)
		}
		if utf8.RuneCountInString(v) > 256 {
			return InvalidParameter("Tag values must be at most 256 characters long: the value of %q", k)
		}
		if k == NetworkTag && v != NetworkDefault && v != NetworkNone {
			return InvalidParameter("The tag %s must be %q or %q, not %q.", NetworkTag, NetworkDefault, NetworkNone, v)
		}
	}
	return nil
}

// NetworkOf returns the network mode tags choose: NetworkNone, or "" for
// the default.
func NetworkOf(tags map[string]string) string {
	if tags[NetworkTag] == NetworkNone {
		return NetworkNone
	}
	return ""
}
