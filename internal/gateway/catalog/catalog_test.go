package catalog

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aloft-dev/aloft/internal/fault"
	"github.com/aloft-dev/aloft/internal/gateway/payload"
	"github.com/aloft-dev/aloft/internal/store"
)

func openStore(t *testing.T, dir string) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), store.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func openCatalog(t *testing.T, st *store.Store) *Catalog {
	t.Helper()
	c, err := Open(context.Background(), st.JetStream(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func newAPI() *API {
	return &API{Name: "shop", ProtocolType: ProtocolHTTP,
		Integrations: []*Integration{{ID: "int1", Type: IntegrationProxy, URI: "arn:aws:lambda:us-east-1:000000000000:function:items"}},
		Routes:       []*Route{{ID: "r1", Key: "GET /items/{id}", Target: RouteTarget("int1")}},
		Stages:       []*Stage{{Name: DefaultStage, AutoDeploy: true}},
	}
}

func TestAPIsPersistAndCompile(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st := openStore(t, dir)
	c := openCatalog(t, st)
	a, err := c.CreateAPI(ctx, newAPI())
	if err != nil {
		t.Fatal(err)
	}
	if len(a.ID) != 10 || a.Integrations[0].PayloadFormatVersion != "2.0" || a.Integrations[0].TimeoutInMillis != DefaultTimeout {
		t.Fatalf("created %+v %+v, want a 10-character id and integration defaults", a, a.Integrations[0])
	}
	ep := c.Snapshot().API(a.ID)
	if ep == nil || c.Snapshot().Only() != ep {
		t.Fatal("the new API is not in the snapshot")
	}
	m, ok := ep.Routes.Match("GET", "/items/7", nil)
	if !ok || m.Value.Function != "items" || m.Value.Format != payload.V2 || m.Value.Resource != "/items/{id}" || m.Params[0].Value != "7" {
		t.Fatalf("match: %+v %+v", m, m.Value)
	}

	// A change that would make two routes serve the same requests is
	// refused and leaves the API as it was.
	_, err = c.UpdateAPI(ctx, a.ID, func(a *API) error {
		a.Routes = append(a.Routes, &Route{ID: "r2", Key: "GET /items/{other}"})
		return nil
	})
	if fault.KindOf(err) != fault.Conflict {
		t.Fatalf("conflicting route: got %v, want a Conflict", err)
	}
	_, err = c.UpdateAPI(ctx, a.ID, func(a *API) error {
		a.Integrations = append(a.Integrations, &Integration{ID: "int2", Type: IntegrationProxy, URI: "legacy", PayloadFormatVersion: "1.0"})
		a.Routes = append(a.Routes, &Route{ID: "r2", Key: "ANY /{proxy+}", Target: RouteTarget("int2")})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	m, ok = c.Snapshot().API(a.ID).Routes.Match("POST", "/a/b", nil)
	if !ok || m.Value.Function != "legacy" || m.Value.Format != payload.V1 {
		t.Fatalf("after update: %+v", m)
	}

	// Everything is there after a restart.
	c.Close()
	st.Close()
	st = openStore(t, dir)
	defer st.Close()
	c = openCatalog(t, st)
	got, err := c.API(a.ID)
	if err != nil || len(got.Routes) != 2 || got.Name != "shop" || !got.CreatedDate.Equal(a.CreatedDate) {
		t.Fatalf("after restart: %+v, %v", got, err)
	}
	if m, ok := c.Snapshot().API(a.ID).Routes.Match("GET", "/items/1", nil); !ok || m.Value.Function != "items" {
		t.Fatal("routes are not served after a restart")
	}
	if err := c.DeleteAPI(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if c.Snapshot().API(a.ID) != nil || len(c.APIs()) != 0 {
		t.Fatal("deleted API still served")
	}
	if err := c.DeleteAPI(ctx, a.ID); fault.KindOf(err) != fault.NotFound {
		t.Fatalf("second delete: got %v, want NotFound", err)
	}
}

func TestValidation(t *testing.T) {
	st := openStore(t, t.TempDir())
	defer st.Close()
	c := openCatalog(t, st)
	for name, mutate := range map[string]func(*API){
		"protocol":       func(a *API) { a.ProtocolType = "WEBSOCKET" },
		"name":           func(a *API) { a.Name = "" },
		"route key":      func(a *API) { a.Routes[0].Key = "GET items" },
		"target":         func(a *API) { a.Routes[0].Target = "integrations/nope" },
		"integration":    func(a *API) { a.Integrations[0].Type = "HTTP_PROXY" },
		"uri":            func(a *API) { a.Integrations[0].URI = "arn:aws:s3:::bucket" },
		"payload format": func(a *API) { a.Integrations[0].PayloadFormatVersion = "3.0" },
		"timeout":        func(a *API) { a.Integrations[0].TimeoutInMillis = 30001 },
		"stage":          func(a *API) { a.Stages[0].Name = "bad stage" },
		"authorization":  func(a *API) { a.Routes[0].AuthorizationType = "JWT" },
	} {
		a := newAPI()
		mutate(a)
		if _, err := c.CreateAPI(context.Background(), a); fault.KindOf(err) != fault.Invalid {
			t.Errorf("%s: got %v, want Invalid", name, err)
		}
	}
	if len(c.APIs()) != 0 {
		t.Fatal("an invalid API was stored")
	}
}

func TestParseFunctionURI(t *testing.T) {
	for uri, want := range map[string]string{
		"fn": "fn", "arn:aws:lambda:us-east-1:000000000000:function:fn": "fn",
		"arn:aws:lambda:eu-west-1:000000000000:function:fn:live":                                                                      "fn:live",
		"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:000000000000:function:fn/invocations": "fn",
	} {
		name, q, err := ParseFunctionURI(uri)
		got := name
		if q != "" {
			got += ":" + q
		}
		if err != nil || got != want {
			t.Errorf("ParseFunctionURI(%q) = %q, %v; want %q", uri, got, err, want)
		}
	}
	for _, bad := range []string{"", "arn:aws:apigateway:us-east-1:lambda:path/x", "a b", "arn:aws:sqs:us-east-1:000000000000:q"} {
		if _, _, err := ParseFunctionURI(bad); fault.KindOf(err) != fault.Invalid {
			t.Errorf("ParseFunctionURI(%q) = %v, want Invalid", bad, err)
		}
	}
}

func TestURLs(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, t.TempDir())
	defer st.Close()
	c := openCatalog(t, st)
	other := openCatalog(t, st) // a second node on the same backbone
	arn := "arn:aws:lambda:us-east-1:000000000000:function:fn"
	u, err := c.CreateURL(ctx, &URLConfig{Function: "fn", FunctionArn: arn, Region: "us-east-1", AuthType: AuthIAM})
	if err != nil {
		t.Fatal(err)
	}
	if len(u.URLID) != 32 || strings.Trim(u.URLID, "abcdefghijklmnopqrstuvwxyz0123456789") != "" || u.URLID != URLID(arn) {
		t.Fatalf("url id %q: want 32 lower-case letters and digits, stable per function", u.URLID)
	}
	if ep := c.Snapshot().URL(u.URLID); ep == nil || !ep.IAM {
		t.Fatalf("snapshot: %+v", ep)
	}
	if _, err := c.CreateURL(ctx, &URLConfig{Function: "fn", FunctionArn: arn, AuthType: AuthNone}); fault.KindOf(err) != fault.Conflict {
		t.Fatalf("second create: got %v, want Conflict", err)
	}
	if _, err := c.CreateURL(ctx, &URLConfig{Function: "g", FunctionArn: arn + "g", AuthType: "OPEN"}); fault.KindOf(err) != fault.Invalid {
		t.Fatalf("bad auth type: got %v, want Invalid", err)
	}
	waitFor(t, func() bool { return other.Snapshot().URL(u.URLID) != nil })
	if _, err := other.UpdateURL(ctx, "fn", func(u *URLConfig) error { u.AuthType = AuthNone; return nil }); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { ep := c.Snapshot().URL(u.URLID); return ep != nil && !ep.IAM })
	if err := c.PruneURLs(ctx, func(fn string) bool { return fn != "fn" }); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.URL("fn"); ok || c.Snapshot().URL(u.URLID) != nil {
		t.Fatal("pruned URL still there")
	}
	waitFor(t, func() bool { return other.Snapshot().URL(u.URLID) == nil })
	if err := c.DeleteURL(ctx, "fn"); fault.KindOf(err) != fault.NotFound {
		t.Fatalf("delete again: got %v, want NotFound", err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
	}
}

// TestReadsOwnWrites checks that every write is in the snapshot when the
// call returns, even when the watch applies the same value first.
func TestReadsOwnWrites(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, t.TempDir())
	defer st.Close()
	c := openCatalog(t, st)
	for i := range 300 {
		a, err := c.CreateAPI(ctx, newAPI())
		if err != nil {
			t.Fatal(err)
		}
		if c.Snapshot().API(a.ID) == nil {
			t.Fatalf("write %d: API %s is not in the snapshot when CreateAPI returns", i, a.ID)
		}
	}
}
