package egress

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/aloft-dev/aloft/internal/sandbox/egress/egresstest"
)

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("egress needs root to create interfaces and nftables rules; skipped as uid", os.Geteuid())
	}
}

// TestReachability connects a namespace the way an instance is connected
// and tries each kind of destination from inside it.
func TestReachability(t *testing.T) {
	requireRoot(t)
	h, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	inetLn := egresstest.Internet(t)
	go acceptAll(inetLn)

	// Services of the host: on loopback and on every address.
	hostLo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hostLo.Close()
	go acceptAll(hostLo)
	hostAll, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hostAll.Close()
	go acceptAll(hostAll)
	allPort := hostAll.Addr().(*net.TCPAddr).Port

	// Services beyond the host in ranges instances may not reach, each
	// routed through the host as the internet is: a link-local one (where
	// cloud metadata services answer) and one on a private LAN.
	metadata := beyondHost(t, "rchm", [3]byte{169, 254, 169})
	lan := beyondHost(t, "rchl", [3]byte{10, 1, 2})

	inst := egresstest.NewNS(t)
	defer unix.Close(inst)
	link, err := h.Attach(inst)
	if err != nil {
		t.Fatal(err)
	}
	defer link.Close()
	gw := hostAddrOf(t, link.Name())

	// Another instance, listening on its own address.
	other := egresstest.NewNS(t)
	defer unix.Close(other)
	otherLink, err := h.Attach(other)
	if err != nil {
		t.Fatal(err)
	}
	defer otherLink.Close()
	otherAddr := peerOf(hostAddrOf(t, otherLink.Name()))
	var otherLn net.Listener
	if err := egresstest.In(other, func() error {
		var err error
		otherLn, err = net.Listen("tcp", netip.AddrPortFrom(otherAddr, 0).String())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer otherLn.Close()
	go acceptAll(otherLn)

	// Every destination that must stay out of reach answers, so a
	// refusal below is the policy's doing and not an empty address: the
	// stand-ins answer the host, and the other instance answers at its
	// address in its own namespace (the host cannot ask it: nothing from
	// an instance reaches the host, replies included).
	for _, ln := range []net.Listener{metadata, lan} {
		mustAnswer(t, ln.Addr().String())
	}
	if err := egresstest.In(other, func() error { return answers(otherLn.Addr().String()) }); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name, addr string
		want       bool
	}{
		{"internet", inetLn.Addr().String(), true},
		{"host loopback", hostLo.Addr().String(), false},
		{"host through its gateway address", netip.AddrPortFrom(gw, uint16(allPort)).String(), false},
		{"link-local (metadata)", metadata.Addr().String(), false},
		{"private LAN", lan.Addr().String(), false},
		{"another instance", otherLn.Addr().String(), false},
	}
	for _, a := range hostAddrs(t) {
		cases = append(cases, struct {
			name, addr string
			want       bool
		}{"host at " + a.String(), netip.AddrPortFrom(a, uint16(allPort)).String(), false})
	}
	egresstest.In(inst, func() error {
		for _, c := range cases {
			conn, err := net.DialTimeout("tcp", c.addr, 500*time.Millisecond)
			if conn != nil {
				conn.Close()
			}
			if got := err == nil; got != c.want {
				t.Errorf("%s (%s): reached %v, want %v (err %v)", c.name, c.addr, got, c.want, err)
			}
		}
		return nil
	})
	// Cut off: the pair is gone, and the internet out of reach too.
	if err := link.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := netlink.LinkByName(link.Name()); err == nil {
		t.Errorf("%s still exists after Close", link.Name())
	}
	egresstest.In(inst, func() error {
		conn, err := net.DialTimeout("tcp", inetLn.Addr().String(), 500*time.Millisecond)
		if err == nil {
			conn.Close()
			t.Errorf("the internet is reachable after Close")
		}
		return nil
	})
}

// beyondHost makes a stand-in for a service beyond the host at the first
// free address of net24 (the interface name prefix<N> is the lock, so
// tests in several processes do not collide): a network namespace linked
// to the host by a veth pair, with a host route to its address, and a TCP
// listener there that accepts every connection. Everything goes with the
// test.
func beyondHost(t *testing.T, prefix string, net24 [3]byte) net.Listener {
	t.Helper()
	ns := egresstest.NewNS(t)
	t.Cleanup(func() { unix.Close(ns) })
	var name string
	var ip net.IP
	for i := 1; i < 254 && name == ""; i++ {
		la := netlink.NewLinkAttrs()
		la.Name = prefix + strconv.Itoa(i)
		err := netlink.LinkAdd(&netlink.Veth{LinkAttrs: la, PeerName: "eth0", PeerNamespace: netlink.NsFd(ns)})
		if errors.Is(err, unix.EEXIST) {
			continue
		}
		if err != nil {
			t.Fatalf("stand-in %s: veth: %v", prefix, err)
		}
		name, ip = la.Name, net.IPv4(net24[0], net24[1], net24[2], byte(i)).To4()
	}
	if name == "" {
		t.Fatalf("stand-in %s: no free interface name", prefix)
	}
	t.Cleanup(func() {
		if l, err := netlink.LinkByName(name); err == nil {
			netlink.LinkDel(l)
		}
	})
	host32 := &net.IPNet{IP: egresstest.HostAddr, Mask: net.CIDRMask(32, 32)}
	ns32 := &net.IPNet{IP: ip, Mask: net.CIDRMask(32, 32)}
	hl, err := netlink.LinkByName(name)
	if err == nil {
		err = netlink.AddrAdd(hl, &netlink.Addr{IPNet: host32})
	}
	if err == nil {
		err = netlink.LinkSetUp(hl)
	}
	if err == nil {
		err = netlink.RouteAdd(&netlink.Route{LinkIndex: hl.Attrs().Index, Dst: ns32, Scope: netlink.SCOPE_LINK})
	}
	if err != nil {
		t.Fatalf("stand-in %s: host side: %v", name, err)
	}
	var ln net.Listener
	err = egresstest.In(ns, func() error {
		el, err := netlink.LinkByName("eth0")
		if err == nil {
			err = netlink.AddrAdd(el, &netlink.Addr{IPNet: ns32})
		}
		if err == nil {
			err = netlink.LinkSetUp(el)
		}
		if err == nil {
			err = netlink.RouteAdd(&netlink.Route{LinkIndex: el.Attrs().Index, Dst: host32, Scope: netlink.SCOPE_LINK})
		}
		if err == nil {
			err = netlink.RouteAdd(&netlink.Route{LinkIndex: el.Attrs().Index, Gw: egresstest.HostAddr})
		}
		if err == nil {
			ln, err = net.Listen("tcp", net.JoinHostPort(ip.String(), "0"))
		}
		return err
	})
	if err != nil {
		t.Fatalf("stand-in %s: inside: %v", name, err)
	}
	t.Cleanup(func() { ln.Close() })
	go acceptAll(ln)
	return ln
}

// mustAnswer fails the test unless a TCP connection from the host to addr
// succeeds.
func mustAnswer(t *testing.T, addr string) {
	t.Helper()
	if err := answers(addr); err != nil {
		t.Fatal(err)
	}
}

// answers reports why a TCP connection to addr from the calling thread's
// network namespace fails, or nil when it succeeds.
func answers(addr string) error {
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return fmt.Errorf("%s does not answer, so the test could not tell a refusal from nothing there: %w", addr, err)
	}
	return conn.Close()
}

