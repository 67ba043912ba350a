package fastpath

import (
	"bytes"
	"net/http"
	"net/textproto"
	"net/url"

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
// a valid token method, an origin-form target, a single Host, a single
// decimal Content-Length, no Transfer-Encoding, Expect, Upgrade or
// Trailer (nor Expect's private name, nor Pragma, which net/http
// rewrites), no folded or malformed line, bare CR or LF, or NUL. Anything
// else returns ok false and goes to net/http, byte for byte, which then
// answers or refuses it as it always does. Header names are canonical
// and values trimmed of spaces and tabs as net/http's are.
func parseHead(b []byte, takes func(method, target []byte) bool) (h head, ok bool) {
	line, rest, found := bytes.Cut(b, crlf)
	if !found {
		return h, false
	}
	method, line, found := bytes.Cut(line, space)
	if !found || !validMethod(method) {
		return h, false
	}
	target, proto, found := bytes.Cut(line, space)
	if !found || string(proto) != "HTTP/1.1" || len(target) == 0 || target[0] != '/' || !validTarget(target) {
		return h, false
	}
	if !takes(method, target) {
		return h, false
	}
	h.header = make(http.Header, 12)
	h.length = -1
	hosts, lines := 0, 0
	for {
		line, rest, found = bytes.Cut(rest, crlf)
		if !found {
			return h, false
		}
		if len(line) == 0 {
			break
		}
		if lines++; lines > maxHeaderLines {
			return h, false
		}
		name, value, found := bytes.Cut(line, colon)
		if !found || !httpguts.ValidHeaderFieldName(string(name)) {
			return h, false // folded lines and spaces before the colon too
		}
		value = bytes.Trim(value, " \t")
		if !validValue(value) {
			return h, false
		}
		key := textproto.CanonicalMIMEHeaderKey(string(name))
		switch key {
		case "Host":
			if hosts++; hosts > 1 || !httpguts.ValidHostHeader(string(value)) {
				return h, false
			}
			h.host = string(value)
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
		h.header[key] = append(h.header[key], string(value))
	}
	if hosts != 1 || len(rest) != 0 {
		return h, false
	}
	if h.length < 0 {
		h.length = 0
	}
	h.method, h.target = string(method), string(target)
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
	colon = []byte(":")
)

func validMethod(m []byte) bool {
	if len(m) == 0 {
		return false
	}
	for _, c := range m {
		if !httpguts.IsTokenRune(rune(c)) {
			return false
		}
	}
	return true
}

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
func validValue(v []byte) bool {
	for _, c := range v {
		if c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// parseLength reads a Content-Length of at most 18 digits; -1 if it is
// anything else.
func parseLength(v []byte) int64 {
	if len(v) == 0 || len(v) > 18 {
		return -1
	}
	var n int64
	for _, c := range v {
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
func connectionKeepAlive(v []byte, close *bool) bool {
	for len(v) > 0 {
		var tok []byte
		tok, v, _ = bytes.Cut(v, []byte(","))
		tok = bytes.Trim(tok, " \t")
		switch {
		case len(tok) == 0:
		case bytes.EqualFold(tok, []byte("close")):
			*close = true
		case bytes.EqualFold(tok, []byte("keep-alive")):
		default:
			return false
		}
	}
	return true
}
