//go:build unix

package scripts

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The scripts these tests run are written before any runner starts: writing
// an executable while another goroutine forks can make exec fail with
// ETXTBSY, so no test here runs in parallel.

const waitLimit = 10 * time.Second

// eventually polls cond until it holds or waitLimit passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

// writeScript writes an executable /bin/sh script and returns its path.
func writeScript(t *testing.T, dir, name, body string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// recorder collects the runner's events.
type recorder struct {
	mu     sync.Mutex
	events []string
}

func (r *recorder) add(typ, payload string) {
	r.mu.Lock()
	r.events = append(r.events, typ+" "+payload)
	r.mu.Unlock()
}

func (r *recorder) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

// lockedBuffer is a log destination safe for concurrent writes.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// start runs r until the test ends; cleanup cancels and waits for Run to
// return.
func start(t *testing.T, r *Runner) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(waitLimit):
			t.Error("Run did not return after cancel")
		}
	})
}

// newRunner returns a runner with tiny delays, recording its events and
// logging to the returned buffer.
func newRunner(t *testing.T, opts Options) (*Runner, *recorder, *lockedBuffer) {
	t.Helper()
	rec := &recorder{}
	logs := &lockedBuffer{}
	if opts.RetryDelay == 0 {
		opts.RetryDelay = time.Millisecond
	}
	opts.OnEvent = rec.add
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return New(log, opts), rec, logs
}

func idle(r *Runner) func() bool {
	return func() bool { return len(r.Pending()) == 0 }
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
}

func readPID(t *testing.T, path string) int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return pid
}

// nonEmpty reports whether path exists and has content.
func nonEmpty(path string) func() bool {
	return func() bool {
		fi, err := os.Stat(path)
		return err == nil && fi.Size() > 0
	}
}

// processGone reports whether pid no longer runs: it does not exist, or it
// is a zombie waiting for a parent that is not this test.
func processGone(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return errors.Is(err, os.ErrNotExist)
	}
	i := bytes.LastIndexByte(stat, ')')
	return i >= 0 && i+2 < len(stat) && stat[i+2] == 'Z'
}

func TestSuccess(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	script := writeScript(t, dir, "notify.sh",
		`printf '%s\n' "$@" > `+out+"\necho hello from stdout\necho hello from stderr >&2\nexit 0\n")
	r, rec, logs := newRunner(t, Options{})
	r.Enqueue(script, "+sdown", "master mymaster 127.0.0.1 6379")
	start(t, r)

	eventually(t, "the script to finish", idle(r))
	if got, want := readLines(t, out), []string{"+sdown", "master mymaster 127.0.0.1 6379"}; !slices.Equal(got, want) {
		t.Errorf("arguments: got %q, want %q", got, want)
	}
	if ev := rec.list(); len(ev) != 0 {
		t.Errorf("events: %q, want none", ev)
	}
	for _, want := range []string{`"line":"hello from stdout"`, `"stream":"stdout"`, `"line":"hello from stderr"`, `"stream":"stderr"`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %s:\n%s", want, logs)
		}
	}
}

func TestEmptyPathIsIgnored(t *testing.T) {
	r := New(nil, Options{})
	r.Enqueue("")
	r.Enqueue("", "arg")
	if p := r.Pending(); len(p) != 0 {
		t.Errorf("Pending() = %+v, want empty", p)
	}
}

func TestRetryOnExit1(t *testing.T) {
	dir := t.TempDir()
	count := filepath.Join(dir, "count")
	script := writeScript(t, dir, "flaky.sh", `echo run >> `+count+`
[ "$(wc -l < `+count+`)" -ge 3 ] && exit 0
exit 1
`)
	r, rec, _ := newRunner(t, Options{})
	r.Enqueue(script)
	start(t, r)

	eventually(t, "the script to succeed", idle(r))
	if n := len(readLines(t, count)); n != 3 {
		t.Errorf("ran %d times, want 3 (two failures, one success)", n)
	}
	if ev := rec.list(); len(ev) != 0 {
		t.Errorf("events: %q, want none", ev)
	}
}

func TestRetriesExhausted(t *testing.T) {
	dir := t.TempDir()
	count := filepath.Join(dir, "count")
	script := writeScript(t, dir, "broken.sh", "echo run >> "+count+"\nexit 1\n")
	r, rec, _ := newRunner(t, Options{MaxRetries: 3})
	r.Enqueue(script)
	start(t, r)

	eventually(t, "the -script-error event", func() bool { return len(rec.list()) > 0 })
	if got, want := rec.list(), []string{"-script-error " + script + " 0 1"}; !slices.Equal(got, want) {
		t.Errorf("events: got %q, want %q", got, want)
	}
	if n := len(readLines(t, count)); n != 3 {
		t.Errorf("ran %d times, want MaxRetries = 3", n)
	}
	if p := r.Pending(); len(p) != 0 {
		t.Errorf("Pending() = %+v, want empty", p)
	}
}

