package sockio

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	raw = true // the raw path is what these tests are for, race detector or not
	os.Exit(m.Run())
}

// pair returns the two ends of a loopback TCP connection.
func pair(t *testing.T) (client, server *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		done <- c
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s := <-done
	if s == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { c.Close(); s.Close() })
	return c.(*net.TCPConn), s.(*net.TCPConn)
}

func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i%251)
	}
	return b
}

func TestWritesArriveInOrder(t *testing.T) {
	c, s := pair(t)
	w := New(s)
	if w.rc == nil {
		t.Fatal("a TCP connection must be written raw")
	}
	var want []byte
	for i, n := range []int{1, 100, 4096, Small, Small + 1, 1 << 20} {
		want = append(want, pattern(n, byte(i))...)
	}
	got := make(chan []byte, 1)
	go func() { // read raw too, in reads of every size
		r := New(c)
		var b []byte
		buf := make([]byte, Small)
		for k := 1; len(b) < len(want); k = (k*3 + 1) % Small {
			n, err := r.Read(buf[:min(k+1, len(want)-len(b))])
			if err != nil {
				break
			}
			b = append(b, buf[:n]...)
		}
		got <- b
	}()
	for i, n := range []int{1, 100, 4096, Small, Small + 1, 1 << 20} {
		if k, err := w.Write(pattern(n, byte(i))); err != nil || k != n {
			t.Fatalf("Write(%d bytes) = %d, %v", n, k, err)
		}
	}
	if b := <-got; !bytes.Equal(b, want) {
		t.Fatalf("read %d bytes, not the %d written in order", len(b), len(want))
	}
}

// A buffer the socket cannot take at once is finished once the peer
// reads: the write waits for room instead of failing or spinning.
func TestWaitsForRoom(t *testing.T) {
	c, s := pair(t)
	s.SetWriteBuffer(64 << 10)
	c.SetReadBuffer(64 << 10)
	w := New(s)
	msg := pattern(Small, 7)
	const count = 32 // 2 MiB, more than both buffers hold
	wrote := make(chan error, 1)
	go func() {
		for range count {
			if _, err := w.Write(msg); err != nil {
				wrote <- err
				return
			}
		}
		wrote <- nil
	}()
	select {
	case err := <-wrote:
		t.Fatalf("%d writes of 64 KiB finished before the peer read anything (err %v)", count, err)
	case <-time.After(100 * time.Millisecond):
	}
	buf := make([]byte, len(msg))
	for i := range count {
		if _, err := io.ReadFull(c, buf); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if !bytes.Equal(buf, msg) {
			t.Fatalf("message %d arrived changed", i)
		}
	}
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
}

func TestWriteDeadline(t *testing.T) {
	_, s := pair(t)
	s.SetWriteBuffer(4096)
	w := New(s)
	s.SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
	msg := pattern(Small, 1)
	start := time.Now()
	var err error
	for err == nil && time.Since(start) < 5*time.Second {
		_, err = w.Write(msg) // the peer never reads
	}
	var ne net.Error
	if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("err = %v, want a timeout", err)
	}
}

func TestPeerGone(t *testing.T) {
	c, s := pair(t)
	c.SetLinger(0)
	c.Close() // a reset
	w := New(s)
	var err error
	for i := 0; i < 100 && err == nil; i++ {
		_, err = w.Write([]byte("hello"))
		time.Sleep(time.Millisecond)
	}
	if err == nil {
		t.Fatal("writes to a reset connection kept succeeding")
	}
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Op != "write" {
		t.Fatalf("err = %#v, want a *net.OpError of a write", err)
	}
}

// Concurrent writers' buffers are never interleaved.
func TestConcurrentWriters(t *testing.T) {
	c, s := pair(t)
	w := New(s)
	const n, size = 200, 3000
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			msg := bytes.Repeat([]byte{'a' + byte(g)}, size)
			for range n {
				if _, err := w.Write(msg); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	buf := make([]byte, size)
	for i := range 4 * n {
		if _, err := io.ReadFull(c, buf); err != nil {
			t.Fatal(err)
		}
		if bytes.Count(buf, buf[:1]) != size {
			t.Fatalf("message %d interleaves writers", i)
		}
	}
	wg.Wait()
}

// A connection without a socket is written through its own Write.
func TestNoSocket(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	w := New(a)
	if w.rc != nil {
		t.Fatal("net.Pipe has no socket")
	}
	go w.Write([]byte("through the pipe"))
	buf := make([]byte, 16)
	if _, err := io.ReadFull(b, buf); err != nil || string(buf) != "through the pipe" {
		t.Fatalf("read %q, %v", buf, err)
	}
}

// A read waits for data, keeps its deadline, and ends with io.EOF itself
// once the peer has closed, as net.Conn's does.
func TestRead(t *testing.T) {
	c, s := pair(t)
	r := New(s)
	if r.rc == nil {
		t.Fatal("a TCP connection must be read raw")
	}
	s.SetReadDeadline(time.Now().Add(30 * time.Millisecond))
	buf := make([]byte, 64)
	n, err := r.Read(buf)
	var ne net.Error
	if n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("read with nothing sent = %d, %v; want a timeout", n, err)
	}
	s.SetReadDeadline(time.Time{})
	go func() {
		time.Sleep(50 * time.Millisecond)
		c.Write([]byte("late"))
		c.Close()
	}()
	if n, err = r.Read(buf); err != nil || string(buf[:n]) != "late" {
		t.Fatalf("read = %q, %v; want what came later", buf[:n], err)
	}
	if n, err = r.Read(buf); n != 0 || err != io.EOF {
		t.Fatalf("read after the close = %d, %v; want io.EOF itself", n, err)
	}
	// A buffer past Small goes through the connection's own Read.
	if n, err = r.Read(make([]byte, Small+1)); n != 0 || err != io.EOF {
		t.Fatalf("large read after the close = %d, %v", n, err)
	}
}

// A read waiting for data is woken by a deadline set meanwhile and by a
// close, as the Runtime API's deliverer and the servers' shutdowns wake
// theirs.
func TestReadWoken(t *testing.T) {
	_, s := pair(t)
	r := New(s)
	buf := make([]byte, 64)
	got := make(chan error, 1)
	go func() {
		_, err := r.Read(buf)
		got <- err
	}()
	time.Sleep(20 * time.Millisecond)
	s.SetReadDeadline(time.Unix(1, 0))
	select {
	case err := <-got:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("woken by the deadline with %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a deadline set during the read did not end it")
	}
	s.SetReadDeadline(time.Time{})
	go func() {
		_, err := r.Read(buf)
		got <- err
	}()
	time.Sleep(20 * time.Millisecond)
	s.Close()
	select {
	case err := <-got:
		var oe *net.OpError
		if !errors.Is(err, net.ErrClosed) || !errors.As(err, &oe) || oe.Op != "read" {
			t.Fatalf("woken by the close with %#v", err)
		}
		if strings.Contains(err.Error(), "raw-") {
			t.Errorf("error %q names the raw call", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a close during the read did not end it")
	}
}
