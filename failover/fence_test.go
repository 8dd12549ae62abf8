package failover_test

import (
	"testing"
	"time"

	"github.com/vigil-ha/vigil/failover"
)

func TestDecideFence(t *testing.T) {
	p := failover.DefaultFencePolicy()
	ms := func(d int) time.Time { return t0.Add(time.Duration(d) * time.Millisecond) }
	// isolated is the reference partition 1 s after the cut at t0: the
	// master answers, the last replica reply and peer state came just
	// before the cut.
	isolated := failover.FenceView{
		Now: ms(1000), MasterUp: true, Voters: 3, Replicas: 2,
		MajorityHeard: ms(-100), ReplicaSeen: ms(-200), ReplicaAck: ms(-900),
		SuspectSince: ms(850),
	}
	fenced := isolated
	fenced.Fenced, fenced.FencedSince = true, ms(1000)
	fenced.Now = ms(5000)
	with := func(v failover.FenceView, f func(*failover.FenceView)) failover.FenceView { f(&v); return v }

	tests := []struct {
		name   string
		view   failover.FenceView
		fence  bool
		reason failover.FenceReason
	}{
		{"isolated master, cut off from replicas and majority", isolated, true, failover.FenceIsolated},
		{"healthy: replica answered just now", with(isolated, func(v *failover.FenceView) { v.ReplicaSeen = ms(950) }), false, failover.FenceNotNeeded},
		{"replicas dead but the majority heard (degraded, not isolated)", with(isolated, func(v *failover.FenceView) { v.MajorityHeard = ms(900) }), false, failover.FenceNotNeeded},
		{"replicas silent just under the threshold", with(isolated, func(v *failover.FenceView) { v.ReplicaSeen = ms(401) }), false, failover.FenceNotNeeded},
		{"replicas silent exactly the threshold", with(isolated, func(v *failover.FenceView) { v.ReplicaSeen = ms(400) }), true, failover.FenceIsolated},
		{"majority silent just under the threshold", with(isolated, func(v *failover.FenceView) { v.MajorityHeard = ms(201) }), false, failover.FenceNotNeeded},
		{"silences not yet confirmed (a stall of this node looks the same)", with(isolated, func(v *failover.FenceView) { v.SuspectSince = ms(900) }), false, failover.FenceSuspect},
		{"silences seen for the first time", with(isolated, func(v *failover.FenceView) { v.SuspectSince = time.Time{} }), false, failover.FenceSuspect},
		{"never heard a majority, never saw a replica", with(isolated, func(v *failover.FenceView) {
			v.MajorityHeard, v.ReplicaSeen, v.ReplicaAck = time.Time{}, time.Time{}, time.Time{}
		}), true, failover.FenceIsolated},
		{"master reports acks after our replicas went silent: local problem", with(isolated, func(v *failover.FenceView) { v.ReplicaAck = ms(300) }), false, failover.FenceSkipReplicasAck},
		{"ack within the margin is no evidence", with(isolated, func(v *failover.FenceView) { v.ReplicaAck = ms(200) }), true, failover.FenceIsolated},
		{"master down: moot", with(isolated, func(v *failover.FenceView) { v.MasterUp = false }), false, failover.FenceSkipMasterDown},
		{"single node never fences", with(isolated, func(v *failover.FenceView) { v.Voters = 1 }), false, failover.FenceSkipSingleNode},
		{"no known replica: nothing could replace the master", with(isolated, func(v *failover.FenceView) {
			v.Replicas, v.ReplicaSeen, v.ReplicaAck = 0, time.Time{}, time.Time{}
		}), false, failover.FenceSkipNoReplicas},
		{"tilt decides nothing new", with(isolated, func(v *failover.FenceView) { v.Tilt = true }), false, failover.FenceSkipTilt},
		{"busy with a failover", with(isolated, func(v *failover.FenceView) { v.Busy = true }), false, failover.FenceSkipBusy},

		{"fenced: held while nothing is known", fenced, true, failover.FenceHeld},
		{"fenced: held when silence ends without evidence", with(fenced, func(v *failover.FenceView) { v.MajorityHeard = ms(4900) }), true, failover.FenceHeld},
		{"fenced: held while busy", with(fenced, func(v *failover.FenceView) { v.Busy = true }), true, failover.FenceHeld},
		{"fenced: kept in tilt", with(fenced, func(v *failover.FenceView) { v.Tilt = true }), true, failover.FenceSkipTilt},
		{"fenced: kept while the master does not answer", with(fenced, func(v *failover.FenceView) { v.MasterUp = false }), true, failover.FenceSkipMasterDown},
		{"fenced: majority confirms the master", with(fenced, func(v *failover.FenceView) { v.MajorityConfirms = true }), false, failover.FenceLiftMajority},
		{"fenced: a replica follows it again", with(fenced, func(v *failover.FenceView) { v.ReplicaFollows = ms(4000) }), false, failover.FenceLiftReplica},
		{"fenced: a replica answers but follows another master", with(fenced, func(v *failover.FenceView) { v.ReplicaSeen = ms(4000) }), true, failover.FenceHeld},
		{"fenced: master reports acks after the fence", with(fenced, func(v *failover.FenceView) { v.ReplicaAck = ms(1600) }), false, failover.FenceLiftReplica},
		{"fenced: an ack from before the fence is no evidence", with(fenced, func(v *failover.FenceView) { v.ReplicaAck = ms(1200) }), true, failover.FenceHeld},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fence, reason := failover.DecideFence(tt.view, p)
			if fence != tt.fence || reason != tt.reason {
				t.Errorf("DecideFence = %v, %v; want %v, %v", fence, reason, tt.fence, tt.reason)
			}
			if reason.String() == "unknown" {
				t.Errorf("reason %d has no name", reason)
			}
		})
	}
}

