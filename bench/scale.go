package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vigil-ha/vigil/internal/fakeredis"
	"github.com/vigil-ha/vigil/internal/harness"
	"github.com/vigil-ha/vigil/internal/testbed"
)

// Scale-section settings that are not flags.
const (
	scaleDownAfter   = 5 * time.Second
	scaleWarmup      = 5 * time.Second
	scaleWindows     = 3 // parts of the idle window; CPU is their median
	scaleReadyWait   = 90 * time.Second
	scaleStopWait    = 10 * time.Second
	fakeSubcommand   = "fakeredis"
	fakeReadyLine    = "ready"
	scaleMasterNameF = "m%04d"
)

// ScaleResult is the resource use of one controller monitoring Masters
// fake masters (internal/fakeredis, served by a separate process).
type ScaleResult struct {
	Kind    testbed.Kind `json:"kind"`
	Masters int          `json:"masters"`
	// RSSKiB is VmRSS at the end of the idle window.
	RSSKiB int64 `json:"rss_kib"`
	// IdleCPUPercent is CPU time (utime+stime) as a percentage of one
	// core: the median over the parts of the idle window of IdleSeconds.
	IdleCPUPercent float64 `json:"idle_cpu_percent"`
	IdleSeconds    float64 `json:"idle_seconds"`
	// IdleCPUWindows is the CPU use of each part of the idle window;
	// IdleCPUPercent is their median.
	IdleCPUWindows []float64 `json:"idle_cpu_windows,omitempty"`
	// Threads is /proc/PID/status Threads; Goroutines is vigil's
	// go_goroutines metric (0 for redis-sentinel).
	Threads    int `json:"threads"`
	Goroutines int `json:"goroutines,omitempty"`
	// Conns is the number of established TCP connections from the
	// controller to the fake masters.
	Conns int `json:"conns"`
	// ReadySeconds is how long after its start the controller first listed
	// every master as healthy with an INFO answered.
	ReadySeconds float64 `json:"ready_seconds"`
	// SDown is how many masters the controller flagged s_down or o_down at
	// the end of the window (a healthy fake should never be).
	SDown int    `json:"sdown"`
	Error string `json:"error,omitempty"`
}

func (s ScaleResult) summary() string {
	if s.Error != "" {
		return "FAILED: " + harness.FirstLine(s.Error)
	}
	g := ""
	if s.Goroutines > 0 {
		g = fmt.Sprintf(", %d goroutines", s.Goroutines)
	}
	return fmt.Sprintf("RSS %.1f MiB, idle CPU %.2f%%, %d threads%s, %d conns (%.2f per master), ready in %.1fs, %d s_down",
		mib(s.RSSKiB), s.IdleCPUPercent, s.Threads, g, s.Conns, float64(s.Conns)/float64(max(s.Masters, 1)), s.ReadySeconds, s.SDown)
}

// scaleSection measures every (count, kind), counts ascending and kinds
// interleaved.
func (b *bench) scaleSection(ctx context.Context) ([]ScaleResult, error) {
	var out []ScaleResult
	for _, n := range b.opts.scaleMasters {
		for _, k := range b.opts.kinds {
			r, err := b.scaleRun(ctx, k, n)
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if err != nil {
				r.Error = err.Error()
			}
			b.progress("scale %-8s %4d masters: %s", k, n, r.summary())
			out = append(out, r)
		}
	}
	return out, nil
}

