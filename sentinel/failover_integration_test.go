package sentinel

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vigil-ha/vigil/config"
	"github.com/vigil-ha/vigil/internal/redistest"
)

// startCluster starts n vigil nodes monitoring mc; the first is the gossip
// seed of the others unless noSeeds (then they must find each other through
// the Redis hello channel).
func startCluster(t *testing.T, count int, name string, mc config.MasterConfig, noSeeds bool) []*Node {
	t.Helper()
	var nodes []*Node
	for i := range count {
		cfg := testConfig(t, map[string]config.MasterConfig{name: mc})
		if i > 0 && !noSeeds {
			cfg.Gossip.Join = []string{nodes[0].GossipAddr()}
		}
		nodes = append(nodes, startNode(t, cfg))
	}
	return nodes
}

func waitPeers(t *testing.T, nodes []*Node, name string) {
	t.Helper()
	redistest.WaitFor(t, 20*time.Second, "every node to know the others", func() bool {
		for _, n := range nodes {
			out := redisCLI(t, n.Addr(), "SENTINEL", "sentinels", name)
			if len(splitInstances(out)) != len(nodes)-1 {
				return false
			}
		}
		return true
	})
}

// TestFailoverAfterKill is the cluster's end-to-end story with real
// redis-server processes: three nodes find each other through the master's
// hello channel, kill -9 of the master makes them agree on o_down, exactly
// one is elected, the replica with the highest offset is promoted, the other
// replica and the restarted old master follow it, and a go-redis
// FailoverClient keeps writing through it all.
func TestFailoverAfterKill(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	grp := redistest.StartGroup(t, 2, redistest.Options{})
	ctx := context.Background()
	mc := master(t, grp.Master.Addr(), 2, time.Second)
	mc.FailoverTimeout = 20 * time.Second
	nodes := startCluster(t, 3, "mymaster", mc, true)
	waitPeers(t, nodes, "mymaster")

	// Make replica 1 the best: replica 0 replicates through a proxy that is
	// cut just before the master dies, so it misses the last writes while
	// staying a healthy candidate.
	best, other := grp.Replicas[1], grp.Replicas[0]
	prx := redistest.NewProxy(t, grp.Master.Addr())
	_, prxPort, _ := strings.Cut(prx.Addr(), ":")
	if _, err := other.Do(ctx, "replicaof", "127.0.0.1", prxPort); err != nil {
		t.Fatal(err)
	}
	redistest.WaitFor(t, 20*time.Second, "lagging replica in sync through the proxy", func() bool {
		info, err := other.Info(ctx, "replication")
		return err == nil && info["master_link_status"] == "up" && info["master_sync_in_progress"] == "0"
	})
	t.Logf("best replica %s, lagging replica %s", best.Addr(), other.Addr())
	// Watch events on every node.
	var leaders sync.Map // epoch → leader ids
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for _, n := range nodes {
		ch, cancel := n.Subscribe("*")
		defer cancel()
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				case ev := <-ch:
					if ev.Type == "+elected-leader" {
						v, _ := leaders.LoadOrStore(ev.Payload, &atomic.Int32{})
						v.(*atomic.Int32).Add(1)
					}
				}
			}
		})
	}

	// A client writing through discovery the whole time.
	fc := redis.NewFailoverClient(&redis.FailoverOptions{
		MasterName:    "mymaster",
		SentinelAddrs: []string{nodes[0].Addr(), nodes[1].Addr(), nodes[2].Addr()},
		DialTimeout:   500 * time.Millisecond,
		ReadTimeout:   500 * time.Millisecond,
		WriteTimeout:  500 * time.Millisecond,
		MaxRetries:    -1,
	})
	defer func() { _ = fc.Close() }()
	var writes, acked atomic.Int64
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			writes.Add(1)
			if fc.Set(ctx, "w"+strconv.Itoa(i), i, 0).Err() == nil {
				acked.Add(1)
			} else {
				time.Sleep(20 * time.Millisecond)
			}
		}
	})
	redistest.WaitFor(t, 10*time.Second, "client writing before the fault", func() bool { return acked.Load() > 50 })

	prx.Cut()
	for i := range 200 {
		if err := grp.Master.Client().Set(ctx, "last"+strconv.Itoa(i), i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	redistest.WaitFor(t, 5*time.Second, "best replica caught up", func() bool {
		return replOffset(best, "slave_repl_offset") == replOffset(grp.Master, "master_repl_offset")
	})
	grp.Master.Kill()
	killed := time.Now()
	for _, n := range nodes {
		redistest.WaitFor(t, 15*time.Second, "every node to switch to the best replica", func() bool {
			out := redisCLI(t, n.Addr(), "SENTINEL", "get-master-addr-by-name", "mymaster")
			return out == "127.0.0.1\n"+strconv.Itoa(best.Port)
		})
	}
	t.Logf("all nodes answer the new master %v after kill -9", time.Since(killed))
	before := acked.Load()
	redistest.WaitFor(t, 15*time.Second, "client writing on the new master", func() bool { return acked.Load() > before+50 })

	redistest.WaitFor(t, 20*time.Second, "other replica following the new master", func() bool {
		info, err := other.Info(ctx, "replication")
		return err == nil && info["master_port"] == strconv.Itoa(best.Port) && info["master_link_status"] == "up"
	})
	grp.Master.Restart(t)
	redistest.WaitFor(t, 20*time.Second, "old master converted to a replica of the new one", func() bool {
		info, err := grp.Master.Info(ctx, "replication")
		return err == nil && info["role"] == "slave" && info["master_port"] == strconv.Itoa(best.Port)
	})
	close(stop)
	wg.Wait()

	count := 0
	leaders.Range(func(k, v any) bool {
		count++
		if v.(*atomic.Int32).Load() != 1 {
			t.Errorf("%d leaders elected for %v", v.(*atomic.Int32).Load(), k)
		}
		return true
	})
	if count == 0 {
		t.Error("no +elected-leader event seen")
	}
	// The leader ends its failover once it has seen every replica follow
	// the new master (its INFO); that may come after the restarted old
	// master was converted, which the wait above is about.
	for _, n := range nodes {
		redistest.WaitFor(t, 15*time.Second, "node "+n.ID()+" to end the failover on the new master", func() bool {
			f := fieldMap(redisCLI(t, n.Addr(), "SENTINEL", "master", "mymaster"))
			return f["port"] == strconv.Itoa(best.Port) && !strings.Contains(f["flags"], "o_down") &&
				!strings.Contains(f["flags"], "failover_in_progress")
		})
	}
	t.Logf("client: %d writes, %d acknowledged", writes.Load(), acked.Load())

	// Every node recorded the failover in its history; the leader with
	// its timeline.
	led := 0
	for _, n := range nodes {
		h, err := n.History("mymaster")
		if err != nil || len(h) == 0 || h[0].Outcome != "switched" || h[0].NewMaster != best.Addr() {
			t.Errorf("node %s history: %+v %v", n.ID(), h, err)
			continue
		}
		if h[0].Kind == "failover" {
			led++
			types := map[string]bool{}
			for _, e := range h[0].Timeline {
				types[e.Type] = true
			}
			for _, want := range []string{"+try-failover", "+elected-leader", "+selected-slave", "+promoted-slave", "+failover-end", "+switch-master"} {
				if !types[want] {
					t.Errorf("leader timeline lacks %s: %+v", want, h[0].Timeline)
				}
			}
		}
	}
	if led != 1 {
		t.Errorf("%d nodes recorded leading the failover, want 1", led)
	}
}
