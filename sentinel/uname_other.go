//go:build !unix

package sentinel

import "runtime"

// osDescription is INFO's os field: the Go name of the system where uname
// is not available.
func osDescription() string { return runtime.GOOS }
