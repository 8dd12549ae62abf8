//go:build !unix

package scripts

import (
	"os"
	"os/exec"
)

// setOwnGroup does nothing where process groups are not available.
func setOwnGroup(*exec.Cmd) {}

// killGroup kills p only: there is no process group to reach.
func killGroup(p *os.Process) error { return p.Kill() }

// exitStatus returns the exit code; signals are not reported.
func exitStatus(ps *os.ProcessState) (code, signal int) {
	return max(ps.ExitCode(), 0), 0
}
