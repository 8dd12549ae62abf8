package testbed

import (
	"fmt"
	"strconv"
	"strings"
)

// parseCPUTicks returns utime+stime (fields 14 and 15) of a /proc/PID/stat
// line. The second field, comm, is in parentheses and may contain spaces and
// parentheses itself, so fields are counted after the last ')'.
func parseCPUTicks(stat string) (int64, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("testbed: malformed /proc stat line %q", stat)
	}
	// After ")": state(3) ppid(4) ... utime(14) stime(15).
	fields := strings.Fields(stat[i+1:])
	const utime, stime = 14 - 3, 15 - 3
	if len(fields) <= stime {
		return 0, fmt.Errorf("testbed: /proc stat line has %d fields after comm", len(fields))
	}
	u, err := strconv.ParseInt(fields[utime], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("testbed: utime %q: %w", fields[utime], err)
	}
	s, err := strconv.ParseInt(fields[stime], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("testbed: stime %q: %w", fields[stime], err)
	}
	return u + s, nil
}
