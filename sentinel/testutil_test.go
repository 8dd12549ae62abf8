package sentinel

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/config"
	"github.com/vigil-ha/vigil/topology"
)

// testWriter writes node logs into the test's output until the test ends;
// later writes (memberlist timers can fire after shutdown) are dropped, as
// testing panics on a Log after the test completed.
type testWriter struct {
	t    testing.TB
	mu   sync.Mutex
	done bool
}

func newTestWriter(t testing.TB) *testWriter {
	w := &testWriter{t: t}
	t.Cleanup(func() {
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	return w
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func testConfig(t testing.TB, masters map[string]config.MasterConfig) config.Config {
	t.Helper()
	cfg := config.Default()
	cfg.Node.Listen = "127.0.0.1:0"
	cfg.Node.DataDir = t.TempDir()
	cfg.Gossip.Bind = "127.0.0.1:0"
	for name, m := range masters {
		m.Name = name
		cfg.Masters[name] = m
	}
	return cfg
}

func master(t testing.TB, addr string, quorum int, downAfter time.Duration) config.MasterConfig {
	t.Helper()
	a, err := topology.ParseAddr(addr)
	if err != nil {
		t.Fatal(err)
	}
	m := config.NewMaster("", a, quorum)
	m.DownAfter = downAfter
	return m
}

// crashableNode is a running node whose Run result the test can read: a
// simulated failure makes Run return ErrSimulatedFailure. startNode is
// the same with any error from Run reported as a test failure.
type crashableNode struct {
	*Node
	done chan struct{}
	err  error // what Run returned, once done is closed
	// mustEndCleanly makes the test fail when Run returned an error.
	mustEndCleanly bool
}

func startCrashableNode(t testing.TB, cfg config.Config) *crashableNode {
	t.Helper()
	return startNodeLogging(t, cfg, slog.New(slog.NewTextHandler(newTestWriter(t), &slog.HandlerOptions{Level: slog.LevelDebug})))
}

// startNodeLogging is startCrashableNode logging to log.
func startNodeLogging(t testing.TB, cfg config.Config, log *slog.Logger) *crashableNode {
	t.Helper()
	return startNodeSetup(t, cfg, log, nil)
}

// startNodeSetup is startNodeLogging with setup, when not nil, run on the
// node before it starts.
func startNodeSetup(t testing.TB, cfg config.Config, log *slog.Logger, setup func(*Node)) *crashableNode {
	t.Helper()
	n, err := New(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	if setup != nil {
		setup(n)
	}
	if err := n.Listen(); err != nil {
		t.Fatal(err)
	}
	cn := &crashableNode{Node: n, done: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		defer close(cn.done)
		cn.err = n.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-cn.done:
			if cn.mustEndCleanly && cn.err != nil {
				t.Error(cn.err)
			}
		case <-time.After(10 * time.Second):
			t.Error("node did not stop within 10s of cancel")
		}
	})
	return cn
}

// startNode runs a node until the test ends and returns it listening.
func startNode(t testing.TB, cfg config.Config) *Node {
	t.Helper()
	cn := startCrashableNode(t, cfg)
	cn.mustEndCleanly = true
	return cn.Node
}

// redisCLI runs the real redis-cli against addr and returns its output.
func redisCLI(t testing.TB, addr string, args ...string) string {
	t.Helper()
	host, port, _ := strings.Cut(addr, ":")
	out, err := exec.Command("redis-cli", append([]string{"-h", host, "-p", port}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("redis-cli %v: %v: %s", args, err, out)
	}
	return strings.TrimRight(string(out), "\n")
}

// fieldMap turns redis-cli's one-value-per-line output of a flat field/value
// array into a map.
func fieldMap(out string) map[string]string {
	lines := strings.Split(out, "\n")
	m := map[string]string{}
	for i := 0; i+1 < len(lines); i += 2 {
		m[lines[i]] = lines[i+1]
	}
	return m
}

func writeFile(path, content string) error {
	return os.WriteFile(path, []byte(content), 0o600)
}

// firstInstance returns the first instance block of redis-cli's output of
// an array of instance maps.
func firstInstance(out string) string {
	if b := splitInstances(out); len(b) > 0 {
		return b[0]
	}
	return ""
}

// startStoppableNode is startNode with a stop function that shuts the node
// down (and waits) before the test ends, like a crash of the process.
func startStoppableNode(t testing.TB, cfg config.Config) (*Node, func()) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(newTestWriter(t), &slog.HandlerOptions{Level: slog.LevelDebug}))
	n, err := New(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = n.Run(ctx)
	}()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Error("node did not stop within 10s")
			}
		})
	}
	t.Cleanup(stop)
	return n, stop
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
