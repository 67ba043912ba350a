// Package sockwrite writes small buffers to a connection's non-blocking
// socket without entering the Go scheduler's system-call state.
//
// A write to a socket on the same machine does the receiving side's work
// too (the loopback delivery and the waking of the reader) inside the
// writer's system call, so it often lasts tens of microseconds. Go's
// runtime counts a goroutine in a system call as blocked: its monitor
// thread, which looks every 20 µs while it finds such calls, hands the
// processor to another thread mid-write, and the writer must find one
// again after. The socket never blocks (it is non-blocking, and a full
// buffer is waited for in the runtime's poller), so that hand-off buys
// nothing and costs thread wake-ups and context switches on every busy
// connection. Conn writes with a raw system call under the connection's
// own write lock instead; buffers larger than Small, whose copy can take
// long enough to matter to the scheduler, and connections without a
// socket go through the connection's Write as before, as does every
// write in a build with the race detector.
package sockwrite

import (
	"net"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Small is the largest buffer written with a raw system call.
const Small = 64 << 10

// rawWrites says whether New's connections write raw. Under the race
// detector they do not: the detector learns from the system-call
// wrappers that a write comes before the read of it on the other end,
// and without that it would report the data handed over that way as
// raced. The package's own tests write raw under it too.
var rawWrites = !raceEnabled

// Conn writes to one connection. Its zero value is not usable; use New.
type Conn struct {
	nc net.Conn
	rc syscall.RawConn // nil: no socket to write raw

	mu    sync.Mutex // one write at a time uses p, n, errno and write
	p     []byte
	n     int
	errno syscall.Errno
	write func(fd uintptr) bool // made once, not per write
}

// New returns a Conn that writes to nc.
func New(nc net.Conn) *Conn {
	c := &Conn{nc: nc}
	if sc, ok := nc.(syscall.Conn); ok && rawWrites {
		if rc, err := sc.SyscallConn(); err == nil {
			c.rc = rc
			c.write = c.writeRaw
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
	c.mu.Lock()
	c.p, c.n, c.errno = p, 0, 0
	err := c.rc.Write(c.write)
	n, errno := c.n, c.errno
	c.p = nil
	c.mu.Unlock()
	if err == nil && errno != 0 {
		err = errno
	}
	if err != nil {
		return n, &net.OpError{Op: "write", Net: c.nc.LocalAddr().Network(), Source: c.nc.LocalAddr(), Addr: c.nc.RemoteAddr(), Err: err}
	}
	return n, nil
}

// writeRaw writes what is left of c.p to fd; false waits for room.
func (c *Conn) writeRaw(fd uintptr) bool {
	for c.n < len(c.p) {
		rest := c.p[c.n:]
		r, _, errno := unix.RawSyscall(unix.SYS_WRITE, fd, uintptr(unsafe.Pointer(&rest[0])), uintptr(len(rest)))
		switch {
		case errno == 0 && r == 0: // not for a non-empty buffer; never loop on it
			c.errno = unix.EIO
			return true
		case errno == 0:
			c.n += int(r)
		case errno == unix.EINTR:
		case errno == unix.EAGAIN:
			return false
		default:
			c.errno = errno
			return true
		}
	}
	return true
}
