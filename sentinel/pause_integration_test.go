package sentinel

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/internal/redistest"
)

// TestPauseHoldsThroughMasterKill: a pause given on one node reaches every
// node; a killed master then goes o_down but nobody fails it over and
// EXPLAIN says "paused"; RESUME on another node lets the failover proceed.
func TestPauseHoldsThroughMasterKill(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	grp := redistest.StartGroup(t, 1, redistest.Options{})
	mc := master(t, grp.Master.Addr(), 2, time.Second)
	mc.FailoverTimeout = 10 * time.Second
	nodes := startCluster(t, 3, "mymaster", mc, false)
	waitPeers(t, nodes, "mymaster")

	if got := redisCLI(t, nodes[0].Addr(), "SENTINEL", "EXPLAIN", "mymaster"); !strings.HasPrefix(got, "reason\nmaster-ok") {
		t.Fatalf("EXPLAIN before the fault: %q", got)
	}
	if got := redisCLI(t, nodes[0].Addr(), "SENTINEL", "PAUSE", "mymaster"); got != "OK" {
		t.Fatalf("PAUSE: %q", got)
	}
	for _, n := range nodes {
		redistest.WaitFor(t, 5*time.Second, "pause to reach every node", func() bool {
			return strings.Contains(fieldMap(redisCLI(t, n.Addr(), "SENTINEL", "master", "mymaster"))["flags"], "paused")
		})
	}
	grp.Master.Kill()
	for _, n := range nodes {
		redistest.WaitFor(t, 10*time.Second, "o_down and EXPLAIN paused", func() bool {
			f := fieldMap(redisCLI(t, n.Addr(), "SENTINEL", "master", "mymaster"))
			return strings.Contains(f["flags"], "o_down") &&
				strings.HasPrefix(redisCLI(t, n.Addr(), "SENTINEL", "EXPLAIN", "mymaster"), "reason\npaused")
		})
	}
	// Held: two more seconds of o_down without any failover.
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		for _, n := range nodes {
			if got := redisCLI(t, n.Addr(), "SENTINEL", "get-master-addr-by-name", "mymaster"); got != "127.0.0.1\n"+strconv.Itoa(grp.Master.Port) {
				t.Fatalf("failover while paused: %q", got)
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := redisCLI(t, nodes[2].Addr(), "SENTINEL", "RESUME", "mymaster"); got != "OK" {
		t.Fatalf("RESUME: %q", got)
	}
	want := "127.0.0.1\n" + strconv.Itoa(grp.Replicas[0].Port)
	for _, n := range nodes {
		redistest.WaitFor(t, 15*time.Second, "failover after resume", func() bool {
			return redisCLI(t, n.Addr(), "SENTINEL", "get-master-addr-by-name", "mymaster") == want
		})
	}
}
