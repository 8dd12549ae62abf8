//go:build unix

package scripts

import (
	"errors"
	"os"
	"os/exec"
	"syscall"
)

// setOwnGroup makes the child the leader of a new process group, so that
// killGroup reaches the processes it starts.
func setOwnGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// killGroup sends SIGKILL to p's process group.
func killGroup(p *os.Process) error {
	err := syscall.Kill(-p.Pid, syscall.SIGKILL)
	if errors.Is(err, syscall.ESRCH) {
		return os.ErrProcessDone
	}
	return err
}

// exitStatus returns the exit code and, when a signal ended the process,
// the signal number (the exit code is then 0).
func exitStatus(ps *os.ProcessState) (code, signal int) {
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 0, int(ws.Signal())
	}
	return ps.ExitCode(), 0
}
