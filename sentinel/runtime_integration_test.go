package sentinel

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/config"
	"github.com/vigil-ha/vigil/internal/redistest"
)

// respCmd encodes args as a RESP command.
func respCmd(args ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	return b.String()
}

// masterField returns one field of SENTINEL MASTER name on n, or the error
// text.
func masterField(t *testing.T, n *Node, name, field string) string {
	t.Helper()
	out := redisCLI(t, n.Addr(), "SENTINEL", "master", name)
	if strings.HasPrefix(out, "ERR") {
		return out
	}
	return fieldMap(out)[field]
}

// vigilClients counts the connections vigil nodes hold to a Redis server.
func vigilClients(t *testing.T, s *redistest.Server) int {
	t.Helper()
	out, err := s.Do(context.Background(), "client", "list")
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(fmt.Sprint(out), "name=vigil-")
}

// TestRuntimeConfigReachesEveryNode is the runtime reconfiguration story
// on three nodes and real redis-servers: MONITOR on one node makes every
// node monitor the new master; SET on another is seen everywhere; REMOVE
// while a node is down removes the master everywhere, and the node that was
// down drops it when it comes back instead of bringing it back; a
// restarted node keeps the changes.
func TestRuntimeConfigReachesEveryNode(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	grp := redistest.StartGroup(t, 1, redistest.Options{})
	extra := redistest.StartGroup(t, 1, redistest.Options{})
	mc := master(t, grp.Master.Addr(), 2, 5*time.Second)

	ports := &redistest.Ports{}
	var nodes []*Node
	var stops []func()
	var cfgs []config.Config
	for i := range 3 {
		cfg := testConfig(t, map[string]config.MasterConfig{"mymaster": mc})
		cfg.Node.Listen = "127.0.0.1:" + strconv.Itoa(ports.Free(t))
		cfg.Gossip.Bind = "127.0.0.1:" + strconv.Itoa(ports.Free(t))
		if i > 0 {
			cfg.Gossip.Join = []string{cfgs[0].Gossip.Bind}
		}
		n, stop := startStoppableNode(t, cfg)
		nodes, stops, cfgs = append(nodes, n), append(stops, stop), append(cfgs, cfg)
	}
	waitPeers(t, nodes, "mymaster")
	events, cancel := nodes[1].Subscribe("*monitor")
	defer cancel()

	// MONITOR on node 0: every node monitors it, finds its replica and
	// sees the other nodes monitor it too.
	start := time.Now()
	if got := redisCLI(t, nodes[0].Addr(), "SENTINEL", "monitor", "extra", "127.0.0.1", strconv.Itoa(extra.Master.Port), "2"); got != "OK" {
		t.Fatalf("MONITOR = %q", got)
	}
	want := "127.0.0.1\n" + strconv.Itoa(extra.Master.Port)
	redistest.WaitFor(t, 20*time.Second, "every node to answer GET-MASTER-ADDR-BY-NAME extra", func() bool {
		for _, n := range nodes {
			if redisCLI(t, n.Addr(), "SENTINEL", "get-master-addr-by-name", "extra") != want {
				return false
			}
		}
		return true
	})
	t.Logf("MONITOR reached every node %s after the command was sent", time.Since(start).Round(time.Millisecond))
	waitPeers(t, nodes, "extra")
	redistest.WaitFor(t, 20*time.Second, "node 2 to discover extra's replica", func() bool {
		return len(splitInstances(redisCLI(t, nodes[2].Addr(), "SENTINEL", "replicas", "extra"))) == 1
	})
	waitEvent(t, events, "+monitor", "master extra 127.0.0.1 "+strconv.Itoa(extra.Master.Port)+" quorum 2")

	// SET on node 1, several options at once, on the new master and on a
	// master from the file.
	start = time.Now()
	if got := redisCLI(t, nodes[1].Addr(), "SENTINEL", "set", "extra", "down-after-milliseconds", "4321", "quorum", "1"); got != "OK" {
		t.Fatalf("SET = %q", got)
	}
	if got := redisCLI(t, nodes[2].Addr(), "SENTINEL", "set", "mymaster", "failover-timeout", "77000"); got != "OK" {
		t.Fatalf("SET = %q", got)
	}
	redistest.WaitFor(t, 20*time.Second, "the settings on every node", func() bool {
		for _, n := range nodes {
			if masterField(t, n, "extra", "down-after-milliseconds") != "4321" || masterField(t, n, "extra", "quorum") != "1" ||
				masterField(t, n, "mymaster", "failover-timeout") != "77000" {
				return false
			}
		}
		return true
	})
	t.Logf("SET reached every node %s after the commands were sent", time.Since(start).Round(time.Millisecond))

	// REMOVE on node 0 and a SET on node 1 while node 2 is down.
	stops[2]()
	if got := redisCLI(t, nodes[0].Addr(), "SENTINEL", "remove", "extra"); got != "OK" {
		t.Fatalf("REMOVE = %q", got)
	}
	if got := redisCLI(t, nodes[1].Addr(), "SENTINEL", "set", "mymaster", "parallel-syncs", "3"); got != "OK" {
		t.Fatalf("SET = %q", got)
	}
	redistest.WaitFor(t, 20*time.Second, "extra gone from nodes 0 and 1", func() bool {
		for _, n := range nodes[:2] {
			if redisCLI(t, n.Addr(), "SENTINEL", "get-master-addr-by-name", "extra") != "" {
				return false
			}
		}
		return true
	})
	waitEvent(t, events, "-monitor", "master extra 127.0.0.1 "+strconv.Itoa(extra.Master.Port))
	if got := masterField(t, nodes[1], "extra", "quorum"); got != "ERR No such master with that name" {
		t.Fatalf("SENTINEL MASTER extra after REMOVE = %q", got)
	}

	// Node 2 restarts from its files: it still has extra (it was down for
	// the REMOVE), until gossip brings the tombstone.
	start = time.Now()
	n2, _ := startStoppableNode(t, cfgs[2])
	nodes[2] = n2
	redistest.WaitFor(t, 30*time.Second, "the restarted node to drop extra", func() bool {
		return redisCLI(t, n2.Addr(), "SENTINEL", "get-master-addr-by-name", "extra") == ""
	})
	t.Logf("the restarted node dropped the removed master %s after its start", time.Since(start).Round(time.Millisecond))
	if got := masterField(t, n2, "mymaster", "failover-timeout"); got != "77000" {
		t.Fatalf("restarted node: mymaster failover-timeout = %q, want its runtime change 77000", got)
	}
	redistest.WaitFor(t, 20*time.Second, "the restarted node to get the SET made while it was down", func() bool {
		return masterField(t, n2, "mymaster", "parallel-syncs") == "3"
	})
	waitPeers(t, nodes, "mymaster")
	for i, n := range nodes {
		if got := redisCLI(t, n.Addr(), "SENTINEL", "get-master-addr-by-name", "extra"); got != "" {
			t.Fatalf("node %d monitors extra again after the rejoin: %q", i, got)
		}
	}
	// No node keeps a link to the removed master.
	redistest.WaitFor(t, 20*time.Second, "no vigil connection left on extra's servers", func() bool {
		return vigilClients(t, extra.Master) == 0 && vigilClients(t, extra.Replicas[0]) == 0
	})
	fi, err := os.Stat(filepath.Join(cfgs[2].Node.DataDir, runtimeFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("runtime.json: %v %v", fi, err)
	}
}

// waitEvent waits for an event of type typ whose payload starts with
// payload.
func waitEvent(t *testing.T, events <-chan Event, typ, payload string) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case ev := <-events:
			if ev.Type == typ && strings.HasPrefix(ev.Payload, payload) {
				return
			}
		case <-deadline:
			t.Fatalf("no %s %s event", typ, payload)
		}
	}
}

