package sentinel

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/vigil-ha/vigil/failover"
	"github.com/vigil-ha/vigil/sentinel/cluster"
)

// Election timing.
const (
	// askPeriod is how often a node that sees its master s_down asks every
	// peer directly for its opinion (and, as candidate, for its vote):
	// Sentinel's sentinel_ask_period.
	askPeriod = time.Second
	// rankDelay staggers candidacies: among the nodes that see the master
	// down or were heard from just now, the one with the smallest id
	// starts at once, the next after rankDelay, and so on. In the common
	// case exactly one node asks for votes and no election is split.
	// (Sentinel instead lets every sentinel ask at once and relies on
	// randomised timer ticks and a random 0-1 s shift of its timeouts to
	// break ties.)
	rankDelay = 300 * time.Millisecond
	// maxJitter is the random part added to retries after a failed attempt.
	maxJitter = time.Second
)

// attempt is one failover attempt this node leads or tries to lead.
type attempt struct {
	m       *failover.Machine
	start   time.Time // when the candidacy started
	epoch   uint64
	votes   map[string]string // voter → leader it voted for in epoch
	lastAsk time.Time
	won     bool
}

// checkODownLocked applies the quorum rule to the fresh opinions of the
// peers that monitor g's master. Requires n.mu.
func (n *Node) checkODownLocked(g *group, now time.Time) {
	opinions := make([]failover.Opinion, 0, len(g.peers))
	for id := range g.peers {
		p := n.peers[id]
		if p == nil {
			continue
		}
		if v, ok := p.masters[g.name()]; ok && v.addr == g.master.addr.String() {
			opinions = append(opinions, failover.Opinion{Node: id, Down: v.sdown, At: v.at})
		}
	}
	down, count := failover.ObjectivelyDown(n.masterDownLocked(g), opinions, g.cfg.Quorum, now, opinionMaxAge)
	g.odownCount = count
	switch {
	case down && !g.odown:
		g.odown = true
		g.odownSince = now
		n.emit(Event{Type: "+odown", Warning: true, Payload: n.instanceRef(g.master) + " #quorum " + strconv.Itoa(count) + "/" + strconv.Itoa(g.cfg.Quorum)})
	case !down && g.odown:
		g.odown = false
		g.odownSince = time.Time{}
		n.emit(Event{Type: "-odown", Warning: true, Payload: n.instanceRef(g.master)})
	}
}

// rankFresh: a peer whose state arrived this recently counts in the
// candidacy stagger even before its down opinion arrives.
const rankFresh = 2 * stateBroadcastPeriod

// candidateRankLocked is this node's place in the candidacy stagger, -1
// when it does not hold the master s_down: its index among the down voters
// and the peers heard within rankFresh, sorted by id. Counting the fresh
// peers keeps the order the same on every node of a side even while down
// opinions are still arriving (with the down voters alone, two nodes that
// each had heard only a different third could both rank first and split
// the vote). Requires n.mu.
func (n *Node) candidateRankLocked(g *group, now time.Time) int {
	voters := n.downVotersLocked(g, now)
	if !slices.Contains(voters, n.id) {
		return -1
	}
	for id := range g.peers {
		if p := n.peers[id]; p != nil && p.alive && now.Sub(p.lastState) <= rankFresh && !slices.Contains(voters, id) {
			voters = append(voters, id)
		}
	}
	slices.Sort(voters)
	return slices.Index(voters, n.id)
}

// downVoters returns the ids of the nodes (self included) that currently
// hold g's master s_down, sorted.
func (n *Node) downVotersLocked(g *group, now time.Time) []string {
	ids := []string{}
	if n.masterDownLocked(g) {
		ids = append(ids, n.id)
	}
	for id := range g.peers {
		if p := n.peers[id]; p != nil {
			if v, ok := p.masters[g.name()]; ok && v.sdown && now.Sub(v.at) <= opinionMaxAge && v.addr == g.master.addr.String() {
				ids = append(ids, id)
			}
		}
	}
	slices.Sort(ids)
	return ids
}

// maybeStartFailoverLocked starts a candidacy when the master is o_down, no
// attempt is running, the retry time has come and this node's turn in the
// stagger has come. Requires n.mu.
func (n *Node) maybeStartFailoverLocked(g *group, now time.Time) {
	if !g.odown || g.attempt != nil || g.switching || now.Before(g.nextAttempt) || n.pausedLocked(g) {
		return
	}
	rank := n.candidateRankLocked(g, now)
	if rank < 0 {
		return
	}
	if now.Sub(g.odownSince) < time.Duration(rank)*rankDelay {
		return
	}
	if until := g.antiFlapUntil(); now.Before(until) {
		return
	}
	if !n.hookAllowsLocked(g, now) {
		return
	}
	n.startAttemptLocked(g, now, false)
}

