package egresstest

import (
	"errors"
	"net"
	"runtime"
	"strconv"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// HostAddr is the host's end of every stand-in's link.
var HostAddr = net.IPv4(198, 51, 100, 254).To4()

// Internet makes a stand-in for a host on the internet and returns a TCP
// listener on it: a network namespace with an address of 198.51.100.0/24
// (a documentation range, outside every private one), linked to the host
// by a veth pair "inet<N>" and routed through it, so that traffic from
// instances reaches it the way it would reach the internet. N, and the
// address, are the first free on the host (the interface name is the
// lock), so tests in several processes do not collide. It needs root;
// everything goes with the test.
func Internet(t testing.TB) net.Listener {
	t.Helper()
	return standIn(t, "inet", [3]byte{198, 51, 100})
}

// LAN makes a stand-in for a host on a private network, as Internet does
// but at an address of 10.99.0.0/24 behind a pair "lan<N>": instances do
// not reach it unless allowed to.
func LAN(t testing.TB) net.Listener {
	t.Helper()
	return standIn(t, "lan", [3]byte{10, 99, 0})
}

// standIn makes a namespace at the first free address of net/24 linked by
// a pair named prefix<N>, and listens there.
func standIn(t testing.TB, prefix string, net24 [3]byte) net.Listener {
	t.Helper()
	ns, err := newNS()
	if err != nil {
		t.Fatalf(prefix+" stand-in: %v", err)
	}
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
			t.Fatalf(prefix+" stand-in: veth: %v", err)
		}
		name, ip = la.Name, net.IPv4(net24[0], net24[1], net24[2], byte(i)).To4()
	}
	if name == "" {
		t.Fatal(prefix + " stand-in: no free interface name")
	}
	t.Cleanup(func() {
		if l, err := netlink.LinkByName(name); err == nil {
			netlink.LinkDel(l)
		}
	})
	host32 := &net.IPNet{IP: HostAddr, Mask: net.CIDRMask(32, 32)}
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
		t.Fatalf(prefix+" stand-in: host side: %v", err)
	}
	var ln net.Listener
	err = In(ns, func() error {
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
			err = netlink.RouteAdd(&netlink.Route{LinkIndex: el.Attrs().Index, Gw: HostAddr})
		}
		if err == nil {
			ln, err = net.Listen("tcp", net.JoinHostPort(ip.String(), "0"))
		}
		return err
	})
	if err != nil {
		t.Fatalf(prefix+" stand-in: inside: %v", err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// NewNS creates a network namespace with its loopback up and returns a
// descriptor of it; the caller closes it.
func NewNS(t testing.TB) int {
	t.Helper()
	ns, err := newNS()
	if err != nil {
		t.Fatal(err)
	}
	return ns
}

func newNS() (int, error) {
	fd := -1
	err := inThread(-1, func() error {
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			return err
		}
		var err error
		if fd, err = unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0); err != nil {
			return err
		}
		lo, err := netlink.LinkByName("lo")
		if err == nil {
			err = netlink.LinkSetUp(lo)
		}
		return err
	})
	return fd, err
}

// In runs fn on a thread in the network namespace ns.
func In(ns int, fn func() error) error { return inThread(ns, fn) }

// inThread runs fn on a thread of its own, in ns unless ns is -1, and
// lets that thread end with it rather than serve anything else.
func inThread(ns int, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked
		if ns >= 0 {
			if err := unix.Setns(ns, unix.CLONE_NEWNET); err != nil {
				errc <- err
				return
			}
		}
		errc <- fn()
	}()
	return <-errc
}
