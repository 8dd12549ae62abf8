package cluster

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
)

const (
	leaveTimeout     = time.Second
	joinRetryMin     = 100 * time.Millisecond
	udpHeadroom      = 100 // bytes of a UDP packet left to memberlist's own messages and encryption
	broadcastNameFmt = "state/%s"
)

// Errors returned by Send and Run.
var (
	ErrUnknownMember = errors.New("cluster: unknown member")
	ErrMemberDown    = errors.New("cluster: member is down")
	ErrClosed        = errors.New("cluster: shut down")
)

// Member is another node of the cluster as this node sees it.
type Member struct {
	ID         string // node id
	RESPAddr   string // Sentinel-protocol host:port from the node's meta; "" if its meta was unreadable
	GossipAddr string // memberlist IP:port
	Alive      bool   // false once it failed or left
}

// Handler is how the vigil node plugs into the cluster. HandleState,
// HandleMessage and MembershipChanged are called from a single goroutine
// owned by Run, one call at a time, never while memberlist holds a lock; a
// slow call delays the ones after it, so hand long work to another
// goroutine. They may call the Cluster's methods (Send blocks up to a TCP
// timeout). LocalState is different: memberlist calls it from its own
// goroutines, concurrently with the others, as soon as New returns, and it
// must not call Broadcast.
type Handler interface {
	// LocalState returns this node's current full state, sent in push/pull
	// and in periodic broadcasts. From, RESPAddr, Boot, Seq and SentAt are
	// filled in by the cluster.
	LocalState() NodeState
	// HandleState is called with a peer's state, from a broadcast or a
	// push/pull. A peer's states are delivered in the order it produced
	// them: one older than a state already received is skipped, and of
	// several waiting only the newest is delivered.
	HandleState(from Member, st NodeState)
	// HandleMessage is called for direct messages (VoteRequest, VoteReply).
	HandleMessage(from Member, m Message)
	// MembershipChanged is called when a node joins (alive), leaves or fails
	// (not alive), and when a live node announces a new address (alive).
	MembershipChanged(m Member, alive bool)
}

// Cluster is this node's membership in the gossip cluster.
type Cluster struct {
	cfg      Config
	log      *slog.Logger
	h        Handler
	ml       *memberlist.Memberlist
	queue    *memberlist.TransmitLimitedQueue
	del      *delegate
	members  *memberTable
	inbox    *inbox
	udpLimit int        // largest encoded state queued for UDP gossip
	boot     uint64     // NodeState.Boot
	encMu    sync.Mutex // orders state encoding: Seq, queueing
	seq      uint64     // NodeState.Seq of the last state encoded

	kick    chan struct{} // wakes the broadcast loop for a large state
	bigMu   sync.Mutex
	big     []byte // large encoded state waiting for the broadcast loop
	stop    chan struct{}
	stopErr error
	joins   atomic.Int64 // seed join attempts, for tests
	once    sync.Once
	running atomic.Bool
}

