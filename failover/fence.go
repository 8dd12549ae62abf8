package failover

import (
	"slices"
	"time"
)

// Fencing an isolated master (bounded split brain).
//
// When a partition leaves the master with its clients and a minority of the
// vigil nodes, the majority side promotes a replica and every write the old
// master acknowledges meanwhile is lost. A node on the master's side can
// tell it is in that situation before the majority acts: it still reaches
// the master, but no replica of it has answered for a while and it has not
// heard from a majority of the nodes either. Then it fences the master —
// makes it refuse writes — until positive evidence says the master is safe
// to write to again (the majority is back and still has it as master, or a
// replica follows it again), or it was demoted.
//
// Every input is an observation with its time; the decision is pure.

// FencePolicy are the silence thresholds of DecideFence.
type FencePolicy struct {
	// ReplicaSilence is how long no replica following the master may have
	// answered this node before the master counts as cut off from its
	// replicas: a few PING periods.
	ReplicaSilence time.Duration
	// MajoritySilence is how long this node may have gone without fresh
	// state from a majority of the nodes before it counts as cut off from
	// them: a little more than the nodes' state broadcast period.
	MajoritySilence time.Duration
	// AckMargin: a replica acknowledgement the master reports at least this
	// long after the node last heard from a replica proves the replicas are
	// alive and connected to the master, so the silence is this node's own
	// problem and the master is not fenced.
	AckMargin time.Duration
	// Confirm is how long the silences must have held, tick after tick,
	// before the fence rises: when the node itself stalls (CPU starvation,
	// a VM pause shorter than TILT's trigger) every silence looks long on
	// the first tick after it, until the replies that waited are read.
	Confirm time.Duration
}

// DefaultFencePolicy fits vigil's cadence: replicas are PINGed every 250 ms
// (down-after 1 s), node state is broadcast every 500 ms.
func DefaultFencePolicy() FencePolicy {
	return FencePolicy{
		ReplicaSilence:  600 * time.Millisecond,
		MajoritySilence: 800 * time.Millisecond,
		AckMargin:       500 * time.Millisecond,
		Confirm:         150 * time.Millisecond,
	}
}

// FencePolicyFor is DefaultFencePolicy for replicas PINGed every ping: a
// replica counts as silent after two PINGs missed and half a period more,
// and never sooner than DefaultFencePolicy says. A silence shorter than the
// PING period would find healthy replicas silent between their PINGs, and a
// node that hears no majority (its peers down, or only known, not running)
// would fence a healthy master over and over.
func FencePolicyFor(ping time.Duration) FencePolicy {
	p := DefaultFencePolicy()
	p.ReplicaSilence = max(p.ReplicaSilence, ping*5/2)
	return p
}

// FenceView is what one node knows when deciding whether to fence the
// master it reaches.
type FenceView struct {
	Now time.Time
	// MasterUp: the instance answers this node and reports role master.
	MasterUp bool
	// Busy: a failover attempt or switchover of this node is running; no
	// new fence is raised (an existing one is kept).
	Busy bool
	// Tilt: this node stalled recently, its silences mean nothing.
	Tilt bool
	// Voters is the number of nodes monitoring the master, this one
	// included. With a single voter the node is always "the majority" and
	// never fences.
	Voters int
	// Replicas is how many replicas of the master this node knows. With
	// none there is nothing the majority could promote, so a fence would
	// protect no write and only refuse them all.
	Replicas int
	// MajorityHeard is the last time this node had fresh state from enough
	// peers to make a majority with itself (the majority-th most recent
	// peer state).
	MajorityHeard time.Time
	// MajorityConfirms: the peers heard since the fence began, with this
	// node, form a majority, and they all have this instance as the master
	// and do not see it down.
	MajorityConfirms bool
	// ReplicaSeen is the last time a replica of this master (role slave)
	// answered this node (zero if never).
	ReplicaSeen time.Time
	// ReplicaFollows is the time of the latest INFO, answered after a
	// PING, in which a replica reported following this very address with
	// its link up (zero if none). Behind NAT a replica may name the master
	// by another address; it then never lifts a fence.
	ReplicaFollows time.Time
	// ReplicaAck is the latest replica acknowledgement the master itself
	// reported in INFO, estimated conservatively (never later than the
	// real one); zero if unknown.
	ReplicaAck time.Time
	// Fenced / FencedSince: this node fences the master now, since when.
	Fenced      bool
	FencedSince time.Time
	// SuspectSince is when DecideFence first answered FenceSuspect in the
	// current unbroken run of such answers (zero if the last answer was
	// another): the driver keeps it.
	SuspectSince time.Time
}

// FenceReason says why DecideFence decided as it did.
type FenceReason int

