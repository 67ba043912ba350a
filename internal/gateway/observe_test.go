package gateway

import (
	"sync"
	"testing"
)

// TestObserveRoutesAndStatuses checks that each answered request is
// counted under the route key that matched, or none, with its status.
func TestObserveRoutesAndStatuses(t *testing.T) {
	e := newEnv(t)
	var mu sync.Mutex
	seen := map[string]int{}
	e.h.d.Observe = func(route string, status int) {
		mu.Lock()
		seen[route+" "+statusText(status)]++
		mu.Unlock()
	}
	e.function("items", 3, answer(`{"statusCode":201,"body":"made"}`))
	e.function("bad", 3, answer(`{"errorType":"Error","errorMessage":"boom"}`))
	e.api(nil, map[string]string{"POST /items/{id}": "items", "GET /bad": "bad"})
	e.expect(e.req("POST", "/items/1", nil), 201, "made")
	e.expect(e.req("POST", "/items/2", nil), 201, "made")
	e.expect(e.req("GET", "/nothing/here", nil), 404, "")
	got := e.do(e.req("GET", "/bad", nil))
	mu.Lock()
	defer mu.Unlock()
	want := map[string]int{"POST /items/{id} 201": 2, RouteNone + " 404": 1, "GET /bad " + statusText(got.status): 1}
	if len(seen) != len(want) {
		t.Fatalf("observed %v, want %v", seen, want)
	}
	for k, n := range want {
		if seen[k] != n {
			t.Errorf("observed %v, want %v", seen, want)
			break
		}
	}
}

func statusText(code int) string {
	return string(rune('0'+code/100)) + string(rune('0'+code/10%10)) + string(rune('0'+code%10))
}
