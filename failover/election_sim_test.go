package failover_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/failover"
)

// The election simulation runs N nodes that elect a failover leader with
// VoteState, VoteTally, NextAttempt and HoldOff, as the sentinel driver
// does, over the fake network of simnet_test.go: messages are dropped,
// delayed, reordered and duplicated, partitions come and go, and nodes crash
// (sometimes between persisting a vote and replying) and restart from what
// they persisted. Every run is checked for safety, and the heal scenario for
// liveness. A failing run prints its seed and a trace; replay it with
//
//	VIGIL_SIM_SEED=<seed> go test -run '^TestElectionSim$/^<config>$/^<scenario>$' -v ./failover/

const (
	// simFailoverTimeout is shortened so that runs are short in simulated
	// time: the election timeout is 2s and the hold-off 4s, plus jitter.
	simFailoverTimeout = 2 * time.Second
	// simJitter is the range of NextAttempt and HoldOff jitter.
	simJitter = time.Second
	// simMaxDesync delays each candidacy after o_down, like Sentinel's
	// SENTINEL_MAX_DESYNC.
	simMaxDesync = time.Second
	// simOdownSpread is how far apart nodes see the same failure.
	simOdownSpread = 300 * time.Millisecond
	// simFaultLength is the simulated length of the chaos and minority
	// scenarios.
	simFaultLength = 30 * time.Second
	// simLivenessBound is how long after the faults stop (and the master
	// fails once more) a majority must take to elect a leader.
	simLivenessBound = 30 * time.Second
	// simMaxEvents stops a run that would never end.
	simMaxEvents = 500_000
)

// simScenario is the shape of the faults of a run.
type simScenario uint8

const (
	// scenChaos: faults of every kind for the whole run; safety only.
	scenChaos simScenario = iota
	// scenHeal: chaos, then the faults stop for a set S of at least
	// max(quorum, majority) nodes, which stay up and connected, while the
	// others are crashed or isolated for good; the master fails once more
	// and S must elect a leader within simLivenessBound.
	scenHeal
	// scenMinority: a partition fixed from the start (a minority cut off,
	// or every node isolated) plus every other fault; no group smaller than
	// max(quorum, majority) may elect.
	scenMinority
)

func (s simScenario) String() string {
	return [...]string{"chaos", "heal", "minority"}[s]
}

// seeds is how many seeds TestElectionSim runs of the scenario per node
// count and quorum: 1000 per configuration in all, which keeps the whole
// test under about 5 s of CPU with -race (the race detector makes the
// simulation about six times slower).
func (s simScenario) seeds() uint64 {
	return [...]uint64{500, 250, 250}[s]
}

// simMutation is a deliberate driver bug, used only to prove that the
// checks of the simulation catch what they claim to catch.
type simMutation uint8

const (
	// mutNone is the correct driver.
	mutNone simMutation = iota
	// mutReplyBeforePersist sends a vote before persisting it.
	mutReplyBeforePersist
	// mutCandidacyNotPersisted sends vote requests without persisting the
	// candidacy (its epoch and self vote).
	mutCandidacyNotPersisted
	// mutCountStaleVotes counts a reply naming us whatever its epoch.
	mutCountStaleVotes
	// mutQuorumOnly declares victory on quorum votes, forgetting the
	// majority that LeaderAuthorized also demands.
	mutQuorumOnly
	// mutNoRetry never retries a candidacy that timed out.
	mutNoRetry
)

// simViolationKind classifies what a run got wrong.
type simViolationKind uint8

const (
	vDoubleVote     simViolationKind = iota // a node voted for two candidates in one epoch
	vEpochBack                              // a node's current or voted epoch decreased
	vTwoLeaders                             // two leaders in one epoch
	vPhantomVote                            // a leader counted a vote its voter never cast
	vMinorityLeader                         // a group smaller than needed elected
	vNoLeader                               // liveness: no leader in time after heal
	vTally                                  // VoteTally's views disagree
	vStuck                                  // the run did not end
)

type simViolation struct {
	kind simViolationKind
	at   time.Duration
	what string
}

func (v simViolation) String() string { return fmt.Sprintf("%v: %s", simDur(v.at), v.what) }

// simSpec is what a run simulates.
type simSpec struct {
	nodes, quorum int
	scenario      simScenario
	mutation      simMutation
}

func (s simSpec) String() string {
	return fmt.Sprintf("N%dq%d/%v", s.nodes, s.quorum, s.scenario)
}

