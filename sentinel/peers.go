package sentinel

import (
	"time"

	"github.com/vigil-ha/vigil/sentinel/cluster"
	"github.com/vigil-ha/vigil/topology"
)

// opinionMaxAge is how old a peer's down opinion may be and still count
// toward o_down. Peers re-broadcast their state every half second and at once on
// every change, so a few seconds means "the peer has gone silent".
const opinionMaxAge = 3 * time.Second

// peer is another vigil node as this node knows it. Guarded by Node.mu.
type peer struct {
	id           string
	respAddr     string
	alive        bool
	lastState    time.Time // when its last state arrived
	lastJoin     time.Time // last gossip join attempted because of a hello
	currentEpoch uint64
	masters      map[string]peerView // by master name
}

// peerView is a peer's opinion on one master.
type peerView struct {
	addr         string
	configEpoch  uint64
	sdown        bool
	at           time.Time // when we learned it
	leader       string
	leaderEpoch  uint64
	pauseVersion uint64
}

// LocalState implements cluster.Handler: this node's view, gossiped to peers.
func (n *Node) LocalState() cluster.NodeState {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.localStateLocked()
}

func (n *Node) localStateLocked() cluster.NodeState {
	st := cluster.NodeState{CurrentEpoch: n.state.CurrentEpoch}
	now := time.Now()
	st.Config, st.ConfigDigest = n.gossipEntriesLocked(now)
	for _, name := range n.names {
		g := n.groups[name]
		rec := n.state.Masters[name]
		ms := cluster.MasterState{
			Name:         name,
			Addr:         g.advertisedAddr().String(),
			ConfigEpoch:  g.configEpoch,
			SDown:        n.masterDownLocked(g) && !n.tiltLocked(),
			LeaderEpoch:  rec.LeaderEpoch,
			Leader:       rec.Leader,
			Paused:       rec.Paused,
			PauseVersion: rec.PauseVersion,
		}
		if ms.Leader == unknownLeader {
			ms.Leader = ""
		}
		if ms.SDown {
			ms.SDownSinceMs = now.Sub(g.master.sdownSince).Milliseconds()
		}
		st.Masters = append(st.Masters, ms)
	}
	return st
}

// HandleState implements cluster.Handler: a peer's full view arrived.
func (n *Node) HandleState(from cluster.Member, st cluster.NodeState) {
	n.mu.Lock()
	defer n.mu.Unlock()
	now := time.Now()
	p := n.peerLocked(from.ID)
	p.respAddr = from.RESPAddr
	p.alive = true
	p.lastState = now
	p.currentEpoch = st.CurrentEpoch
	n.observeEpochLocked(st.CurrentEpoch)
	n.mergeRuntimeLocked(from.ID, st.ConfigDigest, st.Config...) // before the masters: it may add one
	for _, ms := range st.Masters {
		g := n.groups[ms.Name]
		if g == nil {
			continue
		}
		if prev := p.masters[ms.Name]; prev.sdown != ms.SDown || prev.addr != ms.Addr {
			n.wakeTick() // o_down may have changed
		}
		p.masters[ms.Name] = peerView{
			addr: ms.Addr, configEpoch: ms.ConfigEpoch, sdown: ms.SDown, at: now,
			leader: ms.Leader, leaderEpoch: ms.LeaderEpoch, pauseVersion: ms.PauseVersion,
		}
		n.notePeerForGroupLocked(g, p)
		n.adoptConfigLocked(g, p, ms.Addr, ms.ConfigEpoch)
		n.adoptPauseLocked(g, ms.Paused, ms.PauseVersion)
	}
}

// MembershipChanged implements cluster.Handler.
func (n *Node) MembershipChanged(m cluster.Member, alive bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	p := n.peerLocked(m.ID)
	if m.RESPAddr != "" {
		p.respAddr = m.RESPAddr
	}
	p.alive = alive
	n.log.Info("peer membership changed", "peer", m.ID, "resp", m.RESPAddr, "alive", alive)
	if !alive {
		// A leader we voted for died: do not sit out Sentinel's
		// 2×failover-timeout hold-off waiting for a failover that will
		// never finish.
		for name, g := range n.groups {
			if rec := n.state.Masters[name]; rec.Leader == m.ID && g.attempt == nil && time.Now().Before(g.nextAttempt) {
				g.nextAttempt = time.Now().Add(jitter())
				n.log.Warn("the leader we voted for is gone; may retry the failover", "master", name, "leader", m.ID)
			}
		}
	}
}

// peerLocked returns the peer record for id, creating it. Requires n.mu.
func (n *Node) peerLocked(id string) *peer {
	p := n.peers[id]
	if p == nil {
		p = &peer{id: id, masters: map[string]peerView{}}
		n.peers[id] = p
	}
	return p
}

// notePeerForGroupLocked records that p monitors g's master (Sentinel's
// +sentinel), durably: known peers are the voters of an election.
func (n *Node) notePeerForGroupLocked(g *group, p *peer) {
	if _, ok := g.peers[p.id]; ok {
		return
	}
	g.peers[p.id] = struct{}{}
	host, port := splitHostPort(p.respAddr)
	n.emit(Event{Type: "+sentinel", Payload: "sentinel " + p.id + " " + host + " " + port + " @ " + g.name() + " " + n.hostOf(g.master) + " " + g.master.addr.PortString()})
	rec := n.state.Masters[g.name()]
	rec.KnownPeers = append(rec.KnownPeers, PeerRecord{ID: p.id, Addr: p.respAddr})
	n.saveStateLocked()
}

// observeEpochLocked adopts a higher current epoch seen anywhere.
func (n *Node) observeEpochLocked(epoch uint64) {
	if epoch > n.state.CurrentEpoch {
		n.state.CurrentEpoch = epoch
		n.saveStateLocked()
		n.emit(Event{Type: "+new-epoch", Warning: true, Payload: uintString(epoch)})
	}
}

// adoptConfigLocked switches to a peer's view of the master when it carries
// a higher config epoch: the latest failover wins (Sentinel's hello rule).
func (n *Node) adoptConfigLocked(g *group, p *peer, addrStr string, epoch uint64) {
	if epoch <= g.configEpoch {
		return
	}
	addr, err := topology.ParseAddr(addrStr)
	if err != nil {
		n.log.Warn("ignoring peer config with bad master address", "peer", p.id, "master", g.name(), "addr", addrStr)
		return
	}
	if g.attempt != nil && g.attempt.m.Promoted() == addr {
		// Our own failover's result coming back to us.
		g.configEpoch = epoch
		return
	}
	if addr == g.master.addr {
		g.configEpoch = epoch
		n.state.Masters[g.name()].ConfigEpoch = epoch
		n.saveStateLocked()
		return
	}
	host, port := splitHostPort(p.respAddr)
	n.emit(Event{Type: "+config-update-from", Warning: true, Payload: "sentinel " + p.id + " " + host + " " + port + " @ " + g.name() + " " + n.hostOf(g.master) + " " + g.master.addr.PortString()})
	if g.attempt != nil {
		n.log.Warn("abandoning our failover: a newer configuration won", "master", g.name(), "epoch", epoch)
		g.attempt = nil
		n.endRecordLocked(g, "aborted: a newer configuration won", "")
	}
	n.reconfigScript(g, "observer", g.master.addr, addr)
	n.beginRecordLocked(g, "adopted", epoch)
	g.record.Leader = p.id
	n.switchMasterLocked(g, addr, epoch)
	n.endRecordLocked(g, "switched", addr.String())
}