func TestNoRetry(t *testing.T) {
	tests := []struct {
		name  string
		body  string
		event string // after the path
	}{
		{"exit 2", "exit 2", "0 2"},
		{"exit 127", "exit 127", "0 127"},
		{"killed by SIGTERM", "kill -TERM $$", "15 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			count := filepath.Join(dir, "count")
			script := writeScript(t, dir, "fail.sh", "echo run >> "+count+"\n"+tt.body+"\n")
			r, rec, _ := newRunner(t, Options{})
			r.Enqueue(script)
			start(t, r)

			eventually(t, "the -script-error event", func() bool { return len(rec.list()) > 0 })
			if got, want := rec.list(), []string{"-script-error " + script + " " + tt.event}; !slices.Equal(got, want) {
				t.Errorf("events: got %q, want %q", got, want)
			}
			if n := len(readLines(t, count)); n != 1 {
				t.Errorf("ran %d times, want 1", n)
			}
			if p := r.Pending(); len(p) != 0 {
				t.Errorf("Pending() = %+v, want empty", p)
			}
		})
	}
}

func TestStartFailure(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.sh")
	notExec := filepath.Join(dir, "not-executable.sh")
	if err := os.WriteFile(notExec, []byte("#!/bin/sh\nexit 0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r, rec, _ := newRunner(t, Options{MaxRunning: 1})
	r.Enqueue(missing, "a")
	r.Enqueue(notExec, "b")
	start(t, r)

	eventually(t, "two -script-error events", func() bool { return len(rec.list()) == 2 })
	want := []string{"-script-error " + missing + " 99 0", "-script-error " + notExec + " 99 0"}
	if got := rec.list(); !slices.Equal(got, want) {
		t.Errorf("events: got %q, want %q", got, want)
	}
	eventually(t, "the queue to empty", idle(r))
}

func TestTimeoutKillsProcessGroup(t *testing.T) {
	dir := t.TempDir()
	pidFile, childFile := filepath.Join(dir, "pid"), filepath.Join(dir, "child")
	script := writeScript(t, dir, "hang.sh", "echo $$ > "+pidFile+"\nsleep 60 &\necho $! > "+childFile+"\nwait\n")
	r, rec, _ := newRunner(t, Options{MaxRuntime: 500 * time.Millisecond})
	r.Enqueue(script)
	start(t, r)

	eventually(t, "two events", func() bool { return len(rec.list()) == 2 })
	pid, child := readPID(t, pidFile), readPID(t, childFile)
	want := []string{
		"-script-timeout " + script + " " + strconv.Itoa(pid),
		"-script-error " + script + " 9 0",
	}
	if got := rec.list(); !slices.Equal(got, want) {
		t.Errorf("events: got %q, want %q", got, want)
	}
	eventually(t, "the script to leave the queue", idle(r))
	eventually(t, "the background child to die", func() bool { return processGone(child) })
}

func TestCancelKillsRunningScripts(t *testing.T) {
	dir := t.TempDir()
	pidFile, childFile := filepath.Join(dir, "pid"), filepath.Join(dir, "child")
	script := writeScript(t, dir, "hang.sh", "echo $$ > "+pidFile+"\nsleep 60 &\necho $! > "+childFile+"\nwait\n")
	r, rec, _ := newRunner(t, Options{})
	r.Enqueue(script)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.Run(ctx)
	}()
	eventually(t, "the script to start its child", nonEmpty(childFile))
	pid, child := readPID(t, pidFile), readPID(t, childFile)

	cancel()
	select {
	case <-done:
	case <-time.After(waitLimit):
		t.Fatal("Run did not return after cancel")
	}
	if !processGone(pid) {
		t.Errorf("script %d still runs after Run returned", pid)
	}
	eventually(t, "the background child to die", func() bool { return processGone(child) })
	if ev := rec.list(); len(ev) != 0 {
		t.Errorf("events: %q, want none at shutdown", ev)
	}
	if p := r.Pending(); len(p) != 0 {
		t.Errorf("Pending() = %+v, want the interrupted job dropped", p)
	}
	if running, queued := r.Stats(); running != 0 || queued != 0 {
		t.Errorf("Stats() = %d, %d; want 0, 0", running, queued)
	}
}

func argvs(jobs []Job) [][]string {
	out := make([][]string, len(jobs))
	for i, j := range jobs {
		out[i] = j.Argv
	}
	return out
}

func TestQueueOverflowDropsOldest(t *testing.T) {
	dir := t.TempDir()
	ran := filepath.Join(dir, "ran")
	script := writeScript(t, dir, "log.sh", `echo "$1" >> `+ran+"\n")
	r, _, logs := newRunner(t, Options{MaxQueue: 3, MaxRunning: 1})
	for _, arg := range []string{"a", "b", "c", "d", "e"} {
		r.Enqueue(script, arg)
	}
	want := [][]string{{script, "c"}, {script, "d"}, {script, "e"}}
	if got := argvs(r.Pending()); !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("Pending() argv: got %q, want %q", got, want)
	}
	if n := strings.Count(logs.String(), "script queue full"); n != 2 {
		t.Errorf("logged %d drops, want 2:\n%s", n, logs)
	}
	start(t, r)
	eventually(t, "the queue to drain", idle(r))
	if got := readLines(t, ran); !slices.Equal(got, []string{"c", "d", "e"}) {
		t.Errorf("ran %q, want c, d, e in order", got)
	}
}

