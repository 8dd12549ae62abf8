package failover_test

import (
	"math"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/failover"
	"github.com/vigil-ha/vigil/topology"
)

var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

func TestSubjectivelyDown(t *testing.T) {
	const downAfter = 30 * time.Second
	base := failover.Probe{DownAfter: downAfter, LastAcceptableReply: t0, RoleReported: topology.RoleMaster}
	// master is a configured master that replied acceptably at lastReply.
	master := func(role topology.Role, since time.Time, info time.Duration, lastReply time.Time) failover.Probe {
		p := base
		p.ConfiguredMaster, p.RoleReported, p.RoleReportedSince, p.InfoPeriod = true, role, since, info
		p.LastAcceptableReply = lastReply
		return p
	}
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	tests := []struct {
		name  string
		probe failover.Probe
		now   time.Time
		want  failover.DownReason
	}{
		{"just replied", base, t0, failover.NotDown},
		{"exactly down-after", base, t0.Add(downAfter), failover.NotDown},
		{"reply in the future", base, t0.Add(-time.Hour), failover.NotDown},
		{"past down-after, ping pending", func() failover.Probe { p := base; p.PingPending = true; return p }(), t0.Add(downAfter + time.Millisecond), failover.DownPingTimeout},
		{"past down-after, no ping pending", base, t0.Add(downAfter + time.Millisecond), failover.DownUnreachable},
		{"never replied (zero time)", failover.Probe{DownAfter: downAfter}, t0, failover.DownUnreachable},
		{"zero down-after, same instant", failover.Probe{LastAcceptableReply: t0}, t0, failover.NotDown},
		{"zero down-after, 1ns later", failover.Probe{LastAcceptableReply: t0}, t0.Add(1), failover.DownUnreachable},
		{"configured master as slave, at limit (default info 10s)", master(topology.RoleReplica, t0, 0, at(downAfter+20*time.Second)), at(downAfter + 20*time.Second), failover.NotDown},
		{"configured master as slave, past limit", master(topology.RoleReplica, t0, 0, at(downAfter+20*time.Second)), at(downAfter + 20*time.Second + time.Millisecond), failover.DownRoleMismatch},
		{"configured master as slave, custom info 1s, past limit", master(topology.RoleReplica, t0, time.Second, at(downAfter)), at(downAfter + 2*time.Second + time.Millisecond), failover.DownRoleMismatch},
		{"configured master as slave, custom info 1s, at limit", master(topology.RoleReplica, t0, time.Second, at(downAfter)), at(downAfter + 2*time.Second), failover.NotDown},
		{"configured master as master, replying", master(topology.RoleMaster, t0, 0, at(time.Hour)), at(time.Hour), failover.NotDown},
		{"configured master as master, silent", master(topology.RoleMaster, t0, 0, t0), at(time.Hour), failover.DownUnreachable},
		{"configured master as unknown role", master(topology.RoleUnknown, t0, 0, at(time.Hour)), t0.Add(time.Hour), failover.NotDown},
		{"replica reporting slave for long", func() failover.Probe {
			p := base
			p.RoleReported, p.RoleReportedSince, p.LastAcceptableReply = topology.RoleReplica, t0, t0.Add(time.Hour)
			return p
		}(), t0.Add(time.Hour), failover.NotDown},
		{"no reply wins over role mismatch", func() failover.Probe {
			p := master(topology.RoleReplica, t0, 0, t0)
			p.PingPending = true
			return p
		}(), t0.Add(time.Hour), failover.DownPingTimeout},
		{"role mismatch while replying", master(topology.RoleReplica, t0, 0, at(time.Hour)), t0.Add(time.Hour), failover.DownRoleMismatch},
		{"huge down-after does not overflow", func() failover.Probe {
			p := master(topology.RoleReplica, t0, 0, at(time.Hour))
			p.DownAfter = math.MaxInt64
			return p
		}(), t0.Add(time.Hour), failover.NotDown},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.probe.Reason(tc.now); got != tc.want {
				t.Errorf("Reason = %v, want %v", got, tc.want)
			}
			if got, want := failover.SubjectivelyDown(tc.probe, tc.now), tc.want != failover.NotDown; got != want {
				t.Errorf("SubjectivelyDown = %v, want %v", got, want)
			}
		})
	}
}

func TestDownReasonString(t *testing.T) {
	for r, want := range map[failover.DownReason]string{
		failover.NotDown:          "not-down",
		failover.DownPingTimeout:  "ping-timeout",
		failover.DownUnreachable:  "unreachable",
		failover.DownRoleMismatch: "role-mismatch",
		failover.DownReason(99):   "unknown",
	} {
		if got := r.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", int(r), got, want)
		}
	}
}

// TestSubjectivelyDownFromOldestPing: silence is measured from the oldest
// unanswered PING when the driver gives it, so a pause shorter than
// down-after never counts, wherever it falls between two PINGs.
func TestSubjectivelyDownFromOldestPing(t *testing.T) {
	const downAfter = time.Second
	p := failover.Probe{DownAfter: downAfter, LastAcceptableReply: t0, PingPending: true, PingPendingSince: t0.Add(900 * time.Millisecond)}
	if got := p.Reason(t0.Add(1500 * time.Millisecond)); got != failover.NotDown {
		t.Errorf("ping pending for 600ms: %v, want not down", got)
	}
	if got := p.Reason(t0.Add(1901 * time.Millisecond)); got != failover.DownPingTimeout {
		t.Errorf("ping pending for 1.001s: %v, want ping-timeout", got)
	}
	// A pending time older than the last reply (a stale value) is ignored.
	p.PingPendingSince = t0.Add(-time.Hour)
	if got := p.Reason(t0.Add(500 * time.Millisecond)); got != failover.NotDown {
		t.Errorf("stale pending time: %v", got)
	}
}

// SilentDownAt is the first instant at which Reason says down for silence:
// not down a nanosecond before it, down at it.
func TestSilentDownAt(t *testing.T) {
	const downAfter = time.Second
	for _, p := range []failover.Probe{
		{DownAfter: downAfter, LastAcceptableReply: t0},
		{DownAfter: downAfter, LastAcceptableReply: t0, PingPending: true, PingPendingSince: t0.Add(250 * time.Millisecond)},
		{DownAfter: downAfter, LastAcceptableReply: t0, PingPending: true, PingPendingSince: t0.Add(-time.Hour)},
		{DownAfter: 30 * time.Second, LastAcceptableReply: t0, ConfiguredMaster: true, RoleReported: topology.RoleMaster},
	} {
		at := p.SilentDownAt()
		if got := p.Reason(at.Add(-time.Nanosecond)); got != failover.NotDown {
			t.Errorf("%+v: a nanosecond before %v: %v, want not down", p, at, got)
		}
		if got := p.Reason(at); got == failover.NotDown {
			t.Errorf("%+v: at %v: not down", p, at)
		}
	}
}