// TestFenceTimeline steps the reference partition tick by tick (100 ms):
// the fence must rise within the target (1.5 s of the cut, less a CONFIG
// SET round trip), stay up through the cut and after the heal until the
// majority confirms, and never rise without a cut.
func TestFenceTimeline(t *testing.T) {
	p := failover.DefaultFencePolicy()
	const tick = 100 * time.Millisecond
	cut, heal := t0, t0.Add(10*time.Second)
	var v failover.FenceView
	v.MasterUp, v.Voters, v.Replicas = true, 3, 2
	var raised time.Time
	for now := t0.Add(-5 * time.Second); now.Before(t0.Add(15 * time.Second)); now = now.Add(tick) {
		v.Now = now
		partitioned := !now.Before(cut) && now.Before(heal)
		// Replicas answer every 250 ms, peer states arrive every 500 ms.
		// After the heal the majority has failed over: it does not confirm
		// this master, and the replicas follow the new one.
		if now.Before(cut) {
			v.ReplicaSeen = now.Truncate(250 * time.Millisecond)
		}
		if !partitioned {
			v.MajorityHeard = now.Truncate(500 * time.Millisecond)
		}
		fence, reason := failover.DecideFence(v, p)
		switch {
		case reason != failover.FenceSuspect:
			v.SuspectSince = time.Time{}
		case v.SuspectSince.IsZero():
			v.SuspectSince = now
		}
		if fence && !v.Fenced {
			v.FencedSince = now
			raised = now
		}
		v.Fenced = fence
		switch {
		case now.Before(cut) && fence:
			t.Fatalf("%v before the cut: fenced (%v)", now.Sub(cut), reason)
		case !now.Before(cut.Add(1300*time.Millisecond)) && !fence:
			t.Fatalf("%v after the cut: not fenced (%v)", now.Sub(cut), reason)
		}
	}
	if d := raised.Sub(cut); d < 0 || d > 1300*time.Millisecond {
		t.Fatalf("fence raised %v after the cut", d)
	}
}

