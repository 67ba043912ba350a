package runtimeapi

import (
	"errors"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aloft-dev/aloft/internal/sockio"
)

// longAgo is a deadline in the past, which ends a read at once.
var longAgo = time.Unix(1, 0)

// conn is one connection of the runtime's, served by one goroutine
// (serve) that reads a request (http1.go), answers it, and goes back to
// reading. While a /next of its waits for an invocation, that read is
// what sees the connection end (settle); the /next is answered by
// whichever goroutine delivers the event (writeNext).
type conn struct {
	s  *Server
	nc net.Conn
	io *sockio.Conn // reads heads and writes small answers on nc

	rb   []byte // read buffer; rb[r:w] is read and not yet consumed
	r, w int
	rerr error // a read error held back behind data

	req      request
	bodyLeft int64 // Content-Length: bytes left; chunked: bytes left of the chunk
	bodyDone bool  // the request's body has been read to its end
	crlf     bool  // chunked: a chunk's data was read, its CRLF not yet
	sent100  bool
	deadline bool // a read deadline is set
	polled   bool // a /next of this connection's was registered and not yet settled

	// wake is signalled by the deliverer when it is done with a /next the
	// goroutine waits behind with a full buffer (settle).
	wake chan struct{}

	out  []byte // responses written by the connection's goroutine
	head []byte // the /next response, written by whoever delivers the event
	bufs [2][]byte
	vec  net.Buffers

	// Guarded by s.mu.
	polling bool // a /next of this connection's is waiting or being answered
	// waiting is set while the goroutine holds a request that came behind
	// that /next; the deliverer wakes it from its read, or through wake.
	waiting bool
	// closeAfterNext is set before polling, and read by the deliverer.
	closeAfterNext bool
}

func newConn(s *Server, nc net.Conn) *conn {
	return &conn{
		s: s, nc: nc, io: sockio.New(nc),
		rb:       make([]byte, readBufSize),
		bodyDone: true,
		wake:     make(chan struct{}, 1),
		out:      make([]byte, 0, 256),
		head:     make([]byte, 0, 512),
	}
}

// serve reads and answers requests until the connection ends.
func (c *conn) serve() {
	defer c.close()
	// The first request's header must come within readHeaderTimeout of
	// the accept; later ones within it of their first byte.
	c.nc.SetReadDeadline(time.Now().Add(c.s.headerTimeout))
	c.deadline = true
	for {
		if c.r == c.w {
			// Wait for the next request. A /next of this connection's may
			// be waiting meanwhile: this read is what sees its connection
			// end.
			err := c.fill(len(c.rb))
			if c.polled {
				c.polled = false
				if !c.settle(err != nil) {
					return
				}
			}
			if err != nil {
				return
			}
		} else if c.polled {
			c.polled = false
			if !c.settle(false) {
				return
			}
		}
		if !c.serveOne() {
			return
		}
	}
}

// settle is called after a /next of the connection's, once the
// connection has data again, or has ended (ended is set). A poll still
// waiting on a connection that ended is withdrawn: no invocation can be
// handed to it any more. A request that came behind a /next not yet
// answered is held until it is, as HTTP/1.1 answers in order; meanwhile
// the connection is still read (what comes is buffered, up to
// maxHeaderBytes), so that its end is seen. A runtime answers the event
// as soon as it has read it, which may be before the deliverer that wrote
// it is done: a buffer filled by that answer (a large or streamed
// response) then waits for the deliverer rather than ending the
// connection. settle reports whether the goroutine goes on.
func (c *conn) settle(ended bool) bool {
	s := c.s
	woken := false
	for {
		s.mu.Lock()
		if !c.polling {
			c.waiting = false
			s.mu.Unlock()
			if woken { // the deliverer may have ended the read early
				c.nc.SetReadDeadline(time.Time{})
				if isTimeout(c.rerr) {
					c.rerr = nil
				}
			}
			return !ended
		}
		if ended {
			c.waiting = false
			s.unpoll(c)
			s.mu.Unlock()
			return false
		}
		c.waiting = true
		// Once taken out of polls, the /next is being answered.
		answering := !slices.Contains(s.polls, c)
		s.mu.Unlock()
		woken = true
		err := c.fill(maxHeaderBytes)
		switch {
		case errors.Is(err, errLineTooLong) && answering:
			<-c.wake
		case isTimeout(err):
			c.rerr = nil
		case err != nil:
			ended = true
		}
	}
}

// isTimeout reports whether err is a read that passed its deadline (the
// deliverer sets one to end a read early).
func isTimeout(err error) bool {
	return errors.Is(err, os.ErrDeadlineExceeded)
}

