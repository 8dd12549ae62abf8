package sentinel

import (
	"fmt"
	"time"

	"github.com/vigil-ha/vigil/failover"
)

// Reason says why this node is or is not failing a master over right now:
// the answer to "why didn't it fail over?". It is a stable string, usable
// as a log field and a metric label.
type Reason string

// Reasons, roughly in the order they are checked.
const (
	ReasonFailoverRunning   Reason = "failover-in-progress"
	ReasonSwitchoverRunning Reason = "switchover-in-progress"
	ReasonMasterOK          Reason = "master-ok"
	ReasonPaused            Reason = "paused"
	ReasonTilt              Reason = "tilt"
	ReasonReplicasSeeMaster Reason = "replicas-see-master"
	ReasonNotODown          Reason = "not-odown"
	ReasonQuorumUnreachable Reason = "quorum-unreachable"
	ReasonWaitingRetry      Reason = "waiting-retry"
	ReasonWaitingTurn       Reason = "waiting-turn"
	ReasonNoGoodReplica     Reason = "no-good-replica"
	ReasonAntiFlap          Reason = "anti-flap"
	ReasonHookPending       Reason = "hook-pending"
	ReasonVetoed            Reason = "vetoed"
	ReasonReady             Reason = "ready"
)

// String implements fmt.Stringer.
func (r Reason) String() string { return string(r) }

// Decision is the current failover decision for one master with its
// reason and human-readable details (one line each).
type Decision struct {
	Reason  Reason   `json:"reason"`
	Details []string `json:"details,omitempty"`
	// LastAbort is why the last attempt of this node ended without a
	// failover, and when.
	LastAbort   string    `json:"last_abort,omitempty"`
	LastAbortAt time.Time `json:"last_abort_at,omitzero"`
}

// Explain returns the current decision for the named master.
func (n *Node) Explain(name string) (Decision, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	g := n.groups[name]
	if g == nil {
		return Decision{}, errNoSuchMaster
	}
	return n.explainLocked(g, time.Now()), nil
}

// explainLocked mirrors the checks of tick, maybeStartFailoverLocked and
// the replica selection, without acting. Requires n.mu.
func (n *Node) explainLocked(g *group, now time.Time) Decision {
	d := Decision{LastAbort: g.lastAbort, LastAbortAt: g.lastAbortAt}
	set := func(r Reason, format string, args ...any) Decision {
		d.Reason = r
		if format != "" {
			d.Details = append(d.Details, fmt.Sprintf(format, args...))
		}
		return d
	}
	if a := g.attempt; a != nil {
		return set(ReasonFailoverRunning, "epoch %d, state %s since %s", a.epoch, a.m.State(), a.m.StateSince().Format(time.RFC3339Nano))
	}
	if g.switching {
		return set(ReasonSwitchoverRunning, "")
	}
	if !g.master.sdown {
		return set(ReasonMasterOK, "master %s answers (last ok ping %s ago)", g.master.addr, now.Sub(g.master.lastOKReply).Round(time.Millisecond))
	}
	if !g.master.regressedSince.IsZero() {
		d.Details = append(d.Details, "master rebooted with less data than a replica (data-regressed)")
	}
	if n.pausedLocked(g) {
		return set(ReasonPaused, "maintenance mode: vigil resume %s to allow failovers", g.name())
	}
	if n.tiltLocked() {
		return set(ReasonTilt, "this node stalled; it acts again after %s", n.tiltUntil.Format(time.RFC3339Nano))
	}
	if r := n.replicaSeesMasterLocked(g); r != nil {
		return set(ReasonReplicasSeeMaster, "s_down here, but replica %s is still receiving replication data from the master (offset %d -> %d)", r.addr, r.prevOffset, r.info.ReplicaReplOffset)
	}
	if !g.odown {
		return set(ReasonNotODown, "s_down here, but only %d of quorum %d nodes agree", max(g.odownCount, 1), g.cfg.Quorum)
	}
	usable, voters := n.usableLocked(g, now)
	if usable < g.cfg.Quorum || usable < failover.Majority(voters) {
		return set(ReasonQuorumUnreachable, "%d usable nodes, need %d (quorum) and %d (majority of %d known)", usable, g.cfg.Quorum, failover.Majority(voters), voters)
	}
	if now.Before(g.nextAttempt) {
		return set(ReasonWaitingRetry, "next attempt at %s", g.nextAttempt.Format(time.RFC3339Nano))
	}
	snap := n.snapshotLocked(g, now)
	_, ok, rejected := failover.SelectReplica(snap.Master, snap.Replicas, now)
	if !ok {
		d = set(ReasonNoGoodReplica, "")
		for _, r := range rejected {
			d.Details = append(d.Details, fmt.Sprintf("replica %s: %s", r.Addr, r.Reason))
		}
		if len(rejected) == 0 {
			d.Details = append(d.Details, "no replica known")
		}
		return d
	}
	if until := g.antiFlapUntil(); now.Before(until) {
		return set(ReasonAntiFlap, "the master changed at %s; no automatic failover before %s", g.lastSwitch.Format(time.RFC3339Nano), until.Format(time.RFC3339Nano))
	}
	if h := g.hook; g.cfg.PreFailoverHook != "" {
		switch {
		case h.running:
			return set(ReasonHookPending, "pre-failover hook %s is running", g.cfg.PreFailoverHook)
		case !h.allowed && !h.at.IsZero() && now.Sub(h.at) < hookRetry:
			return set(ReasonVetoed, "pre-failover hook: %s", h.reason)
		}
	}
	if rank := n.candidateRankLocked(g, now); rank > 0 {
		return set(ReasonWaitingTurn, "node %d in line: a node with a smaller id starts first, this one after %s", rank+1, time.Duration(rank)*rankDelay)
	}
	return set(ReasonReady, "")
}
