package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/config"
	"github.com/vigil-ha/vigil/internal/redistest"
	"github.com/vigil-ha/vigil/sentinel"
	"github.com/vigil-ha/vigil/topology"
)

// TestRealNode serves a real node watching a real redis-server master with
// one replica, the way `vigil run` wires them, and reads it back through
// /v1/masters/{name}, /readyz and /metrics.
func TestRealNode(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	grp := redistest.StartGroup(t, 1, redistest.Options{})
	replica := grp.Replicas[0].Addr()

	cfg := config.Default()
	cfg.Node.Listen = "127.0.0.1:0"
	cfg.Node.DataDir = t.TempDir()
	cfg.Gossip.Bind = "127.0.0.1:0"
	addr, err := topology.ParseAddr(grp.Master.Addr())
	if err != nil {
		t.Fatal(err)
	}
	cfg.Masters["mymaster"] = config.NewMaster("mymaster", addr, 1)
	log := testLogger(t)
	node, err := sentinel.New(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := node.Listen(); err != nil {
		t.Fatal(err)
	}

	// As in cmd/vigil: the HTTP server listens before the node runs, and
	// both stop with the same context.
	api := New(node, config.HTTPConfig{Listen: "127.0.0.1:0", Token: "t0ken"}, log.With("component", "http"))
	if err := api.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	nodeDone, apiDone := make(chan error, 1), make(chan error, 1)
	go func() { nodeDone <- node.Run(ctx) }()
	go func() { apiDone <- api.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		for name, done := range map[string]chan error{"node": nodeDone, "http server": apiDone} {
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("%s: %v", name, err)
				}
			case <-time.After(10 * time.Second):
				t.Errorf("%s did not stop within 10s of cancel", name)
			}
		}
	})
	base := "http://" + api.Addr()

	var m sentinel.MasterStatus
	redistest.WaitFor(t, 15*time.Second, "the master polled and its replica linked", func() bool {
		code, _, body := do(t, "GET", base+"/v1/masters/mymaster", "")
		if code != http.StatusOK || json.Unmarshal([]byte(body), &m) != nil {
			return false
		}
		return m.RunID != "" && len(m.Replicas) == 1 && m.Replicas[0].LinkUp && m.Replicas[0].RunID != ""
	})
	if m.Name != "mymaster" || m.Addr != grp.Master.Addr() || m.SDown || m.Replicas[0].Addr != replica {
		t.Fatalf("GET /v1/masters/mymaster = %+v", m)
	}
	if code, _, body := do(t, "GET", base+"/readyz", ""); code != http.StatusOK {
		t.Fatalf("GET /readyz = %d %s", code, body)
	}
	if code, _, body := do(t, "GET", base+"/v1/masters/mymaster/primary", ""); code != http.StatusOK || !strings.Contains(body, `"addr": "`+grp.Master.Addr()+`"`) {
		t.Fatalf("GET primary = %d %s", code, body)
	}
	redistest.WaitFor(t, 15*time.Second, "the replica offered within 10s of lag", func() bool {
		code, _, body := do(t, "GET", base+"/v1/masters/mymaster/replica?max-lag=10", "")
		return code == http.StatusOK && strings.Contains(body, `"addr": "`+replica+`"`)
	})
	if code, _, body := do(t, "GET", base+"/v1/masters/mymaster/replica?max-lag=x", ""); code != http.StatusBadRequest {
		t.Fatalf("GET replica?max-lag=x = %d %s", code, body)
	}
	grp.Replicas[0].Kill()
	redistest.WaitFor(t, 15*time.Second, "no replica offered once it is dead", func() bool {
		code, _, _ := do(t, "GET", base+"/v1/masters/mymaster/replica", "")
		return code == http.StatusServiceUnavailable
	})
	if code, _, body := do(t, "GET", base+"/v1/masters/other", ""); code != http.StatusNotFound {
		t.Fatalf("GET /v1/masters/other = %d %s", code, body)
	}

	want := []string{
		`vigil_master_up{master="mymaster"} 1`,
		`vigil_master_sdown{master="mymaster"} 0`,
		`vigil_replica_up{master="mymaster",replica="` + replica + `"} 1`,
		`vigil_replica_link_up{master="mymaster",replica="` + replica + `"} 1`,
		`vigil_replica_priority{master="mymaster",replica="` + replica + `"} 100`,
		`vigil_quorum_reachable{master="mymaster"} 1`,
		`vigil_events_total{type="+monitor"} 1`,
		`vigil_events_total{type="+slave"} 1`,
		`vigil_failovers_started_total{master="mymaster"} 0`,
		`go_goroutines `,
	}
	var missing []string
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, _, body := do(t, "GET", base+"/metrics", "")
		missing = missing[:0]
		for _, w := range want {
			if code != http.StatusOK || !strings.Contains(body, w) {
				missing = append(missing, w)
			}
		}
		if len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics still lacks %q after 10s:\n%s", missing, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