// close ends the connection: no poll of its stays registered.
func (c *conn) close() {
	s := c.s
	s.mu.Lock()
	s.unpoll(c)
	delete(s.conns, c)
	s.mu.Unlock()
	if !c.bodyDone {
		c.linger()
	}
	c.nc.Close()
	s.wg.Done()
}

// linger closes the write side and drains what the client still sends,
// for at most lingerTime, so that it reads the answer before the close
// resets the connection.
func (c *conn) linger() {
	cw, ok := c.nc.(interface{ CloseWrite() error })
	if !ok || cw.CloseWrite() != nil {
		return
	}
	c.nc.SetReadDeadline(time.Now().Add(lingerTime))
	io.CopyN(io.Discard, c.nc, 64<<20)
}

// serveOne reads one request and answers it; it reports whether the
// connection goes on.
func (c *conn) serveOne() bool {
	head, err := c.readHead()
	if err != nil {
		if errors.Is(err, errHeaderTooLarge) {
			c.refuse(431, "RequestHeaderFieldsTooLarge", "The request's header block is larger than 65536 bytes.")
		}
		return false // the connection ended, or its header timed out
	}
	if status, msg := c.parse(head); status != 0 {
		c.refuse(status, statusType(status), msg)
		return false
	}
	c.sent100 = false
	c.crlf = false
	switch {
	case c.req.chunked:
		c.bodyDone, c.bodyLeft = false, 0
	case c.req.contentLength > 0:
		c.bodyDone, c.bodyLeft = false, c.req.contentLength
	default:
		c.bodyDone, c.bodyLeft = true, 0
	}
	s := c.s
	ok := false
	switch c.req.route {
	case routeNext:
		if !c.req.get {
			ok = c.writeError(405, "MethodNotAllowed", "use GET")
			break
		}
		if !c.discard() {
			return false
		}
		s.poll(c, c.req.close)
		c.polled = true
		return true // a close after it is the deliverer's
	case routeResponse, routeError:
		if !c.req.post {
			ok = c.writeError(404, "NotFound", "unknown path")
			break
		}
		ok = s.answer(c, c.req.id, c.req.route == routeError)
	case routeInitError:
		if !c.req.post {
			ok = c.writeError(404, "NotFound", "unknown path")
			break
		}
		ok = s.initError(c)
	default:
		ok = c.writeError(404, "NotFound", "unknown path")
	}
	return ok && c.discard()
}

// refuse answers a request that could not be read and closes.
func (c *conn) refuse(status int, typ, msg string) {
	c.req.close = true
	c.bodyDone = false // what follows the header is unknown
	c.writeError(status, typ, msg)
}

func statusType(status int) string {
	switch status {
	case 417:
		return "ExpectationFailed"
	case 501:
		return "NotImplemented"
	case 505:
		return "HTTPVersionNotSupported"
	}
	return "BadRequest"
}

// fill reads more of the connection into rb, first moving the unread
// bytes to its start; when rb is full it grows it up to limit bytes.
func (c *conn) fill(limit int) error {
	if c.rerr != nil {
		return c.rerr
	}
	if c.r == c.w {
		c.r, c.w = 0, 0
	}
	if c.w == len(c.rb) {
		switch {
		case c.r > 0:
			c.w = copy(c.rb, c.rb[c.r:c.w])
			c.r = 0
		case len(c.rb) < limit:
			nb := make([]byte, min(2*len(c.rb), limit))
			c.w = copy(nb, c.rb[:c.w])
			c.rb = nb
		default:
			return errLineTooLong
		}
	}
	for {
		n, err := c.io.Read(c.rb[c.w:])
		c.w += n
		if err != nil {
			c.rerr = err
			if n > 0 {
				return nil
			}
			return err
		}
		if n > 0 {
			return nil
		}
	}
}

// keepAlive reports whether the connection can serve another request
// once the current one is answered.
func (c *conn) keepAlive() bool {
	if c.req.close {
		return false
	}
	return c.bodyDone || (!c.req.chunked && c.bodyLeft <= maxDiscard && !(c.req.expect && !c.sent100))
}

var (
	acceptedKeep  = []byte("HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 16\r\n\r\n" + `{"status":"OK"}` + "\n")
	acceptedClose = []byte("HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 16\r\nConnection: close\r\n\r\n" + `{"status":"OK"}` + "\n")
)

