package linux

import (
	"net"
	"strings"
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

func TestNetworkNone(t *testing.T) {
	needRoot(t)
	d := newDriver(t, Options{})
	host, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	greet(t, host, "host")
	hostAddr := host.Addr().String()

	// The host's network by default.
	_, out := probe(t, d, "dial:"+hostAddr, nil).finish(t)
	if !strings.Contains(out, hostAddr+": host") {
		t.Fatalf("an instance on the host's network cannot reach the host:\n%s", out)
	}

	// Two private namespaces, each with a listener on the same address:
	// each instance reaches its own and nothing of the host.
	for _, name := range []string{"first", "second"} {
		nw, err := d.Network()
		if err != nil {
			t.Fatal(err)
		}
		ln, err := nw.Listen("127.0.0.1:9001")
		if err != nil {
			nw.Close()
			t.Fatal(err)
		}
		greet(t, ln, name)
		_, out := probe(t, d, "dial:127.0.0.1:9001,"+hostAddr, func(s *sandbox.Spec) { s.Network = nw }).finish(t)
		if !strings.Contains(out, "interfaces: lo\n") {
			t.Errorf("%s: want only lo:\n%s", name, out)
		}
		if !strings.Contains(out, "127.0.0.1:9001: "+name+"\n") {
			t.Errorf("%s: the listener made for the namespace is not reachable inside it:\n%s", name, out)
		}
		if !strings.Contains(out, hostAddr+": dial tcp "+hostAddr+": connect: connection refused") {
			t.Errorf("%s: the host's listener is reachable from a private namespace:\n%s", name, out)
		}
	}

	// The threads that made the namespaces went back to the host's: a
	// listener made now is on the host.
	again, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	greet(t, again, "again")
	_, out = probe(t, d, "dial:"+again.Addr().String(), nil).finish(t)
	if !strings.Contains(out, ": again") {
		t.Fatalf("a listener made after the namespaces is not on the host:\n%s", out)
	}
}
