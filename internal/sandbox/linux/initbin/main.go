//go:build linux

// Command initbin is the linux sandbox driver's instance init, built on
// its own so that starting one costs a small program's start-up rather
// than the whole server's. The driver embeds it (init.gz, made by
// `go test ./internal/sandbox/linux -run TestEmbeddedInit -args -update`) and
// executes it from memory; it is never run by hand.
package main

import (
	"fmt"
	"os"

	"github.com/aloft-dev/aloft/internal/sandbox/linux"
)

func main() {
	linux.Init()
	fmt.Fprintln(os.Stderr, "aloft sandbox init: started by the linux sandbox driver only")
	os.Exit(2)
}
