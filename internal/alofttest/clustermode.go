package alofttest

import (
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// ClusterEnv names the environment variable that runs the suites built on
// Start against a cluster: with ALOFT_E2E_CLUSTER=N (N > 1), Start starts
// N nodes of a fresh cluster with the test's flags, waits until the
// cluster is formed and returns node 1 (its Cluster field holds the
// others); when the test ends node 1 stops as a server alone does and the
// others are killed. Unset, empty or 1, Start starts a server alone.
//
//	ALOFT_E2E_CLUSTER=3 go test -count=1 -run 'TestRuntimes|TestS3Objects' ./e2e/
//
// A server whose flags place it in a backbone itself (--nats-url or the
// cluster flags, as StartCluster's nodes have) is always started alone, as
// is every server of a test that called Alone.
const ClusterEnv = "ALOFT_E2E_CLUSTER"

// ObjectsEnv names the environment variable that, with ClusterEnv, gives
// the cluster's nodes an external object store: with
// ALOFT_E2E_OBJECTS=external, Start first starts a server alone whose S3
// API keeps the cluster's buckets and objects (--objects-endpoint), so
// that every node serves every object. Otherwise each node keeps the
// objects it was given on its own disk.
//
//	ALOFT_E2E_CLUSTER=3 ALOFT_E2E_OBJECTS=external go test -count=1 -run 'TestS3' ./e2e/
const ObjectsEnv = "ALOFT_E2E_OBJECTS"

// backboneFlags are the flags that give a server its backbone: a server
// started with one of them keeps it.
var backboneFlags = []string{"--nats-url", "--cluster-listen", "--peers", "--node-name", "--cluster-name", "--cluster-secret-file"}

// aloneTests holds the names of the tests that called Alone.
var aloneTests sync.Map // test name → struct{}

// Alone makes every server the test (and its subtests) starts with Start
// a server alone, whatever ClusterEnv says: for a test whose subject is
// one server's own process, data dir or timing.
func Alone(t testing.TB) {
	t.Helper()
	name := t.Name()
	aloneTests.Store(name, struct{}{})
	t.Cleanup(func() { aloneTests.Delete(name) })
}

// ClusterSize returns the number of nodes ClusterEnv asks Start to run, or
// 1 for a server alone; a value that is not a positive number fails the
// test.
func ClusterSize(t testing.TB) int {
	t.Helper()
	v := os.Getenv(ClusterEnv)
	if v == "" {
		return 1
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a number of nodes, 1 or more", ClusterEnv, v)
	}
	return n
}

// startNodes returns how many nodes Start runs for a server with args in
// test t: ClusterSize, or 1 when the flags or the test want a server alone.
func startNodes(t testing.TB, args []string) int {
	t.Helper()
	n := ClusterSize(t)
	if n == 1 {
		return 1
	}
	for _, a := range args {
		for _, f := range backboneFlags {
			if a == f || strings.HasPrefix(a, f+"=") {
				return 1
			}
		}
	}
	for name := t.Name(); ; {
		if _, ok := aloneTests.Load(name); ok {
			return 1
		}
		i := strings.LastIndexByte(name, '/')
		if i < 0 {
			return n
		}
		name = name[:i]
	}
}

// startClustered starts a cluster of n nodes with args for Start and
// returns node 1. When the test ends node 1, the test's server, stops
// with SIGTERM while every node runs, so that its stop is what a server
// alone's is (it must save what it holds and exit 0); the others are then
// killed. They are not stopped in turn: a new cluster's streams have one
// replica until its size has held for a while (store.Settle), and a node
// stopped before then takes the streams it holds from the others, whose
// own stop could then not save; the last node stopping has no majority.
// Their stop is the cluster tests' subject, not the suites'. The test's
// log says how long the cluster took to form and node 1 to stop.
func startClustered(t testing.TB, n int, args []string) *Server {
	t.Helper()
	begin := time.Now()
	var ext *Server
	switch v := os.Getenv(ObjectsEnv); v {
	case "":
	case "external":
		ext = launch(t, &Server{t: t, Dir: t.TempDir()})
		args = append(append([]string(nil), args...), "--objects-endpoint", ext.URL)
	default:
		t.Fatalf("%s=%q: want external, or unset", ObjectsEnv, v)
	}
	c := StartCluster(t, n, args...)
	t.Logf("%s: node 1 of %d, formed in %v", ClusterEnv, n, time.Since(begin).Round(time.Millisecond))
	// Registered after the nodes' own cleanups, this runs before them;
	// theirs then find their node ended and only show its log if the test
	// failed.
	t.Cleanup(func() {
		begin := time.Now()
		c.Nodes[0].Stop()
		t.Logf("%s: node 1 stopped in %v", ClusterEnv, time.Since(begin).Round(time.Millisecond))
		for _, node := range c.Nodes[1:] {
			if node.cmd != nil {
				node.Kill()
			}
		}
	})
	c.Nodes[0].Cluster, c.Nodes[0].ObjectStore = c, ext
	return c.Nodes[0]
}
