package gateway

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/aloft-dev/aloft/internal/gateway/catalog"
	"github.com/aloft-dev/aloft/internal/invoke"
)

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func ptr[T any](v T) *T { return &v }

func TestRouteThrottle(t *testing.T) {
	e := newEnv(t)
	clock := &fakeClock{t: time.Date(2025, 3, 12, 10, 0, 0, 0, time.UTC)}
	e.h.d.Now = clock.now
	e.function("fn", 3, answer(`{"statusCode":200,"body":"ok"}`))
	a := e.api(nil, map[string]string{"GET /slow": "fn", "GET /fast": "fn"})
	_, err := e.cat.UpdateAPI(context.Background(), a.ID, func(a *catalog.API) error {
		s := a.Stage(catalog.DefaultStage)
		s.DefaultRouteSettings = &catalog.RouteSettings{ThrottlingRateLimit: ptr(0.5), ThrottlingBurstLimit: ptr(2)}
		s.RouteSettings = map[string]*catalog.RouteSettings{"GET /fast": {ThrottlingRateLimit: ptr(1000.0), ThrottlingBurstLimit: ptr(1000)}}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	e.expect(e.req("GET", "/slow", nil), 200, "ok")
	e.expect(e.req("GET", "/slow", nil), 200, "ok")
	got := e.expect(e.req("GET", "/slow", nil), 429, `{"message":"Too Many Requests"}`)
	if ra := got.header.Get("Retry-After"); ra != "2" {
		t.Fatalf("Retry-After %q, want 2 (one token every 2s)", ra)
	}
	for range 5 {
		e.expect(e.req("GET", "/fast", nil), 200, "ok") // its own settings
	}
	e.expect(e.req("GET", "/prod/slow", nil), 200, "ok") // other stages are not throttled
	clock.add(2 * time.Second)
	e.expect(e.req("GET", "/slow", nil), 200, "ok")
	e.expect(e.req("GET", "/slow", nil), 429, "")
}

func TestAPIKeys(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	clock := &fakeClock{t: time.Date(2025, 3, 12, 23, 59, 0, 0, time.UTC)}
	e.h.d.Now = clock.now
	e.function("fn", 3, answer(`{"statusCode":200,"body":"ok"}`))
	a := e.api(nil, map[string]string{"GET /open": "fn", "GET /guarded": "fn"})
	_, err := e.cat.UpdateAPI(ctx, a.ID, func(a *catalog.API) error {
		for _, r := range a.Routes {
			r.APIKeyRequired = r.Key == "GET /guarded"
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	k, value, err := e.cat.CreateAPIKey(ctx, &catalog.APIKey{Name: "k", Enabled: true}, "")
	if err != nil {
		t.Fatal(err)
	}
	other, otherValue, err := e.cat.CreateAPIKey(ctx, &catalog.APIKey{Name: "other", Enabled: true}, "")
	if err != nil {
		t.Fatal(err)
	}
	plan, err := e.cat.CreateUsagePlan(ctx, &catalog.UsagePlan{Name: "p", APIStages: []catalog.APIStage{{APIID: a.ID, Stage: catalog.DefaultStage}},
		Throttle: &catalog.ThrottleSettings{RateLimit: 100, BurstLimit: 2}, Quota: &catalog.QuotaSettings{Limit: 3, Period: "DAY"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.cat.UpdateUsagePlan(ctx, plan.ID, func(p *catalog.UsagePlan) error { p.KeyIDs = []string{k.ID}; return nil }); err != nil {
		t.Fatal(err)
	}
	withKey := func(path, v string) *http.Request {
		r := e.req("GET", path, nil)
		if v != "" {
			r.Header.Set("x-api-key", v)
		}
		return r
	}
	e.expect(withKey("/open", ""), 200, "")
	e.expect(withKey("/guarded", ""), 403, `{"message":"Forbidden"}`)
	e.expect(withKey("/guarded", "not-a-key-at-all-0000000"), 403, `{"message":"Forbidden"}`)
	e.expect(withKey("/guarded", otherValue), 403, `{"message":"Forbidden"}`) // in no plan
	e.expect(withKey("/prod/guarded", value), 403, "")                        // the plan covers $default only
	e.expect(withKey("/guarded", value), 200, "ok")
	e.expect(withKey("/guarded", value), 200, "ok")
	got := e.expect(withKey("/guarded", value), 429, `{"message":"Too Many Requests"}`) // burst of 2
	if got.header.Get("Retry-After") != "1" {
		t.Fatalf("Retry-After %q", got.header.Get("Retry-After"))
	}
	clock.add(time.Second)
	e.expect(withKey("/guarded", value), 200, "ok")
	clock.add(time.Second)
	got = e.expect(withKey("/guarded", value), 429, `{"message":"Limit Exceeded"}`) // 3 a day
	if got.header.Get("Retry-After") != "58" {
		t.Fatalf("Retry-After %q, want the 58 s left of the day", got.header.Get("Retry-After"))
	}
	// A catalog change keeps the counts.
	if _, err := e.cat.UpdateUsagePlan(ctx, plan.ID, func(p *catalog.UsagePlan) error { p.KeyIDs = []string{k.ID, other.ID}; return nil }); err != nil {
		t.Fatal(err)
	}
	e.expect(withKey("/guarded", value), 429, `{"message":"Limit Exceeded"}`)
	e.expect(withKey("/guarded", otherValue), 200, "ok") // its own counters
	clock.add(time.Minute)                               // the next day
	e.expect(withKey("/guarded", value), 200, "ok")
	// A disabled key is refused.
	if _, err := e.cat.UpdateAPIKey(ctx, k.ID, func(k *catalog.APIKey) error { k.Enabled = false; return nil }); err != nil {
		t.Fatal(err)
	}
	e.expect(withKey("/guarded", value), 403, "")
	if err := e.cat.DeleteAPIKey(ctx, other.ID); err != nil {
		t.Fatal(err)
	}
	e.expect(withKey("/guarded", otherValue), 403, "")
	if p, _ := e.cat.UsagePlan(plan.ID); len(p.KeyIDs) != 1 {
		t.Fatalf("deleted key still in plan: %v", p.KeyIDs)
	}
}

// savingCounts counts the saves it passes on.
type savingCounts struct {
	*catalog.Counts
	mu    sync.Mutex
	saves int
}

func (c *savingCounts) Save(ctx context.Context, n catalog.DailyCount) error {
	c.mu.Lock()
	c.saves++
	c.mu.Unlock()
	return c.Counts.Save(ctx, n)
}

// Quota counts are saved; a handler started afresh (a restarted server)
// carries on from them, and two handlers over one store (two servers)
// each count against the quota what the other admitted.
func TestQuotaCountsShared(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	clock := &fakeClock{t: time.Date(2025, 3, 12, 10, 0, 0, 0, time.UTC)}
	day := time.Date(2025, 3, 12, 0, 0, 0, 0, time.UTC)
	stored, err := catalog.OpenCounts(ctx, e.js)
	if err != nil {
		t.Fatal(err)
	}
	counts := &savingCounts{Counts: stored}
	e.h.d.Now, e.h.d.Counts = clock.now, counts
	e.h.keepCounts()
	defer e.h.stopCounts(ctx)
	e.function("fn", 3, answer(`{"statusCode":200,"body":"ok"}`))
	a := e.api(nil, map[string]string{"GET /guarded": "fn"})
	if _, err := e.cat.UpdateAPI(ctx, a.ID, func(a *catalog.API) error { a.Routes[0].APIKeyRequired = true; return nil }); err != nil {
		t.Fatal(err)
	}
	k, value, err := e.cat.CreateAPIKey(ctx, &catalog.APIKey{Name: "k", Enabled: true}, "")
	if err != nil {
		t.Fatal(err)
	}
	plan, err := e.cat.CreateUsagePlan(ctx, &catalog.UsagePlan{Name: "p", APIStages: []catalog.APIStage{{APIID: a.ID, Stage: catalog.DefaultStage}},
		Quota: &catalog.QuotaSettings{Limit: 3, Period: "DAY"}, KeyIDs: []string{k.ID}})
	if err != nil {
		t.Fatal(err)
	}
	withKey := func(srv *httptest.Server) *http.Request {
		r, _ := http.NewRequest("GET", srv.URL+"/guarded", nil)
		r.Header.Set("x-api-key", value)
		return r
	}
	e.expect(withKey(e.srv), 200, "ok")
	e.expect(withKey(e.srv), 200, "ok")
	e.h.saveCounts(ctx)
	e.h.saveCounts(ctx) // nothing changed: nothing saved
	if counts.saves != 1 {
		t.Fatalf("%d saves, want 1", counts.saves)
	}
	usage := func(want int64) {
		t.Helper()
		got, err := stored.Daily(ctx, plan.ID, "", day, day)
		if err != nil || len(got) != 1 || got[k.ID][day] != want {
			t.Fatalf("stored counts %v (%v), want %d for %s on %s", got, err, want, k.ID, day)
		}
	}
	usage(2)

	// A second handler over the same store: one request left today.
	h := NewHandler(Deps{Catalog: e.cat, Functions: invoke.Functions{Store: e.fns}, Invoker: e.inv, Counts: counts, Now: clock.now})
	h.keepCounts()
	defer h.stopCounts(ctx)
	srv := httptest.NewServer(h)
	defer srv.Close()
	e.expect(withKey(srv), 200, "ok")
	e.expect(withKey(srv), 429, `{"message":"Limit Exceeded"}`)
	h.saveCounts(ctx)
	usage(3) // both handlers' counts, neither overwriting the other's

	// The first handler learns what the second admitted.
	deadline := time.Now().Add(10 * time.Second)
	for e.h.others.between(plan.ID+"/"+k.ID, day, day.Add(24*time.Hour)) != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the first handler never saw the second's count")
		}
		time.Sleep(10 * time.Millisecond)
	}
	e.h.refreshOthers()
	e.expect(withKey(e.srv), 429, `{"message":"Limit Exceeded"}`)

	clock.add(24 * time.Hour) // a count of an earlier day does not hold
	e.expect(withKey(srv), 200, "ok")
	e.expect(withKey(e.srv), 200, "ok")
}