// simNode is one vigil node's election state for one master. mem is what
// the process holds, disk what it persisted; a crash loses everything but
// disk.
type simNode struct {
	id    int
	name  string
	alive bool
	inc   int // incarnation: bumped by every crash
	mem   failover.VoteState
	disk  failover.VoteState

	// In memory only, as in Sentinel.
	round     int           // the failover round this node is working on
	done      bool          // round settled: won, or heard the winner
	notBefore time.Duration // no candidacy before this (NextAttempt, HoldOff)
	att       *simAttempt   // candidacy in progress
}

// simAttempt is a candidacy in progress.
type simAttempt struct {
	epoch uint64
	round int
	start time.Duration
	tally failover.VoteTally
	lost  bool // the tally once said VoteLost
}

type simWin struct {
	at    time.Duration
	node  int
	epoch uint64
	round int
}

// sim is one run.
type sim struct {
	spec   simSpec
	needed int // max(quorum, majority)
	rng    *rand.Rand
	net    simNet
	queue  simQueue
	now    time.Duration
	end    time.Duration
	events int
	nodes  []*simNode
	names  []string // node i is names[i], "n<i>"
	delays []time.Duration

	pCrashMid  float64 // a crash right after a persist, before the reply
	round      int
	roundChain int // bumped by the heal to cancel the chaos chains
	finalRound int // heal: the round started after the faults stop
	finalAt    time.Duration
	stable     []bool // heal: the nodes that stay up and connected
	minority   []bool // minority: the nodes cut off from the start

	// The checker's memory: it survives crashes.
	votes      [][]int // votes[node][epoch]: 1 + the candidate it ever voted for, 0 for none
	leaders    []int   // leaders[epoch]: 1 + the node that won it, 0 for none
	maxCur     []uint64
	maxVoted   []uint64
	wins       []simWin
	violations []simViolation

	tracing bool
	trace   []string
}

func newSim(spec simSpec, seed uint64, tracing bool) *sim {
	rng := rand.New(rand.NewPCG(seed, uint64(spec.nodes)<<16|uint64(spec.quorum)<<8|uint64(spec.scenario)))
	s := &sim{
		spec: spec, rng: rng, tracing: tracing,
		needed: max(spec.quorum, failover.Majority(spec.nodes)),
		end:    simFaultLength,
		votes:  make([][]int, spec.nodes),
		maxCur: make([]uint64, spec.nodes), maxVoted: make([]uint64, spec.nodes),
		net: simNet{
			rng: rng, group: make([]int, spec.nodes),
			pDrop: 0.3 * rng.Float64(), pDup: 0.1 * rng.Float64(), pLong: 0.05,
		},
		pCrashMid: 0.05,
	}
	for i := range spec.nodes {
		s.names = append(s.names, "n"+strconv.Itoa(i))
		s.nodes = append(s.nodes, &simNode{id: i, name: s.names[i], alive: true})
		s.at(simUniform(rng, 500*time.Millisecond, 15*time.Second), simEvent{kind: evCrash, node: i})
	}
	s.at(simUniform(rng, 0, time.Second), simEvent{kind: evRound})
	switch spec.scenario {
	case scenChaos:
		s.at(simUniform(rng, 0, 2*time.Second), simEvent{kind: evPartition})
	case scenHeal:
		s.at(simUniform(rng, 0, 2*time.Second), simEvent{kind: evPartition})
		s.at(simUniform(rng, 5*time.Second, 30*time.Second), simEvent{kind: evHeal})
		s.end = simFaultLength + simLivenessBound // moved by the final round
	case scenMinority:
		s.minority = make([]bool, spec.nodes)
		if rng.IntN(4) == 0 {
			for i := range s.net.group {
				s.net.group[i], s.minority[i] = i, true
			}
			if s.tracing {
				s.tracef("partition: all isolated")
			}
		} else {
			for _, i := range rng.Perm(spec.nodes)[:1+rng.IntN(s.needed-1)] {
				s.net.group[i], s.minority[i] = 1, true
			}
			if s.tracing {
				s.tracef("partition: minority %v", s.net.group)
			}
		}
	}
	return s
}

// runSim runs one seed to the end and returns it for inspection.
func runSim(spec simSpec, seed uint64, tracing bool) *sim {
	s := newSim(spec, seed, tracing)
	s.run()
	return s
}

func (s *sim) run() {
	for s.queue.len() > 0 {
		ev := s.queue.pop()
		if ev.at > s.end {
			break
		}
		if s.events++; s.events > simMaxEvents {
			s.violate(vStuck, "more than %d events", simMaxEvents)
			return
		}
		s.now = ev.at
		s.handle(ev)
		if s.finalRound > 0 && s.wonRound(s.finalRound) {
			break // liveness shown; safety was checked all along
		}
	}
	s.finish()
}

