package alofttest

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aloft-dev/aloft/internal/client"
	"github.com/aloft-dev/aloft/internal/store"
)

// ClusterSecret is the secret the nodes StartCluster starts share.
const ClusterSecret = "test-cluster-secret-0123456789abcdefghijklmn"

// FreeAddr returns a loopback address nothing listens on now, for a
// server the test starts later. Its port lies below the kernel's range of
// ephemeral ports, from which the ports of outgoing connections and of
// listeners on port 0 are drawn: any of those, in any process, could take
// a port of that range between this check and the server's start.
func FreeAddr(tb testing.TB) string {
	tb.Helper()
	if below := ephemeralLow() - lowestPort; below > 1000 {
		for range 1000 {
			ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", lowestPort+rand.IntN(below)))
			if err == nil {
				ln.Close()
				return ln.Addr().String()
			}
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// lowestPort is the lowest port FreeAddr gives: well above the ports
// system services listen on.
const lowestPort = 10000

// ephemeralLow is the first port of the kernel's range of ephemeral
// ports (Linux's default when it cannot be read).
func ephemeralLow() int {
	low := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil {
				low = n
			}
		}
	}
	return low
}

// Cluster is a set of servers that are the nodes of one cluster.
type Cluster struct {
	Nodes  []*Server
	Names  []string // node names: node1, node2, ...
	Addrs  []string // each node's --cluster-listen address
	Secret string   // the path of the shared secret file
}

// StartCluster starts n nodes of one cluster on loopback, each with the
// given extra flags, and waits until every node reports the whole cluster
// formed and able to take writes. The nodes stop when the test ends.
func StartCluster(t testing.TB, n int, args ...string) *Cluster {
	t.Helper()
	c := &Cluster{Secret: filepath.Join(t.TempDir(), "cluster.secret")}
	if err := os.WriteFile(c.Secret, []byte(ClusterSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		c.Names = append(c.Names, fmt.Sprintf("node%d", i+1))
		c.Addrs = append(c.Addrs, FreeAddr(t))
	}
	c.Nodes = make([]*Server, n)
	// A node is ready once the cluster's JetStream has a leader, which
	// takes a majority of the nodes: they start together.
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			c.Nodes[i] = Start(t, append(c.NodeArgs(i), args...)...)
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	for i := range c.Nodes {
		c.WaitFormed(t, i, 60*time.Second)
	}
	return c
}

// NodeArgs are the cluster flags of node i.
func (c *Cluster) NodeArgs(i int) []string {
	var peers []string
	for j, a := range c.Addrs {
		if j != i {
			peers = append(peers, a)
		}
	}
	return []string{"--cluster-listen", c.Addrs[i], "--node-name", c.Names[i],
		"--peers", strings.Join(peers, ","), "--cluster-secret-file", c.Secret}
}

// WaitFormed waits until node i reports every node of the cluster online
// and writes possible, and fails the test after timeout.
func (c *Cluster) WaitFormed(t testing.TB, i int, timeout time.Duration) {
	t.Helper()
	var st *store.ClusterStatus
	var err error
	for deadline := time.Now().Add(timeout); ; time.Sleep(250 * time.Millisecond) {
		st, err = ClusterHealth(c.Nodes[i].URL)
		if err == nil && Formed(st, c.Names) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("node %d's health: %+v (%v)", i+1, st, err)
		}
	}
}

// ClusterHealth reads the cluster section of a server's /health, which
// must also have its fields of a server alone.
func ClusterHealth(url string) (*store.ClusterStatus, error) {
	resp, err := http.Get(url + "/health")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var doc struct {
		Status  string               `json:"status"`
		Sandbox string               `json:"sandbox"`
		Cluster *store.ClusterStatus `json:"cluster"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		return nil, fmt.Errorf("health: %w", err)
	}
	if doc.Status != "ok" || doc.Sandbox == "" {
		return nil, fmt.Errorf("health without its usual fields: %+v", doc)
	}
	if doc.Cluster == nil {
		return nil, fmt.Errorf("health without the cluster")
	}
	return doc.Cluster, nil
}

// Formed reports whether st shows a cluster of exactly the named nodes,
// in order, all online, with a meta leader and writes possible.
func Formed(st *store.ClusterStatus, names []string) bool {
	if st == nil || !st.CanWrite || st.MetaLeader == "" || len(st.Peers) != len(names) {
		return false
	}
	for i, p := range st.Peers {
		if p.Name != names[i] || p.Offline {
			return false
		}
	}
	return true
}

// WaitReplicated waits until `aloft cluster status` run against s lists
// every stream of the backbone with the given replicas, a leader and its
// other replicas current (caught up: a stream whose leader dies before
// they are cannot elect another), and fails the test after 90 seconds.
func WaitReplicated(tb testing.TB, s *Server, replicas int) {
	tb.Helper()
	var under []string
	for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(time.Second) {
		streams, err := Streams(s)
		if err == nil {
			under = under[:0]
			for _, st := range streams {
				behind := 0
				for _, p := range st.Peers {
					if !p.Current || p.Offline {
						behind++
					}
				}
				if st.Replicas != replicas || st.Leader == "" || behind > 0 {
					under = append(under, fmt.Sprintf("%s:R%d(leader %q, %d replicas behind)", st.Name, st.Replicas, st.Leader, behind))
				}
			}
			if len(streams) > 0 && len(under) == 0 {
				return
			}
		} else {
			under = []string{err.Error()}
		}
		if time.Now().After(deadline) {
			tb.Fatalf("streams not at %d replicas with a leader: %v", replicas, under)
		}
	}
}

// Streams lists the backbone's streams as `aloft cluster status` run
// against s reports them.
func Streams(s *Server) ([]store.StreamStatus, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, errOut, code := s.Run(ctx, nil, "cluster", "status", "--output", "json")
	if code != 0 {
		return nil, fmt.Errorf("cluster status: exit %d: %s", code, strings.TrimSpace(errOut))
	}
	var rep client.ClusterReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		return nil, fmt.Errorf("cluster status: %w", err)
	}
	return rep.Streams, nil
}
