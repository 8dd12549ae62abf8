package sentinel

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vigil-ha/vigil/config"
	"github.com/vigil-ha/vigil/internal/redistest"
)

// TestSingleNodeMonitoring is the foundation's end-to-end check with real
// redis-server processes and the real redis-cli: discovery of the master and
// its replicas, s_down after kill -9 within down-after + 2 s, cleared after
// restart, and the +sdown/-sdown events on the Pub/Sub port. It runs with
// the links connected and read by the link set's epoll loop, and with every
// connection dialled and read by goroutines (TLS, host names, no epoll).
func TestSingleNodeMonitoring(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	for _, pump := range []bool{false, true} {
		t.Run(map[bool]string{false: "epoll", true: "pumped"}[pump], func(t *testing.T) {
			testSingleNodeMonitoring(t, pump)
		})
	}
}

func testSingleNodeMonitoring(t *testing.T, pump bool) {
	grp := redistest.StartGroup(t, 2, redistest.Options{})
	ctx := context.Background()
	const downAfter = time.Second
	// Quorum 2 with a single node: monitoring only, never a failover. The
	// master holds no keys, so its empty restart is not a data regression.
	cfg := testConfig(t, map[string]config.MasterConfig{"mymaster": master(t, grp.Master.Addr(), 2, downAfter)})
	cn := startNodeSetup(t, cfg, slog.New(slog.NewTextHandler(newTestWriter(t), &slog.HandlerOptions{Level: slog.LevelDebug})),
		func(n *Node) { n.pumpLinks = pump })
	cn.mustEndCleanly = true
	n := cn.Node

	got := redisCLI(t, n.Addr(), "SENTINEL", "get-master-addr-by-name", "mymaster")
	if want := "127.0.0.1\n" + strconv.Itoa(grp.Master.Port); got != want {
		t.Fatalf("get-master-addr-by-name = %q, want %q", got, want)
	}

	redistest.WaitFor(t, 15*time.Second, "both replicas listed with offsets", func() bool {
		out := redisCLI(t, n.Addr(), "SENTINEL", "replicas", "mymaster")
		seen := 0
		for _, r := range grp.Replicas {
			for _, block := range splitInstances(out) {
				f := fieldMap(block)
				if f["port"] == strconv.Itoa(r.Port) && f["master-link-status"] == "ok" {
					if off, err := strconv.ParseInt(f["slave-repl-offset"], 10, 64); err == nil && off > 0 {
						seen++
					}
				}
			}
		}
		return seen == 2
	})

	// Watch events through the Pub/Sub port with a real client.
	sc := redis.NewClient(&redis.Options{Addr: n.Addr()})
	defer func() { _ = sc.Close() }()
	ps := sc.Subscribe(ctx, "+sdown", "-sdown")
	defer func() { _ = ps.Close() }()
	if _, err := ps.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	events := ps.Channel()

	grp.Master.Kill()
	killed := time.Now()
	redistest.WaitFor(t, downAfter+2*time.Second, "s_down in master flags within down-after + 2s", func() bool {
		return strings.Contains(fieldMap(redisCLI(t, n.Addr(), "SENTINEL", "master", "mymaster"))["flags"], "s_down")
	})
	t.Logf("s_down seen %v after kill -9 (down-after %v)", time.Since(killed), downAfter)
	// A single node with quorum 2 never reaches o_down, and says why.
	if e := redisCLI(t, n.Addr(), "SENTINEL", "EXPLAIN", "mymaster"); !strings.HasPrefix(e, "reason\nnot-odown") {
		t.Errorf("EXPLAIN = %q, want not-odown", e)
	}
	expectEvent(t, events, "+sdown", "master mymaster 127.0.0.1 "+strconv.Itoa(grp.Master.Port))

	grp.Master.Restart(t)
	redistest.WaitFor(t, 10*time.Second, "s_down cleared after restart", func() bool {
		return !strings.Contains(fieldMap(redisCLI(t, n.Addr(), "SENTINEL", "master", "mymaster"))["flags"], "s_down")
	})
	expectEvent(t, events, "-sdown", "master mymaster 127.0.0.1 "+strconv.Itoa(grp.Master.Port))
}

func replOffset(s *redistest.Server, field string) int64 {
	info, err := s.Info(context.Background(), "replication")
	if err != nil {
		return -1
	}
	v, _ := strconv.ParseInt(info[field], 10, 64)
	return v
}

// splitInstances splits redis-cli's output of an array of instance maps
// into one block per instance (each starts with the "name" field).
func splitInstances(out string) []string {
	var blocks []string
	lines := strings.Split(out, "\n")
	start := -1
	for i := 0; i+1 < len(lines); i += 2 {
		if lines[i] == "name" {
			if start >= 0 {
				blocks = append(blocks, strings.Join(lines[start:i], "\n"))
			}
			start = i
		}
	}
	if start >= 0 {
		blocks = append(blocks, strings.Join(lines[start:], "\n"))
	}
	return blocks
}

func expectEvent(t *testing.T, ch <-chan *redis.Message, typ, payload string) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case m := <-ch:
			if m.Channel == typ && m.Payload == payload {
				return
			}
		case <-deadline:
			t.Fatalf("no %s %q event", typ, payload)
		}
	}
}
