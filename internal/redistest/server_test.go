package redistest_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/internal/redistest"
)

// ping sends PING with the given timeout.
func ping(s *redistest.Server, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return s.Client().Ping(ctx).Err()
}

func role(t *testing.T, s *redistest.Server) string {
	t.Helper()
	info, err := s.Info(t.Context(), "replication")
	if err != nil {
		t.Fatal(err)
	}
	return info["role"]
}

// reaped reports whether pid no longer exists, not even as a zombie.
func reaped(pid int) bool {
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

func TestGroupReplicatesWritesToEveryReplica(t *testing.T) {
	g := redistest.StartGroup(t, 2, redistest.Options{})

	if got := role(t, g.Master); got != "master" {
		t.Fatalf("master role = %q", got)
	}
	if err := g.Master.Client().Set(t.Context(), "greeting", "hello", 0).Err(); err != nil {
		t.Fatal(err)
	}
	for _, r := range g.Replicas {
		if got := role(t, r); got != "slave" {
			t.Fatalf("replica %s role = %q", r.Addr(), got)
		}
		redistest.WaitFor(t, 5*time.Second, "greeting on replica "+r.Addr(), func() bool {
			v, err := r.Client().Get(t.Context(), "greeting").Result()
			return err == nil && v == "hello"
		})
	}
	if len(g.All()) != 3 {
		t.Fatalf("All() has %d servers, want 3", len(g.All()))
	}
}

func TestKillThenRestartOnSamePort(t *testing.T) {
	s := redistest.Start(t, redistest.Options{})
	port, pid := s.Port, s.PID()
	if err := s.Client().Set(t.Context(), "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}

	s.Kill()
	if s.Alive() {
		t.Fatal("Alive after Kill")
	}
	if !reaped(pid) {
		t.Fatalf("pid %d still exists after Kill (zombie?)", pid)
	}
	if err := ping(s, 500*time.Millisecond); err == nil {
		t.Fatal("PING answered after Kill")
	}
	s.Kill() // a second Kill is harmless

	s.Restart(t)
	if !s.Alive() || s.Port != port || s.PID() == pid || s.PID() == 0 {
		t.Fatalf("after Restart: alive=%v port=%d (was %d) pid=%d (was %d)", s.Alive(), s.Port, port, s.PID(), pid)
	}
	if err := ping(s, 2*time.Second); err != nil {
		t.Fatalf("PING after Restart: %v", err)
	}
	// Persistence is off by default, so the crash lost the key.
	if n, err := s.Client().Exists(t.Context(), "k").Result(); err != nil || n != 0 {
		t.Fatalf("EXISTS k after restart without persistence = %d, %v; want 0", n, err)
	}
}

func TestStopAndRestartKeepsDataWithPersistence(t *testing.T) {
	s := redistest.Start(t, redistest.Options{Persistence: true})
	if err := s.Client().Set(t.Context(), "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	pid := s.PID()
	s.Stop()
	if s.Alive() || !reaped(pid) {
		t.Fatalf("after Stop: alive=%v reaped=%v", s.Alive(), reaped(pid))
	}
	s.Restart(t)
	if v, err := s.Client().Get(t.Context(), "k").Result(); err != nil || v != "v" {
		t.Fatalf("GET k after clean restart = %q, %v; want \"v\"", v, err)
	}
}

func TestPauseMakesPingTimeOutAndResumeAnswersAgain(t *testing.T) {
	s := redistest.Start(t, redistest.Options{})
	s.Pause()
	err := ping(s, 300*time.Millisecond)
	if err == nil {
		t.Fatal("PING answered while paused")
	}
	if !errors.Is(err, context.DeadlineExceeded) && !strings.Contains(err.Error(), "timeout") {
		t.Fatalf("PING while paused: %v, want a timeout", err)
	}
	if !s.Alive() {
		t.Fatal("a paused server should be alive")
	}
	s.Resume()
	if err := ping(s, 2*time.Second); err != nil {
		t.Fatalf("PING after Resume: %v", err)
	}
}

func TestStopWorksOnPausedServer(t *testing.T) {
	s := redistest.Start(t, redistest.Options{})
	s.Pause()
	s.Stop()
	if s.Alive() {
		t.Fatal("Alive after Stop of a paused server")
	}
}

func TestRestartedReplicaRejoinsItsMaster(t *testing.T) {
	g := redistest.StartGroup(t, 1, redistest.Options{})
	r := g.Replicas[0]
	r.Kill()
	redistest.WaitFor(t, 5*time.Second, "master to notice the replica is gone", func() bool {
		info, err := g.Master.Info(t.Context(), "replication")
		return err == nil && info["connected_slaves"] == "0"
	})
	r.Restart(t)
	redistest.WaitReplicasOnline(t, g.Master, r)
}

func TestRestartHonoursConfigRewrite(t *testing.T) {
	g := redistest.StartGroup(t, 1, redistest.Options{})
	r := g.Replicas[0]
	if _, err := r.Do(t.Context(), "REPLICAOF", "NO", "ONE"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Do(t.Context(), "CONFIG", "REWRITE"); err != nil {
		t.Fatalf("CONFIG REWRITE: %v", err)
	}
	r.Restart(t)
	if got := role(t, r); got != "master" {
		t.Fatalf("role after rewrite and restart = %q, want master", got)
	}
}

func TestExtraArgsArePassed(t *testing.T) {
	s := redistest.Start(t, redistest.Options{Args: []string{"--maxmemory", "12345678"}})
	got, err := s.Client().ConfigGet(t.Context(), "maxmemory").Result()
	if err != nil || got["maxmemory"] != "12345678" {
		t.Fatalf("CONFIG GET maxmemory = %v, %v", got, err)
	}
}

// fatalTB records the first Fatalf and ends the goroutine like testing.T does.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// runFatal runs fn with a TB whose Fatalf is captured, and returns the
// message ("" if fn did not fail).
func runFatal(t *testing.T, fn func(tb testing.TB)) string {
	tb := &fatalTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(tb)
	}()
	<-done
	return tb.msg
}

func TestStartFailureShowsTheLog(t *testing.T) {
	msg := runFatal(t, func(tb testing.TB) {
		redistest.Start(tb, redistest.Options{Args: []string{"--no-such-directive", "1"}})
	})
	if !strings.Contains(msg, "no-such-directive") {
		t.Fatalf("failure message does not show redis-server's complaint:\n%s", msg)
	}
}

func TestStartRejectsBadReplicaOf(t *testing.T) {
	msg := runFatal(t, func(tb testing.TB) {
		redistest.Start(tb, redistest.Options{ReplicaOf: "nonsense"})
	})
	if !strings.Contains(msg, "nonsense") {
		t.Fatalf("unexpected failure message %q", msg)
	}
}

func TestWaitFor(t *testing.T) {
	calls := 0
	redistest.WaitFor(t, time.Second, "third call", func() bool {
		calls++
		return calls == 3
	})
	msg := runFatal(t, func(tb testing.TB) {
		redistest.WaitFor(tb, 60*time.Millisecond, "never", func() bool { return false })
	})
	if !strings.Contains(msg, "never") {
		t.Fatalf("WaitFor failure %q does not name what it waited for", msg)
	}
}

func TestPortsNeverRepeat(t *testing.T) {
	var ports redistest.Ports
	seen := make(map[int]bool)
	for range 50 {
		p := ports.Free(t)
		if seen[p] {
			t.Fatalf("port %d handed out twice", p)
		}
		seen[p] = true
	}
	if p := redistest.FreePort(t); p <= 0 || p > 65535 {
		t.Fatalf("FreePort = %d", p)
	}
}

func TestParseInfo(t *testing.T) {
	got := redistest.ParseInfo("# Replication\r\nrole:master\r\nconnected_slaves:1\r\nslave0:ip=127.0.0.1,port=1,state=online\r\n\r\n")
	want := map[string]string{"role": "master", "connected_slaves": "1", "slave0": "ip=127.0.0.1,port=1,state=online"}
	if len(got) != len(want) {
		t.Fatalf("ParseInfo = %v", got)
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("ParseInfo[%q] = %q, want %q", k, got[k], v)
		}
	}
}
