package redistest

import (
	"net"
	"sync"
	"testing"
)

// maxPortAttempts bounds how many ports [Ports.Free] draws from the kernel
// before giving up on finding one it has not handed out already.
const maxPortAttempts = 100

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago: it
// listens on 127.0.0.1:0, closes the listener and returns the port the kernel
// chose. Another process may take the port before the caller binds it; [Start]
// copes with that by retrying on a fresh port.
func FreePort(t testing.TB) int {
	t.Helper()
	port, err := freePort()
	if err != nil {
		t.Fatalf("redistest: find a free port: %v", err)
	}
	return port
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	if err := ln.Close(); err != nil {
		return 0, err
	}
	return port, nil
}

// Ports hands out free loopback ports and never the same one twice, so that
// a port given to one server (which may be killed and later restarted on it)
// is not given to another. Share one Ports between all the servers and proxies
// whose ports must not collide, for example in a package-level variable of a
// test file or in a harness struct. The zero value is ready to use and it is
// safe for concurrent use.
type Ports struct {
	mu   sync.Mutex
	used map[int]struct{}
}

// Free returns a port that was free a moment ago and that p has not returned
// before. A nil *Ports behaves like [FreePort].
func (p *Ports) Free(t testing.TB) int {
	t.Helper()
	if p == nil {
		return FreePort(t)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.used == nil {
		p.used = make(map[int]struct{})
	}
	for range maxPortAttempts {
		port, err := freePort()
		if err != nil {
			t.Fatalf("redistest: find a free port: %v", err)
		}
		if _, taken := p.used[port]; taken {
			continue
		}
		p.used[port] = struct{}{}
		return port
	}
	t.Fatalf("redistest: no unused free port after %d attempts (%d handed out)", maxPortAttempts, len(p.used))
	return 0
}