// peerOf returns the namespace's end of the /30 whose host end is a.
func peerOf(a netip.Addr) netip.Addr { return a.Next() }

func acceptAll(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		c.Close()
	}
}

// hostAddrOf returns the IPv4 address of the host-side interface name.
func hostAddrOf(t *testing.T, name string) netip.Addr {
	t.Helper()
	l, err := netlink.LinkByName(name)
	if err != nil {
		t.Fatal(err)
	}
	as, err := netlink.AddrList(l, netlink.FAMILY_V4)
	if err != nil || len(as) == 0 {
		t.Fatalf("addresses of %s: %v %v", name, as, err)
	}
	a, _ := netip.AddrFromSlice(as[0].IP.To4())
	return a
}

// hostAddrs returns the host's global IPv4 addresses.
func hostAddrs(t *testing.T) []netip.Addr {
	t.Helper()
	as, err := netlink.AddrList(nil, netlink.FAMILY_V4)
	if err != nil {
		t.Fatal(err)
	}
	var out []netip.Addr
	for _, a := range as {
		ip, _ := netip.AddrFromSlice(a.IP.To4())
		if ip.IsValid() && !ip.IsLoopback() && !pool.Contains(ip) {
			out = append(out, ip)
		}
	}
	return out
}

// BenchmarkAttach measures linking a namespace to the host, the work
// egress adds to preparing an instance, and the namespace's end.
func BenchmarkAttach(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("egress needs root; skipped as uid", os.Geteuid())
	}
	h, err := New(Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		ns := egresstest.NewNS(b)
		b.StartTimer()
		if _, err := h.Attach(ns); err != nil {
			b.Fatal(err)
		}
		unix.Close(ns)
	}
}

