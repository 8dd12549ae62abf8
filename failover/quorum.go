package failover

import (
	"sort"
	"time"
)

// DefaultOpinionMaxAge is how long a peer's "master is down" answer stays
// valid: Sentinel forgets it after 5×ask-period (5 s).
const DefaultOpinionMaxAge = 5 * time.Second

// Opinion is a peer's latest answer to "is this master down?".
type Opinion struct {
	// Node identifies the peer (its run id or node name).
	Node string
	// Down is the peer's answer.
	Down bool
	// At is when we received the answer (by our clock).
	At time.Time
}

// ObjectivelyDown reports whether a master is objectively down (Sentinel's
// o_down) and how many nodes, self included, currently say it is down.
//
// Only a node that itself sees the master subjectively down can declare
// o_down; when selfDown is false the result is (false, 0). Otherwise count is
// 1 (self) plus the distinct peers whose latest opinion says down and is at
// most maxAge old; older opinions are ignored. If a peer appears more than
// once, only its newest opinion counts. down is count >= quorum.
//
// Like Sentinel this is a "weak" quorum: the opinions were gathered at
// different times within maxAge, not agreed at one instant.
func ObjectivelyDown(selfDown bool, opinions []Opinion, quorum int, now time.Time, maxAge time.Duration) (down bool, count int) {
	if !selfDown {
		return false, 0
	}
	latest := make(map[string]Opinion, len(opinions))
	for _, o := range opinions {
		if prev, seen := latest[o.Node]; seen && !o.At.After(prev.At) {
			continue
		}
		latest[o.Node] = o
	}
	count = 1
	for _, o := range latest {
		if o.Down && now.Sub(o.At) <= maxAge {
			count++
		}
	}
	return count >= quorum, count
}

// Majority returns the smallest strict majority of n voters: n/2+1. It is 1
// for n <= 1.
func Majority(n int) int {
	if n < 1 {
		return 1
	}
	return n/2 + 1
}

// LeaderAuthorized reports whether a candidate holding votes votes may lead
// the failover: it needs at least quorum votes and a majority of all voters
// (Sentinel counts every node ever known for the master, reachable or not).
func LeaderAuthorized(votes, quorum, voters int) bool {
	return votes >= quorum && votes >= Majority(voters)
}

// VoteResult is the outcome of an election for one candidate.
type VoteResult int

// Election outcomes.
const (
	// VotePending: the candidate has not won yet but still can.
	VotePending VoteResult = iota
	// VoteWon: the candidate is authorised to lead.
	VoteWon
	// VoteLost: the candidate cannot win this epoch even if every voter
	// that has not voted yet votes for it.
	VoteLost
)

// String returns "pending", "won" or "lost".
func (r VoteResult) String() string {
	switch r {
	case VotePending:
		return "pending"
	case VoteWon:
		return "won"
	case VoteLost:
		return "lost"
	}
	return "unknown"
}

// VoteTally is the set of votes cast in one epoch for one master.
type VoteTally struct {
	// Voters is the number of nodes entitled to vote, self included.
	Voters int
	// Quorum is the master's configured quorum.
	Quorum int
	// Votes maps each voter that has voted in this epoch to its candidate.
	// Votes recorded for other epochs must not be included. An empty
	// candidate means "no vote yet" and is ignored.
	Votes map[string]string
	// Silent is the number of voters that have not voted and are not
	// waited for any longer (the caller knows them unreachable): a
	// candidate that cannot win without them has lost. Counting a voter
	// silent can only end an attempt sooner, never make a second leader.
	Silent int
}

// Needed returns the number of votes a candidate needs:
// max(Quorum, Majority(Voters)).
func (t VoteTally) Needed() int {
	return max(t.Quorum, Majority(t.Voters))
}

// Count returns the votes cast for candidate.
func (t VoteTally) Count(candidate string) int {
	if candidate == "" {
		return 0
	}
	n := 0
	for _, c := range t.Votes {
		if c == candidate {
			n++
		}
	}
	return n
}

// Result says whether candidate has won, lost or may still win.
func (t VoteTally) Result(candidate string) VoteResult {
	votes := t.Count(candidate)
	if LeaderAuthorized(votes, t.Quorum, t.Voters) {
		return VoteWon
	}
	cast := 0
	for _, c := range t.Votes {
		if c != "" {
			cast++
		}
	}
	missing := max(t.Voters-cast-t.Silent, 0)
	if votes+missing < t.Needed() {
		return VoteLost
	}
	return VotePending
}

// Leader returns the candidate that has won, if any. When the votes are
// inconsistent (more votes than voters) and several candidates qualify, the
// one with the most votes wins, ties broken by the smaller name.
func (t VoteTally) Leader() (string, bool) {
	counts := make(map[string]int)
	for _, c := range t.Votes {
		if c != "" {
			counts[c]++
		}
	}
	names := make([]string, 0, len(counts))
	for c := range counts {
		names = append(names, c)
	}
	sort.Slice(names, func(i, j int) bool {
		if counts[names[i]] != counts[names[j]] {
			return counts[names[i]] > counts[names[j]]
		}
		return names[i] < names[j]
	})
	for _, c := range names {
		if LeaderAuthorized(counts[c], t.Quorum, t.Voters) {
			return c, true
		}
	}
	return "", false
}
