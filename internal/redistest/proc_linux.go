//go:build linux

package redistest

import (
	"bytes"
	"fmt"
	"os"
	"syscall"
)

// sysProcAttr asks the kernel to SIGKILL the child when the thread that
// started it exits, so that redis-server dies with a test binary that is
// killed or panics. The starting goroutine stays locked to its thread for the
// child's whole life (see launch) because the signal is tied to the thread,
// not to the process.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// processState returns the one-letter state of pid from /proc ('R', 'S',
// 'T' for stopped, 'Z' for zombie...), or 0 when it cannot be read.
func processState(pid int) byte {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The format is "pid (comm) state ...", and comm may contain spaces and
	// parentheses, so look after the last ')'.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 || i+2 >= len(stat) {
		return 0
	}
	return stat[i+2]
}
