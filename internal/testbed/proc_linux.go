//go:build linux

package testbed

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// sysProcAttr asks the kernel to SIGKILL the child when the thread that
// started it exits (see startProc).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// processState returns the one-letter state of pid from /proc/PID/stat ('R',
// 'S', 'T' for stopped, 'Z'...), or 0 when it cannot be read.
func processState(pid int) byte {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// "pid (comm) state ...": comm may hold spaces and parentheses.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 || i+2 >= len(stat) {
		return 0
	}
	return stat[i+2]
}

// ProcStats is a process's resource use read from /proc.
type ProcStats struct {
	// RSSKiB is VmRSS from /proc/PID/status, in KiB.
	RSSKiB int64
	// HWMKiB is VmHWM (peak RSS) from /proc/PID/status, in KiB.
	HWMKiB int64
	// AnonKiB and FileKiB split VmRSS (RssAnon, RssFile): memory the
	// process owns (heap, stacks), and pages of files it maps (its
	// executable and shared libraries), which the kernel can drop and
	// read again, and which processes mapping the same file share.
	AnonKiB, FileKiB int64
	// CPUTicks is utime+stime from /proc/PID/stat, in clock ticks
	// ([ClockTicksPerSecond] per second).
	CPUTicks int64
}

// ClockTicksPerSecond is USER_HZ, the unit of /proc/PID/stat's utime and
// stime. It is 100 on every mainstream Linux architecture; reading it
// properly needs sysconf(_SC_CLK_TCK), i.e. cgo.
const ClockTicksPerSecond = 100

// ReadProcStats reads pid's memory and CPU use from /proc.
func ReadProcStats(pid int) (ProcStats, error) {
	var st ProcStats
	status, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return st, err
	}
	for line := range strings.Lines(string(status)) {
		key, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		fields := strings.Fields(value)
		if len(fields) == 0 {
			continue
		}
		n, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			continue
		}
		switch key {
		case "VmRSS":
			st.RSSKiB = n
		case "VmHWM":
			st.HWMKiB = n
		case "RssAnon":
			st.AnonKiB = n
		case "RssFile":
			st.FileKiB = n
		}
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return st, err
	}
	st.CPUTicks, err = parseCPUTicks(string(stat))
	return st, err
}
