package failover

import (
	"sort"
	"strings"
	"time"

	"github.com/vigil-ha/vigil/topology"
)

// MasterView is what replica selection needs to know about the failing
// master.
type MasterView struct {
	// SDown is true when this node sees the master subjectively down, and
	// SDownSince is when that started.
	SDown      bool
	SDownSince time.Time
	// DownAfter is the master's down-after period.
	DownAfter time.Duration
	// InfoPeriod is the INFO polling period; zero means DefaultInfoPeriod.
	InfoPeriod time.Duration
	// PingPeriod is Sentinel's ping period; zero means DefaultPingPeriod.
	PingPeriod time.Duration
}

// Candidate is one replica of the failing master as the driver last saw it.
// The same type describes replicas during the whole failover (see Snapshot).
type Candidate struct {
	Addr  topology.Addr
	RunID string // from INFO; empty if never received
	// SDown and ODown are this node's verdicts on the replica.
	SDown, ODown bool
	// Disconnected is true when the driver has no usable link to it.
	Disconnected bool
	// LastAcceptableReply is when it last answered PING acceptably.
	LastAcceptableReply time.Time
	// InfoRefreshed is when its INFO was last received.
	InfoRefreshed time.Time
	// Priority is its replica-priority (slave_priority); 0 never promotes.
	Priority int
	// Offset is its replication offset (slave_repl_offset).
	Offset int64
	// MasterLinkDownFor is master_link_down_since_seconds as a duration;
	// zero while the link is up.
	MasterLinkDownFor time.Duration
	// RoleReported, ReplicaOf and LinkUp come from its INFO: its role, the
	// master it replicates from (master_host/master_port) and whether
	// master_link_status is up.
	RoleReported topology.Role
	ReplicaOf    topology.Addr
	LinkUp       bool
	// ForeignHistory is true for a replica that reports role master with
	// a replication history that does not continue the failing master's
	// (neither its replication ID nor the one it inherited is the
	// master's): it restarted empty, or the address is now another
	// server. A replica promoted by a leader that then died (an orphan)
	// continues the history and is not foreign; for it Offset is its
	// master_repl_offset.
	ForeignHistory bool
}

// RejectReason says why a replica cannot be promoted.
type RejectReason int

// Rejection reasons, checked in this order (the first that applies is
// reported).
const (
	// RejectSDown: the replica is subjectively or objectively down.
	RejectSDown RejectReason = iota + 1
	// RejectDisconnected: no usable link to the replica.
	RejectDisconnected
	// RejectStalePing: no acceptable PING reply for more than 5×PingPeriod.
	RejectStalePing
	// RejectPriorityZero: replica-priority 0 (never promote).
	RejectPriorityZero
	// RejectStaleInfo: INFO older than 5×PingPeriod while the master is
	// s_down, else older than 3×InfoPeriod.
	RejectStaleInfo
	// RejectMasterLinkDownTooLong: its link to the master has been down for
	// longer than (time the master has been s_down) + 10×DownAfter, so its
	// data is too old.
	RejectMasterLinkDownTooLong
	// RejectForeignHistory: it reports role master with a replication
	// history that is not the master's (Candidate.ForeignHistory).
	RejectForeignHistory
)

// String returns a short stable name, suitable as a log field or metric label.
func (r RejectReason) String() string {
	switch r {
	case RejectSDown:
		return "s_down"
	case RejectDisconnected:
		return "disconnected"
	case RejectStalePing:
		return "stale-ping"
	case RejectPriorityZero:
		return "priority-zero"
	case RejectStaleInfo:
		return "stale-info"
	case RejectMasterLinkDownTooLong:
		return "master-link-down-too-long"
	case RejectForeignHistory:
		return "foreign-history"
	}
	return "unknown"
}

// Rejection records a replica that SelectReplica excluded and why.
type Rejection struct {
	Addr   topology.Addr
	Reason RejectReason
}

// SelectReplica picks the replica to promote, exactly as Sentinel's
// sentinelSelectSlave. It excludes, giving the first reason that applies:
// s_down or o_down replicas, disconnected ones, no acceptable PING reply for
// more than 5×PingPeriod, priority 0, INFO older than 5×PingPeriod (master
// s_down) or 3×InfoPeriod (master up), and a master link down for longer than
// (now − master.SDownSince, if the master is s_down) + 10×DownAfter; and,
// beyond Sentinel, a replica reporting role master with a foreign
// replication history (Candidate.ForeignHistory).
//
// The remaining replicas are ranked by lower Priority, then larger Offset,
// then one already reporting role master first, then smaller RunID
// compared case-insensitively with an empty RunID last.
// Unlike Sentinel (whose qsort leaves full ties unordered) a final tie-break
// on the address string makes the choice deterministic.
//
// ok is false when no replica qualifies. rejected lists every excluded
// replica in input order.
func SelectReplica(master MasterView, candidates []Candidate, now time.Time) (best Candidate, ok bool, rejected []Rejection) {
	var eligible []Candidate
	for _, c := range candidates {
		if r := rejectReason(master, c, now); r != 0 {
			rejected = append(rejected, Rejection{Addr: c.Addr, Reason: r})
			continue
		}
		eligible = append(eligible, c)
	}
	if len(eligible) == 0 {
		return Candidate{}, false, rejected
	}
	sort.SliceStable(eligible, func(i, j int) bool { return betterCandidate(eligible[i], eligible[j]) })
	return eligible[0], true, rejected
}

// rejectReason returns why c cannot be promoted, or 0 if it can.
func rejectReason(m MasterView, c Candidate, now time.Time) RejectReason {
	ping := m.PingPeriod
	if ping <= 0 {
		ping = DefaultPingPeriod
	}
	info := m.InfoPeriod
	if info <= 0 {
		info = DefaultInfoPeriod
	}
	infoValidity := mulDur(info, 3)
	var masterDownFor time.Duration
	if m.SDown {
		infoValidity = mulDur(ping, 5)
		masterDownFor = max(now.Sub(m.SDownSince), 0)
	}
	switch {
	case c.SDown || c.ODown:
		return RejectSDown
	case c.Disconnected:
		return RejectDisconnected
	case now.Sub(c.LastAcceptableReply) > mulDur(ping, 5):
		return RejectStalePing
	case c.Priority == 0:
		return RejectPriorityZero
	case now.Sub(c.InfoRefreshed) > infoValidity:
		return RejectStaleInfo
	case c.MasterLinkDownFor > addDur(masterDownFor, mulDur(m.DownAfter, 10)):
		return RejectMasterLinkDownTooLong
	case c.ForeignHistory:
		return RejectForeignHistory
	}
	return 0
}

// betterCandidate reports whether a ranks before b for promotion.
func betterCandidate(a, b Candidate) bool {
	if a.Priority != b.Priority {
		return a.Priority < b.Priority
	}
	if a.Offset != b.Offset {
		return a.Offset > b.Offset
	}
	// At equal offsets, a replica already promoted (by a leader that
	// died before finishing) keeps its role: no second promotion, and any
	// write it took is kept.
	if am, bm := a.RoleReported == topology.RoleMaster, b.RoleReported == topology.RoleMaster; am != bm {
		return am
	}
	if (a.RunID == "") != (b.RunID == "") {
		return b.RunID == ""
	}
	if c := strings.Compare(strings.ToLower(a.RunID), strings.ToLower(b.RunID)); c != 0 {
		return c < 0
	}
	return a.Addr.String() < b.Addr.String()
}
