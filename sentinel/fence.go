package sentinel

import (
	"context"
	"strconv"
	"time"

	"github.com/vigil-ha/vigil/failover"
	"github.com/vigil-ha/vigil/topology"
)

// Isolated-master fence (bounded split brain, docs/reliability.md).
//
// A node that still reaches its master but has lost sight of every replica
// of it and of the majority of the nodes is on the minority side of a
// partition with the master: the majority may be promoting a replica right
// now, and every write the master acknowledges from here on would be lost.
// The node fences the master: it raises min-replicas-to-write to
// fenceBase + the value it had, which Redis applies at once (CONFIG SET
// recounts the good replicas), so the master answers -NOREPLICAS to every
// write from the next command on. Unlike CLIENT PAUSE WRITE it blocks
// neither PUBLISH (hello messages) nor anything a returning node needs, and
// clients get an error instead of a hang. A master with no known replica
// is never fenced: no failover can replace it, so a fence would only
// refuse its writes.
//
// The fence is lifted only on positive evidence (failover.DecideFence): the
// majority is heard again and still has this master, or a replica follows
// it again. If the majority failed over meanwhile, the node adopts the new
// configuration and keeps the fence on the old master until it reports role
// slave (the majority converts it), then restores the saved value. A fence
// left behind by a node that died is found by the others: a node that hears
// the majority and sees a healthy master checks the setting every
// fenceAudit and restores value - fenceBase.

const (
	// fenceBase marks a fenced min-replicas-to-write: far above any real
	// replica count, and the original value is what remains after
	// subtracting it.
	fenceBase = 1 << 20
	// fenceReassert re-sends the fence while it holds (a restarted master
	// forgets it).
	fenceReassert = time.Second
	// fenceAudit is how often a node on the majority side checks its
	// healthy master for a fence nobody holds any more.
	fenceAudit = 5 * time.Second
	// fenceMasterFresh: the master counts as up for the fence decision
	// when it answered a PING this recently.
	fenceMasterFresh = 2 * pingPeriod
	// stateBroadcastPeriod is how often a node gossips its full state:
	// failover.DefaultFencePolicy's MajoritySilence allows for it.
	stateBroadcastPeriod = 500 * time.Millisecond
)

// fenceState is this node's fence on one group. Guarded by Node.mu.
type fenceState struct {
	active   bool
	addr     topology.Addr // the fenced instance
	since    time.Time
	baseline int // min-replicas-to-write before the fence; -1 until read
	sentAt   time.Time
	reason   failover.FenceReason
	auditAt  time.Time // last audit for a stale fence
	suspect  time.Time // failover.FenceView.SuspectSince
	inFlight bool      // a CONFIG command of the fence is running
}

