package failover_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/failover"
	"github.com/vigil-ha/vigil/topology"
)

// detectAndElect plays the part of three vigil nodes a, b and c (quorum 2)
// watching w.master, which has been killed: node a polls until the master
// is s_down, asks its peers, reaches o_down, starts a candidacy and collects
// the votes. It returns the won epoch.
func detectAndElect(t *testing.T, w *world) uint64 {
	t.Helper()
	const downAfter, quorum = 5 * time.Second, 2
	lastReply := w.now
	probe := failover.Probe{DownAfter: downAfter, LastAcceptableReply: lastReply, PingPending: true, ConfiguredMaster: true, RoleReported: topology.RoleMaster}
	for !failover.SubjectivelyDown(probe, w.now) {
		w.advance(time.Second)
	}
	if got, want := w.now.Sub(lastReply), 6*time.Second; got != want {
		t.Fatalf("s_down after %v, want %v", got, want)
	}
	w.sdownAt = w.now

	opinions := []failover.Opinion{{Node: "b", Down: true, At: w.now}, {Node: "c", Down: true, At: w.now.Add(-time.Second)}}
	if down, count := failover.ObjectivelyDown(true, opinions, quorum, w.now, failover.DefaultOpinionMaxAge); !down || count != 3 {
		t.Fatalf("ObjectivelyDown = (%v, %d), want (true, 3)", down, count)
	}

	votes := map[string]failover.VoteState{"a": {CurrentEpoch: 4}, "b": {CurrentEpoch: 3}, "c": {CurrentEpoch: 4, VotedEpoch: 4, VotedFor: "c"}}
	next, epoch := failover.StartCandidacy(votes["a"], "a")
	votes["a"] = next
	tally := failover.VoteTally{Voters: 3, Quorum: quorum, Votes: map[string]string{"a": "a"}}
	if r := tally.Result("a"); r != failover.VotePending {
		t.Fatalf("after self vote: %v, want pending", r)
	}
	for _, peer := range []string{"b", "c"} {
		req := failover.VoteRequest{Epoch: epoch, Candidate: "a"}
		next, reply, changed := votes[peer].HandleRequest(req)
		if !changed || !reply.Granted(req) {
			t.Fatalf("%s refused: %+v", peer, reply)
		}
		votes[peer] = next // persisted before replying
		tally.Votes[peer] = reply.Leader
	}
	if r := tally.Result("a"); r != failover.VoteWon {
		t.Fatalf("tally: %v, want won", r)
	}
	if epoch != 5 {
		t.Fatalf("epoch %d, want 5", epoch)
	}
	return epoch
}

func newDriver(w *world, epoch uint64, mod func(*failover.Params)) *driver {
	p := failover.Params{Master: "mymaster", OldMaster: w.master, Epoch: epoch, Start: w.now, FailoverTimeout: time.Minute, ParallelSyncs: 1}
	if mod != nil {
		mod(&p)
	}
	return &driver{w: w, m: failover.New(p)}
}

func TestScenarioKillMasterFullFailover(t *testing.T) {
	w := newWorld(oldMaster, map[topology.Addr]int64{r1: 100, r2: 90, r3: 80}, r1, r2, r3)
	w.kill(oldMaster)
	epoch := detectAndElect(t, w)
	d := newDriver(w, epoch, nil)

	d.step(w.snapshot())
	d.step(failover.Elected{})
	d.pollUntilFinished(t, time.Minute)

	want := []string{
		"+elected-leader",
		"+failover-state-select-slave",
		"+selected-slave 10.0.0.2:6379",
		"+failover-state-send-slaveof-noone 10.0.0.2:6379",
		"promote 10.0.0.2:6379",
		"+failover-state-wait-promotion 10.0.0.2:6379",
		"+promoted-slave 10.0.0.2:6379",
		"promoted mymaster 10.0.0.2:6379 epoch 5",
		"+failover-state-reconf-slaves",
		"repoint 10.0.0.3:6379 -> 10.0.0.2:6379",
		"+slave-reconf-sent 10.0.0.3:6379",
		// +1s: r2 follows r1, still syncing.
		"+slave-reconf-inprog 10.0.0.3:6379",
		// +2s: r2's link is up; r3's turn (parallel-syncs 1).
		"+slave-reconf-done 10.0.0.3:6379",
		"repoint 10.0.0.4:6379 -> 10.0.0.2:6379",
		"+slave-reconf-sent 10.0.0.4:6379",
		"+slave-reconf-inprog 10.0.0.4:6379",
		"+slave-reconf-done 10.0.0.4:6379",
		"+failover-end",
		"finished mymaster 10.0.0.1:6379 -> 10.0.0.2:6379 epoch 5",
	}
	if !slices.Equal(d.log, want) {
		t.Fatalf("log:\n%s\nwant:\n%s", fmtLog(d.log), fmtLog(want))
	}
	if got := w.now.Sub(t0); got != 10*time.Second {
		t.Errorf("failover finished at +%v, want +10s (6s detection, 4s reconf)", got)
	}
	if d.m.Promoted() != r1 || !d.m.StateSince().Equal(w.now) {
		t.Errorf("Promoted() = %v, StateSince() = %v", d.m.Promoted(), d.m.StateSince())
	}
	if i := w.inst[r1]; i.role != topology.RoleMaster {
		t.Errorf("r1 role %v", i.role)
	}
	for _, a := range []topology.Addr{r2, r3} {
		if i := w.inst[a]; i.replicaOf != r1 || !i.linkUp {
			t.Errorf("%v: replica of %v, link up %v", a, i.replicaOf, i.linkUp)
		}
	}
}

