package sentinel

import (
	"net"
	"sync"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/config"
)

// TestDeadInstanceRetriedOncePerPeriod: an instance whose connections keep
// failing (here: accepted and closed at once) is retried every 250 ms for
// two seconds and then once a ping period per connection, not several
// times a second for ever.
func TestDeadInstanceRetriedOncePerPeriod(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	var (
		mu      sync.Mutex
		accepts []time.Time
	)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			accepts = append(accepts, time.Now())
			mu.Unlock()
			_ = c.Close()
		}
	}()
	// down-after 5 s: a ping period of 1 s. With gossip on, a link has a
	// command connection and a hello subscription: about 18 connections
	// in the first two seconds, then two a second.
	startNode(t, testConfig(t, map[string]config.MasterConfig{"m": master(t, ln.Addr().String(), 1, 5*time.Second)}))
	const from, to = 22, 30
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		n := len(accepts)
		mu.Unlock()
		if n > to {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d connections in 30 s", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	mu.Lock()
	span := accepts[to].Sub(accepts[from])
	mu.Unlock()
	// 8 connections at two a second take about 4 s; at the fast retries'
	// eight a second they would take 1 s.
	if span < 2500*time.Millisecond {
		t.Fatalf("connections %d..%d came within %v: still retrying fast", from, to, span)
	}
}