// finish checks what can only be judged at the end of a run.
func (s *sim) finish() {
	switch s.spec.scenario {
	case scenHeal:
		if s.finalRound == 0 || !s.wonRound(s.finalRound) {
			s.violate(vNoLeader, "no leader in the final round (started at %v, bound %v) with stable set %v",
				simDur(s.finalAt), simLivenessBound, s.stableNames())
		}
	case scenMinority:
		for _, w := range s.wins {
			if s.minority[w.node] && s.net.groupSize(w.node) < s.needed {
				s.violate(vMinorityLeader, "n%d won epoch %d cut off in a group of %d", w.node, w.epoch, s.net.groupSize(w.node))
			}
		}
	}
}

func (s *sim) wonRound(round int) bool {
	return slices.ContainsFunc(s.wins, func(w simWin) bool { return w.round == round })
}

func (s *sim) stableNames() []string {
	var out []string
	for i, ok := range s.stable {
		if ok {
			out = append(out, s.nodes[i].name)
		}
	}
	return out
}

func (s *sim) at(at time.Duration, ev simEvent) {
	ev.at = at
	s.queue.push(ev)
}

func (s *sim) after(d time.Duration, ev simEvent) { s.at(s.now+d, ev) }

func (s *sim) handle(ev simEvent) {
	n := s.nodes[ev.node]
	live := n.alive && ev.inc == n.inc
	switch ev.kind {
	case evDeliver:
		s.deliver(ev.msg)
	case evRound:
		if ev.inc == s.roundChain {
			s.startRound()
		}
	case evOdown:
		if live && ev.round > n.round {
			n.round, n.done = ev.round, false
			if s.tracing {
				s.tracef("n%d o_down round %d", n.id, ev.round)
			}
			s.after(simUniform(s.rng, 0, simMaxDesync), simEvent{kind: evTryStart, node: n.id, inc: n.inc})
		}
	case evTryStart:
		if live {
			s.tryStart(n)
		}
	case evElectionTimeout:
		if live && n.att != nil && n.att.epoch == ev.epoch {
			s.electionTimeout(n)
		}
	case evCrash:
		if live && !s.net.healed {
			s.crash(n, true)
		}
	case evRestart:
		if !n.alive && ev.inc == n.inc && (!s.net.healed || s.stable[n.id]) {
			s.restart(n)
		}
	case evPartition:
		if !s.net.healed {
			shape := s.net.repartition(s.needed)
			if s.tracing {
				s.tracef("partition: %s %v", shape, s.net.group)
			}
			s.net.groupSince = s.now
			s.after(simUniform(s.rng, 200*time.Millisecond, 4*time.Second), simEvent{kind: evPartition})
		}
	case evHeal:
		s.heal()
	}
}

// startRound makes the master fail: every live node sees o_down a little
// apart. Until the heal the master keeps failing every few seconds.
func (s *sim) startRound() {
	s.round++
	if s.tracing {
		s.tracef("round %d: master down", s.round)
	}
	for _, n := range s.nodes {
		if n.alive {
			s.after(simUniform(s.rng, 0, simOdownSpread), simEvent{kind: evOdown, node: n.id, inc: n.inc, round: s.round})
		}
	}
	if s.net.healed {
		s.finalRound, s.finalAt, s.end = s.round, s.now, s.now+simLivenessBound
		return
	}
	s.after(simUniform(s.rng, 3*time.Second, 12*time.Second), simEvent{kind: evRound, inc: s.roundChain})
}

// heal stops the faults: a random set of at least needed nodes is
// restarted if down and connected reliably; every other node is crashed or
// isolated for good. Then the master fails once more.
func (s *sim) heal() {
	s.net.healed, s.pCrashMid = true, 0
	s.roundChain++
	s.stable = make([]bool, len(s.nodes))
	k := s.needed + s.rng.IntN(len(s.nodes)-s.needed+1)
	for _, i := range s.rng.Perm(len(s.nodes))[:k] {
		s.stable[i] = true
	}
	for i, n := range s.nodes {
		switch {
		case s.stable[i]:
			s.net.group[i] = 0
			if !n.alive {
				s.after(simUniform(s.rng, 0, time.Second), simEvent{kind: evRestart, node: i, inc: n.inc})
			}
		case n.alive && s.rng.IntN(2) == 0:
			s.net.group[i] = 1 + i
			s.crash(n, false)
		default:
			s.net.group[i] = 1 + i
		}
	}
	s.net.groupSince = s.now
	if s.tracing {
		s.tracef("heal: stable %v, groups %v", s.stableNames(), s.net.group)
	}
	s.after(simUniform(s.rng, 0, 500*time.Millisecond), simEvent{kind: evRound, inc: s.roundChain})
}

