package runtimeapi

import (
	"bytes"
	"errors"
	"io"
	"time"

	"golang.org/x/net/http/httpguts"
)

// The Runtime API speaks HTTP/1.1 through a small server of its own,
// written for its four endpoints: one goroutine per connection, always
// either reading the next request or answering the one it read, with
// buffers reused from request to request and no per-request maps,
// contexts or response writers. What it accepts:
//
//   - request line and headers, names case-insensitive, CRLF or bare LF
//     line ends; the header block at most maxHeaderBytes, read within
//     readHeaderTimeout of its first byte (of the connection's accept,
//     for its first request); an idle keep-alive connection has no limit;
//   - bodies framed by Content-Length or Transfer-Encoding: chunked (with
//     extensions ignored and trailers read), never both;
//   - Expect: 100-continue, answered "100 Continue" when the body is first
//     read; a request refused without reading its body closes the
//     connection instead;
//   - Connection: close and HTTP/1.0 requests, answered and closed;
//     pipelined requests, answered in order.
//
// A malformed request is answered 400 (431 for an oversized header block,
// 501 for a transfer coding other than chunked, 505 for another HTTP
// version) and its connection closed. A connection closed with request
// bytes unread is closed lingering: its write side first, then its reads
// drained for up to lingerTime, so that the client reads the answer
// before a reset could discard it.

const (
	readBufSize    = 4 << 10
	maxHeaderBytes = 64 << 10

	// maxDiscard is how much of an unread body is read and dropped to keep
	// its connection; a longer one closes the connection.
	maxDiscard = 256 << 10
	// maxChunkLine bounds a chunk-size line, extensions included.
	maxChunkLine = 4 << 10
	// maxTrailerBytes bounds a chunked body's trailers, which may carry a
	// stream's error document.
	maxTrailerBytes = maxErrorBody + 16<<10
	lingerTime      = 500 * time.Millisecond
	// inlinePayload is the largest event copied behind its response head
	// and sent in the same write; a larger one is written with writev.
	inlinePayload = 16 << 10
)

var (
	errHeaderTooLarge = errors.New("runtimeapi: request header block too large")
	errLineTooLong    = errors.New("runtimeapi: line too long")
	errBadChunk       = errors.New("runtimeapi: malformed chunked body")
)

// readHeaderTimeout bounds the reading of a request's header block.
const readHeaderTimeout = 10 * time.Second

type route uint8

const (
	routeNotFound route = iota
	routeNext
	routeResponse
	routeError
	routeInitError
)

// request is what a connection's goroutine keeps of the request it serves.
// The byte slices point into the connection's read buffer and are valid
// only until the body is read.
type request struct {
	get, post     bool
	route         route
	id            []byte // of .../invocation/{id}/...
	close         bool   // Connection: close, or HTTP/1.0
	contentLength int64  // -1 when not given
	chunked       bool
	expect        bool // Expect: 100-continue
	modes         int  // Lambda-Runtime-Function-Response-Mode headers
	streamingMode bool // the last of them says streaming
	ctype         []byte
	hasCType      bool
	errType       string // Lambda-Runtime-Function-Error-Type header
	errBody       string // Lambda-Runtime-Function-Error-Body header
	trErrType     string // the same, as trailers
	trErrBody     string
}

// streaming reports whether the request posts a streamed response.
func (r *request) streaming() bool { return r.modes == 1 && r.streamingMode }

// errorType is the error type the request names, in a header or a trailer.
func (r *request) errorType() string {
	if r.errType != "" {
		return r.errType
	}
	return r.trErrType
}

// errorBody is a stream's error document, from a trailer or a header.
func (r *request) errorBody() string {
	if r.trErrBody != "" {
		return r.trErrBody
	}
	return r.errBody
}

const jsonType = "application/json"

// contentType is the request's Content-Type; it must be called before the
// body is read.
func (r *request) contentType() string {
	switch {
	case !r.hasCType:
		return ""
	case string(r.ctype) == jsonType:
		return jsonType
	}
	return string(r.ctype)
}

// readHead returns the next request's header block, CRLF CRLF included;
// it is valid until the body is read.
func (c *conn) readHead() ([]byte, error) {
	if len(c.rb) > maxHeaderBytes && c.r == c.w {
		c.rb = make([]byte, readBufSize) // after a long trailer
		c.r, c.w = 0, 0
	}
	scan := 0 // from c.r, what was looked through for the blank line
	for {
		if i := bytes.IndexByte(c.rb[c.r+scan:c.w], '\n'); i >= 0 {
			n := i + 1
			if i == 0 || (i == 1 && c.rb[c.r+scan] == '\r') {
				if scan == 0 { // an empty line before a request is ignored
					c.r += n
					continue
				}
				end := c.r + scan + n
				head := c.rb[c.r:end]
				c.r = end
				if c.deadline {
					c.nc.SetReadDeadline(time.Time{})
					c.deadline = false
				}
				return head, nil
			}
			scan += n
			continue
		}
		scan = c.w - c.r
		if scan >= maxHeaderBytes {
			return nil, errHeaderTooLarge
		}
		if !c.deadline && c.r < c.w {
			// The request began and is not whole: from now on it has
			// readHeaderTimeout to come.
			c.nc.SetReadDeadline(time.Now().Add(c.s.headerTimeout))
			c.deadline = true
		}
		if err := c.fill(maxHeaderBytes); err != nil {
			if errors.Is(err, errLineTooLong) {
				return nil, errHeaderTooLarge
			}
			return nil, err
		}
	}
}

