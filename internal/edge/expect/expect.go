// Package expect lets a request whose Expect header asks for anything but
// 100-continue reach the handlers, as S3 does, instead of net/http's
// 417 Expectation Failed.
//
// net/http's server answers 417 (and closes the connection) to a request
// whose first Expect value does not hold the token 100-continue, before
// any handler runs; S3 ignores such values and serves the request. So
// the connections net/http serves on the API listener (all but those the
// fast path keeps, which never carry Expect) are wrapped (Listener,
// NewConn): in
// each request head, and only there, an Expect header line whose value
// would be refused is renamed in place to PrivateName, a name of the
// same length, so no byte moves and no framing changes. Restore, at the
// front of the handler chain, renames it back before anything (the
// SigV4 check, whose signed headers may include expect) reads it, with
// its value as sent. A request that carries 100-continue is not touched
// and keeps net/http's 100 Continue.
//
// The first Expect line of a head decides for all of that head's Expect
// lines, as net/http reads only the first: when its value is not empty
// and has no 100-continue token (case-insensitive, separated by spaces,
// tabs or commas), every Expect line of the head is renamed, which keeps
// their order for Restore.
//
// # Framing
//
// To look at heads only, the wrapper follows HTTP/1.1 framing as net/http
// reads it: the request line, the header lines up to the empty line
// (noting Content-Length and Transfer-Encoding: chunked), then the body,
// skipped by count when its length is fixed, or chunk by chunk (the
// chunk-size line, the data skipped by count, its CRLF, the trailers up
// to the empty line), then the next request on the connection. Bodies
// are never scanned and never changed. An Expect line is held back
// until the first byte of the line after it (a line starting with a
// space would fold into it), 512 bytes at most; nothing else is held. On anything it cannot frame with certainty (a request line
// other than METHOD SP target SP HTTP/1.1, CONNECT, an Upgrade header,
// a folded header line, an empty or repeated Content-Length, a
// Transfer-Encoding other than one chunked, both of those at once, a
// bare CR, a malformed chunk line, an HTTP/2 preface, TLS) it stops
// rewriting for the rest of the connection and passes every byte through
// unchanged: net/http then answers as it would without the wrapper.
package expect

import (
	"errors"
	"io"
	"net"
	"net/http"
)

// PrivateName is the header name an Expect header that net/http would
// refuse travels under from the connection to Restore: six bytes, as
// "Expect" is, so the rename is in place. A request that itself sends a
// header of this name and no Expect has it read as Expect.
const PrivateName = "X-Pect"

// holdMax bounds the bytes held back for one Expect line (from the
// start of its name to the first byte of the next line); a longer line
// stops the rewriting of its connection.
const holdMax = 512

// Listener wraps ln so that every connection it accepts is a NewConn.
func Listener(ln net.Listener) net.Listener { return listener{ln} }

type listener struct{ net.Listener }

// Accept waits for the next connection and wraps it.
func (l listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return NewConn(c), nil
}

// Conn is a server-side connection whose reads carry the requests sent
// on the connection it wraps, with the Expect headers net/http would
// refuse renamed to PrivateName. Writes go through unchanged.
type Conn struct {
	net.Conn
	s scanner
	// buf holds bytes read from the connection and not yet returned:
	// buf[off:ready] are final, buf[ready:end] are the start of an
	// Expect line still being decided.
	buf             [holdMax]byte
	off, ready, end int
	err             error // from the connection, returned with the last of buf[off:ready]
}

// NewConn wraps c, a connection that carries HTTP/1.x requests.
func NewConn(c net.Conn) *Conn {
	w := &Conn{Conn: c}
	w.s.reset()
	return w
}

// Read reads the requests, renaming refused Expect header names.
func (c *Conn) Read(p []byte) (int, error) {
	if c.end == 0 {
		if c.s.st == stOff || len(p) == 0 {
			return c.Conn.Read(p)
		}
		n, err := c.Conn.Read(p)
		h := c.s.scan(p[:n], 0)
		if h < 0 {
			return n, err
		}
		if err != nil && !isTimeout(err) || n-h > len(c.buf) {
			// The line cannot be finished, or is too long to hold.
			c.s.stop()
			return n, err
		}
		c.end = copy(c.buf[:], p[h:n])
		c.off, c.ready = 0, 0
		c.s.rebase(h)
		if h > 0 || err != nil {
			return h, err
		}
	}
	return c.readHeld(p)
}

// isTimeout reports whether err is a deadline passing, after which the
// connection may be read again (net/http sets one to interrupt a read).
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// readHeld returns bytes from buf, reading into it while all it holds
// is an Expect line still undecided.
func (c *Conn) readHeld(p []byte) (int, error) {
	for {
		if c.ready > c.off {
			n := copy(p, c.buf[c.off:c.ready])
			c.off += n
			if c.off == c.end {
				c.off, c.ready, c.end = 0, 0, 0
			}
			if c.off < c.ready {
				return n, nil
			}
			err := c.err
			c.err = nil
			return n, err
		}
		if c.off > 0 {
			c.end = copy(c.buf[:], c.buf[c.off:c.end])
			c.s.rebase(c.off)
			c.off, c.ready = 0, 0
		}
		if c.end == len(c.buf) {
			c.s.stop()
			c.ready = c.end
			continue
		}
		n, err := c.Conn.Read(c.buf[c.end:])
		from := c.end
		c.end += n
		h := c.s.scan(c.buf[:c.end], from)
		if err != nil && h >= 0 && !isTimeout(err) {
			c.s.stop() // the line will not be finished
			h = -1
		}
		if h < 0 {
			c.ready = c.end
		} else {
			c.ready = h
		}
		if err != nil {
			if c.ready == c.off {
				// Nothing to return but the line still held, which
				// stays for the reads after the deadline.
				return 0, err
			}
			c.err = err
		}
	}
}

// ReadFrom writes r's bytes to the connection, with its own ReadFrom
// when it has one (sendfile for a TCP connection).
func (c *Conn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(writerOnly{c.Conn}, r)
}

// CloseWrite shuts down the writing side of the connection when it can
// (as a TCP connection can), which net/http uses to close gracefully.
func (c *Conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

var (
	_ net.Conn      = (*Conn)(nil)
	_ io.ReaderFrom = (*Conn)(nil)
)

// writerOnly hides every method of a writer but Write, so that io.Copy
// does not come back to ReadFrom.
type writerOnly struct{ io.Writer }

// Restore returns h behind RestoreHeader.
func Restore(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		RestoreHeader(r)
		h.ServeHTTP(w, r)
	})
}

// RestoreHeader renames r's PrivateName header back to Expect, with its
// values, when r has no Expect header of its own.
func RestoreHeader(r *http.Request) {
	v, ok := r.Header[PrivateName]
	if !ok {
		return
	}
	if _, has := r.Header["Expect"]; has {
		return
	}
	delete(r.Header, PrivateName)
	r.Header["Expect"] = v
}
