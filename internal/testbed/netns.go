package testbed

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// Partition puts processes on two sides of a network partition that can be
// cut and healed, UDP included (a TCP proxy cannot cut memberlist's UDP
// gossip). Side A is the root network namespace; side B is a network
// namespace of its own, linked to the root one by a veth pair. Nothing
// leaves the machine and nothing but the pair, its addresses (10.231.N.0/24,
// a block no one else uses here) and the namespace is created; Close
// removes them.
//
// Addresses: A-side processes listen on A (10.231.N.1), the root
// namespace's source address towards B; B-side processes listen on B
// (10.231.N.2). The observers of a run (role prober, event watcher, checks)
// run in the root namespace too but use source address Obs (10.231.N.3),
// which the cut spares: they keep seeing both sides. A client in the root
// namespace that does not pick a source address (the chaos writer, the
// A-side controllers) is on side A.
//
// Cut drops, inside B, every packet from A and every packet to A, silently
// (no reset, no ICMP): the routing policy sends packets from A to a
// blackhole table, and the route to A goes through a next hop that does not
// exist. Heal restores both. Requires root (CAP_NET_ADMIN) and ip(8).
type Partition struct {
	// Netns is side B's network namespace.
	Netns string
	// A, B and Obs are the addresses described above.
	A, B, Obs string

	hostIf, nsIf string
	deadHop      string
	cut          bool
}

// partitionTable is the routing table of side B that blackholes side A.
const partitionTable = "231"

// PartitionSupported reports why partitions cannot be created here ("" when
// they can): root and ip(8) are needed.
func PartitionSupported() string {
	if os.Geteuid() != 0 {
		return "network partitions need root (ip netns)"
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return "network partitions need ip(8) (iproute2)"
	}
	return ""
}

// StartPartition creates side B and the link, and makes every client the
// environment creates from now on (Client() of servers and controllers,
// [Env.Observer]) use the observer address.
func (e *Env) StartPartition(ctx context.Context) (*Partition, error) {
	if why := PartitionSupported(); why != "" {
		return nil, errors.New("testbed: " + why)
	}
	var p *Partition
	for n := 1; n < 250 && p == nil; n++ {
		prefix := "10.231." + strconv.Itoa(n) + "."
		name := fmt.Sprintf("vigil-tb-%d", n)
		if addrInUse(prefix) || netnsExists(name) {
			continue
		}
		p = &Partition{Netns: name, A: prefix + "1", B: prefix + "2", Obs: prefix + "3", deadHop: prefix + "99",
			hostIf: fmt.Sprintf("vgtb%da", n), nsIf: fmt.Sprintf("vgtb%db", n)}
	}
	if p == nil {
		return nil, errors.New("testbed: no free 10.231.N.0/24 block for a partition")
	}
	steps := [][]string{
		{"netns", "add", p.Netns},
		{"link", "add", p.hostIf, "type", "veth", "peer", "name", p.nsIf, "netns", p.Netns},
		{"addr", "add", p.A + "/32", "dev", p.hostIf},
		{"addr", "add", p.Obs + "/32", "dev", p.hostIf},
		{"link", "set", p.hostIf, "up"},
		{"route", "add", p.B + "/32", "dev", p.hostIf, "src", p.A},
		{"-n", p.Netns, "link", "set", "lo", "up"},
		{"-n", p.Netns, "addr", "add", p.B + "/32", "dev", p.nsIf},
		{"-n", p.Netns, "link", "set", p.nsIf, "up"},
		{"-n", p.Netns, "route", "add", p.A + "/32", "dev", p.nsIf, "src", p.B},
		{"-n", p.Netns, "route", "add", p.Obs + "/32", "dev", p.nsIf, "src", p.B},
		// The local table must come after the cut's rule, or packets from
		// A to B's own address would be delivered before it applies.
		{"-n", p.Netns, "rule", "add", "pref", "10", "lookup", "local"},
		{"-n", p.Netns, "rule", "del", "pref", "0"},
		{"-n", p.Netns, "route", "add", "blackhole", "default", "table", partitionTable},
	}
	for _, s := range steps {
		if err := ipCmd(ctx, s...); err != nil {
			_ = p.Close()
			return nil, err
		}
	}
	e.onClose(p)
	e.mu.Lock()
	e.source = p.Obs
	e.mu.Unlock()
	e.log.Debug("partition ready", "netns", p.Netns, "a", p.A, "b", p.B, "obs", p.Obs)
	return p, nil
}

