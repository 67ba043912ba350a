package gatewayapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aloft-dev/aloft/internal/fault"
	"github.com/aloft-dev/aloft/internal/gateway/catalog"
	"github.com/aloft-dev/aloft/internal/store"
)

func TestWireError(t *testing.T) {
	for _, tc := range []struct {
		err    error
		status int
		code   string
	}{
		{notFound("x"), 404, "NotFoundException"},
		{fault.Errorf(fault.NotFound, "x"), 404, "NotFoundException"},
		{fault.Errorf(fault.Conflict, "x"), 409, "ConflictException"},
		{fault.Errorf(fault.Invalid, "x"), 400, "BadRequestException"},
		{fault.Errorf(fault.Unavailable, "no majority"), 503, "ServiceUnavailableException"},
		{fmt.Errorf("catalog: put: %w", store.ErrUnavailable), 503, "ServiceUnavailableException"},
		{errors.New("disk on fire"), 500, "InternalServerErrorException"},
	} {
		if e := wireError(tc.err); e.Status != tc.status || e.Code != tc.code || e.Message == "" {
			t.Errorf("%v: %d %s %q, want %d %s", tc.err, e.Status, e.Code, e.Message, tc.status, tc.code)
		}
	}
}

// unavailableUsage fails as the backbone does without a majority.
type unavailableUsage struct{}

func (unavailableUsage) Daily(context.Context, string, string, time.Time, time.Time) (map[string]map[time.Time]int64, error) {
	return nil, fmt.Errorf("usage: %w", store.ErrUnavailable)
}

// TestUnavailableLogged checks that a request the cluster cannot serve
// now answers 503 and is logged as the server's failure.
func TestUnavailableLogged(t *testing.T) {
	cat := openCatalog(t)
	plan, err := cat.CreateUsagePlan(context.Background(), &catalog.UsagePlan{Name: "p"})
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	h := New(Deps{Catalog: cat, Usage: unavailableUsage{}, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/usageplans/"+plan.ID+"/usage?startDate=2025-03-01&endDate=2025-03-02", nil))
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("X-Amzn-Errortype") != "ServiceUnavailableException" {
		t.Errorf("got %d %v %s, want 503 ServiceUnavailableException", w.Code, w.Header(), w.Body)
	}
	if !strings.Contains(logs.String(), "gateway management request failed") {
		t.Errorf("the failure was not logged: %q", logs.String())
	}
}
