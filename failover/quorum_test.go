package failover_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/failover"
)

func TestObjectivelyDown(t *testing.T) {
	const maxAge = failover.DefaultOpinionMaxAge
	now := t0.Add(time.Minute)
	fresh, stale := now.Add(-maxAge), now.Add(-maxAge-time.Millisecond)
	down := func(node string, at time.Time) failover.Opinion {
		return failover.Opinion{Node: node, Down: true, At: at}
	}
	up := func(node string, at time.Time) failover.Opinion { return failover.Opinion{Node: node, At: at} }
	tests := []struct {
		name      string
		self      bool
		opinions  []failover.Opinion
		quorum    int
		wantDown  bool
		wantCount int
	}{
		{"self up: never down", false, []failover.Opinion{down("a", now), down("b", now)}, 1, false, 0},
		{"self only, quorum 1", true, nil, 1, true, 1},
		{"self only, quorum 2", true, nil, 2, false, 1},
		{"self + one peer, quorum 2", true, []failover.Opinion{down("a", now)}, 2, true, 2},
		{"peer at exactly max age counts", true, []failover.Opinion{down("a", fresh)}, 2, true, 2},
		{"stale peer ignored", true, []failover.Opinion{down("a", stale)}, 2, false, 1},
		{"peer saying up ignored", true, []failover.Opinion{up("a", now)}, 2, false, 1},
		{"mixed", true, []failover.Opinion{down("a", now), up("b", now), down("c", stale), down("d", fresh)}, 3, true, 3},
		{"duplicate peer counted once", true, []failover.Opinion{down("a", now), down("a", now)}, 3, false, 2},
		{"newest opinion of a peer wins (now up)", true, []failover.Opinion{down("a", now.Add(-time.Second)), up("a", now)}, 2, false, 1},
		{"newest opinion of a peer wins (now down)", true, []failover.Opinion{down("a", now), up("a", now.Add(-time.Second))}, 2, true, 2},
		{"newest opinion stale, older fresh one ignored", true, []failover.Opinion{down("a", now.Add(-time.Hour)), up("a", now.Add(-time.Hour))}, 2, false, 1},
		{"future opinion counts", true, []failover.Opinion{down("a", now.Add(time.Second))}, 2, true, 2},
		{"quorum 0 with self down", true, nil, 0, true, 1},
		{"quorum above nodes", true, []failover.Opinion{down("a", now), down("b", now)}, 5, false, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			gotDown, gotCount := failover.ObjectivelyDown(tc.self, tc.opinions, tc.quorum, now, maxAge)
			if gotDown != tc.wantDown || gotCount != tc.wantCount {
				t.Errorf("ObjectivelyDown = (%v, %d), want (%v, %d)", gotDown, gotCount, tc.wantDown, tc.wantCount)
			}
		})
	}
}

func TestMajority(t *testing.T) {
	for n, want := range map[int]int{-3: 1, 0: 1, 1: 1, 2: 2, 3: 2, 4: 3, 5: 3, 6: 4, 7: 4} {
		if got := failover.Majority(n); got != want {
			t.Errorf("Majority(%d) = %d, want %d", n, got, want)
		}
	}
}

func TestLeaderAuthorized(t *testing.T) {
	tests := []struct {
		votes, quorum, voters int
		want                  bool
	}{
		{1, 1, 1, true},
		{1, 1, 2, false}, // majority of 2 is 2
		{2, 1, 2, true},
		{2, 2, 3, true},
		{1, 2, 3, false},
		{2, 3, 3, false}, // majority reached, quorum not
		{3, 3, 3, true},
		{2, 1, 5, false}, // quorum reached, majority not
		{3, 1, 5, true},
		{3, 2, 5, true},
		{3, 4, 5, false},
		{0, 0, 0, false},
		{1, 0, 0, true},
	}
	for _, tc := range tests {
		if got := failover.LeaderAuthorized(tc.votes, tc.quorum, tc.voters); got != tc.want {
			t.Errorf("LeaderAuthorized(votes=%d, quorum=%d, voters=%d) = %v, want %v", tc.votes, tc.quorum, tc.voters, got, tc.want)
		}
	}
}

