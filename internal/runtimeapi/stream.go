package runtimeapi

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"sync"
	"time"
)

// Response streaming: a runtime posts .../{id}/response with the header
// Lambda-Runtime-Function-Response-Mode: streaming and a chunked body,
// which is handed to Invocation.Stream piece by piece as it arrives. A
// failure part way is told in the trailers Lambda-Runtime-Function-
// Error-Type and Lambda-Runtime-Function-Error-Body (the error document,
// in base64), as the runtime clients of Lambda send them. The bandwidth
// Lambda allows a stream past its first 6 MB is not capped here.

// Sink receives a streamed response.
type Sink interface {
	// Start is called once, before any Write, when the runtime begins
	// its response, with the response's Content-Type.
	Start(contentType string) error
	// Write is given each piece of the body as it arrives; p is only
	// valid during the call. After an error no more pieces are given
	// (the rest of the body is read and dropped).
	Write(p []byte) (int, error)
}

// MaxStreamedResponse is the most a streamed response may carry (20 MiB);
// past it the stream is cut and the invocation fails with
// Function.ResponseSizeTooLarge, as on Lambda.
const MaxStreamedResponse = 20 * 1024 * 1024

// The headers and trailers of a streamed response.
const (
	ResponseModeHeader = "Lambda-Runtime-Function-Response-Mode"
	ErrorTypeHeader    = "Lambda-Runtime-Function-Error-Type"
	ErrorBodyHeader    = "Lambda-Runtime-Function-Error-Body"
	// StreamingMode is ResponseModeHeader's value for a streamed response.
	StreamingMode = "streaming"
	// DefaultStreamType is the Content-Type of a stream that names none.
	DefaultStreamType = "application/octet-stream"
)

// interruptGrace is how long a stream whose connection broke waits for
// the instance to be found dead (its exit then tells the failure) before
// it fails the invocation itself.
const interruptGrace = time.Second

// streamChunk is the size of the reads that feed a Sink.
const streamChunk = 32 << 10

var chunkPool = sync.Pool{New: func() any { b := make([]byte, streamChunk); return &b }}

// streamState guards a call's Sink: once cut (Invoke gave up on the
// call), nothing more reaches it.
type streamState struct {
	mu      sync.Mutex
	cutOff  bool // guarded by mu
	broken  bool // guarded by mu: the Sink failed
	started bool // guarded by mu
}

func (st *streamState) cut() {
	st.mu.Lock()
	st.cutOff = true
	st.mu.Unlock()
}

// start tells sink that the response begins, unless the call was cut.
func (st *streamState) start(sink Sink, contentType string) {
	st.mu.Lock()
	if !st.cutOff && !st.broken && !st.started {
		st.started = true
		if err := sink.Start(contentType); err != nil {
			st.broken = true
		}
	}
	st.mu.Unlock()
}

// write hands p to sink, unless the call was cut or the sink failed.
func (st *streamState) write(sink Sink, p []byte) {
	st.mu.Lock()
	if !st.cutOff && !st.broken {
		if _, err := sink.Write(p); err != nil {
			st.broken = true
		}
	}
	st.mu.Unlock()
}

// stream takes a streamed response for c: to c's Sink as it comes, or,
// for an invocation that has none, buffered as a plain response is. It
// reports whether the connection goes on.
func (s *Server) stream(p *conn, c *call) bool {
	sink := c.inv.Stream
	if sink == nil {
		return s.streamBuffered(p, c)
	}
	ct := p.req.contentType()
	if ct == "" {
		ct = DefaultStreamType
	}
	c.out.start(sink, ct)
	bp := chunkPool.Get().(*[]byte)
	defer chunkPool.Put(bp)
	buf := *bp
	var size int64
	for {
		n, err := p.read(buf)
		if n > 0 {
			size += int64(n)
			if size > MaxStreamedResponse {
				c.out.write(sink, buf[:n-int(size-MaxStreamedResponse)])
				s.finish(c, tooLargeStream())
				p.writeError(413, "Function.ResponseSizeTooLarge", streamTooLargeMessage)
				return false
			}
			c.out.write(sink, buf[:n])
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			s.interrupted(c)
			return p.failBody(err)
		}
	}
	res := Result{Streamed: true}
	if t := p.req.errorType(); t != "" {
		res.Error, res.ErrorType = true, t
		res.Payload = errorDocument(t, p.req.errorBody())
	}
	if !s.finish(c, res) {
		return p.writeError(400, "InvalidRequestID", "Invalid request ID")
	}
	return p.writeAccepted()
}

// streamBuffered takes a streamed response as a whole, within the limit of
// a buffered one, for an invocation whose caller waits for the whole
// answer (Invoke of a function that streams).
func (s *Server) streamBuffered(p *conn, c *call) bool {
	body, err := p.readBody(MaxResponse)
	if errors.Is(err, errTooLarge) {
		s.finish(c, Result{Error: true, ErrorType: "Function.ResponseSizeTooLarge", Payload: tooLargeDoc})
		p.writeError(413, "Function.ResponseSizeTooLarge", tooLargeMessage)
		return false
	}
	if err != nil {
		s.interrupted(c)
		return p.failBody(err)
	}
	res := Result{Payload: body}
	if t := p.req.errorType(); t != "" {
		res.Error, res.ErrorType = true, t
		res.Payload = errorDocument(t, p.req.errorBody())
	}
	if !s.finish(c, res) {
		return p.writeError(400, "InvalidRequestID", "Invalid request ID")
	}
	return p.writeAccepted()
}

// interrupted ends c after its runtime's connection broke part way
// through a stream. An instance that died meanwhile is left to Invoke
// (its exit is the failure); otherwise the invocation fails as a runtime
// that broke the protocol.
func (s *Server) interrupted(c *call) {
	t := time.NewTimer(interruptGrace)
	defer t.Stop()
	select {
	case <-c.abort:
		return
	case <-s.closed:
		return
	case <-t.C:
	}
	s.finish(c, Result{Streamed: c.inv.Stream != nil, Error: true, ErrorType: "Runtime.Unknown",
		Payload: errorDocument("Runtime.Unknown", base64.StdEncoding.EncodeToString(interruptedDoc))})
}

var interruptedDoc = []byte(`{"errorType":"Runtime.Unknown","errorMessage":"The runtime's connection broke before its response stream ended."}`)

const streamTooLargeMessage = "Response payload size exceeded maximum allowed payload size (20971520 bytes)."

func tooLargeStream() Result {
	return Result{Streamed: true, Error: true, ErrorType: "Function.ResponseSizeTooLarge",
		Payload: []byte(`{"errorMessage":"` + streamTooLargeMessage + `","errorType":"Function.ResponseSizeTooLarge"}`)}
}

// maxErrorBody bounds the error document a stream's trailer carries.
const maxErrorBody = 256 << 10

// errorDocument returns the error document of a failed stream: the
// trailer's base64 body when it is one, else one naming only typ.
func errorDocument(typ, b64 string) []byte {
	if b64 != "" && len(b64) <= maxErrorBody {
		if b, err := base64.StdEncoding.DecodeString(b64); err == nil && json.Valid(b) {
			return b
		}
	}
	b, _ := json.Marshal(struct {
		Type    string `json:"errorType"`
		Message string `json:"errorMessage"`
	}{typ, ""})
	return b
}
