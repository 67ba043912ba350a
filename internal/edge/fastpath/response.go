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
type response struct {
	c      *conn
	req    *http.Request
	header http.Header
	status int
	out    []byte // the body (after the head, once it is written) not yet sent
	sent   bool   // the head went out
	chunk  bool   // the body goes out chunked
	length int64  // the declared Content-Length; -1 if none
	wrote  int64  // body bytes written
	close  bool   // close the connection after this response
	err    error  // the connection failed
}

func (w *response) Header() http.Header { return w.header }

func (w *response) WriteHeader(code int) {
	if w.status != 0 || code < 200 { // informational answers are not sent
		return
	}
	w.status = code
	w.length = -1
	if cl := w.header.Get("Content-Length"); cl != "" {
		if n, err := strconv.ParseInt(cl, 10, 64); err == nil && n >= 0 {
			w.length = n
		} else {
			w.header.Del("Content-Length")
		}
	}
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
	if !w.sent {
		body := w.out
		w.out = nil
		if w.length < 0 && bodyAllowed(w.status) {
			w.chunk = true
		}
		w.writeHead(body)
		if w.chunk && len(body) > 0 {
			w.out = strconv.AppendInt(w.out, int64(len(body)), 16)
			w.out = append(w.out, "\r\n"...)
			w.out = append(w.out, body...)
			w.out = append(w.out, "\r\n"...)
		} else {
			w.out = append(w.out, body...)
		}
		w.sent = true
	}
	return w.send()
}

// Flush is FlushError for http.Flusher.
func (w *response) Flush() { w.FlushError() }

func (w *response) send() error {
	if w.err != nil {
		return w.err
	}
	if len(w.out) > 0 {
		_, w.err = w.c.nc.Write(w.out)
		w.out = w.out[:0]
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
	var body []byte
	if !w.sent {
		body, w.out = w.out, nil
		if w.length < 0 && bodyAllowed(w.status) {
			w.length = int64(len(body))
			w.header["Content-Length"] = []string{strconv.Itoa(len(body))}
		}
		w.writeHead(body)
		w.sent = true
		if w.wrote < w.length { // the handler wrote less than it declared
			w.close = true
		}
		if len(body) <= inlineBody {
			w.out = append(w.out, body...)
		}
	} else if w.chunk {
		w.out = append(w.out, "0\r\n\r\n"...)
	} else if w.wrote < w.length {
		w.close = true
	}
	err := w.err
	switch {
	case err != nil:
	case len(body) > inlineBody: // head and body in one writev
		bufs := net.Buffers{w.out, body}
		_, err = bufs.WriteTo(w.c.nc)
	case len(w.out) > 0:
		_, err = w.c.nc.Write(w.out)
	}
	if cap(w.out) <= keepBuffer {
		w.c.wbuf = w.out[:0]
	}
	if body != nil && cap(body) <= keepBuffer {
		w.c.body = body[:0]
	}
	w.out, w.err = nil, errFinished
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

// writeHead appends the status line and header to w.out, as net/http
// writes them: the handler's fields sorted by name with line breaks in
// values made spaces and invalid names left out, a sniffed Content-Type
// when the handler set none, a Date, and the framing.
func (w *response) writeHead(body []byte) {
	h := w.header
	if w.chunk {
		delete(h, "Content-Length")
		h["Transfer-Encoding"] = chunked
	}
	if !bodyAllowed(w.status) {
		delete(h, "Content-Length")
		delete(h, "Transfer-Encoding")
	} else if _, ok := h["Content-Type"]; !ok && len(body) > 0 {
		h["Content-Type"] = []string{http.DetectContentType(body)}
	}
	if _, ok := h["Date"]; !ok {
		h["Date"] = []string{time.Now().UTC().Format(http.TimeFormat)}
	}
	if w.close {
		h["Connection"] = closeValue
	} else if v := h["Connection"]; len(v) > 0 && httpguts.HeaderValuesContainsToken(v, "close") {
		w.close = true
	}
	out := w.c.wbuf[:0]
	out = append(out, "HTTP/1.1 "...)
	out = strconv.AppendInt(out, int64(w.status), 10)
	out = append(out, ' ')
	if text := http.StatusText(w.status); text != "" {
		out = append(out, text...)
	} else {
		out = append(out, "status code "...)
		out = strconv.AppendInt(out, int64(w.status), 10)
	}
	out = append(out, "\r\n"...)
	var keysArray [24]string
	keys := keysArray[:0]
	for k := range h {
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
	w.out = append(out, "\r\n"...)
}

var (
	chunked        = []string{"chunked"}
	closeValue     = []string{"close"}
	newlineToSpace = strings.NewReplacer("\n", " ", "\r", " ")
)

// bodyAllowed reports whether a response of this status may have a body.
func bodyAllowed(status int) bool {
	return status != http.StatusNoContent && status != http.StatusNotModified && status >= 200
}
