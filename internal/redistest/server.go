package redistest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
	"github.com/vigil-ha/vigil/internal/resp"
)

// Binary is the name of the Redis server executable looked up on PATH.
const Binary = "redis-server"

const (
	// StartTimeout bounds how long Start and Restart wait for a new
	// redis-server to answer PING.
	StartTimeout = 10 * time.Second
	// StopTimeout bounds how long Stop waits after SIGTERM before it falls
	// back to SIGKILL.
	StopTimeout = 10 * time.Second
	// signalTimeout bounds how long Pause and Resume wait for the kernel to
	// report the process as stopped or running again.
	signalTimeout = 2 * time.Second
	// ClientTimeout is the dial, read and write timeout of [Server.Client];
	// a context deadline, when shorter, wins.
	ClientTimeout = 2 * time.Second

	// startAttempts is how many ports Start tries when the one it picked was
	// taken by someone else before redis-server could bind it.
	startAttempts = 5
	// logTailLines is how much of redis.log a failure message shows.
	logTailLines = 40

	confFile   = "redis.conf"
	logFile    = "redis.log"
	stderrFile = "stderr.log"
)

// errPortInUse reports that redis-server exited because its port was taken.
var errPortInUse = errors.New("port already in use")

// Available reports whether the redis-server binary is on PATH.
func Available() bool {
	_, err := exec.LookPath(Binary)
	return err == nil
}

// Options configures a server started by [Start] or [StartGroup].
type Options struct {
	// ReplicaOf is the "host:port" of the master this server replicates
	// from, or "" for a master.
	ReplicaOf string
	// Args are extra redis-server arguments appended to the command line,
	// for example []string{"--repl-timeout", "5"}. They override the
	// generated redis.conf and are passed again on every restart.
	Args []string
	// Persistence turns on RDB snapshots (Redis' default save rules) and the
	// append-only file. Off by default: save "" and appendonly no.
	Persistence bool
	// Ports, when not nil, is where the server's port comes from, so that it
	// never collides with other ports handed out by the same Ports. When nil
	// the port comes from [FreePort].
	Ports *Ports
}

// Server is one redis-server child process listening on 127.0.0.1:Port with
// its data, configuration and logs in Dir. Its methods are safe for
// concurrent use.
type Server struct {
	// Port is the TCP port the server listens on; it survives restarts.
	Port int
	// Dir holds redis.conf, redis.log, stderr.log and any RDB/AOF files.
	Dir string

	bin  string
	args []string // redis-server command line after the binary

	mu     sync.Mutex
	proc   *process // the current process; nil before the first start
	client *redis.Client
}

// process is one run of redis-server.
type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once cmd.Wait has returned
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Start runs a redis-server on a free loopback port and waits until it
// answers PING. The server is configured by a redis.conf written into a fresh
// t.TempDir():
//
//	port P, bind 127.0.0.1, dir <Dir>, daemonize no, protected-mode no,
//	logfile <Dir>/redis.log, save "" and appendonly no (unless
//	opts.Persistence), repl-diskless-sync-delay 0, enable-debug-command
//	local, and replicaof <host> <port> when opts.ReplicaOf is set,
//
// followed on the command line by opts.Args. It fails the test, showing the
// tail of the server's log, if the server does not come up within
// StartTimeout, and fails it with instructions if redis-server is not
// installed. The server is killed and reaped when the test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	bin, err := exec.LookPath(Binary)
	if err != nil {
		t.Fatalf("redistest: %s not found on PATH (%v): run `make deps` (or `make test`, which runs it) to install the Debian packages redis-server and redis-tools", Binary, err)
	}
	replicaOf, err := replicaOfDirective(opts.ReplicaOf)
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	dir := t.TempDir() // before the Cleanup below, so it is removed after the kill
	s := &Server{
		Dir:  dir,
		bin:  bin,
		args: append([]string{filepath.Join(dir, confFile)}, opts.Args...),
	}
	t.Cleanup(func() { s.cleanup(t) })

	for attempt := 1; ; attempt++ {
		s.Port = opts.Ports.Free(t)
		if err := os.WriteFile(filepath.Join(s.Dir, confFile), []byte(s.config(opts, replicaOf)), 0o644); err != nil {
			t.Fatalf("redistest: write %s: %v", confFile, err)
		}
		err := s.launch()
		if err == nil {
			return s
		}
		if errors.Is(err, errPortInUse) && attempt < startAttempts {
			t.Logf("redistest: port %d was taken before redis-server bound it; trying another", s.Port)
			continue
		}
		t.Fatalf("redistest: start redis-server on %s: %v\n%s", s.Addr(), err, s.LogTail(logTailLines))
	}
}

