package linux

import (
	"errors"
	"fmt"
	"net"
	"runtime"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/aloft-dev/aloft/internal/sandbox"
)

// netns is a network namespace with only its loopback interface up, held
// open by a descriptor.
type netns struct {
	fd   int
	once sync.Once
}

var _ sandbox.Network = (*netns)(nil)

// newNetns creates a network namespace from a thread of its own, which
// returns to the host's namespace afterwards (or, if it cannot, dies with
// its goroutine rather than serve other goroutines from the wrong one).
func newNetns() (*netns, error) {
	var ns *netns
	err := inThread(-1, func() error {
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			return fmt.Errorf("unshare network namespace: %w", err)
		}
		fd, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open network namespace: %w", err)
		}
		if err := loopbackUp(); err != nil {
			unix.Close(fd)
			return err
		}
		ns = &netns{fd: fd}
		return nil
	})
	return ns, err
}

// Listen opens a TCP listener inside the namespace.
func (n *netns) Listen(addr string) (net.Listener, error) {
	var ln net.Listener
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

// Close releases the descriptor; the namespace goes with its last user.
func (n *netns) Close() error {
	var err error
	n.once.Do(func() { err = unix.Close(n.fd) })
	return err
}

// inThread runs fn on a locked thread, in the network namespace ns (or,
// with ns < 0, in the host's, where fn may leave it), and puts the thread
// back in the host's namespace. A thread that cannot go back is never
// unlocked, so the runtime ends it with the goroutine.
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
		if ns >= 0 {
			if err := unix.Setns(ns, unix.CLONE_NEWNET); err != nil {
				runtime.UnlockOSThread()
				errc <- fmt.Errorf("enter network namespace: %w", err)
				return
			}
		}
		ferr := fn()
		if err := unix.Setns(host, unix.CLONE_NEWNET); err != nil {
			errc <- errors.Join(ferr, fmt.Errorf("return to the host's network namespace: %w", err))
			return // the thread stays locked and exits
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

// netPoolSize is how many network namespaces are kept ready.
const netPoolSize = 8

// Network returns a network namespace with only a loopback interface,
// from the pool when it has one. The pool is filled by the first call and
// refilled in the background, so only a burst that empties it pays for
// creating namespaces.
func (d *Driver) Network() (sandbox.Network, error) {
	if d.closed.Load() {
		return nil, errors.New("linux sandbox: driver is closed")
	}
	d.netOnce.Do(func() {
		d.nets = make(chan *netns, netPoolSize)
		d.netNeed = make(chan struct{}, 1)
		d.wg.Add(1)
		go d.refillNets()
	})
	defer func() {
		select {
		case d.netNeed <- struct{}{}:
		default:
		}
	}()
	select {
	case n := <-d.nets:
		return n, nil
	default:
	}
	n, err := newNetns()
	if err != nil {
		return nil, fmt.Errorf("linux sandbox: %w", err)
	}
	return n, nil
}

// refillNets keeps the namespace pool full until Close, which empties it.
func (d *Driver) refillNets() {
	defer d.wg.Done()
	defer func() {
		for {
			select {
			case n := <-d.nets:
				n.Close()
			default:
				return
			}
		}
	}()
	for {
		select {
		case <-d.quit:
			return
		case <-d.netNeed:
		}
		for len(d.nets) < cap(d.nets) {
			n, err := newNetns()
			if err != nil {
				d.log.Warn("linux sandbox: could not create a network namespace", "err", err)
				break
			}
			select {
			case d.nets <- n:
			case <-d.quit:
				n.Close()
				return
			}
		}
	}
}

// netnsFD returns the descriptor of spec's network namespace, or -1 for
// the host's.
func netnsFD(nw sandbox.Network) (int, error) {
	if nw == nil {
		return -1, nil
	}
	n, ok := nw.(*netns)
	if !ok {
		return -1, fmt.Errorf("linux sandbox: network %T was not made by this driver", nw)
	}
	return n.fd, nil
}
