package testbed

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
)

const (
	// StopTimeout bounds how long [Proc.Stop] waits after SIGTERM before it
	// falls back to SIGKILL.
	StopTimeout = 5 * time.Second
	// signalTimeout bounds how long Pause and Resume wait for the kernel to
	// report the process stopped or running again.
	signalTimeout = 2 * time.Second
)

// ErrExited reports that a process has already exited.
var ErrExited = errors.New("process has exited")

// Proc is one child process started by an [Env]. Its output (stdout and
// stderr) goes to OutputPath. Methods are safe for concurrent use.
type Proc struct {
	// Name identifies the process in errors and logs ("redis-6380", "vigil-2").
	Name string
	// OutputPath is the file that receives the process's stdout and stderr.
	OutputPath string

	cmd  *exec.Cmd
	done chan struct{} // closed once cmd.Wait has returned

	mu      sync.Mutex
	waitErr error
}

// startProc runs bin with args in dir, output appended to outputPath. The
// goroutine that forks the child stays locked to its OS thread until the
// child has exited, because PR_SET_PDEATHSIG is tied to that thread.
func startProc(name, dir, outputPath, bin string, args []string) (*Proc, error) {
	out, err := os.OpenFile(outputPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("testbed: %s: open output: %w", name, err)
	}
	defer func() { _ = out.Close() }() // the child has its own copy
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.SysProcAttr = sysProcAttr()
	p := &Proc{Name: name, OutputPath: outputPath, cmd: cmd, done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		defer close(p.done)
		err := cmd.Start()
		started <- err
		if err != nil {
			return
		}
		err = cmd.Wait()
		p.mu.Lock()
		p.waitErr = err
		p.mu.Unlock()
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("testbed: %s: exec %s: %w", name, bin, err)
	}
	return p, nil
}

// PID returns the process id.
func (p *Proc) PID() int { return p.cmd.Process.Pid }

// Exited reports whether the process has exited (and been reaped).
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// ExitStatus describes how the process ended, or "running".
func (p *Proc) ExitStatus() string {
	if !p.Exited() {
		return "running"
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.waitErr == nil {
		return "exit status 0"
	}
	return p.waitErr.Error()
}

// signal sends sig unless the process has exited.
func (p *Proc) signal(sig syscall.Signal) error {
	if p.Exited() {
		return fmt.Errorf("testbed: %s: %w", p.Name, ErrExited)
	}
	if err := p.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("testbed: %s: signal %v: %w", p.Name, sig, err)
	}
	return nil
}

// Kill sends SIGKILL and waits until the process has been reaped. Killing an
// exited process is not an error.
func (p *Proc) Kill() {
	_ = p.signal(syscall.SIGKILL)
	<-p.done
}

// Stop sends SIGTERM (and SIGCONT, in case the process is paused) and waits
// up to timeout for it to exit, then kills it.
func (p *Proc) Stop(timeout time.Duration) {
	if p.signal(syscall.SIGTERM) != nil {
		<-p.done
		return
	}
	_ = p.signal(syscall.SIGCONT)
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-p.done:
	case <-timer.C:
		p.Kill()
	}
}

// Pause sends SIGSTOP and returns once the kernel reports the process
// stopped (on Linux), freezing it as a hung host or a long pause would.
func (p *Proc) Pause() error {
	if err := p.signal(syscall.SIGSTOP); err != nil {
		return err
	}
	return p.waitState(func(s byte) bool { return s == 'T' }, "stopped")
}

// Resume sends SIGCONT and returns once the kernel reports the process
// running again (on Linux).
func (p *Proc) Resume() error {
	if err := p.signal(syscall.SIGCONT); err != nil {
		return err
	}
	return p.waitState(func(s byte) bool { return s != 'T' }, "running")
}

func (p *Proc) waitState(ok func(byte) bool, what string) error {
	deadline := time.Now().Add(signalTimeout)
	for {
		s := processState(p.PID())
		if s == 0 || p.Exited() || ok(s) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("testbed: %s: not %s after %v (state %c)", p.Name, what, signalTimeout, s)
		}
		time.Sleep(time.Millisecond)
	}
}

// Output returns what the process wrote to stdout and stderr so far.
func (p *Proc) Output() (string, error) {
	b, err := os.ReadFile(p.OutputPath)
	if err != nil {
		return "", fmt.Errorf("testbed: %s: %w", p.Name, err)
	}
	return string(b), nil
}

// tail returns the last n lines of the files at paths, for error messages.
func tail(n int, paths ...string) string {
	var b strings.Builder
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil || len(data) == 0 {
			continue
		}
		lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
		if len(lines) > n {
			lines = lines[len(lines)-n:]
		}
		fmt.Fprintf(&b, "--- last %d lines of %s ---\n%s\n", len(lines), path, strings.Join(lines, "\n"))
	}
	return b.String()
}
