package sentinel

import "time"

// Maintenance mode: a paused master is monitored as usual but never failed
// over automatically, by any node. The decision is persisted and gossiped
// with a version (the highest wins), so every node, including one that was
// down or partitioned when the operator paused, converges on it. A node
// that holds a master paused also refuses its vote for that master, so a
// node that has not heard of the pause yet cannot win an election.
// SENTINEL FAILOVER and switchover, which an operator asks for explicitly,
// still work.

// setPause pauses or resumes name on this node and gossips it.
func (n *Node) setPause(name string, paused bool) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	g := n.groups[name]
	if g == nil {
		return errNoSuchMaster
	}
	rec := n.state.Masters[name]
	version := rec.PauseVersion
	for _, p := range n.peers {
		if v, ok := p.masters[name]; ok && v.pauseVersion > version {
			version = v.pauseVersion
		}
	}
	rec.Paused, rec.PauseVersion = paused, version+1
	n.saveStateLocked()
	n.emitPauseLocked(g, paused)
	n.broadcastLocked()
	return nil
}

// adoptPauseLocked applies a peer's pause decision when it is newer.
// Requires n.mu.
func (n *Node) adoptPauseLocked(g *group, paused bool, version uint64) {
	rec := n.state.Masters[g.name()]
	if version <= rec.PauseVersion {
		return
	}
	changed := rec.Paused != paused
	rec.Paused, rec.PauseVersion = paused, version
	n.saveStateLocked()
	if changed {
		n.emitPauseLocked(g, paused)
	}
}

func (n *Node) emitPauseLocked(g *group, paused bool) {
	typ := "+pause"
	if !paused {
		typ = "-pause"
	}
	n.emit(Event{Type: typ, Warning: true, Payload: n.instanceRef(g.master)})
	if !paused {
		g.nextAttempt = time.Time{}
	}
}

// pausedLocked reports whether g is in maintenance mode. Requires n.mu.
func (n *Node) pausedLocked(g *group) bool { return n.state.Masters[g.name()].Paused }
