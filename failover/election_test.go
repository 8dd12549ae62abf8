package failover_test

import (
	"math"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/failover"
)

func TestHandleRequest(t *testing.T) {
	type vs = failover.VoteState
	tests := []struct {
		name        string
		state       vs
		req         failover.VoteRequest
		want        vs
		reply       failover.VoteReply
		changed     bool
		wantGranted bool
	}{
		{"fresh node grants and adopts epoch",
			vs{}, failover.VoteRequest{Epoch: 1, Candidate: "a"},
			vs{CurrentEpoch: 1, VotedEpoch: 1, VotedFor: "a"}, failover.VoteReply{Leader: "a", Epoch: 1}, true, true},
		{"higher epoch adopted and granted",
			vs{CurrentEpoch: 5, VotedEpoch: 3, VotedFor: "x"}, failover.VoteRequest{Epoch: 6, Candidate: "a"},
			vs{CurrentEpoch: 6, VotedEpoch: 6, VotedFor: "a"}, failover.VoteReply{Leader: "a", Epoch: 6}, true, true},
		{"current epoch not yet voted in: granted",
			vs{CurrentEpoch: 5, VotedEpoch: 3, VotedFor: "x"}, failover.VoteRequest{Epoch: 5, Candidate: "a"},
			vs{CurrentEpoch: 5, VotedEpoch: 5, VotedFor: "a"}, failover.VoteReply{Leader: "a", Epoch: 5}, true, true},
		{"already voted for another in this epoch: refused, old vote returned",
			vs{CurrentEpoch: 5, VotedEpoch: 5, VotedFor: "x"}, failover.VoteRequest{Epoch: 5, Candidate: "a"},
			vs{CurrentEpoch: 5, VotedEpoch: 5, VotedFor: "x"}, failover.VoteReply{Leader: "x", Epoch: 5}, false, false},
		{"repeated request from the same candidate: same vote, no change",
			vs{CurrentEpoch: 5, VotedEpoch: 5, VotedFor: "a"}, failover.VoteRequest{Epoch: 5, Candidate: "a"},
			vs{CurrentEpoch: 5, VotedEpoch: 5, VotedFor: "a"}, failover.VoteReply{Leader: "a", Epoch: 5}, false, true},
		{"stale epoch refused, older vote returned",
			vs{CurrentEpoch: 5, VotedEpoch: 3, VotedFor: "x"}, failover.VoteRequest{Epoch: 4, Candidate: "a"},
			vs{CurrentEpoch: 5, VotedEpoch: 3, VotedFor: "x"}, failover.VoteReply{Leader: "x", Epoch: 3}, false, false},
		{"stale epoch, never voted: empty reply",
			vs{CurrentEpoch: 5}, failover.VoteRequest{Epoch: 2, Candidate: "a"},
			vs{CurrentEpoch: 5}, failover.VoteReply{}, false, false},
		{"older than the recorded vote",
			vs{CurrentEpoch: 7, VotedEpoch: 7, VotedFor: "x"}, failover.VoteRequest{Epoch: 6, Candidate: "a"},
			vs{CurrentEpoch: 7, VotedEpoch: 7, VotedFor: "x"}, failover.VoteReply{Leader: "x", Epoch: 7}, false, false},
		{"no candidate (down query only): nothing changes even with a higher epoch",
			vs{CurrentEpoch: 2, VotedEpoch: 1, VotedFor: "x"}, failover.VoteRequest{Epoch: 9},
			vs{CurrentEpoch: 2, VotedEpoch: 1, VotedFor: "x"}, failover.VoteReply{Leader: "x", Epoch: 1}, false, false},
		{"epoch 0 request on fresh node: nothing to grant",
			vs{}, failover.VoteRequest{Epoch: 0, Candidate: "a"},
			vs{}, failover.VoteReply{}, false, false},
		{"max epoch",
			vs{CurrentEpoch: 1}, failover.VoteRequest{Epoch: math.MaxUint64, Candidate: "a"},
			vs{CurrentEpoch: math.MaxUint64, VotedEpoch: math.MaxUint64, VotedFor: "a"}, failover.VoteReply{Leader: "a", Epoch: math.MaxUint64}, true, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			next, reply, changed := tc.state.HandleRequest(tc.req)
			if next != tc.want || reply != tc.reply || changed != tc.changed {
				t.Errorf("HandleRequest = (%+v, %+v, %v), want (%+v, %+v, %v)", next, reply, changed, tc.want, tc.reply, tc.changed)
			}
			if got := reply.Granted(tc.req); got != tc.wantGranted {
				t.Errorf("Granted = %v, want %v", got, tc.wantGranted)
			}
		})
	}
}

