package gateway

import (
	"context"
	"encoding/json"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/aloft-dev/aloft/internal/gateway/catalog"
	"github.com/aloft-dev/aloft/internal/invoke"
)

func TestResponseCache(t *testing.T) {
	e := newEnv(t)
	clock := &fakeClock{t: time.Date(2025, 3, 12, 10, 0, 0, 0, time.UTC)}
	e.h.d.Now = clock.now
	var n atomic.Int32
	e.function("count", 3, func(ev []byte) (*invoke.Response, error) {
		c := n.Add(1)
		status := 200
		if c == 100 {
			status = 500
		}
		return &invoke.Response{Payload: []byte(`{"statusCode":` + strconv.Itoa(status) + `,"headers":{"x-n":"` + strconv.Itoa(int(c)) + `"},"body":"n` + strconv.Itoa(int(c)) + `"}`)}, nil
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

// TestResponseCacheCallers checks that, behind an authorizer or an API
// key, a cached answer is served only to the caller it was made for.
func TestResponseCacheCallers(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	var n atomic.Int32
	e.function("count", 3, func([]byte) (*invoke.Response, error) {
		return &invoke.Response{Payload: []byte(`{"statusCode":200,"body":"n` + strconv.Itoa(int(n.Add(1))) + `"}`)}, nil
	})
	// The authorizers allow everyone and name the caller in their
	// context: "token" by its identity source, "open" (no identity
	// sources, no TTL) from a header it reads itself.
	e.function("auth", 3, func(ev []byte) (*invoke.Response, error) {
		var in events.APIGatewayV2CustomAuthorizerV2Request
		json.Unmarshal(ev, &in)
		user := in.Headers["x-user"]
		if len(in.IdentitySource) > 0 {
			user = in.IdentitySource[0]
		}
		b, _ := json.Marshal(map[string]any{"isAuthorized": true, "context": map[string]string{"user": user}})
		return &invoke.Response{Payload: b}, nil
	})
	a := e.api(nil, map[string]string{"GET /token": "count", "GET /open": "count", "GET /keyed": "count"})
	_, err := e.cat.UpdateAPI(ctx, a.ID, func(a *catalog.API) error {
		a.Authorizers = []*catalog.Authorizer{
			{ID: "token", Name: "token", Type: "REQUEST", URI: "auth", IdentitySource: []string{"$request.header.Authorization"}, ResultTTLInSeconds: 300, EnableSimpleResponses: true},
			{ID: "open", Name: "open", Type: "REQUEST", URI: "auth", EnableSimpleResponses: true},
		}
		for _, r := range a.Routes {
			r.CacheTTLInSeconds = 60
			switch r.Key {
			case "GET /token", "GET /open":
				r.AuthorizationType, r.AuthorizerID = catalog.AuthCustom, r.Key[len("GET /"):]
			case "GET /keyed":
				r.APIKeyRequired = true
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	var keyIDs []string
	for _, name := range []string{"k1", "k2"} {
		k, value, err := e.cat.CreateAPIKey(ctx, &catalog.APIKey{Name: name, Enabled: true}, "")
		if err != nil {
			t.Fatal(err)
		}
		keys, keyIDs = append(keys, value), append(keyIDs, k.ID)
	}
	if _, err := e.cat.CreateUsagePlan(ctx, &catalog.UsagePlan{Name: "p", KeyIDs: keyIDs, APIStages: []catalog.APIStage{{APIID: a.ID, Stage: catalog.DefaultStage}}}); err != nil {
		t.Fatal(err)
	}

	check := func(path, header, value, body, cache string) {
		t.Helper()
		r := e.req("GET", path, nil)
		r.Header.Set(header, value)
		got := e.do(r)
		if got.status != 200 || got.body != body || got.header.Get("X-Aloft-Cache") != cache {
			t.Fatalf("%s as %s: got %d %q cache %q, want %q cache %q", path, value, got.status, got.body, got.header.Get("X-Aloft-Cache"), body, cache)
		}
	}
	// By the authorizer's identity values.
	check("/token", "Authorization", "alice", "n1", "miss")
	check("/token", "Authorization", "alice", "n1", "hit")
	check("/token", "Authorization", "bob", "n2", "miss")
	check("/token", "Authorization", "bob", "n2", "hit")
	check("/token", "Authorization", "alice", "n1", "hit")
	// Without identity sources, by the principal and context it answered.
	check("/open", "X-User", "alice", "n3", "miss")
	check("/open", "X-User", "alice", "n3", "hit")
	check("/open", "X-User", "bob", "n4", "miss")
	check("/open", "X-User", "bob", "n4", "hit")
	// By API key.
	check("/keyed", "X-Api-Key", keys[0], "n5", "miss")
	check("/keyed", "X-Api-Key", keys[0], "n5", "hit")
	check("/keyed", "X-Api-Key", keys[1], "n6", "miss")
	check("/keyed", "X-Api-Key", keys[1], "n6", "hit")
}