func TestScenarioNoGoodReplica(t *testing.T) {
	w := newWorld(oldMaster, map[topology.Addr]int64{r1: 100, r2: 90}, r1, r2)
	w.inst[r1].priority = 0
	w.kill(oldMaster)
	w.kill(r2)
	epoch := detectAndElect(t, w)
	d := newDriver(w, epoch, nil)

	d.step(w.snapshot())
	d.step(failover.Elected{})

	want := []string{
		"+elected-leader",
		"+failover-state-select-slave",
		"-failover-abort-no-good-slave",
		"aborted no-good-slave 10.0.0.2:6379=priority-zero 10.0.0.3:6379=s_down",
	}
	if !slices.Equal(d.log, want) || d.m.State() != failover.StateAborted {
		t.Fatalf("state %v, log:\n%s\nwant:\n%s", d.m.State(), fmtLog(d.log), fmtLog(want))
	}
	if i := w.inst[r1]; i.role != topology.RoleReplica || i.replicaOf != oldMaster {
		t.Errorf("r1 was touched: %+v", *i)
	}
	// Nothing was sent to any instance, so the node may try again soon.
	if got, want := failover.NextAttempt(d.m.StateSince(), time.Minute, 400*time.Millisecond), w.now.Add(10*time.Second+400*time.Millisecond); !got.Equal(want) {
		t.Errorf("NextAttempt = %v, want %v", got, want)
	}
}

func TestScenarioPromotionNeverSeen(t *testing.T) {
	w := newWorld(oldMaster, map[topology.Addr]int64{r1: 100, r2: 90}, r1, r2)
	w.ignorePromote = true
	w.kill(oldMaster)
	epoch := detectAndElect(t, w)
	d := newDriver(w, epoch, nil)

	d.step(w.snapshot())
	d.step(failover.Elected{})
	answered := w.now
	if d.m.State() != failover.StateWaitPromotion {
		t.Fatalf("state %v, want wait_promotion", d.m.State())
	}
	d.pollUntilFinished(t, 2*time.Minute)

	if d.m.State() != failover.StateAborted {
		t.Fatalf("state %v, want aborted", d.m.State())
	}
	if got, want := d.m.StateSince(), answered.Add(61*time.Second); !got.Equal(want) {
		t.Errorf("aborted at %v, want first poll after the 60s failover timeout (%v)", got, want)
	}
	tail := d.log[len(d.log)-2:]
	if !slices.Equal(tail, []string{"-failover-abort-slave-timeout", "aborted slave-timeout"}) {
		t.Errorf("log ends with %q", tail)
	}
	if slices.ContainsFunc(d.log, func(l string) bool { return strings.HasPrefix(l, "repoint") }) {
		t.Errorf("a replica was re-pointed before the promotion was seen:\n%s", fmtLog(d.log))
	}
	// The promotion may still land: wait Sentinel's 2×failover-timeout.
	if got, want := failover.HoldOff(d.m.StateSince(), time.Minute, 0), w.now.Add(2*time.Minute); !got.Equal(want) {
		t.Errorf("HoldOff = %v, want %v", got, want)
	}
}

func TestScenarioReconfStallsEndsForTimeout(t *testing.T) {
	w := newWorld(oldMaster, map[topology.Addr]int64{r1: 100, r2: 90, r3: 80}, r1, r2, r3)
	w.neverSync[r2] = true // accepts REPLICAOF, never finishes its sync
	w.kill(oldMaster)
	epoch := detectAndElect(t, w)
	d := newDriver(w, epoch, nil)

	d.step(w.snapshot())
	d.step(failover.Elected{})
	promotedAt := w.now
	if d.m.State() != failover.StateReconfReplicas {
		t.Fatalf("state %v, want reconf_slaves (promotion confirmed by the snapshot passed after the answer)", d.m.State())
	}
	d.pollUntilFinished(t, 2*time.Minute)

	if got, want := d.m.StateSince(), promotedAt.Add(61*time.Second); !got.Equal(want) {
		t.Errorf("finished at %v, want %v", got, want)
	}
	i := slices.Index(d.log, "+slave-reconf-inprog 10.0.0.3:6379")
	if i < 0 {
		t.Fatalf("r2 never in progress:\n%s", fmtLog(d.log))
	}
	want := []string{
		"+slave-reconf-inprog 10.0.0.3:6379",
		"+failover-end-for-timeout",
		"+failover-end",
		"repoint 10.0.0.3:6379 -> 10.0.0.2:6379",
		"+slave-reconf-sent-be 10.0.0.3:6379",
		"repoint 10.0.0.4:6379 -> 10.0.0.2:6379",
		"+slave-reconf-sent-be 10.0.0.4:6379",
		"finished mymaster 10.0.0.1:6379 -> 10.0.0.2:6379 epoch 5 (timed out)",
	}
	if got := d.log[i:]; !slices.Equal(got, want) {
		t.Fatalf("log from r2 in progress:\n%s\nwant:\n%s", fmtLog(got), fmtLog(want))
	}
	if w.inst[r3].replicaOf != r1 {
		t.Errorf("r3 not re-pointed by the best-effort pass")
	}
}
