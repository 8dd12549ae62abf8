package sentinel

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/config"
	"github.com/vigil-ha/vigil/internal/redistest"
)

// TestMinorityNeverFailsOver: of three nodes that know each other, two are
// stopped; the survivor (quorum 1, so it does reach o_down) can never win
// an election without a majority of all known nodes, so the master is not
// failed over and the replica is left alone.
func TestMinorityNeverFailsOver(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	grp := redistest.StartGroup(t, 1, redistest.Options{})
	mc := master(t, grp.Master.Addr(), 1, time.Second)
	mc.FailoverTimeout = 3 * time.Second

	var nodes []*Node
	var stops []func()
	for i := range 3 {
		cfg := testConfig(t, map[string]config.MasterConfig{"mymaster": mc})
		if i > 0 {
			cfg.Gossip.Join = []string{nodes[0].GossipAddr()}
		}
		n, stop := startStoppableNode(t, cfg)
		nodes = append(nodes, n)
		stops = append(stops, stop)
	}
	waitPeers(t, nodes, "mymaster")
	survivor := nodes[0]
	stops[1]()
	stops[2]()

	events, cancel := survivor.Subscribe("*")
	defer cancel()
	grp.Master.Kill()
	var sawODown, sawAbort bool
	deadline := time.After(12 * time.Second)
	for !sawODown || !sawAbort {
		select {
		case ev := <-events:
			switch ev.Type {
			case "+odown":
				sawODown = true
			case "-failover-abort-not-elected":
				sawAbort = true
			case "+elected-leader", "+promoted-slave", "+switch-master":
				t.Fatalf("minority node acted: %s %s", ev.Type, ev.Payload)
			}
		case <-deadline:
			t.Fatalf("expected +odown and -failover-abort-not-elected (odown %v, abort %v)", sawODown, sawAbort)
		}
	}
	info, err := grp.Replicas[0].Info(context.Background(), "replication")
	if err != nil || info["role"] != "slave" {
		t.Fatalf("replica was touched: role %q, %v", info["role"], err)
	}
	redistest.WaitFor(t, 10*time.Second, "EXPLAIN quorum-unreachable", func() bool {
		return strings.HasPrefix(redisCLI(t, survivor.Addr(), "SENTINEL", "EXPLAIN", "mymaster"), "reason\nquorum-unreachable")
	})
	if got := redisCLI(t, survivor.Addr(), "SENTINEL", "get-master-addr-by-name", "mymaster"); got != "127.0.0.1\n"+strconv.Itoa(grp.Master.Port) {
		t.Fatalf("master address changed: %q", got)
	}
}

// TestVoteSurvivesRestart: a vote granted through SENTINEL
// IS-MASTER-DOWN-BY-ADDR is persisted before the reply, so after a restart
// the node refuses a second candidate in the same epoch and still reports
// its first vote.
func TestVoteSurvivesRestart(t *testing.T) {
	cfg := testConfig(t, map[string]config.MasterConfig{"mymaster": master(t, "127.0.0.1:1", 1, 5*time.Second)})
	n, stop := startStoppableNode(t, cfg)
	const a = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	const b = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	c := dialRaw(t, n.Addr())
	want := "*3\r\n:0\r\n$40\r\n" + a + "\r\n:7\r\n"
	if got := c.roundTrip("SENTINEL is-master-down-by-addr 127.0.0.1 1 7 " + a + "\r\n"); got != want {
		t.Fatalf("first vote: %q want %q", got, want)
	}
	stop()
	n2, _ := startStoppableNode(t, cfg)
	c2 := dialRaw(t, n2.Addr())
	if got := c2.roundTrip("SENTINEL is-master-down-by-addr 127.0.0.1 1 7 " + b + "\r\n"); got != want {
		t.Fatalf("after restart, second candidate: %q want %q (the first vote)", got, want)
	}
	if got := c2.roundTrip("INFO sentinel\r\n"); !contains(got, "sentinel_current_epoch:7") {
		t.Fatalf("epoch not persisted: %q", got)
	}
}
