package sentinel

import (
	"context"
	"errors"
	"time"

	"github.com/vigil-ha/vigil/failover"
	"github.com/vigil-ha/vigil/topology"
)

// convertRetry spaces repeated REPLICAOF commands to one misconfigured
// instance.
const convertRetry = 2 * time.Second

// convertGrace is how long an instance we know as a replica must have
// reported role master before this node converts it back. A replica that
// another node has just promoted (switchover, or a failover this node has
// not heard of yet) reports master before that node's gossip arrives here;
// converting it at once would undo the promotion (Sentinel's redis#1445
// race, which Sentinel covers with an 8 s wait). Gossip of a new
// configuration arrives within a few hundred milliseconds.
const convertGrace = 750 * time.Millisecond

// stepAttemptLocked drives the current failover attempt of g one tick
// forward: the election first, then the state machine with a fresh
// snapshot. Requires n.mu.
func (n *Node) stepAttemptLocked(g *group, now time.Time) {
	a := g.attempt
	if a == nil {
		return
	}
	// The machine always decides on the latest observations.
	n.applyLocked(g, a.m.Step(now, n.snapshotLocked(g, now)))
	if g.attempt != a || a.m.State() != failover.StateWaitStart || a.won {
		return
	}
	switch n.tallyLocked(g, now) {
	case failover.VoteWon:
		if !n.offsetsFinalLocked(g, now, a) {
			return // elected; select once the replicas' offsets are final
		}
		a.won = true
		n.applyLocked(g, n.crashAfterElectionLocked(a.m.Step(now, failover.Elected{})))
	case failover.VoteLost:
		// The votes that can still come cannot make us win. When enough
		// nodes are reachable for someone to win, this was a split vote:
		// retry soon, after a random delay, rather than after the
		// election timeout. When they are not (this node is on the
		// minority side of a partition) retrying sooner cannot help.
		n.applyLocked(g, a.m.Step(now, failover.NotElected{}))
		if usable, voters := n.usableLocked(g, now); usable >= max(g.cfg.Quorum, failover.Majority(voters)) {
			g.nextAttempt = now.Add(jitter())
		} else {
			g.nextAttempt = failover.NextAttempt(a.start, g.cfg.FailoverTimeout, jitter())
		}
	default:
		if now.Sub(a.lastAsk) >= askPeriod {
			n.askPeersLocked(g, now)
		}
	}
}

// offsetWait bounds how long an elected leader waits for fresh replica
// INFO before selecting anyway.
const offsetWait = time.Second

// offsetsFinalLocked reports whether every reachable replica's INFO was
// read after the master last answered, so that their offsets are final and
// the replica with the most data wins. Sentinel ranks on INFO up to 5 s old
// and can promote a replica that was merely polled earlier. Until then it
// asks for fresh INFO, for at most offsetWait after the election started.
// Requires n.mu.
func (n *Node) offsetsFinalLocked(g *group, now time.Time, a *attempt) bool {
	if !g.master.sdown {
		return true // manual failover of a live master
	}
	final := true
	for _, r := range g.replicas {
		if r.sdown || !r.connected || !r.infoAt.Before(g.master.lastOKReply) {
			continue
		}
		final = false
		if r.link != nil {
			r.link.requestInfo()
		}
	}
	return final || now.Sub(a.m.StateSince()) > offsetWait
}

// snapshotLocked describes g's replicas for the failover machine.
func (n *Node) snapshotLocked(g *group, now time.Time) failover.Snapshot {
	s := failover.Snapshot{Master: failover.MasterView{
		SDown: g.master.sdown, SDownSince: g.master.sdownSince,
		DownAfter: g.cfg.DownAfter, InfoPeriod: infoPeriod, PingPeriod: pingPeriod,
	}}
	history := replicationHistoryLocked(g)
	for _, r := range g.sortedReplicas() {
		c := failover.Candidate{
			Addr:                r.addr,
			RunID:               r.runID,
			SDown:               r.sdown,
			Disconnected:        !r.connected,
			LastAcceptableReply: r.lastOKReply,
			InfoRefreshed:       r.infoAt,
			Priority:            r.info.ReplicaPriority,
			Offset:              r.info.ReplicaReplOffset,
			RoleReported:        r.roleReported,
			LinkUp:              r.info.MasterLinkUp,
		}
		if r.info.MasterLinkDownSinceSecs > 0 {
			c.MasterLinkDownFor = time.Duration(r.info.MasterLinkDownSinceSecs) * time.Second
		}
		if a, ok := r.info.ReplicaOf(); ok {
			c.ReplicaOf = a
		}
		if r.infoAt.IsZero() {
			c.Priority = 100
		}
		if r.roleReported == topology.RoleMaster && len(history) > 0 {
			// A replica that now says master: promoted by a leader that
			// died before announcing it (its inherited replication ID is
			// the master's), or restarted empty / another server.
			if history[r.info.MasterReplID] || history[r.info.MasterReplID2] {
				c.Offset = r.info.MasterReplOffset
			} else {
				c.ForeignHistory = true
			}
		}
		s.Replicas = append(s.Replicas, c)
	}
	return s
}

