package fastpath

import (
	"bytes"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"

	"golang.org/x/net/http/httpguts"

	"github.com/aloft-dev/aloft/internal/edge/expect"
)

// head is a request head the server serves itself: everything net/http
// would have made of it, and how long its body is.
type head struct {
	method, target string
	url            *url.URL
	header         http.Header
	host           string
	length         int64
	close          bool // Connection: close
}

// maxHeaderLines bounds the header lines of a head the server parses; a
// head with more goes to net/http.
const maxHeaderLines = 64

// parseHead reads the head in b (request line and header lines, each
// ended by CRLF, up to and including the empty line) when takes accepts
// its method and target and it has a shape the server serves: HTTP/1.1,
// a valid token method but HEAD, an origin-form target, a single Host, a single
// decimal Content-Length, no Transfer-Encoding, Expect, Upgrade or
// Trailer (nor Expect's private name, nor Pragma, which net/http
// rewrites), no folded or malformed line, bare CR or LF, or NUL. Anything
// else returns ok false and goes to net/http, byte for byte, which then
// answers or refuses it as it always does. Header names are canonical
// and values trimmed of spaces and tabs as net/http's are.
//
// The strings of the request (method, target, names as sent in canonical
// form, values) are slices of one copy of the head, and the header's
// value slices of one array.
func parseHead(b []byte, takes func(method, target []byte) bool) (h head, ok bool) {
	i := bytes.Index(b, crlf)
	if i < 0 {
		return h, false
	}
	method, target, found := bytes.Cut(b[:i], space)
	// A method is a token, as a field name is.
	if !found || !httpguts.ValidHeaderFieldName(string(method)) || string(method) == http.MethodHead {
		return h, false
	}
	target, proto, found := bytes.Cut(target, space)
	if !found || string(proto) != "HTTP/1.1" || len(target) == 0 || target[0] != '/' || !validTarget(target) {
		return h, false
	}
	if !takes(method, target) {
		return h, false
	}
	hs := string(b)
	h.method, h.target = hs[:len(method)], hs[len(method)+1:len(method)+1+len(target)]
	rest := hs[i+2:]
	n := strings.Count(rest, "\r\n") - 1 // header lines
	if n > maxHeaderLines {
		return h, false
	}
	h.header = make(http.Header, n)
	values := make([]string, n)
	h.length = -1
	hosts := 0
	for {
		line, more, found := strings.Cut(rest, "\r\n")
		if !found {
			return h, false
		}
		rest = more
		if len(line) == 0 {
			break
		}
		name, value, found := strings.Cut(line, ":")
		if !found || !httpguts.ValidHeaderFieldName(name) {
			return h, false // folded lines and spaces before the colon too
		}
		value = strings.Trim(value, " \t")
		if !validValue(value) {
			return h, false
		}
		key := textproto.CanonicalMIMEHeaderKey(name)
		switch key {
		case "Host":
			if hosts++; hosts > 1 || !httpguts.ValidHostHeader(value) {
				return h, false
			}
			h.host = value
			continue
		case "Content-Length":
			if h.length >= 0 {
				return h, false
			}
			if h.length = parseLength(value); h.length < 0 {
				return h, false
			}
		case "Transfer-Encoding", "Expect", "Upgrade", "Trailer", "Te", "Pragma", expect.PrivateName:
			return h, false
		case "Connection":
			if !connectionKeepAlive(value, &h.close) {
				return h, false
			}
		}
		if vs := h.header[key]; vs != nil {
			h.header[key] = append(vs, value)
		} else {
			values[0] = value
			h.header[key], values = values[:1:1], values[1:]
		}
	}
	if hosts != 1 || len(rest) != 0 {
		return h, false
	}
	if h.length < 0 {
		h.length = 0
	}
	u, err := url.ParseRequestURI(h.target)
	if err != nil {
		return h, false
	}
	h.url = u
	return h, true
}

var (
	crlf  = []byte("\r\n")
	space = []byte(" ")
)

// validTarget holds for a target of visible ASCII, as a request line's
// must be; url.ParseRequestURI judges the rest.
func validTarget(t []byte) bool {
	for _, c := range t {
		if c <= ' ' || c >= 0x7f {
			return false
		}
	}
	return true
}

// validValue holds for a field value of visible characters, spaces and
// tabs: no control characters, so no bare CR or LF and no NUL.
func validValue(v string) bool {
	for _, c := range []byte(v) {
		if c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// parseLength reads a Content-Length of at most 18 digits; -1 if it is
// anything else.
func parseLength(v string) int64 {
	if len(v) == 0 || len(v) > 18 {
		return -1
	}
	var n int64
	for _, c := range []byte(v) {
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int64(c-'0')
	}
	return n
}

// connectionKeepAlive reads a Connection value made of the tokens close
// and keep-alive, noting close; any other token (an upgrade's, a header
// name to strip) sends the request to net/http.
func connectionKeepAlive(v string, close *bool) bool {
	for len(v) > 0 {
		var tok string
		tok, v, _ = strings.Cut(v, ",")
		tok = strings.Trim(tok, " \t")
		switch {
		case len(tok) == 0:
		case strings.EqualFold(tok, "close"):
			*close = true
		case strings.EqualFold(tok, "keep-alive"):
		default:
			return false
		}
	}
	return true
}