// fenceLocked raises, keeps or lifts this node's fence on g. Requires n.mu.
func (n *Node) fenceLocked(g *group, now time.Time) {
	if g.cfg.DisableIsolationFence {
		if g.fence.active {
			n.unfenceLocked(g, "disabled")
		}
		return
	}
	f := &g.fence
	if f.active && f.addr != g.master.addr {
		// The configuration moved on (the majority failed over): keep the
		// old master fenced until it is demoted, then restore it.
		inst := n.instanceLocked(g, f.addr)
		switch {
		case inst == nil:
			f.active = false
		case inst.roleReported == topology.RoleReplica && inst.infoAt.After(f.since):
			n.unfenceLocked(g, "demoted")
		case now.Sub(f.sentAt) >= fenceReassert:
			n.applyFenceLocked(g, inst.addr)
		}
		return
	}
	m := g.master
	v := failover.FenceView{
		Now:          now,
		MasterUp:     m.connected && !m.lastOKReply.IsZero() && now.Sub(m.lastOKReply) <= fenceMasterFresh && m.roleReported == topology.RoleMaster,
		Busy:         g.attempt != nil || g.switching,
		Tilt:         n.tiltLocked(),
		Voters:       len(g.peers) + 1,
		Replicas:     len(g.replicas),
		Fenced:       f.active,
		FencedSince:  f.since,
		SuspectSince: f.suspect,
	}
	var states []time.Time
	confirm, dissent := 0, false
	for id := range g.peers {
		p := n.peers[id]
		if p == nil {
			continue
		}
		states = append(states, p.lastState)
		if f.active && p.lastState.After(f.since) {
			if pv, ok := p.masters[g.name()]; ok && pv.addr == m.addr.String() && !pv.sdown {
				confirm++
			} else {
				dissent = true
			}
		}
	}
	v.MajorityHeard = failover.MajorityHeardAt(now, v.Voters, states)
	v.MajorityConfirms = f.active && !dissent && confirm+1 >= failover.Majority(v.Voters)
	for _, r := range g.replicas {
		if r.roleReported != topology.RoleReplica {
			continue
		}
		if r.lastOKReply.After(v.ReplicaSeen) {
			v.ReplicaSeen = r.lastOKReply
		}
		// Lifting needs an INFO that says so after the fence rose, not a
		// PING answer next to an INFO from before the partition.
		if to, ok := r.info.ReplicaOf(); ok && to == m.addr && r.info.MasterLinkUp {
			if seen := minTime(r.lastOKReply, r.infoAt); seen.After(v.ReplicaFollows) {
				v.ReplicaFollows = seen
			}
		}
	}
	if m.infoAt.After(m.lastOKReply.Add(-fenceMasterFresh)) {
		for _, e := range m.info.Replicas {
			if e.State != "online" || e.Lag < 0 {
				continue
			}
			// Lag is whole seconds: the acknowledgement came no earlier
			// than lag+1 seconds before the INFO.
			if ack := m.infoAt.Add(-time.Duration(e.Lag+1) * time.Second); ack.After(v.ReplicaAck) {
				v.ReplicaAck = ack
			}
		}
	}
	ping, _ := linkTimeouts(g.cfg.DownAfter) // the replicas' PING period
	policy := failover.FencePolicyFor(ping)
	fence, reason := failover.DecideFence(v, policy)
	switch {
	case reason != failover.FenceSuspect:
		f.suspect = time.Time{}
	case f.suspect.IsZero():
		f.suspect = now
	}
	suspicious := now.Sub(v.ReplicaSeen) >= policy.ReplicaSilence/2
	switch {
	case fence && !f.active:
		f.active, f.addr, f.since, f.baseline, f.reason = true, m.addr, now, -1, reason
		n.log.Warn("fencing the master: cut off from its replicas and from the majority of the nodes",
			"master", g.name(), "addr", m.addr.String(), "reason", reason.String())
		n.emitFor(g, Event{Type: "+fence", Warning: true, Payload: n.instanceRef(m) + " " + reason.String()})
		n.applyFenceLocked(g, m.addr)
	case fence && now.Sub(f.sentAt) >= fenceReassert:
		n.applyFenceLocked(g, m.addr)
	case !fence && f.active:
		f.reason = reason
		n.unfenceLocked(g, reason.String())
	case !f.active:
		n.auditFenceLocked(g, now)
	}
	// Only where the evidence can matter: a master without replicas has no
	// lags to report, and a lone voter never fences (polling such masters
	// every tick made a node watching 1000 of them send 10 000 INFO/s).
	if (f.active || (suspicious && v.Voters > 1 && len(g.replicas) > 0)) && m.link != nil && now.Sub(m.infoAt) >= tickPeriod {
		// Fresh replica lags from the master: evidence for or against.
		m.link.requestInfo()
	}
}

// applyFenceLocked sends the fence to addr: min-replicas-to-write raised to
// fenceBase + its value (read first, once), min-replicas-max-lag made
// non-zero (0 disables the check). Requires n.mu.
func (n *Node) applyFenceLocked(g *group, addr topology.Addr) {
	f := &g.fence
	if f.inFlight {
		return
	}
	f.inFlight, f.sentAt = true, time.Now()
	ctx, act, mc, baseline := n.runCtx, n.actions, g.cfg, f.baseline
	n.bgWG.Go(func() {
		c := act.client(mc, addr)
		defer func() { _ = c.Close() }() // the commands' errors are what count
		cctx, cancel := context.WithTimeout(ctx, actionTimeout)
		defer cancel()
		var err error
		if baseline < 0 {
			baseline, err = readMinReplicas(c.ConfigGet(cctx, "min-replicas-to-write").Val())
			if err == nil {
				var lag map[string]string
				if lag, err = c.ConfigGet(cctx, "min-replicas-max-lag").Result(); err == nil && lag["min-replicas-max-lag"] == "0" {
					err = c.ConfigSet(cctx, "min-replicas-max-lag", "10").Err()
				}
			}
		}
		if err == nil {
			err = c.ConfigSet(cctx, "min-replicas-to-write", strconv.Itoa(fenceBase+baseline)).Err()
		}
		n.mu.Lock()
		defer n.mu.Unlock()
		f.inFlight = false
		if err != nil {
			f.sentAt = time.Time{} // retry on the next tick
			if ctx.Err() == nil {
				n.log.Warn("fence: CONFIG SET failed", "master", mc.Name, "addr", addr.String(), "err", err)
			}
			return
		}
		if f.active && f.addr == addr && f.baseline < 0 {
			f.baseline = baseline
		}
	})
}

