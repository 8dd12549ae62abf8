package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vigil-ha/vigil/internal/redistest"
	"github.com/vigil-ha/vigil/sentinel"
)

// TestRunExitsAfterSimulatedFailure: `vigil run` armed with SENTINEL
// SIMULATE-FAILURE crash-after-election exits with redis-sentinel's code 99
// once it wins the election for a failover.
func TestRunExitsAfterSimulatedFailure(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	grp := redistest.StartGroup(t, 1, redistest.Options{})
	ports := &redistest.Ports{}
	listen := fmt.Sprintf("127.0.0.1:%d", ports.Free(t))
	conf := filepath.Join(t.TempDir(), "vigil.yaml")
	body := fmt.Sprintf("node:\n  listen: %s\n  data-dir: %s\ngossip:\n  bind: 127.0.0.1:%d\nmasters:\n  mymaster:\n    addr: %s\n    quorum: 1\n    down-after: 1s\n    failover-timeout: 10s\n",
		listen, t.TempDir(), ports.Free(t), grp.Master.Addr())
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	root := newRoot(nil, &out, &errb)
	root.SetArgs([]string{"run", "--config", conf})
	code := make(chan int, 1)
	go func() {
		err := root.Execute()
		c := exitOK
		if ee, ok := err.(*exitError); ok {
			c = ee.code
		} else if err != nil {
			c = exitUsage
		}
		code <- c
	}()
	ctx := context.Background()
	c := redis.NewClient(&redis.Options{Addr: listen, MaxRetries: -1})
	defer func() { _ = c.Close() }()
	redistest.WaitFor(t, 10*time.Second, "vigil run answering", func() bool { return c.Ping(ctx).Err() == nil })
	if err := c.Do(ctx, "SENTINEL", "SIMULATE-FAILURE", "crash-after-election").Err(); err != nil {
		t.Fatal(err)
	}
	grp.Master.Kill()
	select {
	case got := <-code:
		if got != sentinel.ExitSimulatedFailure {
			t.Fatalf("vigil run exited %d, want %d", got, sentinel.ExitSimulatedFailure)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("vigil run still running 30s after the master was killed")
	}
	if info, err := grp.Replicas[0].Info(ctx, "replication"); err != nil || info["role"] != "slave" {
		t.Errorf("the replica was promoted by a node that crashed right after its election: %v %v", info["role"], err)
	}
}
