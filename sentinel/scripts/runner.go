package scripts

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Defaults, redis-sentinel's constants (SENTINEL_SCRIPT_MAX_QUEUE,
// SENTINEL_SCRIPT_MAX_RUNNING, sentinel_script_max_runtime,
// sentinel_script_retry_delay, SENTINEL_SCRIPT_MAX_RETRY).
const (
	DefaultMaxQueue   = 256
	DefaultMaxRunning = 16
	DefaultMaxRuntime = 60 * time.Second
	DefaultRetryDelay = 30 * time.Second
	DefaultMaxRetries = 10
)

// Event types the runner reports through Options.OnEvent, named like
// Sentinel's events.
const (
	// EventScriptError reports a script that failed for good; its payload
	// is "<path> <signal> <exit-code>".
	EventScriptError = "-script-error"
	// EventScriptTimeout reports a script killed for running longer than
	// MaxRuntime; its payload is "<path> <pid>".
	EventScriptTimeout = "-script-timeout"
)

// StartFailedSignal is the signal field of a -script-error event for a script
// that could not be started at all (missing, not executable): Sentinel's 99
// for a failed fork. The exit-code field is then 0.
const StartFailedSignal = 99

// Options tunes a Runner. A zero or negative field takes its default.
type Options struct {
	// MaxQueue bounds the jobs held, running ones included. When a new job
	// would exceed it, the oldest job that is not running is dropped.
	MaxQueue int
	// MaxRunning bounds the scripts running at the same time.
	MaxRunning int
	// MaxRuntime is how long a script may run before it and its process
	// group are killed with SIGKILL.
	MaxRuntime time.Duration
	// RetryDelay is the wait before the first retry of a script that exited
	// with code 1; each further retry waits twice as long as the previous.
	RetryDelay time.Duration
	// MaxRetries bounds how many times a job is started, the first run
	// included, as Sentinel's SENTINEL_SCRIPT_MAX_RETRY does: with 10, a
	// script that keeps exiting with 1 runs 10 times.
	MaxRetries int
	// OnEvent, if not nil, receives EventScriptError and EventScriptTimeout
	// with their payloads. It is called from the runner's goroutines, never
	// with the runner's lock held, and should return quickly.
	OnEvent func(typ, payload string)
}

func (o Options) withDefaults() Options {
	if o.MaxQueue <= 0 {
		o.MaxQueue = DefaultMaxQueue
	}
	if o.MaxRunning <= 0 {
		o.MaxRunning = DefaultMaxRunning
	}
	if o.MaxRuntime <= 0 {
		o.MaxRuntime = DefaultMaxRuntime
	}
	if o.RetryDelay <= 0 {
		o.RetryDelay = DefaultRetryDelay
	}
	if o.MaxRetries <= 0 {
		o.MaxRetries = DefaultMaxRetries
	}
	return o
}

// retryDelay is the wait after a job's started-th run failed with code 1:
// RetryDelay, doubled for every run after the first (Sentinel's
// sentinelScriptRetryDelay).
func (o Options) retryDelay(started int) time.Duration {
	d := o.RetryDelay
	for i := 1; i < started && d <= math.MaxInt64/2; i++ {
		d *= 2
	}
	return d
}

// Job is one queued script run as SENTINEL PENDING-SCRIPTS shows it.
type Job struct {
	// Argv is the script's path followed by its arguments.
	Argv []string
	// Running is true while the script runs, false while it waits for its
	// first run or a retry.
	Running bool
	// PID is the running script's process id; 0 when not running.
	PID int
	// RunTime is how long the script has been running (when Running).
	RunTime time.Duration
	// RunDelay is how long until the next run (when not Running); 0 when
	// the job is due.
	RunDelay time.Duration
	// RetryNum is how many times the job has been started (Sentinel's
	// retry-num).
	RetryNum int
}

// Flags is Sentinel's flags field: "running" or "scheduled".
func (j Job) Flags() string {
	if j.Running {
		return "running"
	}
	return "scheduled"
}

// Runner queues and runs scripts. Enqueue, Pending and Stats may be called
// from any goroutine, before, during or after Run.
type Runner struct {
	log  *slog.Logger
	opts Options
	wake chan struct{} // buffered 1: the queue changed

	mu      sync.Mutex
	queue   []*job // oldest first
	running int
}

// job is one entry of the queue; guarded by Runner.mu.
type job struct {
	argv    []string
	running bool
	pid     int
	at      time.Time // running: when it started; scheduled: earliest next start (zero: now)
	started int       // runs started so far
}

// New returns a Runner; nothing runs until Run is called. log may be nil.
func New(log *slog.Logger, opts Options) *Runner {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Runner{
		log:  log,
		opts: opts.withDefaults(),
		wake: make(chan struct{}, 1),
	}
}

// Options returns the options in effect, defaults filled in.
func (r *Runner) Options() Options { return r.opts }