// readMinReplicas parses a CONFIG GET min-replicas-to-write reply; a value
// that is itself a fence (left by another node) yields the original.
func readMinReplicas(reply map[string]string) (int, error) {
	v, err := strconv.Atoi(reply["min-replicas-to-write"])
	if err != nil {
		return 0, err
	}
	if v >= fenceBase {
		v -= fenceBase
	}
	return v, nil
}

// unfenceLocked lifts this node's fence: restores the saved
// min-replicas-to-write on the fenced instance. Requires n.mu.
func (n *Node) unfenceLocked(g *group, why string) {
	f := &g.fence
	addr, baseline := f.addr, f.baseline
	f.active = false
	g.guardAt = time.Time{} // let the write guard re-assert its value
	n.log.Info("fence lifted", "master", g.name(), "addr", addr.String(), "why", why)
	payload := g.name() + " " + addr.Host + " " + addr.PortString() + " " + why
	n.emitFor(g, Event{Type: "-fence", Warning: true, Payload: payload})
	n.restoreFence(g, addr, baseline)
}

// restoreFence sets min-replicas-to-write on addr back to baseline, or,
// when baseline is unknown (-1), to what a fenced value hides.
func (n *Node) restoreFence(g *group, addr topology.Addr, baseline int) {
	ctx, act, mc := n.runCtx, n.actions, g.cfg
	n.bgWG.Go(func() {
		c := act.client(mc, addr)
		defer func() { _ = c.Close() }() // the commands' errors are what count
		cctx, cancel := context.WithTimeout(ctx, actionTimeout)
		defer cancel()
		cur, err := strconv.Atoi(c.ConfigGet(cctx, "min-replicas-to-write").Val()["min-replicas-to-write"])
		if err != nil || cur < fenceBase {
			return // not fenced (any more), or unreachable: the audit retries
		}
		if baseline < 0 {
			baseline = cur - fenceBase
		}
		if err := c.ConfigSet(cctx, "min-replicas-to-write", strconv.Itoa(baseline)).Err(); err != nil && ctx.Err() == nil {
			n.log.Warn("fence: restoring min-replicas-to-write failed", "master", mc.Name, "addr", addr.String(), "err", err)
		}
	})
}

// auditFenceLocked restores a fence nobody holds any more on g's master:
// only from a node that hears the majority and sees the master healthy with
// no peer calling it down, every fenceAudit. Requires n.mu.
func (n *Node) auditFenceLocked(g *group, now time.Time) {
	m := g.master
	if now.Sub(g.fence.auditAt) < fenceAudit || g.attempt != nil || g.switching || n.tiltLocked() ||
		m.sdown || !m.connected || m.roleReported != topology.RoleMaster || !n.hearsMajorityLocked(g, now) {
		return
	}
	// A fenced master lists min_slaves_good_slaves in INFO (Redis shows it
	// when min-replicas-to-write and -max-lag are both set, and a fence
	// sets both): without it there is nothing to restore, and no
	// connection per master every fenceAudit is needed.
	if !m.infoAt.IsZero() && m.info.MinReplicasGood < 0 {
		return
	}
	for id := range g.peers {
		if p := n.peers[id]; p != nil {
			if pv, ok := p.masters[g.name()]; ok && pv.sdown && now.Sub(pv.at) <= opinionMaxAge {
				return
			}
		}
	}
	g.fence.auditAt = now
	n.restoreFence(g, m.addr, -1)
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
