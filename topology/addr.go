package topology

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// Addr is the network address of a Redis instance or vigil node: a host (an
// IPv4/IPv6 literal or a hostname) and a TCP port.
type Addr struct {
	Host string
	Port int
}

// ParseAddr parses "host:port", "[v6]:port" or a bare IPv6 literal followed by
// a port separated by a colon as Redis prints it in INFO ("::1:6379" is not
// accepted; Redis itself prints ip=::1,port=6379 separately).
func ParseAddr(s string) (Addr, error) {
	host, portStr, err := net.SplitHostPort(strings.TrimSpace(s))
	if err != nil {
		return Addr{}, fmt.Errorf("address %q: %w", s, err)
	}
	if host == "" {
		return Addr{}, fmt.Errorf("address %q: missing host", s)
	}
	port, err := ParsePort(portStr)
	if err != nil {
		return Addr{}, fmt.Errorf("address %q: %w", s, err)
	}
	return Addr{Host: host, Port: port}, nil
}

// ParsePort parses a TCP port number in 1..65535.
func ParsePort(s string) (int, error) {
	p, err := strconv.Atoi(s)
	if err != nil || p < 1 || p > 65535 {
		return 0, fmt.Errorf("invalid port %q", s)
	}
	return p, nil
}

// String formats the address as host:port, bracketing IPv6 literals.
func (a Addr) String() string {
	return net.JoinHostPort(a.Host, strconv.Itoa(a.Port))
}

// IsZero reports whether the address is unset.
func (a Addr) IsZero() bool { return a.Host == "" && a.Port == 0 }

// PortString is the port in decimal, as Sentinel replies carry it.
func (a Addr) PortString() string { return strconv.Itoa(a.Port) }
