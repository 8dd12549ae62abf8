package sentinel

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/config"
	"github.com/vigil-ha/vigil/internal/redistest"
)

// TestVetoHookAndAntiFlap: a pre-failover hook that vetoes keeps a dead
// master from being failed over (EXPLAIN vetoed, with the hook's reason)
// until it allows; after that failover, the anti-flap window keeps the new
// master from being failed over again at once.
func TestVetoHookAndAntiFlap(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	dir := t.TempDir()
	allow := filepath.Join(dir, "allow")
	hook := filepath.Join(dir, "hook.sh")
	body := "#!/bin/sh\n[ -f " + allow + " ] && exit 0\necho \"change freeze until Monday\"\nexit 1\n"
	if err := os.WriteFile(hook, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	grp := redistest.StartGroup(t, 2, redistest.Options{})
	mc := master(t, grp.Master.Addr(), 1, time.Second)
	mc.FailoverTimeout = 20 * time.Second
	mc.PreFailoverHook = hook
	mc.AntiFlap = time.Hour
	n := startNode(t, testConfig(t, map[string]config.MasterConfig{"mymaster": mc}))
	redistest.WaitFor(t, 10*time.Second, "replicas known", func() bool {
		return len(splitInstances(redisCLI(t, n.Addr(), "SENTINEL", "replicas", "mymaster"))) == 2
	})

	grp.Master.Kill()
	redistest.WaitFor(t, 10*time.Second, "EXPLAIN vetoed with the hook's reason", func() bool {
		e := redisCLI(t, n.Addr(), "SENTINEL", "EXPLAIN", "mymaster")
		return strings.HasPrefix(e, "reason\nvetoed") && strings.Contains(e, "change freeze until Monday")
	})
	if got := redisCLI(t, n.Addr(), "SENTINEL", "get-master-addr-by-name", "mymaster"); got != "127.0.0.1\n"+strconv.Itoa(grp.Master.Port) {
		t.Fatalf("failover despite the veto: %q", got)
	}

	if err := os.WriteFile(allow, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var newPort string
	redistest.WaitFor(t, 20*time.Second, "failover once the hook allows it", func() bool {
		f := fieldMap(redisCLI(t, n.Addr(), "SENTINEL", "master", "mymaster"))
		newPort = f["port"]
		return newPort != strconv.Itoa(grp.Master.Port) && !strings.Contains(f["flags"], "s_down")
	})
	for _, r := range grp.Replicas {
		if strconv.Itoa(r.Port) == newPort {
			r.Kill()
		}
	}
	redistest.WaitFor(t, 10*time.Second, "EXPLAIN anti-flap for the new master", func() bool {
		return strings.HasPrefix(redisCLI(t, n.Addr(), "SENTINEL", "EXPLAIN", "mymaster"), "reason\nanti-flap")
	})
	if f := fieldMap(redisCLI(t, n.Addr(), "SENTINEL", "master", "mymaster")); f["port"] != newPort {
		t.Fatalf("failed over again inside the anti-flap window: %v", f)
	}
}