// Enqueue schedules a run of the script at path with args, as soon as a run
// slot is free. It never blocks. An empty path does nothing, so a caller may
// pass an unset script setting as it is. When the queue is full, the oldest
// job that is not running is dropped and logged, as Sentinel does.
func (r *Runner) Enqueue(path string, args ...string) {
	if path == "" {
		return
	}
	argv := make([]string, 0, 1+len(args))
	argv = append(append(argv, path), args...)

	r.mu.Lock()
	r.queue = append(r.queue, &job{argv: argv})
	var dropped *job
	if len(r.queue) > r.opts.MaxQueue {
		// The new job is not running, so there is always one to drop.
		i := slices.IndexFunc(r.queue, func(j *job) bool { return !j.running })
		dropped = r.queue[i]
		r.queue = slices.Delete(r.queue, i, i+1)
	}
	r.mu.Unlock()

	if dropped != nil {
		r.log.Warn("script queue full, dropping the oldest pending script",
			"max-queue", r.opts.MaxQueue, "argv", dropped.argv, "retry-num", dropped.started)
	}
	r.poke()
}

// Pending returns every queued job, running ones included, oldest first.
func (r *Runner) Pending() []Job {
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Job, 0, len(r.queue))
	for _, j := range r.queue {
		p := Job{
			Argv:     slices.Clone(j.argv),
			Running:  j.running,
			PID:      j.pid,
			RetryNum: j.started,
		}
		if j.running {
			p.RunTime = max(now.Sub(j.at), 0)
		} else if !j.at.IsZero() {
			p.RunDelay = max(j.at.Sub(now), 0)
		}
		out = append(out, p)
	}
	return out
}

// Stats returns how many scripts are running and how many jobs are queued,
// running ones included: INFO's sentinel_running_scripts and
// sentinel_scripts_queue_length.
func (r *Runner) Stats() (running, queued int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.running, len(r.queue)
}

// Run starts queued scripts as they fall due until ctx is cancelled. Then it
// kills every running script with its process group and returns once all
// of them have been reaped. Scripts interrupted this way are dropped
// without an event. Call Run once.
func (r *Runner) Run(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		if next, ok := r.dispatch(ctx, &wg); ok {
			timer.Reset(next)
		}
		select {
		case <-ctx.Done():
			return
		case <-r.wake:
		case <-timer.C:
		}
		timer.Stop()
	}
}

// poke wakes Run without blocking.
func (r *Runner) poke() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// dispatch starts the due jobs, oldest first, while run slots are free. It
// returns how long until the next scheduled job falls due, if there is one
// that could then start.
func (r *Runner) dispatch(ctx context.Context, wg *sync.WaitGroup) (time.Duration, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ctx.Err() != nil {
		return 0, false
	}
	now := time.Now()
	var next time.Duration
	haveNext := false
	for _, j := range r.queue {
		if j.running {
			continue
		}
		if wait := j.at.Sub(now); wait > 0 {
			if !haveNext || wait < next {
				next, haveNext = wait, true
			}
			continue
		}
		if r.running >= r.opts.MaxRunning {
			continue
		}
		j.running = true
		j.at = now
		j.started++
		r.running++
		wg.Add(1)
		go func() {
			defer wg.Done()
			out := r.execute(ctx, j)
			r.finish(ctx, j, out)
			r.poke()
		}()
	}
	if r.running >= r.opts.MaxRunning {
		return 0, false // a finishing script wakes Run
	}
	return next, haveNext
}

// finish handles a run's outcome: drop the job, or schedule its retry.
func (r *Runner) finish(ctx context.Context, j *job, out outcome) {
	path := j.argv[0]
	ok := out.startErr == nil && out.signal == 0 && out.code == 0
	shutdown := ctx.Err() != nil && !ok

	r.mu.Lock()
	r.running--
	j.running = false
	j.pid = 0
	started := j.started
	retry := !shutdown && out.startErr == nil && out.signal == 0 && out.code == 1 && started < r.opts.MaxRetries
	var delay time.Duration
	if retry {
		delay = r.opts.retryDelay(started)
		j.at = time.Now().Add(delay)
	} else if i := slices.Index(r.queue, j); i >= 0 {
		r.queue = slices.Delete(r.queue, i, i+1)
	}
	r.mu.Unlock()

	log := r.log.With("script", path, "retry-num", started)
	switch {
	case shutdown:
		log.Info("script stopped at shutdown", "exit-code", out.code, "signal", out.signal)
	case out.startErr != nil:
		log.Warn("script could not be started", "err", out.startErr)
		r.emit(EventScriptError, fmt.Sprintf("%s %d %d", path, StartFailedSignal, 0))
	case retry:
		log.Warn("script exited with code 1, will retry", "retry-in", delay)
	case ok:
		log.Debug("script done")
	default:
		log.Warn("script failed", "exit-code", out.code, "signal", out.signal)
		r.emit(EventScriptError, path+" "+strconv.Itoa(out.signal)+" "+strconv.Itoa(out.code))
	}
}

// setPID records a started job's process id.
func (r *Runner) setPID(j *job, pid int) {
	r.mu.Lock()
	j.pid = pid
	r.mu.Unlock()
}

func (r *Runner) emit(typ, payload string) {
	if r.opts.OnEvent != nil {
		r.opts.OnEvent(typ, payload)
	}
}
