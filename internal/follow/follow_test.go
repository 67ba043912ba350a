package follow

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/aloft-dev/aloft/internal/store"
)

func TestKV(t *testing.T) {
	st, err := store.Open(context.Background(), store.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	kv, err := st.JetStream().CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "follow_test"})
	if err != nil {
		t.Fatal(err)
	}
	kv.Put(ctx, "a", []byte("1"))
	kv.Put(ctx, "b", []byte("2"))
	var mu sync.Mutex
	seen := map[string]string{}
	readies := 0
	f, err := KV(ctx, kv, func(e jetstream.KeyValueEntry) {
		mu.Lock()
		defer mu.Unlock()
		if Deleted(e) {
			delete(seen, e.Key())
			return
		}
		seen[e.Key()] = string(e.Value())
	}, func() {
		mu.Lock()
		readies++
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if len(seen) != 2 || seen["a"] != "1" || readies != 1 {
		t.Fatalf("after the replay: %v, %d readies", seen, readies)
	}
	mu.Unlock()
	kv.Put(ctx, "a", []byte("3"))
	kv.Delete(ctx, "b")
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		done := seen["a"] == "3" && len(seen) == 1 && readies == 1
		mu.Unlock()
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("changes not followed: %v, %d readies", seen, readies)
		}
		time.Sleep(10 * time.Millisecond)
	}
	f.Stop()
	f.Stop()
	kv.Put(ctx, "c", []byte("4"))
	time.Sleep(100 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if _, ok := seen["c"]; ok {
		t.Error("a change after Stop was followed")
	}
}
