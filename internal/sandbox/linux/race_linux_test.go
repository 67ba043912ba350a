//go:build race

package linux

// raceEnabled: the race detector slows the driver's side of every
// sandbox start (and the init too, where a test re-executes the
// instrumented test binary as its init), so the longest tests do less.
const raceEnabled = true
