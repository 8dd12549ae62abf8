package testbed

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Default binaries, looked up on PATH unless [Options] names others.
const (
	DefaultRedisServer   = "redis-server"
	DefaultRedisSentinel = "redis-sentinel"
	DefaultVigil         = "bin/vigil"
)

// pollInterval is how often readiness waits re-check their condition.
const pollInterval = 20 * time.Millisecond

// Options configures an [Env]. The zero value works when redis-server and
// redis-sentinel are on PATH and bin/vigil exists relative to the current
// directory.
type Options struct {
	// BaseDir is where the environment's temporary directory is created;
	// empty means os.TempDir().
	BaseDir string
	// Keep leaves the directory (configs, logs, data) in place after Close.
	Keep bool
	// RedisServer, RedisSentinel and Vigil are the binaries to run.
	RedisServer, RedisSentinel, Vigil string
	// Logger receives progress messages; nil discards them.
	Logger *slog.Logger
}

// Env owns a temporary directory, the loopback ports handed out in it and
// every process started through it. Close stops them all.
type Env struct {
	// Dir is the environment's temporary directory.
	Dir string
	// Ports hands out the ports of every server started in Dir.
	Ports *Ports

	opts Options
	log  *slog.Logger

	mu      sync.Mutex
	closed  bool
	procs   []*Proc
	closers []io.Closer
	seq     map[string]int
	// source is the address the environment's own clients dial from
	// (see [Env.StartPartition]); empty means the kernel's choice.
	source string
}

// Observer returns the source address observers should dial from: the
// partition's observer address once [Env.StartPartition] ran, else "".
func (e *Env) Observer() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.source
}

// New creates an environment in a fresh temporary directory.
func New(opts Options) (*Env, error) {
	if opts.RedisServer == "" {
		opts.RedisServer = DefaultRedisServer
	}
	if opts.RedisSentinel == "" {
		opts.RedisSentinel = DefaultRedisSentinel
	}
	if opts.Vigil == "" {
		opts.Vigil = DefaultVigil
	}
	// Controllers run in their own directories: a relative binary path
	// such as bin/vigil must be made absolute first.
	for _, bin := range []*string{&opts.RedisServer, &opts.RedisSentinel, &opts.Vigil} {
		if strings.ContainsRune(*bin, filepath.Separator) {
			abs, err := filepath.Abs(*bin)
			if err != nil {
				return nil, fmt.Errorf("testbed: %w", err)
			}
			*bin = abs
		}
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	dir, err := os.MkdirTemp(opts.BaseDir, "vigil-testbed-")
	if err != nil {
		return nil, fmt.Errorf("testbed: %w", err)
	}
	return &Env{Dir: dir, Ports: &Ports{}, opts: opts, log: log, seq: map[string]int{}}, nil
}

// Keep makes Close leave Dir in place, as Options.Keep does; call it when a
// run failed and its logs are worth reading.
func (e *Env) Keep() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.opts.Keep = true
}

// Close kills every process the environment started (SIGKILL, reaped),
// closes its clients and removes Dir unless Options.Keep. It may be called
// more than once.
func (e *Env) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	procs, closers, keep := e.procs, e.closers, e.opts.Keep
	e.procs, e.closers = nil, nil
	e.mu.Unlock()

	var wg sync.WaitGroup
	for _, p := range procs {
		wg.Go(p.Kill)
	}
	wg.Wait()
	var errs []error
	for _, c := range closers {
		if err := c.Close(); err != nil && !errors.Is(err, context.Canceled) {
			errs = append(errs, err)
		}
	}
	if keep {
		e.log.Info("kept testbed directory", "dir", e.Dir)
	} else if err := os.RemoveAll(e.Dir); err != nil {
		errs = append(errs, fmt.Errorf("testbed: %w", err))
	}
	return errors.Join(errs...)
}

// start runs a process tracked by the environment.
func (e *Env) start(name, dir, bin string, args []string) (*Proc, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, errors.New("testbed: environment is closed")
	}
	p, err := startProc(name, dir, filepath.Join(dir, "output.log"), bin, args)
	if err != nil {
		return nil, err
	}
	e.procs = append(e.procs, p)
	return p, nil
}

// onClose registers c to be closed by Close.
func (e *Env) onClose(c io.Closer) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.closers = append(e.closers, c)
}

// newDir creates a fresh subdirectory "<prefix>-<n>" of Dir.
func (e *Env) newDir(prefix string) (string, string, error) {
	e.mu.Lock()
	e.seq[prefix]++
	name := fmt.Sprintf("%s-%d", prefix, e.seq[prefix])
	e.mu.Unlock()
	dir := filepath.Join(e.Dir, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", fmt.Errorf("testbed: %w", err)
	}
	return name, dir, nil
}

// Procs returns every process started so far, in start order.
func (e *Env) Procs() []*Proc {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]*Proc(nil), e.procs...)
}

// permanent wraps an error that a waitUntil condition returns when it can
// never hold (the process exited): waitUntil gives up at once.
type permanent struct{ error }

func (p permanent) Unwrap() error { return p.error }

// waitUntil polls cond every pollInterval until it returns nil, ctx ends,
// timeout passes or cond returns a permanent error; the error then names
// what and the last reason.
func waitUntil(ctx context.Context, timeout time.Duration, what string, cond func() error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ticker := time.NewTicker(pollInterval)
	defer ticker.Stop()
	for {
		err := cond()
		if err == nil {
			return nil
		}
		var perm permanent
		if errors.As(err, &perm) {
			return fmt.Errorf("testbed: waiting for %s: %w", what, perm.error)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("testbed: waiting for %s: %w (last: %v)", what, ctx.Err(), err)
		case <-ticker.C:
		}
	}
}
