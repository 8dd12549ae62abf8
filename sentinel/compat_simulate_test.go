package sentinel

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/config"
	"github.com/vigil-ha/vigil/internal/redistest"
)

// startCrashableCluster starts n crashable nodes monitoring mc as
// "mymaster", joined through the first, and waits until each knows the
// others.
func startCrashableCluster(t *testing.T, mc config.MasterConfig, n int) []*crashableNode {
	t.Helper()
	var nodes []*crashableNode
	for i := range n {
		cfg := testConfig(t, map[string]config.MasterConfig{"mymaster": mc})
		if i > 0 {
			cfg.Gossip.Join = []string{nodes[0].GossipAddr()}
		}
		nodes = append(nodes, startCrashableNode(t, cfg))
	}
	plain := make([]*Node, len(nodes))
	for i, cn := range nodes {
		plain[i] = cn.Node
	}
	waitPeers(t, plain, "mymaster")
	return nodes
}

func (cn *crashableNode) stopped() bool {
	select {
	case <-cn.done:
		return true
	default:
		return false
	}
}

// TestSimulateFailureCrashAfterPromotion: three nodes, every one armed
// with SENTINEL SIMULATE-FAILURE crash-after-promotion; kill -9 of the
// master; the elected leader promotes a replica and crashes right after
// REPLICAOF NO ONE (no gossip leave, no state write). The two others must
// finish the failover: the promoted replica becomes the master they
// answer, and the other replica follows it.
func TestSimulateFailureCrashAfterPromotion(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	grp := redistest.StartGroup(t, 2, redistest.Options{})
	ctx := context.Background()
	mc := master(t, grp.Master.Addr(), 2, time.Second)
	mc.FailoverTimeout = 10 * time.Second
	nodes := startCrashableCluster(t, mc, 3)
	for _, n := range nodes {
		if out := redisCLI(t, n.Addr(), "SENTINEL", "SIMULATE-FAILURE", "crash-after-promotion"); out != "OK" {
			t.Fatalf("SIMULATE-FAILURE: %q", out)
		}
		if out := redisCLI(t, n.Addr(), "INFO", "sentinel"); !strings.Contains(out, "sentinel_simulate_failure_flags:2") {
			t.Fatalf("INFO sentinel after SIMULATE-FAILURE: %q", out)
		}
	}
	grp.Master.Kill()

	var crashed *crashableNode
	redistest.WaitFor(t, 30*time.Second, "the leader to crash after promoting", func() bool {
		for _, n := range nodes {
			if n.stopped() {
				crashed = n
				return true
			}
		}
		return false
	})
	if !errors.Is(crashed.err, ErrSimulatedFailure) || !crashed.Crashed() {
		t.Fatalf("crashed node: Run returned %v, Crashed %v", crashed.err, crashed.Crashed())
	}
	if c, err := net.DialTimeout("tcp", crashed.Addr(), time.Second); err == nil {
		_ = c.Close()
		t.Errorf("crashed node still accepts connections on %s", crashed.Addr())
	}
	var survivors []*crashableNode
	for _, n := range nodes {
		if n != crashed {
			survivors = append(survivors, n)
			// Disarm, so that the next leader completes the failover.
			redisCLI(t, n.Addr(), "SENTINEL", "SIMULATE-FAILURE", "help")
		}
	}
	var promoted, other *redistest.Server
	for _, r := range grp.Replicas {
		info, err := r.Info(ctx, "replication")
		if err == nil && info["role"] == "master" {
			promoted = r
		} else {
			other = r
		}
	}
	if promoted == nil {
		t.Fatal("the crashed leader promoted no replica")
	}
	t.Logf("crashed leader %s promoted %s", crashed.ID(), promoted.Addr())

	for _, n := range survivors {
		redistest.WaitFor(t, 60*time.Second, "survivors to answer the promoted replica", func() bool {
			out := redisCLI(t, n.Addr(), "SENTINEL", "get-master-addr-by-name", "mymaster")
			return out == "127.0.0.1\n"+strconv.Itoa(promoted.Port)
		})
	}
	redistest.WaitFor(t, 60*time.Second, "the other replica to follow the promoted one", func() bool {
		info, err := other.Info(ctx, "replication")
		return err == nil && info["role"] == "slave" && info["master_port"] == strconv.Itoa(promoted.Port) && info["master_link_status"] == "up"
	})
	if info, err := promoted.Info(ctx, "replication"); err != nil || info["role"] != "master" {
		t.Errorf("promoted replica is no longer a master: %v %v", info["role"], err)
	}
}

// TestSimulateFailureCrashAfterElection: the elected leader crashes before
// selecting a replica; nothing is promoted by it, and the two other nodes
// fail over once the election times out.
func TestSimulateFailureCrashAfterElection(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	grp := redistest.StartGroup(t, 2, redistest.Options{})
	ctx := context.Background()
	mc := master(t, grp.Master.Addr(), 2, time.Second)
	mc.FailoverTimeout = 5 * time.Second
	nodes := startCrashableCluster(t, mc, 3)
	for _, n := range nodes {
		redisCLI(t, n.Addr(), "SENTINEL", "SIMULATE-FAILURE", "crash-after-election")
	}
	grp.Master.Kill()
	var crashed *crashableNode
	redistest.WaitFor(t, 30*time.Second, "the leader to crash after its election", func() bool {
		for _, n := range nodes {
			if n.stopped() {
				crashed = n
				return true
			}
		}
		return false
	})
	if !errors.Is(crashed.err, ErrSimulatedFailure) {
		t.Fatalf("crashed node: Run returned %v", crashed.err)
	}
	for _, r := range grp.Replicas {
		if info, err := r.Info(ctx, "replication"); err == nil && info["role"] == "master" {
			t.Errorf("replica %s was promoted by a leader that crashed right after its election", r.Addr())
		}
	}
	var survivors []*crashableNode
	for _, n := range nodes {
		if n != crashed {
			survivors = append(survivors, n)
			redisCLI(t, n.Addr(), "SENTINEL", "SIMULATE-FAILURE", "help")
		}
	}
	var newPort string
	redistest.WaitFor(t, 60*time.Second, "survivors to fail over", func() bool {
		a := redisCLI(t, survivors[0].Addr(), "SENTINEL", "get-master-addr-by-name", "mymaster")
		b := redisCLI(t, survivors[1].Addr(), "SENTINEL", "get-master-addr-by-name", "mymaster")
		if a != b || strings.HasSuffix(a, "\n"+strconv.Itoa(grp.Master.Port)) {
			return false
		}
		newPort = a[strings.LastIndexByte(a, '\n')+1:]
		return true
	})
	for _, r := range grp.Replicas {
		if strconv.Itoa(r.Port) == newPort {
			continue
		}
		redistest.WaitFor(t, 60*time.Second, "the other replica to follow the new master", func() bool {
			info, err := r.Info(ctx, "replication")
			return err == nil && info["master_port"] == newPort && info["master_link_status"] == "up"
		})
	}
}