// writeAccepted answers 202; it reports whether the connection goes on.
func (c *conn) writeAccepted() bool {
	keep := c.keepAlive()
	resp := acceptedKeep
	if !keep {
		resp = acceptedClose
	}
	_, err := c.io.Write(resp)
	return keep && err == nil
}

// writeError answers status with a JSON error document; it reports
// whether the connection goes on.
func (c *conn) writeError(status int, typ, msg string) bool {
	keep := c.keepAlive()
	var body [512]byte
	doc := append(body[:0], `{"errorMessage":`...)
	doc = strconv.AppendQuote(doc, msg)
	doc = append(doc, `,"errorType":`...)
	doc = strconv.AppendQuote(doc, typ)
	doc = append(doc, "}\n"...)
	b := append(c.out[:0], "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, ' ')
	b = append(b, statusText(status)...)
	b = append(b, "\r\nContent-Type: application/json\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(len(doc)), 10)
	if !keep {
		b = append(b, "\r\nConnection: close"...)
	}
	b = append(b, "\r\n\r\n"...)
	b = append(b, doc...)
	c.out = b[:0]
	_, err := c.io.Write(b)
	return keep && err == nil
}

func statusText(status int) string {
	switch status {
	case 400:
		return "Bad Request"
	case 404:
		return "Not Found"
	case 405:
		return "Method Not Allowed"
	case 413:
		return "Request Entity Too Large"
	case 417:
		return "Expectation Failed"
	case 431:
		return "Request Header Fields Too Large"
	case 501:
		return "Not Implemented"
	case 505:
		return "HTTP Version Not Supported"
	}
	return "Error"
}

// failBody ends a request whose body could not be read: a malformed body
// is answered 400; a broken connection is only closed. It returns false.
func (c *conn) failBody(err error) bool {
	if errors.Is(err, errBadChunk) {
		c.req.close = true
		c.writeError(400, "BadRequest", "malformed chunked body")
	}
	c.bodyDone = false
	return false
}

// writeNext answers the connection's GET .../next with inv. It is called
// by whichever goroutine delivers inv, which owns c.head meanwhile.
func (c *conn) writeNext(inv *Invocation) error {
	h := append(c.head[:0], "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nLambda-Runtime-Aws-Request-Id: "...)
	h = appendValue(h, inv.RequestID)
	h = append(h, "\r\nLambda-Runtime-Deadline-Ms: "...)
	h = strconv.AppendInt(h, inv.Deadline.UnixMilli(), 10)
	h = append(h, "\r\nLambda-Runtime-Invoked-Function-Arn: "...)
	h = appendValue(h, inv.FunctionARN)
	if inv.TraceID != "" {
		h = append(h, "\r\nLambda-Runtime-Trace-Id: "...)
		h = appendValue(h, inv.TraceID)
	}
	if inv.ClientContext != "" {
		h = append(h, "\r\nLambda-Runtime-Client-Context: "...)
		h = appendValue(h, inv.ClientContext)
	}
	if inv.CognitoIdentity != "" {
		h = append(h, "\r\nLambda-Runtime-Cognito-Identity: "...)
		h = appendValue(h, inv.CognitoIdentity)
	}
	h = append(h, "\r\nContent-Length: "...)
	h = strconv.AppendInt(h, int64(len(inv.Payload)), 10)
	if c.closeAfterNext {
		h = append(h, "\r\nConnection: close"...)
	}
	h = append(h, "\r\n\r\n"...)
	var err error
	if len(inv.Payload) <= inlinePayload {
		h = append(h, inv.Payload...)
		_, err = c.io.Write(h)
	} else {
		// A large event may not fit the socket's buffer: a runtime that
		// does not read must not hold the writer past the deadline.
		if !inv.Deadline.IsZero() {
			c.nc.SetWriteDeadline(inv.Deadline)
		}
		c.bufs = [2][]byte{h, inv.Payload}
		c.vec = c.bufs[:]
		_, err = c.vec.WriteTo(c.nc)
		c.bufs, c.vec = [2][]byte{}, nil
		if !inv.Deadline.IsZero() {
			c.nc.SetWriteDeadline(time.Time{})
		}
	}
	c.head = h[:0]
	if err == nil && c.closeAfterNext {
		c.nc.Close()
	}
	return err
}

// appendValue appends a header value, with any CR or LF made a space so
// that a value cannot end the header early.
func appendValue(b []byte, v string) []byte {
	if !strings.ContainsAny(v, "\r\n") {
		return append(b, v...)
	}
	for i := 0; i < len(v); i++ {
		ch := v[i]
		if ch == '\r' || ch == '\n' {
			ch = ' '
		}
		b = append(b, ch)
	}
	return b
}