// replicationHistoryLocked returns the replication IDs of g's master as
// last seen: its own master_replid and the one its replicas follow.
// Empty when no INFO told it yet. Requires n.mu.
func replicationHistoryLocked(g *group) map[string]bool {
	ids := map[string]bool{}
	if id := g.master.info.MasterReplID; id != "" && g.master.roleReported == topology.RoleMaster {
		ids[id] = true
	}
	for _, r := range g.replicas {
		if id := r.info.MasterReplID; id != "" && r.roleReported == topology.RoleReplica {
			ids[id] = true
		}
	}
	delete(ids, noReplID)
	return ids
}

// noReplID is the replication ID Redis reports for "none"
// (master_replid2 of a server that never changed history).
const noReplID = "0000000000000000000000000000000000000000"

// applyLocked executes the actions the machine returned. Redis commands run
// on their own goroutines and feed their result back as the next input.
// Requires n.mu.
func (n *Node) applyLocked(g *group, actions []failover.Action) {
	a := g.attempt
	for _, act := range actions {
		switch act := act.(type) {
		case failover.Event:
			ma := n.shownAddrLocked(g, act.MasterAddr)
			payload := "master " + act.Master + " " + ma.Host + " " + ma.PortString()
			if !act.Replica.IsZero() {
				ra := n.shownAddrLocked(g, act.Replica)
				payload = "slave " + ra.String() + " " + ra.Host + " " + ra.PortString() + " @ " + act.Master + " " + ma.Host + " " + ma.PortString()
			}
			n.emitFor(g, Event{Type: string(act.Type), Warning: true, Payload: payload})
			if act.Type == failover.EventSelectedSlave {
				n.sampleReplicasLocked(g)
				for _, r := range g.sortedReplicas() {
					n.log.Info("replica considered", "master", g.name(), "replica", r.addr.String(),
						"offset", r.info.ReplicaReplOffset, "priority", r.info.ReplicaPriority,
						"info-age", time.Since(r.infoAt).String(), "s_down", r.sdown)
				}
			}
		case failover.Promote:
			n.runCommand(g, a, act.Replica, topology.Addr{}, func(err error) failover.Input { return failover.PromoteResult{Err: err} })
		case failover.Repoint:
			n.runCommand(g, a, act.Replica, act.To, func(err error) failover.Input {
				return failover.RepointResult{Replica: act.Replica, Err: err}
			})
		case failover.Promoted:
			// From now on the promoted replica is the master we advertise.
			n.reconfigScript(g, "leader", g.master.addr, act.NewMaster)
			g.configEpoch = act.Epoch
			rec := n.state.Masters[g.name()]
			rec.Addr, rec.ConfigEpoch = act.NewMaster.String(), act.Epoch
			n.saveStateLocked()
			n.broadcastLocked()
		case failover.Finished:
			g.attempt = nil
			n.switchMasterLocked(g, act.NewMaster, act.Epoch)
			n.endRecordLocked(g, "switched", act.NewMaster.String())
		case failover.Aborted:
			g.attempt = nil
			g.lastAbort, g.lastAbortAt = act.Reason.String(), time.Now()
			for _, r := range act.Rejected {
				g.lastAbort += "; " + r.Addr.String() + ": " + r.Reason.String()
			}
			n.endRecordLocked(g, "aborted: "+g.lastAbort, "")
			n.log.Warn("failover aborted", "master", g.name(), "reason", act.Reason.String(), "rejected", len(act.Rejected))
			for _, r := range act.Rejected {
				n.log.Warn("replica not promotable", "master", g.name(), "replica", r.Addr.String(), "reason", r.Reason.String())
			}
			if act.Reason == failover.AbortNotElected || act.Reason == failover.AbortNoGoodReplica {
				g.nextAttempt = failover.NextAttempt(a.start, g.cfg.FailoverTimeout, jitter())
			} else {
				g.nextAttempt = failover.HoldOff(time.Now(), g.cfg.FailoverTimeout, jitter())
			}
		}
	}
}

