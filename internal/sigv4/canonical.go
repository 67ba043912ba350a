package sigv4

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// scratch holds the buffers one verification needs. It is pooled so the
// hot path does not allocate.
type scratch struct {
	buf    []byte   // canonical request, then the inner HMAC input
	query  []byte   // canonical query names and values, unsorted
	params []qparam // offsets into query
	hash   [sha256.Size]byte
}

// qparam locates one encoded name (query[start:mid]) and value
// (query[mid:end]).
type qparam struct{ start, mid, end int }

// maxPooled keeps one oversized request from pinning its buffers.
const maxPooled = 64 << 10

var scratchPool = sync.Pool{New: func() any {
	return &scratch{buf: make([]byte, 0, 1024), query: make([]byte, 0, 256), params: make([]qparam, 0, 8)}
}}

func getScratch() *scratch { return scratchPool.Get().(*scratch) }

func putScratch(s *scratch) {
	if cap(s.buf) > maxPooled || cap(s.query) > maxPooled || cap(s.params) > maxPooled/16 {
		return
	}
	scratchPool.Put(s)
}

// canonicalRequest builds the canonical request of r into s.buf and stores
// its SHA-256 in s.hash.
func (s *scratch) canonicalRequest(r *http.Request, a *auth) *Error {
	b := s.buf[:0]
	method := r.Method
	if method == "" {
		method = http.MethodGet
	}
	b = append(b, method...)
	b = append(b, '\n')
	b = appendPath(b, r.URL, a.service == "s3")
	b = append(b, '\n')
	var ok bool
	if b, ok = s.appendQuery(b, r.URL.RawQuery, a.presigned); !ok {
		s.buf = b
		return malformed("The query string is not properly percent-encoded.")
	}
	b = append(b, '\n')
	var e *Error
	if b, e = appendHeaders(b, r, a.signedHeaders); e != nil {
		s.buf = b
		return e
	}
	b = append(b, '\n')
	b = appendLower(b, a.signedHeaders)
	b = append(b, '\n')
	b = append(b, a.payload...)
	s.buf = b
	s.hash = sha256.Sum256(b)
	return nil
}

// sign returns HMAC-SHA256(key, string to sign) for the canonical request
// hashed in s.hash. The HMAC is spelled out so that it runs on the pooled
// buffer and the stack.
func (s *scratch) sign(key *[sha256.Size]byte, a *auth) [sha256.Size]byte {
	const block = 64
	b := s.buf[:0]
	for i := range block {
		c := byte(0x36)
		if i < len(key) {
			c ^= key[i]
		}
		b = append(b, c)
	}
	b = append(b, algorithm...)
	b = append(b, '\n')
	b = append(b, a.amzDate...)
	b = append(b, '\n')
	b = append(b, a.date...)
	b = append(b, '/')
	b = append(b, a.region...)
	b = append(b, '/')
	b = append(b, a.service...)
	b = append(b, '/')
	b = append(b, terminator...)
	b = append(b, '\n')
	b = hex.AppendEncode(b, s.hash[:])
	s.buf = b
	inner := sha256.Sum256(b)

	var outer [block + sha256.Size]byte
	for i := range block {
		outer[i] = 0x5c
		if i < len(key) {
			outer[i] ^= key[i]
		}
	}
	copy(outer[block:], inner[:])
	return sha256.Sum256(outer[:])
}

// appendPath appends the canonical URI: the path as the client sent it,
// URI-encoded once more unless the service is s3.
func appendPath(b []byte, u *url.URL, s3 bool) []byte {
	p := sentPath(u)
	if p == "" {
		p = "/"
	}
	if s3 {
		return append(b, p...)
	}
	for i := 0; i < len(p); i++ {
		if c := p[i]; c == '/' || unreserved(c) {
			b = append(b, c)
		} else {
			b = appendEscaped(b, c)
		}
	}
	return b
}

// sentPath returns the escaped path of u as it came off the wire. It
// matches u.EscapedPath but does not allocate when RawPath is in use.
func sentPath(u *url.URL) string {
	if u.RawPath != "" && validRawPath(u.RawPath) && decodesTo(u.RawPath, u.Path) {
		return u.RawPath
	}
	return u.EscapedPath()
}

// validRawPath reports whether every byte of p may appear in an escaped
// path, by the rules net/url applies to URL.RawPath.
func validRawPath(p string) bool {
	for i := 0; i < len(p); i++ {
		c := p[i]
		if unreserved(c) {
			continue
		}
		switch c {
		case '/', '%', '!', '$', '&', '\'', '(', ')', '*', '+', ',', ';', '=', ':', '@', '[', ']':
			continue
		}
		return false
	}
	return true
}

// decodesTo reports whether percent-decoding raw yields path exactly.
func decodesTo(raw, path string) bool {
	j := 0
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c == '%' {
			if i+2 >= len(raw) {
				return false
			}
			hi, ok1 := unhex(raw[i+1])
			lo, ok2 := unhex(raw[i+2])
			if !ok1 || !ok2 {
				return false
			}
			c = hi<<4 | lo
			i += 2
		}
		if j >= len(path) || path[j] != c {
			return false
		}
		j++
	}
	return j == len(path)
}

