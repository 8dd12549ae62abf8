//go:build !linux

package testbed

import (
	"errors"
	"syscall"
)

// sysProcAttr returns no special attributes: outside Linux there is no
// parent-death signal.
func sysProcAttr() *syscall.SysProcAttr { return nil }

// processState is unknown outside Linux.
func processState(int) byte { return 0 }

// ProcStats is a process's resource use read from /proc (Linux only).
type ProcStats struct {
	RSSKiB, HWMKiB   int64
	AnonKiB, FileKiB int64
	CPUTicks         int64
}

// ClockTicksPerSecond is USER_HZ on Linux.
const ClockTicksPerSecond = 100

// ReadProcStats is only implemented on Linux.
func ReadProcStats(int) (ProcStats, error) {
	return ProcStats{}, errors.New("testbed: process statistics need Linux /proc")
}
