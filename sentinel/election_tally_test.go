package sentinel

import (
	"testing"
	"time"

	"github.com/vigil-ha/vigil/config"
	"github.com/vigil-ha/vigil/failover"
)

// TestTallyWaitsForUnreachableVotersOnlyBriefly: two candidates of five
// nodes that started together split the three reachable votes 2-1; the
// other two nodes are cut off. After voteGrace the candidate gives up
// instead of waiting for the election timeout, and retries soon only when
// enough nodes are reachable for someone to win.
func TestTallyWaitsForUnreachableVotersOnlyBriefly(t *testing.T) {
	now := time.Now()
	fresh, stale := now.Add(-100*time.Millisecond), now.Add(-time.Minute)
	n := &Node{id: "a", peers: map[string]*peer{
		"b": {id: "b", alive: true, lastState: fresh},
		"c": {id: "c", alive: true, lastState: fresh},
		"d": {id: "d", alive: false, lastState: stale},
		"e": {id: "e", alive: true, lastState: stale},
	}}
	g := &group{
		cfg:   config.MasterConfig{Quorum: 2},
		peers: map[string]struct{}{"b": {}, "c": {}, "d": {}, "e": {}},
		attempt: &attempt{start: now, votes: map[string]string{
			"a": "a", "b": "a", "c": "c",
		}},
	}
	if got := n.tallyLocked(g, now); got != failover.VotePending {
		t.Fatalf("at the start: %v, want pending (d and e may still answer)", got)
	}
	if got := n.tallyLocked(g, now.Add(voteGrace)); got != failover.VoteLost {
		t.Fatalf("after voteGrace: %v, want lost", got)
	}
	g.attempt.votes["c"] = "a"
	if got := n.tallyLocked(g, now.Add(voteGrace)); got != failover.VoteWon {
		t.Fatalf("3 of 5: %v, want won", got)
	}
	if usable, voters := n.usableLocked(g, now); usable != 3 || voters != 5 {
		t.Fatalf("usable %d of %d, want 3 of 5", usable, voters)
	}
}
