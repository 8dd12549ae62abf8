package sentinel

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/internal/redistest"
)

// TestEmptiedMasterDoesNotWipeData is the case Sentinel loses everything
// in: a master without persistence holding 10,000 keys is killed and
// restarts empty within down-after. With Redis's default diskless-sync
// delay the replicas would full-resync from the empty master a few seconds
// later. vigil must fail over to a replica first and keep every key.
func TestEmptiedMasterDoesNotWipeData(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	// Redis defaults for the resync path (the harness shortens the delay).
	opts := redistest.Options{Args: []string{"--repl-diskless-sync-delay", "5"}}
	grp := redistest.StartGroup(t, 2, opts)
	ctx := context.Background()
	const keys = 10000
	pipe := grp.Master.Client().Pipeline()
	for i := range keys {
		pipe.Set(ctx, "key:"+strconv.Itoa(i), i, 0)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	redistest.WaitFor(t, 10*time.Second, "replicas hold every key", func() bool {
		for _, r := range grp.Replicas {
			if n, err := r.Client().DBSize(ctx).Result(); err != nil || n != keys {
				return false
			}
		}
		return true
	})

	mc := master(t, grp.Master.Addr(), 2, 5*time.Second)
	mc.FailoverTimeout = 30 * time.Second
	nodes := startCluster(t, 3, "mymaster", mc, false)
	waitPeers(t, nodes, "mymaster")
	redistest.WaitFor(t, 15*time.Second, "replica offsets known", func() bool {
		for _, n := range nodes {
			for _, b := range splitInstances(redisCLI(t, n.Addr(), "SENTINEL", "replicas", "mymaster")) {
				if off, _ := strconv.Atoi(fieldMap(b)["slave-repl-offset"]); off < keys {
					return false
				}
			}
		}
		return true
	})

	grp.Master.Kill()
	grp.Master.Restart(t) // empty: no persistence
	if n, _ := grp.Master.Client().DBSize(ctx).Result(); n != 0 {
		t.Fatalf("restarted master holds %d keys, want an empty one", n)
	}

	var newMaster *redistest.Server
	redistest.WaitFor(t, 20*time.Second, "a replica promoted by every node", func() bool {
		for _, r := range grp.Replicas {
			want := "127.0.0.1\n" + strconv.Itoa(r.Port)
			all := true
			for _, n := range nodes {
				if redisCLI(t, n.Addr(), "SENTINEL", "get-master-addr-by-name", "mymaster") != want {
					all = false
				}
			}
			if all {
				newMaster = r
				return true
			}
		}
		return false
	})
	if n, err := newMaster.Client().DBSize(ctx).Result(); err != nil || n != keys {
		t.Fatalf("new master holds %d keys (%v), want %d", n, err, keys)
	}
	redistest.WaitFor(t, 30*time.Second, "every instance back to 10,000 keys, following the new master", func() bool {
		for _, s := range grp.All() {
			if s == newMaster {
				continue
			}
			info, err := s.Info(ctx, "replication")
			if err != nil || info["role"] != "slave" || info["master_port"] != strconv.Itoa(newMaster.Port) || info["master_link_status"] != "up" {
				return false
			}
			if n, err := s.Client().DBSize(ctx).Result(); err != nil || n != keys {
				return false
			}
		}
		return true
	})
}
