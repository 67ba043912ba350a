package objstore

import (
	"net/netip"
	"strings"
	"unicode/utf8"
)

// segLimit ends a key segment once its encoding reaches this many bytes.
// One byte encodes to at most 3, so an encoded segment has at most
// segLimit+2 bytes, and its name with the suffix at most segLimit+4.
const segLimit = 237

const (
	fileSuffix = ".o"
	dirSuffix  = ".d"
)

// keptByte reports whether b stands for itself in an encoded name.
func keptByte(b byte) bool {
	return 'a' <= b && b <= 'z' || '0' <= b && b <= '9' || b == '-' || b == '_'
}

// encodeKey returns the path components of key under a bucket's keys
// directory: directory names ending in ".d" and a file name ending in
// ".o". Each is safe as one path element.
func encodeKey(key string) []string {
	const hex = "0123456789ABCDEF"
	var parts []string
	var b strings.Builder
	for i := 0; i < len(key); i++ {
		c := key[i]
		if keptByte(c) {
			b.WriteByte(c)
		} else {
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
		if b.Len() >= segLimit && i+1 < len(key) {
			parts = append(parts, b.String()+dirSuffix)
			b.Reset()
		}
	}
	return append(parts, b.String()+fileSuffix)
}

// decodeName decodes one directory entry of the key tree into its key
// segment, and reports whether it names a directory. ok is false for names
// encodeKey cannot produce.
func decodeName(name string) (seg string, dir, ok bool) {
	switch {
	case strings.HasSuffix(name, fileSuffix):
	case strings.HasSuffix(name, dirSuffix):
		dir = true
	default:
		return "", false, false
	}
	enc := name[:len(name)-2]
	if enc == "" {
		return "", false, false
	}
	out := make([]byte, 0, len(enc))
	for i := 0; i < len(enc); i++ {
		c := enc[i]
		switch {
		case keptByte(c):
			out = append(out, c)
		case c == '%' && i+2 < len(enc):
			hi, ok1 := unhexUpper(enc[i+1])
			lo, ok2 := unhexUpper(enc[i+2])
			v := hi<<4 | lo
			if !ok1 || !ok2 || keptByte(v) {
				return "", false, false
			}
			out = append(out, v)
			i += 2
		default:
			return "", false, false
		}
	}
	return string(out), dir, true
}

func unhexUpper(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// checkKey validates an object key: 1 to MaxKeyLen bytes of UTF-8.
func checkKey(key string) error {
	switch {
	case key == "" || !utf8.ValidString(key):
		return ErrInvalidKey
	case len(key) > MaxKeyLen:
		return ErrKeyTooLong
	}
	return nil
}

// ValidBucketName reports whether name follows AWS's rules for bucket
// names: 3 to 63 characters of lower-case letters, digits, dots and
// hyphens, beginning and ending with a letter or digit, no two dots in a
// row, not an IPv4 address, and none of the reserved prefixes and
// suffixes.
func ValidBucketName(name string) bool {
	if len(name) < 3 || len(name) > 63 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '.' || c == '-') {
			return false
		}
	}
	first, last := name[0], name[len(name)-1]
	if first == '.' || first == '-' || last == '.' || last == '-' {
		return false
	}
	if strings.Contains(name, "..") {
		return false
	}
	if a, err := netip.ParseAddr(name); err == nil && a.Is4() {
		return false
	}
	for _, p := range []string{"xn--", "sthree-", "amzn-s3-demo-"} {
		if strings.HasPrefix(name, p) {
			return false
		}
	}
	for _, s := range []string{"-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"} {
		if strings.HasSuffix(name, s) {
			return false
		}
	}
	return true
}
