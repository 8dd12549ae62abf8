package sentinel

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vigil-ha/vigil/config"
	"github.com/vigil-ha/vigil/internal/redistest"
)

// TestFenceIsolatedMaster is the reference partition seen from the node on
// the master's side: {master, node-1, writer} | {2 replicas, node-2,
// node-3}. Node-1 reaches the master directly and the replicas only through
// TCP proxies (they announce the proxies' ports), the replicas replicate
// through a proxy too, and node-1's two peers are known but silent (it has
// them in its state; they are started only for the heal, as the majority
// that failed over meanwhile). Cutting the proxies isolates the master:
// node-1 must fence it (-NOREPLICAS) within a generous deadline, keep it
// fenced, and after the heal, when the majority shows up with the new
// configuration, the old master must be demoted without having
// acknowledged a single write since the fence, and its
// min-replicas-to-write restored.
func TestFenceIsolatedMaster(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	ctx := context.Background()
	m := redistest.Start(t, redistest.Options{})
	pm := redistest.NewProxy(t, m.Addr())
	var reps []*redistest.Server
	var pr []*redistest.Proxy
	for range 2 {
		r := redistest.Start(t, redistest.Options{})
		p := redistest.NewProxy(t, r.Addr())
		_, port, _ := strings.Cut(p.Addr(), ":")
		// Announce the proxy, then replicate (through pm).
		if err := r.Client().ConfigSet(ctx, "replica-announce-port", port).Err(); err != nil {
			t.Fatal(err)
		}
		host, mport, _ := strings.Cut(pm.Addr(), ":")
		if err := r.Client().Do(ctx, "REPLICAOF", host, mport).Err(); err != nil {
			t.Fatal(err)
		}
		reps, pr = append(reps, r), append(pr, p)
	}
	redistest.WaitFor(t, redistest.SyncTimeout, "replicas online at their proxies' ports", func() bool {
		info, err := m.Info(ctx, "replication")
		if err != nil || info["connected_slaves"] != "2" {
			return false
		}
		for i, p := range pr {
			_, port, _ := strings.Cut(p.Addr(), ":")
			if !strings.Contains(info["slave"+strconv.Itoa(i)], "port="+port) && !strings.Contains(info["slave"+strconv.Itoa(1-i)], "port="+port) {
				return false
			}
		}
		return true
	})

	ids := []string{strings.Repeat("1", 40), strings.Repeat("2", 40), strings.Repeat("3", 40)}
	peers := []PeerRecord{{ID: ids[1], Addr: "127.0.0.1:1"}, {ID: ids[2], Addr: "127.0.0.1:2"}}
	mc := master(t, m.Addr(), 2, time.Second)
	mc.FailoverTimeout = time.Minute
	cfg1 := testConfig(t, map[string]config.MasterConfig{"mymaster": mc})
	cfg1.Node.ID = ids[0]
	seedState(t, cfg1.Node.DataDir, &DurableState{Version: stateVersion, NodeID: ids[0], Masters: map[string]*MasterRecord{
		"mymaster": {ConfiguredAddr: m.Addr(), Addr: m.Addr(), KnownPeers: peers},
	}})
	n1 := startNode(t, cfg1)
	fences, stopFences := n1.Subscribe("*fence")
	defer stopFences()

	redistest.WaitFor(t, 15*time.Second, "node-1 to see both replicas healthy", func() bool {
		out := redisCLI(t, n1.Addr(), "SENTINEL", "REPLICAS", "mymaster")
		return strings.Count(out, "\nflags\nslave\n") == 2
	})
	if err := m.Client().Set(ctx, "before", "1", 0).Err(); err != nil {
		t.Fatalf("write before the cut (replicas healthy, so no fence): %v", err)
	}

	// The writer: SET every 5 ms on the old master, recording acks.
	w := startFenceWriter(t, m.Addr())
	cut := time.Now()
	pm.Cut()
	for _, p := range pr {
		p.Cut()
	}
	var refusedAt time.Time
	redistest.WaitFor(t, 10*time.Second, "the isolated master to refuse writes (-NOREPLICAS)", func() bool {
		err := m.Client().Set(ctx, "probe", "1", 0).Err()
		if err != nil && strings.HasPrefix(err.Error(), "NOREPLICAS") {
			refusedAt = time.Now()
			return true
		}
		return false
	})
	t.Logf("isolated master refuses writes %v after the cut", refusedAt.Sub(cut).Round(time.Millisecond))
	select {
	case ev := <-fences:
		if ev.Type != "+fence" {
			t.Fatalf("first fence event %v", ev)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no +fence event")
	}
	lastAck := w.lastAck()
	t.Logf("last write acknowledged by the isolated master %v after the cut", lastAck.Sub(cut).Round(time.Millisecond))
	if lastAck.After(refusedAt) {
		t.Fatalf("a write was acknowledged at %v, after the master refused one at %v", lastAck, refusedAt)
	}

	// Meanwhile the majority fails over: replica 0 promoted, replica 1
	// follows it (done here, as nodes 2 and 3 would have).
	if err := reps[0].Client().Do(ctx, "REPLICAOF", "NO", "ONE").Err(); err != nil {
		t.Fatal(err)
	}
	if err := reps[1].Client().Do(ctx, "REPLICAOF", "127.0.0.1", strconv.Itoa(reps[0].Port)).Err(); err != nil {
		t.Fatal(err)
	}
	// Still fenced well after the cut: silence alone never lifts it.
	redistest.WaitFor(t, 10*time.Second, "3 s after the cut", func() bool { return time.Since(cut) > 3*time.Second })
	if err := m.Client().Set(ctx, "probe", "2", 0).Err(); err == nil || !strings.HasPrefix(err.Error(), "NOREPLICAS") {
		t.Fatalf("3 s after the cut the isolated master answered %v to a write, want -NOREPLICAS", err)
	}

	// Heal: the majority (nodes 2 and 3, with the new configuration at
	// epoch 1) is heard again.
	for _, p := range append(pr, pm) {
		p.Heal()
	}
	heal := time.Now()
	for _, id := range ids[1:] {
		cfg := testConfig(t, map[string]config.MasterConfig{"mymaster": mc})
		cfg.Node.ID = id
		cfg.Gossip.Join = []string{n1.GossipAddr()}
		seedState(t, cfg.Node.DataDir, &DurableState{Version: stateVersion, NodeID: id, CurrentEpoch: 1, Masters: map[string]*MasterRecord{
			"mymaster": {ConfiguredAddr: m.Addr(), Addr: reps[0].Addr(), ConfigEpoch: 1, KnownReplicas: []string{m.Addr(), pr[1].Addr()}},
		}})
		startNode(t, cfg)
	}
	redistest.WaitFor(t, 15*time.Second, "the old master to be demoted", func() bool {
		role, err := m.Client().Do(ctx, "ROLE").Slice()
		return err == nil && len(role) > 0 && role[0] == "slave"
	})
	t.Logf("old master demoted %v after the heal", time.Since(heal).Round(time.Millisecond))
	if acked := w.ackedAfter(refusedAt); acked > 0 {
		t.Fatalf("%d writes acknowledged by the old master after it was fenced", acked)
	}
	redistest.WaitFor(t, 10*time.Second, "min-replicas-to-write restored on the demoted master", func() bool {
		v, err := m.Client().ConfigGet(ctx, "min-replicas-to-write").Result()
		return err == nil && v["min-replicas-to-write"] == "0"
	})
	w.stop()
}

// TestFenceNotRaisedWhileMajorityHeard: replicas gone (killed) but the
// node hears its peers: degraded, not isolated, so the master stays
// writable.
func TestFenceNotRaisedWhileMajorityHeard(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	ctx := context.Background()
	grp := redistest.StartGroup(t, 1, redistest.Options{})
	mc := master(t, grp.Master.Addr(), 2, time.Second)
	mc.FailoverTimeout = time.Minute
	var nodes []*Node
	for i := range 3 {
		cfg := testConfig(t, map[string]config.MasterConfig{"mymaster": mc})
		if i > 0 {
			cfg.Gossip.Join = []string{nodes[0].GossipAddr()}
		}
		nodes = append(nodes, startNode(t, cfg))
	}
	redistest.WaitFor(t, 20*time.Second, "nodes to know each other and the replica", func() bool {
		for _, n := range nodes {
			f := fieldMap(redisCLI(t, n.Addr(), "SENTINEL", "MASTER", "mymaster"))
			if f["num-other-sentinels"] != "2" || f["num-slaves"] != "1" {
				return false
			}
		}
		return true
	})
	grp.Replicas[0].Kill()
	killed := time.Now()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for range tick.C {
		if time.Since(killed) > 3*time.Second {
			break
		}
		if err := grp.Master.Client().Set(ctx, "k", "v", 0).Err(); err != nil {
			t.Fatalf("%v after the replica died: write refused: %v", time.Since(killed).Round(time.Millisecond), err)
		}
	}
}

// TestFenceNotRaisedBetweenPings: a node whose peers are known but gone
// hears no majority, and its healthy replica, with down-after 5 s, answers
// a PING once a second. The replica's silence between two PINGs is not
// isolation: the master must stay writable and unfenced. (With a fixed
// 600 ms replica silence the node fenced and unfenced it every few
// seconds.)
func TestFenceNotRaisedBetweenPings(t *testing.T) {
	testFenceNotRaisedAlone(t, 1, 5*time.Second)
}

// TestFenceNotRaisedWithoutReplicas: the same node watching a master
// without replicas. No failover can replace that master, so a fence would
// protect nothing and refuse every write.
func TestFenceNotRaisedWithoutReplicas(t *testing.T) {
	testFenceNotRaisedAlone(t, 0, time.Second)
}

// testFenceNotRaisedAlone starts one node whose two peers are known but
// silent, watching a healthy master with replicas replicas, and checks
// that the master stays writable and unfenced over four seconds.
func testFenceNotRaisedAlone(t *testing.T, replicas int, downAfter time.Duration) {
	if testing.Short() {
		t.Skip("integration test")
	}
	ctx := context.Background()
	grp := redistest.StartGroup(t, replicas, redistest.Options{})
	mc := master(t, grp.Master.Addr(), 2, downAfter)
	cfg := testConfig(t, map[string]config.MasterConfig{"mymaster": mc})
	cfg.Node.ID = strings.Repeat("1", 40)
	seedState(t, cfg.Node.DataDir, &DurableState{Version: stateVersion, NodeID: cfg.Node.ID, Masters: map[string]*MasterRecord{
		"mymaster": {ConfiguredAddr: grp.Master.Addr(), Addr: grp.Master.Addr(), KnownPeers: []PeerRecord{
			{ID: strings.Repeat("2", 40), Addr: "127.0.0.1:1"}, {ID: strings.Repeat("3", 40), Addr: "127.0.0.1:2"},
		}},
	}})
	n := startNode(t, cfg)
	fences, stop := n.Subscribe("*fence")
	defer stop()
	redistest.WaitFor(t, 15*time.Second, "the node to see the replicas and know its peers", func() bool {
		f := fieldMap(redisCLI(t, n.Addr(), "SENTINEL", "MASTER", "mymaster"))
		return f["num-slaves"] == strconv.Itoa(replicas) && f["num-other-sentinels"] == "2"
	})
	// Watch four seconds: writes must keep being acknowledged.
	watch := time.NewTimer(4 * time.Second)
	defer watch.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case ev := <-fences:
			t.Fatalf("healthy master, %d replicas answering: %s %s", replicas, ev.Type, ev.Payload)
		case <-tick.C:
			if err := grp.Master.Client().Set(ctx, "k", "v", 0).Err(); err != nil {
				t.Fatalf("write refused: %v", err)
			}
			continue
		case <-watch.C:
		}
		break
	}
}

