package lambdaapi

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/aloft-dev/aloft/internal/async"
	"github.com/aloft-dev/aloft/internal/awsproto"
	"github.com/aloft-dev/aloft/internal/fault"
	"github.com/aloft-dev/aloft/internal/function"
	"github.com/aloft-dev/aloft/internal/invoke"
	"github.com/aloft-dev/aloft/internal/traces/traceid"
)

// enqueue validates an asynchronous invocation's payload for the function
// cfg describes, stores it durably and answers status with body.
func (s *Server) enqueue(w http.ResponseWriter, r *http.Request, req *request, cfg *function.Config, qualifier string, status int, body []byte) error {
	name := cfg.FunctionName
	trace := s.trace(w, r, cfg)
	if s.d.Queue == nil {
		return function.InvalidParameter("Asynchronous invocations are not enabled on this server.")
	}
	if len(req.body) > function.MaxAsyncPayload {
		return function.TooLarge("Request must be smaller than %d bytes for the InvokeFunction operation", function.MaxAsyncPayload)
	}
	if len(req.body) > 0 && !json.Valid(req.body) {
		return function.Errorf(fault.Invalid, "InvalidRequestContentException",
			"Could not parse request body into json: Could not parse payload into json: Unexpected character: was expecting a JSON value")
	}
	id := w.Header().Get("X-Amzn-Requestid")
	if err := s.d.Queue.Enqueue(r.Context(), &async.Event{ID: id, Function: name, Qualifier: qualifier, Payload: req.body, TraceID: trace}); err != nil {
		return err
	}
	if body != nil {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(status)
	w.Write(body)
	return nil
}

// trace returns the trace header of an invocation request for the
// function cfg describes: the one it carried (X-Amzn-Trace-Id, else a W3C
// traceparent) or a new one, with the sampling decision made; the answer
// carries it too. A request that carried no decision is sampled only when
// the function's tracing mode is Active, as Lambda does.
func (s *Server) trace(w http.ResponseWriter, r *http.Request, cfg *function.Config) string {
	sampler := s.d.Sampler
	if cfg.TracingConfig.Mode != function.TracingActive {
		sampler = nil
	}
	h := sampler.Start(r.Header.Get(traceid.XRayHeader), r.Header.Get(traceid.W3CHeader), time.Now()).String()
	w.Header()[traceid.XRayHeader] = []string{h}
	return h
}

// invokeAsync serves the deprecated InvokeAsync operation.
func (s *Server) invokeAsync(w http.ResponseWriter, r *http.Request, req *request) error {
	rec, err := s.lookup(r, req)
	if err != nil {
		return err
	}
	return s.enqueue(w, r, req, &rec.Config, "", http.StatusAccepted, []byte(`{"Status":202}`))
}

var (
	jsonType    = []string{"application/json"}
	unhandled   = []string{"Unhandled"}
	latestValue = []string{function.LatestVersion}
)

func (s *Server) invoke(w http.ResponseWriter, r *http.Request, req *request) error {
	t, err := s.target(r, req, true)
	if err != nil {
		return err
	}
	switch typ := r.Header.Get("X-Amz-Invocation-Type"); typ {
	case "", "RequestResponse":
	case "DryRun":
		w.WriteHeader(http.StatusNoContent)
		return nil
	case "Event":
		return s.enqueue(w, r, req, t.Config, t.Qualifier, http.StatusAccepted, nil)
	default:
		return function.Validation(typ, "invocationType", "Member must satisfy enum value set: [Event, RequestResponse, DryRun]")
	}
	if len(req.body) > function.MaxSyncPayload {
		return function.TooLarge("Request must be smaller than %d bytes for the InvokeFunction operation", function.MaxSyncPayload)
	}
	if len(req.body) > 0 && !json.Valid(req.body) {
		return function.Errorf(fault.Invalid, "InvalidRequestContentException",
			"Could not parse request body into json: Could not parse payload into json: Unexpected character: was expecting a JSON value")
	}
	var clientContext string
	if cc := r.Header.Get("X-Amz-Client-Context"); cc != "" {
		b, err := base64.StdEncoding.DecodeString(cc)
		if err != nil || !json.Valid(b) || len(cc) > 3583 {
			return function.Errorf(fault.Invalid, "InvalidRequestContentException", "Client context must be a valid Base64-encoded JSON object.")
		}
		clientContext = string(b)
	}
	logType := r.Header.Get("X-Amz-Log-Type")
	if logType != "" && logType != "None" && logType != "Tail" {
		return function.Validation(logType, "logType", "Member must satisfy enum value set: [None, Tail]")
	}
	ireq := invoke.For(t, s.d.Registry.ReservedTotal(), req.body)
	ireq.Region = req.region
	ireq.ClientContext, ireq.Tail = clientContext, logType == "Tail"
	ireq.TraceID = s.trace(w, r, t.Config)
	// The answer's request id is the invocation's, as on Lambda: the one
	// the function sees and its log lines carry.
	ireq.RequestID = w.Header().Get("X-Amzn-Requestid")
	if req.stream { // InvokeWithResponseStream (stream.go)
		return s.answerStream(w, r, ireq)
	}
	// The answer goes out as soon as the function's response is in,
	// before the invocation's ending is written (invoker.Request.Answer).
	answered := false
	ireq.Answer = func(resp *invoke.Response) {
		answered = true
		w.Header()["Content-Length"] = []string{strconv.Itoa(len(resp.Payload))}
		writeInvokeAnswer(w, t.Config.Version, resp)
		http.NewResponseController(w).Flush()
	}
	resp, err := s.d.Invoker.Invoke(r.Context(), ireq)
	if err != nil || answered {
		return err
	}
	writeInvokeAnswer(w, t.Config.Version, resp)
	return nil
}

// writeInvokeAnswer writes a synchronous invocation's answer: the
// function's response and its headers.
func writeInvokeAnswer(w http.ResponseWriter, version string, resp *invoke.Response) {
	h := w.Header()
	h["Content-Type"] = jsonType
	h["Date"] = awsproto.Date(time.Now())
	if version == function.LatestVersion {
		h["X-Amz-Executed-Version"] = latestValue
	} else {
		h["X-Amz-Executed-Version"] = []string{version}
	}
	if resp.FunctionError != "" {
		h["X-Amz-Function-Error"] = unhandled
	}
	if resp.LogTail != nil {
		h["X-Amz-Log-Result"] = []string{base64.StdEncoding.EncodeToString(resp.LogTail)}
	}
	w.WriteHeader(http.StatusOK)
	w.Write(resp.Payload)
}
