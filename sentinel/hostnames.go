package sentinel

import (
	"context"
	"net"
	"strings"
	"time"

	"github.com/vigil-ha/vigil/topology"
)

// Host names, as Sentinel's resolve-hostnames and announce-hostnames: an
// instance configured by host name (a master in the configuration or added
// with SENTINEL MONITOR) keeps the name as its address, so vigil connects to
// it, persists it and compares it by name, and also gets the IP address the
// name resolves to when the instance is created (Sentinel's sentinelAddr
// with its hostname and ip). Replies, INFO and events show that IP, unless
// announce-hostnames is yes, as redis-sentinel does; addresses that
// instances and peers report by IP (a replica's master_host, a replica list
// in INFO, IS-MASTER-DOWN-BY-ADDR) match the instance either way.
//
// IPv6 addresses are printed as Sentinel prints them: bare in ip fields,
// events and INFO's address=, bracketed only in host:port names.

// hostResolveTimeout bounds the lookup of one instance's host name.
const hostResolveTimeout = time.Second

// resolveHostIP returns the IP address host resolves to, IPv4 first as
// getaddrinfo orders /etc/hosts and DNS answers for redis-sentinel; "" when
// host is an IP literal already or does not resolve.
func resolveHostIP(host string) string {
	if host == "" || net.ParseIP(host) != nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), hostResolveTimeout)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupHost(ctx, host)
	if err != nil || len(addrs) == 0 {
		return ""
	}
	for _, a := range addrs {
		if ip := net.ParseIP(a); ip != nil && ip.To4() != nil {
			return a
		}
	}
	return addrs[0]
}

// announceHostnamesLocked reports whether replies show instances by the
// host name they were configured with: CONFIG SET announce-hostnames, or
// sentinel.conf's announce-hostnames. Requires n.mu.
func (n *Node) announceHostnamesLocked() bool {
	if v, ok := n.rt.state.Global["announce-hostnames"]; ok {
		return strings.EqualFold(v, "yes")
	}
	return n.cfg.Node.AnnouncesHostnames()
}

// hostOf is the host inst is shown with. Requires n.mu.
func (n *Node) hostOf(inst *instance) string {
	if inst.ip == "" || n.announceHostnamesLocked() {
		return inst.addr.Host
	}
	return inst.ip
}

// shownAddrLocked is a as replies show it: the address of g's instance
// there, by IP unless announce-hostnames is yes. Requires n.mu.
func (n *Node) shownAddrLocked(g *group, a topology.Addr) topology.Addr {
	if inst := n.instanceLocked(g, a); inst != nil {
		return topology.Addr{Host: n.hostOf(inst), Port: a.Port}
	}
	return a
}

// nameOf is inst's name in replica listings and events: host:port with the
// shown host, an IPv6 address bracketed. Requires n.mu.
func (n *Node) nameOf(inst *instance) string {
	return net.JoinHostPort(n.hostOf(inst), inst.addr.PortString())
}

// is reports whether a (as an instance or peer reported it) is inst's
// address: the configured one, or the IP its host name resolved to.
func (inst *instance) is(a topology.Addr) bool {
	return a == inst.addr || (inst.ip != "" && a.Port == inst.addr.Port && sameIP(a.Host, inst.ip))
}

// sameIP compares two IP literals by value ("::1" and "0:0::1" are one).
func sameIP(a, b string) bool {
	ia, ib := net.ParseIP(a), net.ParseIP(b)
	return ia != nil && ib != nil && ia.Equal(ib)
}

// knownInstanceLocked is the instance of g that a denotes, by name or by
// resolved IP. Requires n.mu.
func (n *Node) knownInstanceLocked(g *group, a topology.Addr) *instance {
	if g.master.is(a) {
		return g.master
	}
	if r := g.replicas[a.String()]; r != nil {
		return r
	}
	for _, r := range g.replicas {
		if r.is(a) {
			return r
		}
	}
	return nil
}

// infoAddr formats an address as INFO's masterN address= field does:
// host:port without brackets, also for IPv6.
func infoAddr(a topology.Addr) string {
	return a.Host + ":" + a.PortString()
}

// canonicalMasterHostLocked rewrites the master a replica reports (INFO's
// master_host, usually an IP) to the name of the instance it denotes, so
// that comparisons with the configured master address hold when that is a
// host name. Requires n.mu.
func (n *Node) canonicalMasterHostLocked(inst *instance) {
	a, ok := inst.info.ReplicaOf()
	if !ok {
		return
	}
	if known := n.knownInstanceLocked(inst.group, a); known != nil && known.addr != a {
		inst.info.MasterHost = known.addr.Host
	}
}

// isHostPort is is for a "host:port" string.
func (inst *instance) isHostPort(s string) bool {
	a, err := topology.ParseAddr(s)
	return err == nil && inst.is(a)
}
