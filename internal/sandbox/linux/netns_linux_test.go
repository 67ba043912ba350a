package linux

import (
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aloft-dev/aloft/internal/sandbox"
)

// greet answers every connection to ln with line.
func greet(t *testing.T, ln net.Listener, line string) {
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte(line + "\n"))
			c.Close()
		}
	}()
}

// closer records that it was closed.
type closer struct{ closed atomic.Bool }

func (c *closer) Close() error { c.closed.Store(true); return nil }

// TestPrivateNetwork starts instances that each listen on the same
// address in their own namespace: each reaches its own listener and
// nothing of the host, and egress is asked for every namespace and cut
// for offline instances only.
func TestPrivateNetwork(t *testing.T) {
	needRoot(t)
	var mu sync.Mutex
	var links []*closer
	d := newDriver(t, Options{Listen: []string{"127.0.0.1:9001"}, Egress: func(nsfd int) (io.Closer, error) {
		if nsfd < 0 {
			return nil, errors.New("no namespace")
		}
		mu.Lock()
		defer mu.Unlock()
		c := &closer{}
		links = append(links, c)
		return c, nil
	}})
	host, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	greet(t, host, "host")
	hostAddr := host.Addr().String()

	closed := func() int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, c := range links {
			if c.closed.Load() {
				n++
			}
		}
		return n
	}
	for _, name := range []string{"first", "second", "offline"} {
		var nw sandbox.Network
		_, out := probe(t, d, "dial:127.0.0.1:9001,"+hostAddr, func(s *sandbox.Spec) {
			s.Offline = name == "offline"
			s.Listen = func(n sandbox.Network) error {
				ln, err := n.Listen("127.0.0.1:9001")
				if err != nil {
					return err
				}
				greet(t, ln, name)
				nw = n
				return nil
			}
		}).finish(t)
		if nw == nil {
			t.Fatalf("%s: Listen was not called", name)
		}
		if !strings.Contains(out, "interfaces: lo\n") {
			t.Errorf("%s: want only lo:\n%s", name, out)
		}
		if !strings.Contains(out, "127.0.0.1:9001: "+name+"\n") {
			t.Errorf("%s: the listener made for the namespace is not reachable inside it:\n%s", name, out)
		}
		if !strings.Contains(out, hostAddr+": dial tcp "+hostAddr+": connect: connection refused") {
			t.Errorf("%s: the host's listener is reachable from a private namespace:\n%s", name, out)
		}
		want := 0
		if name == "offline" {
			want = 1
		}
		if got := closed(); got != want {
			t.Errorf("after %s: %d links cut, want %d", name, got, want)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(links) < 3 {
		t.Fatalf("egress was asked for %d namespaces, want at least 3", len(links))
	}
}