// replicaOfDirective turns "host:port" into the redis.conf line
// "replicaof host port", or "" for "".
func replicaOfDirective(addr string) (string, error) {
	if addr == "" {
		return "", nil
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("ReplicaOf %q: %w", addr, err)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil || host == "" {
		return "", fmt.Errorf("ReplicaOf %q: want host:port", addr)
	}
	return fmt.Sprintf("replicaof %s %s\n", quote(host), port), nil
}

// config renders the redis.conf of s.
func (s *Server) config(opts Options, replicaOf string) string {
	var b strings.Builder
	b.WriteString("# Written by vigil's internal/redistest for one test; CONFIG REWRITE may change it.\n")
	fmt.Fprintf(&b, "port %d\n", s.Port)
	b.WriteString("bind 127.0.0.1\n")
	fmt.Fprintf(&b, "dir %s\n", quote(s.Dir))
	b.WriteString("daemonize no\n")
	b.WriteString("protected-mode no\n")
	fmt.Fprintf(&b, "logfile %s\n", quote(filepath.Join(s.Dir, logFile)))
	if opts.Persistence {
		b.WriteString("save 3600 1 300 100 60 10000\n")
		b.WriteString("appendonly yes\n")
	} else {
		b.WriteString("save \"\"\n")
		b.WriteString("appendonly no\n")
	}
	// Start full syncs at once instead of waiting 5s for more replicas.
	b.WriteString("repl-diskless-sync-delay 0\n")
	// DEBUG SLEEP and friends are handy for fault injection.
	b.WriteString("enable-debug-command local\n")
	b.WriteString(replicaOf)
	return b.String()
}

// quote renders s as a double-quoted redis.conf string.
func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// launch starts redis-server and waits until it answers PING. A process that
// starts but never answers is killed before launch returns the error.
func (s *Server) launch() error {
	out, err := os.OpenFile(filepath.Join(s.Dir, stderrFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open %s: %w", stderrFile, err)
	}
	cmd := exec.Command(s.bin, s.args...)
	cmd.Dir = s.Dir
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.SysProcAttr = sysProcAttr()
	p := &process{cmd: cmd, done: make(chan struct{})}

	started := make(chan error, 1)
	go func() {
		// The parent-death signal follows the thread that forked the
		// child, so keep this goroutine on that thread until the child is
		// gone. cmd.Wait also reaps the child: no zombies.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		defer close(p.done)
		err := cmd.Start()
		started <- err
		if err == nil {
			_ = cmd.Wait() // the exit status of a killed server is expected
		}
	}()
	err = <-started
	_ = out.Close() // the child has its own copy
	if err != nil {
		return fmt.Errorf("exec %s: %w", s.bin, err)
	}
	s.mu.Lock()
	s.proc = p
	s.mu.Unlock()

	if err := s.waitReady(p); err != nil {
		s.Kill()
		return err
	}
	return nil
}

// waitReady polls the server with PING until it answers PONG, the process
// exits, or StartTimeout passes.
func (s *Server) waitReady(p *process) error {
	ready := poll(StartTimeout, func() bool {
		return p.exited() || resp.Ping(s.Addr(), 250*time.Millisecond) == nil
	})
	switch {
	case p.exited():
		if strings.Contains(s.LogTail(logTailLines), "Address already in use") {
			return fmt.Errorf("redis-server exited: %w", errPortInUse)
		}
		return fmt.Errorf("redis-server exited: %v", p.cmd.ProcessState)
	case !ready:
		return fmt.Errorf("no PONG within %v: %w", StartTimeout, resp.Ping(s.Addr(), time.Second))
	}
	return nil
}

// Addr returns "127.0.0.1:<Port>".
func (s *Server) Addr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port))
}

// PID returns the process id of the current redis-server, or 0 if none was
// ever started. The id of an exited process is still returned.
func (s *Server) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil || s.proc.cmd.Process == nil {
		return 0
	}
	return s.proc.cmd.Process.Pid
}

// Alive reports whether the current redis-server process has not exited. A
// paused server is alive.
func (s *Server) Alive() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proc != nil && !s.proc.exited()
}

// current returns the current process, or nil.
func (s *Server) current() *process {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proc
}

// signal sends sig to the current process unless it has exited.
func (s *Server) signal(sig syscall.Signal) *process {
	p := s.current()
	if p == nil || p.exited() {
		return nil
	}
	// An error means the process has just exited; Wait has reaped it or
	// is about to.
	_ = p.cmd.Process.Signal(sig)
	return p
}

// Kill sends SIGKILL to the server and waits until the process has exited
// and been reaped, simulating a crash. It does nothing if the server is not
// running.
func (s *Server) Kill() {
	if p := s.signal(syscall.SIGKILL); p != nil {
		<-p.done
	}
}

// Stop sends SIGTERM (and SIGCONT, should the server be paused) and waits
// for the process to exit, as in a clean shutdown. If it has not exited
// within StopTimeout it is killed. It does nothing if the server is not
// running.
func (s *Server) Stop() {
	p := s.signal(syscall.SIGTERM)
	if p == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGCONT) // a stopped process ignores SIGTERM until continued
	select {
	case <-p.done:
	case <-time.After(StopTimeout):
		s.Kill()
	}
}

