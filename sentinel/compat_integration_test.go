package sentinel

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vigil-ha/vigil/config"
	"github.com/vigil-ha/vigil/internal/redistest"
)

// startRedisSentinel runs a real redis-sentinel from conf (it rewrites the
// file) and returns its address.
func startRedisSentinel(t *testing.T, conf string, port int) string {
	t.Helper()
	bin, err := exec.LookPath("redis-sentinel")
	if err != nil {
		t.Skip("redis-sentinel not installed (make bench installs it)")
	}
	cmd := exec.Command(bin, conf)
	cmd.Dir = filepath.Dir(conf)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
	})
	addr := "127.0.0.1:" + strconv.Itoa(port)
	redistest.WaitFor(t, 10*time.Second, "redis-sentinel answering", func() bool {
		c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
		defer func() { _ = c.Close() }()
		return c.Ping(context.Background()).Err() == nil
	})
	return addr
}

// TestSameSentinelConfRunsBoth: one generated sentinel.conf (the copies
// differ only in port and dir) starts redis-sentinel and vigil; both answer
// the discovery commands with the same shapes and fields.
func TestSameSentinelConfRunsBoth(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	grp, sAddr, v := startBothOnGroup(t, 2)
	both := func(args ...string) (string, string) {
		return redisCLI(t, sAddr, args...), redisCLI(t, v.Addr(), args...)
	}
	redistest.WaitFor(t, 15*time.Second, "both to list the two replicas", func() bool {
		s, vv := both("SENTINEL", "replicas", "mymaster")
		return len(splitInstances(s)) == 2 && len(splitInstances(vv)) == 2
	})
	for _, args := range [][]string{
		{"SENTINEL", "get-master-addr-by-name", "mymaster"},
		{"SENTINEL", "get-master-addr-by-name", "nosuch"},
		{"SENTINEL", "master", "nosuch"},
		{"SENTINEL", "nosuchsub"},
		{"SENTINEL", "get-master-addr-by-name"},
		{"NOSUCHCOMMAND", "x"},
		{"ROLE"},
		{"PING"},
	} {
		if s, vv := both(args...); s != vv {
			t.Errorf("%v: redis-sentinel %q, vigil %q", args, s, vv)
		}
	}
	sameFields := func(what string, s, vv string) {
		t.Helper()
		sf, vf := fieldNames(s), fieldNames(vv)
		if !slices.Equal(sf, vf) {
			t.Errorf("%s fields differ:\nredis-sentinel %v\nvigil          %v", what, sf, vf)
		}
	}
	s, vv := both("SENTINEL", "master", "mymaster")
	sameFields("SENTINEL MASTER", s, vv)
	s, vv = both("SENTINEL", "replicas", "mymaster")
	sameFields("SENTINEL REPLICAS", firstInstance(s), firstInstance(vv))
	s, vv = both("SENTINEL", "myid")
	if len(s) != 40 || len(vv) != 40 {
		t.Errorf("myid: %q vs %q", s, vv)
	}
	s, vv = both("INFO", "sentinel")
	for _, key := range []string{"sentinel_masters:1", "sentinel_tilt:0", "sentinel_running_scripts:", "master0:name=mymaster,status=ok,address=127.0.0.1:" + strconv.Itoa(grp.Master.Port) + ",slaves=2,sentinels=1"} {
		if !strings.Contains(s, key) || !strings.Contains(vv, key) {
			t.Errorf("INFO sentinel %q: redis-sentinel has %v, vigil has %v", key, strings.Contains(s, key), strings.Contains(vv, key))
		}
	}
}

// startBothOnGroup starts a master with replicas, one generated
// sentinel.conf monitoring it as mymaster (quorum 2), and runs that file as
// redis-sentinel and as vigil (the copies differ only in port and dir). It
// returns the group, redis-sentinel's address and the vigil node.
func startBothOnGroup(t *testing.T, replicas int) (*redistest.Group, string, *Node) {
	t.Helper()
	grp := redistest.StartGroup(t, replicas, redistest.Options{})
	sAddr, v := startBothConf(t, fmt.Sprintf("sentinel monitor mymaster 127.0.0.1 %d 2\nsentinel down-after-milliseconds mymaster 5000\nsentinel failover-timeout mymaster 60000\nsentinel parallel-syncs mymaster 1\n", grp.Master.Port))
	return grp, sAddr, v
}

// startBothConf writes one sentinel.conf with the given sentinel
// directives, in two copies that differ only in port and dir, and runs one
// as redis-sentinel and the other as vigil. It returns redis-sentinel's
// address and the vigil node.
func startBothConf(t *testing.T, directives string) (string, *Node) {
	t.Helper()
	ports := &redistest.Ports{}
	write := func(port int) string {
		dir := t.TempDir()
		conf := filepath.Join(dir, "sentinel.conf")
		body := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\n", port, dir) + directives
		if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return conf
	}
	sPort, vPort := ports.Free(t), ports.Free(t)
	sAddr := startRedisSentinel(t, write(sPort), sPort)

	cfg, seed, _, err := config.LoadSentinelConf(write(vPort))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Gossip.Bind = "127.0.0.1:0"
	if _, err := SeedFromSentinel(*cfg, seed); err != nil {
		t.Fatal(err)
	}
	v := startNode(t, *cfg)
	if v.Addr() != "127.0.0.1:"+strconv.Itoa(vPort) {
		t.Fatalf("vigil listens on %s, want the conf's port %d", v.Addr(), vPort)
	}
	return sAddr, v
}

// fieldNames returns the field names of redis-cli's flat field/value
// output, without the values.
func fieldNames(out string) []string {
	lines := strings.Split(out, "\n")
	var names []string
	for i := 0; i < len(lines); i += 2 {
		names = append(names, lines[i])
	}
	return names
}
