package schedulerapi

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aloft-dev/aloft/internal/fault"
	"github.com/aloft-dev/aloft/internal/store"
)

func TestWireErrors(t *testing.T) {
	for _, tc := range []struct {
		err    error
		status int
		code   string
	}{
		{&fault.Error{Kind: fault.NotFound, Message: "x"}, 404, "ResourceNotFoundException"},
		{&fault.Error{Kind: fault.Conflict, Message: "x"}, 409, "ConflictException"},
		{&fault.Error{Kind: fault.Invalid, Message: "x"}, 400, "ValidationException"},
		{validation("bad %d", 1), 400, "ValidationException"},
		{errors.New("disk on fire"), 500, "InternalServerException"},
		{fmt.Errorf("scheduler: put: %w", store.ErrUnavailable), 503, "ServiceUnavailableException"},
		{fault.Errorf(fault.Unavailable, "no majority"), 503, "ServiceUnavailableException"},
	} {
		e := wireError(tc.err)
		if e.Status != tc.status || e.Code != tc.code {
			t.Errorf("%v: %d %s, want %d %s", tc.err, e.Status, e.Code, tc.status, tc.code)
		}
	}
	w := httptest.NewRecorder()
	New(nil, nil).ServeHTTP(w, httptest.NewRequest("PATCH", "/nowhere", nil))
	if w.Code != http.StatusNotFound || w.Header().Get("X-Amzn-Errortype") != "ResourceNotFoundException" {
		t.Errorf("unknown operation: %d %v", w.Code, w.Header())
	}
}
