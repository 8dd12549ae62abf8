package testbed

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestPartitionCutsSidesButNotObservers: a replica on side B of a partition
// follows a master on side A; the cut stops replication and A's clients
// but not the observer's, the heal restores everything, and Close leaves
// nothing behind.
func TestPartitionCutsSidesButNotObservers(t *testing.T) {
	if testing.Short() {
		t.Skip("starts redis-server")
	}
	if why := PartitionSupported(); why != "" {
		t.Skip(why)
	}
	if _, err := exec.LookPath(DefaultRedisServer); err != nil {
		t.Skip("redis-server not installed")
	}
	ctx := context.Background()
	env, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = env.Close() }()
	p, err := env.StartPartition(ctx)
	if err != nil {
		t.Fatal(err)
	}
	m, err := env.StartRedisAt(ctx, "", p.SideA())
	if err != nil {
		t.Fatal(err)
	}
	r, err := env.StartRedisAt(ctx, m.Addr(), p.SideB())
	if err != nil {
		t.Fatal(err)
	}
	if err := WaitReplication(ctx, m, r); err != nil {
		t.Fatal(err)
	}
	sideA := NewClient(r.Addr(), 300*time.Millisecond) // no source: side A
	defer func() { _ = sideA.Close() }()
	if err := sideA.Ping(ctx).Err(); err != nil {
		t.Fatalf("side A to side B before the cut: %v", err)
	}

	if err := p.Cut(ctx); err != nil {
		t.Fatal(err)
	}
	if err := sideA.Ping(ctx).Err(); err == nil {
		t.Fatal("side A reached side B through the cut")
	}
	if err := r.Client().Ping(ctx).Err(); err != nil {
		t.Fatalf("observer to side B during the cut: %v", err)
	}
	if err := waitUntil(ctx, 30*time.Second, "the master to miss the replica's acknowledgements", func() error {
		info, err := Info(ctx, m.Client(), "replication")
		if err != nil {
			return err
		}
		if line := info["slave0"]; !strings.Contains(line, "lag=") || strings.Contains(line, "lag=0") || strings.Contains(line, "lag=1,") || strings.HasSuffix(line, "lag=1") {
			return errString("slave0:" + line)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	if err := p.Heal(ctx); err != nil {
		t.Fatal(err)
	}
	if err := WaitReplication(ctx, m, r); err != nil {
		t.Fatalf("after the heal: %v", err)
	}
	if err := sideA.Ping(ctx).Err(); err != nil {
		t.Fatalf("side A to side B after the heal: %v", err)
	}
	if err := env.Close(); err != nil {
		t.Fatal(err)
	}
	if netnsExists(p.Netns) || linkExists(p.hostIf) {
		t.Fatalf("namespace %s or link %s left behind", p.Netns, p.hostIf)
	}
}

type errString string

func (e errString) Error() string { return string(e) }
