package store

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

const testSecret = "0123456789abcdefghijklmnopqrstuvwxyz-_.~"

func TestServerOptionsCluster(t *testing.T) {
	dir := t.TempDir()
	o := Options{Dir: dir, Cluster: &ClusterOptions{Name: "prod", Node: "n1", Listen: "0.0.0.0:6222",
		Peers: []string{"10.0.0.2:6222", "10.0.0.3:6222", "0.0.0.0:6222", "10.0.0.2:6222"}}}
	opts, err := serverOptions(o, testSecret)
	if err != nil {
		t.Fatal(err)
	}
	if opts.ServerName != "n1" || opts.Cluster.Name != "prod" || opts.Cluster.Host != "0.0.0.0" || opts.Cluster.Port != 6222 {
		t.Fatalf("server %q cluster %q at %s:%d", opts.ServerName, opts.Cluster.Name, opts.Cluster.Host, opts.Cluster.Port)
	}
	if !opts.JetStream || opts.StoreDir != filepath.Join(dir, "jetstream") {
		t.Fatalf("JetStream %v StoreDir %q", opts.JetStream, opts.StoreDir)
	}
	// Routes start only with a client listener: on loopback, behind a
	// token of its own.
	if opts.DontListen || opts.Host != "127.0.0.1" || len(opts.Authorization) < 32 || opts.Authorization == testSecret {
		t.Fatalf("client listener %s:%d, token of %d characters", opts.Host, opts.Port, len(opts.Authorization))
	}
	if opts.Cluster.Username != routeUser || opts.Cluster.Password != testSecret {
		t.Fatalf("route authorization %q/%q", opts.Cluster.Username, opts.Cluster.Password)
	}
	var hosts []string
	for _, u := range opts.Routes {
		pw, _ := u.User.Password()
		if u.Scheme != "nats-route" || u.User.Username() != routeUser || pw != testSecret {
			t.Fatalf("route %s lacks the credentials", u.Redacted())
		}
		hosts = append(hosts, u.Host)
	}
	// Itself (on loopback, as it listens on every address) once, each
	// peer once: JetStream counts three nodes.
	if got := strings.Join(hosts, " "); got != "127.0.0.1:6222 10.0.0.2:6222 10.0.0.3:6222" {
		t.Fatalf("routes %s", got)
	}

	lone, err := serverOptions(Options{Dir: dir}, "")
	if err != nil || lone.Cluster.Port != 0 || len(lone.Routes) != 0 || lone.ServerName != "aloft" || !lone.DontListen {
		t.Fatalf("unclustered options %+v, %v", lone.Cluster, err)
	}
}

func TestServerOptionsRefused(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		c      ClusterOptions
		secret string
		want   string
	}{
		{ClusterOptions{Node: "n 1", Listen: "127.0.0.1:6222"}, testSecret, "node name"},
		{ClusterOptions{Name: "a/b", Node: "n1", Listen: "127.0.0.1:6222"}, testSecret, "cluster name"},
		{ClusterOptions{Node: "n1", Listen: "127.0.0.1"}, testSecret, "--cluster-listen"},
		{ClusterOptions{Node: "n1", Listen: "127.0.0.1:0"}, testSecret, "--cluster-listen"},
		{ClusterOptions{Node: "n1", Listen: "127.0.0.1:6222", Peers: []string{"host"}}, testSecret, "peer"},
		{ClusterOptions{Node: "n1", Listen: "127.0.0.1:6222"}, "short", "at least 32"},
		{ClusterOptions{Node: "n1", Listen: "127.0.0.1:6222"}, strings.Repeat("a", 32) + "@", "character"},
	} {
		_, err := serverOptions(Options{Dir: dir, Cluster: &c.c}, c.secret)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: got %v, want an error about %s", c.c, err, c.want)
		}
		if err != nil && c.secret != "short" && strings.Contains(err.Error(), c.secret) {
			t.Errorf("the error tells the secret: %v", err)
		}
	}
}

