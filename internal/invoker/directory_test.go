package invoker

import (
	"testing"
	"time"
)

// TestIdlePools checks what a cluster's directory is told: the pools with
// idle instances at their revision, and an invocation's idle instances
// only at its own revision.
func TestIdlePools(t *testing.T) {
	iv, _, _ := newInvoker(t, time.Minute)
	cfg := config("dir", 3, nil)
	if n := iv.IdleFor(cfg); n != 0 || len(iv.IdlePools(nil)) != 0 {
		t.Fatalf("before any invocation: IdleFor %d, pools %v", n, iv.IdlePools(nil))
	}
	invoke(t, iv, cfg, `{"op":"echo"}`, false)
	// The instance is given back as its invocation ends.
	for deadline := time.Now().Add(2 * time.Second); iv.Stats("dir").Idle == 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	got := iv.IdlePools(nil)
	if len(got) != 1 || got[0] != (PoolIdle{Key: "dir", RevisionID: cfg.RevisionID, Idle: 1}) {
		t.Fatalf("IdlePools got %+v, want dir at %s with 1 idle", got, cfg.RevisionID)
	}
	if n := iv.IdleFor(cfg); n != 1 {
		t.Fatalf("IdleFor got %d, want 1", n)
	}
	other := *cfg
	other.RevisionID = "another"
	if n := iv.IdleFor(&other); n != 0 {
		t.Fatalf("IdleFor another revision got %d, want 0", n)
	}
}
