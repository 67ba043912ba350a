package api

import (
	"encoding/base64"
	"encoding/json"
	"net/http"

	"github.com/aloft-dev/aloft/internal/function"
	"github.com/aloft-dev/aloft/internal/invoker"
)

var (
	jsonType    = []string{"application/json"}
	unhandled   = []string{"Unhandled"}
	latestValue = []string{function.LatestVersion}
)

func (s *Server) invoke(w http.ResponseWriter, r *http.Request, req *request) error {
	rec, err := s.lookup(r, req)
	if err != nil {
		return err
	}
	switch t := r.Header.Get("X-Amz-Invocation-Type"); t {
	case "", "RequestResponse":
	case "DryRun":
		w.WriteHeader(http.StatusNoContent)
		return nil
	case "Event":
		return function.InvalidParameter("Asynchronous (Event) invocations are not supported by this server yet; use RequestResponse.")
	default:
		return function.Validation(t, "invocationType", "Member must satisfy enum value set: [Event, RequestResponse, DryRun]")
	}
	if len(req.body) > function.MaxSyncPayload {
		return function.TooLarge("Request must be smaller than %d bytes for the InvokeFunction operation", function.MaxSyncPayload)
	}
	if len(req.body) > 0 && !json.Valid(req.body) {
		return function.Errorf(function.EINVALID, "InvalidRequestContentException",
			"Could not parse request body into json: Could not parse payload into json: Unexpected character: was expecting a JSON value")
	}
	var clientContext string
	if cc := r.Header.Get("X-Amz-Client-Context"); cc != "" {
		b, err := base64.StdEncoding.DecodeString(cc)
		if err != nil || !json.Valid(b) || len(cc) > 3583 {
			return function.Errorf(function.EINVALID, "InvalidRequestContentException", "Client context must be a valid Base64-encoded JSON object.")
		}
		clientContext = string(b)
	}
	logType := r.Header.Get("X-Amz-Log-Type")
	if logType != "" && logType != "None" && logType != "Tail" {
		return function.Validation(logType, "logType", "Member must satisfy enum value set: [None, Tail]")
	}
	arn := rec.Config.FunctionArn
	if q := r.URL.Query().Get("Qualifier"); q != "" {
		arn += ":" + q
	}
	resp, err := s.d.Invoker.Invoke(r.Context(), &invoker.Request{
		Config:        &rec.Config,
		Revision:      rec.Revision(),
		Region:        req.region,
		CodeKey:       rec.CodeHex,
		InvokedARN:    arn,
		Payload:       req.body,
		ClientContext: clientContext,
		Tail:          logType == "Tail",
	})
	if err != nil {
		return err
	}
	h := w.Header()
	h["Content-Type"] = jsonType
	h["X-Amz-Executed-Version"] = latestValue
	if resp.FunctionError != "" {
		h["X-Amz-Function-Error"] = unhandled
	}
	if resp.LogTail != nil {
		h["X-Amz-Log-Result"] = []string{base64.StdEncoding.EncodeToString(resp.LogTail)}
	}
	w.WriteHeader(http.StatusOK)
	w.Write(resp.Payload)
	return nil
}