// runCommand runs REPLICAOF on addr (NO ONE when to is zero) in the
// background and steps the attempt with its result, then asks for a fresh
// INFO so the effect is seen without waiting for the next poll.
func (n *Node) runCommand(g *group, a *attempt, addr, to topology.Addr, result func(error) failover.Input) {
	ctx := n.runCtx
	act := n.actions
	mc := g.cfg
	n.bgWG.Go(func() {
		// A promotion reads the new master's INFO on the same connection,
		// so that the machine sees role master at once.
		info, err := act.replicaOfInfo(ctx, mc, addr, to, to.IsZero())
		if err != nil {
			n.log.Warn("reconfiguration command failed", "master", mc.Name, "addr", addr.String(), "err", err)
		}
		if l := n.stepCommand(g, a, addr, to, result(err), err == nil); l != nil && info != "" {
			n.recordInfo(l, time.Now(), info, nil) // wakes the tick
		}
	})
}

// stepCommand feeds a reconfiguration command's result to the attempt and
// returns the link of the instance it was sent to (nil when none, or when
// the node crashed or is crashing on purpose).
func (n *Node) stepCommand(g *group, a *attempt, addr, to topology.Addr, in failover.Input, ok bool) *link {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.crashedLocked() || (ok && to.IsZero() && n.simulateCrashLocked(simCrashAfterPromotion, "after-promotion")) {
		return nil
	}
	var l *link
	if inst := n.instanceLocked(g, addr); inst != nil && inst.link != nil {
		l = inst.link
		l.requestInfo()
	}
	if g.attempt == a {
		n.applyLocked(g, a.m.Step(time.Now(), in))
		n.wakeTick()
	}
	return l
}

func (n *Node) instanceLocked(g *group, addr topology.Addr) *instance {
	if g.master.addr == addr {
		return g.master
	}
	return g.replicas[addr.String()]
}

// switchMasterLocked makes addr g's master (Sentinel's
// sentinelResetMasterAndChangeAddress): the old master becomes a replica to
// be converted when it comes back, the other replicas stay, monitoring
// links are kept. Emits +switch-master and persists. Requires n.mu.
func (n *Node) switchMasterLocked(g *group, addr topology.Addr, epoch uint64) {
	old := g.master
	if addr == old.addr {
		g.configEpoch = epoch
		return
	}
	nm := g.replicas[addr.String()]
	if nm == nil {
		nm = n.newInstance(g, addr)
	}
	delete(g.replicas, addr.String())
	g.replicas[old.addr.String()] = old
	g.master = nm
	g.configEpoch = epoch
	g.lastSwitch = time.Now()
	g.odown, g.odownSince = false, time.Time{}
	n.startLink(nm)
	rec := n.state.Masters[g.name()]
	rec.Addr, rec.ConfigEpoch = addr.String(), epoch
	rec.KnownReplicas = rec.KnownReplicas[:0]
	for k := range g.replicas {
		rec.KnownReplicas = append(rec.KnownReplicas, k)
	}
	n.saveStateLocked()
	n.emitFor(g, Event{Type: "+switch-master", Warning: true, Payload: g.name() + " " + n.hostOf(old) + " " + old.addr.PortString() + " " + n.hostOf(nm) + " " + addr.PortString()})
	n.broadcastLocked()
	for _, inst := range n.instances(g) {
		if inst.link != nil {
			inst.link.requestInfo()
		}
	}
}

// fixReplicasLocked turns instances that disagree with the configuration
// back in line: an instance we know as a replica that reports role master
// (the old master returning) is re-pointed at once (+convert-to-slave), and
// a replica following another master after failover-timeout
// (+fix-slave-config). Only when the master is healthy from here, no
// failover of ours is running, and this node hears from a majority of the
// peers that monitor the master, so a node cut off from the others never
// undoes a failover it has not heard about. Requires n.mu.
func (n *Node) fixReplicasLocked(g *group, now time.Time) {
	m := g.master
	if g.attempt != nil || g.switching || m.sdown || m.roleReported != topology.RoleMaster || now.Sub(m.infoAt) > 2*infoPeriod || n.tiltLocked() {
		return
	}
	if !n.hearsMajorityLocked(g, now) {
		return
	}
	for _, r := range g.sortedReplicas() {
		// Act only on what the instance says now: an INFO from before a
		// crash must not trigger a REPLICAOF to a dead instance.
		if r.sdown || r.infoAt.IsZero() || now.Sub(r.lastFix) < convertRetry ||
			now.Sub(r.lastOKReply) > 2*pingPeriod || now.Sub(r.infoAt) > infoPeriod+pingPeriod {
			continue
		}
		switch r.roleReported {
		case topology.RoleMaster:
			if now.Sub(r.roleReportedAt) < convertGrace {
				continue
			}
			r.lastFix = now
			n.emit(Event{Type: "+convert-to-slave", Payload: n.instanceRef(r)})
			n.repointAsync(g, r.addr, m.addr)
		case topology.RoleReplica:
			to, ok := r.info.ReplicaOf()
			if !ok || to == m.addr {
				r.wrongMasterSince = time.Time{}
				continue
			}
			if r.wrongMasterSince.IsZero() {
				r.wrongMasterSince = now
			}
			if now.Sub(r.wrongMasterSince) > g.cfg.FailoverTimeout {
				r.lastFix = now
				n.emit(Event{Type: "+fix-slave-config", Payload: n.instanceRef(r)})
				n.repointAsync(g, r.addr, m.addr)
			}
		}
	}
}