func TestVoteTally(t *testing.T) {
	tests := []struct {
		name   string
		tally  failover.VoteTally
		cand   string
		want   failover.VoteResult
		count  int
		needed int
	}{
		{"single node votes for itself", failover.VoteTally{Voters: 1, Quorum: 1, Votes: map[string]string{"a": "a"}}, "a", failover.VoteWon, 1, 1},
		{"no votes yet", failover.VoteTally{Voters: 3, Quorum: 2, Votes: nil}, "a", failover.VotePending, 0, 2},
		{"self vote only of 3", failover.VoteTally{Voters: 3, Quorum: 2, Votes: map[string]string{"a": "a"}}, "a", failover.VotePending, 1, 2},
		{"2 of 3", failover.VoteTally{Voters: 3, Quorum: 2, Votes: map[string]string{"a": "a", "b": "a"}}, "a", failover.VoteWon, 2, 2},
		{"split 1-1, one missing: pending", failover.VoteTally{Voters: 3, Quorum: 2, Votes: map[string]string{"a": "a", "b": "b"}}, "a", failover.VotePending, 1, 2},
		{"split 1-1-1: lost", failover.VoteTally{Voters: 3, Quorum: 2, Votes: map[string]string{"a": "a", "b": "b", "c": "c"}}, "a", failover.VoteLost, 1, 2},
		{"other won", failover.VoteTally{Voters: 3, Quorum: 2, Votes: map[string]string{"a": "b", "b": "b"}}, "a", failover.VoteLost, 0, 2},
		{"quorum above majority: 3 of 5 with quorum 4 pending", failover.VoteTally{Voters: 5, Quorum: 4, Votes: map[string]string{"a": "a", "b": "a", "c": "a"}}, "a", failover.VotePending, 3, 4},
		{"quorum above majority: 4 of 5 with quorum 4 won", failover.VoteTally{Voters: 5, Quorum: 4, Votes: map[string]string{"a": "a", "b": "a", "c": "a", "d": "a"}}, "a", failover.VoteWon, 4, 4},
		{"quorum above majority: lost when 2 voted elsewhere", failover.VoteTally{Voters: 5, Quorum: 4, Votes: map[string]string{"a": "a", "b": "x", "c": "x"}}, "a", failover.VoteLost, 1, 4},
		{"quorum above voters: lost at once", failover.VoteTally{Voters: 2, Quorum: 3, Votes: map[string]string{}}, "a", failover.VoteLost, 0, 3},
		{"empty candidate entries are missing voters", failover.VoteTally{Voters: 3, Quorum: 2, Votes: map[string]string{"a": "a", "b": "", "c": "c"}}, "a", failover.VotePending, 1, 2},
		{"more votes than voters", failover.VoteTally{Voters: 1, Quorum: 1, Votes: map[string]string{"a": "b", "b": "b"}}, "a", failover.VoteLost, 0, 1},
		{"empty candidate never wins", failover.VoteTally{Voters: 1, Quorum: 1, Votes: map[string]string{"a": ""}}, "", failover.VotePending, 0, 1},
		{"4 voters need 3", failover.VoteTally{Voters: 4, Quorum: 2, Votes: map[string]string{"a": "a", "b": "a"}}, "a", failover.VotePending, 2, 3},
		{"4 voters, 2-2 split lost", failover.VoteTally{Voters: 4, Quorum: 2, Votes: map[string]string{"a": "a", "b": "a", "c": "c", "d": "c"}}, "a", failover.VoteLost, 2, 3},
		{"5 voters split 2-1, two not yet voted: pending", failover.VoteTally{Voters: 5, Quorum: 2, Votes: map[string]string{"a": "a", "b": "a", "c": "c"}}, "a", failover.VotePending, 2, 3},
		{"5 voters split 2-1, the two others silent: lost", failover.VoteTally{Voters: 5, Quorum: 2, Votes: map[string]string{"a": "a", "b": "a", "c": "c"}, Silent: 2}, "a", failover.VoteLost, 2, 3},
		{"silent voters do not stop a win", failover.VoteTally{Voters: 5, Quorum: 2, Votes: map[string]string{"a": "a", "b": "a", "c": "a"}, Silent: 2}, "a", failover.VoteWon, 3, 3},
		{"one silent of two missing: pending", failover.VoteTally{Voters: 5, Quorum: 2, Votes: map[string]string{"a": "a", "b": "a", "c": "c"}, Silent: 1}, "a", failover.VotePending, 2, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.tally.Result(tc.cand); got != tc.want {
				t.Errorf("Result(%q) = %v, want %v", tc.cand, got, tc.want)
			}
			if got := tc.tally.Count(tc.cand); got != tc.count {
				t.Errorf("Count(%q) = %d, want %d", tc.cand, got, tc.count)
			}
			if got := tc.tally.Needed(); got != tc.needed {
				t.Errorf("Needed() = %d, want %d", got, tc.needed)
			}
		})
	}
}

func TestVoteTallyLeader(t *testing.T) {
	tests := []struct {
		tally  failover.VoteTally
		want   string
		wantOK bool
	}{
		{failover.VoteTally{Voters: 3, Quorum: 2}, "", false},
		{failover.VoteTally{Voters: 3, Quorum: 2, Votes: map[string]string{"a": "a", "b": "b"}}, "", false},
		{failover.VoteTally{Voters: 3, Quorum: 2, Votes: map[string]string{"a": "b", "b": "b", "c": "c"}}, "b", true},
		{failover.VoteTally{Voters: 1, Quorum: 1, Votes: map[string]string{"a": "z", "b": "y"}}, "y", true}, // inconsistent input: deterministic
		{failover.VoteTally{Voters: 1, Quorum: 1, Votes: map[string]string{"a": "z", "b": "y", "c": "z"}}, "z", true},
	}
	for i, tc := range tests {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			got, ok := tc.tally.Leader()
			if got != tc.want || ok != tc.wantOK {
				t.Errorf("Leader() = (%q, %v), want (%q, %v)", got, ok, tc.want, tc.wantOK)
			}
		})
	}
}

func TestVoteResultString(t *testing.T) {
	for r, want := range map[failover.VoteResult]string{
		failover.VotePending: "pending", failover.VoteWon: "won", failover.VoteLost: "lost", failover.VoteResult(9): "unknown",
	} {
		if got := r.String(); got != want {
			t.Errorf("String() = %q, want %q", got, want)
		}
	}
}
