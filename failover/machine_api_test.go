package failover_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/failover"
)

func TestMachineAccessors(t *testing.T) {
	p := params()
	p.Start = t0.Add(300 * time.Millisecond)
	m := failover.New(p)
	if m.State() != failover.StateWaitStart || !m.StateSince().Equal(p.Start) || !m.Promoted().IsZero() {
		t.Fatalf("new machine: %v since %v, promoted %v", m.State(), m.StateSince(), m.Promoted())
	}
	m.Step(t0.Add(time.Second), snap(time.Second, rep(r1, 1)))
	m.Step(t0.Add(2*time.Second), failover.Elected{})
	if m.State() != failover.StateSendPromote || !m.StateSince().Equal(t0.Add(2*time.Second)) || m.Promoted() != r1 {
		t.Fatalf("after election: %v since %v, promoted %v", m.State(), m.StateSince(), m.Promoted())
	}
}

func TestMachineEventFields(t *testing.T) {
	m := failover.New(params())
	m.Step(t0, snap(0, rep(r1, 1)))
	got := m.Step(t0, failover.Elected{})
	want := []failover.Action{
		failover.Event{Type: failover.EventElectedLeader, Master: "mymaster", MasterAddr: oldMaster},
		failover.Event{Type: failover.EventStateSelectSlave, Master: "mymaster", MasterAddr: oldMaster},
		failover.Event{Type: failover.EventSelectedSlave, Master: "mymaster", MasterAddr: oldMaster, Replica: r1},
		failover.Event{Type: failover.EventStateSendSlaveofNoOne, Master: "mymaster", MasterAddr: oldMaster, Replica: r1},
		failover.Promote{Replica: r1},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %#v\nwant %#v", got, want)
	}
}

func TestMachineTerminalActions(t *testing.T) {
	m := failover.New(params())
	m.Step(t0, snap(0, rep(r1, 1)))
	m.Step(t0, failover.Elected{})
	m.Step(t0, failover.PromoteResult{})
	got := m.Step(t0, snap(0, asMaster(rep(r1, 1))))
	wantPromoted := failover.Promoted{Master: "mymaster", NewMaster: r1, Epoch: 7}
	wantFinished := failover.Finished{Master: "mymaster", OldMaster: oldMaster, NewMaster: r1, Epoch: 7}
	if len(got) < 2 || got[1] != wantPromoted || got[len(got)-1] != wantFinished {
		t.Fatalf("got %#v", got)
	}
	if m.Step(t0.Add(time.Hour), failover.Tick{}) != nil {
		t.Error("a finished machine must return no actions")
	}

	a := failover.New(params())
	got = a.Step(t0, failover.NotElected{})
	if !reflect.DeepEqual(got[len(got)-1], failover.Aborted{Reason: failover.AbortNotElected}) {
		t.Fatalf("got %#v", got)
	}
}

func TestMachineCopiesSnapshot(t *testing.T) {
	m := failover.New(params())
	s := snap(0, rep(r1, 1))
	m.Step(t0, s)
	s.Replicas[0].Priority = 0 // the caller reuses its slice
	m.Step(t0, failover.Elected{})
	if m.State() != failover.StateSendPromote {
		t.Fatalf("state %v: the machine saw the caller's later edit", m.State())
	}
}

func TestMachineParallelSyncsDefault(t *testing.T) {
	p := params()
	p.ParallelSyncs = -3
	m := failover.New(p)
	m.Step(t0, snap(0, rep(r1, 9), rep(r2, 1), rep(r3, 1)))
	m.Step(t0, failover.Elected{})
	m.Step(t0, failover.PromoteResult{})
	got := m.Step(t0, snap(0, asMaster(rep(r1, 9)), rep(r2, 1), rep(r3, 1)))
	n := 0
	for _, a := range got {
		if _, ok := a.(failover.Repoint); ok {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d repoints at once, want 1", n)
	}
}

func TestMachineNilInputOnlyAdvancesTime(t *testing.T) {
	m := failover.New(params())
	if got := m.Step(t0.Add(time.Second), nil); got != nil {
		t.Errorf("got %v", got)
	}
	if got := fmtActions(m.Step(t0.Add(11*time.Second), nil)); !reflect.DeepEqual(got, []string{"-failover-abort-not-elected", "aborted not-elected"}) {
		t.Errorf("got %q", got)
	}
}

func TestStateString(t *testing.T) {
	for s, want := range map[failover.State]string{
		failover.StateWaitStart:      "wait_start",
		failover.StateSelectReplica:  "select_slave",
		failover.StateSendPromote:    "send_slaveof_noone",
		failover.StateWaitPromotion:  "wait_promotion",
		failover.StateReconfReplicas: "reconf_slaves",
		failover.StateDone:           "update_config",
		failover.StateAborted:        "aborted",
		failover.State(42):           "unknown",
	} {
		if got := s.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", int(s), got, want)
		}
	}
}

func TestAbortReasonString(t *testing.T) {
	for r, want := range map[failover.AbortReason]string{
		failover.AbortNotElected:     "not-elected",
		failover.AbortNoGoodReplica:  "no-good-slave",
		failover.AbortReplicaTimeout: "slave-timeout",
		failover.AbortReason(0):      "unknown",
	} {
		if got := r.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", int(r), got, want)
		}
	}
}

// TestEventNames pins the event names to Sentinel's channels.
func TestEventNames(t *testing.T) {
	got := []failover.EventType{
		failover.EventElectedLeader, failover.EventStateSelectSlave, failover.EventSelectedSlave,
		failover.EventStateSendSlaveofNoOne, failover.EventStateWaitPromotion, failover.EventPromotedSlave,
		failover.EventStateReconfSlaves, failover.EventSlaveReconfSent, failover.EventSlaveReconfInProg,
		failover.EventSlaveReconfDone, failover.EventSlaveReconfSentTimeout, failover.EventSlaveReconfSentBE,
		failover.EventFailoverEndForTimeout, failover.EventFailoverEnd, failover.EventAbortNotElected,
		failover.EventAbortNoGoodSlave, failover.EventAbortSlaveTimeout,
	}
	want := []failover.EventType{
		"+elected-leader", "+failover-state-select-slave", "+selected-slave",
		"+failover-state-send-slaveof-noone", "+failover-state-wait-promotion", "+promoted-slave",
		"+failover-state-reconf-slaves", "+slave-reconf-sent", "+slave-reconf-inprog",
		"+slave-reconf-done", "-slave-reconf-sent-timeout", "+slave-reconf-sent-be",
		"+failover-end-for-timeout", "+failover-end", "-failover-abort-not-elected",
		"-failover-abort-no-good-slave", "-failover-abort-slave-timeout",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q", got)
	}
}