// tryStart starts a candidacy if the node wants one and may.
func (s *sim) tryStart(n *simNode) {
	if n.done || n.round == 0 || n.att != nil {
		return
	}
	if s.now < n.notBefore {
		s.at(n.notBefore, simEvent{kind: evTryStart, node: n.id, inc: n.inc})
		return
	}
	next, epoch := failover.StartCandidacy(n.mem, n.name)
	if epoch == 0 {
		return
	}
	if s.spec.mutation != mutCandidacyNotPersisted {
		s.persist(n, next)
	}
	if s.crashMid(n, "after persisting its candidacy") {
		return
	}
	s.setMem(n, next)
	n.att = &simAttempt{
		epoch: epoch, round: n.round, start: s.now,
		tally: failover.VoteTally{Voters: len(s.nodes), Quorum: s.spec.quorum, Votes: map[string]string{n.name: n.name}},
	}
	if s.tracing {
		s.tracef("n%d starts candidacy epoch %d (round %d)", n.id, epoch, n.round)
	}
	req := failover.VoteRequest{Epoch: epoch, Candidate: n.name}
	for _, p := range s.nodes {
		if p != n {
			s.send(simRequest(n.id, p.id, req))
		}
	}
	s.after(failover.ElectionTimeout(simFailoverTimeout), simEvent{kind: evElectionTimeout, node: n.id, inc: n.inc, epoch: epoch})
	s.checkWin(n)
}

// electionTimeout ends a candidacy that did not win: retry after
// NextAttempt, or after HoldOff if the tally shows a rival won the epoch.
func (s *sim) electionTimeout(n *simNode) {
	a := n.att
	s.checkTally(n, a, false)
	n.att = nil
	next := failover.NextAttempt(s.wall(a.start), simFailoverTimeout, s.jitter())
	if _, rivalWon := a.tally.Leader(); rivalWon {
		next = failover.HoldOff(s.wall(s.now), simFailoverTimeout, s.jitter())
	}
	n.notBefore = max(n.notBefore, s.clock(next))
	if s.tracing {
		s.tracef("n%d election timeout epoch %d, votes %v; next try at %v", n.id, a.epoch, a.tally.Votes, simDur(n.notBefore))
	}
	if s.spec.mutation == mutNoRetry {
		return
	}
	s.at(n.notBefore, simEvent{kind: evTryStart, node: n.id, inc: n.inc})
}

// checkTally checks that VoteTally's views of a final tally agree with
// LeaderAuthorized: Result says won, and Leader names us, exactly when we
// won.
func (s *sim) checkTally(n *simNode, a *simAttempt, won bool) {
	if got := a.tally.Result(n.name) == failover.VoteWon; got != won {
		s.violate(vTally, "n%d epoch %d: Result won=%v but LeaderAuthorized=%v, votes %v", n.id, a.epoch, got, won, a.tally.Votes)
	}
	if leader, ok := a.tally.Leader(); (ok && leader == n.name) != won {
		s.violate(vTally, "n%d epoch %d: Leader()=(%q,%v) but LeaderAuthorized=%v, votes %v", n.id, a.epoch, leader, ok, won, a.tally.Votes)
	}
}

func (s *sim) deliver(m simMsg) {
	n := s.nodes[m.to]
	if !n.alive || !s.net.connected(m.from, m.to) {
		if s.tracing {
			s.tracef("  n%d -> n%d %v lost (down or cut off)", m.from, m.to, m)
		}
		return
	}
	switch m.kind {
	case msgRequest:
		s.handleRequest(n, m)
	case msgReply:
		s.handleReply(n, m)
	case msgAnnounce:
		if m.round == n.round && !n.done {
			n.done = true
			if s.tracing {
				s.tracef("n%d hears n%d won round %d", n.id, m.from, m.round)
			}
		}
	}
}

