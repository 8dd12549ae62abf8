package sentinel

import "time"

// Replica-corroborated detection. The controllers' path to a master can
// break while the master itself is fine (a firewall rule, a broken route
// from the controllers' network, a saturated link). Sentinel then fails
// over a healthy master, and the writes its clients were still making are
// lost. The replicas are a second witness: if one of them, polled after
// this node lost the master, still has its replication link up to the same
// data set (same replication id) and has heard from the master later than
// this node did, the master is alive. This node then keeps its s_down
// (flags, +sdown) but does not count itself as a "down" opinion toward
// o_down, tells peers the master is not down, and refuses its vote.
//
// It helps most with write traffic, which the master streams to its
// replicas continuously. An idle master only pings its replicas every
// repl-ping-replica-period (10 s by default), so with a down-after shorter
// than that the replicas may not have heard from it recently enough to
// corroborate, and the failover goes ahead as in Sentinel.

// corroborationSlack absorbs the one-second granularity of
// master_last_io_seconds_ago.
const corroborationSlack = time.Second

// replicaSeesMasterLocked returns a replica that saw g's master alive
// after this node last did, or nil. Requires n.mu.
func (n *Node) replicaSeesMasterLocked(g *group) *instance {
	m := g.master
	if !m.sdown || m.info.MasterReplID == "" {
		return nil
	}
	for _, r := range g.sortedReplicas() {
		ri := r.info
		if r.sdown || !r.connected || !r.infoAt.After(m.lastOKReply) ||
			!ri.MasterLinkUp || ri.MasterLastIOSecs < 0 || ri.MasterReplID != m.info.MasterReplID {
			continue
		}
		lastIO := r.infoAt.Add(-time.Duration(ri.MasterLastIOSecs) * time.Second)
		if lastIO.After(m.lastOKReply.Add(corroborationSlack)) {
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
