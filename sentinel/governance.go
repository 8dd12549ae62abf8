package sentinel

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/vigil-ha/vigil/config"
)

// Failover governance beyond Sentinel: an anti-flap window after a
// failover, and a pre-failover hook that can veto one.

// hookRetry is how long a veto (or a hook failure) holds before the hook
// is asked again, while the master stays o_down.
const hookRetry = 5 * time.Second

// hookState is the pre-failover hook of one master. Guarded by Node.mu.
type hookState struct {
	running bool
	allowed bool      // the last run allowed the failover
	reason  string    // why it vetoed
	at      time.Time // when the last run ended
}

// antiFlapUntilLocked is when g's anti-flap window ends (zero: none).
func (g *group) antiFlapUntil() time.Time {
	if g.cfg.AntiFlap <= 0 || g.lastSwitch.IsZero() {
		return time.Time{}
	}
	return g.lastSwitch.Add(g.cfg.AntiFlap)
}

// hookAllowsLocked runs the pre-failover hook if the master has one and
// reports whether a failover may start now: a fresh "allow" is consumed,
// a veto holds for hookRetry, a run in progress waits. Requires n.mu.
func (n *Node) hookAllowsLocked(g *group, now time.Time) bool {
	if g.cfg.PreFailoverHook == "" {
		return true
	}
	h := &g.hook
	switch {
	case h.running:
		return false
	case h.allowed && now.Sub(h.at) < hookRetry:
		h.allowed = false // one allow, one attempt
		return true
	case !h.allowed && !h.at.IsZero() && now.Sub(h.at) < hookRetry:
		return false
	}
	h.running = true
	mc, addr, ctx := g.cfg, g.master.addr, n.runCtx
	n.bgWG.Go(func() {
		allowed, reason := runHook(ctx, mc, addr.Host, addr.PortString())
		n.mu.Lock()
		defer n.mu.Unlock()
		h.running, h.allowed, h.reason, h.at = false, allowed, reason, time.Now()
		if !allowed {
			n.emit(Event{Type: "-failover-vetoed", Warning: true, Payload: n.instanceRef(g.master) + " #" + reason})
			n.log.Warn("pre-failover hook vetoed the failover", "master", mc.Name, "reason", reason)
		}
	})
	return false
}

// runHook runs the hook with <name> <ip> <port> and returns whether it
// allowed the failover and, if not, why (its first output line, or the
// failure).
func runHook(ctx context.Context, mc config.MasterConfig, host, port string) (bool, string) {
	timeout := mc.PreFailoverHookTimeout
	if timeout <= 0 {
		timeout = config.DefaultPreFailoverHookTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, mc.PreFailoverHook, mc.Name, host, port)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err == nil {
		return true, ""
	}
	reason := firstLine(out.Bytes())
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		reason = "hook timed out after " + timeout.String()
	case reason == "":
		reason = "hook failed: " + err.Error()
	}
	return false, reason
}

func firstLine(b []byte) string {
	sc := bufio.NewScanner(bytes.NewReader(b))
	if sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if len(line) > 200 {
			line = line[:200]
		}
		return line
	}
	return ""
}

// vetoedLocked reports whether this node's pre-failover hook vetoed a
// failover of g recently; such a node also refuses its vote. Requires n.mu.
func (n *Node) vetoedLocked(g *group, now time.Time) bool {
	h := g.hook
	return g.cfg.PreFailoverHook != "" && !h.running && !h.allowed && !h.at.IsZero() && now.Sub(h.at) < hookRetry
}