// scaleRun starts count fake masters in a separate process and one
// controller of kind watching all of them, waits until it sees every one
// healthy, and measures it idling.
func (b *bench) scaleRun(ctx context.Context, kind testbed.Kind, count int) (ScaleResult, error) {
	r := ScaleResult{Kind: kind, Masters: count}
	fakes, err := startFakes(ctx, count)
	if err != nil {
		return r, err
	}
	defer fakes.stop()

	dir, err := os.MkdirTemp("", "vigil-bench-scale-")
	if err != nil {
		return r, err
	}
	keep := b.opts.keep
	defer func() {
		if !keep {
			_ = os.RemoveAll(dir)
		}
	}()
	// RESP, gossip (TCP and UDP) and HTTP ports, all distinct.
	ports, err := freePorts(3)
	if err != nil {
		return r, err
	}
	port := ports[0]
	var (
		bin      string
		args     []string
		httpAddr string
	)
	switch kind {
	case testbed.KindVigil:
		gossip, hp := ports[1], ports[2]
		httpAddr = loopback(hp)
		path := filepath.Join(dir, "vigil.yaml")
		if err := os.WriteFile(path, []byte(scaleVigilConfig(fakes.addrs, port, gossip, hp, dir, b.opts.failoverTimeout)), 0o644); err != nil {
			return r, err
		}
		bin, args = b.opts.vigil, []string{"run", "--config", path}
	case testbed.KindSentinel:
		path := filepath.Join(dir, "sentinel.conf")
		if err := os.WriteFile(path, []byte(scaleSentinelConfig(fakes.addrs, port, dir, b.opts.failoverTimeout)), 0o644); err != nil {
			return r, err
		}
		bin, args = testbed.DefaultRedisSentinel, []string{path}
	}
	logf, err := os.Create(filepath.Join(dir, "output.log"))
	if err != nil {
		return r, err
	}
	defer func() { _ = logf.Close() }()
	if strings.ContainsRune(bin, filepath.Separator) {
		// exec resolves a relative path against cmd.Dir, not ours.
		if abs, err := filepath.Abs(bin); err == nil {
			bin = abs
		}
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir, cmd.Stdout, cmd.Stderr = dir, logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	started := time.Now()
	if err := cmd.Start(); err != nil {
		return r, fmt.Errorf("start %s: %w", bin, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(scaleStopWait):
			_ = cmd.Process.Kill()
			<-exited
		}
	}()
	fail := func(err error) (ScaleResult, error) {
		keep = true
		return r, fmt.Errorf("%w (logs in %s)", err, dir)
	}
	pid := cmd.Process.Pid
	client := redis.NewClient(&redis.Options{Addr: loopback(port), Protocol: 2, DisableIdentity: true,
		DialTimeout: 2 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 2 * time.Second, MaxRetries: -1})
	defer func() { _ = client.Close() }()

	if err := waitScaleReady(ctx, client, count, exited); err != nil {
		return fail(err)
	}
	r.ReadySeconds = time.Since(started).Seconds()
	if err := sleep(ctx, scaleWarmup); err != nil {
		return r, err
	}
	// The idle window is cut in scaleWindows parts and the median part
	// taken: other work on the machine comes in bursts, and one burst
	// should not decide the figure.
	prev, err := testbed.ReadProcStats(pid)
	if err != nil {
		return fail(err)
	}
	t0, last := time.Now(), time.Now()
	for range scaleWindows {
		if err := sleep(ctx, b.opts.scaleIdle/scaleWindows); err != nil {
			return r, err
		}
		cur, err := testbed.ReadProcStats(pid)
		if err != nil {
			return fail(err)
		}
		now := time.Now()
		r.IdleCPUWindows = append(r.IdleCPUWindows,
			float64(cur.CPUTicks-prev.CPUTicks)/testbed.ClockTicksPerSecond/now.Sub(last).Seconds()*percent)
		prev, last = cur, now
		r.RSSKiB = cur.RSSKiB
	}
	r.IdleSeconds = time.Since(t0).Seconds()
	r.IdleCPUPercent = summarize(r.IdleCPUWindows).median
	if r.Threads, err = procThreads(pid); err != nil {
		return fail(err)
	}
	if r.Conns, err = countConns(pid, fakes.ports); err != nil {
		return fail(err)
	}
	if httpAddr != "" {
		if r.Goroutines, err = scrapeGoroutines(ctx, httpAddr); err != nil {
			return fail(err)
		}
	}
	ms, err := sentinelMasters(ctx, client)
	if err != nil {
		return fail(err)
	}
	for _, m := range ms {
		if strings.Contains(m["flags"], "s_down") || strings.Contains(m["flags"], "o_down") {
			r.SDown++
		}
	}
	if r.SDown > 0 {
		keep = true
	}
	return r, nil
}

// waitScaleReady waits until the controller lists count masters, each
// flagged just "master" and with a run id (an INFO was answered).
func waitScaleReady(ctx context.Context, c *redis.Client, count int, exited <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(ctx, scaleReadyWait)
	defer cancel()
	problem := "no answer yet"
	for {
		select {
		case <-exited:
			return errors.New("controller exited")
		case <-ctx.Done():
			return fmt.Errorf("controller not ready within %v: %s", scaleReadyWait, problem)
		case <-time.After(200 * time.Millisecond):
		}
		ms, err := sentinelMasters(ctx, c)
		if err != nil {
			problem = err.Error()
			continue
		}
		problem = ""
		if len(ms) != count {
			problem = fmt.Sprintf("%d masters listed, want %d", len(ms), count)
			continue
		}
		for _, m := range ms {
			if m["flags"] != "master" || m["runid"] == "" {
				problem = fmt.Sprintf("master %s: flags %q runid %q", m["name"], m["flags"], m["runid"])
				break
			}
		}
		if problem == "" {
			return nil
		}
	}
}

// sentinelMasters returns SENTINEL MASTERS as field maps.
func sentinelMasters(ctx context.Context, c *redis.Client) ([]map[string]string, error) {
	reply, err := c.Do(ctx, "SENTINEL", "masters").Slice()
	if err != nil {
		return nil, fmt.Errorf("SENTINEL MASTERS: %w", err)
	}
	out := make([]map[string]string, 0, len(reply))
	for _, e := range reply {
		fields, ok := e.([]any)
		if !ok {
			return nil, fmt.Errorf("SENTINEL MASTERS: entry of type %T", e)
		}
		m := make(map[string]string, len(fields)/2)
		for i := 0; i+1 < len(fields); i += 2 {
			m[fmt.Sprint(fields[i])] = fmt.Sprint(fields[i+1])
		}
		out = append(out, m)
	}
	return out, nil
}

// scaleVigilConfig renders a vigil configuration monitoring every address.
func scaleVigilConfig(addrs []string, port, gossip, httpPort int, dir string, failoverTimeout time.Duration) string {
	var b strings.Builder
	b.WriteString("# Written by vigil's bench (scale section).\n")
	fmt.Fprintf(&b, "node:\n  id: vigil-scale\n  listen: %s\n  data-dir: %s\n", loopback(port), strconv.Quote(filepath.Join(dir, "data")))
	fmt.Fprintf(&b, "gossip:\n  bind: %s\n  join: []\n", loopback(gossip))
	fmt.Fprintf(&b, "http:\n  listen: %s\n", loopback(httpPort))
	b.WriteString("log:\n  level: info\n  format: text\nmasters:\n")
	for i, a := range addrs {
		fmt.Fprintf(&b, "  "+scaleMasterNameF+":\n    addr: %q\n    quorum: %d\n    down-after: %dms\n    failover-timeout: %dms\n",
			i, a, costQuorum, scaleDownAfter.Milliseconds(), failoverTimeout.Milliseconds())
	}
	return b.String()
}

// scaleSentinelConfig renders a redis-sentinel configuration monitoring
// every address with the same settings.
func scaleSentinelConfig(addrs []string, port int, dir string, failoverTimeout time.Duration) string {
	var b strings.Builder
	b.WriteString("# Written by vigil's bench (scale section); redis-sentinel rewrites it.\n")
	fmt.Fprintf(&b, "port %d\nbind 127.0.0.1\nprotected-mode no\ndaemonize no\ndir %s\nlogfile \"\"\n", port, strconv.Quote(dir))
	b.WriteString("sentinel resolve-hostnames no\nsentinel announce-hostnames no\n")
	for i, a := range addrs {
		host, p, _ := net.SplitHostPort(a)
		name := fmt.Sprintf(scaleMasterNameF, i)
		fmt.Fprintf(&b, "sentinel monitor %s %s %s %d\n", name, host, p, costQuorum)
		fmt.Fprintf(&b, "sentinel down-after-milliseconds %s %d\n", name, scaleDownAfter.Milliseconds())
		fmt.Fprintf(&b, "sentinel failover-timeout %s %d\n", name, failoverTimeout.Milliseconds())
	}
	return b.String()
}

func loopback(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// freePorts returns n distinct loopback ports free for TCP; the second is
// free for UDP too (memberlist binds both). The listeners are held until
// all are chosen, so no port is handed out twice.
func freePorts(n int) ([]int, error) {
	var (
		ports   []int
		closers []io.Closer
	)
	defer func() {
		for _, c := range closers {
			_ = c.Close()
		}
	}()
	for attempts := 0; len(ports) < n; attempts++ {
		if attempts > 50 {
			return nil, errors.New("no free loopback port")
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		closers = append(closers, ln)
		port := ln.Addr().(*net.TCPAddr).Port
		if len(ports) == 1 {
			pc, err := net.ListenPacket("udp", loopback(port))
			if err != nil {
				continue
			}
			closers = append(closers, pc)
		}
		ports = append(ports, port)
	}
	return ports, nil
}

// procThreads reads Threads from /proc/PID/status.
func procThreads(pid int) (int, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "Threads:"); ok {
			return strconv.Atoi(strings.TrimSpace(v))
		}
	}
	return 0, errors.New("no Threads in /proc/PID/status")
}

// countConns counts pid's established TCP sockets whose remote port is one
// of ports (on loopback every fake master has its own port).
func countConns(pid int, ports map[int]bool) (int, error) {
	fdDir := "/proc/" + strconv.Itoa(pid) + "/fd"
	ents, err := os.ReadDir(fdDir)
	if err != nil {
		return 0, err
	}
	inodes := map[string]bool{}
	for _, e := range ents {
		target, err := os.Readlink(filepath.Join(fdDir, e.Name()))
		if err != nil {
			continue
		}
		if ino, ok := strings.CutPrefix(target, "socket:["); ok {
			inodes[strings.TrimSuffix(ino, "]")] = true
		}
	}
	n := 0
	for _, table := range []string{"tcp", "tcp6"} {
		f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/net/" + table)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		sc.Scan() // header
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 10 || fields[3] != "01" || !inodes[fields[9]] {
				continue
			}
			_, hexPort, ok := strings.Cut(fields[2], ":")
			if !ok {
				continue
			}
			p, err := strconv.ParseInt(hexPort, 16, 32)
			if err == nil && ports[int(p)] {
				n++
			}
		}
		_ = f.Close()
	}
	return n, nil
}