// handleRequest is the voter's side, in the driver's order: persist the
// next state when changed, then reply. A crash may fall between the two.
func (s *sim) handleRequest(n *simNode, m simMsg) {
	req := m.request(s.names)
	next, reply, changed := n.mem.HandleRequest(req)
	if s.tracing {
		s.tracef("  n%d <- n%d %v: holds %s (changed %v)", n.id, m.from, m, simVoteString(reply), changed)
	}
	newVote := changed && next.VotedEpoch != n.mem.VotedEpoch
	if changed && s.spec.mutation != mutReplyBeforePersist {
		s.persist(n, next)
		if s.crashMid(n, "after persisting, before replying") {
			return
		}
	}
	s.setMem(n, next)
	s.send(simReply(n.id, m.from, reply))
	if changed && s.spec.mutation == mutReplyBeforePersist {
		if s.crashMid(n, "after replying, before persisting") {
			return
		}
		s.persist(n, next)
	}
	if newVote && reply.Granted(req) && req.Candidate != n.name {
		n.notBefore = max(n.notBefore, s.clock(failover.HoldOff(s.wall(s.now), simFailoverTimeout, s.jitter())))
		if s.tracing {
			s.tracef("n%d voted for %s, holds off until %v", n.id, req.Candidate, simDur(n.notBefore))
		}
	}
}

// handleReply is the candidate's side: a reply counts for us only if it
// shows a vote for us in the epoch we are running in; a vote for a rival in
// that epoch is recorded too, so the tally knows it.
func (s *sim) handleReply(n *simNode, m simMsg) {
	a := n.att
	if a == nil {
		return
	}
	voter, reply := s.nodes[m.from].name, m.reply(s.names)
	switch {
	case reply.Granted(failover.VoteRequest{Epoch: a.epoch, Candidate: n.name}),
		s.spec.mutation == mutCountStaleVotes && reply.Leader == n.name:
		a.tally.Votes[voter] = n.name
	case reply.Epoch == a.epoch && reply.Leader != "":
		a.tally.Votes[voter] = reply.Leader
	default:
		return
	}
	if s.tracing {
		s.tracef("  n%d <- n%d %v: counted in epoch %d, votes %v", n.id, m.from, m, a.epoch, a.tally.Votes)
	}
	if held := s.heldVote(m.from, a.epoch); held != a.tally.Votes[voter] {
		s.violate(vPhantomVote, "n%d counts %s's reply %s as a vote for %s in epoch %d, but %s holds %q for that epoch",
			n.id, voter, simVoteString(reply), a.tally.Votes[voter], a.epoch, voter, held)
	}
	s.checkWin(n)
}

// checkWin declares n leader of its epoch once LeaderAuthorized.
func (s *sim) checkWin(n *simNode) {
	a := n.att
	won := failover.LeaderAuthorized(a.tally.Count(n.name), s.spec.quorum, len(s.nodes))
	if s.spec.mutation == mutQuorumOnly {
		won = a.tally.Count(n.name) >= s.spec.quorum
	}
	if !won {
		a.lost = a.lost || a.tally.Result(n.name) == failover.VoteLost
		return
	}
	if s.spec.mutation != mutQuorumOnly {
		s.checkTally(n, a, true)
	}
	if a.lost {
		s.violate(vTally, "n%d won epoch %d after its tally said lost, votes %v", n.id, a.epoch, a.tally.Votes)
	}
	if s.tracing {
		s.tracef("n%d WINS epoch %d (round %d) with %v", n.id, a.epoch, a.round, a.tally.Votes)
	}
	s.leaders = simGrow(s.leaders, a.epoch)
	if prev := s.leaders[a.epoch] - 1; prev >= 0 && prev != n.id {
		s.violate(vTwoLeaders, "two leaders in epoch %d: n%d and n%d", a.epoch, prev, n.id)
	}
	s.leaders[a.epoch] = 1 + n.id
	for voter, c := range a.tally.Votes {
		if held := s.heldVote(simID(voter), a.epoch); c == n.name && held != n.name {
			s.violate(vPhantomVote, "n%d won epoch %d counting a vote of %s it never cast (it holds %q)", n.id, a.epoch, voter, held)
		}
	}
	// Every vote for an epoch is asked for when the candidacy starts, so if
	// the partition has not changed since, all of them came from n's group.
	if s.net.groupSince <= a.start && s.net.groupSize(n.id) < s.needed {
		s.violate(vMinorityLeader, "n%d won epoch %d in a group of %d (needs %d), partition %v", n.id, a.epoch, s.net.groupSize(n.id), s.needed, s.net.group)
	}
	s.wins = append(s.wins, simWin{at: s.now, node: n.id, epoch: a.epoch, round: a.round})
	n.att = nil
	for _, p := range s.nodes {
		if p != n {
			s.send(simMsg{kind: msgAnnounce, from: n.id, to: p.id, who: -1, round: a.round})
		}
	}
	if a.round == n.round {
		n.done = true
		return
	}
	// Won an older round while the master failed again: that failover
	// may still be promoting, so hold off.
	n.notBefore = max(n.notBefore, s.clock(failover.HoldOff(s.wall(s.now), simFailoverTimeout, s.jitter())))
	s.at(n.notBefore, simEvent{kind: evTryStart, node: n.id, inc: n.inc})
}

