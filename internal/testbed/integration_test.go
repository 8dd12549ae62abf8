package testbed

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/vigil-ha/vigil/internal/resp"
)

// Real-process tests: redis-server, redis-sentinel and a freshly built
// vigil binary. Skipped with -short.

func requireBinary(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Skipf("%s not installed (scripts/install-deps.sh --sentinel installs it): %v", name, err)
	}
}

// buildVigil compiles cmd/vigil into a temporary directory.
func buildVigil(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "vigil")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/vigil-ha/vigil/cmd/vigil").CombinedOutput()
	if err != nil {
		t.Fatalf("go build cmd/vigil: %v\n%s", err, out)
	}
	return bin
}

func newEnv(t *testing.T, opts Options) *Env {
	t.Helper()
	env, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		procs := env.Procs()
		if err := env.Close(); err != nil {
			t.Error(err)
		}
		for _, p := range procs {
			if !p.Exited() {
				t.Errorf("%s (pid %d) still running after Close", p.Name, p.PID())
			}
		}
		if _, err := os.Stat(env.Dir); !os.IsNotExist(err) {
			t.Errorf("%s not removed: %v", env.Dir, err)
		}
	})
	return env
}

// poll waits for cond, failing the test after timeout.
func poll(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestPauseResumeKill(t *testing.T) {
	if testing.Short() {
		t.Skip("starts redis-server")
	}
	requireBinary(t, DefaultRedisServer)
	env := newEnv(t, Options{})
	ctx := context.Background()
	s, err := env.StartRedis(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Pause(); err != nil {
		t.Fatal(err)
	}
	if err := resp.Ping(s.Addr(), 200*time.Millisecond); err == nil {
		t.Fatal("a paused server answered PING")
	}
	if err := s.Resume(); err != nil {
		t.Fatal(err)
	}
	poll(t, 5*time.Second, "resumed server to answer", func() bool { return resp.Ping(s.Addr(), 200*time.Millisecond) == nil })
	s.Kill()
	if !s.Proc().Exited() {
		t.Fatal("killed server still running")
	}
	if err := s.Pause(); err == nil {
		t.Fatal("Pause of an exited process succeeded")
	}
}

// TestKillFailover runs one kill -9 story per controller kind: a writer
// through discovery, events, address polling and role probing, and the
// read-back of acknowledged writes.
func TestKillFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("starts redis-server and controllers")
	}
	requireBinary(t, DefaultRedisServer)
	for _, kind := range AllKinds() {
		t.Run(string(kind), func(t *testing.T) {
			opts := Options{}
			if kind == KindVigil {
				opts.Vigil = buildVigil(t)
			} else {
				requireBinary(t, DefaultRedisSentinel)
			}
			testKillFailover(t, newEnv(t, opts), kind)
		})
	}
}

func testKillFailover(t *testing.T, env *Env, kind Kind) {
	ctx := context.Background()
	const name = "mymaster"
	grp, err := env.StartGroup(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	ctrls, err := env.StartControllers(ctx, 2, ControllerConfig{
		Kind: kind, MasterName: name, MasterAddr: grp.Master.Addr(), Quorum: 1,
		DownAfter: time.Second, FailoverTimeout: 10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := WaitControllersReady(ctx, ctrls, name, 1); err != nil {
		t.Fatal(err)
	}
	addrs := []string{ctrls[0].Addr(), ctrls[1].Addr()}
	watcher, err := WatchEvents(ctx, addrs)
	if err != nil {
		t.Fatal(err)
	}
	defer watcher.Close()
	poller := PollMasterAddr(ctx, addrs, name, 10*time.Millisecond)
	defer poller.Close()
	prober := ProbeRoles(ctx, []string{grp.Master.Addr(), grp.Replicas[0].Addr()}, 10*time.Millisecond)
	defer prober.Close()
	w, err := StartWriter(ctx, WriterOptions{MasterName: name, Controllers: addrs})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	poll(t, 10*time.Second, "writes on the master", func() bool {
		_, ok := w.LastAckOn(grp.Master.Addr())
		return ok && w.Acked() > 50
	})
	if got := prober.Current()[grp.Master.Addr()]; got != StateMasterWritable {
		t.Errorf("master probed as %q", got)
	}

	faultAt, err := Inject(ctx, FaultKill9, grp, nil, name)
	if err != nil {
		t.Fatal(err)
	}
	replica := grp.Replicas[0].Addr()
	poll(t, 30*time.Second, "every controller to answer the replica and a write acknowledged there", func() bool {
		if _, ok := poller.AllAnswer(replica, faultAt); !ok {
			return false
		}
		last, ok := w.LastAckOn(replica)
		return ok && last.Start.After(faultAt)
	})
	poll(t, 5*time.Second, "+switch-master", func() bool {
		_, ok := watcher.First("+switch-master", name+" ", faultAt)
		return ok
	})
	if _, ok := watcher.First("+sdown", "master "+name+" ", faultAt); !ok {
		t.Error("no +sdown for the master")
	}
	writes := w.Stop()
	first, ok := FirstAckOn(writes, replica, faultAt)
	if !ok || first.End.Before(faultAt) {
		t.Fatalf("no acknowledged write on the new master after the fault")
	}
	t.Logf("%s: first write on the new master %v after kill -9", kind, first.End.Sub(faultAt))
	lost, err := LostWrites(ctx, grp.Replicas[0].Client(), "", writes)
	if err != nil {
		t.Fatal(err)
	}
	acked := 0
	for _, wr := range writes {
		if wr.Acked() {
			acked++
		}
	}
	if len(lost) > acked {
		t.Fatalf("%d lost of %d acknowledged", len(lost), acked)
	}
	// A key the writer never wrote is reported lost by a read-back.
	fake := append(writes[:len(writes):len(writes)], Write{Seq: int64(len(writes)) + 1000})
	lostFake, err := LostWrites(ctx, grp.Replicas[0].Client(), "", fake)
	if err != nil || len(lostFake) != len(lost)+1 || lostFake[len(lostFake)-1] != int64(len(writes))+1000 {
		t.Fatalf("read-back of a missing key: %v, %v", lostFake, err)
	}
	if roles := prober.Current(); roles[replica] != StateMasterWritable {
		t.Errorf("new master probed as %q", roles[replica])
	}
	out, err := ctrls[0].Output()
	if err != nil || out == "" {
		t.Errorf("controller output: %q, %v", out, err)
	}
	if ctrls[0].Port == 0 || strconv.Itoa(ctrls[0].Port) == "" {
		t.Error("controller has no port")
	}
}

// TestMain silences go-redis's logger: every failed dial during a fault
// would be printed.
func TestMain(m *testing.M) {
	redis.SetLogger(discardLogger{})
	os.Exit(m.Run())
}

type discardLogger struct{}

func (discardLogger) Printf(context.Context, string, ...any) {}
