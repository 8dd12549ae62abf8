package sentinel

import (
	"time"

	"github.com/vigil-ha/vigil/topology"
)

// Data-safety guard: a master that restarts without its data (no
// persistence, a wiped volume) within down-after is never s_down for
// Sentinel, which sees only +reboot; its replicas then full-resync from it
// and the whole data set is gone everywhere (the case reported against
// Sentinel and Valkey). Replicas only start that resync after the master's
// diskless-sync delay (5 s by default), and until the new RDB is loaded
// they keep their data.
//
// So when the current master reboots and now reports a replication offset
// lower than what one of its replicas had acknowledged before (and, where
// INFO lists keys, fewer keys than that replica), vigil holds
// it s_down ("data-regressed"): the peers see the same reboot, the master
// goes o_down, and the usual failover promotes the replica with the most
// data and turns the emptied instance into its replica.

// checkRegressionLocked is called on a reboot of inst with its new INFO.
// Requires n.mu.
func (n *Node) checkRegressionLocked(inst *instance, info topology.Info, at time.Time) {
	if !inst.isMaster() || info.Role != topology.RoleMaster {
		return
	}
	var best int64
	var holder *instance
	for _, r := range inst.group.replicas {
		if r.info.ReplicaReplOffset > best && !r.infoAt.IsZero() {
			best, holder = r.info.ReplicaReplOffset, r
		}
	}
	if holder == nil || info.MasterReplOffset >= best {
		return
	}
	// A new run has a new replication history, so its offset is low even
	// when it reloaded its data from disk. Where both INFO replies list
	// their keys, the key counts decide: fewer keys than the replica holds
	// is a lost data set; as many is a restart with persistence.
	if info.KeysKnown && holder.info.KeysKnown && info.Keys >= holder.info.Keys {
		return
	}
	inst.regressedSince = at
	n.log.Error("master rebooted with less data than its replicas: failing it over",
		"master", inst.group.name(), "addr", inst.addr.String(),
		"offset", info.MasterReplOffset, "replica", holder.addr.String(), "replica-offset", best)
	n.emit(Event{Type: "+data-regressed", Warning: true, Payload: n.instanceRef(inst) + " #offset " + i64(info.MasterReplOffset) + " < " + i64(best) + " on " + holder.addr.String()})
}

// clearRegressionLocked forgets a regression once the instance is no longer
// the master or after failover-timeout without a failover (nothing better
// to promote). Requires n.mu.
func (n *Node) clearRegressionLocked(g *group, now time.Time) {
	for inst := range g.all() {
		if inst.regressedSince.IsZero() {
			continue
		}
		if !inst.isMaster() || (g.attempt == nil && now.Sub(inst.regressedSince) > g.cfg.FailoverTimeout) {
			inst.regressedSince = time.Time{}
		}
	}
}
