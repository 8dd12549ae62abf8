package failover_test

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-ha/vigil/failover"
)

// This file is the plumbing of the election simulation (election_sim_test.go):
// a simulated clock with an event queue, and a fake network that drops,
// delays, duplicates and partitions messages. All randomness comes from one
// seeded math/rand/v2 source, so a seed replays the same run exactly.

// simEventKind says what a queued event does when its time comes.
type simEventKind uint8

const (
	evDeliver         simEventKind = iota // a message reaches msg.to
	evRound                               // the master fails (again): a new failover round
	evOdown                               // node sees the master objectively down for round
	evTryStart                            // node may start a candidacy
	evElectionTimeout                     // node's candidacy in epoch times out
	evCrash                               // node crashes
	evRestart                             // node restarts from its disk
	evPartition                           // the partition changes
	evHeal                                // faults stop (liveness scenario)
)

// simEvent is one entry of the event queue. inc ties timers to the
// incarnation of the node (or to the chain of round events) that scheduled
// them, so that a crash or a heal cancels them. Events hold no pointers.
type simEvent struct {
	at    time.Duration
	epoch uint64
	node  int
	inc   int
	round int
	kind  simEventKind
	msg   simMsg
}

// simQueue is the event queue: a binary min-heap ordered by (at, seq), so
// events at the same instant run in the order they were scheduled. The heap
// holds small keys into a slab of events whose slots are reused.
type simQueue struct {
	heap []simQueued
	slab []simEvent
	free []int32
	seq  uint64
}

type simQueued struct {
	at, seq uint64
	slot    int32
}

func (q *simQueue) len() int { return len(q.heap) }

func (q *simQueue) less(i, j int) bool {
	a, b := &q.heap[i], &q.heap[j]
	return a.at < b.at || a.at == b.at && a.seq < b.seq
}