func (s *sim) send(m simMsg) {
	s.delays = s.net.delays(s.delays)
	if len(s.delays) == 0 {
		if s.tracing {
			s.tracef("  n%d -> n%d %v dropped", m.from, m.to, m)
		}
	}
	for _, d := range s.delays {
		s.after(d, simEvent{kind: evDeliver, node: m.to, msg: m})
	}
}

func (s *sim) persist(n *simNode, st failover.VoteState) {
	n.disk = st
	s.observe(n, st, false)
}

func (s *sim) setMem(n *simNode, st failover.VoteState) {
	n.mem = st
	s.observe(n, st, true)
}

// observe checks a state a node holds (in memory, or on disk when
// monotonic is false) against everything it held before, restarts
// included: one candidate per epoch, and epochs never going back.
func (s *sim) observe(n *simNode, st failover.VoteState, monotonic bool) {
	if monotonic {
		if st.CurrentEpoch < s.maxCur[n.id] {
			s.violate(vEpochBack, "n%d current epoch went back from %d to %d", n.id, s.maxCur[n.id], st.CurrentEpoch)
		}
		if st.VotedEpoch < s.maxVoted[n.id] {
			s.violate(vEpochBack, "n%d voted epoch went back from %d to %d", n.id, s.maxVoted[n.id], st.VotedEpoch)
		}
		s.maxCur[n.id] = max(s.maxCur[n.id], st.CurrentEpoch)
		s.maxVoted[n.id] = max(s.maxVoted[n.id], st.VotedEpoch)
	}
	if st.VotedEpoch > st.CurrentEpoch {
		s.violate(vEpochBack, "n%d voted in epoch %d beyond its current epoch %d", n.id, st.VotedEpoch, st.CurrentEpoch)
	}
	if st.VotedEpoch == 0 {
		return
	}
	if prev := s.heldVote(n.id, st.VotedEpoch); prev != "" && prev != st.VotedFor {
		s.violate(vDoubleVote, "n%d voted for %s and %s in epoch %d", n.id, prev, st.VotedFor, st.VotedEpoch)
		return
	}
	s.votes[n.id] = simGrow(s.votes[n.id], st.VotedEpoch)
	s.votes[n.id][st.VotedEpoch] = 1 + simID(st.VotedFor)
}

// heldVote is the candidate node ever voted for in epoch, "" if none.
func (s *sim) heldVote(node int, epoch uint64) string {
	if node < 0 || epoch >= uint64(len(s.votes[node])) {
		return ""
	}
	return simName(s.names, s.votes[node][epoch]-1)
}

// simGrow extends v so that v[i] exists.
func simGrow(v []int, i uint64) []int {
	for uint64(len(v)) <= i {
		v = append(v, 0)
	}
	return v
}

// crashMid crashes n with probability pCrashMid, between a persist and
// what should follow it.
func (s *sim) crashMid(n *simNode, where string) bool {
	if s.rng.Float64() >= s.pCrashMid {
		return false
	}
	if s.tracing {
		s.tracef("n%d crashes %s", n.id, where)
	}
	s.crash(n, true)
	return true
}

// crash loses everything n had in memory; with restart it comes back later.
func (s *sim) crash(n *simNode, restart bool) {
	n.alive = false
	n.inc++
	n.mem, n.att, n.round, n.done, n.notBefore = failover.VoteState{}, nil, 0, false, 0
	if s.tracing {
		s.tracef("n%d CRASH (disk %+v)", n.id, n.disk)
	}
	if restart {
		s.after(simUniform(s.rng, 50*time.Millisecond, 3*time.Second), simEvent{kind: evRestart, node: n.id, inc: n.inc})
	}
}

// restart reloads n from its disk. It sees the current round's failure
// after a short settling delay.
func (s *sim) restart(n *simNode) {
	n.alive = true
	if s.tracing {
		s.tracef("n%d RESTART from disk %+v", n.id, n.disk)
	}
	s.setMem(n, n.disk)
	if s.round > 0 {
		s.after(simUniform(s.rng, 200*time.Millisecond, time.Second), simEvent{kind: evOdown, node: n.id, inc: n.inc, round: s.round})
	}
	if !s.net.healed {
		s.after(simUniform(s.rng, time.Second, 15*time.Second), simEvent{kind: evCrash, node: n.id, inc: n.inc})
	}
}

func (s *sim) jitter() time.Duration { return simUniform(s.rng, 0, simJitter) }

