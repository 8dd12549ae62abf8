//go:build unix

package config

import (
	"io/fs"
	"syscall"
)

// executable reports whether this process may execute the file, as
// access(2) with X_OK answers: Sentinel's check.
func executable(path string, _ fs.FileInfo) bool {
	const xOK = 1 // X_OK
	return syscall.Access(path, xOK) == nil
}
