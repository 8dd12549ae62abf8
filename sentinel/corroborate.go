package sentinel

import "time"

// Replica-corroborated detection. The controllers' path to a master can
// break while the master itself is fine (a firewall rule, a broken route
// from the controllers' network, a saturated link). Sentinel then fails
// over a healthy master, and the writes its clients were still making are
// lost. The replicas are a second witness: if one of them, with its link up
// to the same data set (same replication id), received new replication data
// between two INFO polls both taken after this node lost the master, the
// master is alive and serving writes. This node then keeps its s_down
// (flags, +sdown) but does not count itself as a "down" opinion toward
// o_down, tells peers the master is not down, and refuses its vote.
//
// Evidence is the replica's offset moving, not its link state or last I/O
// time: a stopped (SIGSTOP) or hung master keeps its TCP connections open,
// so the replica's link stays "up" for repl-timeout, and
// master_last_io_seconds_ago only has one-second resolution. It works when
// the master takes writes; an idle master only sends a replication PING
// every repl-ping-replica-period (10 s by default), which is too rare to
// corroborate, so an idle master whose controllers lose it is failed over
// as with Sentinel.

// corroborationSlack lets data that was in flight when this node lost the
// master arrive before the replica's offsets count as evidence.
const corroborationSlack = 100 * time.Millisecond

// replicaSeesMasterLocked returns a replica whose replication offset moved
// after this node lost g's master, or nil. Requires n.mu.
func (n *Node) replicaSeesMasterLocked(g *group) *instance {
	m := g.master
	if !m.sdown || m.info.MasterReplID == "" {
		return nil
	}
	since := m.lastOKReply.Add(corroborationSlack)
	for _, r := range g.sortedReplicas() {
		ri := r.info
		if r.sdown || !r.connected || !ri.MasterLinkUp || ri.MasterReplID != m.info.MasterReplID {
			continue
		}
		if r.prevInfoAt.After(since) && ri.ReplicaReplOffset > r.prevOffset {
			return r
		}
	}
	return nil
}

// masterDownLocked is this node's opinion that g's master is down, as it
// counts toward o_down and is told to peers: s_down, not contradicted by a
// replica. Requires n.mu.
func (n *Node) masterDownLocked(g *group) bool {
	return g.master.sdown && n.replicaSeesMasterLocked(g) == nil
}
