package sentinel

import (
	"context"
	"strconv"
	"time"

	"github.com/vigil-ha/vigil/config"
	"github.com/vigil-ha/vigil/topology"
)

// Write guard: bounded split brain. A master cut off from its replicas
// (with its clients and maybe one vigil node on its side of a partition)
// keeps acknowledging writes that the majority side will throw away when it
// promotes a replica. Redis itself can refuse those writes:
// min-replicas-to-write N makes the master answer -NOREPLICAS when fewer
// than N replicas acknowledged within min-replicas-max-lag seconds. With
// masters.NAME.write-guard on, vigil keeps that at 1 (lag write-guard-max-lag,
// default 1 s) on the current master while it has a healthy replica, so an
// isolated master stops acknowledging writes about 1-2 s after the cut, by
// itself, whatever happens to vigil.
//
// The cost is that a master with no replica at all would refuse every write.
// So when this node sees no healthy replica and it is on the majority side
// (it hears from a majority of the nodes), it lowers the setting to 0 and
// keeps the master writable, degraded; it raises it again as soon as a
// replica is back. A node on the minority side never lowers it: from there
// "no replica" is exactly what an isolated master looks like.

// guardReassert re-sends the setting even when nothing changed, so that a
// master restarted with its old config (or changed by hand) is corrected.
const guardReassert = 30 * time.Second

// guardWritesLocked keeps min-replicas-to-write on g's master in line.
// Requires n.mu.
func (n *Node) guardWritesLocked(g *group, now time.Time) {
	if !g.cfg.WriteGuard || g.attempt != nil || g.switching || n.tiltLocked() || g.fence.active {
		return
	}
	m := g.master
	if m.sdown || !m.connected || m.roleReported != topology.RoleMaster || m.infoAt.IsZero() {
		return
	}
	healthy := 0
	for _, r := range g.replicas {
		if to, ok := r.info.ReplicaOf(); ok && to == m.addr && !r.sdown && r.connected && r.info.MasterLinkUp {
			healthy++
		}
	}
	want := max(g.guardWant, 1)
	switch {
	case healthy > 0:
		want = 1
	case n.hearsMajorityLocked(g, now):
		want = 0
	}
	if want == g.guardWant && m.runID == g.guardRunID && m.addr == g.guardAddr && now.Sub(g.guardAt) < guardReassert {
		return
	}
	if want != g.guardWant {
		n.emit(Event{Type: "+write-guard", Warning: true, Payload: n.instanceRef(m) + " min-replicas-to-write " + strconv.Itoa(want)})
	}
	g.guardWant, g.guardRunID, g.guardAddr, g.guardAt = want, m.runID, m.addr, now
	lag := int64(g.cfg.WriteGuardMaxLag / time.Second)
	if lag <= 0 {
		lag = int64(config.DefaultWriteGuardMaxLag / time.Second)
	}
	ctx, act, mc, addr := n.runCtx, n.actions, g.cfg, m.addr
	n.bgWG.Go(func() {
		c := act.client(mc, addr)
		defer func() { _ = c.Close() }() // the commands' errors are what count
		cctx, cancel := context.WithTimeout(ctx, actionTimeout)
		defer cancel()
		err := c.ConfigSet(cctx, "min-replicas-max-lag", strconv.FormatInt(lag, 10)).Err()
		if err == nil {
			err = c.ConfigSet(cctx, "min-replicas-to-write", strconv.Itoa(want)).Err()
		}
		if err != nil {
			n.log.Warn("write guard: CONFIG SET failed", "master", mc.Name, "addr", addr.String(), "err", err)
			n.mu.Lock()
			g.guardAt = time.Time{} // retry on the next tick
			n.mu.Unlock()
		}
	})
}
