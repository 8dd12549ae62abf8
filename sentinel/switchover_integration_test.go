package sentinel

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vigil-ha/vigil/config"
	"github.com/vigil-ha/vigil/internal/redistest"
)

// ackRecorder writes increasing values through discovery and remembers
// every acknowledged one.
type ackRecorder struct {
	mu    sync.Mutex
	acked []int
}

func (a *ackRecorder) run(ctx context.Context, fc *redis.Client, stop <-chan struct{}) {
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		default:
		}
		if fc.Set(ctx, "ack:"+strconv.Itoa(i), i, 0).Err() == nil {
			a.mu.Lock()
			a.acked = append(a.acked, i)
			a.mu.Unlock()
		} else {
			time.Sleep(5 * time.Millisecond)
		}
	}
}

func (a *ackRecorder) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.acked)
}

// lost returns the acknowledged writes missing on srv.
func (a *ackRecorder) lost(t *testing.T, srv *redistest.Server) []int {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	ctx := context.Background()
	var missing []int
	c := srv.Client()
	for _, v := range a.acked {
		got, err := c.Get(ctx, "ack:"+strconv.Itoa(v)).Result()
		if err != nil || got != strconv.Itoa(v) {
			missing = append(missing, v)
		}
	}
	return missing
}

// TestSwitchoverLosesNoAcknowledgedWrite hands the master role to a chosen
// replica under continuous writes through a go-redis FailoverClient and
// checks that every acknowledged write is on the new master.
func TestSwitchoverLosesNoAcknowledgedWrite(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	grp := redistest.StartGroup(t, 2, redistest.Options{})
	mc := master(t, grp.Master.Addr(), 2, 2*time.Second)
	mc.FailoverTimeout = 20 * time.Second
	nodes := startCluster(t, 3, "mymaster", mc, false)
	waitPeers(t, nodes, "mymaster")
	target := grp.Replicas[1]
	redistest.WaitFor(t, 15*time.Second, "replicas known with link up", func() bool {
		return len(splitInstances(redisCLI(t, nodes[0].Addr(), "SENTINEL", "replicas", "mymaster"))) == 2 &&
			fieldMap(firstInstance(redisCLI(t, nodes[0].Addr(), "SENTINEL", "replicas", "mymaster")))["master-link-status"] == "ok"
	})

	ctx := context.Background()
	fc := redis.NewFailoverClient(&redis.FailoverOptions{
		MasterName:    "mymaster",
		SentinelAddrs: []string{nodes[0].Addr(), nodes[1].Addr(), nodes[2].Addr()},
		DialTimeout:   500 * time.Millisecond,
		ReadTimeout:   2 * time.Second,
		WriteTimeout:  500 * time.Millisecond,
		MaxRetries:    -1,
	})
	defer func() { _ = fc.Close() }()
	rec := &ackRecorder{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { rec.run(ctx, fc, stop) })
	redistest.WaitFor(t, 10*time.Second, "writes flowing", func() bool { return rec.count() > 200 })

	out := redisCLI(t, nodes[0].Addr(), "SENTINEL", "SWITCHOVER", "mymaster", "127.0.0.1", strconv.Itoa(target.Port))
	if out != "OK" {
		t.Fatalf("SWITCHOVER: %s", out)
	}
	for _, n := range nodes {
		redistest.WaitFor(t, 10*time.Second, "every node to answer the target", func() bool {
			return redisCLI(t, n.Addr(), "SENTINEL", "get-master-addr-by-name", "mymaster") == "127.0.0.1\n"+strconv.Itoa(target.Port)
		})
	}
	before := rec.count()
	redistest.WaitFor(t, 10*time.Second, "writes on the new master", func() bool { return rec.count() > before+200 })
	close(stop)
	wg.Wait()

	redistest.WaitFor(t, 10*time.Second, "old master following the target", func() bool {
		info, err := grp.Master.Info(ctx, "replication")
		return err == nil && info["role"] == "slave" && info["master_port"] == strconv.Itoa(target.Port)
	})
	if lost := rec.lost(t, target); len(lost) > 0 {
		t.Fatalf("%d of %d acknowledged writes lost, first %v", len(lost), rec.count(), lost[:min(10, len(lost))])
	}
	t.Logf("%d acknowledged writes, none lost", rec.count())
}

// TestManualFailoverAndPriorityZero: SENTINEL FAILOVER promotes the only
// eligible replica (the other has replica-priority 0) without agreement.
func TestManualFailoverAndPriorityZero(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	grp := redistest.StartGroup(t, 2, redistest.Options{})
	ctx := context.Background()
	if _, err := grp.Replicas[0].Do(ctx, "config", "set", "replica-priority", "0"); err != nil {
		t.Fatal(err)
	}
	mc := master(t, grp.Master.Addr(), 1, 2*time.Second)
	mc.FailoverTimeout = 20 * time.Second
	n := startNode(t, testConfig(t, map[string]config.MasterConfig{"mymaster": mc}))
	redistest.WaitFor(t, 15*time.Second, "both replicas known and their INFO read", func() bool {
		blocks := splitInstances(redisCLI(t, n.Addr(), "SENTINEL", "replicas", "mymaster"))
		for _, b := range blocks {
			if fieldMap(b)["master-link-status"] != "ok" {
				return false
			}
		}
		return len(blocks) == 2
	})
	if out := redisCLI(t, n.Addr(), "SENTINEL", "FAILOVER", "mymaster"); out != "OK" {
		t.Fatalf("SENTINEL FAILOVER: %s", out)
	}
	want := "127.0.0.1\n" + strconv.Itoa(grp.Replicas[1].Port)
	redistest.WaitFor(t, 15*time.Second, "the priority-100 replica promoted", func() bool {
		return redisCLI(t, n.Addr(), "SENTINEL", "get-master-addr-by-name", "mymaster") == want
	})
	redistest.WaitFor(t, 15*time.Second, "old master and priority-0 replica following", func() bool {
		for _, s := range []*redistest.Server{grp.Master, grp.Replicas[0]} {
			info, err := s.Info(ctx, "replication")
			if err != nil || info["role"] != "slave" || info["master_port"] != strconv.Itoa(grp.Replicas[1].Port) {
				return false
			}
		}
		return true
	})
}

