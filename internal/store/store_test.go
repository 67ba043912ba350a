package store

import (
	"context"
	"testing"

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
