package sentinel

import (
	"context"
	"time"

	"github.com/vigil-ha/vigil/failover"
)

// Status is a point-in-time view of the node, for operators (HTTP API,
// metrics, CLI). It is a copy: reading it takes no lock.
type Status struct {
	NodeID       string         `json:"node_id"`
	Listen       string         `json:"listen"`
	GossipAddr   string         `json:"gossip_addr,omitempty"`
	CurrentEpoch uint64         `json:"current_epoch"`
	Tilt         bool           `json:"tilt"`
	Masters      []MasterStatus `json:"masters"`
	Peers        []PeerStatus   `json:"peers"`
}

// MasterStatus is one monitored master group.
type MasterStatus struct {
	Name            string          `json:"name"`
	Addr            string          `json:"addr"`
	ConfigEpoch     uint64          `json:"config_epoch"`
	Quorum          int             `json:"quorum"`
	DownAfter       time.Duration   `json:"down_after_ns"`
	FailoverTimeout time.Duration   `json:"failover_timeout_ns"`
	ParallelSyncs   int             `json:"parallel_syncs"`
	Flags           string          `json:"flags"`
	SDown           bool            `json:"s_down"`
	ODown           bool            `json:"o_down"`
	ODownCount      int             `json:"o_down_count"`
	RunID           string          `json:"run_id"`
	Connected       bool            `json:"connected"`
	LastOKPing      time.Time       `json:"last_ok_ping"`
	FailoverState   string          `json:"failover_state,omitempty"`
	FailoverEpoch   uint64          `json:"failover_epoch,omitempty"`
	LeaderEpoch     uint64          `json:"leader_epoch"`
	Leader          string          `json:"leader,omitempty"`
	UsablePeers     int             `json:"usable_nodes"`
	Voters          int             `json:"voters"`
	QuorumReachable bool            `json:"quorum_reachable"`
	Replicas        []ReplicaStatus `json:"replicas"`
	Peers           []string        `json:"peers"`
	NextAttempt     time.Time       `json:"next_attempt,omitzero"`
	MasterOffset    int64           `json:"master_repl_offset"`
	Paused          bool            `json:"paused"`
	Decision        Decision        `json:"decision"`
}

// ReplicaStatus is one replica of a master group.
type ReplicaStatus struct {
	Addr       string        `json:"addr"`
	RunID      string        `json:"run_id"`
	Flags      string        `json:"flags"`
	SDown      bool          `json:"s_down"`
	Connected  bool          `json:"connected"`
	Role       string        `json:"role"`
	MasterHost string        `json:"master_host"`
	MasterPort int           `json:"master_port"`
	LinkUp     bool          `json:"master_link_up"`
	Offset     int64         `json:"offset"`
	Lag        int64         `json:"lag_bytes"`
	LagSeconds int64         `json:"lag_seconds"` // from the master\'s INFO (last ack); -1 when unknown
	Priority   int           `json:"priority"`
	InfoAge    time.Duration `json:"info_age_ns"`
	LastOKPing time.Time     `json:"last_ok_ping"`
}

// PeerStatus is another vigil node.
type PeerStatus struct {
	ID           string    `json:"id"`
	RESPAddr     string    `json:"resp_addr"`
	Alive        bool      `json:"alive"`
	LastState    time.Time `json:"last_state,omitzero"`
	CurrentEpoch uint64    `json:"current_epoch"`
}

// Status returns the node's current view.
func (n *Node) Status() Status {
	n.mu.Lock()
	defer n.mu.Unlock()
	now := time.Now()
	st := Status{NodeID: n.id, Listen: n.Addr(), GossipAddr: n.GossipAddr(), CurrentEpoch: n.state.CurrentEpoch, Tilt: n.tiltLocked()}
	for _, name := range n.names {
		g := n.groups[name]
		rec := n.state.Masters[name]
		usable, voters := n.usableLocked(g, now)
		ms := MasterStatus{
			Name: name, Addr: g.advertisedAddr().String(), ConfigEpoch: g.configEpoch,
			Quorum: g.cfg.Quorum, DownAfter: g.cfg.DownAfter, FailoverTimeout: g.cfg.FailoverTimeout, ParallelSyncs: g.cfg.ParallelSyncs,
			Flags: n.flags(g.master), SDown: g.master.sdown, ODown: g.odown, ODownCount: g.odownCount,
			RunID: g.master.runID, Connected: g.master.connected, LastOKPing: g.master.lastOKReply,
			LeaderEpoch: rec.LeaderEpoch, Leader: rec.Leader,
			UsablePeers: usable, Voters: voters,
			QuorumReachable: usable >= g.cfg.Quorum && usable >= failover.Majority(voters),
			NextAttempt:     g.nextAttempt,
			MasterOffset:    g.master.info.MasterReplOffset,
			Paused:          n.pausedLocked(g),
			Decision:        n.explainLocked(g, now),
		}
		if a := g.attempt; a != nil {
			ms.FailoverState, ms.FailoverEpoch = a.m.State().String(), a.epoch
		}
		for _, r := range g.sortedReplicas() {
			rs := ReplicaStatus{
				Addr: r.addr.String(), RunID: r.runID, Flags: n.flags(r), SDown: r.sdown, Connected: r.connected,
				Role: roleString(r), MasterHost: r.info.MasterHost, MasterPort: r.info.MasterPort, LinkUp: r.info.MasterLinkUp,
				Offset: r.info.ReplicaReplOffset, Priority: r.info.ReplicaPriority, LastOKPing: r.lastOKReply,
			}
			if !r.infoAt.IsZero() {
				rs.InfoAge = now.Sub(r.infoAt)
			}
			if mo := g.master.info.MasterReplOffset; mo > 0 && rs.Offset > 0 {
				rs.Lag = max(mo-rs.Offset, 0)
			}
			rs.LagSeconds = -1
			for _, e := range g.master.info.Replicas {
				if e.Addr == r.addr {
					rs.LagSeconds = e.Lag
				}
			}
			ms.Replicas = append(ms.Replicas, rs)
		}
		ms.Peers = sortedStrings(keys(g.peers))
		st.Masters = append(st.Masters, ms)
	}
	for _, id := range sortedStrings(peerIDs(n.peers)) {
		p := n.peers[id]
		st.Peers = append(st.Peers, PeerStatus{ID: id, RESPAddr: p.respAddr, Alive: p.alive, LastState: p.lastState, CurrentEpoch: p.currentEpoch})
	}
	return st
}

func peerIDs(m map[string]*peer) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// Pause puts the named master in maintenance mode on every node: no
// automatic failover until Resume.
func (n *Node) Pause(name string) error { return n.setPause(name, true) }

// Resume ends maintenance mode for the named master.
func (n *Node) Resume(name string) error { return n.setPause(name, false) }

// Failover starts a manual failover of the named master without asking the
// other nodes, like SENTINEL FAILOVER. It returns once the attempt started.
func (n *Node) Failover(name string) error { return n.manualFailover(name) }

// Switchover hands the master role of a healthy master to a replica without
// losing acknowledged writes (vigil's extension; see SENTINEL SWITCHOVER).
// to is "host:port" of the replica to promote, or "" for the best one. It
// returns when the switchover has finished or failed.
func (n *Node) Switchover(ctx context.Context, name, to string) error {
	return n.switchover(ctx, name, to)
}
