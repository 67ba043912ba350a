//go:build linux

package alofttest

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// A NetCluster is a cluster whose nodes each run in a network namespace
// of their own, so that one node can be cut off from the others and
// joined to them again while the test still reaches every node.
//
// Each node's namespace has one link, a veth pair to a bridge in a
// namespace of its own (the hub, which no other interface or firewall
// touches), and one address, 10.213.0.N, on which the node listens for
// the other nodes (--cluster-listen, port 6222), for the API (--listen,
// 9000) and for the gateway (--gateway-listen, 9001). Cut takes a node's
// port of the bridge down. No namespace has a route elsewhere, so nothing
// leaves the machine.
//
// The test reaches a node through a forwarder on a loopback port of its
// own namespace, which connects to the node's address from inside the
// node's namespace: Server.URL and GatewayURL are those loopback
// addresses, and Cut does not touch them (a partition of the nodes from
// one another, not of a node from its clients). Routing the test's own
// namespace to the nodes would not do: a machine's firewall may drop
// what reaches it through a veth link, as some sandboxes' do.
type NetCluster struct {
	*Cluster
	hub string          // the bridge's namespace
	fwd []*netnsForward // node i's API at 2i, its gateway at 2i+1
}

// NetnsSkip skips the test, saying why, unless it may make network
// namespaces: it must run as root with the ip command (iproute2).
func NetnsSkip(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("network namespaces need root: run the test as root, as CI does")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("network namespaces need the ip command (iproute2)")
	}
}

// netnsPrefix begins the name of every namespace this package makes;
// the test process's id and a sequence number follow.
const netnsPrefix = "alofttest-"

// netnsSeq numbers the clusters of this process.
var netnsSeq atomic.Int32

// Ports every node listens on, at its address.
const (
	netnsClusterPort = "6222"
	netnsAPIPort     = "9000"
	netnsGatewayPort = "9001"
)