func (n *Node) repointAsync(g *group, addr, to topology.Addr) {
	ctx, act, mc := n.runCtx, n.actions, g.cfg
	n.bgWG.Go(func() {
		if err := act.replicaOf(ctx, mc, addr, to); err != nil {
			n.log.Warn("re-pointing replica failed", "master", mc.Name, "replica", addr.String(), "err", err)
		}
		n.mu.Lock()
		if inst := n.instanceLocked(g, addr); inst != nil && inst.link != nil {
			inst.link.requestInfo()
		}
		n.mu.Unlock()
	})
}

// hearsMajorityLocked reports whether this node has fresh state from enough
// peers of g to be on the majority side: self plus fresh peers reach a
// majority of all known voters. Requires n.mu.
func (n *Node) hearsMajorityLocked(g *group, now time.Time) bool {
	heard := 1
	for id := range g.peers {
		if p := n.peers[id]; p != nil && p.alive && now.Sub(p.lastState) <= opinionMaxAge {
			heard++
		}
	}
	return heard >= failover.Majority(len(g.peers)+1)
}

// broadcastLocked asks for this node's state to be pushed to peers now.
// The push itself happens on the broadcaster goroutine, outside n.mu: the
// gossip layer holds its own lock while it asks for LocalState, so calling
// into it with n.mu held could deadlock.
func (n *Node) broadcastLocked() {
	if n.crashedLocked() {
		return
	}
	select {
	case n.bcast <- struct{}{}:
	default:
	}
}

// broadcaster pushes the node's state whenever broadcastLocked asks.
func (n *Node) broadcaster(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-n.bcast:
			n.cluster.Broadcast(n.LocalState())
		}
	}
}

// manualFailover starts a failover without agreement (SENTINEL FAILOVER).
func (n *Node) manualFailover(name string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	g := n.groups[name]
	if g == nil {
		return errNoSuchMaster
	}
	if g.attempt != nil || g.switching {
		return errInProgress
	}
	now := time.Now()
	snap := n.snapshotLocked(g, now)
	best, ok, _ := failover.SelectReplica(snap.Master, snap.Replicas, now)
	if !ok {
		return errNoGoodSlave
	}
	m := g.master
	if !m.sdown && m.connected && m.roleReported == topology.RoleMaster && best.LinkUp && best.ReplicaOf == m.addr {
		// The master is alive: hand over without losing or reordering
		// anything (the switchover path), and fall back to Sentinel's
		// forced failover only if that cannot complete. Sentinel promotes
		// at once and loses the writes the old master acknowledges
		// meanwhile.
		ctx := n.runCtx
		n.bgWG.Go(func() {
			err := n.switchover(ctx, name, "")
			if err == nil || errors.Is(err, errInProgress) || ctx.Err() != nil {
				return
			}
			n.log.Warn("handover for SENTINEL FAILOVER failed; forcing the failover", "master", name, "err", err)
			n.mu.Lock()
			defer n.mu.Unlock()
			if g.attempt == nil && !g.switching {
				n.startAttemptLocked(g, time.Now(), true)
				n.stepAttemptLocked(g, time.Now())
			}
		})
		return nil
	}
	n.startAttemptLocked(g, now, true)
	n.stepAttemptLocked(g, now)
	return nil
}

// emitFor emits an event about g and adds it to the timeline of g's
// attempt in progress. Requires n.mu.
func (n *Node) emitFor(g *group, ev Event) {
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	g.record.note(ev)
	n.emit(ev)
}
