package testbed

import (
	"fmt"
	"net"
	"strconv"
	"sync"
)

// maxPortAttempts bounds how many ports [Ports.Free] draws from the kernel
// before giving up on finding one it has not handed out already.
const maxPortAttempts = 100

// Ports hands out loopback ports that were free a moment ago, never the same
// one twice. The zero value is ready to use; it is safe for concurrent use.
type Ports struct {
	mu   sync.Mutex
	used map[int]struct{}
}

// Free returns a TCP port on 127.0.0.1 that was free a moment ago.
func (p *Ports) Free() (int, error) {
	return p.free(false)
}

// FreeTCPUDP returns a port free on 127.0.0.1 for both TCP and UDP, as a
// gossip transport needs.
func (p *Ports) FreeTCPUDP() (int, error) {
	return p.free(true)
}

func (p *Ports) free(udp bool) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.used == nil {
		p.used = make(map[int]struct{})
	}
	for range maxPortAttempts {
		port, err := freeTCPPort()
		if err != nil {
			return 0, fmt.Errorf("testbed: find a free port: %w", err)
		}
		if _, taken := p.used[port]; taken {
			continue
		}
		if udp && !udpFree(port) {
			continue
		}
		p.used[port] = struct{}{}
		return port, nil
	}
	return 0, fmt.Errorf("testbed: no unused free port after %d attempts", maxPortAttempts)
}

func freeTCPPort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	return port, ln.Close()
}

func udpFree(port int) bool {
	c, err := net.ListenPacket("udp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return false
	}
	_ = c.Close()
	return true
}

// loopback returns "127.0.0.1:port".
func loopback(port int) string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
}