// startAttemptLocked bumps the epoch, votes for itself (persisted first) and
// asks every known peer for its vote. Forced attempts (SENTINEL FAILOVER)
// skip the election. Requires n.mu.
func (n *Node) startAttemptLocked(g *group, now time.Time, forced bool) {
	rec := n.state.Masters[g.name()]
	vs := failover.VoteState{CurrentEpoch: n.state.CurrentEpoch, VotedEpoch: rec.LeaderEpoch, VotedFor: rec.Leader}
	next, epoch := failover.StartCandidacy(vs, n.id)
	if epoch == 0 {
		n.log.Error("epoch space exhausted", "master", g.name())
		return
	}
	n.state.CurrentEpoch = next.CurrentEpoch
	rec.LeaderEpoch, rec.Leader = next.VotedEpoch, next.VotedFor
	n.saveStateLocked()
	kind := "failover"
	if forced {
		kind = "manual-failover"
	}
	n.beginRecordLocked(g, kind, epoch)
	n.emitFor(g, Event{Type: "+new-epoch", Warning: true, Payload: uintString(epoch)})
	n.emitFor(g, Event{Type: "+try-failover", Warning: true, Payload: n.instanceRef(g.master)})
	g.attempt = &attempt{
		start: now,
		epoch: epoch,
		votes: map[string]string{n.id: n.id},
		m: failover.New(failover.Params{
			Master:          g.name(),
			OldMaster:       g.master.addr,
			Epoch:           epoch,
			Forced:          forced,
			Start:           now,
			FailoverTimeout: g.cfg.FailoverTimeout,
			ParallelSyncs:   g.cfg.ParallelSyncs,
		}),
	}
	n.log.Warn("starting failover attempt", "master", g.name(), "epoch", epoch, "forced", forced)
	if !forced {
		n.askPeersLocked(g, now)
	}
	n.broadcastLocked()
}

// askPeersLocked sends a VoteRequest to every peer monitoring g's master:
// a vote request while this node is a candidate, an opinion query
// otherwise. Sending happens off the lock. Requires n.mu.
func (n *Node) askPeersLocked(g *group, now time.Time) {
	if n.cluster == nil {
		return
	}
	req := cluster.VoteRequest{Master: g.name(), MasterAddr: g.master.addr.String(), Epoch: n.state.CurrentEpoch}
	if a := g.attempt; a != nil && a.m.State() == failover.StateWaitStart {
		req.Candidate = n.id
		req.Epoch = a.epoch
		a.lastAsk = now
	}
	g.lastAsk = now
	for id := range g.peers {
		if p := n.peers[id]; p != nil && p.alive {
			n.sendAsync(id, req)
		}
	}
}

// sendAsync sends a direct message without holding up the caller.
func (n *Node) sendAsync(to string, m cluster.Message) {
	c := n.cluster
	n.bgWG.Go(func() {
		if err := c.Send(to, m); err != nil {
			n.log.Debug("send to peer failed", "peer", to, "err", err)
		}
	})
}

// HandleMessage implements cluster.Handler: vote requests and replies.
func (n *Node) HandleMessage(from cluster.Member, m cluster.Message) {
	switch m := m.(type) {
	case cluster.VoteRequest:
		reply, ok := n.handleVoteRequest(from, m)
		if ok {
			n.sendAsync(from.ID, reply)
		}
	case cluster.VoteReply:
		n.handleVoteReply(from, m)
	}
}

// handleVoteRequest answers is-master-down-by-addr, from gossip or from the
// RESP port: the down opinion, and the vote (persisted before the reply).
func (n *Node) handleVoteRequest(from cluster.Member, req cluster.VoteRequest) (cluster.VoteReply, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	reply := cluster.VoteReply{Master: req.Master, ReqID: req.ReqID}
	g := n.groupByAddrLocked(req.Master, req.MasterAddr)
	if g == nil {
		reply.Leader = "*"
		return reply, true
	}
	reply.Master = g.name()
	reply.Down = n.masterDownLocked(g) && !n.tiltLocked()
	candidate := req.Candidate
	if n.pausedLocked(g) || n.replicaSeesMasterLocked(g) != nil || n.vetoedLocked(g, time.Now()) || n.tiltLocked() {
		// Maintenance mode, a replica saw the master alive after we lost
		// it, or this node just stalled (TILT): answer, but never vote.
		candidate = ""
	}
	vr := n.voteLocked(g, req.Epoch, candidate)
	reply.Leader, reply.LeaderEpoch = vr.Leader, vr.Epoch
	if reply.Leader == "" {
		reply.Leader = "*"
	}
	return reply, true
}

