// Package sockio reads and writes small buffers on a connection's
// non-blocking socket without entering the Go scheduler's system-call
// state.
//
// A write to a socket on the same machine does the receiving side's work
// too (the loopback delivery and the waking of the reader) inside the
// writer's system call, so it often lasts tens of microseconds, and on a
// busy machine a read or write can be preempted in the kernel. Go's
// runtime counts a goroutine in a system call as blocked: its monitor
// thread, which looks every 20 µs while it finds such calls, hands the
// processor to another thread mid-call, and the caller must find one
// again after. The socket never waits in these calls (it is
// non-blocking, and an empty or full buffer is waited for in the
// runtime's poller), so that hand-off buys nothing and costs thread
// wake-ups and context switches on every busy connection. Conn reads and
// writes with raw system calls under the connection's own read and write
// locks instead, keeping its deadlines. Buffers larger than Small, whose
// copy can take long enough to matter to the scheduler, connections
// without a socket, and every call in a build with the race detector go
// through the connection's own Read and Write.
package sockio

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Small is the largest buffer read or written with a raw system call.
const Small = 64 << 10

// raw says whether New's connections read and write raw. Under the race
// detector they do not: the detector learns from the system-call
// wrappers that a write comes before the read of it on the other end,
// and without that it would report the data handed over that way as
// raced. The package's own tests go raw under it too.
var raw = !raceEnabled

// Conn reads and writes one connection. Its zero value is not usable;
// use New.
type Conn struct {
	nc net.Conn
	rc syscall.RawConn // nil: no socket to use raw

	w op // one write at a time
	r op // one read at a time
}

// op is one direction's call in progress.
type op struct {
	mu    sync.Mutex // guards the rest while a call uses them
	p     []byte
	n     int
	errno syscall.Errno
	eof   bool
	trap  uintptr               // SYS_READ or SYS_WRITE
	f     func(fd uintptr) bool // call, made once, not per call
}

// New returns a Conn on nc.
func New(nc net.Conn) *Conn {
	c := &Conn{nc: nc}
	if sc, ok := nc.(syscall.Conn); ok && raw {
		if rc, err := sc.SyscallConn(); err == nil {
			c.rc = rc
			c.w.trap, c.w.f = unix.SYS_WRITE, c.w.call
			c.r.trap, c.r.f = unix.SYS_READ, c.r.call
		}
	}
	return c
}

// Write writes all of p, as net.Conn's Write does: it waits for room in
// the socket's buffer and keeps the connection's write deadline.
func (c *Conn) Write(p []byte) (int, error) {
	if c.rc == nil || len(p) > Small || len(p) == 0 {
		return c.nc.Write(p)
	}
	c.w.mu.Lock()
	c.w.p, c.w.n, c.w.errno = p, 0, 0
	err := c.rc.Write(c.w.f)
	n, errno := c.w.n, c.w.errno
	c.w.p = nil
	c.w.mu.Unlock()
	return n, c.opError("write", err, errno)
}

// Read reads what the socket holds into p, as net.Conn's Read does: it
// waits for data, keeps the connection's read deadline, and returns
// io.EOF once the peer has closed its side.
func (c *Conn) Read(p []byte) (int, error) {
	if c.rc == nil || len(p) > Small || len(p) == 0 {
		return c.nc.Read(p)
	}
	c.r.mu.Lock()
	c.r.p, c.r.n, c.r.errno, c.r.eof = p, 0, 0, false
	err := c.rc.Read(c.r.f)
	n, errno, eof := c.r.n, c.r.errno, c.r.eof
	c.r.p = nil
	c.r.mu.Unlock()
	if eof && err == nil {
		return 0, io.EOF
	}
	return n, c.opError("read", err, errno)
}

// opError is the error of a call that failed with err (the poller's:
// a deadline, a closed connection) or errno, shaped as net.Conn's are;
// nil for neither.
func (c *Conn) opError(name string, err error, errno syscall.Errno) error {
	var oe *net.OpError
	switch {
	case errors.As(err, &oe): // the raw call's own, named raw-read or raw-write
		err = oe.Err
	case err == nil && errno != 0:
		err = os.NewSyscallError(name, errno)
	case err == nil:
		return nil
	}
	return &net.OpError{Op: name, Net: c.nc.LocalAddr().Network(), Source: c.nc.LocalAddr(), Addr: c.nc.RemoteAddr(), Err: err}
}

// call makes o's system call on fd: a read once, a write until all of
// o.p is written. It returns false to wait in the poller for data or
// room.
func (o *op) call(fd uintptr) bool {
	for {
		rest := o.p[o.n:]
		r, _, errno := unix.RawSyscall(o.trap, fd, uintptr(unsafe.Pointer(&rest[0])), uintptr(len(rest)))
		switch {
		case errno == unix.EINTR:
		case errno == unix.EAGAIN:
			return false
		case errno != 0:
			o.errno = errno
			return true
		case r == 0 && o.trap == unix.SYS_READ: // the peer closed its side
			o.eof = true
			return true
		case r == 0: // not for a non-empty write; never loop on it
			o.errno = unix.EIO
			return true
		default:
			o.n += int(r)
			if o.trap == unix.SYS_READ || o.n == len(o.p) {
				return true
			}
		}
	}
}