// scrapeGoroutines reads go_goroutines from vigil's /metrics.
func scrapeGoroutines(ctx context.Context, addr string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer func() { _ = resp.Body.Close() }()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "go_goroutines "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return int(f), err
		}
	}
	return 0, errors.New("no go_goroutines in /metrics")
}

// fakeProc is the separate process serving the fake masters, so that their
// CPU is not counted as the harness's or the controller's.
type fakeProc struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	done   chan struct{}
	addrs  []string
	ports  map[int]bool
	stderr strings.Builder
}

// startFakes re-executes the bench binary as `bench fakeredis -n count` and
// reads the addresses it listens on.
func startFakes(ctx context.Context, count int) (*fakeProc, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	f := &fakeProc{ports: map[int]bool{}, done: make(chan struct{})}
	f.cmd = exec.Command(exe, fakeSubcommand, "-n", strconv.Itoa(count))
	f.cmd.Stderr = &f.stderr
	if f.stdin, err = f.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := f.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := f.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start fake masters: %w", err)
	}
	lines := make(chan string)
	go func() {
		defer close(f.done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		_ = f.cmd.Wait()
	}()
	timeout := time.After(scaleReadyWait)
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				f.stop()
				return nil, fmt.Errorf("fake masters exited: %s", f.stderr.String())
			}
			if line == fakeReadyLine {
				go func() { // drain whatever else it prints until it exits
					for range lines {
					}
				}()
				return f, nil
			}
			_, p, err := net.SplitHostPort(line)
			port, perr := strconv.Atoi(p)
			if err != nil || perr != nil {
				f.stop()
				return nil, fmt.Errorf("fake masters printed %q", line)
			}
			f.addrs = append(f.addrs, line)
			f.ports[port] = true
		case <-timeout:
			f.stop()
			return nil, errors.New("fake masters not ready in time")
		case <-ctx.Done():
			f.stop()
			return nil, ctx.Err()
		}
	}
}

