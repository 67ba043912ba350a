package alofttest

import (
	"net"
	"strconv"
	"testing"
)

// TestFreeAddr checks that FreeAddr's address can be listened on and, where
// the kernel's ephemeral range leaves room below it, lies below that range.
func TestFreeAddr(t *testing.T) {
	for range 20 {
		addr := FreeAddr(t)
		_, p, err := net.SplitHostPort(addr)
		if err != nil {
			t.Fatal(err)
		}
		port, _ := strconv.Atoi(p)
		if low := ephemeralLow(); low-lowestPort > 1000 && (port < lowestPort || port >= low) {
			t.Errorf("FreeAddr gave %s, want a port in [%d, %d)", addr, lowestPort, low)
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatalf("listen on FreeAddr's %s: %v", addr, err)
		}
		ln.Close()
	}
}
