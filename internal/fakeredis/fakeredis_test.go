package fakeredis

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vigil-ha/vigil/topology"
)

func client(t *testing.T, addr string) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, Protocol: 2, ClientName: "test", DisableIdentity: true,
		DialTimeout: time.Second, ReadTimeout: time.Second, WriteTimeout: time.Second, MaxRetries: -1})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestMasterAnswersLikeAMaster(t *testing.T) {
	ctx := t.Context()
	m, err := Start(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	c := client(t, m.Addr())
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("PING: %v", err)
	}
	text, err := c.Info(ctx).Result()
	if err != nil {
		t.Fatalf("INFO: %v", err)
	}
	info, err := topology.ParseInfo(text)
	if err != nil {
		t.Fatalf("ParseInfo: %v", err)
	}
	if info.Role != topology.RoleMaster || info.RunID != m.RunID() || len(info.Replicas) != 0 {
		t.Fatalf("INFO parsed as %+v", info)
	}
	text2, _ := c.Info(ctx).Result()
	info2, _ := topology.ParseInfo(text2)
	if info2.MasterReplOffset <= info.MasterReplOffset {
		t.Errorf("offset did not advance: %d then %d", info.MasterReplOffset, info2.MasterReplOffset)
	}
	role, err := c.Do(ctx, "ROLE").Slice()
	if err != nil || len(role) != 3 || role[0] != "master" {
		t.Errorf("ROLE = %v, %v", role, err)
	}
	if err := c.Do(ctx, "CONFIG", "SET", "x", "y").Err(); err != nil {
		t.Errorf("CONFIG SET: %v", err)
	}
}

func TestMasterPubSub(t *testing.T) {
	ctx := t.Context()
	m, err := Start(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	sub := client(t, m.Addr())
	ps := sub.Subscribe(ctx, "__sentinel__:hello")
	defer func() { _ = ps.Close() }()
	if _, err := ps.Receive(ctx); err != nil { // the subscribe confirmation
		t.Fatal(err)
	}
	if err := ps.Ping(ctx); err != nil {
		t.Fatalf("PING while subscribed: %v", err)
	}
	pub := client(t, m.Addr())
	deadline := time.Now().Add(5 * time.Second)
	for {
		n, err := pub.Publish(ctx, "__sentinel__:hello", "hi").Result()
		if err != nil {
			t.Fatal(err)
		}
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("PUBLISH reached %d subscribers", n)
		}
	}
	for {
		msg, err := ps.ReceiveTimeout(ctx, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if mm, ok := msg.(*redis.Message); ok {
			if mm.Channel != "__sentinel__:hello" || mm.Payload != "hi" {
				t.Fatalf("message %+v", mm)
			}
			return
		}
	}
}

func TestMasterFreezeAndClose(t *testing.T) {
	ctx := t.Context()
	m, err := Start(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := client(t, m.Addr())
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	m.Freeze()
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	err = c.Ping(short).Err()
	cancel()
	var ne net.Error
	timedOut := err != nil && (errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "timeout"))
	if !timedOut {
		t.Fatalf("PING to a frozen master: %v, want a timeout", err)
	}
	m.Unfreeze()
	c2 := client(t, m.Addr())
	if err := c2.Ping(ctx).Err(); err != nil {
		t.Fatalf("PING after Unfreeze: %v", err)
	}
	addr := m.Addr()
	m.Close()
	if conn, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		_ = conn.Close()
		t.Fatal("a closed master still accepts connections")
	}
}
