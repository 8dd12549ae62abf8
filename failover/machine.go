package failover

import (
	"time"

	"github.com/vigil-ha/vigil/topology"
)

// Defaults applied by New to unset Params fields.
const (
	// DefaultFailoverTimeout is Sentinel's default failover-timeout.
	DefaultFailoverTimeout = 3 * time.Minute
	// DefaultReconfTimeout is Sentinel's slave-reconf-timeout: a replica
	// told to re-point that shows no progress within it counts as done.
	DefaultReconfTimeout = 10 * time.Second
	// DefaultParallelSyncs is Sentinel's default parallel-syncs.
	DefaultParallelSyncs = 1
)

// State is the phase of a failover attempt.
type State int

// States of a Machine, in order.
const (
	StateWaitStart      State = iota // election pending
	StateSelectReplica               // choosing the replica to promote
	StateSendPromote                 // REPLICAOF NO ONE to be sent or answered
	StateWaitPromotion               // waiting to see the replica report role master
	StateReconfReplicas              // re-pointing the other replicas
	StateDone                        // finished (Sentinel's update_config)
	StateAborted                     // abandoned before promotion
)

// String returns Sentinel's name for the state ("aborted" has none: Sentinel
// returns to "none").
func (s State) String() string {
	switch s {
	case StateWaitStart:
		return "wait_start"
	case StateSelectReplica:
		return "select_slave"
	case StateSendPromote:
		return "send_slaveof_noone"
	case StateWaitPromotion:
		return "wait_promotion"
	case StateReconfReplicas:
		return "reconf_slaves"
	case StateDone:
		return "update_config"
	case StateAborted:
		return "aborted"
	}
	return "unknown"
}

// Params configures one failover attempt.
type Params struct {
	// Master is the master's name and OldMaster its current address.
	// OldMaster is never selected or re-pointed, even if a Snapshot lists
	// it among the replicas.
	Master    string
	OldMaster topology.Addr
	// Epoch is the attempt's failover epoch (from StartCandidacy).
	Epoch uint64
	// Forced skips the election (manual failover, SENTINEL FAILOVER). The
	// driver should check SelectReplica first and refuse with no good
	// replica, as Sentinel does.
	Forced bool
	// Start is when the attempt started, including the caller's 0–1 s
	// desynchronisation jitter; the election timeout counts from it.
	Start time.Time
	// FailoverTimeout is the master's failover-timeout; zero means
	// DefaultFailoverTimeout.
	FailoverTimeout time.Duration
	// ElectionTimeout bounds the election; zero means
	// ElectionTimeout(FailoverTimeout), i.e. min(10s, FailoverTimeout).
	ElectionTimeout time.Duration
	// ReconfTimeout is how long a re-pointed replica may show no progress;
	// zero means DefaultReconfTimeout.
	ReconfTimeout time.Duration
	// ParallelSyncs is how many replicas may be re-pointed at once; values
	// below 1 mean DefaultParallelSyncs.
	ParallelSyncs int
}

// Machine runs one failover attempt on one master. It is driven like etcd's
// raft: the driver calls Step with the current time and an Input and
// executes the returned Actions in order. A Machine is not safe for
// concurrent use; it performs no I/O and reads no clock.
//
// Timeouts follow Sentinel: not elected within ElectionTimeout of Start
// aborts; the promotion must be answered within FailoverTimeout of selecting
// the replica and then seen within FailoverTimeout of that answer, or the
// attempt aborts. Once the promotion is seen the attempt always finishes:
// replicas are re-pointed at most ParallelSyncs at a time, one that shows no
// progress for ReconfTimeout counts as done, and after FailoverTimeout in
// that phase the rest get a best-effort Repoint and the attempt finishes.
//
// Differences from Sentinel, all deliberate: Repoints go out as soon as the
// promotion is seen (not on the next tick); a replica's sent timeout is
// checked even when all ParallelSyncs slots are busy, so one stuck replica
// cannot hold the others back; a failed Promote or Repoint is retried on the
// next non-result input (bounded by FailoverTimeout and ReconfTimeout); the
// phase timeout ends the attempt even while the promoted replica is s_down
// (Sentinel then never ends); NotElected aborts at once; and the old master
// is excluded from selection and reconfiguration.
type Machine struct {
	p     Params
	state State
	since time.Time

	snap     Snapshot
	haveSnap bool

	promoted        topology.Addr // the selected replica
	promoteInFlight bool

	reconf map[topology.Addr]*replicaReconf
	order  []topology.Addr // reconf keys in first-seen order

	out []Action
}

// New returns a Machine in StateWaitStart for p, with defaults applied.
func New(p Params) *Machine {
	if p.FailoverTimeout <= 0 {
		p.FailoverTimeout = DefaultFailoverTimeout
	}
	if p.ElectionTimeout <= 0 {
		p.ElectionTimeout = ElectionTimeout(p.FailoverTimeout)
	}
	if p.ReconfTimeout <= 0 {
		p.ReconfTimeout = DefaultReconfTimeout
	}
	if p.ParallelSyncs < 1 {
		p.ParallelSyncs = DefaultParallelSyncs
	}
	return &Machine{
		p:      p,
		state:  StateWaitStart,
		since:  p.Start,
		reconf: make(map[topology.Addr]*replicaReconf),
	}
}

// State returns the current state.
func (m *Machine) State() State { return m.state }

// StateSince returns when the current state was entered (Params.Start for
// StateWaitStart).
func (m *Machine) StateSince() time.Time { return m.since }

// Promoted returns the replica selected for promotion (Sentinel's
// promoted_slave), or the zero Addr before selection.
func (m *Machine) Promoted() topology.Addr { return m.promoted }