// seedState writes a node's durable state before it starts.
func seedState(t *testing.T, dir string, st *DurableState) {
	t.Helper()
	s, err := openStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.save(st); err != nil {
		t.Fatal(err)
	}
}

// fenceWriter writes to one address every 5 ms and records the
// acknowledgements' times.
type fenceWriter struct {
	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
	acks   []time.Time
}

func startFenceWriter(t *testing.T, addr string) *fenceWriter {
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, ReadTimeout: 200 * time.Millisecond, WriteTimeout: 200 * time.Millisecond, DialTimeout: 200 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	w := &fenceWriter{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		defer func() { _ = c.Close() }()
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			if c.Set(ctx, fmt.Sprintf("w:%d", i), i, 0).Err() == nil {
				w.mu.Lock()
				w.acks = append(w.acks, time.Now())
				w.mu.Unlock()
			}
		}
	}()
	t.Cleanup(w.stop)
	return w
}

func (w *fenceWriter) stop() {
	w.cancel()
	<-w.done
}

func (w *fenceWriter) lastAck() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.acks) == 0 {
		return time.Time{}
	}
	return w.acks[len(w.acks)-1]
}

func (w *fenceWriter) ackedAfter(at time.Time) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, a := range w.acks {
		if a.After(at) {
			n++
		}
	}
	return n
}
