package store

import (
	"sync"
	"time"
	_ "unsafe" // go:linkname, below
)

// Leader elections on a cluster. The embedded server elects a new leader
// for a group (a stream's, a consumer's, the meta group's) once a
// follower has heard nothing from the group's leader for a random 4 to 9
// seconds, which it offers no option to change. A leader sends a
// heartbeat every second, and Aloft's nodes share one network, where a
// heartbeat is not seconds late unless its leader is dead: so a clustered
// store narrows the range to electionMin to electionMax. A write that
// needs a group whose leader's node was killed then waits at most about
// electionMax plus a heartbeat for the new leader, rather than up to
// 9 + 1 s and, measured here, 11–12.5 s in 2 of 7 kills (docs/
// PERFORMANCE.md, "Losing a node"); a follower still needs three
// heartbeats missed in a row before it calls an election.
//
// The settings are the server package's variables, reached by their link
// names. A link name that no longer matches would leave the defaults
// silently, so TestElectionTimeouts checks the server's own draw of a
// timeout (randElectionTimeout, whose link name fails the build if it
// goes) against the range set here.
const (
	electionMin = 3 * time.Second
	electionMax = 6 * time.Second
)

//go:linkname serverMinElectionTimeout github.com/nats-io/nats-server/v2/server.minElectionTimeout
var serverMinElectionTimeout time.Duration

//go:linkname serverMaxElectionTimeout github.com/nats-io/nats-server/v2/server.maxElectionTimeout
var serverMaxElectionTimeout time.Duration

var electionsOnce sync.Once

// quickenElections sets the server's election timeouts to electionMin and
// electionMax, once, before any clustered server of this process starts.
func quickenElections() {
	electionsOnce.Do(func() {
		serverMinElectionTimeout, serverMaxElectionTimeout = electionMin, electionMax
	})
}
