package egress

import (
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

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

	inst := egresstest.NewNS(t)
	defer unix.Close(inst)
	link, err := h.Attach(inst)
	if err != nil {
		t.Fatal(err)
	}
	defer link.Close()
	gw := hostAddrOf(t, link.Name())

	cases := []struct {
		name, addr string
		want       bool
	}{
		{"internet", inetLn.Addr().String(), true},
		{"host loopback", hostLo.Addr().String(), false},
		{"host through its gateway address", netip.AddrPortFrom(gw, uint16(allPort)).String(), false},
		{"metadata", "169.254.169.254:80", false},
		{"private LAN", "10.1.2.3:80", false},
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