// stop ends the fake process: closing its stdin asks it to exit.
func (f *fakeProc) stop() {
	_ = f.stdin.Close()
	select {
	case <-f.done:
	case <-time.After(scaleStopWait):
		_ = f.cmd.Process.Kill()
		<-f.done
	}
}

// runFakeMasters is the hidden subcommand `bench fakeredis -n N`: it serves
// N fake masters on free loopback ports, prints their addresses one a line
// and then "ready", and exits when its stdin closes or on SIGINT/SIGTERM.
func runFakeMasters(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet(fakeSubcommand, flag.ContinueOnError)
	fs.SetOutput(stderr)
	n := fs.Int("n", 1, "number of fake masters")
	if err := fs.Parse(args); err != nil || *n < 1 {
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	g, err := fakeredis.StartGroup(ctx, *n)
	if err != nil {
		_, _ = fmt.Fprintln(stderr, "fakeredis:", err)
		return exitFailure
	}
	defer g.Close()
	w := bufio.NewWriter(stdout)
	for _, m := range g.Masters {
		_, _ = fmt.Fprintln(w, m.Addr())
	}
	_, _ = fmt.Fprintln(w, fakeReadyLine)
	if err := w.Flush(); err != nil {
		return exitFailure
	}
	stdinClosed := make(chan struct{})
	go func() { // ends with the process: stdin closes when the parent goes
		_, _ = io.Copy(io.Discard, os.Stdin)
		close(stdinClosed)
	}()
	select {
	case <-ctx.Done():
	case <-stdinClosed:
	}
	return exitOK
}
