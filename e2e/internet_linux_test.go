package e2e

import (
	"bufio"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// internetSeq numbers the namespaces internetHost makes.
var internetSeq atomic.Int32

// internetHost makes a stand-in for a host on the internet (see
// internetListener) with a TCP service that answers "internet" to every
// connection, and returns the service's address.
func internetHost(t *testing.T) string {
	t.Helper()
	ln := internetListener(t)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("internet\n"))
			c.Close()
		}
	}()
	// The host reaches it.
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatalf("the internet stand-in is not reachable from the host: %v", err)
	}
	line, _ := bufio.NewReader(c).ReadString('\n')
	c.Close()
	if line != "internet\n" {
		t.Fatalf("the internet stand-in answered %q", line)
	}
	return ln.Addr().String()
}

// reachableServer serves h where a function can reach it, and returns its
// base URL: on the host's loopback when functions share the host's network
// (the process driver, without root), and otherwise on a stand-in for a
// host on the internet.
func reachableServer(t *testing.T, h http.Handler) string {
	t.Helper()
	var ln net.Listener
	if os.Geteuid() == 0 {
		ln = internetListener(t)
	} else {
		var err error
		if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

// internetListener makes a stand-in for a host on the internet: a network
// namespace with a public-style address (198.51.100.x, a documentation
// range outside every private one), reached from the host through a veth
// pair, and returns a TCP listener there. Everything goes with the test.
func internetListener(t *testing.T) net.Listener {
	t.Helper()
	n := int(internetSeq.Add(1))
	name := "inet-e2e" + strconv.Itoa(n)
	nsIP := net.IPv4(198, 51, 100, byte(n%100+1)).To4()
	hostIP := net.IPv4(198, 51, 100, 254).To4()
	var ln net.Listener
	var nsfd int = -1
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends in the namespace
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			errc <- err
			return
		}
		fd, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- err
			return
		}
		nsfd = fd
		errc <- nil
		<-errc // wait for the veth
		lo, _ := netlink.LinkByName("lo")
		netlink.LinkSetUp(lo)
		el, err := netlink.LinkByName("eth0")
		if err == nil {
			err = netlink.AddrAdd(el, &netlink.Addr{IPNet: &net.IPNet{IP: nsIP, Mask: net.CIDRMask(32, 32)}})
		}
		if err == nil {
			err = netlink.LinkSetUp(el)
		}
		if err == nil {
			err = netlink.RouteAdd(&netlink.Route{LinkIndex: el.Attrs().Index, Dst: &net.IPNet{IP: hostIP, Mask: net.CIDRMask(32, 32)}, Scope: netlink.SCOPE_LINK})
		}
		if err == nil {
			err = netlink.RouteAdd(&netlink.Route{LinkIndex: el.Attrs().Index, Gw: hostIP})
		}
		if err == nil {
			ln, err = net.Listen("tcp", net.JoinHostPort(nsIP.String(), "0"))
		}
		errc <- err
	}()
	if err := <-errc; err != nil {
		t.Fatalf("internet namespace: %v", err)
	}
	t.Cleanup(func() { unix.Close(nsfd) })
	la := netlink.NewLinkAttrs()
	la.Name = name
	if err := netlink.LinkAdd(&netlink.Veth{LinkAttrs: la, PeerName: "eth0", PeerNamespace: netlink.NsFd(nsfd)}); err != nil {
		t.Fatalf("internet veth: %v", err)
	}
	t.Cleanup(func() {
		if l, err := netlink.LinkByName(name); err == nil {
			netlink.LinkDel(l)
		}
	})
	hl, err := netlink.LinkByName(name)
	if err == nil {
		err = netlink.AddrAdd(hl, &netlink.Addr{IPNet: &net.IPNet{IP: hostIP, Mask: net.CIDRMask(32, 32)}})
	}
	if err == nil {
		err = netlink.LinkSetUp(hl)
	}
	if err == nil {
		err = netlink.RouteAdd(&netlink.Route{LinkIndex: hl.Attrs().Index, Dst: &net.IPNet{IP: nsIP, Mask: net.CIDRMask(32, 32)}, Scope: netlink.SCOPE_LINK})
	}
	if err != nil {
		t.Fatalf("internet veth: %v", err)
	}
	errc <- nil
	if err := <-errc; err != nil {
		t.Fatalf("internet namespace: %v", err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}
