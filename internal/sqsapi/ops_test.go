package sqsapi

import (
	"errors"
	"fmt"
	"testing"

	"github.com/aloft-dev/aloft/internal/fault"
	"github.com/aloft-dev/aloft/internal/queues"
	"github.com/aloft-dev/aloft/internal/store"
)

// TestFailed checks how a batch entry's failure is worded: a refusal is
// the sender's fault with its code, the cluster's unavailability the
// server's ServiceUnavailable, and any other failure InternalError.
func TestFailed(t *testing.T) {
	for _, tc := range []struct {
		err    error
		sender bool
		code   string
	}{
		{&queues.Error{Kind: fault.Invalid, Code: queues.InvalidParameterValue, Message: "bad"}, true, queues.InvalidParameterValue},
		{fmt.Errorf("queues: send: %w", store.ErrUnavailable), false, "ServiceUnavailable"},
		{fault.Errorf(fault.Unavailable, "no majority"), false, "ServiceUnavailable"},
		{errors.New("disk on fire"), false, "InternalError"},
	} {
		f := failed("e1", tc.err)
		if f.ID != "e1" || f.SenderFault != tc.sender || f.Code != tc.code || f.Message == "" {
			t.Errorf("%v: %+v, want SenderFault %v Code %s", tc.err, f, tc.sender, tc.code)
		}
	}
}