func TestQueueOverflowKeepsRunningJobs(t *testing.T) {
	dir := t.TempDir()
	gate, ran := filepath.Join(dir, "go"), filepath.Join(dir, "ran")
	script := writeScript(t, dir, "wait.sh",
		"while [ ! -e "+gate+" ]; do sleep 0.01; done\necho \"$1\" >> "+ran+"\n")
	r, _, _ := newRunner(t, Options{MaxQueue: 2, MaxRunning: 1})
	r.Enqueue(script, "A")
	start(t, r)
	eventually(t, "A to run", func() bool {
		p := r.Pending()
		return len(p) == 1 && p[0].Running && p[0].PID > 0
	})

	r.Enqueue(script, "B")
	r.Enqueue(script, "C") // over MaxQueue: B, the oldest not running, goes
	p := r.Pending()
	if got, want := argvs(p), [][]string{{script, "A"}, {script, "C"}}; !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("Pending() argv: got %q, want %q", got, want)
	}
	if !p[0].Running || p[1].Running {
		t.Errorf("Pending() = %+v, want A running and C scheduled", p)
	}

	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the queue to drain", idle(r))
	if got := readLines(t, ran); !slices.Equal(got, []string{"A", "C"}) {
		t.Errorf("ran %q, want A, C", got)
	}
}

func TestPendingShape(t *testing.T) {
	dir := t.TempDir()
	gate := filepath.Join(dir, "go")
	blocker := writeScript(t, dir, "wait.sh", "while [ ! -e "+gate+" ]; do sleep 0.01; done\n")
	failer := writeScript(t, dir, "fail.sh", "exit 1\n")
	r, _, _ := newRunner(t, Options{RetryDelay: time.Hour})
	r.Enqueue(failer, "+odown", "master m 10.0.0.1 6379")
	r.Enqueue(blocker, "x")

	before := r.Pending()
	for _, j := range before {
		if j.Running || j.PID != 0 || j.RetryNum != 0 || j.RunDelay != 0 || j.RunTime != 0 || j.Flags() != "scheduled" {
			t.Errorf("before Run: %+v, want a due, never started job", j)
		}
	}

	start(t, r)
	var p []Job
	eventually(t, "one job waiting for its retry and one running", func() bool {
		p = r.Pending()
		return len(p) == 2 && !p[0].Running && p[0].RetryNum == 1 && p[1].Running && p[1].PID > 0
	})
	failed, running := p[0], p[1]
	if !slices.Equal(failed.Argv, []string{failer, "+odown", "master m 10.0.0.1 6379"}) || failed.PID != 0 ||
		failed.RunTime != 0 || failed.RunDelay <= 59*time.Minute || failed.RunDelay > time.Hour || failed.Flags() != "scheduled" {
		t.Errorf("job waiting for retry: %+v", failed)
	}
	if !slices.Equal(running.Argv, []string{blocker, "x"}) || running.RetryNum != 1 || running.RunDelay != 0 ||
		running.RunTime < 0 || running.RunTime > waitLimit || running.Flags() != "running" {
		t.Errorf("running job: %+v", running)
	}
	if n, q := r.Stats(); n != 1 || q != 2 {
		t.Errorf("Stats() = %d, %d; want 1 running, 2 queued", n, q)
	}
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the blocker to finish", func() bool { n, _ := r.Stats(); return n == 0 })
}

func TestMaxRunning(t *testing.T) {
	dir := t.TempDir()
	gate := filepath.Join(dir, "go")
	blocker := writeScript(t, dir, "wait.sh", "while [ ! -e "+gate+" ]; do sleep 0.01; done\n")
	r, _, _ := newRunner(t, Options{MaxRunning: 2})
	for range 4 {
		r.Enqueue(blocker)
	}
	start(t, r)
	eventually(t, "two scripts running", func() bool { n, _ := r.Stats(); return n == 2 })
	p := r.Pending()
	if !p[0].Running || !p[1].Running || p[2].Running || p[3].Running {
		t.Errorf("Pending() = %+v, want the two oldest running", p)
	}
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the queue to drain", idle(r))
}

