package function

import (
	"net/netip"
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
	// AllowNetTag lists, separated by spaces, IPv4 ranges (CIDRs) the
	// function's instances may reach although they are private or
	// link-local, on top of the server's --sandbox-allow-net.
	AllowNetTag = "aloft:allow-net"
)

// maxAllowNet bounds the ranges one function may name.
const maxAllowNet = 16

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
		if k == AllowNetTag {
			if _, err := ParseAllowNet(v); err != nil {
				return err
			}
		}
	}
	if tags[NetworkTag] == NetworkNone && tags[AllowNetTag] != "" {
		return InvalidParameter("The tags %s=%s and %s contradict each other: a function without a network reaches no range.", NetworkTag, NetworkNone, AllowNetTag)
	}
	return nil
}

// ParseAllowNet reads the value of AllowNetTag: IPv4 CIDRs (or single
// addresses) separated by spaces, at most 16.
func ParseAllowNet(v string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Fields(v) {
		p, err := netip.ParsePrefix(f)
		if err != nil {
			a, aerr := netip.ParseAddr(f)
			if aerr != nil {
				return nil, InvalidParameter("The tag %s must list IPv4 ranges such as 10.0.0.0/8 separated by spaces: %q is not one.", AllowNetTag, f)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		if !p.Addr().Is4() {
			return nil, InvalidParameter("The tag %s takes IPv4 ranges only: %q is not one.", AllowNetTag, f)
		}
		out = append(out, p.Masked())
	}
	if len(out) > maxAllowNet {
		return nil, InvalidParameter("The tag %s lists %d ranges; at most %d are allowed.", AllowNetTag, len(out), maxAllowNet)
	}
	return out, nil
}

// AllowNetOf returns the ranges AllowNetTag lists; tags were validated.
func AllowNetOf(tags map[string]string) []netip.Prefix {
	p, _ := ParseAllowNet(tags[AllowNetTag])
	return p
}

// NetworkOf returns the network mode tags choose: NetworkNone, or "" for
// the default.
func NetworkOf(tags map[string]string) string {
	if tags[NetworkTag] == NetworkNone {
		return NetworkNone
	}
	return ""
}
