package cluster

import (
	"errors"
	"log/slog"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
)

// delegate receives memberlist's callbacks. They run on memberlist's
// goroutines, the Events ones while memberlist holds its node lock, so they
// only update the member table and queue work for the inbox; none of them
// calls the Handler except LocalState, nor any memberlist method.
type delegate struct {
	c       *Cluster
	meta    []byte
	drops   *dropLog
	dropped atomic.Uint64 // messages refused, for tests
}

var (
	_ memberlist.Delegate         = (*delegate)(nil)
	_ memberlist.EventDelegate    = (*delegate)(nil)
	_ memberlist.ConflictDelegate = (*delegate)(nil)
)

// Reasons a received message is refused.
var (
	errFromSelf      = errors.New("claims to come from this node")
	errUnknownSender = errors.New("sender is not a known member")
	errRESPMismatch  = errors.New("resp_addr differs from the sender's node meta")
	errNotState      = errors.New("push/pull carried a direct message")
)

// NodeMeta implements memberlist.Delegate: the RESP address, as JSON.
func (d *delegate) NodeMeta(limit int) []byte {
	if len(d.meta) > limit {
		return nil // cannot happen: RESPAddr is validated and short
	}
	return d.meta
}

// NotifyMsg implements memberlist.Delegate: a broadcast state or a direct
// message arrived. memberlist may reuse b after the call.
func (d *delegate) NotifyMsg(b []byte) {
	d.receive(b, false)
}

// GetBroadcasts implements memberlist.Delegate.
func (d *delegate) GetBroadcasts(overhead, limit int) [][]byte {
	return d.c.queue.GetBroadcasts(overhead, limit)
}

// LocalState implements memberlist.Delegate: our state for a push/pull.
func (d *delegate) LocalState(join bool) []byte {
	b, err := d.c.encodeLocal()
	if err != nil {
		d.drops.log(slog.LevelError, "cannot encode local state", err)
		return nil
	}
	return b
}

// MergeRemoteState implements memberlist.Delegate: a peer's state from a
// push/pull.
func (d *delegate) MergeRemoteState(b []byte, join bool) {
	if len(b) == 0 {
		return
	}
	d.receive(b, true)
}

// receive decodes and checks one message and queues it for the Handler.
func (d *delegate) receive(b []byte, pushPull bool) {
	v, err := decode(b)
	if err != nil {
		d.drop("undecodable", err)
		return
	}
	switch v := v.(type) {
	case NodeState:
		from, err := d.sender(v.From)
		if err == nil && from.RESPAddr != "" && v.RESPAddr != from.RESPAddr {
			err = errRESPMismatch
		}
		if err != nil {
			d.drop("state refused", err, "from", v.From)
			return
		}
		if !d.c.members.newer(v) {
			return // a reordered or repeated copy of an older state
		}
		d.c.inbox.putState(from, v)
	case Message:
		from, err := d.sender(v.from())
		if err == nil && pushPull {
			err = errNotState
		}
		if err != nil {
			d.drop("message refused", err, "from", v.from(), "kind", v.Kind())
			return
		}
		d.c.inbox.putMessage(from, v)
	}
}

// sender returns the member a received message claims to come from.
func (d *delegate) sender(id string) (Member, error) {
	if id == d.c.cfg.NodeID {
		return Member{}, errFromSelf
	}
	p, ok := d.c.members.get(id)
	if !ok {
		return Member{}, errUnknownSender
	}
	return p.Member, nil
}

// drop counts and logs a refused message. An unknown sender is usually a
// peer that gossips to this node before memberlist has told it about that
// peer (after a restart, say), so it is logged at Debug; the rest at Warn.
func (d *delegate) drop(msg string, err error, args ...any) {
	d.dropped.Add(1)
	level := slog.LevelWarn
	if errors.Is(err, errUnknownSender) {
		level = slog.LevelDebug
	}
	d.drops.log(level, msg, err, args...)
}

// NotifyJoin implements memberlist.EventDelegate.
func (d *delegate) NotifyJoin(n *memberlist.Node) {
	if n.Name == d.c.cfg.NodeID {
		return
	}
	m := d.member(n)
	d.c.members.up(m, n)
	d.c.inbox.putMembership(m, true)
}

// NotifyUpdate implements memberlist.EventDelegate: a live node's meta or
// address changed.
func (d *delegate) NotifyUpdate(n *memberlist.Node) {
	if n.Name == d.c.cfg.NodeID {
		return
	}
	m := d.member(n)
	if d.c.members.up(m, n) {
		d.c.inbox.putMembership(m, true)
	}
}