// parse reads the request line and headers of head into c.req. It
// returns 0, or the status to refuse the request with and why.
func (c *conn) parse(head []byte) (int, string) {
	r := &c.req
	*r = request{contentLength: -1}
	i := bytes.IndexByte(head, '\n')
	line := trimCR(head[:i])
	rest := head[i+1:]

	sp := bytes.IndexByte(line, ' ')
	if sp <= 0 {
		return 400, "malformed request line"
	}
	method := line[:sp]
	line = line[sp+1:]
	sp = bytes.IndexByte(line, ' ')
	if sp <= 0 {
		return 400, "malformed request line"
	}
	target, proto := line[:sp], line[sp+1:]
	switch string(proto) {
	case "HTTP/1.1":
	case "HTTP/1.0":
		r.close = true
	default:
		if len(proto) == 8 && string(proto[:5]) == "HTTP/" && isDigit(proto[5]) && proto[6] == '.' && isDigit(proto[7]) {
			return 505, "only HTTP/1.1 and HTTP/1.0 are served"
		}
		return 400, "malformed request line"
	}
	http10 := r.close
	switch string(method) {
	case "GET":
		r.get = true
	case "POST":
		r.post = true
	default:
		if !isToken(method) {
			return 400, "malformed request line"
		}
	}
	path, ok := requestPath(target)
	if !ok {
		return 400, "malformed request target"
	}
	switch {
	case string(path) == nextPath:
		r.route = routeNext
	case string(path) == initErrURL:
		r.route = routeInitError
	case bytes.HasPrefix(path, []byte(invPrefix)):
		rest := path[len(invPrefix):]
		if j := bytes.IndexByte(rest, '/'); j >= 0 {
			switch string(rest[j+1:]) {
			case "response":
				r.route = routeResponse
			case "error":
				r.route = routeError
			}
			r.id = rest[:j]
		}
	}

	for len(rest) > 0 {
		i := bytes.IndexByte(rest, '\n')
		line := trimCR(rest[:i])
		rest = rest[i+1:]
		if len(line) == 0 {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			return 400, "folded header lines are not accepted"
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 || !isToken(line[:colon]) {
			return 400, "malformed header line"
		}
		name, value := line[:colon], trimSpace(line[colon+1:])
		if !isFieldValue(value) {
			return 400, "malformed header value"
		}
		switch len(name) {
		case len("Content-Length"):
			if !bytes.EqualFold(name, []byte("Content-Length")) {
				break
			}
			n, ok := parseLength(value)
			if !ok || (r.contentLength >= 0 && r.contentLength != n) {
				return 400, "malformed Content-Length"
			}
			r.contentLength = n
		case len("Transfer-Encoding"):
			if !bytes.EqualFold(name, []byte("Transfer-Encoding")) {
				break
			}
			if r.chunked || !bytes.EqualFold(value, []byte("chunked")) {
				return 501, "only the chunked transfer coding is served"
			}
			r.chunked = true
		case len("Expect"):
			if !bytes.EqualFold(name, []byte("Expect")) || len(value) == 0 || http10 {
				break
			}
			if !bytes.EqualFold(value, []byte("100-continue")) {
				return 417, "only Expect: 100-continue is served"
			}
			r.expect = true
		case len("Connection"):
			if bytes.EqualFold(name, []byte("Connection")) && hasToken(value, "close") {
				r.close = true
			}
		case len("Content-Type"):
			if bytes.EqualFold(name, []byte("Content-Type")) && !r.hasCType {
				r.ctype, r.hasCType = value, true
			}
		case len(ResponseModeHeader):
			if bytes.EqualFold(name, []byte(ResponseModeHeader)) {
				r.modes++
				r.streamingMode = bytes.EqualFold(value, []byte(StreamingMode))
			}
		case len(ErrorTypeHeader): // and ErrorBodyHeader
			switch {
			case bytes.EqualFold(name, []byte(ErrorTypeHeader)):
				if r.errType == "" {
					r.errType = string(value)
				}
			case bytes.EqualFold(name, []byte(ErrorBodyHeader)):
				if r.errBody == "" {
					r.errBody = string(value)
				}
			}
		}
	}
	if r.chunked && r.contentLength >= 0 {
		return 400, "both Content-Length and Transfer-Encoding given"
	}
	return 0, ""
}

// requestPath returns the path of a request target in origin form or
// absolute form, without its query.
func requestPath(t []byte) ([]byte, bool) {
	if len(t) == 0 {
		return nil, false
	}
	if t[0] != '/' {
		var rest []byte
		switch {
		case len(t) > 7 && bytes.EqualFold(t[:7], []byte("http://")):
			rest = t[7:]
		case len(t) > 8 && bytes.EqualFold(t[:8], []byte("https://")):
			rest = t[8:]
		default:
			return nil, false
		}
		i := bytes.IndexByte(rest, '/')
		if i < 0 {
			return []byte("/"), true
		}
		t = rest[i:]
	}
	for _, b := range t {
		if b <= ' ' || b == 0x7f {
			return nil, false
		}
	}
	if i := bytes.IndexByte(t, '?'); i >= 0 {
		t = t[:i]
	}
	return t, true
}

func trimCR(b []byte) []byte {
	if len(b) > 0 && b[len(b)-1] == '\r' {
		return b[:len(b)-1]
	}
	return b
}

// trimSpace cuts the optional whitespace (spaces and tabs) around a
// field value.
func trimSpace(b []byte) []byte { return bytes.Trim(b, " \t") }

func isDigit(b byte) bool { return '0' <= b && b <= '9' }

// isToken reports whether b is an HTTP token (RFC 9110 §5.6.2).
func isToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, ch := range b {
		if !httpguts.IsTokenRune(rune(ch)) {
			return false
		}
	}
	return true
}

