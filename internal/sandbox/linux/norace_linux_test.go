//go:build !race

package linux

// raceEnabled: see race_linux_test.go.
const raceEnabled = false
