//go:build !race

package sockwrite

const raceEnabled = false