// TestRuntimeConfigRepliesLikeSentinel sends the same commands, good and
// bad, to redis-sentinel and to vigil and compares the raw replies.
func TestRuntimeConfigRepliesLikeSentinel(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	grp := redistest.StartGroup(t, 0, redistest.Options{})
	other := redistest.StartGroup(t, 0, redistest.Options{})
	ports := &redistest.Ports{}
	sPort := ports.Free(t)
	dir := t.TempDir()
	conf := filepath.Join(dir, "sentinel.conf")
	body := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\nsentinel monitor mymaster 127.0.0.1 %d 2\n", sPort, dir, grp.Master.Port)
	if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	sAddr := startRedisSentinel(t, conf, sPort)
	v := startNode(t, testConfig(t, map[string]config.MasterConfig{"mymaster": master(t, grp.Master.Addr(), 2, 5*time.Second)}))
	sc, vc := dialRaw(t, sAddr), dialRaw(t, v.Addr())

	mp, op := strconv.Itoa(grp.Master.Port), strconv.Itoa(other.Master.Port)
	for _, cmd := range [][]string{
		{"sentinel", "monitor", "mymaster", "127.0.0.1", mp, "2"},
		{"sentinel", "monitor", "x", "127.0.0.1", op, "0"},
		{"sentinel", "monitor", "x", "127.0.0.1", op, "abc"},
		{"sentinel", "monitor", "x", "127.0.0.1", "abc", "2"},
		{"sentinel", "monitor", "x", "127.0.0.1", "70000", "2"},
		{"sentinel", "monitor", "x", "127.0.0.1", "-5", "2"},
		{"sentinel", "monitor", "x", "300.1.1.1", op, "2"},
		{"sentinel", "monitor", "x", "no-such-host.invalid", op, "2"},
		{"sentinel", "monitor", "x", "127.0.0.1", op},
		{"sentinel", "remove", "nosuch"},
		{"sentinel", "remove"},
		{"sentinel", "remove", "a", "b"},
		{"sentinel", "set", "nosuch", "quorum", "2"},
		{"sentinel", "set", "mymaster"},
		{"sentinel", "set", "mymaster", "quorum"},
		{"sentinel", "set", "mymaster", "quorum", "0"},
		{"sentinel", "set", "mymaster", "quorum", "x"},
		{"sentinel", "set", "mymaster", "quorum", "+4"},
		{"sentinel", "set", "mymaster", "quorum", " 4"},
		{"sentinel", "set", "mymaster", "foo", "1"},
		{"sentinel", "set", "mymaster", "down-after-milliseconds", "-1"},
		{"sentinel", "set", "mymaster", "parallel-syncs", "0"},
		{"sentinel", "set", "mymaster", "failover-timeout", "1.5"},
		{"sentinel", "set", "mymaster", "notification-script", "/bin/true"},
		{"sentinel", "set", "mymaster", "client-reconfig-script", "/bin/true"},
		{"sentinel", "set", "mymaster", "rename-command", "", "x"},
		{"sentinel", "set", "mymaster", "rename-command", "x", ""},
		{"sentinel", "set", "mymaster", "rename-command", "x"},
		{"sentinel", "set", "mymaster", "master-reboot-down-after-period", "-1"},
		{"sentinel", "set", "mymaster", "quorum", "2", "foo"},
		{"sentinel", "set", "mymaster", "parallel-syncs", "0", "quorum", "3"},
		{"sentinel", "config", "set", "foo", "1"},
		{"sentinel", "config", "set", "announce-port", "70000"},
		{"sentinel", "config", "set", "resolve-hostnames", "maybe"},
		{"sentinel", "config", "set", "announce-ip"},
		{"sentinel", "config", "foo", "bar"},
		// Accepted by both.
		{"sentinel", "set", "mymaster", "down-after-milliseconds", "6000", "quorum", "1", "auth-pass", ""},
		{"sentinel", "set", "mymaster", "rename-command", "config", "config"},
		{"sentinel", "set", "mymaster", "master-reboot-down-after-period", "0"},
		{"sentinel", "monitor", "second", "127.0.0.1", op, "2"},
		{"sentinel", "remove", "second"},
		{"sentinel", "config", "set", "announce-hostnames", "no"},
		{"sentinel", "config", "get", "announce-hostnames"},
	} {
		c := respCmd(cmd...)
		want, got := sc.roundTrip(c), vc.roundTrip(c)
		if got != want {
			t.Errorf("%q:\n vigil          %q\n redis-sentinel %q", cmd, got, want)
		}
	}
	for _, f := range []string{"down-after-milliseconds", "quorum"} {
		s := fieldMap(redisCLI(t, sAddr, "SENTINEL", "master", "mymaster"))[f]
		w := fieldMap(redisCLI(t, v.Addr(), "SENTINEL", "master", "mymaster"))[f]
		if s != w {
			t.Errorf("after SET, %s: vigil %q, redis-sentinel %q", f, w, s)
		}
	}
}

