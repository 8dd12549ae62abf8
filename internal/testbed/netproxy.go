package testbed

import (
	"fmt"

	"github.com/vigil-ha/vigil/internal/netproxy"
)

// Proxy is a TCP proxy on a loopback port in front of one server, used to
// put network faults between that server and its clients (controllers,
// replicas): see internal/netproxy.
type Proxy = netproxy.Proxy

// StartProxy starts a proxy on a free 127.0.0.1 port forwarding to target,
// a loopback "host:port". The environment closes it.
func (e *Env) StartProxy(target string) (*Proxy, error) {
	p, err := netproxy.Listen(target)
	if err != nil {
		return nil, fmt.Errorf("testbed: %w", err)
	}
	e.onClose(p)
	e.log.Debug("proxy started", "addr", p.Addr(), "target", target)
	return p, nil
}
