package redistest_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/vigil-ha/vigil/internal/redistest"
)

// echoServer starts a TCP echo server on loopback and returns its address.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _ = io.Copy(c, c)
				_ = c.Close()
			}()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// roundTrip writes msg and reads len(msg) bytes back within timeout.
func roundTrip(c net.Conn, msg string, timeout time.Duration) (string, error) {
	if err := c.SetDeadline(time.Now().Add(timeout)); err != nil {
		return "", err
	}
	if _, err := c.Write([]byte(msg)); err != nil {
		return "", err
	}
	return readN(c, len(msg))
}

func readN(c net.Conn, n int) (string, error) {
	buf := make([]byte, n)
	_, err := io.ReadFull(c, buf)
	return string(buf), err
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func TestProxyForwardsBothWays(t *testing.T) {
	p := redistest.NewProxy(t, echoServer(t))
	c := dial(t, p.Addr())
	for _, msg := range []string{"hello", string(bytes.Repeat([]byte("x"), 100_000))} {
		got, err := roundTrip(c, msg, 5*time.Second)
		if err != nil || got != msg {
			t.Fatalf("round trip of %d bytes: got %d bytes, %v", len(msg), len(got), err)
		}
	}
}

func TestProxyCutDropsExistingConnections(t *testing.T) {
	p := redistest.NewProxy(t, echoServer(t))
	c := dial(t, p.Addr())
	if _, err := roundTrip(c, "before", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	p.Cut()
	if err := c.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	_, err := c.Read(make([]byte, 1))
	if err == nil || isTimeout(err) {
		t.Fatalf("read on a cut connection: %v, want it closed", err)
	}
}

func TestProxyCutBlackholesAndHealDelivers(t *testing.T) {
	p := redistest.NewProxy(t, echoServer(t))
	p.Cut()
	c := dial(t, p.Addr()) // accepted: a partition, not a refusal
	_, err := roundTrip(c, "lost?", 200*time.Millisecond)
	if !isTimeout(err) {
		t.Fatalf("round trip through a cut proxy: %v, want a timeout", err)
	}

	p.Heal()
	// What was sent during the cut arrives once healed.
	if err := c.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if got, err := readN(c, len("lost?")); err != nil || got != "lost?" {
		t.Fatalf("after Heal read %q, %v; want the held bytes", got, err)
	}
	if got, err := roundTrip(dial(t, p.Addr()), "fresh", 5*time.Second); err != nil || got != "fresh" {
		t.Fatalf("new connection after Heal: %q, %v", got, err)
	}
}

func TestProxyLatencyDelaysEachDirection(t *testing.T) {
	const d = 100 * time.Millisecond
	p := redistest.NewProxy(t, echoServer(t))
	c := dial(t, p.Addr())
	p.SetLatency(d)
	start := time.Now()
	if _, err := roundTrip(c, "slow", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if rtt := time.Since(start); rtt < 2*d {
		t.Fatalf("round trip took %v, want at least %v", rtt, 2*d)
	}
	p.SetLatency(0)
	if _, err := roundTrip(c, "fast", 5*time.Second); err != nil {
		t.Fatal(err)
	}
}

func TestProxyCloseStopsAccepting(t *testing.T) {
	p := redistest.NewProxy(t, echoServer(t))
	held := dial(t, p.Addr())
	p.Cut()
	if err := p.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := p.Close(); err != nil { // idempotent
		t.Fatalf("second Close: %v", err)
	}
	if c, err := net.DialTimeout("tcp", p.Addr(), time.Second); err == nil {
		_ = c.Close()
		t.Fatal("dial succeeded after Close")
	}
	if err := held.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := held.Read(make([]byte, 1)); err == nil || isTimeout(err) {
		t.Fatalf("read on a connection of a closed proxy: %v, want it closed", err)
	}
}

func TestProxyPartitionsRedisClient(t *testing.T) {
	s := redistest.Start(t, redistest.Options{})
	p := redistest.NewProxy(t, s.Addr())
	client := redis.NewClient(&redis.Options{
		Addr:                     p.Addr(),
		Protocol:                 2,
		MaxRetries:               -1,
		DialerRetries:            1,
		ContextTimeoutEnabled:    true,
		DisableIdentity:          true,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	})
	t.Cleanup(func() { _ = client.Close() })
	pingWithin := func(d time.Duration) error {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		return client.Ping(ctx).Err()
	}

	if err := pingWithin(2 * time.Second); err != nil {
		t.Fatalf("PING through proxy: %v", err)
	}
	p.Cut()
	if err := pingWithin(300 * time.Millisecond); err == nil {
		t.Fatal("PING answered through a cut proxy")
	}
	p.Heal()
	redistest.WaitFor(t, 5*time.Second, "PING through the healed proxy", func() bool {
		return pingWithin(time.Second) == nil
	})
}
