package linux

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"runtime"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/aloft-dev/aloft/internal/sandbox"
)

// netns is an instance's network namespace, which its init was cloned
// into: held open by a descriptor, with the listeners opened there ahead
// of need (Options.Listen) and the link egress made to the host.
type netns struct {
	fd int

	mu      sync.Mutex
	lns     map[string]net.Listener // guarded by mu: opened ahead of need, not yet taken
	link    io.Closer               // guarded by mu: the way out, or nil
	allowed allower                 // guarded by mu: the link, once it lets this instance reach more
}

// allower is a link that can let one instance reach ranges the others
// may not (egress.Link), until Revoke.
type allower interface {
	Allow([]netip.Prefix) error
	Revoke() error
}

// allow lets the instance reach the ranges p besides what every instance
// may reach; close takes that back.
func (n *netns) allow(p []netip.Prefix) error {
	n.mu.Lock()
	a, ok := n.link.(allower)
	n.mu.Unlock()
	if !ok {
		return errors.New("instances have no way out here to widen (no egress: a server without root, or a host that cannot route for them)")
	}
	if err := a.Allow(p); err != nil {
		return err
	}
	n.mu.Lock()
	n.allowed = a
	n.mu.Unlock()
	return nil
}

var _ sandbox.Network = (*netns)(nil)

// openNetns takes hold of the network namespace of process pid (a new
// init's), brings its loopback up, opens the listeners addrs there and
// connects it to the host with egress, when that is set.
func openNetns(pid int, addrs []string, egress func(nsfd int) (io.Closer, error)) (*netns, error) {
	fd, err := unix.Open("/proc/"+strconv.Itoa(pid)+"/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("linux sandbox: open network namespace: %w", err)
	}
	n := &netns{fd: fd, lns: make(map[string]net.Listener, len(addrs))}
	err = inThread(fd, func() error {
		if err := loopbackUp(); err != nil {
			return err
		}
		for _, a := range addrs {
			ln, err := net.Listen("tcp", a)
			if err != nil {
				return err
			}
			n.lns[a] = ln
		}
		return nil
	})
	if err == nil && egress != nil {
		n.link, err = egress(fd)
	}
	if err != nil {
		n.close()
		return nil, fmt.Errorf("linux sandbox: network namespace: %w", err)
	}
	return n, nil
}

// Listen returns the listener opened ahead of need at addr, or opens one
// inside the namespace.
func (n *netns) Listen(addr string) (net.Listener, error) {
	n.mu.Lock()
	ln := n.lns[addr]
	delete(n.lns, addr)
	n.mu.Unlock()
	if ln != nil {
		return ln, nil
	}
	err := inThread(n.fd, func() error {
		var err error
		ln, err = net.Listen("tcp", addr)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("linux sandbox: listen in network namespace: %w", err)
	}
	return ln, nil
}

// offline leaves the namespace nothing but its loopback and the
// listeners taken so far: the link to the host goes, and so do the
// listeners opened ahead of need that nobody took.
func (n *netns) offline() error {
	n.mu.Lock()
	link, lns := n.link, n.lns
	n.link, n.lns = nil, nil
	n.mu.Unlock()
	for _, ln := range lns {
		ln.Close()
	}
	if link == nil {
		return nil
	}
	return link.Close()
}

// close releases the namespace: the listeners nobody took, what allow
// let it reach, and the descriptor. The namespace, and the link egress made, go with its last
// process.
func (n *netns) close() error {
	n.mu.Lock()
	lns, allowed := n.lns, n.allowed
	n.lns, n.link, n.allowed = nil, nil, nil
	n.mu.Unlock()
	for _, ln := range lns {
		ln.Close()
	}
	var rerr error
	if allowed != nil {
		rerr = allowed.Revoke()
	}
	return errors.Join(rerr, unix.Close(n.fd))
}

// inThread runs fn on a locked thread in the network namespace ns and
// puts the thread back in the host's namespace. A thread that cannot go
// back (a driver in a user namespace may enter the namespaces it made but
// not return to the host's) is never unlocked, so the runtime ends it
// with the goroutine.
func inThread(ns int, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		host, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("open the host's network namespace: %w", err)
			return
		}
		defer unix.Close(host)
		if err := unix.Setns(ns, unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("enter network namespace: %w", err)
			return
		}
		ferr := fn()
		if err := unix.Setns(host, unix.CLONE_NEWNET); err != nil {
			// In a user namespace (rootless) the host's namespace is out
			// of reach once left: the thread stays locked and exits.
			errc <- ferr
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// loopbackUp brings up lo in the calling thread's network namespace.
func loopbackUp() error {
	s, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("socket for lo: %w", err)
	}
	defer unix.Close(s)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(s, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("flags of lo: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(s, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bring lo up: %w", err)
	}
	return nil
}
