//go:build race

package linux

// raceEnabled: the race detector slows every sandbox start (each init is
// the instrumented test binary), so the longest tests do less.
const raceEnabled = true
