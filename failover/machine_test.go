package failover_test

import (
	"errors"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/failover"
)

var (
	r4 = addr(5)
	r5 = addr(6)
	// gone is a replica that is disconnected but not (yet) s_down.
	gone = edit(rep(addr(7), 1), func(c *failover.Candidate) { c.Disconnected = true })
)

const ms = time.Millisecond

var errBoom = errors.New("boom")

// Action lines shared by the scripts (r1 is always the selected replica).
var (
	electedToPromote = []string{
		"+elected-leader",
		"+failover-state-select-slave",
		"+selected-slave 10.0.0.2:6379",
		"+failover-state-send-slaveof-noone 10.0.0.2:6379",
		"promote 10.0.0.2:6379",
	}
	waitPromotion = []string{"+failover-state-wait-promotion 10.0.0.2:6379"}
	promoted      = []string{
		"+promoted-slave 10.0.0.2:6379",
		"promoted mymaster 10.0.0.2:6379 epoch 7",
		"+failover-state-reconf-slaves",
	}
	finished = "finished mymaster 10.0.0.1:6379 -> 10.0.0.2:6379 epoch 7"
)

func join[T any](parts ...[]T) []T {
	var out []T
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// untilWaitPromotion brings a machine to WaitPromotion at +1s with r1
// selected; the other replicas are passed in the snapshot.
func untilWaitPromotion(others ...failover.Candidate) []step {
	return []step{
		{0, snap(0, append([]failover.Candidate{rep(r1, 100)}, others...)...), nil, failover.StateWaitStart},
		{time.Second, failover.Elected{}, electedToPromote, failover.StateSendPromote},
		{time.Second, failover.PromoteResult{}, waitPromotion, failover.StateWaitPromotion},
	}
}

func TestMachineScripts(t *testing.T) {
	tests := []struct {
		name   string
		params func(*failover.Params)
		steps  []step
	}{
		// WaitStart.
		{"election pending until the election timeout", nil, []step{
			{0, failover.Tick{}, nil, failover.StateWaitStart},
			{10 * time.Second, failover.Tick{}, nil, failover.StateWaitStart},
			{10*time.Second + 1, failover.Tick{}, []string{"-failover-abort-not-elected", "aborted not-elected"}, failover.StateAborted},
			{11 * time.Second, failover.Elected{}, nil, failover.StateAborted},
		}},
		{"election timeout checked on any input", nil, []step{
			{10*time.Second + 1, snap(10*time.Second, rep(r1, 1)), []string{"-failover-abort-not-elected", "aborted not-elected"}, failover.StateAborted},
		}},
		{"not elected aborts at once", nil, []step{
			{time.Second, failover.NotElected{}, []string{"-failover-abort-not-elected", "aborted not-elected"}, failover.StateAborted},
		}},
		{"election timeout capped by a short failover timeout", func(p *failover.Params) { p.FailoverTimeout = 4 * time.Second }, []step{
			{4 * time.Second, failover.Tick{}, nil, failover.StateWaitStart},
			{4*time.Second + 1, failover.Tick{}, []string{"-failover-abort-not-elected", "aborted not-elected"}, failover.StateAborted},
		}},
		{"explicit election timeout", func(p *failover.Params) { p.ElectionTimeout = 2 * time.Second }, []step{
			{2*time.Second + 1, failover.Tick{}, []string{"-failover-abort-not-elected", "aborted not-elected"}, failover.StateAborted},
		}},
		{"default failover timeout gives a 10s election", func(p *failover.Params) { p.FailoverTimeout = 0 }, []step{
			{10 * time.Second, failover.Tick{}, nil, failover.StateWaitStart},
			{10*time.Second + 1, failover.Tick{}, []string{"-failover-abort-not-elected", "aborted not-elected"}, failover.StateAborted},
		}},
		{"election timeout counts from Start", func(p *failover.Params) { p.Start = t0.Add(700 * ms) }, []step{
			{10*time.Second + 700*ms, failover.Tick{}, nil, failover.StateWaitStart},
			{10*time.Second + 700*ms + 1, failover.Tick{}, []string{"-failover-abort-not-elected", "aborted not-elected"}, failover.StateAborted},
		}},
		{"elected after the timeout but before any tick still leads (as Sentinel)", nil, []step{
			{10 * time.Second, snap(10*time.Second, rep(r1, 1)), nil, failover.StateWaitStart},
			{11 * time.Second, failover.Elected{}, electedToPromote, failover.StateSendPromote},
		}},
		{"forced: no election, starts on the first step", func(p *failover.Params) { p.Forced = true }, []step{
			{0, failover.NotElected{}, []string{"+elected-leader", "+failover-state-select-slave"}, failover.StateSelectReplica},
			{time.Second, snap(time.Second, rep(r1, 1)), electedToPromote[2:], failover.StateSendPromote},
		}},
		{"forced never times out waiting for an election", func(p *failover.Params) { p.Forced = true }, []step{
			{time.Hour, snap(time.Hour, rep(r1, 1)), electedToPromote, failover.StateSendPromote},
		}},

		// SelectReplica.
		{"elected without a snapshot waits for one", nil, []step{
			{time.Second, failover.Elected{}, electedToPromote[:2], failover.StateSelectReplica},
			{2 * time.Second, failover.Tick{}, nil, failover.StateSelectReplica},
			{3 * time.Second, failover.Elected{}, nil, failover.StateSelectReplica},
			{4 * time.Second, snap(4*time.Second, rep(r2, 1), rep(r1, 2)), electedToPromote[2:], failover.StateSendPromote},
		}},
		{"no snapshot within the failover timeout", nil, []step{
			{time.Second, failover.Elected{}, electedToPromote[:2], failover.StateSelectReplica},
			{61 * time.Second, failover.Tick{}, nil, failover.StateSelectReplica},
			{61*time.Second + 1, failover.Tick{}, []string{"-failover-abort-no-good-slave", "aborted no-good-slave"}, failover.StateAborted},
		}},
		{"no good replica", nil, []step{
			{0, snap(0,
				edit(rep(r1, 9), func(c *failover.Candidate) { c.Priority = 0 }),
				edit(rep(r2, 9), func(c *failover.Candidate) { c.SDown = true }),
			), nil, failover.StateWaitStart},
			{time.Second, failover.Elected{}, []string{
				"+elected-leader", "+failover-state-select-slave", "-failover-abort-no-good-slave",
				"aborted no-good-slave 10.0.0.2:6379=priority-zero 10.0.0.3:6379=s_down",
			}, failover.StateAborted},
		}},
		{"selection judges the held snapshot at the time of election", nil, []step{
			{0, snap(0, rep(r1, 9)), nil, failover.StateWaitStart},
			{5*time.Second + 1, failover.Elected{}, []string{
				"+elected-leader", "+failover-state-select-slave", "-failover-abort-no-good-slave",
				"aborted no-good-slave 10.0.0.2:6379=stale-ping",
			}, failover.StateAborted},
		}},
		{"the old master is never a candidate", nil, []step{
			{0, snap(0, asMaster(rep(oldMaster, 1000)), rep(r1, 1)), nil, failover.StateWaitStart},
			{time.Second, failover.Elected{}, electedToPromote, failover.StateSendPromote},
		}},

		// SendPromote.
		{"promote error: retried on the next tick, not at once", nil, []step{
			{0, snap(0, rep(r1, 1)), nil, failover.StateWaitStart},
			{time.Second, failover.Elected{}, electedToPromote, failover.StateSendPromote},
			{time.Second, failover.PromoteResult{Err: errBoom}, nil, failover.StateSendPromote},
			{2 * time.Second, failover.Tick{}, []string{"promote 10.0.0.2:6379"}, failover.StateSendPromote},
			{2 * time.Second, failover.Tick{}, nil, failover.StateSendPromote},
			{3 * time.Second, failover.PromoteResult{}, waitPromotion, failover.StateWaitPromotion},
		}},
		{"promote waits while the replica is disconnected", nil, []step{
			{0, snap(0, rep(r1, 1)), nil, failover.StateWaitStart},
			{time.Second, failover.Elected{}, electedToPromote, failover.StateSendPromote},
			{time.Second, failover.PromoteResult{Err: errBoom}, nil, failover.StateSendPromote},
			{2 * time.Second, snap(2*time.Second, edit(rep(r1, 1), func(c *failover.Candidate) { c.Disconnected = true })), nil, failover.StateSendPromote},
			{3 * time.Second, failover.Tick{}, nil, failover.StateSendPromote},
			{4 * time.Second, snap(4*time.Second, rep(r1, 1)), []string{"promote 10.0.0.2:6379"}, failover.StateSendPromote},
		}},
		{"promote never sent: abort after the failover timeout", nil, []step{
			{0, snap(0, rep(r1, 1)), nil, failover.StateWaitStart},
			{time.Second, failover.Elected{}, electedToPromote, failover.StateSendPromote},
			{time.Second, failover.PromoteResult{Err: errBoom}, nil, failover.StateSendPromote},
			{2 * time.Second, snap(2*time.Second, edit(rep(r1, 1), func(c *failover.Candidate) { c.Disconnected = true })), nil, failover.StateSendPromote},
			{61 * time.Second, failover.Tick{}, nil, failover.StateSendPromote},
			{61*time.Second + 1, failover.Tick{}, []string{"-failover-abort-slave-timeout", "aborted slave-timeout"}, failover.StateAborted},
		}},
		{"promote never answered: abort after the failover timeout", nil, []step{
			{0, snap(0, rep(r1, 1)), nil, failover.StateWaitStart},
			{time.Second, failover.Elected{}, electedToPromote, failover.StateSendPromote},
			{30 * time.Second, failover.Tick{}, nil, failover.StateSendPromote},
			{61*time.Second + 1, failover.Tick{}, []string{"-failover-abort-slave-timeout", "aborted slave-timeout"}, failover.StateAborted},
		}},
		{"a master role seen before the promote answer does not count", nil, []step{
			{0, snap(0, rep(r1, 1)), nil, failover.StateWaitStart},
			{time.Second, failover.Elected{}, electedToPromote, failover.StateSendPromote},
			{2 * time.Second, snap(2*time.Second, asMaster(rep(r1, 1))), nil, failover.StateSendPromote},
			{2 * time.Second, failover.PromoteResult{}, waitPromotion, failover.StateWaitPromotion},
			{2 * time.Second, snap(2*time.Second, asMaster(rep(r1, 1))), join(promoted, []string{"+failover-end", finished}), failover.StateDone},
		}},
		{"a selected replica missing from the snapshot is still promoted, but not seen as promoted", nil, []step{
			{0, snap(0, rep(r1, 1), rep(r2, 0)), nil, failover.StateWaitStart},
			{time.Second, failover.Elected{}, electedToPromote, failover.StateSendPromote},
			{time.Second, failover.PromoteResult{Err: errBoom}, nil, failover.StateSendPromote},
			{2 * time.Second, snap(2*time.Second, rep(r2, 0)), []string{"promote 10.0.0.2:6379"}, failover.StateSendPromote},
			{2 * time.Second, failover.PromoteResult{}, waitPromotion, failover.StateWaitPromotion},
			{3 * time.Second, snap(3*time.Second, asMaster(rep(r2, 0))), nil, failover.StateWaitPromotion},
		}},
		{"stray results are ignored", nil, []step{
			{0, failover.PromoteResult{}, nil, failover.StateWaitStart},
			{0, failover.RepointResult{Replica: r2, Err: errBoom}, nil, failover.StateWaitStart},
			{0, snap(0, rep(r1, 1)), nil, failover.StateWaitStart},
			{time.Second, failover.Elected{}, electedToPromote, failover.StateSendPromote},
			{time.Second, failover.PromoteResult{}, waitPromotion, failover.StateWaitPromotion},
			{time.Second, failover.PromoteResult{}, nil, failover.StateWaitPromotion},
			{time.Second, failover.PromoteResult{Err: errBoom}, nil, failover.StateWaitPromotion},
			{time.Second, failover.Elected{}, nil, failover.StateWaitPromotion},
			{time.Second, failover.NotElected{}, nil, failover.StateWaitPromotion},
		}},

		// WaitPromotion.
		{"promotion never seen: abort after the failover timeout from the answer", nil, join(untilWaitPromotion(rep(r2, 1)), []step{
			{10 * time.Second, snap(10*time.Second, rep(r1, 100), rep(r2, 1)), nil, failover.StateWaitPromotion},
			{61 * time.Second, failover.Tick{}, nil, failover.StateWaitPromotion},
			{61*time.Second + 1, failover.Tick{}, []string{"-failover-abort-slave-timeout", "aborted slave-timeout"}, failover.StateAborted},
			{62 * time.Second, snap(62*time.Second, asMaster(rep(r1, 100))), nil, failover.StateAborted},
		})},
		{"promotion seen: replicas re-pointed at once", nil, join(untilWaitPromotion(rep(r2, 1)), []step{
			{time.Second, snap(time.Second, asMaster(rep(r1, 100)), rep(r2, 1)),
				join(promoted, []string{"repoint 10.0.0.3:6379 -> 10.0.0.2:6379", "+slave-reconf-sent 10.0.0.3:6379"}), failover.StateReconfReplicas},
		})},
		{"promotion with no other replica finishes at once", nil, join(untilWaitPromotion(), []step{
			{2 * time.Second, snap(2*time.Second, asMaster(rep(r1, 100))), join(promoted, []string{"+failover-end", finished}), failover.StateDone},
			{3 * time.Second, failover.Tick{}, nil, failover.StateDone},
		})},

		// ReconfReplicas.
		{"sent → in progress → done, then next replica (parallel-syncs 1)", nil, join(untilWaitPromotion(rep(r2, 1), rep(r3, 1)), []step{
			{2 * time.Second, snap(2*time.Second, asMaster(rep(r1, 100)), rep(r2, 1), rep(r3, 1)),
				join(promoted, []string{"repoint 10.0.0.3:6379 -> 10.0.0.2:6379", "+slave-reconf-sent 10.0.0.3:6379"}), failover.StateReconfReplicas},
			{2 * time.Second, failover.RepointResult{Replica: r2}, nil, failover.StateReconfReplicas},
			{3 * time.Second, snap(3*time.Second, asMaster(rep(r1, 100)), rep(r2, 1), rep(r3, 1)), nil, failover.StateReconfReplicas},
			{4 * time.Second, snap(4*time.Second, asMaster(rep(r1, 100)), following(rep(r2, 1), false), rep(r3, 1)),
				[]string{"+slave-reconf-inprog 10.0.0.3:6379"}, failover.StateReconfReplicas},
			{5 * time.Second, failover.Tick{}, nil, failover.StateReconfReplicas},
			{6 * time.Second, snap(6*time.Second, asMaster(rep(r1, 100)), following(rep(r2, 1), true), rep(r3, 1)),
				[]string{"+slave-reconf-done 10.0.0.3:6379", "repoint 10.0.0.4:6379 -> 10.0.0.2:6379", "+slave-reconf-sent 10.0.0.4:6379"}, failover.StateReconfReplicas},
			{7 * time.Second, snap(7*time.Second, asMaster(rep(r1, 100)), following(rep(r2, 1), true), following(rep(r3, 1), true)),
				[]string{"+slave-reconf-inprog 10.0.0.4:6379", "+slave-reconf-done 10.0.0.4:6379", "+failover-end", finished}, failover.StateDone},
		})},
		{"parallel-syncs 2", func(p *failover.Params) { p.ParallelSyncs = 2 }, join(untilWaitPromotion(rep(r2, 1), rep(r3, 1), rep(r4, 1)), []step{
			{2 * time.Second, snap(2*time.Second, asMaster(rep(r1, 100)), rep(r2, 1), rep(r3, 1), rep(r4, 1)),
				join(promoted, []string{
					"repoint 10.0.0.3:6379 -> 10.0.0.2:6379", "+slave-reconf-sent 10.0.0.3:6379",
					"repoint 10.0.0.4:6379 -> 10.0.0.2:6379", "+slave-reconf-sent 10.0.0.4:6379",
				}), failover.StateReconfReplicas},
			{3 * time.Second, snap(3*time.Second, asMaster(rep(r1, 100)), following(rep(r2, 1), true), rep(r3, 1), rep(r4, 1)),
				[]string{"+slave-reconf-inprog 10.0.0.3:6379", "+slave-reconf-done 10.0.0.3:6379", "repoint 10.0.0.5:6379 -> 10.0.0.2:6379", "+slave-reconf-sent 10.0.0.5:6379"}, failover.StateReconfReplicas},
			{4 * time.Second, snap(4*time.Second, asMaster(rep(r1, 100)), following(rep(r2, 1), true), following(rep(r3, 1), true), following(rep(r4, 1), true)),
				[]string{"+slave-reconf-inprog 10.0.0.4:6379", "+slave-reconf-done 10.0.0.4:6379", "+slave-reconf-inprog 10.0.0.5:6379", "+slave-reconf-done 10.0.0.5:6379", "+failover-end", finished}, failover.StateDone},
		})},
		{"in progress needs role slave and the promoted address", nil, join(untilWaitPromotion(rep(r2, 1)), []step{
			{2 * time.Second, snap(2*time.Second, asMaster(rep(r1, 100)), rep(r2, 1)),
				join(promoted, []string{"repoint 10.0.0.3:6379 -> 10.0.0.2:6379", "+slave-reconf-sent 10.0.0.3:6379"}), failover.StateReconfReplicas},
			{3 * time.Second, snap(3*time.Second, asMaster(rep(r1, 100)), edit(rep(r2, 1), func(c *failover.Candidate) { c.LinkUp = true })), nil, failover.StateReconfReplicas},
			{4 * time.Second, snap(4*time.Second, asMaster(rep(r1, 100)), asMaster(following(rep(r2, 1), true))), nil, failover.StateReconfReplicas},
			{5 * time.Second, snap(5*time.Second, asMaster(rep(r1, 100)), following(rep(r2, 1), true)),
				[]string{"+slave-reconf-inprog 10.0.0.3:6379", "+slave-reconf-done 10.0.0.3:6379", "+failover-end", finished}, failover.StateDone},
		})},
		{"a replica already following the new master is still re-pointed (as Sentinel)", nil, join(untilWaitPromotion(rep(r2, 1)), []step{
			{2 * time.Second, snap(2*time.Second, asMaster(rep(r1, 100)), following(rep(r2, 1), true)),
				join(promoted, []string{"repoint 10.0.0.3:6379 -> 10.0.0.2:6379", "+slave-reconf-sent 10.0.0.3:6379"}), failover.StateReconfReplicas},
			{3 * time.Second, snap(3*time.Second, asMaster(rep(r1, 100)), following(rep(r2, 1), true)),
				[]string{"+slave-reconf-inprog 10.0.0.3:6379", "+slave-reconf-done 10.0.0.3:6379", "+failover-end", finished}, failover.StateDone},
		})},
		{"sent without progress for the reconf timeout counts as done", nil, join(untilWaitPromotion(rep(r2, 1), rep(r3, 1)), []step{
			{2 * time.Second, snap(2*time.Second, asMaster(rep(r1, 100)), rep(r2, 1), rep(r3, 1)),
				join(promoted, []string{"repoint 10.0.0.3:6379 -> 10.0.0.2:6379", "+slave-reconf-sent 10.0.0.3:6379"}), failover.StateReconfReplicas},
			{12 * time.Second, failover.Tick{}, nil, failover.StateReconfReplicas},
			{12*time.Second + 1, failover.Tick{}, []string{
				"-slave-reconf-sent-timeout 10.0.0.3:6379", "repoint 10.0.0.4:6379 -> 10.0.0.2:6379", "+slave-reconf-sent 10.0.0.4:6379",
			}, failover.StateReconfReplicas},
			{13 * time.Second, snap(13*time.Second, asMaster(rep(r1, 100)), rep(r2, 1), following(rep(r3, 1), true)),
				[]string{"+slave-reconf-inprog 10.0.0.4:6379", "+slave-reconf-done 10.0.0.4:6379", "+failover-end", finished}, failover.StateDone},
		})},
		{"custom reconf timeout", func(p *failover.Params) { p.ReconfTimeout = 3 * time.Second }, join(untilWaitPromotion(rep(r2, 1)), []step{
			{2 * time.Second, snap(2*time.Second, asMaster(rep(r1, 100)), rep(r2, 1)),
				join(promoted, []string{"repoint 10.0.0.3:6379 -> 10.0.0.2:6379", "+slave-reconf-sent 10.0.0.3:6379"}), failover.StateReconfReplicas},
			{5 * time.Second, failover.Tick{}, nil, failover.StateReconfReplicas},
			{5*time.Second + 1, failover.Tick{}, []string{"-slave-reconf-sent-timeout 10.0.0.3:6379", "+failover-end", finished}, failover.StateDone},
		})},
		{"repoint error: retried on the next tick, bounded by the reconf timeout", nil, join(untilWaitPromotion(rep(r2, 1), rep(r3, 1)), []step{
			{2 * time.Second, snap(2*time.Second, asMaster(rep(r1, 100)), rep(r2, 1), rep(r3, 1)),
				join(promoted, []string{"repoint 10.0.0.3:6379 -> 10.0.0.2:6379", "+slave-reconf-sent 10.0.0.3:6379"}), failover.StateReconfReplicas},
			{2 * time.Second, failover.RepointResult{Replica: r2, Err: errBoom}, nil, failover.StateReconfReplicas},
			{3 * time.Second, failover.Tick{}, []string{"repoint 10.0.0.3:6379 -> 10.0.0.2:6379", "+slave-reconf-sent 10.0.0.3:6379"}, failover.StateReconfReplicas},
			{3 * time.Second, failover.RepointResult{Replica: r2, Err: errBoom}, nil, failover.StateReconfReplicas},
			{3 * time.Second, failover.RepointResult{Replica: r4, Err: errBoom}, nil, failover.StateReconfReplicas},
			{12*time.Second + 1, failover.Tick{}, []string{
				"-slave-reconf-sent-timeout 10.0.0.3:6379", "repoint 10.0.0.4:6379 -> 10.0.0.2:6379", "+slave-reconf-sent 10.0.0.4:6379",
			}, failover.StateReconfReplicas},
		})},
		{"a stuck replica does not hold its slot past the reconf timeout (unlike Sentinel)", nil, join(untilWaitPromotion(rep(r2, 1), rep(r3, 1)), []step{
			{2 * time.Second, snap(2*time.Second, asMaster(rep(r1, 100)), rep(r2, 1), rep(r3, 1)),
				join(promoted, []string{"repoint 10.0.0.3:6379 -> 10.0.0.2:6379", "+slave-reconf-sent 10.0.0.3:6379"}), failover.StateReconfReplicas},
			{20 * time.Second, failover.Tick{}, []string{
				"-slave-reconf-sent-timeout 10.0.0.3:6379", "repoint 10.0.0.4:6379 -> 10.0.0.2:6379", "+slave-reconf-sent 10.0.0.4:6379",
			}, failover.StateReconfReplicas},
		})},
		{"disconnected replicas are skipped, s_down ones do not block the end", nil, join(untilWaitPromotion(rep(r2, 1), rep(r3, 1)), []step{
			{2 * time.Second, snap(2*time.Second, asMaster(rep(r1, 100)),
				edit(rep(r2, 1), func(c *failover.Candidate) { c.SDown, c.Disconnected = true, true }), rep(r3, 1)),
				join(promoted, []string{"repoint 10.0.0.4:6379 -> 10.0.0.2:6379", "+slave-reconf-sent 10.0.0.4:6379"}), failover.StateReconfReplicas},
			{3 * time.Second, snap(3*time.Second, asMaster(rep(r1, 100)),
				edit(rep(r2, 1), func(c *failover.Candidate) { c.SDown, c.Disconnected = true, true }), following(rep(r3, 1), true)),
				[]string{"+slave-reconf-inprog 10.0.0.4:6379", "+slave-reconf-done 10.0.0.4:6379", "+failover-end", finished}, failover.StateDone},
		})},
		{"an s_down but connected replica is still re-pointed", nil, join(untilWaitPromotion(rep(r2, 1)), []step{
			{2 * time.Second, snap(2*time.Second, asMaster(rep(r1, 100)), edit(rep(r2, 1), func(c *failover.Candidate) { c.SDown = true })),
				join(promoted, []string{"repoint 10.0.0.3:6379 -> 10.0.0.2:6379", "+slave-reconf-sent 10.0.0.3:6379", "+failover-end", finished}), failover.StateDone},
		})},
		{"a disconnected replica that is not s_down blocks the end until the failover timeout", nil, join(untilWaitPromotion(rep(r2, 1)), []step{
			{2 * time.Second, snap(2*time.Second, asMaster(rep(r1, 100)), edit(rep(r2, 1), func(c *failover.Candidate) { c.Disconnected = true })),
				promoted, failover.StateReconfReplicas},
			{62 * time.Second, failover.Tick{}, nil, failover.StateReconfReplicas},
			{62*time.Second + 1, failover.Tick{}, []string{"+failover-end-for-timeout", "+failover-end", finished + " (timed out)"}, failover.StateDone},
		})},
		{"the promoted replica s_down blocks the normal end", nil, join(untilWaitPromotion(), []step{
			{2 * time.Second, snap(2*time.Second, edit(asMaster(rep(r1, 100)), func(c *failover.Candidate) { c.SDown = true })),
				promoted, failover.StateReconfReplicas},
			{3 * time.Second, failover.Tick{}, nil, failover.StateReconfReplicas},
			{4 * time.Second, snap(4*time.Second, asMaster(rep(r1, 100))), []string{"+failover-end", finished}, failover.StateDone},
		})},
		{"the promoted replica s_down does not block the timeout (unlike Sentinel)", nil, join(untilWaitPromotion(), []step{
			{2 * time.Second, snap(2*time.Second, edit(asMaster(rep(r1, 100)), func(c *failover.Candidate) { c.SDown = true })),
				promoted, failover.StateReconfReplicas},
			{62*time.Second + 1, failover.Tick{}, []string{"+failover-end-for-timeout", "+failover-end", finished + " (timed out)"}, failover.StateDone},
		})},
		{"the old master is not re-pointed and does not block the end", nil, join(untilWaitPromotion(rep(r2, 1)), []step{
			{2 * time.Second, snap(2*time.Second, asMaster(rep(oldMaster, 1)), asMaster(rep(r1, 100)), following(rep(r2, 1), true)),
				join(promoted, []string{"repoint 10.0.0.3:6379 -> 10.0.0.2:6379", "+slave-reconf-sent 10.0.0.3:6379"}), failover.StateReconfReplicas},
			{3 * time.Second, snap(3*time.Second, asMaster(rep(oldMaster, 1)), asMaster(rep(r1, 100)), following(rep(r2, 1), true)),
				[]string{"+slave-reconf-inprog 10.0.0.3:6379", "+slave-reconf-done 10.0.0.3:6379", "+failover-end", finished}, failover.StateDone},
		})},
		{"replicas that appear during reconf are re-pointed; vanished ones are forgotten", nil, join(untilWaitPromotion(rep(r2, 1)), []step{
			{2 * time.Second, snap(2*time.Second, asMaster(rep(r1, 100)), rep(r2, 1)),
				join(promoted, []string{"repoint 10.0.0.3:6379 -> 10.0.0.2:6379", "+slave-reconf-sent 10.0.0.3:6379"}), failover.StateReconfReplicas},
			{3 * time.Second, snap(3*time.Second, asMaster(rep(r1, 100)), following(rep(r2, 1), true), rep(r3, 1)),
				[]string{"+slave-reconf-inprog 10.0.0.3:6379", "+slave-reconf-done 10.0.0.3:6379", "repoint 10.0.0.4:6379 -> 10.0.0.2:6379", "+slave-reconf-sent 10.0.0.4:6379"}, failover.StateReconfReplicas},
			{4 * time.Second, snap(4*time.Second, asMaster(rep(r1, 100)), following(rep(r2, 1), true)),
				[]string{"+failover-end", finished}, failover.StateDone},
		})},
		{"timeout: best effort to in-progress and pending connected replicas, not to sent or done ones",
			func(p *failover.Params) {
				p.FailoverTimeout, p.ParallelSyncs, p.ReconfTimeout = 15*time.Second, 2, 30*time.Second
			},
			join(untilWaitPromotion(rep(r2, 1), rep(r3, 1), rep(r4, 1), rep(r5, 1), gone), []step{
				{2 * time.Second, snap(2*time.Second, asMaster(rep(r1, 100)), rep(r2, 1), rep(r3, 1), rep(r4, 1), rep(r5, 1), gone),
					join(promoted, []string{
						"repoint 10.0.0.3:6379 -> 10.0.0.2:6379", "+slave-reconf-sent 10.0.0.3:6379",
						"repoint 10.0.0.4:6379 -> 10.0.0.2:6379", "+slave-reconf-sent 10.0.0.4:6379",
					}), failover.StateReconfReplicas},
				// r2 done, r3 in progress and stuck, r4 sent, r5 pending, gone disconnected.
				{3 * time.Second, snap(3*time.Second, asMaster(rep(r1, 100)), following(rep(r2, 1), true), following(rep(r3, 1), false), rep(r4, 1), rep(r5, 1), gone),
					[]string{
						"+slave-reconf-inprog 10.0.0.3:6379", "+slave-reconf-done 10.0.0.3:6379",
						"+slave-reconf-inprog 10.0.0.4:6379",
						"repoint 10.0.0.5:6379 -> 10.0.0.2:6379", "+slave-reconf-sent 10.0.0.5:6379",
					}, failover.StateReconfReplicas},
				{17 * time.Second, failover.Tick{}, nil, failover.StateReconfReplicas},
				{17*time.Second + 1, failover.Tick{}, []string{
					"+failover-end-for-timeout", "+failover-end",
					"repoint 10.0.0.4:6379 -> 10.0.0.2:6379", "+slave-reconf-sent-be 10.0.0.4:6379",
					"repoint 10.0.0.6:6379 -> 10.0.0.2:6379", "+slave-reconf-sent-be 10.0.0.6:6379",
					finished + " (timed out)",
				}, failover.StateDone},
				{17 * time.Second, failover.RepointResult{Replica: r3, Err: errBoom}, nil, failover.StateDone},
			})},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := params()
			if tc.params != nil {
				tc.params(&p)
			}
			run(t, failover.New(p), tc.steps)
		})
	}
}