// TestRuntimeConfigSurvivesRestartAndReverts: one node, its master
// unreachable (no Redis needed). Runtime changes survive a restart; REVERT
// brings back the file's settings, also for a removed master; CONFIG SET
// values survive a restart, and announce-ip/announce-port take effect then.
func TestRuntimeConfigSurvivesRestartAndReverts(t *testing.T) {
	cfg := testConfig(t, map[string]config.MasterConfig{"mymaster": master(t, "127.0.0.1:1", 2, 5*time.Second)})
	n, stop := startStoppableNode(t, cfg)
	cli := func(n *Node, args ...string) string { t.Helper(); return redisCLI(t, n.Addr(), args...) }
	for _, cmd := range [][]string{
		{"SENTINEL", "SET", "mymaster", "quorum", "1", "down-after-milliseconds", "1234", "auth-user", "u", "auth-pass", "p"},
		{"SENTINEL", "MONITOR", "added", "127.0.0.1", "2", "1"},
		{"SENTINEL", "CONFIG", "SET", "resolve-hostnames", "no"},
		{"SENTINEL", "CONFIG", "SET", "announce-ip", "127.0.0.2"},
		{"SENTINEL", "CONFIG", "SET", "announce-port", "26999"},
	} {
		if got := cli(n, cmd...); got != "OK" {
			t.Fatalf("%q = %q", cmd, got)
		}
	}
	if got := cli(n, "SENTINEL", "SET", "mymaster", "auth-pass", ""); !strings.Contains(got, "auth-user: set without auth-pass") {
		t.Fatalf("SET auth-pass '' with auth-user set = %q, want the file's rule", got)
	}
	big := []string{"SENTINEL", "SET", "mymaster"}
	for i := range 17 {
		big = append(big, "rename-command", "cmd"+strconv.Itoa(i), strings.Repeat("x", 4000))
	}
	c := dialRaw(t, n.Addr())
	if got := c.roundTrip(respCmd(big...)); !strings.Contains(got, "bytes in every gossiped state") {
		t.Fatalf("SET of 68 KB of options = %.100q", got)
	}
	if got := c.roundTrip(respCmd("SENTINEL", "SET", "mymaster", "rename-command", strings.Repeat("c", 129), "x")); !strings.HasPrefix(got, "-ERR Invalid argument 'ccc") {
		t.Fatalf("SET rename-command of a 129-byte name = %.60q", got)
	}
	if got := cli(n, "SENTINEL", "MONITOR", "x", "localhost", "3", "1"); got != "ERR Invalid IP address or hostname specified" {
		t.Fatalf("MONITOR of a hostname with resolve-hostnames no = %q", got)
	}
	if got := cli(n, "SENTINEL", "MONITOR", "same", "127.0.0.1", "2", "1"); !strings.Contains(got, "is also the address of masters.added") {
		t.Fatalf("MONITOR of a monitored address = %q", got)
	}
	if got := cli(n, "SENTINEL", "MONITOR", "a/b", "127.0.0.1", "4", "1"); !strings.Contains(got, "invalid master name") {
		t.Fatalf("MONITOR a/b = %q", got)
	}
	stop()

	n, stop = startStoppableNode(t, cfg)
	if got := masterField(t, n, "mymaster", "quorum") + "/" + masterField(t, n, "mymaster", "down-after-milliseconds"); got != "1/1234" {
		t.Fatalf("after restart: quorum/down-after = %s, want 1/1234", got)
	}
	if got := masterField(t, n, "added", "quorum"); got != "1" {
		t.Fatalf("after restart: added quorum = %q", got)
	}
	if got := cli(n, "SENTINEL", "CONFIG", "GET", "resolve-hostnames"); got != "resolve-hostnames\nno" {
		t.Fatalf("after restart: CONFIG GET resolve-hostnames = %q", got)
	}
	if got := n.announceAddr(); got != "127.0.0.2:26999" {
		t.Fatalf("after restart: announce address %q, want 127.0.0.2:26999", got)
	}
	if got := cli(n, "SENTINEL", "REVERT", "added"); !strings.Contains(got, "use SENTINEL REMOVE") {
		t.Fatalf("REVERT of a runtime master = %q", got)
	}
	if got := cli(n, "SENTINEL", "REVERT", "nosuch"); got != "ERR No such master with that name" {
		t.Fatalf("REVERT nosuch = %q", got)
	}
	if got := cli(n, "SENTINEL", "REVERT", "mymaster"); got != "OK" {
		t.Fatalf("REVERT = %q", got)
	}
	if got := masterField(t, n, "mymaster", "quorum") + "/" + masterField(t, n, "mymaster", "down-after-milliseconds"); got != "2/5000" {
		t.Fatalf("after REVERT: quorum/down-after = %s, want the file's 2/5000", got)
	}
	if got := cli(n, "SENTINEL", "REMOVE", "mymaster"); got != "OK" {
		t.Fatalf("REMOVE = %q", got)
	}
	stop()

	n, _ = startStoppableNode(t, cfg)
	if got := cli(n, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster"); got != "" {
		t.Fatalf("a removed file master is back after a restart: %q", got)
	}
	if got := cli(n, "SENTINEL", "REVERT", "mymaster"); got != "OK" {
		t.Fatalf("REVERT of a removed file master = %q", got)
	}
	if got := cli(n, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster"); got != "127.0.0.1\n1" {
		t.Fatalf("after REVERT of REMOVE: %q", got)
	}
}

// TestConfigGetAnnounceHostnames: CONFIG GET shows node.announce-hostnames
// until CONFIG SET overrides it.
func TestConfigGetAnnounceHostnames(t *testing.T) {
	cfg := testConfig(t, map[string]config.MasterConfig{"mymaster": master(t, "127.0.0.1:1", 2, 5*time.Second)})
	cfg.Node.AnnounceHostnames = "yes"
	n := startNode(t, cfg)
	if got := redisCLI(t, n.Addr(), "SENTINEL", "CONFIG", "GET", "announce-hostnames"); got != "announce-hostnames\nyes" {
		t.Fatalf("CONFIG GET = %q", got)
	}
	if got := redisCLI(t, n.Addr(), "SENTINEL", "CONFIG", "SET", "announce-hostnames", "no"); got != "OK" {
		t.Fatalf("CONFIG SET = %q", got)
	}
	if got := redisCLI(t, n.Addr(), "SENTINEL", "CONFIG", "GET", "announce-hostnames"); got != "announce-hostnames\nno" {
		t.Fatalf("CONFIG GET after SET = %q", got)
	}
}
