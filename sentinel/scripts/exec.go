package scripts

import (
	"context"
	"errors"
	"os/exec"
	"strconv"
	"sync/atomic"
	"time"
)

// outputWait bounds how long a run waits, after the script exits, for
// processes it left in the background to close its stdout and stderr.
// After that the pipes are closed and the run counts as finished.
const outputWait = time.Second

// outcome is how one run of a script ended.
type outcome struct {
	startErr error // the script could not be started
	code     int   // exit code; 0 when killed by a signal
	signal   int   // the signal that killed it, 0 if none
}

// execute runs j once and waits for it. The child gets the environment of
// this process, stdin from /dev/null, stdout and stderr into the log, no
// other file descriptors (os/exec opens everything close-on-exec), and a
// process group of its own, so that a kill reaches whatever it started. It
// is killed when ctx is cancelled or after MaxRuntime; the latter is
// reported as EventScriptTimeout.
func (r *Runner) execute(ctx context.Context, j *job) outcome {
	path := j.argv[0]
	runCtx, cancel := context.WithTimeout(ctx, r.opts.MaxRuntime)
	defer cancel()

	cmd := exec.CommandContext(runCtx, path, j.argv[1:]...)
	stdout := newOutputLog(r.log, path, "stdout")
	stderr := newOutputLog(r.log, path, "stderr")
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.WaitDelay = outputWait
	setOwnGroup(cmd)
	var timedOut atomic.Bool
	cmd.Cancel = func() error {
		pid := cmd.Process.Pid
		if ctx.Err() == nil { // the run's own deadline, not shutdown
			timedOut.Store(true)
			r.log.Warn("script ran too long, killing it", "script", path, "pid", pid, "max-runtime", r.opts.MaxRuntime)
			r.emit(EventScriptTimeout, path+" "+strconv.Itoa(pid))
		}
		return killGroup(cmd.Process)
	}

	if err := cmd.Start(); err != nil {
		return outcome{startErr: err}
	}
	pid := cmd.Process.Pid
	r.setPID(j, pid)
	r.log.Debug("script started", "script", path, "pid", pid, "retry-num", j.started)

	err := cmd.Wait()
	stdout.Close()
	stderr.Close()
	if cmd.ProcessState == nil {
		// Wait failed before reaping the child; nothing is known about
		// how it ended. Treat it as a failure that is not retried.
		r.log.Warn("script wait failed", "script", path, "pid", pid, "err", err)
		return outcome{code: 255}
	}
	if errors.Is(err, exec.ErrWaitDelay) {
		r.log.Warn("script left processes holding its output open; closed it", "script", path, "pid", pid)
	}
	code, sig := exitStatus(cmd.ProcessState)
	r.log.Debug("script exited", "script", path, "pid", pid, "exit-code", code, "signal", sig, "timed-out", timedOut.Load())
	return outcome{code: code, signal: sig}
}
