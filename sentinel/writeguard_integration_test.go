package sentinel

import (
	"context"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/config"
	"github.com/vigil-ha/vigil/internal/redistest"
)

// TestWriteGuardManagesMinReplicas: with write-guard on, the master gets
// min-replicas-to-write 1 while it has a healthy replica, so an isolated
// master refuses writes by itself; when the only replica dies, a node on
// the majority side lowers it to 0 (degraded, the master stays writable),
// and raises it again when the replica is back.
func TestWriteGuardManagesMinReplicas(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	grp := redistest.StartGroup(t, 1, redistest.Options{})
	mc := master(t, grp.Master.Addr(), 1, time.Second)
	mc.WriteGuard = true
	mc.FailoverTimeout = time.Minute
	n := startNode(t, testConfig(t, map[string]config.MasterConfig{"mymaster": mc}))
	ctx := context.Background()
	minReplicas := func() string {
		v, err := grp.Master.Client().ConfigGet(ctx, "min-replicas-to-write").Result()
		if err != nil {
			return err.Error()
		}
		return v["min-replicas-to-write"]
	}
	redistest.WaitFor(t, 10*time.Second, "min-replicas-to-write 1 on the master", func() bool { return minReplicas() == "1" })
	if v, _ := grp.Master.Client().ConfigGet(ctx, "min-replicas-max-lag").Result(); v["min-replicas-max-lag"] != "1" {
		t.Fatalf("min-replicas-max-lag = %v", v)
	}
	if err := grp.Master.Client().Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatalf("write with a healthy replica: %v", err)
	}

	grp.Replicas[0].Kill()
	redistest.WaitFor(t, 10*time.Second, "degraded: min-replicas-to-write 0", func() bool { return minReplicas() == "0" })
	if err := grp.Master.Client().Set(ctx, "k", "v2", 0).Err(); err != nil {
		t.Fatalf("write in degraded mode: %v", err)
	}
	grp.Replicas[0].Restart(t)
	redistest.WaitFor(t, 15*time.Second, "guard back on", func() bool { return minReplicas() == "1" })
	_ = n
}
