package gatewayapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aloft-dev/aloft/internal/gateway/catalog"
)

// fakeUsage answers Daily from fixed counts and remembers what it was
// asked.
type fakeUsage struct {
	counts      map[string]map[time.Time]int64
	first, last time.Time
	keyID       string
}

func (f *fakeUsage) Daily(_ context.Context, _, keyID string, first, last time.Time) (map[string]map[time.Time]int64, error) {
	f.first, f.last, f.keyID = first, last, keyID
	out := map[string]map[time.Time]int64{}
	for k, days := range f.counts {
		if keyID != "" && k != keyID {
			continue
		}
		for d, n := range days {
			if !d.Before(first) && !d.After(last) {
				if out[k] == nil {
					out[k] = map[time.Time]int64{}
				}
				out[k][d] = n
			}
		}
	}
	return out, nil
}

func day(d int) time.Time { return time.Date(2025, 3, d, 0, 0, 0, 0, time.UTC) }

func TestGetUsage(t *testing.T) {
	cat := openCatalog(t)
	ctx := context.Background()
	k1, _, err := cat.CreateAPIKey(ctx, &catalog.APIKey{Name: "one", Enabled: true}, "")
	if err != nil {
		t.Fatal(err)
	}
	k2, _, err := cat.CreateAPIKey(ctx, &catalog.APIKey{Name: "two", Enabled: true}, "")
	if err != nil {
		t.Fatal(err)
	}
	monthly, err := cat.CreateUsagePlan(ctx, &catalog.UsagePlan{Name: "m", Quota: &catalog.QuotaSettings{Limit: 10, Period: "MONTH"}, KeyIDs: []string{k1.ID, k2.ID}})
	if err != nil {
		t.Fatal(err)
	}
	open, err := cat.CreateUsagePlan(ctx, &catalog.UsagePlan{Name: "o", KeyIDs: []string{k1.ID}})
	if err != nil {
		t.Fatal(err)
	}
	u := &fakeUsage{counts: map[string]map[time.Time]int64{
		k1.ID:   {day(1): 3, day(10): 2, day(12): 1},
		"gone1": {day(11): 4}, // a key no longer in the plan
	}}
	srv := httptest.NewServer(New(Deps{Catalog: cat, Usage: u}))
	t.Cleanup(srv.Close)
	get := func(path string, want int) (out struct {
		UsagePlanID        string
		StartDate, EndDate string
		Position           string
		Values             map[string][][]int64
		Message            string
	}) {
		t.Helper()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != want {
			t.Fatalf("GET %s: %d %s, want %d", path, resp.StatusCode, b, want)
		}
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatalf("GET %s: %s: %v", path, b, err)
		}
		return out
	}

	// A monthly quota: each day's remaining counts the month so far,
	// from before the first day asked for.
	got := get("/usageplans/"+monthly.ID+"/usage?startDate=2025-03-10&endDate=2025-03-12", 200)
	if got.UsagePlanID != monthly.ID || got.StartDate != "2025-03-10" || got.EndDate != "2025-03-12" || got.Position != "" {
		t.Fatalf("usage %+v", got)
	}
	if !u.first.Equal(day(1)) || !u.last.Equal(day(12)) {
		t.Fatalf("counts read from %v to %v, want the month so far", u.first, u.last)
	}
	want := map[string]string{
		k1.ID:   "[[2 5] [0 5] [1 4]]",
		k2.ID:   "[[0 10] [0 10] [0 10]]",
		"gone1": "[[0 10] [4 6] [0 6]]",
	}
	if len(got.Values) != len(want) {
		t.Fatalf("values for %d keys, want %d: %v", len(got.Values), len(want), got.Values)
	}
	for k, w := range want {
		if g := fmt.Sprint(got.Values[k]); g != w {
			t.Errorf("key %s: %s, want %s", k, g, w)
		}
	}

	// One key; pages of one key.
	got = get("/usageplans/"+monthly.ID+"/usage?startDate=2025-03-12&endDate=2025-03-12&keyId="+k1.ID, 200)
	if u.keyID != k1.ID || len(got.Values) != 1 || fmt.Sprint(got.Values[k1.ID]) != "[[1 4]]" {
		t.Fatalf("one key: %v", got.Values)
	}
	seen := map[string]bool{}
	for pos, pages := "", 0; ; pages++ {
		got = get("/usageplans/"+monthly.ID+"/usage?startDate=2025-03-12&endDate=2025-03-12&limit=1&position="+pos, 200)
		for k := range got.Values {
			seen[k] = true
		}
		if len(got.Values) != 1 || pages > 3 {
			t.Fatalf("page %d: %v", pages, got.Values)
		}
		if pos = got.Position; pos == "" {
			break
		}
	}
	if len(seen) != 3 {
		t.Fatalf("pages held %v", seen)
	}

	// Without a quota, nothing remains to count down.
	got = get("/usageplans/"+open.ID+"/usage?startDate=2025-03-01&endDate=2025-03-02&keyId="+k1.ID, 200)
	if fmt.Sprint(got.Values[k1.ID]) != "[[3 -1] [0 -1]]" {
		t.Fatalf("no quota: %v", got.Values)
	}

	// Bad requests.
	for _, q := range []string{"", "startDate=2025-03-01", "startDate=2025-3-1&endDate=2025-03-02", "startDate=2025-03-02&endDate=2025-03-01", "startDate=2020-01-01&endDate=2025-03-01"} {
		if got := get("/usageplans/"+monthly.ID+"/usage?"+q, 400); got.Message == "" {
			t.Errorf("%q: 400 without a message", q)
		}
	}
	get("/usageplans/nosuchplan/usage?startDate=2025-03-01&endDate=2025-03-02", 404)
}
