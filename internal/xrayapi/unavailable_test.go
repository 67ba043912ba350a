package xrayapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/aloft-dev/aloft/internal/store"
	"github.com/aloft-dev/aloft/internal/traces"
)

// failingStore fails every read with err.
type failingStore struct{ err error }

func (f failingStore) Summaries(context.Context, traces.Query) (*traces.Page, error) {
	return nil, f.err
}
func (f failingStore) Get(context.Context, []string) ([]*traces.Trace, []string, error) {
	return nil, nil, f.err
}
func (failingStore) Put([]string) []traces.Unprocessed { return nil }

// TestStoreFailures checks that the cluster's unavailability answers 503
// ServiceUnavailableException and any other failure of the store 500,
// and that each is logged, as a refusal of the caller's is not.
func TestStoreFailures(t *testing.T) {
	for _, tc := range []struct {
		err    error
		status int
		code   string
	}{
		{fmt.Errorf("traces: read: %w", store.ErrUnavailable), 503, "ServiceUnavailableException"},
		{errors.New("disk on fire"), 500, "InternalFailure"},
	} {
		var logged bytes.Buffer
		h := New(failingStore{tc.err}, slog.New(slog.NewTextHandler(&logged, nil)))
		for _, c := range []struct{ path, body string }{
			{"/TraceSummaries", `{"StartTime":1700000000,"EndTime":1700000100}`},
			{"/Traces", `{"TraceIds":["1-5759e988-bd862e3fe1be46a994272793"]}`},
		} {
			status, code, out := call(t, h, c.path, c.body)
			if status != tc.status || code != tc.code || out["message"] == "" {
				t.Errorf("%s with %v: %d %s %v, want %d %s", c.path, tc.err, status, code, out, tc.status, tc.code)
			}
		}
		if n := strings.Count(logged.String(), "request failed"); n != 2 || !strings.Contains(logged.String(), tc.err.Error()) {
			t.Errorf("failures with %v logged %d times, want 2 with the error: %s", tc.err, n, logged.String())
		}
	}
	var logged bytes.Buffer
	status, code, _ := call(t, New(failingStore{}, slog.New(slog.NewTextHandler(&logged, nil))), "/Traces", `{}`)
	if status != 400 || logged.Len() != 0 {
		t.Errorf("a refused request: %d %s, logged %q; want 400 and nothing logged", status, code, logged.String())
	}
}
