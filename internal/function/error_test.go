package function

import (
	"errors"
	"fmt"
	"testing"

	"github.com/aloft-dev/aloft/internal/awsproto"
	"github.com/aloft-dev/aloft/internal/fault"
	"github.com/aloft-dev/aloft/internal/store"
)

func TestAsError(t *testing.T) {
	own := NotFound("arn:aws:lambda:us-east-1:000000000000:function:f")
	for _, tc := range []struct {
		name string
		err  error
		kind fault.Kind
		typ  string
	}{
		{"own error", fmt.Errorf("get: %w", own), fault.NotFound, "ResourceNotFoundException"},
		{"store unavailable", fmt.Errorf("put function: %w", store.ErrUnavailable), fault.Unavailable, "ServiceException"},
		{"fault unavailable", fault.Errorf(fault.Unavailable, "no majority"), fault.Unavailable, "ServiceException"},
		{"other", errors.New("disk on fire"), fault.Internal, "ServiceException"},
	} {
		e := AsError(tc.err)
		if e.Kind != tc.kind || e.Type != tc.typ {
			t.Errorf("%s: kind %v type %s, want %v %s", tc.name, e.Kind, e.Type, tc.kind, tc.typ)
		}
		if got := awsproto.Status(e.Kind); tc.kind == fault.Unavailable && got != 503 {
			t.Errorf("%s: status %d, want 503", tc.name, got)
		}
	}
	if e := AsError(fmt.Errorf("get: %w", own)); e != own {
		t.Errorf("AsError did not return the *Error in the chain: %v", e)
	}
}
