package egress

import (
	"net"
	"net/netip"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// inNS runs fn on a thread in the network namespace ns (a new one when ns
// is -1, whose descriptor it returns) and never lets the thread serve
// anything else.
func inNS(t *testing.T, ns int, fn func()) int {
	t.Helper()
	done := make(chan int)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		fd := ns
		if ns < 0 {
			if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
				t.Errorf("unshare: %v", err)
				close(done)
				return
			}
			var err error
			if fd, err = unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0); err != nil {
				t.Errorf("open netns: %v", err)
				close(done)
				return
			}
			lo, _ := netlink.LinkByName("lo")
			netlink.LinkSetUp(lo)
		} else if err := unix.Setns(ns, unix.CLONE_NEWNET); err != nil {
			t.Errorf("setns: %v", err)
			close(done)
			return
		}
		fn()
		done <- fd
	}()
	return <-done
}

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
	// "The internet": a namespace with a public-style address, routed
	// through the host.
	var inetLn net.Listener
	inet := inNS(t, -1, func() {})
	defer unix.Close(inet)
	la := netlink.NewLinkAttrs()
	la.Name = "egtest0"
	if err := netlink.LinkAdd(&netlink.Veth{LinkAttrs: la, PeerName: "eth0", PeerNamespace: netlink.NsFd(inet)}); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if l, err := netlink.LinkByName("egtest0"); err == nil {
			netlink.LinkDel(l)
		}
	}()
	hl, _ := netlink.LinkByName("egtest0")
	netlink.AddrAdd(hl, &netlink.Addr{IPNet: &net.IPNet{IP: net.IPv4(198, 51, 100, 254), Mask: net.CIDRMask(24, 32)}})
	netlink.LinkSetUp(hl)
	inNS(t, inet, func() {
		el, err := netlink.LinkByName("eth0")
		if err != nil {
			t.Error(err)
			return
		}
		netlink.AddrAdd(el, &netlink.Addr{IPNet: &net.IPNet{IP: net.IPv4(198, 51, 100, 1), Mask: net.CIDRMask(24, 32)}})
		netlink.LinkSetUp(el)
		netlink.RouteAdd(&netlink.Route{LinkIndex: el.Attrs().Index, Gw: net.IPv4(198, 51, 100, 254)})
		inetLn, err = net.Listen("tcp", "198.51.100.1:0")
		if err != nil {
			t.Error(err)
		}
	})
	if inetLn == nil {
		t.FailNow()
	}
	defer inetLn.Close()
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

	inst := inNS(t, -1, func() {})
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
	inNS(t, inst, func() {
		for _, c := range cases {
			conn, err := net.DialTimeout("tcp", c.addr, 500*time.Millisecond)
			if conn != nil {
				conn.Close()
			}
			if got := err == nil; got != c.want {
				t.Errorf("%s (%s): reached %v, want %v (err %v)", c.name, c.addr, got, c.want, err)
			}
		}
	})
	if err := link.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := netlink.LinkByName(link.Name()); err == nil {
		t.Errorf("%s still exists after Close", link.Name())
	}
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
