package store

import (
	"testing"
	"time"
	_ "unsafe" // go:linkname, below
)

//go:linkname serverRandElectionTimeout github.com/nats-io/nats-server/v2/server.randElectionTimeout
func serverRandElectionTimeout() time.Duration

// TestElectionTimeouts: once quickened, the server draws its election
// timeouts from electionMin to electionMax (this fails if the link names
// of the server's settings stop matching them).
func TestElectionTimeouts(t *testing.T) {
	quickenElections()
	for range 200 {
		if d := serverRandElectionTimeout(); d < electionMin || d >= electionMax {
			t.Fatalf("the server drew an election timeout of %v, want %v to %v", d, electionMin, electionMax)
		}
	}
}
