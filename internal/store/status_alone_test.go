package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// TestClusterStatusWithoutLeader leaves one node of three alone: its
// status says it cannot write, with no meta leader, and lists each node
// once (the meta group's replicas then include the node itself).
func TestClusterStatusWithoutLeader(t *testing.T) {
	if testing.Short() {
		t.Skip("forms a cluster")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	secretFile := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secretFile, []byte(testSecret), 0o600); err != nil {
		t.Fatal(err)
	}
	addrs := []string{freeAddr(t), freeAddr(t), freeAddr(t)}
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
			stores[i], errs[i] = Open(ctx, Options{Dir: t.TempDir(), MaxStore: 1 << 30, Cluster: &ClusterOptions{
				Node: fmt.Sprintf("n%d", i+1), Listen: addrs[i], Peers: peers, SecretFile: secretFile}})
		})
	}
	wg.Wait()
	for i, s := range stores {
		if s != nil {
			defer s.Close()
		}
		if errs[i] != nil {
			t.Fatalf("node %d: %v", i+1, errs[i])
		}
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if st, _ := stores[0].ClusterStatus(); st.CanWrite && len(st.Peers) == 3 {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("the cluster did not form: %+v", st)
		}
	}
	stores[1].Close()
	stores[2].Close()
	var st ClusterStatus
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		if st, _ = stores[0].ClusterStatus(); !st.CanWrite {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("the node left alone still says it can write: %+v", st)
		}
	}
	// The status is cached for a second: a fresh one, once the node
	// has given up its leaderless group's view.
	time.Sleep(1100 * time.Millisecond)
	st, _ = stores[0].ClusterStatus()
	seen := map[string]int{}
	for _, p := range st.Peers {
		seen[p.Name]++
	}
	if st.MetaLeader != "" || seen["n1"] != 1 || len(st.Peers) != len(seen) {
		t.Fatalf("the status of the node left alone: %+v", st)
	}
}