// appendQuery appends the canonical query string: every name and value
// decoded and URI-encoded again, sorted by name and then value. A presigned
// request leaves out X-Amz-Signature. It reports false when the query holds
// a malformed percent escape.
func (s *scratch) appendQuery(b []byte, raw string, presigned bool) ([]byte, bool) {
	if raw == "" {
		return b, true
	}
	q := s.query[:0]
	ps := s.params[:0]
	ok := true
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		if pair == "" {
			continue
		}
		name, value, _ := strings.Cut(pair, "=")
		start := len(q)
		var ok1, ok2 bool
		q, ok1 = appendQueryComponent(q, name)
		mid := len(q)
		q, ok2 = appendQueryComponent(q, value)
		if !ok1 || !ok2 {
			ok = false
			break
		}
		if presigned && string(q[start:mid]) == "X-Amz-Signature" {
			q = q[:start]
			continue
		}
		ps = append(ps, qparam{start, mid, len(q)})
	}
	s.query, s.params = q, ps
	if !ok {
		return b, false
	}
	if len(ps) > 1 {
		slices.SortFunc(ps, func(x, y qparam) int {
			if c := bytes.Compare(q[x.start:x.mid], q[y.start:y.mid]); c != 0 {
				return c
			}
			return bytes.Compare(q[x.mid:x.end], q[y.mid:y.end])
		})
	}
	for i, p := range ps {
		if i > 0 {
			b = append(b, '&')
		}
		b = append(b, q[p.start:p.mid]...)
		b = append(b, '=')
		b = append(b, q[p.mid:p.end]...)
	}
	return b, true
}

// appendQueryComponent decodes one raw query name or value ('+' is a
// space) and appends its SigV4 encoding: unreserved bytes as they are,
// everything else as %XX in upper-case hex.
func appendQueryComponent(b []byte, s string) ([]byte, bool) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '%':
			if i+2 >= len(s) {
				return b, false
			}
			hi, ok1 := unhex(s[i+1])
			lo, ok2 := unhex(s[i+2])
			if !ok1 || !ok2 {
				return b, false
			}
			c = hi<<4 | lo
			i += 2
		case '+':
			c = ' '
		}
		if unreserved(c) {
			b = append(b, c)
		} else {
			b = appendEscaped(b, c)
		}
	}
	return b, true
}

// appendHeaders appends one "name:value\n" line per signed header, in the
// order the client listed them.
func appendHeaders(b []byte, r *http.Request, list string) ([]byte, *Error) {
	for rest := list; rest != ""; {
		var name string
		name, rest, _ = strings.Cut(rest, ";")
		b = appendLower(b, name)
		b = append(b, ':')
		switch {
		case strings.EqualFold(name, "host"):
			host := r.Host
			if host == "" {
				host = r.URL.Host
			}
			b = appendValue(b, host)
		default:
			vals, ok := headerValues(r.Header, name)
			if !ok {
				if !strings.EqualFold(name, "content-length") || r.ContentLength < 0 {
					return b, absentHeaderError(name)
				}
				b = strconv.AppendInt(b, r.ContentLength, 10)
				break
			}
			for i, v := range vals {
				if i > 0 {
					b = append(b, ',')
				}
				b = appendValue(b, v)
			}
		}
		b = append(b, '\n')
	}
	return b, nil
}

// headerValues finds a header by name in any letter case. It tries the
// canonical form first, which is how net/http stores received headers,
// without allocating.
func headerValues(h http.Header, name string) ([]string, bool) {
	var kb [64]byte
	if len(name) <= len(kb) {
		k := kb[:len(name)]
		upper := true
		for i := 0; i < len(name); i++ {
			c := name[i]
			switch {
			case upper && 'a' <= c && c <= 'z':
				c -= 'a' - 'A'
			case !upper && 'A' <= c && c <= 'Z':
				c += 'a' - 'A'
			}
			k[i] = c
			upper = c == '-'
		}
		if v, ok := h[string(k)]; ok {
			return v, true
		}
	}
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return nil, false
}

// appendValue appends a header value trimmed of surrounding white space
// with each inner run of spaces folded to one.
func appendValue(b []byte, v string) []byte {
	v = strings.TrimSpace(v)
	space := false
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == ' ' {
			if space {
				continue
			}
			space = true
		} else {
			space = false
		}
		b = append(b, c)
	}
	return b
}

func appendLower(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	return b
}

func appendEscaped(b []byte, c byte) []byte {
	const upperHex = "0123456789ABCDEF"
	return append(b, '%', upperHex[c>>4], upperHex[c&15])
}

// unreserved reports whether c is in the RFC 3986 unreserved set.
func unreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '_' || c == '.' || c == '~'
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
