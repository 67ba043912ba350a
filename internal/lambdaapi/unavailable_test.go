package lambdaapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aloft-dev/aloft/internal/fault"
	"github.com/aloft-dev/aloft/internal/function"
	"github.com/aloft-dev/aloft/internal/gateway/catalog"
	"github.com/aloft-dev/aloft/internal/store"
)

// unavailableFunctions is a registry whose writes the cluster cannot
// take: Delete fails as the store's does without a majority.
type unavailableFunctions struct{ fakeFunctions }

func (unavailableFunctions) Delete(context.Context, string) error {
	return fmt.Errorf("registry: delete: %w", store.ErrUnavailable)
}

// unavailableURLs is a catalog of function URLs that refuses every
// write as unavailable, in fault's own words.
type unavailableURLs struct{}

func (unavailableURLs) URL(string) (*catalog.URLConfig, bool) { return nil, false }
func (unavailableURLs) CreateURL(context.Context, *catalog.URLConfig) (*catalog.URLConfig, error) {
	return nil, errNoMajority
}
func (unavailableURLs) UpdateURL(context.Context, string, func(*catalog.URLConfig) error) (*catalog.URLConfig, error) {
	return nil, errNoMajority
}
func (unavailableURLs) DeleteURL(context.Context, string) error { return errNoMajority }

var errNoMajority = fault.Errorf(fault.Unavailable, "catalog: no majority")

// TestUnavailable checks that a write the cluster cannot take answers
// Lambda's 503 ServiceException, a service fault the SDKs retry, and is
// logged, where it used to answer 500.
func TestUnavailable(t *testing.T) {
	fns := fakeFunctions{"hello": {Region: "us-east-1", Config: function.Config{
		FunctionName: "hello", FunctionArn: function.ARN("us-east-1", "hello", ""), Runtime: "python3.12",
		Handler: "app.handler", MemorySize: 128, Timeout: 3, Version: function.LatestVersion}}}
	var logs bytes.Buffer
	s := New(Deps{Registry: unavailableFunctions{fns}, Invoker: &fakeRunner{}, URLs: unavailableURLs{},
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	for _, tc := range []struct{ method, path, body string }{
		{"DELETE", "/2015-03-31/functions/hello", ""},
		{"DELETE", "/2021-10-31/functions/hello/url", ""},
	} {
		logs.Reset()
		w := httptest.NewRecorder()
		s.ServeHTTP(w, httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body)))
		var doc map[string]string
		json.Unmarshal(w.Body.Bytes(), &doc)
		if w.Code != http.StatusServiceUnavailable || w.Header().Get("X-Amzn-Errortype") != "ServiceException" || doc["Type"] != "Service" {
			t.Errorf("%s %s: %d %v %s, want 503 ServiceException of type Service", tc.method, tc.path, w.Code, w.Header(), w.Body)
		}
		if !strings.Contains(logs.String(), "api request failed") {
			t.Errorf("%s %s: the failure was not logged: %q", tc.method, tc.path, logs.String())
		}
	}
}
