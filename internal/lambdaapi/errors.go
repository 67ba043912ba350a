package lambdaapi

import (
	"encoding/json"
	"net/http"

	"github.com/aloft-dev/aloft/internal/awsproto"
	"github.com/aloft-dev/aloft/internal/function"
)

// writeError renders err as Lambda does (awsproto.Lambda): the exception
// name in x-amzn-ErrorType and a JSON body with the message.
func writeError(w http.ResponseWriter, err error) {
	e := function.AsError(err)
	awsproto.WriteError(w, nil, awsproto.Lambda,
		&awsproto.Error{Status: awsproto.Status(e.Kind), Code: e.Type, Message: e.Message, Reason: e.Reason}, "")
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
