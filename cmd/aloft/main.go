// Command aloft runs the Aloft server and manages and invokes its functions.
package main

import "github.com/aloft-dev/aloft/internal/cli"

func main() { cli.Execute() }
