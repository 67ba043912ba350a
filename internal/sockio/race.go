//go:build race

package sockio

// raceEnabled: under the race detector, whose view of what a socket
// hands from writer to reader comes from the system-call wrappers, Conn
// reads and writes through the connection's own Read and Write.
const raceEnabled = true