func (q *simQueue) push(e simEvent) {
	var slot int32
	if n := len(q.free); n > 0 {
		slot, q.free = q.free[n-1], q.free[:n-1]
		q.slab[slot] = e
	} else {
		slot = int32(len(q.slab))
		q.slab = append(q.slab, e)
	}
	q.heap = append(q.heap, simQueued{at: uint64(e.at), seq: q.seq, slot: slot})
	q.seq++
	h := q.heap
	for i := len(h) - 1; i > 0; {
		p := (i - 1) / 2
		if !q.less(i, p) {
			break
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
}

// pop removes and returns the earliest event; the queue must not be empty.
func (q *simQueue) pop() simEvent {
	h := q.heap
	top := h[0]
	last := len(h) - 1
	h[0] = h[last]
	h = h[:last]
	q.heap = h
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(h) && q.less(l, m) {
			m = l
		}
		if r < len(h) && q.less(r, m) {
			m = r
		}
		if m == i {
			break
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
	q.free = append(q.free, top.slot)
	return q.slab[top.slot]
}

// simMsgKind is the type of a message between nodes.
type simMsgKind uint8

const (
	msgRequest  simMsgKind = iota // a VoteRequest
	msgReply                      // the VoteReply to a request
	msgAnnounce                   // "I won round": Sentinel's new-config broadcast
)

// simMsg is a message on the wire. Node names travel as node indexes, so
// that events hold no pointers and stay cheap for the garbage collector.
type simMsg struct {
	kind     simMsgKind
	from, to int
	epoch    uint64 // request: VoteRequest.Epoch; reply: VoteReply.Epoch
	who      int    // request: the Candidate; reply: the Leader; -1 for ""
	round    int    // announce: the round won
}

// simName is node i's name among names; -1 is the empty name.
func simName(names []string, i int) string {
	if i < 0 || i >= len(names) {
		return ""
	}
	return names[i]
}

// simID is the index of the node named name, -1 for "".
func simID(name string) int {
	if name == "" {
		return -1
	}
	i, err := strconv.Atoi(strings.TrimPrefix(name, "n"))
	if err != nil {
		return -1
	}
	return i
}

func simRequest(from, to int, req failover.VoteRequest) simMsg {
	return simMsg{kind: msgRequest, from: from, to: to, epoch: req.Epoch, who: simID(req.Candidate)}
}

func simReply(from, to int, r failover.VoteReply) simMsg {
	return simMsg{kind: msgReply, from: from, to: to, epoch: r.Epoch, who: simID(r.Leader)}
}

func (m simMsg) request(names []string) failover.VoteRequest {
	return failover.VoteRequest{Epoch: m.epoch, Candidate: simName(names, m.who)}
}

func (m simMsg) reply(names []string) failover.VoteReply {
	return failover.VoteReply{Leader: simName(names, m.who), Epoch: m.epoch}
}

// String renders m for traces, with node names n0, n1...
func (m simMsg) String() string {
	who := "*"
	if m.who >= 0 {
		who = fmt.Sprintf("n%d", m.who)
	}
	switch m.kind {
	case msgRequest:
		return fmt.Sprintf("req %s@%d", who, m.epoch)
	case msgReply:
		if m.who < 0 {
			return "reply *"
		}
		return fmt.Sprintf("reply %s@%d", who, m.epoch)
	}
	return fmt.Sprintf("announce round %d", m.round)
}

// simVoteString renders a reply as leader@epoch, "*" when the voter never voted.
func simVoteString(r failover.VoteReply) string {
	if r.Leader == "" {
		return "*"
	}
	return fmt.Sprintf("%s@%d", r.Leader, r.Epoch)
}

// simNet is the fake network: its fault probabilities are drawn per run
// and become zero when the faults stop (healed).
type simNet struct {
	rng        *rand.Rand
	group      []int         // nodes in the same group can talk
	groupSince time.Duration // when group last changed
	healed     bool
	pDrop      float64 // a sent message is lost
	pDup       float64 // a sent message is delivered twice
	pLong      float64 // a message is delayed by seconds, arriving after newer ones
}

// connected reports whether a message from a can reach b right now. The
// partition is checked on delivery, so a message in flight when a partition
// starts is lost, and one in flight when it ends gets through.
func (n *simNet) connected(a, b int) bool { return n.group[a] == n.group[b] }

// delays returns the delivery delays of one sent message: none when it is
// dropped, two when it is duplicated.
func (n *simNet) delays(buf []time.Duration) []time.Duration {
	buf = buf[:0]
	if n.healed {
		return append(buf, n.delay())
	}
	if n.rng.Float64() < n.pDrop {
		return buf
	}
	buf = append(buf, n.delay())
	if n.rng.Float64() < n.pDup {
		buf = append(buf, n.delay())
	}
	return buf
}

func (n *simNet) delay() time.Duration {
	if !n.healed && n.rng.Float64() < n.pLong {
		return simUniform(n.rng, 500*time.Millisecond, 4*time.Second)
	}
	return simUniform(n.rng, time.Millisecond, 50*time.Millisecond)
}

// groupSize is the number of nodes, dead or alive, in node's group.
func (n *simNet) groupSize(node int) int {
	size := 0
	for _, g := range n.group {
		if g == n.group[node] {
			size++
		}
	}
	return size
}

// repartition draws a new partition of nodes among the shapes that matter:
// everyone connected, a minority cut off from the rest (a group too small to
// elect next to one that may), random groups, full isolation, and one node
// isolated.
func (n *simNet) repartition(needed int) string {
	nodes := len(n.group)
	switch n.rng.IntN(5) {
	case 0:
		clear(n.group)
		return "healed"
	case 1:
		clear(n.group)
		k := 1 + n.rng.IntN(needed-1)
		for _, i := range n.rng.Perm(nodes)[:k] {
			n.group[i] = 1
		}
		return "minority"
	case 2:
		for i := range n.group {
			n.group[i] = n.rng.IntN(3)
		}
		return "random groups"
	case 3:
		for i := range n.group {
			n.group[i] = i
		}
		return "all isolated"
	}
	clear(n.group)
	i := n.rng.IntN(nodes)
	n.group[i] = 1
	return "one isolated"
}

// simUniform draws a duration uniformly from [lo, hi).
func simUniform(rng *rand.Rand, lo, hi time.Duration) time.Duration {
	return lo + time.Duration(rng.Int64N(int64(hi-lo)))
}
