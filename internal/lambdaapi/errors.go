package lambdaapi

import (
	"encoding/json"
	"net/http"

	"github.com/aloft-dev/aloft/internal/function"
)

// status maps each error code to its HTTP status.
var status = map[function.Code]int{
	function.ENOTFOUND:     http.StatusNotFound,
	function.ECONFLICT:     http.StatusConflict,
	function.EINVALID:      http.StatusBadRequest,
	function.ETOOLARGE:     http.StatusRequestEntityTooLarge,
	function.EUNAUTHORIZED: http.StatusForbidden,
	function.ETHROTTLED:    http.StatusTooManyRequests,
	function.EUNSUPPORTED:  http.StatusUnsupportedMediaType,
	function.EINTERNAL:     http.StatusInternalServerError,
}

// statusOf returns the HTTP status of e; a few AWS types have their own.
func statusOf(e *function.Error) int {
	if e.Type == "PreconditionFailedException" {
		return http.StatusPreconditionFailed
	}
	if s, ok := status[e.Code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// writeError renders err as Lambda does: the exception name in
// x-amzn-ErrorType and a JSON body with the message.
func writeError(w http.ResponseWriter, err error) {
	e := function.AsError(err)
	code := statusOf(e)
	body := map[string]string{"Type": "User", "message": e.Message}
	switch {
	case code >= 500:
		body["Type"] = "Service"
	case e.Code == function.ENOTFOUND || e.Code == function.ETOOLARGE:
		body = map[string]string{"Type": "User", "Message": e.Message}
	case e.Code == function.EUNAUTHORIZED:
		body = map[string]string{"message": e.Message, "__type": e.Type}
	}
	if e.Reason != "" {
		body["Reason"] = e.Reason
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Amzn-Errortype", e.Type)
	if code == http.StatusTooManyRequests {
		h.Set("Retry-After", "1")
	}
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(body)
}

// writeJSON writes v with status code.
func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write(b)
}
