package sentinel

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vigil-ha/vigil/config"
	"github.com/vigil-ha/vigil/failover"
	"github.com/vigil-ha/vigil/topology"
)

// Switchover errors, with Sentinel-style reply codes.
var (
	errSwitchMasterDown = errors.New("ERR master is not healthy: use SENTINEL FAILOVER for a failed master")
	errSwitchNoTarget   = errors.New("NOGOODSLAVE the requested replica is not a healthy replica of this master")
)

// switchover moves the master role of a healthy master to a replica with no
// acknowledged write lost, in this order:
//
//  1. CLIENT PAUSE WRITE on the old master: writes wait, nothing new is
//     acknowledged;
//  2. wait until the target's replication offset reaches the old master's;
//  3. REPLICAOF NO ONE on the target;
//  4. switch the configuration (new config epoch, +switch-master, gossip)
//     so that discovery answers the new master;
//  5. REPLICAOF <target> on the old master, which also kills its clients
//     so that the waiting writes fail unacknowledged and are retried on
//     the new master; then CLIENT UNPAUSE;
//  6. re-point the other replicas.
//
// Until step 3 any failure unpauses the old master and changes nothing.
// Every step is bounded by the master's failover-timeout (at most 30 s for
// the write pause).
func (n *Node) switchover(ctx context.Context, name, to string) error {
	n.mu.Lock()
	g := n.groups[name]
	if g == nil {
		n.mu.Unlock()
		return errNoSuchMaster
	}
	if g.attempt != nil || g.switching {
		n.mu.Unlock()
		return errInProgress
	}
	now := time.Now()
	old := g.master.addr
	if g.master.sdown || !g.master.connected || g.master.roleReported != topology.RoleMaster {
		n.mu.Unlock()
		return errSwitchMasterDown
	}
	snap := n.snapshotLocked(g, now)
	var candidates []failover.Candidate
	for _, c := range snap.Replicas {
		if to == "" || c.Addr.String() == to {
			candidates = append(candidates, c)
		}
	}
	best, ok, _ := failover.SelectReplica(snap.Master, candidates, now)
	if !ok || !best.LinkUp || best.ReplicaOf != old {
		n.mu.Unlock()
		if to != "" {
			return errSwitchNoTarget
		}
		return errNoGoodSlave
	}
	target := best.Addr
	others := []topology.Addr{}
	for _, c := range snap.Replicas {
		if c.Addr != target && !c.SDown {
			others = append(others, c.Addr)
		}
	}
	rec := n.state.Masters[name]
	vs := failover.VoteState{CurrentEpoch: n.state.CurrentEpoch, VotedEpoch: rec.LeaderEpoch, VotedFor: rec.Leader}
	next, epoch := failover.StartCandidacy(vs, n.id)
	n.state.CurrentEpoch = next.CurrentEpoch
	rec.LeaderEpoch, rec.Leader = next.VotedEpoch, next.VotedFor
	n.saveStateLocked()
	g.switching = true
	n.beginRecordLocked(g, "switchover", epoch)
	n.sampleReplicasLocked(g)
	mc := g.cfg
	n.emitFor(g, Event{Type: "+new-epoch", Warning: true, Payload: uintString(epoch)})
	n.emitFor(g, Event{Type: "+switchover-start", Warning: true, Payload: n.instanceRef(g.master) + " to " + target.String()})
	n.mu.Unlock()

	err := n.runSwitchover(ctx, g, mc, old, target, others, epoch)

	n.mu.Lock()
	g.switching = false
	if err != nil {
		n.emitFor(g, Event{Type: "-switchover-abort", Warning: true, Payload: "master " + name + " " + old.Host + " " + old.PortString() + " #" + err.Error()})
		n.endRecordLocked(g, "aborted: "+err.Error(), "")
	} else {
		n.endRecordLocked(g, "switched", target.String())
	}
	n.mu.Unlock()
	return err
}

