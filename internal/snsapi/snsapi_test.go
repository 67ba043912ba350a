package snsapi

import (
	"errors"
	"fmt"
	"testing"

	"github.com/aloft-dev/aloft/internal/fault"
	"github.com/aloft-dev/aloft/internal/store"
	"github.com/aloft-dev/aloft/internal/topics"
)

// TestFailureOf checks how a batch entry's or a link's failure is
// worded: a refusal with its code, the cluster's unavailability as the
// server's ServiceUnavailable (503), and any other failure InternalError.
func TestFailureOf(t *testing.T) {
	for _, tc := range []struct {
		err    error
		status int
		code   string
	}{
		{&topics.Error{Kind: fault.NotFound, Code: "NotFound", Message: "Topic does not exist"}, 404, "NotFound"},
		{fmt.Errorf("topics: enqueue: %w", store.ErrUnavailable), 503, "ServiceUnavailable"},
		{fault.Errorf(fault.Unavailable, "no majority"), 503, "ServiceUnavailable"},
		{errors.New("disk on fire"), 500, "InternalError"},
	} {
		e := failureOf(tc.err, "The message could not be published.")
		if e.Status != tc.status || e.Code != tc.code || e.Message == "" {
			t.Errorf("%v: %d %s %q, want %d %s", tc.err, e.Status, e.Code, e.Message, tc.status, tc.code)
		}
	}
}