// voteLocked applies a vote request to g's vote state, persisting a change
// before returning. Requires n.mu.
func (n *Node) voteLocked(g *group, epoch uint64, candidate string) failover.VoteReply {
	rec := n.state.Masters[g.name()]
	if candidate == "*" {
		candidate = ""
	}
	vs := failover.VoteState{CurrentEpoch: n.state.CurrentEpoch, VotedEpoch: rec.LeaderEpoch, VotedFor: rec.Leader}
	next, vr, changed := vs.HandleRequest(failover.VoteRequest{Epoch: epoch, Candidate: candidate})
	if !changed {
		return vr
	}
	epochChanged := next.CurrentEpoch != n.state.CurrentEpoch
	voted := next.VotedEpoch != rec.LeaderEpoch
	n.state.CurrentEpoch = next.CurrentEpoch
	rec.LeaderEpoch, rec.Leader = next.VotedEpoch, next.VotedFor
	n.saveStateLocked()
	if epochChanged {
		n.emit(Event{Type: "+new-epoch", Warning: true, Payload: uintString(next.CurrentEpoch)})
	}
	if voted {
		n.emit(Event{Type: "+vote-for-leader", Warning: true, Payload: next.VotedFor + " " + uintString(next.VotedEpoch)})
		if next.VotedFor != n.id {
			// Someone else is failing this master over: do not compete.
			g.nextAttempt = failover.HoldOff(time.Now(), g.cfg.FailoverTimeout, jitter())
		}
	}
	return vr
}

func (n *Node) handleVoteReply(from cluster.Member, r cluster.VoteReply) {
	n.mu.Lock()
	defer n.mu.Unlock()
	g := n.groups[r.Master]
	if g == nil {
		return
	}
	p := n.peerLocked(from.ID)
	v := p.masters[g.name()]
	v.sdown, v.at, v.addr = r.Down, time.Now(), g.master.addr.String()
	if r.Leader != "*" && r.Leader != "" {
		v.leader, v.leaderEpoch = r.Leader, r.LeaderEpoch
	}
	p.masters[g.name()] = v
	if a := g.attempt; a != nil && r.LeaderEpoch == a.epoch && r.Leader != "*" {
		a.votes[from.ID] = r.Leader
		n.wakeTick()
	}
}

// groupByAddrLocked finds the group a vote request is about: by name when
// known, else by master address (Sentinel looks masters up by address).
func (n *Node) groupByAddrLocked(name, addr string) *group {
	if g := n.groups[name]; g != nil {
		return g
	}
	for _, g := range n.groups {
		if g.master.addr.String() == addr {
			return g
		}
	}
	return nil
}

// tallyLocked counts the votes of the current attempt. Voters are all nodes
// known to monitor the master (self included), as in Sentinel: a node that
// went away still counts, so a minority can never elect.
func (n *Node) tallyLocked(g *group, now time.Time) failover.VoteResult {
	a := g.attempt
	t := failover.VoteTally{Voters: len(g.peers) + 1, Quorum: g.cfg.Quorum, Votes: a.votes}
	if now.Sub(a.start) >= voteGrace {
		// Peers that have been unreachable for a while will not answer:
		// without them a split vote (two candidates that started
		// together) is lost now, and retried after a random delay,
		// instead of at the election timeout.
		for id := range g.peers {
			if a.votes[id] == "" && !n.usablePeerLocked(id, now) {
				t.Silent++
			}
		}
	}
	return t.Result(n.id)
}

// voteGrace is how long a candidate waits for the votes of peers that
// gossip says are unreachable: a vote over the RESP port may still come
// (gossip can be slow where RESP is not), and it comes within
// milliseconds when it does.
const voteGrace = time.Second

// jitter is a random delay in [0, maxJitter) against repeated split votes.
func jitter() time.Duration { return rand.N(maxJitter) }

func uintString(v uint64) string { return strconv.FormatUint(v, 10) }
