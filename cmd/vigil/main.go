// Command vigil is a high-availability controller for Redis: a drop-in,
// better-behaved replacement for redis-sentinel.
//
// This package only wires the command line to the library packages; all the
// behaviour lives in config, sentinel and failover.
package main

import (
	"os"
)

func main() { os.Exit(run(os.Args[1:], os.Environ())) }
