package store

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

func TestOpenPersistsAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s, err := Open(ctx, Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	kv, err := s.JetStream().CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "t"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s.Close() // idempotent

	s, err = Open(ctx, Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	kv, err = s.JetStream().KeyValue(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	e, err := kv.Get(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	if got := string(e.Value()); got != "v" {
		t.Fatalf("got %q, want %q", got, "v")
	}
}

// TestSyncInterval checks what the embedded JetStream is told: flush every
// write before acknowledging it by default, or on the interval asked for.
func TestSyncInterval(t *testing.T) {
	for _, tc := range []struct {
		interval time.Duration
		always   bool
	}{{0, true}, {time.Second, false}} {
		s, err := Open(context.Background(), Options{Dir: t.TempDir(), SyncInterval: tc.interval})
		if err != nil {
			t.Fatal(err)
		}
		cfg := s.srv.JetStreamConfig()
		s.Close()
		if cfg == nil || cfg.SyncAlways != tc.always || (!tc.always && cfg.SyncInterval != tc.interval) {
			t.Errorf("SyncInterval %v: JetStream has %+v, want sync always %v", tc.interval, cfg, tc.always)
		}
	}
}
