//go:build !linux

package redistest

import "syscall"

// sysProcAttr returns no special attributes: outside Linux there is no
// parent-death signal, and a test binary killed abruptly may leave
// redis-server processes running.
func sysProcAttr() *syscall.SysProcAttr { return nil }

// processState is unknown outside Linux; Pause and Resume then return without
// confirming that the signal has taken effect.
func processState(int) byte { return 0 }