// isFieldValue reports whether b holds no control character but tab.
func isFieldValue(b []byte) bool {
	for _, ch := range b {
		if (ch < ' ' && ch != '\t') || ch == 0x7f {
			return false
		}
	}
	return true
}

// hasToken reports whether the comma-separated list v names tok.
func hasToken(v []byte, tok string) bool {
	for len(v) > 0 {
		var part []byte
		if i := bytes.IndexByte(v, ','); i >= 0 {
			part, v = v[:i], v[i+1:]
		} else {
			part, v = v, nil
		}
		if bytes.EqualFold(trimSpace(part), []byte(tok)) {
			return true
		}
	}
	return false
}

// parseLength reads a Content-Length: decimal digits only.
func parseLength(v []byte) (int64, bool) {
	if len(v) == 0 || len(v) > 18 {
		return 0, false
	}
	var n int64
	for _, b := range v {
		if !isDigit(b) {
			return 0, false
		}
		n = n*10 + int64(b-'0')
	}
	return n, true
}

// readLine returns the next line, without its CRLF or LF; it is valid
// until the next read. A line longer than limit is an error.
func (c *conn) readLine(limit int) ([]byte, error) {
	scan := 0
	for {
		if i := bytes.IndexByte(c.rb[c.r+scan:c.w], '\n'); i >= 0 {
			end := c.r + scan + i
			line := c.rb[c.r:end]
			c.r = end + 1
			return trimCR(line), nil
		}
		scan = c.w - c.r
		if scan > limit {
			return nil, errLineTooLong
		}
		if err := c.fill(limit + 2); err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
}

// continue100 sends the interim answer a client waiting on Expect:
// 100-continue needs before it sends the body.
func (c *conn) continue100() {
	if c.req.expect && !c.sent100 && !c.bodyDone {
		c.sent100 = true
		c.nc.Write(continueResp)
	}
}

var continueResp = []byte("HTTP/1.1 100 Continue\r\n\r\n")

// read reads the request's body into p; it returns io.EOF at its end. It
// returns what one read of the connection brings, so a stream reaches its
// Sink as it arrives.
func (c *conn) read(p []byte) (int, error) {
	if c.bodyDone {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	c.continue100()
	if c.req.chunked {
		for c.bodyLeft == 0 {
			if err := c.nextChunk(); err != nil {
				return 0, err
			}
		}
	}
	if int64(len(p)) > c.bodyLeft {
		p = p[:c.bodyLeft]
	}
	n, err := c.readRaw(p)
	c.bodyLeft -= int64(n)
	if c.bodyLeft == 0 {
		if c.req.chunked {
			c.crlf = true
		} else {
			c.bodyDone = true
		}
	}
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

// readRaw reads from rb, or, when rb is empty and p at least as large,
// straight from the connection.
func (c *conn) readRaw(p []byte) (int, error) {
	if c.r == c.w {
		if len(p) < len(c.rb) || c.rerr != nil {
			if err := c.fill(len(c.rb)); err != nil {
				return 0, err
			}
		} else {
			for {
				n, err := c.nc.Read(p)
				if err != nil {
					if n > 0 {
						c.rerr = err
						return n, nil
					}
					return 0, err
				}
				if n > 0 {
					return n, nil
				}
			}
		}
	}
	n := copy(p, c.rb[c.r:c.w])
	c.r += n
	return n, nil
}

// nextChunk reads the next chunk's size line (and the CRLF that ends the
// chunk before it). At the last chunk it reads the trailers, marks the
// body read and returns io.EOF.
func (c *conn) nextChunk() error {
	if c.crlf {
		line, err := c.readLine(maxChunkLine)
		if err != nil {
			return err
		}
		if len(line) != 0 {
			return errBadChunk
		}
		c.crlf = false
	}
	line, err := c.readLine(maxChunkLine)
	if err != nil {
		if errors.Is(err, errLineTooLong) {
			return errBadChunk
		}
		return err
	}
	if i := bytes.IndexByte(line, ';'); i >= 0 {
		line = line[:i]
	}
	line = trimSpace(line)
	if len(line) == 0 || len(line) > 15 {
		return errBadChunk
	}
	var n int64
	for _, b := range line {
		var d byte
		switch {
		case '0' <= b && b <= '9':
			d = b - '0'
		case 'a' <= b && b <= 'f':
			d = b - 'a' + 10
		case 'A' <= b && b <= 'F':
			d = b - 'A' + 10
		default:
			return errBadChunk
		}
		n = n<<4 | int64(d)
	}
	if n > 0 {
		c.bodyLeft = n
		return nil
	}
	if err := c.readTrailers(); err != nil {
		return err
	}
	c.bodyDone = true
	return io.EOF
}

// readTrailers reads a chunked body's trailers up to the blank line,
// keeping the error type and body a stream's failure is told by.
func (c *conn) readTrailers() error {
	budget := maxTrailerBytes
	for {
		line, err := c.readLine(budget)
		if err != nil {
			if errors.Is(err, errLineTooLong) {
				return errBadChunk
			}
			return err
		}
		if len(line) == 0 {
			return nil
		}
		if budget -= len(line) + 2; budget <= 0 {
			return errBadChunk
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 || !isToken(line[:colon]) {
			return errBadChunk
		}
		name, value := line[:colon], trimSpace(line[colon+1:])
		switch {
		case bytes.EqualFold(name, []byte(ErrorTypeHeader)):
			if c.req.trErrType == "" {
				c.req.trErrType = string(value)
			}
		case bytes.EqualFold(name, []byte(ErrorBodyHeader)):
			if c.req.trErrBody == "" {
				c.req.trErrBody = string(value)
			}
		}
	}
}

// readBody reads the whole body, up to limit bytes: into one buffer of
// its Content-Length, read straight from the connection past what is
// buffered, or grown as a chunked body comes.
func (c *conn) readBody(limit int64) ([]byte, error) {
	if !c.req.chunked {
		n := c.bodyLeft
		if n > limit {
			return nil, errTooLarge
		}
		b := make([]byte, n)
		if n == 0 {
			return b, nil
		}
		c.continue100()
		k := copy(b, c.rb[c.r:c.w])
		c.r += k
		c.bodyLeft -= int64(k)
		for k < len(b) {
			if c.rerr != nil {
				return nil, c.rerr
			}
			m, err := c.nc.Read(b[k:])
			k += m
			c.bodyLeft -= int64(m)
			if err != nil && k < len(b) {
				if errors.Is(err, io.EOF) {
					err = io.ErrUnexpectedEOF
				}
				return nil, err
			}
		}
		c.bodyLeft, c.bodyDone = 0, true
		return b, nil
	}
	b := make([]byte, 0, 512)
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		room := b[len(b):min(int64(cap(b)), limit+1)]
		n, err := c.read(room)
		b = b[:len(b)+n]
		if int64(len(b)) > limit {
			return nil, errTooLarge
		}
		if errors.Is(err, io.EOF) {
			return b, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// discard reads and drops what is left of the request's body, so the
// connection can serve the next request. It reports false (the
// connection must close) for a body too long to drop, one whose client
// waits for a 100 Continue, or one that does not come within
// readHeaderTimeout.
func (c *conn) discard() bool {
	if c.bodyDone {
		return true
	}
	if (!c.req.chunked && c.bodyLeft > maxDiscard) || (c.req.expect && !c.sent100) {
		return false
	}
	c.nc.SetReadDeadline(time.Now().Add(c.s.headerTimeout))
	defer c.nc.SetReadDeadline(time.Time{})
	bp := chunkPool.Get().(*[]byte)
	defer chunkPool.Put(bp)
	for total := 0; ; {
		n, err := c.read(*bp)
		if total += n; total > maxDiscard {
			return false
		}
		if errors.Is(err, io.EOF) {
			return true
		}
		if err != nil {
			return false
		}
	}
}