// wall and clock convert between simulated durations and the times the
// failover functions take.
func (s *sim) wall(d time.Duration) time.Time  { return t0.Add(d) }
func (s *sim) clock(t time.Time) time.Duration { return t.Sub(t0) }

func (s *sim) violate(kind simViolationKind, format string, args ...any) {
	v := simViolation{kind: kind, at: s.now, what: fmt.Sprintf(format, args...)}
	s.violations = append(s.violations, v)
	if s.tracing {
		s.tracef("VIOLATION %s", v.what)
	}
}

// tracef records a trace line. Only a failing seed is re-run with tracing
// on, so callers check s.tracing first to spare the formatting.
func (s *sim) tracef(format string, args ...any) {
	s.trace = append(s.trace, simDur(s.now)+" "+fmt.Sprintf(format, args...))
}

func simDur(d time.Duration) string { return fmt.Sprintf("%8.3fs", d.Seconds()) }

// simReport describes a run: seed, faults, violations, the command that
// replays it and the last tail lines of its trace (all when tail is 0). The
// trace comes from a re-run with tracing on, which must end the same way.
func simReport(spec simSpec, seed uint64, tail int) string {
	s := runSim(spec, seed, true)
	var b strings.Builder
	fmt.Fprintf(&b, "seed %d (%v, drop %.2f, dup %.2f): %d violation(s):\n", seed, spec, s.net.pDrop, s.net.pDup, len(s.violations))
	for _, v := range s.violations[:min(len(s.violations), 5)] {
		fmt.Fprintf(&b, "  %v\n", v)
	}
	if plain := runSim(spec, seed, false); !simSameRun(s, plain) {
		b.WriteString("WARNING: the traced re-run differs from the plain run; the simulation is not deterministic\n")
	}
	fmt.Fprintf(&b, "replay: VIGIL_SIM_SEED=%d go test -run '^TestElectionSim$/^N%dq%d$/^%v$' -v ./failover/\n", seed, spec.nodes, spec.quorum, spec.scenario)
	lines := s.trace
	if tail > 0 && len(lines) > tail {
		fmt.Fprintf(&b, "trace (last %d of %d lines):\n", tail, len(lines))
		lines = lines[len(lines)-tail:]
	}
	for _, l := range lines {
		b.WriteString(l + "\n")
	}
	return b.String()
}

// simSameRun reports whether two runs of one seed ended the same way.
func simSameRun(a, b *sim) bool {
	return a.events == b.events && a.now == b.now &&
		slices.Equal(a.wins, b.wins) && slices.Equal(a.violations, b.violations) &&
		slices.Equal(a.maxCur, b.maxCur) && slices.Equal(a.leaders, b.leaders)
}

// TestElectionSim runs scenario.seeds() seeds of every scenario for each
// node count and quorum, and checks each run: at most one leader per epoch, no node
// votes twice in an epoch or moves an epoch back (restarts included), every
// counted vote was cast, no group smaller than max(quorum, majority) elects,
// and after the faults stop a stable majority elects within the bound.
func TestElectionSim(t *testing.T) {
	configs := []struct{ nodes, quorum int }{{3, 2}, {3, 3}, {5, 2}, {5, 3}, {5, 4}}
	replay, replaying := os.LookupEnv("VIGIL_SIM_SEED")
	for _, c := range configs {
		t.Run(fmt.Sprintf("N%dq%d", c.nodes, c.quorum), func(t *testing.T) {
			t.Parallel()
			for _, sc := range []simScenario{scenChaos, scenHeal, scenMinority} {
				t.Run(sc.String(), func(t *testing.T) {
					spec := simSpec{nodes: c.nodes, quorum: c.quorum, scenario: sc, mutation: mutNone}
					if replaying {
						seed, err := strconv.ParseUint(replay, 10, 64)
						if err != nil {
							t.Fatalf("VIGIL_SIM_SEED=%q: %v", replay, err)
						}
						t.Log(simReport(spec, seed, 0))
						if s := runSim(spec, seed, false); len(s.violations) > 0 {
							t.Fail()
						}
						return
					}
					var st simStats
					failed := 0
					seeds := sc.seeds()
					if testing.Short() {
						seeds /= 10
					}
					for seed := range seeds {
						s := runSim(spec, seed, false)
						st.add(s)
						if len(s.violations) > 0 {
							if failed++; failed <= 2 {
								t.Error(simReport(spec, seed, 80))
							}
						}
					}
					if failed > 0 {
						t.Errorf("%d of %d seeds failed", failed, seeds)
					}
					t.Logf("%v: %d seeds: %v", spec, seeds, &st)
				})
			}
		})
	}
}