func (n *Node) runSwitchover(ctx context.Context, g *group, mc config.MasterConfig, old, target topology.Addr, others []topology.Addr, epoch uint64) error {
	budget := min(mc.FailoverTimeout, 30*time.Second)
	ctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	// The commands' errors are what count; closing the clients can't fail usefully.
	oc := n.actions.client(mc, old)
	defer func() { _ = oc.Close() }()
	tc := n.actions.client(mc, target)
	defer func() { _ = tc.Close() }()

	pauseMs := strconv.FormatInt(budget.Milliseconds(), 10)
	if err := oc.Do(ctx, "client", "pause", pauseMs, "write").Err(); err != nil {
		return fmt.Errorf("ERR pausing writes on %s: %v", old, err)
	}
	unpause := func() {
		uctx, ucancel := context.WithTimeout(context.Background(), actionTimeout)
		defer ucancel()
		if err := oc.Do(uctx, "client", "unpause").Err(); err != nil {
			n.log.Error("could not unpause the old master; its pause ends by itself", "master", mc.Name, "addr", old.String(), "err", err, "pause", budget)
		}
	}

	// Wait for the target to hold everything the old master acknowledged.
	masterOff, err := infoInt(ctx, oc, "master_repl_offset")
	if err != nil {
		unpause()
		return fmt.Errorf("ERR reading the old master's offset: %v", err)
	}
	for {
		off, err := infoInt(ctx, tc, "slave_repl_offset")
		if err == nil && off >= masterOff {
			break
		}
		select {
		case <-ctx.Done():
			unpause()
			return fmt.Errorf("ERR replica %s did not catch up with the master within %v", target, budget)
		case <-time.After(5 * time.Millisecond):
		}
	}

	// Hand over. On the old master, in one pipeline that Redis executes
	// without serving anyone else in between: lift the write pause and
	// pause every command for handoverPause; the MULTI that follows waits
	// behind that pause ahead of every client that sends anything later,
	// and when it runs it makes the old master a replica of the target and
	// disconnects its clients. So no client can read from the old master
	// once the target may have acknowledged a write: the handover is
	// linearizable, not only free of lost writes.
	if err := n.demoteForHandover(ctx, oc, target); err != nil {
		unpause()
		return fmt.Errorf("ERR demoting %s: %v", old, err)
	}

	// Discovery answers the target before it accepts writes, on this node
	// and (for up to peerAdoptWait) on every peer that is reachable: a
	// client that asked a slower peer would otherwise be sent to the old
	// master, now a replica, and could read an old value.
	n.mu.Lock()
	n.reconfigScript(g, "leader", old, target)
	n.switchMasterLocked(g, target, epoch)
	n.mu.Unlock()
	n.waitPeersAdopt(ctx, g, target, epoch)

	if err := n.actions.replicaOf(ctx, mc, target, topology.Addr{}); err != nil {
		// Both are replicas now: give the role back to the old master,
		// which holds every acknowledged write, under a newer epoch.
		n.log.Error("promoting the switchover target failed; restoring the old master", "master", mc.Name, "target", target.String(), "err", err)
		rerr := n.actions.replicaOf(context.Background(), mc, old, topology.Addr{})
		n.mu.Lock()
		n.state.CurrentEpoch++
		n.saveStateLocked()
		n.switchMasterLocked(g, old, n.state.CurrentEpoch)
		n.mu.Unlock()
		if rerr != nil {
			return fmt.Errorf("ERR promoting %s: %v; restoring %s also failed: %v", target, err, old, rerr)
		}
		return fmt.Errorf("ERR promoting %s: %v (the old master was restored)", target, err)
	}
	n.mu.Lock()
	n.emitFor(g, Event{Type: "+promoted-slave", Warning: true, Payload: "slave " + target.String() + " " + target.Host + " " + target.PortString() + " @ " + mc.Name + " " + old.Host + " " + old.PortString()})
	n.mu.Unlock()
	for _, r := range others {
		n.repointAsync(g, r, target)
	}
	return nil
}

// handoverPause is how long the old master stops serving every client at
// the handover; the demotion queued behind it runs as soon as it ends.
const handoverPause = 100 * time.Millisecond

// demoteForHandover sends, in one pipeline, CLIENT UNPAUSE, CLIENT PAUSE
// handoverPause ALL, and MULTI / REPLICAOF target / CONFIG REWRITE /
// CLIENT KILL TYPE normal / CLIENT KILL TYPE pubsub / EXEC, and checks that
// REPLICAOF succeeded.
func (n *Node) demoteForHandover(ctx context.Context, oc *redis.Client, target topology.Addr) error {
	var exec *redis.Cmd
	_, err := oc.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Do(ctx, "client", "unpause")
		p.Do(ctx, "client", "pause", strconv.FormatInt(handoverPause.Milliseconds(), 10), "all")
		p.Do(ctx, "multi")
		p.Do(ctx, "replicaof", target.Host, target.PortString())
		p.Do(ctx, "config", "rewrite")
		p.Do(ctx, "client", "kill", "type", "normal")
		p.Do(ctx, "client", "kill", "type", "pubsub")
		exec = p.Do(ctx, "exec")
		return nil
	})
	if exec == nil {
		return err
	}
	res, xerr := exec.Slice()
	if xerr != nil {
		return xerr
	}
	if len(res) == 0 {
		return errors.New("empty EXEC reply")
	}
	if e, ok := res[0].(error); ok {
		return e
	}
	return nil
}

// infoInt reads one integer field of INFO replication.
func infoInt(ctx context.Context, c *redis.Client, field string) (int64, error) {
	text, err := c.Info(ctx, "replication").Result()
	if err != nil {
		return 0, err
	}
	info, err := topology.ParseInfo(text)
	if err != nil {
		return 0, err
	}
	switch field {
	case "master_repl_offset":
		return info.MasterReplOffset, nil
	case "slave_repl_offset":
		return info.ReplicaReplOffset, nil
	}
	return 0, fmt.Errorf("unknown field %s", field)
}

func i64(v int64) string { return strconv.FormatInt(v, 10) }

// peerAdoptWait bounds how long a switchover waits for the reachable peers
// to announce the new master before promoting it.
const peerAdoptWait = time.Second

// waitPeersAdopt waits until every alive peer of g gossips target at epoch
// (or newer), at most peerAdoptWait.
func (n *Node) waitPeersAdopt(ctx context.Context, g *group, target topology.Addr, epoch uint64) {
	deadline := time.Now().Add(peerAdoptWait)
	for {
		n.mu.Lock()
		pending := 0
		for id := range g.peers {
			p := n.peers[id]
			if p == nil || !p.alive {
				continue
			}
			if v := p.masters[g.name()]; v.configEpoch < epoch || v.addr != target.String() {
				pending++
			}
		}
		n.mu.Unlock()
		if pending == 0 || time.Now().After(deadline) {
			if pending > 0 {
				n.log.Warn("switchover: promoting before every peer announced the new master", "master", g.name(), "peers-behind", pending)
			}
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(5 * time.Millisecond):
		}
	}
}
