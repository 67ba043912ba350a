package store

import (
	"testing"
	"time"
)

// TestRoutePings checks that a node's routes are pinged often enough that
// a route to a node cut off is closed within seconds.
func TestRoutePings(t *testing.T) {
	opts, err := serverOptions(Options{Dir: t.TempDir(), Cluster: &ClusterOptions{Node: "n1", Listen: "127.0.0.1:6222",
		Peers: []string{"127.0.0.1:6223"}}}, testSecret)
	if err != nil {
		t.Fatal(err)
	}
	if d := opts.Cluster.PingInterval * time.Duration(opts.Cluster.MaxPingsOut+1); d <= 0 || d > 10*time.Second {
		t.Fatalf("a silent route is closed after %v (ping every %v, %d unanswered)", d, opts.Cluster.PingInterval, opts.Cluster.MaxPingsOut)
	}
}