func TestMajorityHeardAt(t *testing.T) {
	now := t0.Add(time.Hour)
	s := func(d ...int) []time.Time {
		var out []time.Time
		for _, x := range d {
			out = append(out, t0.Add(time.Duration(x)*time.Second))
		}
		return out
	}
	tests := []struct {
		voters int
		peers  []time.Time
		want   time.Time
	}{
		{1, nil, now},
		{2, s(5), t0.Add(5 * time.Second)},
		{3, s(5, 9), t0.Add(9 * time.Second)},
		{3, nil, time.Time{}},
		{5, s(1, 7, 3, 9), t0.Add(7 * time.Second)},
		{5, s(4), time.Time{}},
	}
	for _, tt := range tests {
		if got := failover.MajorityHeardAt(now, tt.voters, tt.peers); !got.Equal(tt.want) {
			t.Errorf("MajorityHeardAt(%d voters, %v) = %v, want %v", tt.voters, tt.peers, got, tt.want)
		}
	}
}

// TestFenceNotRaisedByStall: the node itself stops for 1.5 s (less than
// TILT's trigger). On its first tick afterwards every silence looks long;
// the replies that waited are read before the next tick, and no fence
// rises.
func TestFenceNotRaisedByStall(t *testing.T) {
	p := failover.DefaultFencePolicy()
	var v failover.FenceView
	v.MasterUp, v.Voters, v.Replicas = true, 3, 2
	stallFrom, stallTo := t0, t0.Add(1500*time.Millisecond)
	for now := t0.Add(-2 * time.Second); now.Before(t0.Add(4 * time.Second)); now = now.Add(100 * time.Millisecond) {
		if !now.Before(stallFrom) && now.Before(stallTo) {
			continue // no tick while stopped
		}
		v.Now = now
		if now.After(stallTo) || now.Before(stallFrom) {
			// Replies and peer states read since the last tick.
			v.ReplicaSeen, v.MajorityHeard = now.Add(-20*time.Millisecond), now.Add(-50*time.Millisecond)
		}
		fence, reason := failover.DecideFence(v, p)
		switch {
		case reason != failover.FenceSuspect:
			v.SuspectSince = time.Time{}
		case v.SuspectSince.IsZero():
			v.SuspectSince = now
		}
		if fence {
			t.Fatalf("fenced at %v (%v)", now.Sub(t0), reason)
		}
	}
}

// TestFencePolicyFor: the replica silence follows the PING period, so a
// node that hears no majority (its peers down, or known and gone) does not
// fence a healthy master between two PINGs of its replicas. At the default
// cadence the first would; the second must not.
func TestFencePolicyFor(t *testing.T) {
	for _, tc := range []struct {
		ping, want time.Duration
	}{
		{100 * time.Millisecond, 600 * time.Millisecond}, // never under the default
		{250 * time.Millisecond, 625 * time.Millisecond}, // down-after 1 s
		{time.Second, 2500 * time.Millisecond},           // down-after 4 s or more
	} {
		if got := failover.FencePolicyFor(tc.ping).ReplicaSilence; got != tc.want {
			t.Errorf("FencePolicyFor(%v).ReplicaSilence = %v, want %v", tc.ping, got, tc.want)
		}
	}

	ms := func(d int) time.Time { return t0.Add(time.Duration(d) * time.Millisecond) }
	// The majority has been silent for minutes; the replica, PINGed every
	// second, last answered 900 ms ago and is due again.
	between := failover.FenceView{
		Now: ms(60_000), MasterUp: true, Voters: 3, Replicas: 1,
		ReplicaSeen: ms(59_100), SuspectSince: ms(59_000),
	}
	if fence, reason := failover.DecideFence(between, failover.DefaultFencePolicy()); !fence {
		t.Fatalf("at a 250 ms cadence 900 ms of silence is isolation: got %v, %v", fence, reason)
	}
	if fence, reason := failover.DecideFence(between, failover.FencePolicyFor(time.Second)); fence || reason != failover.FenceNotNeeded {
		t.Errorf("replica PINGed every second, answered 900 ms ago: DecideFence = %v, %v; want false, %v", fence, reason, failover.FenceNotNeeded)
	}
	between.ReplicaSeen = ms(57_500) // two PINGs missed: isolated
	if fence, reason := failover.DecideFence(between, failover.FencePolicyFor(time.Second)); !fence || reason != failover.FenceIsolated {
		t.Errorf("replica silent 2.5 s at a 1 s cadence: DecideFence = %v, %v; want true, %v", fence, reason, failover.FenceIsolated)
	}
}