// TestAllow checks that one namespace's allowance reaches a private
// range while another namespace's link stays refused, and that Revoke
// takes it back.
func TestAllow(t *testing.T) {
	requireRoot(t)
	h, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	lan := egresstest.LAN(t)
	go acceptAll(lan)
	lanNet := netip.MustParsePrefix("10.99.0.0/24")
	reaches := func(ns int) bool {
		var ok bool
		egresstest.In(ns, func() error {
			conn, err := net.DialTimeout("tcp", lan.Addr().String(), 500*time.Millisecond)
			if err == nil {
				conn.Close()
			}
			ok = err == nil
			return nil
		})
		return ok
	}
	var links [2]*Link
	var nss [2]int
	for i := range links {
		nss[i] = egresstest.NewNS(t)
		defer unix.Close(nss[i])
		if links[i], err = h.Attach(nss[i]); err != nil {
			t.Fatal(err)
		}
		defer links[i].Close()
	}
	if reaches(nss[0]) || reaches(nss[1]) {
		t.Fatal("a private range is reachable without an allowance")
	}
	if err := links[0].Allow([]netip.Prefix{lanNet}); err != nil {
		t.Fatal(err)
	}
	if !reaches(nss[0]) || reaches(nss[1]) {
		t.Fatalf("after Allow on the first link: first reaches %v (want true), second %v (want false)", reaches(nss[0]), reaches(nss[1]))
	}
	if err := links[0].Revoke(); err != nil {
		t.Fatal(err)
	}
	if reaches(nss[0]) {
		t.Fatal("the private range is reachable after Revoke")
	}
	// Allowed again, and refused to anything else still.
	if err := links[0].Allow([]netip.Prefix{netip.MustParsePrefix("10.98.0.0/16")}); err != nil {
		t.Fatal(err)
	}
	if reaches(nss[0]) {
		t.Fatal("an allowance for another range opened this one")
	}
	if err := links[0].Revoke(); err != nil {
		t.Fatal(err)
	}
}

// TestAllowancesOutliveAnotherStart checks that a server starting beside
// a running one keeps the running one's allowances, and removes those
// whose interface is gone, as a server that died leaves them.
func TestAllowancesOutliveAnotherStart(t *testing.T) {
	requireRoot(t)
	h, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	lan := egresstest.LAN(t)
	go acceptAll(lan)
	lanNet := []netip.Prefix{netip.MustParsePrefix("10.99.0.0/24")}
	live, dead := egresstest.NewNS(t), egresstest.NewNS(t)
	defer unix.Close(live)
	defer unix.Close(dead)
	ll, err := h.Attach(live)
	if err != nil {
		t.Fatal(err)
	}
	defer ll.Close()
	dl, err := h.Attach(dead)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []*Link{ll, dl} {
		if err := l.Allow(lanNet); err != nil {
			t.Fatal(err)
		}
	}
	// The second link goes without a Revoke, as when its server dies.
	if err := dl.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Options{}); err != nil {
		t.Fatal(err)
	}
	var reached bool
	egresstest.In(live, func() error {
		conn, err := net.DialTimeout("tcp", lan.Addr().String(), 500*time.Millisecond)
		if err == nil {
			conn.Close()
		}
		reached = err == nil
		return nil
	})
	if !reached {
		t.Fatal("a running instance lost its allowance when another server started")
	}
	keys := allowanceKeys(t)
	if !keys[ll.index] {
		t.Errorf("the live link's allowance (index %d) is gone: %v", ll.index, keys)
	}
	if keys[dl.index] {
		t.Errorf("the allowance of a link that is gone (index %d) was kept", dl.index)
	}
	if err := ll.Revoke(); err != nil {
		t.Fatal(err)
	}
	if allowanceKeys(t)[ll.index] {
		t.Error("Revoke left the map element")
	}
}

