package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-ha/vigil/internal/testbed"
)

// splitAddr splits "host:port".
func splitAddr(addr string) (string, string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", "", fmt.Errorf("address %q: %w", addr, err)
	}
	return host, port, nil
}

// roleOf is one server's answer to ROLE.
type roleOf struct {
	master   bool
	upstream string // a replica's master, "host:port"
	state    string // a replica's link state: "connected" when up
	replicas int    // a master's connected replicas
}

// readRole asks ROLE.
func readRole(ctx context.Context, s *testbed.RedisServer) (roleOf, error) {
	reply, err := s.Client().Do(ctx, "ROLE").Slice()
	if err != nil {
		return roleOf{}, fmt.Errorf("ROLE on %s: %w", s.Addr(), err)
	}
	if len(reply) == 0 {
		return roleOf{}, fmt.Errorf("ROLE on %s: empty reply", s.Addr())
	}
	switch reply[0] {
	case "master":
		r := roleOf{master: true}
		if len(reply) >= 3 {
			if list, ok := reply[2].([]any); ok {
				r.replicas = len(list)
			}
		}
		return r, nil
	case "slave":
		if len(reply) < 4 {
			return roleOf{}, fmt.Errorf("ROLE on %s: short replica reply %v", s.Addr(), reply)
		}
		return roleOf{
			upstream: net.JoinHostPort(fmt.Sprint(reply[1]), fmt.Sprint(reply[2])),
			state:    fmt.Sprint(reply[3]),
		}, nil
	}
	return roleOf{}, fmt.Errorf("ROLE on %s: role %v", s.Addr(), reply[0])
}

// checkSettled is checker (a): among the servers expected alive, exactly
// one answers ROLE master, every other one replicates from it with its link
// up (and the master lists them all), and every controller answers the
// master's address to GET-MASTER-ADDR-BY-NAME. Addresses go through rt, so a
// proxy in front of a server counts as that server. It returns the
// master's real address.
func checkSettled(ctx context.Context, d *deployment, alive []*testbed.RedisServer) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	roles := make([]roleOf, len(alive))
	master := ""
	for i, s := range alive {
		r, err := readRole(ctx, s)
		if err != nil {
			return "", err
		}
		roles[i] = r
		if r.master {
			if master != "" {
				return "", fmt.Errorf("two masters: %s and %s", master, s.Addr())
			}
			master = s.Addr()
		}
	}
	if master == "" {
		return "", errors.New("no server answers ROLE master")
	}
	var problems []string
	for i, s := range alive {
		r := roles[i]
		if r.master {
			if r.replicas != len(alive)-1 {
				problems = append(problems, fmt.Sprintf("master %s lists %d connected replicas, want %d", s.Addr(), r.replicas, len(alive)-1))
			}
			continue
		}
		if up := d.rt.resolve(r.upstream); up != master || r.state != "connected" {
			problems = append(problems, fmt.Sprintf("%s replicates from %s (%s), link %s", s.Addr(), r.upstream, up, r.state))
		}
	}
	for _, c := range d.ctrls {
		a, err := c.MasterAddr(ctx, d.cfg.masterName)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		if d.rt.resolve(a) != master {
			problems = append(problems, fmt.Sprintf("%s answers %s, not %s", c.Name, a, master))
		}
	}
	if len(problems) > 0 {
		return master, errors.New(strings.Join(problems, "; "))
	}
	return master, nil
}

// settle polls checkSettled until it has held without a break for
// cfg.stableFor, and returns the master and when that stable stretch
// began. After cfg.settleTimeout it gives up with the last problem.
func settle(ctx context.Context, d *deployment, alive []*testbed.RedisServer) (string, time.Time, error) {
	deadline := time.Now().Add(d.cfg.settleTimeout)
	var (
		since   time.Time
		current string
		last    error
	)
	for {
		master, err := checkSettled(ctx, d, alive)
		now := time.Now()
		switch {
		case err != nil:
			since, current, last = time.Time{}, "", err
		case since.IsZero() || master != current:
			since, current = now, master
		case now.Sub(since) >= d.cfg.stableFor:
			return master, since, nil
		}
		if now.After(deadline) {
			if last == nil {
				last = errors.New("never stable")
			}
			return "", time.Time{}, fmt.Errorf("not settled %v after the fault ended: %w", d.cfg.settleTimeout, last)
		}
		if err := sleep(ctx, 50*time.Millisecond); err != nil {
			return "", time.Time{}, err
		}
	}
}

// masterAddrs asks every controller for the master's address (real
// address, through rt); a controller that does not answer maps to "".
func masterAddrs(ctx context.Context, d *deployment) map[string]string {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	out := map[string]string{}
	for _, c := range d.ctrls {
		a, err := c.MasterAddr(ctx, d.cfg.masterName)
		if err != nil {
			out[c.Name] = ""
			continue
		}
		out[c.Name] = d.rt.resolve(a)
	}
	return out
}

