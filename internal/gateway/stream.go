package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/aloft-dev/aloft/internal/invoke"
)

// Function URLs with InvokeMode RESPONSE_STREAM pass the function's
// response on as it streams it: status and headers as soon as the
// response begins, then each piece as it comes, flushed. A response of
// type application/vnd.awslambda.http-integration-response (Node's
// awslambda.HttpResponseStream.from) begins with a JSON prelude —
// statusCode, headers, cookies — ended by eight NUL bytes, which sets the
// answer's status and headers; any other type is answered 200 with that
// Content-Type. A function that fails before anything was sent is
// answered as a buffered URL answers; one that fails part way has its
// connection cut, so that the client sees a truncated answer. A function
// that does not stream is answered as a buffered URL answers.

// integrationType is the Content-Type of a stream that begins with a
// prelude.
const integrationType = "application/vnd.awslambda.http-integration-response"

// maxPrelude bounds a stream's prelude.
const maxPrelude = 64 << 10

// streamSlack is how long past the function's timeout writes to the
// client may take before the client is given up.
const streamSlack = 30 * time.Second

// preludeEnd ends a stream's prelude.
var preludeEnd = make([]byte, 8)

// urlStream is the invocation's Stream for a RESPONSE_STREAM function
// URL. The Runtime API's goroutine uses it while the function runs, the
// handler's once Invoke has returned; never both at once.
type urlStream struct {
	h        *Handler
	x        *exchange
	rc       *http.ResponseController
	deadline time.Time
	prelude  []byte // what came of the prelude so far
	inPre    bool   // the prelude has not ended yet
	started  bool   // status and headers are sent
	why      string // why the stream was refused, if it was
}

func newURLStream(h *Handler, x *exchange) *urlStream {
	return &urlStream{h: h, x: x, rc: http.NewResponseController(x.w)}
}

// attach makes s the Stream of req.
func (s *urlStream) attach(req *invoke.Invocation) {
	s.deadline = s.h.d.Now().Add(time.Duration(req.Config.Timeout)*time.Second + streamSlack)
	req.Stream = s
}

// Start begins the answer, or (for a prelude) waits for its end.
func (s *urlStream) Start(contentType string) error {
	if contentType == integrationType {
		s.inPre = true
		return nil
	}
	s.x.w.Header()["Content-Type"] = []string{contentType}
	return s.begin(http.StatusOK)
}

func (s *urlStream) begin(status int) error {
	s.started = true
	s.rc.SetWriteDeadline(s.deadline) // a client that stops reading must not hold the instance
	s.h.finish(s.x)
	s.x.status = status
	s.x.w.WriteHeader(status)
	return s.rc.Flush()
}

// Write passes p on, after the prelude.
func (s *urlStream) Write(p []byte) (int, error) {
	n := len(p)
	if s.inPre {
		i := bytes.Index(p, preludeEnd)
		if i < 0 || len(s.prelude) > 0 { // the prelude spans pieces
			s.prelude = append(s.prelude, p...)
			if i = bytes.Index(s.prelude, preludeEnd); i < 0 {
				if len(s.prelude) > maxPrelude {
					s.why = "the function's response prelude is longer than " + strconv.Itoa(maxPrelude) + " bytes"
					return 0, errPrelude
				}
				return n, nil
			}
			p = s.prelude
		}
		head, rest := p[:i], p[i+len(preludeEnd):]
		s.inPre = false
		if err := s.applyPrelude(head); err != nil {
			return 0, err
		}
		if len(rest) == 0 {
			return n, nil
		}
		p = rest
	}
	if _, err := s.x.w.Write(p); err != nil {
		return 0, err
	}
	if err := s.rc.Flush(); err != nil {
		return 0, err
	}
	return n, nil
}

var errPrelude = errors.New("gateway: the function's response prelude cannot be used")

// applyPrelude sends the status and headers the prelude gives.
func (s *urlStream) applyPrelude(b []byte) error {
	var pre struct {
		StatusCode int               `json:"statusCode"`
		Headers    map[string]string `json:"headers"`
		Cookies    []string          `json:"cookies"`
	}
	if len(bytes.TrimSpace(b)) > 0 {
		if err := json.Unmarshal(b, &pre); err != nil {
			s.why = "the function's response prelude is not a JSON object of statusCode, headers and cookies: " + err.Error()
			return errPrelude
		}
	}
	if pre.StatusCode == 0 {
		pre.StatusCode = http.StatusOK
	}
	if pre.StatusCode < 100 || pre.StatusCode > 599 {
		s.why = "the function's response prelude gives the status " + strconv.Itoa(pre.StatusCode)
		return errPrelude
	}
	hdr := s.x.w.Header()
	for k, v := range pre.Headers {
		hdr.Set(k, v)
	}
	if hdr.Get("Content-Type") == "" {
		hdr["Content-Type"] = []string{"application/octet-stream"}
	}
	for _, c := range pre.Cookies {
		hdr["Set-Cookie"] = append(hdr["Set-Cookie"], c)
	}
	return s.begin(pre.StatusCode)
}

// end finishes the answer of an invocation that streamed, reporting
// whether it did; the others are answered as buffered ones are. A stream
// that failed part way has its connection cut.
func (s *urlStream) end(name string, resp *invoke.Response, err error) bool {
	x := s.x
	switch {
	case s.started && (err != nil || resp.FunctionError != ""):
		why := "the function " + name + "'s response stream failed part way"
		if err != nil {
			why += ": " + err.Error()
		} else {
			why = functionFailure(name, resp.Payload) + " part way through its response stream"
		}
		s.h.d.Logger.Warn("gateway: a response stream failed", "function", name, "request_id", x.reqID, "reason", why)
		s.h.report(name, x, why)
		panic(http.ErrAbortHandler) // the client must not take a cut answer for a whole one
	case s.started:
		return true
	case err == nil && resp.Streamed && resp.FunctionError == "":
		why := s.why
		if why == "" {
			why = "the function " + name + "'s response stream ended inside its prelude"
		}
		s.h.report(name, x, why)
		s.h.failWhy(x, http.StatusBadGateway, internalMessage, why)
		return true
	}
	return false
}