func TestClusterSecret(t *testing.T) {
	dir := t.TempDir()
	// A node with peers and no secret cannot join: refused.
	if _, _, err := clusterSecret(dir, &ClusterOptions{Peers: []string{"10.0.0.2:6222"}}); err == nil || !strings.Contains(err.Error(), "--cluster-secret-file") {
		t.Fatalf("peers without a secret: %v", err)
	}
	// The first node creates one, private to its user.
	secret, created, err := clusterSecret(dir, &ClusterOptions{})
	if err != nil || created != filepath.Join(dir, SecretFileName) {
		t.Fatalf("created %q, %v", created, err)
	}
	if err := checkSecret(secret, created); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(created)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("secret file mode %v, %v", fi.Mode(), err)
	}
	// Started again, with peers now, it keeps it.
	again, created, err := clusterSecret(dir, &ClusterOptions{Peers: []string{"10.0.0.2:6222"}})
	if err != nil || again != secret || created != "" {
		t.Fatalf("restart read %v, created %q, %v", again == secret, created, err)
	}
	// Another node names a copy.
	cp := filepath.Join(t.TempDir(), "s")
	os.WriteFile(cp, []byte(secret+"\n"), 0o600)
	other, _, err := clusterSecret(t.TempDir(), &ClusterOptions{SecretFile: cp, Peers: []string{"10.0.0.1:6222"}})
	if err != nil || other != secret {
		t.Fatalf("copy read %v, %v", other == secret, err)
	}
	if _, _, err := clusterSecret(dir, &ClusterOptions{SecretFile: filepath.Join(dir, "missing")}); err == nil {
		t.Fatal("a missing secret file was accepted")
	}
}

func TestReplicaUpdates(t *testing.T) {
	configs := []jetstream.StreamConfig{
		{Name: "KV_registry", Replicas: 1},
		{Name: "OBJ_code"},
		{Name: "async", Replicas: 3},
		{Name: "five", Replicas: 5},
		{Name: "ALOFT_LOGS", Replicas: 1, PersistMode: jetstream.AsyncPersistMode}, // cannot be replicated
	}
	for peers, want := range map[int]string{0: "", 1: "", 2: "", 3: "KV_registry:3 OBJ_code:3", 5: "KV_registry:3 OBJ_code:3"} {
		var got []string
		for _, c := range ReplicaUpdates(peers, configs) {
			got = append(got, fmt.Sprintf("%s:%d", c.Name, c.Replicas))
		}
		if strings.Join(got, " ") != want {
			t.Errorf("%d peers: updates %v, want %q", peers, got, want)
		}
	}
	if configs[0].Replicas != 1 {
		t.Error("ReplicaUpdates changed its input")
	}
	for peers, want := range map[int]int{1: 1, 2: 1, 3: 3, 7: 3} {
		if got := TargetReplicas(peers); got != want {
			t.Errorf("TargetReplicas(%d) = %d, want %d", peers, got, want)
		}
	}
}