func TestNoInheritedDescriptors(t *testing.T) {
	if _, err := os.Stat("/proc/self/fd"); err != nil {
		t.Skip("no /proc/self/fd")
	}
	dir := t.TempDir()
	secret := filepath.Join(dir, "held-open")
	f, err := os.Create(secret)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	fds := filepath.Join(dir, "fds")
	script := writeScript(t, dir, "fds.sh", `for fd in /proc/$$/fd/*; do readlink "$fd" || true; done > `+fds+"\nexit 0\n")
	r, rec, _ := newRunner(t, Options{})
	r.Enqueue(script)
	start(t, r)
	eventually(t, "the script to finish", idle(r))
	if ev := rec.list(); len(ev) != 0 {
		t.Errorf("events: %q, want none", ev)
	}
	targets := readLines(t, fds)
	if len(targets) < 3 {
		t.Fatalf("listed %q, want at least stdin, stdout, stderr", targets)
	}
	if slices.Contains(targets, secret) {
		t.Errorf("the script inherited a descriptor of this process: %q", targets)
	}
}

func TestOptionsDefaults(t *testing.T) {
	want := Options{
		MaxQueue:   DefaultMaxQueue,
		MaxRunning: DefaultMaxRunning,
		MaxRuntime: DefaultMaxRuntime,
		RetryDelay: DefaultRetryDelay,
		MaxRetries: DefaultMaxRetries,
	}
	for _, in := range []Options{{}, {MaxQueue: -1, MaxRunning: -1, MaxRuntime: -1, RetryDelay: -1, MaxRetries: -1}} {
		got := New(nil, in).Options()
		got.OnEvent = nil
		if !reflect.DeepEqual(got, want) {
			t.Errorf("New(%+v).Options() = %+v, want %+v", in, got, want)
		}
	}
}

func TestRetryDelayDoubles(t *testing.T) {
	o := Options{}.withDefaults()
	for started, want := range map[int]time.Duration{
		1:  30 * time.Second,
		2:  time.Minute,
		3:  2 * time.Minute,
		10: 30 * time.Second << 9,
	} {
		if got := o.retryDelay(started); got != want {
			t.Errorf("retryDelay(%d) = %s, want %s", started, got, want)
		}
	}
	if d := o.retryDelay(1000); d <= 0 {
		t.Errorf("retryDelay(1000) = %s, want no overflow", d)
	}
}

// logRecords parses a JSON log.
func logRecords(t *testing.T, s string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(s), "\n") {
		if line == "" {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, rec)
	}
	return out
}

func TestOutputLogLines(t *testing.T) {
	var buf bytes.Buffer
	o := newOutputLog(slog.New(slog.NewJSONHandler(&buf, nil)), "/x.sh", "stdout")
	for _, chunk := range []string{"fir", "st\nsecond\n", strings.Repeat("x", 2000) + "\n", "no newline"} {
		if n, err := o.Write([]byte(chunk)); n != len(chunk) || err != nil {
			t.Fatalf("Write = %d, %v", n, err)
		}
	}
	o.Close()
	recs := logRecords(t, buf.String())
	var lines []string
	for _, r := range recs {
		lines = append(lines, r["line"].(string))
		if r["script"] != "/x.sh" || r["stream"] != "stdout" {
			t.Errorf("record %v lacks script or stream", r)
		}
	}
	want := []string{"first", "second", strings.Repeat("x", maxLineBytes), "no newline"}
	if !slices.Equal(lines, want) {
		t.Errorf("lines: got %q, want %q", lines, want)
	}
	if recs[2]["line-truncated"] != true {
		t.Errorf("long line not marked truncated: %v", recs[2])
	}
}

func TestOutputLogBudget(t *testing.T) {
	var buf bytes.Buffer
	o := newOutputLog(slog.New(slog.NewJSONHandler(&buf, nil)), "/x.sh", "stderr")
	const total = 20000
	if n, err := o.Write(bytes.Repeat([]byte("y\n"), total/2)); n != total || err != nil {
		t.Fatalf("Write = %d, %v", n, err)
	}
	if n, err := o.Write([]byte("more")); n != 4 || err != nil {
		t.Fatalf("Write after the budget = %d, %v", n, err)
	}
	o.Close()
	recs := logRecords(t, buf.String())
	if got, want := len(recs), maxOutputBytes/2+1; got != want {
		t.Fatalf("%d records, want %d lines and one truncation notice", got, want)
	}
	last := recs[len(recs)-1]
	if last["msg"] != "script output truncated" || last["dropped-bytes"] != float64(total+4-maxOutputBytes) {
		t.Errorf("last record: %v", last)
	}
}