// SideA and SideB are where to start a server or controller.
func (p *Partition) SideA() Placement { return Placement{Host: p.A} }

// SideB is side B's placement.
func (p *Partition) SideB() Placement { return Placement{Host: p.B, Netns: p.Netns} }

// Spared is a placement both sides reach during a cut: the observer
// address, in the root namespace (for servers that a partition among
// controllers must not hide).
func (p *Partition) Spared() Placement { return Placement{Host: p.Obs} }

// Cut partitions A from B.
func (p *Partition) Cut(ctx context.Context) error {
	if p.cut {
		return nil
	}
	if err := ipCmd(ctx, "-n", p.Netns, "rule", "add", "pref", "5", "from", p.A, "lookup", partitionTable); err != nil {
		return err
	}
	if err := ipCmd(ctx, "-n", p.Netns, "route", "replace", p.A+"/32", "via", p.deadHop, "dev", p.nsIf, "onlink"); err != nil {
		return err
	}
	p.cut = true
	return nil
}

// Heal ends a Cut.
func (p *Partition) Heal(ctx context.Context) error {
	if !p.cut {
		return nil
	}
	err := errors.Join(
		ipCmd(ctx, "-n", p.Netns, "route", "replace", p.A+"/32", "dev", p.nsIf, "src", p.B),
		ipCmd(ctx, "-n", p.Netns, "rule", "del", "pref", "5"),
	)
	if err == nil {
		p.cut = false
	}
	return err
}

// Close deletes the link and the namespace (processes still inside it lose
// their network). It may be called more than once.
func (p *Partition) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var errs []error
	if linkExists(p.hostIf) {
		errs = append(errs, ipCmd(ctx, "link", "del", p.hostIf))
	}
	if netnsExists(p.Netns) {
		errs = append(errs, ipCmd(ctx, "netns", "del", p.Netns))
	}
	return errors.Join(errs...)
}

// Placement says where a process runs: the address it listens on (and, for
// controllers, gossips from) and the network namespace ("" for the root
// one). The zero Placement is 127.0.0.1 in the root namespace.
type Placement struct {
	Host  string
	Netns string
}

// host returns the placement's address, 127.0.0.1 by default.
func (pl Placement) host() string {
	if pl.Host == "" {
		return "127.0.0.1"
	}
	return pl.Host
}

// command wraps bin and args to run in the placement's namespace.
func (pl Placement) command(bin string, args []string) (string, []string, error) {
	if pl.Netns == "" {
		return bin, args, nil
	}
	ip, err := exec.LookPath("ip")
	if err != nil {
		return "", nil, fmt.Errorf("testbed: %w", err)
	}
	return ip, append([]string{"netns", "exec", pl.Netns, bin}, args...), nil
}

func ipCmd(ctx context.Context, args ...string) error {
	out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("testbed: ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// addrInUse reports whether any local interface has an address starting
// with prefix ("10.231.7.").
func addrInUse(prefix string) bool {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return true
	}
	for _, a := range addrs {
		if strings.HasPrefix(a.String(), prefix) {
			return true
		}
	}
	return false
}

func netnsExists(name string) bool {
	_, err := os.Stat("/run/netns/" + name)
	return err == nil
}

func linkExists(name string) bool {
	_, err := net.InterfaceByName(name)
	return err == nil
}

// hostPort joins a placement's host and a port.
func hostPort(host string, port int) string {
	return net.JoinHostPort(host, strconv.Itoa(port))
}
