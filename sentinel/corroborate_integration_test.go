package sentinel

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/internal/redistest"
)

// TestControllersCutFromMasterNoFailover: the vigil nodes reach the master
// only through a proxy that is cut, while the replicas stay connected to it
// and clients keep writing. Every node sees the master s_down, but the
// replicas corroborate that it is alive: no o_down, no failover, EXPLAIN
// says replicas-see-master.
func TestControllersCutFromMasterNoFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	grp := redistest.StartGroup(t, 2, redistest.Options{})
	prx := redistest.NewProxy(t, grp.Master.Addr())
	mc := master(t, prx.Addr(), 2, time.Second)
	mc.FailoverTimeout = 60 * time.Second // no fix-slave-config during the test
	nodes := startCluster(t, 3, "mymaster", mc, false)
	waitPeers(t, nodes, "mymaster")
	redistest.WaitFor(t, 15*time.Second, "replicas known on every node", func() bool {
		for _, n := range nodes {
			if len(splitInstances(redisCLI(t, n.Addr(), "SENTINEL", "replicas", "mymaster"))) != 2 {
				return false
			}
		}
		return true
	})

	// Clients write straight to the master: the replicas hear from it
	// continuously.
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	wg.Go(func() {
		c := grp.Master.Client()
		for i := 0; ctx.Err() == nil; i++ {
			_ = c.Set(ctx, "k"+strconv.Itoa(i%1000), i, 0).Err()
			select {
			case <-ctx.Done():
			case <-time.After(5 * time.Millisecond):
			}
		}
	})

	prx.Cut()
	for _, n := range nodes {
		redistest.WaitFor(t, 10*time.Second, "s_down and EXPLAIN replicas-see-master", func() bool {
			f := fieldMap(redisCLI(t, n.Addr(), "SENTINEL", "master", "mymaster"))
			return strings.Contains(f["flags"], "s_down") &&
				strings.HasPrefix(redisCLI(t, n.Addr(), "SENTINEL", "EXPLAIN", "mymaster"), "reason\nreplicas-see-master")
		})
	}
	// Held for three more seconds (three times down-after): no o_down, no
	// failover.
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		for _, n := range nodes {
			f := fieldMap(redisCLI(t, n.Addr(), "SENTINEL", "master", "mymaster"))
			if strings.Contains(f["flags"], "o_down") || "127.0.0.1:"+f["port"] != prx.Addr() {
				t.Fatalf("node %s acted on a master its replicas still see: %v", n.ID(), f)
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, r := range grp.Replicas {
		info, err := r.Info(context.Background(), "replication")
		if err != nil || info["role"] != "slave" {
			t.Fatalf("replica %s touched: %v %v", r.Addr(), info["role"], err)
		}
	}
}
