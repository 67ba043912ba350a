package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// startTestCluster opens a cluster of three stores in this process on
// the given data dirs (fresh ones when dirs is nil) and returns them with
// their dirs; they close when the test ends.
func startTestCluster(t testing.TB, ctx context.Context, addrs, dirs []string) ([]*Store, []string) {
	t.Helper()
	secretFile := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(secretFile, []byte(testSecret), 0o600)
	if dirs == nil {
		dirs = []string{t.TempDir(), t.TempDir(), t.TempDir()}
	}
	stores := make([]*Store, 3)
	errs := make([]error, 3)
	var wg sync.WaitGroup
	for i := range stores {
		wg.Go(func() {
			var peers []string
			for j, a := range addrs {
				if j != i {
					peers = append(peers, a)
				}
			}
			stores[i], errs[i] = Open(ctx, Options{Dir: dirs[i], MaxStore: 1 << 30, Cluster: &ClusterOptions{
				Node: fmt.Sprintf("n%d", i+1), Listen: addrs[i], Peers: peers, SecretFile: secretFile}})
		})
	}
	wg.Wait()
	for i, s := range stores {
		if s != nil {
			t.Cleanup(func() { s.Close() })
		}
		if errs[i] != nil {
			t.Fatalf("node %d: %v", i+1, errs[i])
		}
	}
	return stores, dirs
}

// TestClusterWritesDuringRaise writes to buckets on every node, one
// write after another, while the reconciler raises them from one replica
// to three: every write succeeds.
func TestClusterWritesDuringRaise(t *testing.T) {
	if testing.Short() {
		t.Skip("forms a cluster")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	addrs := []string{freeAddr(t), freeAddr(t), freeAddr(t)}
	stores, _ := startTestCluster(t, ctx, addrs, nil)
	buckets := []string{"w1", "w2", "w3", "w4", "w5", "w6"}
	kvs := make([][]jetstream.KeyValue, 3)
	for i, s := range stores {
		for _, b := range buckets {
			kv, err := s.JetStream().CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: b})
			if err != nil {
				t.Fatal(err)
			}
			kvs[i] = append(kvs[i], kv)
		}
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failed []string
	writes, slowest := 0, time.Duration(0)
	for i := range stores {
		for j, kv := range kvs[i] {
			wg.Go(func() {
				for n := 0; ; n++ {
					select {
					case <-stop:
						return
					default:
					}
					wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
					began := time.Now()
					_, err := kv.Put(wctx, fmt.Sprintf("k%d", n%10), []byte("v"))
					took := time.Since(began)
					cancel()
					mu.Lock()
					writes++
					slowest = max(slowest, took)
					if err != nil {
						failed = append(failed, fmt.Sprintf("node %d bucket %s after %v: %v", i+1, buckets[j], took.Round(time.Millisecond), err))
					}
					mu.Unlock()
					time.Sleep(20 * time.Millisecond)
				}
			})
		}
	}
	began := time.Now()
	for {
		ss, err := stores[0].StreamStatuses(ctx)
		raised := err == nil
		for _, s := range ss {
			raised = raised && s.Replicas == 3 && s.Leader != ""
		}
		if raised && len(ss) == len(buckets) {
			break
		}
		if time.Since(began) > 75*time.Second {
			t.Fatalf("not raised: %+v %v", ss, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(2 * time.Second)
	close(stop)
	wg.Wait()
	t.Logf("%d writes, the slowest %v, %d failed", writes, slowest.Round(time.Millisecond), len(failed))
	for _, f := range failed {
		t.Error(f)
	}
}

// TestClusterRestart stops every node of a cluster whose buckets have
// three replicas and starts them again on their data: each opens its
// buckets again as it starts, and reads what was written.
func TestClusterRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("forms a cluster twice")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	addrs := []string{freeAddr(t), freeAddr(t), freeAddr(t)}
	stores, dirs := startTestCluster(t, ctx, addrs, nil)
	for _, b := range []string{"r1", "r2", "r3"} {
		kv, err := stores[0].JetStream().CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: b})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := kv.Put(ctx, "k", []byte("before")); err != nil {
			t.Fatal(err)
		}
	}
	for deadline := time.Now().Add(75 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		ss, err := stores[0].StreamStatuses(ctx)
		raised := err == nil && len(ss) == 3
		for _, s := range ss {
			raised = raised && s.Replicas == 3 && s.Leader != ""
		}
		if raised {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not raised: %+v %v", ss, err)
		}
	}
	for _, s := range stores {
		s.Close()
	}
	restarted := time.Now()
	stores, _ = startTestCluster(t, ctx, addrs, dirs)
	t.Logf("restarted in %v", time.Since(restarted).Round(time.Millisecond))
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i, s := range stores {
		wg.Go(func() {
			for _, b := range []string{"r1", "r2", "r3"} {
				// As a starting package does: with the API's default timeout.
				kv, err := s.JetStream().CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: b})
				if err != nil {
					errs[i] = fmt.Errorf("open %s on node %d %v after the restart: %w", b, i+1, time.Since(restarted).Round(time.Millisecond), err)
					return
				}
				e, err := kv.Get(ctx, "k")
				if err != nil || string(e.Value()) != "before" {
					errs[i] = fmt.Errorf("read %s on node %d: %v", b, i+1, err)
					return
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	t.Logf("buckets open and read %v after the restart", time.Since(restarted).Round(time.Millisecond))
}

// TestWritable: a node of three can write while two are up, and knows it
// cannot once it is alone.
func TestWritable(t *testing.T) {
	if testing.Short() {
		t.Skip("forms a cluster")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	stores, _ := startTestCluster(t, ctx, []string{freeAddr(t), freeAddr(t), freeAddr(t)}, nil)
	writable := func(s *Store) bool {
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if s.Writable(ctx, time.Second) {
				return true
			}
		}
		return false
	}
	for i, s := range stores {
		if !writable(s) {
			t.Fatalf("node %d of a whole cluster says it cannot write", i+1)
		}
	}
	stores[2].Close()
	if !writable(stores[0]) {
		t.Fatal("node 1 of two of three says it cannot write")
	}
	stores[1].Close()
	// It knows as soon as the node that stopped is gone from its routes.
	for deadline := time.Now().Add(5 * time.Second); stores[0].Writable(ctx, time.Second); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("node 1 alone of three says it can write")
		}
	}
	alone, err := Open(ctx, Options{Dir: t.TempDir(), MaxStore: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	defer alone.Close()
	if !alone.Writable(ctx, time.Second) {
		t.Fatal("a store alone says it cannot write")
	}
}
