package failover

import (
	"time"

	"github.com/vigil-ha/vigil/topology"
)

// reconfStep is a replica's progress towards the promoted master.
type reconfStep int

const (
	reconfPending reconfStep = iota // not yet told, or its Repoint failed
	reconfSent                      // Repoint issued (Sentinel's RECONF_SENT)
	reconfInProg                    // replicating from the new master, link not up yet
	reconfDone                      // link up, or given up on after ReconfTimeout
)

type replicaReconf struct {
	step      reconfStep
	firstSent time.Time // zero until the first Repoint
}

// target reports whether addr is a replica to re-point: neither the
// promoted replica nor the old master.
func (m *Machine) target(addr topology.Addr) bool {
	return addr != m.promoted && addr != m.p.OldMaster
}

// track returns addr's progress record, creating it.
func (m *Machine) track(addr topology.Addr) *replicaReconf {
	r, ok := m.reconf[addr]
	if !ok {
		r = &replicaReconf{}
		m.reconf[addr] = r
		m.order = append(m.order, addr)
	}
	return r
}

// observeReconf advances replicas from the latest snapshot: sent → in
// progress when a replica reports the promoted address as its master, in
// progress → done when its link is up (both in one snapshot if so).
func (m *Machine) observeReconf() {
	for _, c := range m.snap.Replicas {
		if !m.target(c.Addr) || c.RoleReported != topology.RoleReplica {
			continue
		}
		r := m.track(c.Addr)
		if r.step == reconfSent && c.ReplicaOf == m.promoted {
			r.step = reconfInProg
			m.event(EventSlaveReconfInProg, c.Addr)
		}
		if r.step == reconfInProg && c.LinkUp {
			r.step = reconfDone
			m.event(EventSlaveReconfDone, c.Addr)
		}
	}
}

// repointResult handles the answer to a Repoint: on error the replica goes
// back to pending and frees its slot.
func (m *Machine) repointResult(res RepointResult) {
	if m.state != StateReconfReplicas || res.Err == nil {
		return
	}
	if r, ok := m.reconf[res.Replica]; ok && r.step == reconfSent {
		r.step = reconfPending
	}
}

// reconfNext gives up on replicas that made no progress within
// ReconfTimeout of their first Repoint, then (if send) re-points pending,
// connected replicas, in snapshot order, until ParallelSyncs are in flight.
//
// Difference from Sentinel: Sentinel checks the sent timeout only inside
// the loop that runs while fewer than parallel-syncs are in flight, so with
// parallel-syncs 1 a stuck replica blocks the others until the failover
// timeout. We check it first.
func (m *Machine) reconfNext(now time.Time, send bool) {
	for _, addr := range m.order {
		r := m.reconf[addr]
		if (r.step == reconfSent || r.step == reconfPending) && !r.firstSent.IsZero() &&
			now.Sub(r.firstSent) > m.p.ReconfTimeout {
			r.step = reconfDone
			m.event(EventSlaveReconfSentTimeout, addr)
		}
	}
	if !send {
		return
	}
	inFlight := 0
	for _, r := range m.reconf {
		if r.step == reconfSent || r.step == reconfInProg {
			inFlight++
		}
	}
	for _, c := range m.snap.Replicas {
		if inFlight >= m.p.ParallelSyncs {
			return
		}
		if !m.target(c.Addr) || c.Disconnected {
			continue
		}
		r := m.track(c.Addr)
		if r.step != reconfPending {
			continue
		}
		m.repoint(now, r, c.Addr, EventSlaveReconfSent)
		inFlight++
	}
}

func (m *Machine) repoint(now time.Time, r *replicaReconf, addr topology.Addr, ev EventType) {
	r.step = reconfSent
	if r.firstSent.IsZero() {
		r.firstSent = now
	}
	m.emit(Repoint{Replica: addr, To: m.promoted})
	m.event(ev, addr)
}

// detectEnd finishes the attempt when every replica in the latest snapshot
// is reconfigured or s_down (provided the promoted replica is not s_down),
// or when the phase has lasted longer than FailoverTimeout. On timeout every
// remaining connected replica not already sent a Repoint gets a best-effort
// one.
//
// Difference from Sentinel: Sentinel never ends, not even on timeout, while
// the promoted replica is s_down; we still end on timeout so this node can
// take part in the next failover.
func (m *Machine) detectEnd(now time.Time) {
	if now.Sub(m.since) > m.p.FailoverTimeout {
		m.event(EventFailoverEndForTimeout, topology.Addr{})
		m.event(EventFailoverEnd, topology.Addr{})
		for _, c := range m.snap.Replicas {
			if !m.target(c.Addr) || c.Disconnected {
				continue
			}
			r := m.track(c.Addr)
			if r.step == reconfDone || r.step == reconfSent {
				continue
			}
			m.repoint(now, r, c.Addr, EventSlaveReconfSentBE)
		}
		m.finish(now, true)
		return
	}
	if c, ok := m.find(m.promoted); ok && c.SDown {
		return
	}
	for _, c := range m.snap.Replicas {
		if !m.target(c.Addr) || c.SDown {
			continue
		}
		if r, ok := m.reconf[c.Addr]; !ok || r.step != reconfDone {
			return
		}
	}
	m.event(EventFailoverEnd, topology.Addr{})
	m.finish(now, false)
}

func (m *Machine) finish(now time.Time, timedOut bool) {
	m.emit(Finished{
		Master:    m.p.Master,
		OldMaster: m.p.OldMaster,
		NewMaster: m.promoted,
		Epoch:     m.p.Epoch,
		TimedOut:  timedOut,
	})
	m.enter(now, StateDone)
}
