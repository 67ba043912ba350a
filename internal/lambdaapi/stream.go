package lambdaapi

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream/eventstreamapi"

	"github.com/aloft-dev/aloft/internal/function"
	"github.com/aloft-dev/aloft/internal/invoke"
)

// InvokeWithResponseStream answers with the function's response as an
// AWS event stream (application/vnd.amazon.eventstream): PayloadChunk
// events carrying the body as the function streams it, then one
// InvokeComplete with the error, if any (ErrorCode its errorType,
// ErrorDetails its errorMessage) and the log tail. A function that
// answers whole is sent as one chunk. The request is validated,
// resolved and authorized as Invoke's is (the hook in invoke).

// streamPath is InvokeWithResponseStream's route.
const streamPath = "POST /2021-11-15/functions/{fn}/response-streaming-invocations"

// invokeStream serves InvokeWithResponseStream.
func (s *Server) invokeStream(w http.ResponseWriter, r *http.Request, req *request) error {
	switch t := r.Header.Get("X-Amz-Invocation-Type"); t {
	case "", "RequestResponse", "DryRun":
	default:
		return function.Validation(t, "invocationType", "Member must satisfy enum value set: [RequestResponse, DryRun]")
	}
	req.stream = true
	return s.invoke(w, r, req)
}

// streamSlack is how long past the function's timeout writes to a
// streaming caller may take before the caller is given up.
const streamSlack = 30 * time.Second

// answerStream runs ireq and answers with its event stream.
func (s *Server) answerStream(w http.ResponseWriter, r *http.Request, ireq *invoke.Invocation) error {
	es := &eventWriter{w: w, rc: http.NewResponseController(w), version: ireq.Config.Version,
		deadline: time.Now().Add(time.Duration(ireq.Config.Timeout)*time.Second + streamSlack)}
	ireq.Stream = es
	resp, err := s.d.Invoker.Invoke(r.Context(), ireq)
	if err != nil {
		if !es.started {
			return err // refused before it ran: throttled, say
		}
		s.d.Logger.Error("streamed invocation failed", "function", ireq.Config.FunctionName, "err", err)
		return es.complete(completeEvent{ErrorCode: "ServiceException", ErrorDetails: "The invocation failed: " + err.Error()})
	}
	es.Start("")
	if !resp.Streamed && resp.FunctionError == "" && len(resp.Payload) > 0 {
		es.Write(resp.Payload)
	}
	var ev completeEvent
	if resp.FunctionError != "" {
		var doc struct {
			Type    string `json:"errorType"`
			Message string `json:"errorMessage"`
		}
		json.Unmarshal(resp.Payload, &doc) // a document that is not one leaves the details raw
		ev.ErrorCode, ev.ErrorDetails = doc.Type, doc.Message
		if ev.ErrorCode == "" {
			ev.ErrorCode, ev.ErrorDetails = resp.FunctionError, string(resp.Payload)
		}
	}
	if resp.LogTail != nil {
		ev.LogResult = base64.StdEncoding.EncodeToString(resp.LogTail)
	}
	return es.complete(ev)
}

// completeEvent is the InvokeComplete event's document.
type completeEvent struct {
	ErrorCode    string `json:",omitempty"`
	ErrorDetails string `json:",omitempty"`
	LogResult    string `json:",omitempty"`
}

var (
	eventStreamType = []string{"application/vnd.amazon.eventstream"}
	chunkHeaders    = eventstream.Headers{
		{Name: eventstreamapi.EventTypeHeader, Value: eventstream.StringValue("PayloadChunk")},
		{Name: eventstreamapi.MessageTypeHeader, Value: eventstream.StringValue(eventstreamapi.EventMessageType)},
		{Name: eventstreamapi.ContentTypeHeader, Value: eventstream.StringValue("application/octet-stream")},
	}
	completeHeaders = eventstream.Headers{
		{Name: eventstreamapi.EventTypeHeader, Value: eventstream.StringValue("InvokeComplete")},
		{Name: eventstreamapi.MessageTypeHeader, Value: eventstream.StringValue(eventstreamapi.EventMessageType)},
		{Name: eventstreamapi.ContentTypeHeader, Value: eventstream.StringValue("application/json")},
	}
)

// eventWriter is the invocation's Stream: it frames each piece of the
// body as a PayloadChunk and flushes it to the caller. It is used by one
// goroutine at a time (the Runtime API's, then the handler's once Invoke
// has returned).
type eventWriter struct {
	w        http.ResponseWriter
	rc       *http.ResponseController
	enc      *eventstream.Encoder
	version  string
	deadline time.Time
	started  bool
	failed   bool // a write to the caller failed; the rest is dropped
}

// Start sends the answer's status and headers.
func (e *eventWriter) Start(string) error {
	if e.started {
		return nil
	}
	e.started = true
	e.enc = eventstream.NewEncoder()
	// A caller that stops reading must not hold the instance for ever.
	e.rc.SetWriteDeadline(e.deadline)
	h := e.w.Header()
	h["Content-Type"] = eventStreamType
	h["X-Amz-Executed-Version"] = []string{e.version}
	e.w.WriteHeader(http.StatusOK)
	return e.flush()
}

// Write sends p as one PayloadChunk.
func (e *eventWriter) Write(p []byte) (int, error) {
	if err := e.send(eventstream.Message{Headers: chunkHeaders, Payload: p}); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (e *eventWriter) complete(ev completeEvent) error {
	e.Start("")
	b, _ := json.Marshal(ev) // strings always encode
	// The answer has begun: a caller that is gone has nothing left to
	// be told.
	e.send(eventstream.Message{Headers: completeHeaders, Payload: b})
	return nil
}

var errCallerGone = errors.New("lambdaapi: the caller stopped reading the stream")

func (e *eventWriter) send(m eventstream.Message) error {
	if e.failed {
		return errCallerGone
	}
	if err := e.enc.Encode(e.w, m); err != nil {
		e.failed = true
		return errCallerGone
	}
	return e.flush()
}

func (e *eventWriter) flush() error {
	if err := e.rc.Flush(); err != nil {
		e.failed = true
		return errCallerGone
	}
	return nil
}
