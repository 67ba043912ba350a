package gateway

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aloft-dev/aloft/internal/gateway/catalog"
	"github.com/aloft-dev/aloft/internal/invoker"
)

func TestResponseCache(t *testing.T) {
	e := newEnv(t)
	clock := &fakeClock{t: time.Date(2025, 3, 12, 10, 0, 0, 0, time.UTC)}
	e.h.d.Now = clock.now
	var n atomic.Int32
	e.function("count", 3, func(ev []byte) (*invoker.Response, error) {
		c := n.Add(1)
		status := 200
		if c == 100 {
			status = 500
		}
		return &invoker.Response{Payload: []byte(`{"statusCode":` + strconv.Itoa(status) + `,"headers":{"x-n":"` + strconv.Itoa(int(c)) + `"},"body":"n` + strconv.Itoa(int(c)) + `"}`)}, nil
	})
	a := e.api(nil, map[string]string{"ANY /c/{id}": "count", "GET /plain": "count"})
	_, err := e.cat.UpdateAPI(context.Background(), a.ID, func(a *catalog.API) error {
		for _, r := range a.Routes {
			if r.Key == "ANY /c/{id}" {
				r.CacheTTLInSeconds, r.CacheKeyHeaders = 60, []string{"accept-language"}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	check := func(method, path, lang, body, cache string) {
		t.Helper()
		r := e.req(method, path, nil)
		if lang != "" {
			r.Header.Set("Accept-Language", lang)
		}
		got := e.do(r)
		if got.status != 200 || got.body != body || got.header.Get("X-Aloft-Cache") != cache {
			t.Fatalf("%s %s (%s): got %d %q cache %q, want %q cache %q", method, path, lang, got.status, got.body, got.header.Get("X-Aloft-Cache"), body, cache)
		}
	}
	check("GET", "/c/1", "", "n1", "miss")
	check("GET", "/c/1", "", "n1", "hit")
	check("HEAD", "/c/1", "", "", "hit")
	check("GET", "/c/1?q=1", "", "n2", "miss") // the query is in the key
	check("GET", "/c/2", "", "n3", "miss")     // and the path
	check("GET", "/c/1", "fr", "n4", "miss")   // and the chosen headers
	check("GET", "/c/1", "fr", "n4", "hit")
	check("POST", "/c/1", "", "n5", "")  // only GET and HEAD
	check("GET", "/plain", "", "n6", "") // routes without a TTL
	check("GET", "/plain", "", "n7", "")
	clock.add(61 * time.Second)
	check("GET", "/c/1", "", "n8", "miss")
	check("GET", "/c/1", "", "n8", "hit")
	// Errors are not kept.
	n.Store(99)
	if got := e.do(e.req("GET", "/c/9", nil)); got.status != 500 || got.header.Get("X-Aloft-Cache") != "miss" {
		t.Fatalf("error answer: %d %q", got.status, got.header.Get("X-Aloft-Cache"))
	}
	check("GET", "/c/9", "", "n101", "miss")
}
