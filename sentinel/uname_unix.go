//go:build unix

package sentinel

import (
	"runtime"

	"golang.org/x/sys/unix"
)

// osDescription is INFO's os field as redis-server fills it from uname:
// system, release and machine.
func osDescription() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return runtime.GOOS
	}
	return unix.ByteSliceToString(u.Sysname[:]) + " " + unix.ByteSliceToString(u.Release[:]) + " " + unix.ByteSliceToString(u.Machine[:])
}
