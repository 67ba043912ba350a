package alofttest

import "testing"

// TestStartNodes checks when Start runs a cluster: only when ClusterEnv
// asks for more than one node, and never for a server given its own
// backbone or in a test that called Alone (nor in its subtests).
func TestStartNodes(t *testing.T) {
	t.Setenv(ClusterEnv, "")
	if n := startNodes(t, nil); n != 1 {
		t.Fatalf("without %s: %d nodes, want 1", ClusterEnv, n)
	}
	t.Setenv(ClusterEnv, "1")
	if n := startNodes(t, nil); n != 1 {
		t.Fatalf("%s=1: %d nodes, want 1", ClusterEnv, n)
	}
	t.Setenv(ClusterEnv, "3")
	for _, c := range []struct {
		args []string
		want int
	}{
		{nil, 3},
		{[]string{"--sandbox", "process"}, 3},
		{[]string{"--nats-url", "nats://127.0.0.1:4222"}, 1},
		{[]string{"--nats-url=nats://127.0.0.1:4222"}, 1},
		{[]string{"--sandbox", "process", "--cluster-listen", "127.0.0.1:7000"}, 1},
		{[]string{"--peers", "127.0.0.1:7000"}, 1},
		{[]string{"--node-name", "a"}, 1},
		{[]string{"--cluster-name=a"}, 1},
		{[]string{"--cluster-secret-file", "/x"}, 1},
		{[]string{"--async-workers", "8"}, 3},
	} {
		if n := startNodes(t, c.args); n != c.want {
			t.Errorf("%s=3, flags %q: %d nodes, want %d", ClusterEnv, c.args, n, c.want)
		}
	}
	t.Run("alone", func(t *testing.T) {
		if n := startNodes(t, nil); n != 3 {
			t.Fatalf("before Alone: %d nodes, want 3", n)
		}
		Alone(t)
		if n := startNodes(t, nil); n != 1 {
			t.Fatalf("after Alone: %d nodes, want 1", n)
		}
		t.Run("sub", func(t *testing.T) {
			if n := startNodes(t, nil); n != 1 {
				t.Fatalf("in a subtest of a test that called Alone: %d nodes, want 1", n)
			}
		})
	})
	t.Run("alonesibling", func(t *testing.T) {
		if n := startNodes(t, nil); n != 3 {
			t.Fatalf("after a sibling's Alone ended: %d nodes, want 3", n)
		}
	})
	if n := startNodes(t, nil); n != 3 {
		t.Fatalf("after a subtest's Alone ended: %d nodes, want 3", n)
	}
	t.Setenv(ClusterEnv, "4")
	if n := ClusterSize(t); n != 4 {
		t.Fatalf("%s=4: size %d", ClusterEnv, n)
	}
}
