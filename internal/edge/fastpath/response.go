package fastpath

import (
	"errors"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/http/httpguts"
)

// response is the ResponseWriter of a request the server serves. It
// holds the body until the handler returns and then sends head and body
// in one write, with the Content-Length of what was written; a Flush
// sends what there is now, framed by the Content-Length the handler set
// or else chunked. Like net/http's, it is used by one goroutine at a time.
//
// The header is taken when the status is: WriteHeader writes the
// handler's fields into the connection's head buffer (as net/http keeps
// a copy of them then), and the framing fields (Content-Length or
// Transfer-Encoding, Connection, Date, a sniffed Content-Type) are added
// when the head goes out.
type response struct {
	c      *conn
	body   *body // the request's, to discard what the handler left of it
	header http.Header
	status int
	head   []byte // status line and the handler's fields, from WriteHeader
	out    []byte // the body not yet sent; after the head once it is
	sent   bool   // the head went out
	chunk  bool   // the body goes out chunked
	length int64  // the declared Content-Length; -1 if none
	wrote  int64  // body bytes written
	close  bool   // close the connection after this response
	// What WriteHeader saw of the handler's fields.
	// encoded: a Content-Encoding or Transfer-Encoding the handler set,
	// which stops the sniffing of a Content-Type.
	hasType, hasDate, encoded, wantChunk bool
	err                                  error // the connection failed
}

func (w *response) Header() http.Header { return w.header }

func (w *response) WriteHeader(code int) {
	if w.status != 0 || code < 200 { // informational answers are not sent
		return
	}
	w.status = code
	w.length = -1
	h := w.header
	if cl := h.Get("Content-Length"); cl != "" {
		if n, err := strconv.ParseInt(cl, 10, 64); err == nil && n >= 0 && bodyAllowed(code) {
			w.length = n
		}
	}
	if v := h["Connection"]; len(v) > 0 && httpguts.HeaderValuesContainsToken(v, "close") {
		w.close = true
	}
	_, w.hasType = h["Content-Type"]
	_, w.hasDate = h["Date"]
	_, w.encoded = h["Content-Encoding"]
	if _, te := h["Transfer-Encoding"]; te {
		w.encoded = true // not sniffed either, as net/http has it
	}
	w.wantChunk = w.length < 0 && httpguts.HeaderValuesContainsToken(h["Transfer-Encoding"], "chunked")
	out := append(w.c.wbuf[:0], "HTTP/1.1 "...)
	out = strconv.AppendInt(out, int64(code), 10)
	out = append(out, ' ')
	if text := http.StatusText(code); text != "" {
		out = append(out, text...)
	} else {
		out = append(out, "status code "...)
		out = strconv.AppendInt(out, int64(code), 10)
	}
	out = append(out, "\r\n"...)
	var keysArray [24]string
	keys := keysArray[:0]
	for k := range h {
		switch k {
		case "Content-Length", "Transfer-Encoding", "Connection":
			continue // framing: added when the head goes out
		case "Content-Type":
			if code == http.StatusNotModified {
				continue
			}
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !httpguts.ValidHeaderFieldName(k) {
			continue
		}
		for _, v := range h[k] {
			out = append(out, k...)
			out = append(out, ": "...)
			if strings.ContainsAny(v, "\r\n") {
				v = newlineToSpace.Replace(v)
			}
			out = append(out, strings.Trim(v, " \t")...)
			out = append(out, "\r\n"...)
		}
	}
	w.head = out
}

func (w *response) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if !bodyAllowed(w.status) {
		return 0, http.ErrBodyNotAllowed
	}
	if w.length >= 0 && w.wrote+int64(len(p)) > w.length {
		return 0, http.ErrContentLength
	}
	if w.err != nil {
		return 0, w.err
	}
	w.wrote += int64(len(p))
	if w.out == nil && !w.sent {
		w.out = w.c.body[:0] // the connection's, reused
	}
	if w.chunk {
		if len(p) > 0 {
			w.out = strconv.AppendInt(w.out, int64(len(p)), 16)
			w.out = append(w.out, "\r\n"...)
			w.out = append(w.out, p...)
			w.out = append(w.out, "\r\n"...)
		}
		return len(p), nil
	}
	w.out = append(w.out, p...)
	return len(p), nil
}