// NotifyLeave implements memberlist.EventDelegate: a node failed or left.
func (d *delegate) NotifyLeave(n *memberlist.Node) {
	if n.Name == d.c.cfg.NodeID {
		return
	}
	m := d.member(n)
	m.Alive = false
	d.c.members.down(m, n.State == memberlist.StateLeft, time.Now())
	d.c.inbox.putMembership(m, false)
}

// NotifyConflict implements memberlist.ConflictDelegate: two nodes use the
// same id, which is a configuration error.
func (d *delegate) NotifyConflict(existing, other *memberlist.Node) {
	d.drops.log(slog.LevelError, "two nodes claim the same node id", nil,
		"id", existing.Name, "addr", existing.Address(), "other_addr", other.Address())
}

// member converts a memberlist node.
func (d *delegate) member(n *memberlist.Node) Member {
	resp, err := decodeMeta(n.Meta)
	if err != nil {
		d.drops.log(slog.LevelWarn, "unreadable node meta", err, "id", n.Name)
	}
	return Member{
		ID:         n.Name,
		RESPAddr:   resp,
		GossipAddr: net.JoinHostPort(n.Addr.String(), strconv.Itoa(int(n.Port))),
		Alive:      true,
	}
}

// peer is a member table entry.
type peer struct {
	Member
	node  memberlist.Node // for SendReliable: Name, Addr, Port
	left  bool            // departed gracefully; not reconnected to
	since time.Time       // when it stopped being alive
	boot  uint64          // Boot and Seq of the newest state received
	seq   uint64
}

// memberTable is this node's own record of the other members, kept from
// memberlist's events so that it can be read without memberlist's lock.
type memberTable struct {
	mu    sync.Mutex
	peers map[string]*peer
}

func newMemberTable() *memberTable {
	return &memberTable{peers: map[string]*peer{}}
}

// up records m as alive and reports whether that is news: it was unknown or
// down, or its addresses changed.
func (t *memberTable) up(m Member, n *memberlist.Node) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	p, ok := t.peers[m.ID]
	if !ok {
		p = &peer{}
		t.peers[m.ID] = p
	}
	news := !ok || p.Member != m
	p.Member, p.left = m, false
	p.node = memberlist.Node{Name: n.Name, Addr: slices.Clone(n.Addr), Port: n.Port}
	return news
}

// newer records st's Boot and Seq and reports whether st is newer than the
// last state received from its sender. A new Boot (the sender restarted)
// always counts as newer.
func (t *memberTable) newer(st NodeState) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	p, ok := t.peers[st.From]
	if !ok {
		return false
	}
	if st.Boot == p.boot && st.Seq <= p.seq {
		return false
	}
	p.boot, p.seq = st.Boot, st.Seq
	return true
}

// down records m as failed, or departed if left.
func (t *memberTable) down(m Member, left bool, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p, ok := t.peers[m.ID]
	if !ok {
		p = &peer{}
		t.peers[m.ID] = p
	}
	p.Member, p.left, p.since = m, left, now
}

func (t *memberTable) get(id string) (peer, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p, ok := t.peers[id]
	if !ok {
		return peer{}, false
	}
	return *p, true
}

func (t *memberTable) aliveCount() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, p := range t.peers {
		if p.Alive {
			n++
		}
	}
	return n
}

// snapshot returns the entries that are alive or went down less than
// retention before now, sorted by id, and forgets the others.
func (t *memberTable) snapshot(now time.Time, retention time.Duration) []peer {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]peer, 0, len(t.peers))
	for id, p := range t.peers {
		if !p.Alive && now.Sub(p.since) >= retention {
			delete(t.peers, id)
			continue
		}
		out = append(out, *p)
	}
	slices.SortFunc(out, func(a, b peer) int { return strings.Compare(a.ID, b.ID) })
	return out
}

func (t *memberTable) list(now time.Time, retention time.Duration) []Member {
	ps := t.snapshot(now, retention)
	out := make([]Member, len(ps))
	for i, p := range ps {
		out[i] = p.Member
	}
	return out
}

func (t *memberTable) alive() []peer {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []peer
	for _, p := range t.peers {
		if p.Alive {
			out = append(out, *p)
		}
	}
	return out
}

// randomFailed picks one member that failed (not left) within retention.
func (t *memberTable) randomFailed(now time.Time, retention time.Duration) (peer, bool) {
	var failed []peer
	for _, p := range t.snapshot(now, retention) {
		if !p.Alive && !p.left {
			failed = append(failed, p)
		}
	}
	if len(failed) == 0 {
		return peer{}, false
	}
	return failed[rand.IntN(len(failed))], true
}