func TestHandleRequestAdoptsEpochWithoutVote(t *testing.T) {
	// A higher epoch is adopted even when the vote is refused because the
	// node already voted in a later epoch than its current one (which can
	// only happen with inconsistent input); changed must report it.
	s := failover.VoteState{CurrentEpoch: 3, VotedEpoch: 8, VotedFor: "x"}
	next, reply, changed := s.HandleRequest(failover.VoteRequest{Epoch: 5, Candidate: "a"})
	want := failover.VoteState{CurrentEpoch: 5, VotedEpoch: 8, VotedFor: "x"}
	if next != want || !changed || reply != (failover.VoteReply{Leader: "x", Epoch: 8}) {
		t.Errorf("got (%+v, %+v, %v)", next, reply, changed)
	}
}

func TestGrantedNeedsCandidate(t *testing.T) {
	if (failover.VoteReply{}).Granted(failover.VoteRequest{}) {
		t.Error("an empty reply must not count as a vote for an empty candidate")
	}
}

func TestStartCandidacy(t *testing.T) {
	tests := []struct {
		name      string
		state     failover.VoteState
		want      failover.VoteState
		wantEpoch uint64
	}{
		{"fresh", failover.VoteState{}, failover.VoteState{CurrentEpoch: 1, VotedEpoch: 1, VotedFor: "me"}, 1},
		{"after voting for another", failover.VoteState{CurrentEpoch: 7, VotedEpoch: 7, VotedFor: "x"}, failover.VoteState{CurrentEpoch: 8, VotedEpoch: 8, VotedFor: "me"}, 8},
		{"epoch exhausted", failover.VoteState{CurrentEpoch: math.MaxUint64}, failover.VoteState{CurrentEpoch: math.MaxUint64}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			next, epoch := failover.StartCandidacy(tc.state, "me")
			if next != tc.want || epoch != tc.wantEpoch {
				t.Errorf("StartCandidacy = (%+v, %d), want (%+v, %d)", next, epoch, tc.want, tc.wantEpoch)
			}
		})
	}
}

func TestCandidateRefusesRivalInItsEpoch(t *testing.T) {
	s, epoch := failover.StartCandidacy(failover.VoteState{CurrentEpoch: 4}, "me")
	_, reply, changed := s.HandleRequest(failover.VoteRequest{Epoch: epoch, Candidate: "rival"})
	if changed || reply != (failover.VoteReply{Leader: "me", Epoch: epoch}) {
		t.Errorf("rival got (%+v, changed=%v)", reply, changed)
	}
	// A later epoch from the rival is granted.
	next, reply, changed := s.HandleRequest(failover.VoteRequest{Epoch: epoch + 1, Candidate: "rival"})
	if !changed || !reply.Granted(failover.VoteRequest{Epoch: epoch + 1, Candidate: "rival"}) || next.CurrentEpoch != epoch+1 {
		t.Errorf("later epoch: (%+v, %+v, %v)", next, reply, changed)
	}
}

func TestElectionTimeout(t *testing.T) {
	for ft, want := range map[time.Duration]time.Duration{
		3 * time.Minute:  10 * time.Second,
		10 * time.Second: 10 * time.Second,
		4 * time.Second:  4 * time.Second,
		0:                0,
	} {
		if got := failover.ElectionTimeout(ft); got != want {
			t.Errorf("ElectionTimeout(%v) = %v, want %v", ft, got, want)
		}
	}
}

func TestNextAttemptAndHoldOff(t *testing.T) {
	tests := []struct {
		name        string
		ft, jitter  time.Duration
		next, after time.Duration // offsets from t0
	}{
		{"defaults", 3 * time.Minute, 500 * time.Millisecond, 10*time.Second + 500*time.Millisecond, 6*time.Minute + 500*time.Millisecond},
		{"short failover timeout caps election", 4 * time.Second, 0, 4 * time.Second, 8 * time.Second},
		{"negative jitter ignored", time.Minute, -time.Second, 10 * time.Second, 2 * time.Minute},
		{"huge failover timeout saturates", math.MaxInt64, 0, 10 * time.Second, math.MaxInt64},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got, want := failover.NextAttempt(t0, tc.ft, tc.jitter), t0.Add(tc.next); !got.Equal(want) {
				t.Errorf("NextAttempt = %v, want %v", got, want)
			}
			if got, want := failover.HoldOff(t0, tc.ft, tc.jitter), t0.Add(tc.after); !got.Equal(want) {
				t.Errorf("HoldOff = %v, want %v", got, want)
			}
		})
	}
}