// New validates cfg and starts memberlist listening on cfg.Bind; it does not
// contact anyone yet. Call Run to join seeds and deliver events, or
// Shutdown if Run is never called.
func New(cfg Config, h Handler) (*Cluster, error) {
	if h == nil {
		return nil, errors.New("cluster: nil handler")
	}
	mc, err := cfg.memberlistConfig()
	if err != nil {
		return nil, err
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With("component", "cluster")
	c := &Cluster{
		cfg:      cfg.withDefaults(),
		log:      logger,
		h:        h,
		members:  newMemberTable(),
		inbox:    newInbox(logger),
		udpLimit: mc.UDPBufferSize - udpHeadroom,
		boot:     rand.Uint64(),
		kick:     make(chan struct{}, 1),
		stop:     make(chan struct{}),
	}
	c.queue = &memberlist.TransmitLimitedQueue{
		NumNodes:       func() int { return c.members.aliveCount() + 1 },
		RetransmitMult: mc.RetransmitMult,
	}
	meta, err := encodeMeta(cfg.RESPAddr)
	if err != nil {
		return nil, err
	}
	c.del = &delegate{c: c, meta: meta, drops: newDropLog(logger, dropLogEvery)}
	mc.Delegate, mc.Events, mc.Conflict = c.del, c.del, c.del
	mc.Logger = log.New(memberlistLogWriter{logger}, "", 0)
	ml, err := memberlist.Create(mc)
	if err != nil {
		return nil, fmt.Errorf("cluster: start memberlist on %s: %w", mc.BindAddr, err)
	}
	c.ml = ml
	return c, nil
}

// Run joins the seeds in the background (retrying with backoff until one
// answers; it never blocks start-up), broadcasts Handler.LocalState every
// BroadcastInterval, tries to rejoin failed members, and delivers events to
// the Handler. When ctx ends it leaves the cluster (waiting at most 1s for
// the news to go out) and shuts memberlist down. It returns once all its
// goroutines have stopped, with the leave or shutdown error if any. Run may
// be called once; after Shutdown it returns ErrClosed at once.
func (c *Cluster) Run(ctx context.Context) error {
	if !c.running.CompareAndSwap(false, true) {
		return errors.New("cluster: Run called twice")
	}
	select {
	case <-c.stop:
		return ErrClosed
	default:
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() { c.inbox.run(ctx, c.h) })
	wg.Go(func() { c.joinLoop(ctx) })
	wg.Go(func() { c.broadcastLoop(ctx) })
	wg.Go(func() { c.reconnectLoop(ctx) })

	var err error
	select {
	case <-ctx.Done():
		if lerr := c.ml.Leave(leaveTimeout); lerr != nil {
			err = fmt.Errorf("cluster: leave: %w", lerr)
		}
		err = errors.Join(err, c.Shutdown())
	case <-c.stop:
	}
	cancel()
	wg.Wait()
	return err
}

// Shutdown stops memberlist at once, without telling peers (they will see
// this node fail), and makes Run return. It is for a Cluster whose Run was
// never called, and for tests that simulate a crash. It is idempotent.
func (c *Cluster) Shutdown() error {
	c.once.Do(func() {
		close(c.stop)
		if err := c.ml.Shutdown(); err != nil {
			c.stopErr = fmt.Errorf("cluster: shutdown: %w", err)
		}
	})
	return c.stopErr
}

// Join contacts the given host:port addresses (for example peers learnt
// from Redis hello messages) and returns how many answered. Addresses of
// this node are skipped.
func (c *Cluster) Join(addrs []string) (int, error) {
	addrs = c.notSelf(addrs)
	if len(addrs) == 0 {
		return 0, nil
	}
	n, err := c.ml.Join(addrs)
	if err != nil {
		return n, fmt.Errorf("cluster: join: %w", err)
	}
	return n, nil
}

// Members returns the other nodes, sorted by id: the alive ones and those
// that failed or left less than FailedRetention ago. This node is not
// included.
func (c *Cluster) Members() []Member {
	return c.members.list(time.Now(), c.cfg.FailedRetention)
}

// GossipAddr returns the IP:port peers use to reach this node's memberlist
// (the advertised address, with the real port when Bind's port was 0).
func (c *Cluster) GossipAddr() string {
	return c.ml.LocalNode().Address()
}

// Broadcast sends st to every member soon, replacing any older state of
// this node still queued. A state too large for a UDP packet is handed to
// Run's broadcast loop, which sends it over TCP to each alive member. The
// state is stamped (Seq) when Broadcast is called: pass one taken just
// before, as peers drop a state stamped before one they already have.
func (c *Cluster) Broadcast(st NodeState) {
	c.encMu.Lock()
	defer c.encMu.Unlock()
	c.broadcastLocked(st, true)
}

// broadcastLocal broadcasts Handler.LocalState.
func (c *Cluster) broadcastLocal() {
	c.encMu.Lock()
	defer c.encMu.Unlock()
	c.broadcastLocked(c.h.LocalState(), false)
}

// encodeLocal encodes Handler.LocalState, for a push/pull.
func (c *Cluster) encodeLocal() ([]byte, error) {
	c.encMu.Lock()
	defer c.encMu.Unlock()
	return c.encodeState(c.h.LocalState())
}

// broadcastLocked queues or hands over st; c.encMu is held, so that states
// go out in the order of their Seq. A change (now) is also sent at once, by
// UDP, to every alive member: the gossip queue alone reaches them only at
// their next gossip rounds, and a new master or an s_down opinion should
// not wait for that. The queued copy still covers a lost datagram.
func (c *Cluster) broadcastLocked(st NodeState, now bool) {
	b, err := c.encodeState(st)
	if err != nil {
		c.log.Error("cannot broadcast state", "err", err)
		return
	}
	if len(b) <= c.udpLimit {
		c.queue.QueueBroadcast(&stateBroadcast{name: fmt.Sprintf(broadcastNameFmt, c.cfg.NodeID), msg: b})
		if now {
			for _, p := range c.members.alive() {
				if err := c.ml.SendBestEffort(&p.node, b); err != nil {
					c.log.Debug("cannot send state", "to", p.ID, "err", err)
				}
			}
		}
		return
	}
	c.queue.Reset() // it only ever holds an older state of ours
	c.bigMu.Lock()
	c.big = b
	c.bigMu.Unlock()
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// Send delivers m to the member toID over TCP, with From set to this
// node. It fails fast with ErrUnknownMember or ErrMemberDown when toID is
// not an alive member.
func (c *Cluster) Send(toID string, m Message) error {
	p, ok := c.members.get(toID)
	if !ok {
		return fmt.Errorf("send %s to %s: %w", m.Kind(), toID, ErrUnknownMember)
	}
	if !p.Alive {
		return fmt.Errorf("send %s to %s: %w", m.Kind(), toID, ErrMemberDown)
	}
	b, err := encode(m.withFrom(c.cfg.NodeID))
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	if err := c.ml.SendReliable(&p.node, b); err != nil {
		return fmt.Errorf("cluster: send %s to %s: %w", m.Kind(), toID, err)
	}
	return nil
}

// encodeState stamps st as this node's and encodes it; c.encMu is held.
func (c *Cluster) encodeState(st NodeState) ([]byte, error) {
	st.From = c.cfg.NodeID
	st.RESPAddr = c.cfg.RESPAddr
	st.Boot = c.boot
	c.seq++
	st.Seq = c.seq
	st.SentAt = time.Now().UnixMilli()
	return encode(st)
}

// joinLoop joins the configured seeds, backing off from 100ms to
// JoinRetryMax, until a join succeeds and another node is alive.
func (c *Cluster) joinLoop(ctx context.Context) {
	seeds := c.notSelf(c.cfg.Join)
	if len(seeds) == 0 {
		return
	}
	wait := min(joinRetryMin, c.cfg.JoinRetryMax)
	for attempt := 1; ; attempt++ {
		n, err := c.ml.Join(seeds)
		c.joins.Add(1)
		if n > 0 && c.members.aliveCount() > 0 {
			c.log.Info("joined cluster", "seeds", seeds, "answered", n, "attempts", attempt)
			return
		}
		if attempt == 1 {
			c.log.Warn("cannot join seeds yet, retrying in the background", "seeds", seeds, "err", err)
		} else {
			c.log.Debug("join attempt failed", "seeds", seeds, "attempt", attempt, "err", err)
		}
		if !sleep(ctx, wait) {
			return
		}
		wait = min(2*wait, c.cfg.JoinRetryMax)
	}
}

// broadcastLoop broadcasts the local state every BroadcastInterval, and
// sends large states over TCP.
func (c *Cluster) broadcastLoop(ctx context.Context) {
	t := time.NewTicker(c.cfg.BroadcastInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if c.members.aliveCount() > 0 { // else nobody to tell
				c.broadcastLocal()
			}
		case <-c.kick:
		}
		c.bigMu.Lock()
		b := c.big
		c.big = nil
		c.bigMu.Unlock()
		if b != nil {
			c.sendToAll(ctx, b)
		}
	}
}

// sendToAll sends an encoded state to every alive member over TCP.
func (c *Cluster) sendToAll(ctx context.Context, b []byte) {
	for _, p := range c.members.alive() {
		if ctx.Err() != nil {
			return
		}
		if err := c.ml.SendReliable(&p.node, b); err != nil {
			c.log.Debug("cannot send state", "to", p.ID, "err", err)
		}
	}
}

// reconnectLoop tries every ReconnectInterval to rejoin one random member
// that failed (not one that left), so that healed partitions merge again.
func (c *Cluster) reconnectLoop(ctx context.Context) {
	t := time.NewTicker(c.cfg.ReconnectInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		p, ok := c.members.randomFailed(time.Now(), c.cfg.FailedRetention)
		if !ok {
			continue
		}
		if _, err := c.ml.Join([]string{p.GossipAddr}); err != nil {
			c.log.Debug("cannot reconnect to failed member", "id", p.ID, "addr", p.GossipAddr, "err", err)
		}
	}
}

// notSelf drops this node's own addresses from addrs.
func (c *Cluster) notSelf(addrs []string) []string {
	self := map[string]bool{c.GossipAddr(): true, c.cfg.Bind: true, c.cfg.Advertise: true}
	var out []string
	for _, a := range addrs {
		if !self[a] {
			out = append(out, a)
		}
	}
	return out
}

// sleep waits for d or until ctx ends; it reports whether d elapsed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// stateBroadcast is this node's state on the gossip queue. Its name is the
// same for every state of this node, so a newer one replaces an older one.
type stateBroadcast struct {
	name string
	msg  []byte
}

func (b *stateBroadcast) Name() string    { return b.name }
func (b *stateBroadcast) Message() []byte { return b.msg }
func (b *stateBroadcast) Finished()       {}

// Invalidates reports whether other is an older broadcast of the same name.
func (b *stateBroadcast) Invalidates(other memberlist.Broadcast) bool {
	o, ok := other.(memberlist.NamedBroadcast)
	return ok && o.Name() == b.name
}