// Reasons returned by DecideFence.
const (
	// FenceNotNeeded: no sign of isolation.
	FenceNotNeeded FenceReason = iota
	// FenceIsolated: the master is cut off from its replicas and this node
	// from the majority: fence (or keep fencing).
	FenceIsolated
	// FenceHeld: fenced, and no positive evidence yet that writing is safe.
	FenceHeld
	// FenceLiftMajority: the majority is back and still has this master.
	FenceLiftMajority
	// FenceLiftReplica: a replica follows the master again (it answered
	// this node, or the master reports its acknowledgements).
	FenceLiftReplica
	// FenceSkipTilt: the node is in TILT; nothing is decided anew.
	FenceSkipTilt
	// FenceSkipMasterDown: the master does not answer (or is no longer a
	// master): fencing it is moot.
	FenceSkipMasterDown
	// FenceSkipSingleNode: a lone node is always the majority.
	FenceSkipSingleNode
	// FenceSkipBusy: a failover or switchover of this node is running.
	FenceSkipBusy
	// FenceSkipReplicasAck: the master reports replica acknowledgements
	// after this node lost sight of the replicas: the problem is local.
	FenceSkipReplicasAck
	// FenceSuspect: the silences hold, but not yet for Confirm.
	FenceSuspect
	// FenceSkipNoReplicas: the master has no known replica, so no
	// failover can replace it.
	FenceSkipNoReplicas
)

var fenceReasonNames = [...]string{
	FenceNotNeeded:       "not-needed",
	FenceIsolated:        "isolated",
	FenceHeld:            "held",
	FenceLiftMajority:    "majority-confirms",
	FenceLiftReplica:     "replica-follows",
	FenceSkipTilt:        "tilt",
	FenceSkipMasterDown:  "master-down",
	FenceSkipSingleNode:  "single-node",
	FenceSkipBusy:        "busy",
	FenceSkipReplicasAck: "replicas-acknowledge",
	FenceSuspect:         "suspect",
	FenceSkipNoReplicas:  "no-replicas",
}

func (r FenceReason) String() string {
	if r >= 0 && int(r) < len(fenceReasonNames) {
		return fenceReasonNames[r]
	}
	return "unknown"
}

// DecideFence reports whether the master should be fenced now, and why.
// A fence, once raised, is kept until positive evidence lifts it: silence
// ending is not enough (the majority may have failed over meanwhile), so a
// fenced master stays fenced while the node cannot tell.
func DecideFence(v FenceView, p FencePolicy) (bool, FenceReason) {
	if v.Tilt {
		return v.Fenced, FenceSkipTilt
	}
	if !v.MasterUp {
		return v.Fenced, FenceSkipMasterDown
	}
	if v.Voters <= 1 {
		return false, FenceSkipSingleNode
	}
	acked := !v.ReplicaAck.IsZero() && v.ReplicaAck.Sub(v.ReplicaSeen) >= p.AckMargin
	if v.Fenced {
		switch {
		case v.MajorityConfirms:
			return false, FenceLiftMajority
		case v.ReplicaFollows.After(v.FencedSince):
			return false, FenceLiftReplica
		case !v.ReplicaAck.IsZero() && v.ReplicaAck.Sub(v.FencedSince) >= p.AckMargin:
			return false, FenceLiftReplica
		}
		return true, FenceHeld
	}
	if v.Busy {
		return false, FenceSkipBusy
	}
	if v.Replicas == 0 {
		return false, FenceSkipNoReplicas
	}
	replicasSilent := v.Now.Sub(v.ReplicaSeen) >= p.ReplicaSilence
	majoritySilent := v.Now.Sub(v.MajorityHeard) >= p.MajoritySilence
	if !replicasSilent || !majoritySilent {
		return false, FenceNotNeeded
	}
	if acked {
		return false, FenceSkipReplicasAck
	}
	if v.SuspectSince.IsZero() || v.Now.Sub(v.SuspectSince) < p.Confirm {
		return false, FenceSuspect
	}
	return true, FenceIsolated
}

// MajorityHeardAt returns when a node last had fresh state from a majority
// of voters, itself included, given the arrival times of its peers' latest
// states: the (majority-1)-th most recent of them. With no peers needed
// (a single voter) it is now; with too few peers known, the zero time.
func MajorityHeardAt(now time.Time, voters int, peerStates []time.Time) time.Time {
	need := Majority(voters) - 1
	if need <= 0 {
		return now
	}
	if len(peerStates) < need {
		return time.Time{}
	}
	sorted := slices.Clone(peerStates)
	slices.SortFunc(sorted, func(a, b time.Time) int { return b.Compare(a) }) // newest first
	return sorted[need-1]
}
