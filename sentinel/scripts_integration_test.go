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

// TestScriptsRunWithSentinelArguments: the notification script runs for
// warning events about the master with <type> <description>, and the
// client-reconfig script runs at the failover with <name> leader start
// <from-ip> <from-port> <to-ip> <to-port>.
func TestScriptsRunWithSentinelArguments(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	dir := t.TempDir()
	script := func(name string) string {
		p := filepath.Join(dir, name)
		body := "#!/bin/sh\necho \"$*\" >> " + filepath.Join(dir, name+".out") + "\n"
		if err := os.WriteFile(p, []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	grp := redistest.StartGroup(t, 1, redistest.Options{})
	mc := master(t, grp.Master.Addr(), 1, time.Second)
	mc.FailoverTimeout = 20 * time.Second
	mc.NotificationScript = script("notify.sh")
	mc.ClientReconfigScript = script("reconfig.sh")
	n := startNode(t, testConfig(t, map[string]config.MasterConfig{"mymaster": mc}))
	redistest.WaitFor(t, 10*time.Second, "replica known", func() bool {
		return len(splitInstances(redisCLI(t, n.Addr(), "SENTINEL", "replicas", "mymaster"))) == 1
	})
	grp.Master.Kill()
	read := func(name string) string {
		b, _ := os.ReadFile(filepath.Join(dir, name+".out"))
		return string(b)
	}
	old, repl := strconv.Itoa(grp.Master.Port), strconv.Itoa(grp.Replicas[0].Port)
	redistest.WaitFor(t, 20*time.Second, "client-reconfig-script called as leader", func() bool {
		return strings.Contains(read("reconfig.sh"), "mymaster leader start 127.0.0.1 "+old+" 127.0.0.1 "+repl)
	})
	redistest.WaitFor(t, 10*time.Second, "notification-script called for +sdown and +switch-master", func() bool {
		out := read("notify.sh")
		return strings.Contains(out, "+sdown master mymaster 127.0.0.1 "+old) &&
			strings.Contains(out, "+switch-master mymaster 127.0.0.1 "+old+" 127.0.0.1 "+repl)
	})
}