// freeAddr returns a loopback address with a port free now.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestClusterReplicates forms a cluster of three stores in this process:
// a bucket made on one node is seen on the others, and streams are raised
// to three replicas, including those created before the third node came.
func TestClusterReplicates(t *testing.T) {
	if testing.Short() {
		t.Skip("forms a cluster")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	secretFile := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(secretFile, []byte(testSecret), 0o600)
	addrs := []string{freeAddr(t), freeAddr(t), freeAddr(t)}
	stores := make([]*Store, 3)
	errs := make([]error, 3)
	var wg sync.WaitGroup
	for i := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var peers []string
			for j, a := range addrs {
				if j != i {
					peers = append(peers, a)
				}
			}
			stores[i], errs[i] = Open(ctx, Options{Dir: t.TempDir(), MaxStore: 1 << 30, Cluster: &ClusterOptions{
				Node: fmt.Sprintf("n%d", i+1), Listen: addrs[i], Peers: peers, SecretFile: secretFile}})
			// Every node creates the same buckets as it starts, as the
			// platform's packages do.
			for _, b := range []string{"b", "c", "d"} {
				if errs[i] == nil {
					actx, cancel := context.WithTimeout(ctx, 10*time.Second)
					_, errs[i] = stores[i].JetStream().CreateOrUpdateKeyValue(actx, jetstream.KeyValueConfig{Bucket: b})
					cancel()
				}
			}
		}()
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
	kv, err := stores[0].JetStream().CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "b"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	other, err := stores[2].JetStream().KeyValue(ctx, "b")
	if err != nil {
		t.Fatal(err)
	}
	if e, err := other.Get(ctx, "k"); err != nil || string(e.Value()) != "v" {
		t.Fatalf("read on node 3: %v", err)
	}
	deadline := time.Now().Add(45 * time.Second)
	for {
		st, ok := stores[1].ClusterStatus()
		ss, err := stores[1].StreamStatuses(ctx)
		if err == nil && ok && len(st.Peers) == 3 && st.CanWrite && len(ss) > 0 && ss[0].Replicas == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("status %+v streams %+v (%v)", st, ss, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// A bucket created again with the default replicas keeps three, and
	// one created once node 3 has seen the cluster settled has three from
	// the start: no raise, whose moment of catching up a node's death
	// could stall.
	if _, err := stores[1].JetStream().CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "b"}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(ReconcileInterval + Settle); stores[2].newReplicas() != 3; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("node 3 would still create streams with %d replicas", stores[2].newReplicas())
		}
	}
	late, err := stores[2].JetStream().CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "late"})
	if err != nil {
		t.Fatal(err)
	}
	if st, err := late.Status(ctx); err != nil || st.(*jetstream.KeyValueBucketStatus).StreamInfo().Config.Replicas != 3 {
		t.Fatalf("a bucket created on a settled cluster: %v, %v", st, err)
	}
	deadline = time.Now().Add(30 * time.Second)
	for {
		ss, err := stores[0].StreamStatuses(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var under []string
		for _, s := range ss {
			if s.Replicas != 3 || s.Leader == "" {
				under = append(under, fmt.Sprintf("%s:R%d(%q)", s.Name, s.Replicas, s.Leader))
			}
		}
		if len(ss) == 4 && len(under) == 0 { // b, c, d and late
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d streams; below three replicas or leaderless: %v", len(ss), under)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestClusterWrongSecret: a node whose secret differs is refused by the
// others and never sees them.
func TestClusterWrongSecret(t *testing.T) {
	if testing.Short() {
		t.Skip("forms a cluster")
	}
	good := filepath.Join(t.TempDir(), "good")
	bad := filepath.Join(t.TempDir(), "bad")
	os.WriteFile(good, []byte(testSecret), 0o600)
	os.WriteFile(bad, []byte(strings.Repeat("x", 40)), 0o600)
	a, b := freeAddr(t), freeAddr(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		s, err := Open(ctx, Options{Dir: t.TempDir(), MaxStore: 1 << 30, Cluster: &ClusterOptions{Node: "a", Listen: a, Peers: []string{b}, SecretFile: good}})
		if err == nil {
			s.Close()
		}
		done <- err
	}()
	s, err := Open(ctx, Options{Dir: t.TempDir(), MaxStore: 1 << 30, Cluster: &ClusterOptions{Node: "b", Listen: b, Peers: []string{a}, SecretFile: bad}})
	if err == nil {
		s.Close()
		t.Fatal("a node with the wrong secret formed a cluster")
	}
	if err := <-done; err == nil {
		t.Fatal("a node formed a cluster with a node of the wrong secret")
	}
}

// TestClusterFirstNode follows the README: the first node starts without
// peers and creates the secret; the others name a copy of it and the
// first node among their peers.
func TestClusterFirstNode(t *testing.T) {
	if testing.Short() {
		t.Skip("forms a cluster")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	addrs := []string{freeAddr(t), freeAddr(t), freeAddr(t)}
	firstDir := t.TempDir()
	stores := make([]*Store, 3)
	errs := make([]error, 3)
	var wg sync.WaitGroup
	open := func(i int, c *ClusterOptions) {
		defer wg.Done()
		c.Node, c.Listen = fmt.Sprintf("n%d", i+1), addrs[i]
		dir := firstDir
		if i > 0 {
			dir = t.TempDir()
		}
		stores[i], errs[i] = Open(ctx, Options{Dir: dir, MaxStore: 1 << 30, Cluster: c})
	}
	wg.Add(1)
	go open(0, &ClusterOptions{})
	secret := filepath.Join(firstDir, SecretFileName)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if b, err := os.ReadFile(secret); err == nil && len(b) > minSecretLen {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first node wrote no secret")
		}
	}
	wg.Add(2)
	go open(1, &ClusterOptions{Peers: []string{addrs[0], addrs[2]}, SecretFile: secret})
	go open(2, &ClusterOptions{Peers: []string{addrs[0], addrs[1]}, SecretFile: secret})
	wg.Wait()
	for i, s := range stores {
		if s != nil {
			defer s.Close()
		}
		if errs[i] != nil {
			t.Fatalf("node %d: %v", i+1, errs[i])
		}
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		st, _ := stores[0].ClusterStatus()
		if len(st.Peers) == 3 && st.CanWrite && st.Replicas == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the first node sees %+v", st)
		}
	}
}