// Step feeds one input at now and returns the actions to execute, in order.
// After StateDone or StateAborted it returns nil. Commands (Promote,
// Repoint) are issued or retried on any input except PromoteResult and
// RepointResult, so a failing command is retried at the driver's tick
// cadence rather than in a loop.
func (m *Machine) Step(now time.Time, in Input) []Action {
	if m.state == StateDone || m.state == StateAborted {
		return nil
	}
	send := true
	switch in := in.(type) {
	case Elected:
		if m.state == StateWaitStart {
			m.elect(now)
		}
	case NotElected:
		if m.state == StateWaitStart && !m.p.Forced {
			m.abort(now, AbortNotElected, nil)
		}
	case Snapshot:
		m.observe(now, in)
	case PromoteResult:
		send = false
		m.promoteResult(now, in.Err)
	case RepointResult:
		send = false
		m.repointResult(in)
	}
	m.advance(now, send)
	out := m.out
	m.out = nil
	return out
}

// advance runs the current state's time-driven logic until the state stops
// changing.
func (m *Machine) advance(now time.Time, send bool) {
	for {
		before := m.state
		switch m.state {
		case StateWaitStart:
			if m.p.Forced {
				m.elect(now)
			} else if now.Sub(m.p.Start) > m.p.ElectionTimeout {
				m.abort(now, AbortNotElected, nil)
			}
		case StateSelectReplica:
			if m.haveSnap {
				m.selectReplica(now)
			} else if now.Sub(m.since) > m.p.FailoverTimeout {
				m.abort(now, AbortNoGoodReplica, nil)
			}
		case StateSendPromote:
			if now.Sub(m.since) > m.p.FailoverTimeout {
				m.abort(now, AbortReplicaTimeout, nil)
			} else if send && !m.promoteInFlight && !m.disconnected(m.promoted) {
				m.promoteInFlight = true
				m.emit(Promote{Replica: m.promoted})
			}
		case StateWaitPromotion:
			if now.Sub(m.since) > m.p.FailoverTimeout {
				m.abort(now, AbortReplicaTimeout, nil)
			}
		case StateReconfReplicas:
			m.reconfNext(now, send)
			m.detectEnd(now)
		}
		if m.state == before {
			return
		}
	}
}

// elect moves from WaitStart to SelectReplica.
func (m *Machine) elect(now time.Time) {
	m.event(EventElectedLeader, topology.Addr{})
	m.enter(now, StateSelectReplica)
	m.event(EventStateSelectSlave, topology.Addr{})
}

// selectReplica chooses the replica from the latest snapshot. The old
// master is never a candidate, even if the driver lists it.
func (m *Machine) selectReplica(now time.Time) {
	var candidates []Candidate
	for _, c := range m.snap.Replicas {
		if c.Addr != m.p.OldMaster {
			candidates = append(candidates, c)
		}
	}
	best, ok, rejected := SelectReplica(m.snap.Master, candidates, now)
	if !ok {
		m.abort(now, AbortNoGoodReplica, rejected)
		return
	}
	m.promoted = best.Addr
	m.event(EventSelectedSlave, best.Addr)
	m.enter(now, StateSendPromote)
	m.event(EventStateSendSlaveofNoOne, best.Addr)
}

// observe records a snapshot and follows promotion and reconfiguration.
func (m *Machine) observe(now time.Time, s Snapshot) {
	s.Replicas = append([]Candidate(nil), s.Replicas...)
	m.snap, m.haveSnap = s, true
	switch m.state {
	case StateWaitPromotion:
		if c, ok := m.find(m.promoted); ok && c.RoleReported == topology.RoleMaster {
			m.event(EventPromotedSlave, m.promoted)
			m.emit(Promoted{Master: m.p.Master, NewMaster: m.promoted, Epoch: m.p.Epoch})
			m.enter(now, StateReconfReplicas)
			m.event(EventStateReconfSlaves, topology.Addr{})
		}
	case StateReconfReplicas:
		m.observeReconf()
	}
}

// promoteResult handles the answer to Promote.
func (m *Machine) promoteResult(now time.Time, err error) {
	if m.state != StateSendPromote || !m.promoteInFlight {
		return
	}
	m.promoteInFlight = false
	if err != nil {
		return
	}
	m.enter(now, StateWaitPromotion)
	m.event(EventStateWaitPromotion, m.promoted)
}

// abort ends the attempt unsuccessfully.
func (m *Machine) abort(now time.Time, r AbortReason, rejected []Rejection) {
	m.event(r.event(), topology.Addr{})
	m.emit(Aborted{Reason: r, Rejected: rejected})
	m.enter(now, StateAborted)
}

func (m *Machine) enter(now time.Time, s State) {
	m.state, m.since = s, now
}

func (m *Machine) emit(a Action) { m.out = append(m.out, a) }

func (m *Machine) event(t EventType, replica topology.Addr) {
	m.emit(Event{Type: t, Master: m.p.Master, MasterAddr: m.p.OldMaster, Replica: replica})
}

// find returns addr's entry in the latest snapshot.
func (m *Machine) find(addr topology.Addr) (Candidate, bool) {
	for _, c := range m.snap.Replicas {
		if c.Addr == addr {
			return c, true
		}
	}
	return Candidate{}, false
}

// disconnected reports whether the latest snapshot shows addr disconnected.
// A replica missing from the snapshot is tried anyway.
func (m *Machine) disconnected(addr topology.Addr) bool {
	c, ok := m.find(addr)
	return ok && c.Disconnected
}