// TestNoGoodReplicaAborts: with its only replica at priority 0, a dead
// master is not failed over: -failover-abort-no-good-slave, nothing changed,
// and SENTINEL FAILOVER answers -NOGOODSLAVE.
func TestNoGoodReplicaAborts(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	grp := redistest.StartGroup(t, 1, redistest.Options{})
	ctx := context.Background()
	if _, err := grp.Replicas[0].Do(ctx, "config", "set", "replica-priority", "0"); err != nil {
		t.Fatal(err)
	}
	mc := master(t, grp.Master.Addr(), 1, time.Second)
	mc.FailoverTimeout = 5 * time.Second
	n := startNode(t, testConfig(t, map[string]config.MasterConfig{"mymaster": mc}))
	redistest.WaitFor(t, 15*time.Second, "replica known", func() bool {
		f := fieldMap(firstInstance(redisCLI(t, n.Addr(), "SENTINEL", "replicas", "mymaster")))
		return f["slave-priority"] == "0"
	})
	if out := redisCLI(t, n.Addr(), "SENTINEL", "FAILOVER", "mymaster"); out != "NOGOODSLAVE No suitable replica to promote" {
		t.Fatalf("SENTINEL FAILOVER: %q", out)
	}
	events, cancel := n.Subscribe("-failover-abort-no-good-slave")
	defer cancel()
	grp.Master.Kill()
	select {
	case <-events:
	case <-time.After(15 * time.Second):
		t.Fatal("no -failover-abort-no-good-slave event")
	}
	if got := redisCLI(t, n.Addr(), "SENTINEL", "get-master-addr-by-name", "mymaster"); got != "127.0.0.1\n"+strconv.Itoa(grp.Master.Port) {
		t.Fatalf("master address changed to %q", got)
	}
	info, err := grp.Replicas[0].Info(ctx, "replication")
	if err != nil || info["role"] != "slave" {
		t.Fatalf("replica touched: %v %v", info["role"], err)
	}
}

// TestForeignMasterReplicaNotPromoted: a replica that now reports role
// master with a replication history that is not the master's (here: made
// master and given a new replication ID, as after a restart with an empty
// data set and no replicaof) is never promoted, even when it is the only
// replica left: -failover-abort-no-good-slave, nothing changed.
func TestForeignMasterReplicaNotPromoted(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	grp := redistest.StartGroup(t, 2, redistest.Options{Args: []string{"--enable-debug-command", "yes"}})
	ctx := context.Background()
	if err := grp.Master.Client().Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	mc := master(t, grp.Master.Addr(), 1, time.Second)
	mc.FailoverTimeout = 5 * time.Second
	n := startNode(t, testConfig(t, map[string]config.MasterConfig{"mymaster": mc}))
	redistest.WaitFor(t, 15*time.Second, "both replicas known and their INFO read", func() bool {
		blocks := splitInstances(redisCLI(t, n.Addr(), "SENTINEL", "replicas", "mymaster"))
		for _, b := range blocks {
			if fieldMap(b)["master-link-status"] != "ok" {
				return false
			}
		}
		return len(blocks) == 2
	})
	// Hold the failover while the world changes under it.
	if out := redisCLI(t, n.Addr(), "SENTINEL", "PAUSE", "mymaster"); out != "OK" {
		t.Fatalf("SENTINEL PAUSE: %q", out)
	}
	foreign := grp.Replicas[1]
	grp.Replicas[0].Kill()
	grp.Master.Kill()
	redistest.WaitFor(t, 15*time.Second, "the master s_down", func() bool {
		return strings.Contains(fieldMap(redisCLI(t, n.Addr(), "SENTINEL", "master", "mymaster"))["flags"], "s_down")
	})
	for _, cmd := range [][]any{{"replicaof", "no", "one"}, {"debug", "change-repl-id"}} {
		if _, err := foreign.Do(ctx, cmd...); err != nil {
			t.Fatalf("%v: %v", cmd, err)
		}
	}
	redistest.WaitFor(t, 15*time.Second, "the node to see the replica report master", func() bool {
		for _, b := range splitInstances(redisCLI(t, n.Addr(), "SENTINEL", "replicas", "mymaster")) {
			if f := fieldMap(b); f["port"] == strconv.Itoa(foreign.Port) && f["role-reported"] == "master" {
				return true
			}
		}
		return false
	})
	events, cancel := n.Subscribe("-failover-abort-no-good-slave")
	defer cancel()
	if out := redisCLI(t, n.Addr(), "SENTINEL", "RESUME", "mymaster"); out != "OK" {
		t.Fatalf("SENTINEL RESUME: %q", out)
	}
	select {
	case <-events:
	case <-time.After(15 * time.Second):
		t.Fatal("no -failover-abort-no-good-slave event")
	}
	if got := redisCLI(t, n.Addr(), "SENTINEL", "get-master-addr-by-name", "mymaster"); got != "127.0.0.1\n"+strconv.Itoa(grp.Master.Port) {
		t.Fatalf("master address changed to %q", got)
	}
}
