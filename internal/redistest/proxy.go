package redistest

import (
	"testing"

	"github.com/vigil-ha/vigil/internal/netproxy"
)

// Proxy is an in-process TCP proxy on a loopback port that forwards every
// connection to a loopback target, and can cut, heal and delay the traffic
// to inject network faults between a client (vigil) and a server (Redis):
// see internal/netproxy.
type Proxy = netproxy.Proxy

// NewProxy starts a proxy on a free 127.0.0.1 port that forwards to target, a
// "host:port" on loopback (127.0.0.0/8, ::1 or localhost). It is closed when
// the test ends.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	p, err := netproxy.Listen(target)
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}
