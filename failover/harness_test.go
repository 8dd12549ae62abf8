package failover_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/failover"
	"github.com/vigil-ha/vigil/topology"
)

// fmtAction renders an action as one short line for script comparisons.
func fmtAction(a failover.Action) string {
	switch a := a.(type) {
	case failover.Event:
		if a.Replica.IsZero() {
			return string(a.Type)
		}
		return fmt.Sprintf("%s %s", a.Type, a.Replica)
	case failover.Promote:
		return "promote " + a.Replica.String()
	case failover.Repoint:
		return fmt.Sprintf("repoint %s -> %s", a.Replica, a.To)
	case failover.Promoted:
		return fmt.Sprintf("promoted %s %s epoch %d", a.Master, a.NewMaster, a.Epoch)
	case failover.Finished:
		s := fmt.Sprintf("finished %s %s -> %s epoch %d", a.Master, a.OldMaster, a.NewMaster, a.Epoch)
		if a.TimedOut {
			s += " (timed out)"
		}
		return s
	case failover.Aborted:
		s := "aborted " + a.Reason.String()
		for _, r := range a.Rejected {
			s += fmt.Sprintf(" %s=%s", r.Addr, r.Reason)
		}
		return s
	}
	return fmt.Sprintf("unknown %T", a)
}

func fmtActions(as []failover.Action) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = fmtAction(a)
	}
	return out
}

// step is one line of a script: at t0+at feed in, expect the actions want
// and then the state.
type step struct {
	at    time.Duration
	in    failover.Input
	want  []string
	state failover.State
}

// run feeds a script to m and reports the first mismatch of each step.
func run(t *testing.T, m *failover.Machine, steps []step) {
	t.Helper()
	for i, s := range steps {
		got := fmtActions(m.Step(t0.Add(s.at), s.in))
		if strings.Join(got, "\n") != strings.Join(s.want, "\n") {
			t.Fatalf("step %d (%T at +%v): actions\n  got:  %q\n  want: %q", i, s.in, s.at, got, s.want)
		}
		if m.State() != s.state {
			t.Fatalf("step %d (%T at +%v): state %v, want %v", i, s.in, s.at, m.State(), s.state)
		}
	}
}

// params are the defaults of the machine tests: failover-timeout 60s, so
// the election timeout is 10s; reconf timeout 10s; parallel-syncs 1.
func params() failover.Params {
	return failover.Params{
		Master:          "mymaster",
		OldMaster:       oldMaster,
		Epoch:           7,
		Start:           t0,
		FailoverTimeout: time.Minute,
	}
}

// snap builds a snapshot at t0+at with the master s_down since t0-30s and
// the given replicas, each healthy at that time unless edited.
func snap(at time.Duration, replicas ...failover.Candidate) failover.Snapshot {
	now := t0.Add(at)
	out := failover.Snapshot{Master: failover.MasterView{SDown: true, SDownSince: t0.Add(-30 * time.Second), DownAfter: 30 * time.Second}}
	for _, c := range replicas {
		c.LastAcceptableReply, c.InfoRefreshed = now, now
		out.Replicas = append(out.Replicas, c)
	}
	return out
}

// rep is a replica of oldMaster with the given offset.
func rep(a topology.Addr, offset int64) failover.Candidate {
	return failover.Candidate{
		Addr: a, RunID: a.String(), Priority: 100, Offset: offset,
		RoleReported: topology.RoleReplica, ReplicaOf: oldMaster,
	}
}

// edit returns c changed by f.
func edit(c failover.Candidate, f func(*failover.Candidate)) failover.Candidate {
	f(&c)
	return c
}

// asMaster is c reporting role master.
func asMaster(c failover.Candidate) failover.Candidate {
	return edit(c, func(c *failover.Candidate) {
		c.RoleReported, c.ReplicaOf, c.LinkUp = topology.RoleMaster, topology.Addr{}, false
	})
}

// following is c replicating from r1 (the promoted replica in most tests),
// with its link up or not.
func following(c failover.Candidate, linkUp bool) failover.Candidate {
	return edit(c, func(c *failover.Candidate) { c.ReplicaOf, c.LinkUp = r1, linkUp })
}