// simStats summarises a batch of runs for -v.
type simStats struct {
	runs, events, leaders, runsWithLeader int
	maxEpoch                              uint64
	maxTimeToLeader                       time.Duration
}

func (st *simStats) add(s *sim) {
	st.runs++
	st.events += s.events
	st.leaders += len(s.wins)
	if len(s.wins) > 0 {
		st.runsWithLeader++
	}
	for _, m := range s.maxCur {
		st.maxEpoch = max(st.maxEpoch, m)
	}
	for _, w := range s.wins {
		if s.finalRound > 0 && w.round == s.finalRound {
			st.maxTimeToLeader = max(st.maxTimeToLeader, w.at-s.finalAt)
		}
	}
}

func (st *simStats) String() string {
	s := fmt.Sprintf("%d events, %d leaders, %d/%d runs with a leader, max epoch %d",
		st.events, st.leaders, st.runsWithLeader, st.runs, st.maxEpoch)
	if st.maxTimeToLeader > 0 {
		s += fmt.Sprintf(", slowest election after heal %v", st.maxTimeToLeader)
	}
	return s
}

// TestElectionSimCatchesBrokenDrivers proves the checks have teeth: a driver
// with a known bug must be caught, with the right complaint, within the
// seed budget.
func TestElectionSimCatchesBrokenDrivers(t *testing.T) {
	tests := []struct {
		name string
		spec simSpec
		want simViolationKind
	}{
		{"vote sent before it is persisted", simSpec{nodes: 3, quorum: 2, mutation: mutReplyBeforePersist}, vDoubleVote},
		{"candidacy not persisted", simSpec{nodes: 3, quorum: 2, mutation: mutCandidacyNotPersisted}, vEpochBack},
		{"stale votes counted", simSpec{nodes: 3, quorum: 2, mutation: mutCountStaleVotes}, vTwoLeaders},
		{"majority not required", simSpec{nodes: 5, quorum: 2, scenario: scenMinority, mutation: mutQuorumOnly}, vMinorityLeader},
		{"no retry after a lost election", simSpec{nodes: 5, quorum: 3, scenario: scenHeal, mutation: mutNoRetry}, vNoLeader},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			spec := tc.spec
			const budget = 1000
			for seed := range uint64(budget) {
				for _, v := range runSim(spec, seed, false).violations {
					if v.kind == tc.want {
						t.Logf("caught by seed %d (%v): %v", seed, spec, v)
						return
					}
				}
			}
			t.Errorf("no seed out of %d caught the bug", budget)
		})
	}
}

// TestElectionSimDeterministic checks that a seed replays exactly, with or
// without tracing (tracing must not draw from the random source).
func TestElectionSimDeterministic(t *testing.T) {
	for _, sc := range []simScenario{scenChaos, scenHeal, scenMinority} {
		spec := simSpec{nodes: 5, quorum: 3, scenario: sc}
		for seed := range uint64(5) {
			a, b := runSim(spec, seed, false), runSim(spec, seed, true)
			if !simSameRun(a, b) || len(b.trace) == 0 {
				t.Fatalf("%v seed %d: runs differ: %d vs %d events, wins %v vs %v", spec, seed, a.events, b.events, a.wins, b.wins)
			}
		}
	}
}

// TestVoteSurvivesCrashBetweenPersistAndReply is the crash the simulation
// injects, spelled out: a voter persists its vote for a, crashes before
// replying, restarts from disk and is then asked by b in the same epoch.
func TestVoteSurvivesCrashBetweenPersistAndReply(t *testing.T) {
	mem := failover.VoteState{CurrentEpoch: 4}
	reqA := failover.VoteRequest{Epoch: 5, Candidate: "a"}
	disk, _, changed := mem.HandleRequest(reqA)
	if !changed {
		t.Fatal("fresh epoch: want a change to persist")
	}
	// disk holds the vote; the process dies before replying to a, and
	// restarts from disk.
	mem = disk

	reqB := failover.VoteRequest{Epoch: 5, Candidate: "b"}
	_, reply, changed := mem.HandleRequest(reqB)
	if changed || reply.Granted(reqB) || reply != (failover.VoteReply{Leader: "a", Epoch: 5}) {
		t.Errorf("after restart b got (%+v, changed=%v), want a's vote a@5 unchanged", reply, changed)
	}
	// a asking again (its request retried) gets the vote it was owed.
	if _, reply, _ := mem.HandleRequest(reqA); !reply.Granted(reqA) {
		t.Errorf("a's retried request: %+v, want granted", reply)
	}
}
