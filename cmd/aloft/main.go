// Command aloft runs the Aloft server and manages and invokes its functions.
package main

import (
	"github.com/aloft-dev/aloft/internal/cli"
	"github.com/aloft-dev/aloft/internal/sandbox/linux"
)

func main() {
	// A sandboxed instance starts as this binary re-executed: Init runs it
	// and never returns in that case. In every other process it returns.
	linux.Init()
	cli.Execute()
}
