package e2e

import (
	"bufio"
	"net"
	"net/http"
	"os"
	"testing"

	"github.com/aloft-dev/aloft/internal/sandbox/egress/egresstest"
)

// internetHost makes a stand-in for a host on the internet
// (egresstest.Internet) with a TCP service that answers "internet" to
// every connection, and returns the service's address.
func internetHost(t *testing.T) string {
	t.Helper()
	ln := egresstest.Internet(t)
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
		ln = egresstest.Internet(t)
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