// allowanceKeys returns the interface indexes the allowance map holds.
func allowanceKeys(t *testing.T) map[int]bool {
	t.Helper()
	c, err := nftables.New()
	if err != nil {
		t.Fatal(err)
	}
	els, err := c.GetSetElements(allowSet(policyTable()))
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[int]bool, len(els))
	for _, e := range els {
		out[int(binaryutil.NativeEndian.Uint32(e.Key))] = true
	}
	return out
}

// TestAllowanceSurvivesConcurrentStarts checks that servers starting at
// the same moment beside a running one leave its allowance in place, and
// that Revoke succeeds and leaves nothing when part of the allowance is
// already gone.
func TestAllowanceSurvivesConcurrentStarts(t *testing.T) {
	requireRoot(t)
	h, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	ns := egresstest.NewNS(t)
	defer unix.Close(ns)
	l, err := h.Attach(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.Allow([]netip.Prefix{netip.MustParsePrefix("10.99.0.0/24")}); err != nil {
		t.Fatal(err)
	}
	// Servers are processes of their own: six start at once.
	var wg sync.WaitGroup
	errs := make(chan error, 6)
	for range 6 {
		wg.Go(func() {
			cmd := exec.Command(os.Args[0])
			cmd.Env = append(os.Environ(), "ALOFT_EGRESS_START_HELPER=1")
			if out, err := cmd.CombinedOutput(); err != nil {
				errs <- fmt.Errorf("a starting server: %v: %s", err, out)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if !allowanceKeys(t)[l.index] {
		t.Fatal("concurrent starts removed a running instance's allowance")
	}

	// The element goes behind the link's back; Revoke removes the chain.
	c, err := nftables.New()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SetDeleteElements(allowSet(policyTable()), []nftables.SetElement{{Key: indexKey(l.index)}}); err != nil {
		t.Fatal(err)
	}
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := l.Revoke(); err != nil {
		t.Fatalf("Revoke with the element already gone: %v", err)
	}
	el, chain, err := allowanceLeft(c, l.index)
	if err != nil {
		t.Fatal(err)
	}
	if el || chain {
		t.Fatalf("after Revoke: element %v, chain %v; want neither", el, chain)
	}
	if err := l.Revoke(); err != nil {
		t.Fatalf("a second Revoke: %v", err)
	}
}

// TestMain runs the tests, or, in a process TestAllowanceSurvivesConcurrentStarts
// starts, a server's start alone.
func TestMain(m *testing.M) {
	if os.Getenv("ALOFT_EGRESS_START_HELPER") != "" {
		if _, err := New(Options{}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestNameServers checks which name servers instances may reach, and
// that a configuration naming only loopback ones (a local stub resolver,
// which no instance reaches) is warned about.
func TestNameServers(t *testing.T) {
	for _, tc := range []struct {
		name, conf string
		want       []netip.Addr
		warn       bool
	}{
		{"a resolver on the network", "nameserver 10.255.255.53\n", []netip.Addr{netip.MustParseAddr("10.255.255.53")}, false},
		{"a systemd-resolved stub", "# stub\nnameserver 127.0.0.53\noptions edns0 trust-ad\nsearch .\n", nil, true},
		{"IPv6 loopback", "nameserver ::1\n", nil, true},
		{"a stub and a resolver", "nameserver 127.0.0.53\nnameserver 192.0.2.53\n", []netip.Addr{netip.MustParseAddr("192.0.2.53")}, false},
		{"IPv6 only", "nameserver 2001:db8::53\n", nil, false},
		{"nothing", "", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := t.TempDir() + "/resolv.conf"
			if err := os.WriteFile(path, []byte(tc.conf), 0o644); err != nil {
				t.Fatal(err)
			}
			var log bytes.Buffer
			got := nameServers(path, slog.New(slog.NewTextHandler(&log, nil)))
			if !slices.Equal(got, tc.want) {
				t.Errorf("name servers %v, want %v", got, tc.want)
			}
			warned := strings.Contains(log.String(), "level=WARN") && strings.Contains(log.String(), "cannot resolve names")
			if warned != tc.warn {
				t.Errorf("warned %v, want %v; log: %s", warned, tc.warn, log.String())
			}
		})
	}
	if got, _ := resolvers(t.TempDir() + "/absent"); got != nil {
		t.Errorf("an absent file names %v", got)
	}
}
