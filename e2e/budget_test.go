package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aloft-dev/aloft/internal/alofttest"
)

// TestIdleMemoryBudget runs three 128 MB functions on a server whose idle
// instances may hold 256 MB: once all three are idle, the instance whose
// keep-alive ends soonest (the one used longest ago) stops, and the other
// two stay warm.
func TestIdleMemoryBudget(t *testing.T) {
	srv := alofttest.Start(t, "--idle-memory", "256", "--keep-alive", "1m")
	c := srv.Lambda()
	goRC := runtimeCases()[0]
	code := goRC.code(t, "v1")
	first := map[string]string{}
	for _, name := range []string{"oldest", "middle", "newest"} {
		create(t, c, name, goRC, code)
		a, _ := invoke(t, c, name, `{}`)
		first[name] = a.Instance
		time.Sleep(300 * time.Millisecond) // distinct last uses
	}
	// evicted lists the functions whose instances the budget stopped.
	evicted := func() []string {
		var out []string
		for _, line := range strings.Split(srv.Log(), "\n") {
			var rec struct{ Msg, Function string }
			if json.Unmarshal([]byte(line), &rec) == nil && strings.Contains(rec.Msg, "memory budget") && rec.Function != "" {
				out = append(out, rec.Function)
			}
		}
		return out
	}
	for deadline := time.Now().Add(20 * time.Second); len(evicted()) == 0; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no instance stopped for the memory budget; server log:\n%s", srv.Log())
		}
	}
	if got := evicted(); len(got) != 1 || got[0] != "oldest" {
		t.Fatalf("instances stopped for the budget: %v, want [oldest]", got)
	}
	for _, name := range []string{"newest", "middle", "oldest"} {
		a, _ := invoke(t, c, name, `{}`)
		if warm, want := a.Instance == first[name], name != "oldest"; warm != want {
			t.Errorf("%s: served by its first instance: %v, want %v", name, warm, want)
		}
	}
}