// FlushError sends the head and what was written of the body.
func (w *response) FlushError() error {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if w.sent {
		err := w.send(w.out, nil)
		w.out = w.out[:0]
		return err
	}
	body := w.out
	if w.length < 0 && bodyAllowed(w.status) {
		w.chunk = true
	}
	w.endHead(body)
	if w.chunk && len(body) > 0 {
		w.head = strconv.AppendInt(w.head, int64(len(body)), 16)
		w.head = append(w.head, "\r\n"...)
		err := w.send(w.head, body)
		w.head = w.head[:0]
		w.out = append(w.head, "\r\n"...) // the chunk's end goes with the next
		return err
	}
	err := w.send(w.head, body)
	w.out = w.head[:0]
	return err
}

// Flush is FlushError for http.Flusher.
func (w *response) Flush() { w.FlushError() }

// send writes head and body in one system call: body copied behind head
// when it is small, both given to writev when not.
func (w *response) send(head, body []byte) error {
	if w.err != nil {
		return w.err
	}
	switch {
	case len(body) > inlineBody:
		bufs := net.Buffers{head, body}
		_, w.err = bufs.WriteTo(w.c.nc)
	case len(head)+len(body) > 0:
		if len(body) > 0 {
			head = append(head, body...)
			w.head = head // keep the grown buffer
		}
		_, w.err = w.c.io.Write(head)
	}
	return w.err
}

// errFinished is what writes get after the response was finished.
var errFinished = errors.New("fastpath: write after the handler returned")

// finish ends the response once the handler has returned; false when the
// connection must close.
func (w *response) finish() bool {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	var err error
	body, wasSent := w.out, w.sent
	switch {
	case !w.sent && w.wantChunk && bodyAllowed(w.status):
		// The handler asked for chunks: the body is one, and the last.
		w.chunk = true
		w.endHead(body)
		if len(body) > 0 {
			w.head = strconv.AppendInt(w.head, int64(len(body)), 16)
			w.head = append(w.head, "\r\n"...)
			w.head = append(w.head, body...)
			w.head = append(w.head, "\r\n"...)
		}
		err = w.send(append(w.head, "0\r\n\r\n"...), nil)
	case !w.sent:
		if w.length < 0 && bodyAllowed(w.status) {
			w.length = int64(len(body))
		}
		w.endHead(body)
		if w.wrote < w.length { // the handler wrote less than it declared
			w.close = true
		}
		err = w.send(w.head, body)
	case w.chunk:
		err = w.send(append(w.out, "0\r\n\r\n"...), nil)
	default:
		if w.wrote < w.length {
			w.close = true
		}
		err = w.send(w.out, nil)
	}
	if cap(w.head) <= keepBuffer {
		w.c.wbuf = w.head[:0]
	}
	if !wasSent && body != nil && cap(body) <= keepBuffer {
		w.c.body = body[:0]
	}
	w.sent, w.out, w.err = true, nil, errFinished
	return err == nil
}

const (
	// inlineBody is the largest body copied behind its head for a single
	// write; a larger one goes with writev.
	inlineBody = 16 << 10
	// keepBuffer is the largest response buffer a connection keeps for
	// its next response.
	keepBuffer = 64 << 10
)

// endHead completes w.head for the body that goes out first: what the
// handler left of the request body is read first (up to maxDiscard; more
// closes the connection, as net/http does), then the framing fields, Date,
// a Content-Type sniffed from body when the handler set none, and the
// empty line.
func (w *response) endHead(body []byte) {
	w.sent = true
	if w.body.left > 0 && !w.body.discard() {
		w.close = true
	}
	if w.c.s.closing.Load() {
		w.close = true
	}
	h := w.head
	switch {
	case !bodyAllowed(w.status):
	case w.chunk:
		h = append(h, "Transfer-Encoding: chunked\r\n"...)
	default:
		h = append(h, "Content-Length: "...)
		h = strconv.AppendInt(h, w.length, 10)
		h = append(h, "\r\n"...)
	}
	if w.close {
		h = append(h, "Connection: close\r\n"...)
	}
	if !w.hasDate {
		h = append(h, "Date: "...)
		h = time.Now().UTC().AppendFormat(h, http.TimeFormat)
		h = append(h, "\r\n"...)
	}
	if !w.hasType && !w.encoded && len(body) > 0 && bodyAllowed(w.status) {
		h = append(h, "Content-Type: "...)
		h = append(h, http.DetectContentType(body)...)
		h = append(h, "\r\n"...)
	}
	w.head = append(h, "\r\n"...)
}

var newlineToSpace = strings.NewReplacer("\n", " ", "\r", " ")

// bodyAllowed reports whether a response of this status may have a body.
func bodyAllowed(status int) bool {
	return status != http.StatusNoContent && status != http.StatusNotModified && status >= 200
}
