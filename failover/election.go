package failover

import (
	"math"
	"time"
)

// DefaultElectionTimeout is Sentinel's sentinel_election_timeout: the longest
// a candidate waits to be elected (capped by the failover timeout).
const DefaultElectionTimeout = 10 * time.Second

// VoteState is a node's election record for one master, Raft/Sentinel style:
// at most one vote per epoch, and epochs only move forward.
//
// CurrentEpoch is node-global in Sentinel (one counter shared by all
// masters). It is kept here so that the functions stay pure, but the caller
// owns the shared value: copy it in before calling and copy the returned
// CurrentEpoch back to every master's state (and persist it).
type VoteState struct {
	// CurrentEpoch is the highest epoch this node has seen.
	CurrentEpoch uint64
	// VotedEpoch is the epoch of the last vote granted (Sentinel's
	// leader_epoch); zero if none.
	VotedEpoch uint64
	// VotedFor is the candidate voted for in VotedEpoch; empty if none.
	VotedFor string
}

// VoteRequest asks for a vote for Candidate in Epoch (Sentinel's
// is-master-down-by-addr with a run id instead of "*").
type VoteRequest struct {
	Epoch uint64
	// Candidate is the requesting node; empty means the request asks only
	// for the down state, not for a vote (Sentinel's "*").
	Candidate string
}

// VoteReply is the vote the receiver holds after handling a request. It may
// be an older vote or a vote for another candidate; Leader is empty when no
// vote was ever granted (Sentinel replies "*").
type VoteReply struct {
	Leader string
	Epoch  uint64
}

// Granted reports whether the reply is a vote for req's candidate in req's
// epoch.
func (r VoteReply) Granted(req VoteRequest) bool {
	return req.Candidate != "" && r.Leader == req.Candidate && r.Epoch == req.Epoch
}

// HandleRequest applies a vote request (Sentinel's sentinelVoteLeader):
//
//   - if req.Epoch > CurrentEpoch, CurrentEpoch becomes req.Epoch;
//   - the vote is granted iff VotedEpoch < req.Epoch and
//     CurrentEpoch <= req.Epoch (checked after the adoption above);
//   - the reply carries the recorded vote, granted now or earlier.
//
// A request with an empty Candidate changes nothing. When changed is true the
// caller must persist next BEFORE sending the reply, or a restart could vote
// twice in one epoch. The driver emits +new-epoch when next.CurrentEpoch
// grew and +vote-for-leader when reply.Granted(req).
func (s VoteState) HandleRequest(req VoteRequest) (next VoteState, reply VoteReply, changed bool) {
	next = s
	if req.Candidate != "" {
		if req.Epoch > next.CurrentEpoch {
			next.CurrentEpoch = req.Epoch
		}
		if next.VotedEpoch < req.Epoch && next.CurrentEpoch <= req.Epoch {
			next.VotedEpoch = req.Epoch
			next.VotedFor = req.Candidate
		}
	}
	return next, VoteReply{Leader: next.VotedFor, Epoch: next.VotedEpoch}, next != s
}

// StartCandidacy begins an election by self: it increments CurrentEpoch and
// records a vote for self in the new epoch. The caller must persist next
// before sending vote requests for epoch. If CurrentEpoch is already at its
// maximum no election can start: s is returned unchanged and epoch is 0.
func StartCandidacy(s VoteState, self string) (next VoteState, epoch uint64) {
	if s.CurrentEpoch == math.MaxUint64 {
		return s, 0
	}
	epoch = s.CurrentEpoch + 1
	return VoteState{CurrentEpoch: epoch, VotedEpoch: epoch, VotedFor: self}, epoch
}

// ElectionTimeout returns how long a candidate waits to be elected:
// min(DefaultElectionTimeout, failoverTimeout).
func ElectionTimeout(failoverTimeout time.Duration) time.Duration {
	return min(DefaultElectionTimeout, failoverTimeout)
}

// NextAttempt returns the earliest time this node may start a new failover
// attempt for a master after an election it started at lastStart was lost
// or timed out without anyone winning: lastStart + ElectionTimeout +
// jitter. The caller draws jitter uniformly from [0, 1s) so that competing
// candidates do not collide again; a negative jitter counts as 0.
//
// Sentinel instead waits 2×failover-timeout after any attempt (6 minutes by
// default), which is the main reason its failovers stall after a split vote.
// Use HoldOff, Sentinel's delay, whenever another node may be failing the
// master over: after granting our vote to another candidate, after seeing
// another candidate win an epoch, and after an attempt of ours that got past
// the election and then aborted (its promotion command may still land).
func NextAttempt(lastStart time.Time, failoverTimeout, jitter time.Duration) time.Time {
	return lastStart.Add(addDur(ElectionTimeout(failoverTimeout), max(jitter, 0)))
}

// HoldOff returns from + 2×failoverTimeout + jitter, Sentinel's minimum gap
// between failover attempts on one master (a negative jitter counts as 0).
// See NextAttempt for when to use it.
func HoldOff(from time.Time, failoverTimeout, jitter time.Duration) time.Time {
	return from.Add(addDur(mulDur(failoverTimeout, 2), max(jitter, 0)))
}