// Pause sends SIGSTOP, freezing the server as a hung process or a long GC
// pause would: connections are still accepted by the kernel but nothing is
// answered. On Linux it returns once the kernel reports the process stopped.
func (s *Server) Pause() {
	if p := s.signal(syscall.SIGSTOP); p != nil {
		waitState(p, func(state byte) bool { return state == 'T' })
	}
}

// Resume sends SIGCONT to a paused server. On Linux it returns once the
// kernel reports the process running again.
func (s *Server) Resume() {
	if p := s.signal(syscall.SIGCONT); p != nil {
		waitState(p, func(state byte) bool { return state != 'T' })
	}
}

// waitState waits, for at most signalTimeout, until the kernel's view of p's
// state satisfies ok. Where the state cannot be read it returns at once.
func waitState(p *process, ok func(state byte) bool) {
	pid := p.cmd.Process.Pid
	poll(signalTimeout, func() bool {
		state := processState(pid)
		return state == 0 || p.exited() || ok(state)
	})
}

// Restart starts redis-server again on the same port, in the same directory
// and with the same command line, and waits until it answers PING. A server
// that is still running is killed first (call Stop beforehand for a clean
// shutdown). Because the configuration lives in Dir/redis.conf, whatever a
// CONFIG REWRITE put there (after a REPLICAOF, say) survives the restart, as
// with a real deployment; without a rewrite the server comes back with its
// original role. The test fails if the server does not come up.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Kill()
	if err := s.launch(); err != nil {
		t.Fatalf("redistest: restart redis-server on %s: %v\n%s", s.Addr(), err, s.LogTail(logTailLines))
	}
}

// Client returns a go-redis client for this server, created on first use and
// closed when the test ends. It has ClientTimeout dial/read/write timeouts,
// honours context deadlines, and retries neither commands nor dials, so that
// faults show up as errors instead of being hidden. It keeps working across
// restarts.
func (s *Server) Client() *redis.Client {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.client == nil {
		s.client = redis.NewClient(&redis.Options{
			Addr:                  s.Addr(),
			Protocol:              2,
			DialTimeout:           ClientTimeout,
			ReadTimeout:           ClientTimeout,
			WriteTimeout:          ClientTimeout,
			ContextTimeoutEnabled: true,
			MaxRetries:            -1,
			DialerRetries:         1, // one dial attempt: a dead server errors at once
			PoolSize:              4,
			// Redis 7.0 knows neither CLIENT SETINFO nor maintenance
			// notifications; don't send them.
			DisableIdentity:          true,
			MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
		})
	}
	return s.client
}

// Do sends one command through [Server.Client] and returns its reply.
func (s *Server) Do(ctx context.Context, args ...any) (any, error) {
	return s.Client().Do(ctx, args...).Result()
}

// Info runs INFO section and returns its "key:value" fields.
func (s *Server) Info(ctx context.Context, section string) (map[string]string, error) {
	text, err := s.Client().Info(ctx, section).Result()
	if err != nil {
		return nil, fmt.Errorf("INFO %s on %s: %w", section, s.Addr(), err)
	}
	return ParseInfo(text), nil
}

// ParseInfo splits an INFO reply into its "key:value" fields, skipping
// section headers and blank lines.
func ParseInfo(text string) map[string]string {
	fields := make(map[string]string)
	for line := range strings.Lines(text) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if k, v, ok := strings.Cut(line, ":"); ok {
			fields[k] = v
		}
	}
	return fields
}

// LogTail returns the last n lines of the server's redis.log followed by
// anything it wrote to stderr (where fatal configuration errors go).
func (s *Server) LogTail(n int) string {
	var b strings.Builder
	for _, name := range []string{logFile, stderrFile} {
		data, err := os.ReadFile(filepath.Join(s.Dir, name))
		if err != nil || len(data) == 0 {
			continue
		}
		lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
		if len(lines) > n {
			lines = lines[len(lines)-n:]
		}
		fmt.Fprintf(&b, "--- last %d lines of %s ---\n%s\n", len(lines), filepath.Join(s.Dir, name), strings.Join(lines, "\n"))
	}
	if b.Len() == 0 {
		return "(redis-server wrote no log)"
	}
	return b.String()
}

// cleanup kills the server, closes its client and, when the test failed,
// logs the tail of its log.
func (s *Server) cleanup(t testing.TB) {
	s.Kill()
	s.mu.Lock()
	client := s.client
	s.client = nil
	s.mu.Unlock()
	if client != nil {
		_ = client.Close()
	}
	if t.Failed() && s.Port != 0 {
		t.Logf("redistest: redis-server %s:\n%s", s.Addr(), s.LogTail(20))
	}
}