// eventCounts counts the events of each type at or after from.
func eventCounts(events []testbed.Event, from time.Time) map[string]int {
	out := map[string]int{}
	for _, ev := range events {
		if !ev.At.Before(from) {
			out[ev.Type]++
		}
	}
	return out
}

// masterChanges returns the distinct +switch-master payloads ("name old-ip
// old-port new-ip new-port") at or after from: one per master change,
// however many controllers announced it.
func masterChanges(events []testbed.Event, from time.Time) []string {
	seen := map[string]bool{}
	var out []string
	for _, ev := range events {
		if ev.Type == "+switch-master" && !ev.At.Before(from) && !seen[ev.Payload] {
			seen[ev.Payload] = true
			out = append(out, ev.Payload)
		}
	}
	return out
}

// otherMasters returns the servers other than old that the role prober saw
// answering ROLE master at or after from.
func otherMasters(changes map[string][]testbed.Change, old string, from time.Time) []string {
	var out []string
	for addr, ch := range changes {
		if addr == old {
			continue
		}
		for _, c := range ch {
			if !c.At.Before(from) && testbed.IsMaster(c.Value) {
				out = append(out, addr)
				break
			}
		}
	}
	return out
}

// lostWrites is checker (b): the acknowledged writes missing from master.
func lostWrites(ctx context.Context, master string, writes []testbed.Write) ([]int64, error) {
	c := testbed.NewClient(master, 2*time.Second)
	defer func() { _ = c.Close() }()
	return testbed.LostWrites(ctx, c, keyPrefix, writes)
}

// seqString renders a few sequence numbers for a report.
func seqString(seqs []int64, limit int) string {
	var b strings.Builder
	for i, s := range seqs {
		if i == limit {
			fmt.Fprintf(&b, " … (%d more)", len(seqs)-limit)
			break
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.FormatInt(s, 10))
	}
	return b.String()
}

// explain asks every vigil controller why it is or is not failing the
// master over (SENTINEL EXPLAIN, a vigil extension), for reports. It
// returns "" for redis-sentinel.
func explain(ctx context.Context, d *deployment) string {
	if d.kind != testbed.KindVigil {
		return ""
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var parts []string
	for _, c := range d.ctrls {
		reply, err := c.Client().Do(ctx, "SENTINEL", "EXPLAIN", d.cfg.masterName).Slice()
		if err != nil {
			parts = append(parts, fmt.Sprintf("%s: %v", c.Name, err))
			continue
		}
		var b strings.Builder
		b.WriteString(c.Name + ":")
		for i := 0; i+1 < len(reply); i += 2 {
			v := reply[i+1]
			if list, ok := v.([]any); ok {
				var items []string
				for _, x := range list {
					items = append(items, fmt.Sprint(x))
				}
				v = "[" + strings.Join(items, "; ") + "]"
			}
			if s := fmt.Sprint(v); s != "" && s != "[]" {
				fmt.Fprintf(&b, " %v=%s", reply[i], s)
			}
		}
		parts = append(parts, b.String())
	}
	return "SENTINEL EXPLAIN: " + strings.Join(parts, " | ")
}

// undoneSwitches finds controllers that turned a freshly announced master
// back into a replica of the master it replaced: a +convert-to-slave of the
// new master of a +switch-master (announced by any controller), towards
// its old master, within undoWindow of the announcement. name maps a
// controller address to its name.
func undoneSwitches(events []testbed.Event, name func(addr string) string) []string {
	const undoWindow = 5 * time.Second
	var out []string
	for _, sw := range events {
		if sw.Type != "+switch-master" {
			continue
		}
		f := strings.Fields(sw.Payload) // name old-ip old-port new-ip new-port
		if len(f) != 5 {
			continue
		}
		oldAddr, newAddr := net.JoinHostPort(f[1], f[2]), net.JoinHostPort(f[3], f[4])
		for _, cv := range events {
			if cv.Type != "+convert-to-slave" || cv.At.Before(sw.At) || cv.At.Sub(sw.At) > undoWindow {
				continue
			}
			g := strings.Fields(cv.Payload) // slave name ip port @ master ip port
			if len(g) != 8 || g[1] != newAddr || net.JoinHostPort(g[6], g[7]) != oldAddr {
				continue
			}
			out = append(out, fmt.Sprintf("%s turned the new master %s back into a replica of %s (+convert-to-slave) %.0f ms after %s announced +switch-master to it",
				name(cv.Controller), newAddr, oldAddr, ms(cv.At.Sub(sw.At)), name(sw.Controller)))
			break
		}
	}
	return out
}
