package failover

import (
	"time"

	"github.com/vigil-ha/vigil/topology"
)

// DefaultInfoPeriod is Sentinel's INFO polling period (sentinel_info_period).
const DefaultInfoPeriod = 10 * time.Second

// DefaultPingPeriod is Sentinel's PING period (SENTINEL_PING_PERIOD), also the
// unit of its replica-freshness checks.
const DefaultPingPeriod = time.Second

// Probe is what the driver knows about one monitored instance (master,
// replica or peer) when judging whether it is subjectively down.
type Probe struct {
	// DownAfter is the instance's down-after period.
	DownAfter time.Duration
	// LastAcceptableReply is when the instance last answered a PING with
	// +PONG, -LOADING or -MASTERDOWN; the time monitoring started if it
	// never has.
	LastAcceptableReply time.Time
	// PingPending is true while a PING sent after LastAcceptableReply has
	// not been answered acceptably, and PingPendingSince is when the oldest
	// such PING was sent. When PingPendingSince is set, silence is measured
	// from it, as Sentinel does. A driver whose PING was refused or whose
	// link was closed (nothing answers there, as opposed to a PING that
	// timed out) reports no pending PING, so silence runs from
	// LastAcceptableReply: Sentinel's rule for a disconnected link.
	PingPending      bool
	PingPendingSince time.Time
	// ConfiguredMaster is true when our configuration says the instance is
	// the master.
	ConfiguredMaster bool
	// RoleReported is the role from the instance's latest INFO.
	RoleReported topology.Role
	// RoleReportedSince is when the instance started reporting
	// RoleReported.
	RoleReportedSince time.Time
	// InfoPeriod is the INFO polling period; zero means DefaultInfoPeriod.
	InfoPeriod time.Duration
}

// DownReason says why an instance is subjectively down.
type DownReason int

// Reasons returned by Probe.Reason.
const (
	// NotDown: the instance is not subjectively down.
	NotDown DownReason = iota
	// DownPingTimeout: a PING is outstanding and no acceptable reply came
	// for longer than DownAfter.
	DownPingTimeout
	// DownUnreachable: no PING is outstanding (the link is down or the
	// driver could not send) and no acceptable reply came for longer than
	// DownAfter.
	DownUnreachable
	// DownRoleMismatch: the configured master has reported role slave for
	// longer than DownAfter + 2×InfoPeriod.
	DownRoleMismatch
)

// String returns a short stable name, suitable as a log field or metric label.
func (r DownReason) String() string {
	switch r {
	case NotDown:
		return "not-down"
	case DownPingTimeout:
		return "ping-timeout"
	case DownUnreachable:
		return "unreachable"
	case DownRoleMismatch:
		return "role-mismatch"
	}
	return "unknown"
}

// SubjectivelyDown reports whether this node considers the instance down
// (Sentinel's s_down) at now. See Probe.Reason for the rules.
func SubjectivelyDown(p Probe, now time.Time) bool {
	return p.Reason(now) != NotDown
}

// SilentDownAt returns the first instant at which the silence rule of
// Reason makes the instance down, if no acceptable reply comes before it.
// A driver that evaluates on a periodic tick can wake at this instant
// instead, so that s_down is declared when it becomes true rather than up
// to a tick later.
func (p Probe) SilentDownAt() time.Time {
	silentSince := p.LastAcceptableReply
	if p.PingPending && p.PingPendingSince.After(silentSince) {
		silentSince = p.PingPendingSince
	}
	return silentSince.Add(p.DownAfter + 1)
}

// Reason returns why the instance is subjectively down at now, or NotDown.
// An instance is down iff
//
//   - it has been silent for more than DownAfter: measured from the send
//     time of the oldest unanswered PING when the driver gives it
//     (PingPendingSince), as Sentinel does, else from the last acceptable
//     reply; or
//   - it is the configured master and has reported role slave for more than
//     DownAfter + 2×InfoPeriod.
//
// Measuring from the oldest unanswered PING means that a pause shorter than
// DownAfter (a GC pause, a short SIGSTOP, latency spikes) never makes an
// instance s_down, however the pause falls between two PINGs. The driver
// should PING often (vigil: every quarter of DownAfter, at most every
// second) so that a dead instance is noticed soon after it stops answering.
// Sentinel's master-reboot-down-after-period rule is not modelled here.
func (p Probe) Reason(now time.Time) DownReason {
	silentSince := p.LastAcceptableReply
	if p.PingPending && p.PingPendingSince.After(silentSince) {
		silentSince = p.PingPendingSince
	}
	if now.Sub(silentSince) > p.DownAfter {
		if p.PingPending {
			return DownPingTimeout
		}
		return DownUnreachable
	}
	info := p.InfoPeriod
	if info <= 0 {
		info = DefaultInfoPeriod
	}
	if p.ConfiguredMaster && p.RoleReported == topology.RoleReplica &&
		now.Sub(p.RoleReportedSince) > addDur(p.DownAfter, mulDur(info, 2)) {
		return DownRoleMismatch
	}
	return NotDown
}