// StartNetnsCluster starts n nodes of one cluster, each in its own
// network namespace, with the given extra flags, and waits until every
// node reports the whole cluster formed and able to take writes. It
// skips the test when it cannot make namespaces (see NetnsSkip). The
// nodes stop, and the namespaces and links go, when the test ends.
func StartNetnsCluster(t testing.TB, n int, args ...string) *NetCluster {
	t.Helper()
	NetnsSkip(t)
	if n < 1 || n > 200 {
		t.Fatalf("StartNetnsCluster: %d nodes", n)
	}
	netnsSweep(t)
	bin := Binary(t)
	base := fmt.Sprintf("%s%d-%d-", netnsPrefix, os.Getpid(), netnsSeq.Add(1))
	c := &NetCluster{Cluster: &Cluster{Secret: filepath.Join(t.TempDir(), "cluster.secret")}, hub: base + "hub"}
	if err := os.WriteFile(c.Secret, []byte(ClusterSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Registered before the nodes start, this runs after they stop;
	// removing a namespace removes its links and their peers.
	var made []string
	t.Cleanup(func() {
		for _, f := range c.fwd {
			f.close()
		}
		for _, ns := range made {
			if err := ipRun("netns", "del", ns); err != nil {
				t.Errorf("remove the network namespace: %v", err)
			}
		}
	})
	must := func(args ...string) {
		t.Helper()
		if err := ipRun(args...); err != nil {
			t.Fatal(err)
		}
	}
	must("netns", "add", c.hub)
	made = append(made, c.hub)
	must("-n", c.hub, "link", "add", "br0", "type", "bridge")
	must("-n", c.hub, "link", "set", "br0", "up")
	scripts := t.TempDir()
	for i := range n {
		ns := fmt.Sprintf("%sn%d", base, i+1)
		must("netns", "add", ns)
		made = append(made, ns)
		must("-n", ns, "link", "set", "lo", "up")
		port := fmt.Sprintf("p%d", i+1)
		must("-n", c.hub, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns)
		must("-n", c.hub, "link", "set", port, "master", "br0", "up")
		ip := fmt.Sprintf("10.213.0.%d", i+2)
		must("-n", ns, "addr", "add", ip+"/24", "dev", "eth0")
		must("-n", ns, "link", "set", "eth0", "up")
		c.Names = append(c.Names, fmt.Sprintf("node%d", i+1))
		c.Addrs = append(c.Addrs, ip+":"+netnsClusterPort)
		// The server runs in the namespace through a script of its own,
		// so that a restart goes there too.
		body := fmt.Sprintf("#!/bin/sh\nexec ip netns exec %s %s \"$@\"\n", ns, bin)
		if err := os.WriteFile(filepath.Join(scripts, c.Names[i]), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
		api, err := netnsForwarder(ns, ip+":"+netnsAPIPort)
		if err != nil {
			t.Fatal(err)
		}
		c.fwd = append(c.fwd, api)
		gw, err := netnsForwarder(ns, ip+":"+netnsGatewayPort)
		if err != nil {
			t.Fatal(err)
		}
		c.fwd = append(c.fwd, gw)
	}
	c.Nodes = make([]*Server, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			ip := strings.TrimSuffix(c.Addrs[i], ":"+netnsClusterPort)
			flags := append([]string{"--listen", ip + ":" + netnsAPIPort, "--gateway-listen", ip + ":" + netnsGatewayPort}, c.NodeArgs(i)...)
			s := launch(t, &Server{t: t, Dir: t.TempDir(), Args: append(flags, args...), bin: filepath.Join(scripts, c.Names[i])})
			c.point(i, s)
			c.Nodes[i] = s
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

// point makes node i's URLs its forwarders' (start sets them to the
// node's own addresses, which only its namespace reaches).
func (c *NetCluster) point(i int, s *Server) {
	s.URL, s.GatewayURL = "http://"+c.fwd[2*i].addr(), "http://"+c.fwd[2*i+1].addr()
}

// Restart restarts node i (after Stop or Kill, or stopping it first)
// in its namespace.
func (c *NetCluster) Restart(i int) {
	c.Nodes[i].Restart()
	c.point(i, c.Nodes[i])
}

// Cut takes node i's link to the other nodes down: it no longer reaches
// them, nor they it, though the test still reaches its API.
func (c *NetCluster) Cut(t testing.TB, i int) {
	t.Helper()
	if err := ipRun("-n", c.hub, "link", "set", fmt.Sprintf("p%d", i+1), "down"); err != nil {
		t.Fatal(err)
	}
}

// Heal brings node i's link to the other nodes up again.
func (c *NetCluster) Heal(t testing.TB, i int) {
	t.Helper()
	if err := ipRun("-n", c.hub, "link", "set", fmt.Sprintf("p%d", i+1), "up"); err != nil {
		t.Fatal(err)
	}
}

// ipRun runs the ip command with args.
func ipRun(args ...string) error {
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// netnsSweep removes the namespaces left by test processes that ended
// without removing them (killed, say); their links go with them.
func netnsSweep(t testing.TB) {
	t.Helper()
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(out), "\n") {
		name, _, _ := strings.Cut(strings.TrimSpace(line), " ")
		rest, ok := strings.CutPrefix(name, netnsPrefix)
		if !ok {
			continue
		}
		pid, _, _ := strings.Cut(rest, "-")
		if p, err := strconv.Atoi(pid); err != nil || p == os.Getpid() {
			continue
		} else if _, err := os.Stat(fmt.Sprintf("/proc/%d", p)); err == nil {
			continue
		}
		if err := ipRun("netns", "del", name); err != nil {
			t.Logf("remove a stale network namespace: %v", err)
		}
	}
}

// netnsForward accepts connections on a loopback port of the test's
// namespace and joins each to a connection to an address made from
// inside another namespace.
type netnsForward struct {
	ln    net.Listener
	ns    string // the namespace's name
	to    string // HOST:PORT
	mu    sync.Mutex
	conns map[net.Conn]struct{} // open, both ends; nil once closed
}

// netnsForwarder starts a forwarder to the address to in namespace ns.
func netnsForwarder(ns, to string) (*netnsForward, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("forward to %s in %s: %w", to, ns, err)
	}
	f := &netnsForward{ln: ln, ns: ns, to: to, conns: map[net.Conn]struct{}{}}
	go f.serve()
	return f, nil
}

func (f *netnsForward) addr() string { return f.ln.Addr().String() }

func (f *netnsForward) serve() {
	for {
		in, err := f.ln.Accept()
		if err != nil {
			return // closed
		}
		go f.join(in)
	}
}

// join connects to f.to for in and copies both ways until either ends.
func (f *netnsForward) join(in net.Conn) {
	out, err := dialInNetns(f.ns, f.to)
	if err != nil || !f.track(in, out) {
		in.Close()
		if out != nil {
			out.Close()
		}
		return
	}
	done := make(chan struct{}, 2)
	go func() { io.Copy(out, in); done <- struct{}{} }()
	go func() { io.Copy(in, out); done <- struct{}{} }()
	<-done
	in.Close()
	out.Close()
	<-done
	f.mu.Lock()
	delete(f.conns, in)
	delete(f.conns, out)
	f.mu.Unlock()
}

// track records an open pair, unless f is closed.
func (f *netnsForward) track(in, out net.Conn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.conns == nil {
		return false
	}
	f.conns[in], f.conns[out] = struct{}{}, struct{}{}
	return true
}

// close stops accepting and closes every open connection.
func (f *netnsForward) close() {
	f.ln.Close()
	f.mu.Lock()
	defer f.mu.Unlock()
	for c := range f.conns {
		c.Close()
	}
	f.conns = nil
}

// dialInNetns connects to addr from inside the named namespace: the
// socket is made on a thread moved into that namespace for the call, and
// keeps the namespace once the thread is back in its own.
func dialInNetns(ns, addr string) (net.Conn, error) {
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		// A thread that cannot go back stays locked, and ends with this
		// goroutine.
		runtime.LockOSThread()
		home, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{nil, fmt.Errorf("this thread's network namespace: %w", err)}
			return
		}
		defer home.Close()
		there, err := os.Open("/run/netns/" + ns)
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{nil, fmt.Errorf("network namespace %s: %w", ns, err)}
			return
		}
		defer there.Close()
		if err := unix.Setns(int(there.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			ch <- result{nil, fmt.Errorf("enter network namespace %s: %w", ns, err)}
			return
		}
		c, err := net.DialTimeout("tcp", addr, 10*time.Second)
		if unix.Setns(int(home.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		ch <- result{c, err}
	}()
	r := <-ch
	return r.c, r.err
}
