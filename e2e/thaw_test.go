package e2e

import (
	"testing"
	"time"

	"github.com/aloft-dev/aloft/internal/alofttest"
)

// TestFrozenInstanceServes leaves an instance idle long enough to be
// frozen, and checks the same instance serves the next call once thawed.
func TestFrozenInstanceServes(t *testing.T) {
	srv := alofttest.Start(t, "--keep-alive", "4s")
	c := srv.Lambda()
	goRC := runtimeCases()[0]
	create(t, c, "frozen", goRC, goRC.code(t, "v1"))
	a1, _ := invoke(t, c, "frozen", `{}`)
	for i := range 3 {
		time.Sleep(2500 * time.Millisecond) // idle past freezeAfter: frozen by the reaper (1 s ticks)
		t0 := time.Now()
		a, _ := invoke(t, c, "frozen", `{}`)
		if a.Instance != a1.Instance {
			t.Fatalf("round %d: a new instance served; the frozen one was not reused", i)
		}
		t.Logf("round %d: thawed instance answered in %v", i, time.Since(t0))
	}
}
