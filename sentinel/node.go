package sentinel

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/vigil-ha/vigil/config"
	"github.com/vigil-ha/vigil/failover"
	"github.com/vigil-ha/vigil/sentinel/cluster"
	"github.com/vigil-ha/vigil/sentinel/scripts"
	"github.com/vigil-ha/vigil/topology"
)

// tickPeriod is how often the node re-evaluates its decisions (s_down,
// o_down, failover steps). Decisions are cheap; a short tick keeps
// reaction time low.
const tickPeriod = 100 * time.Millisecond

// Version is vigil's version, reported in INFO.
const Version = "0.1.0"

// redisCompatVersion is the redis_version vigil reports in INFO and HELLO:
// the Sentinel protocol level it implements, for clients that check it.
const redisCompatVersion = "7.2.0"

// Node is one vigil node. Create it with New, then call Run.
type Node struct {
	cfg   config.Config
	names []string // cfg.MasterNames(), renewed with cfg.Masters; never modified in place
	log   *slog.Logger
	store *store
	bus   *bus
	id    string
	start time.Time

	ln           net.Listener
	commands     map[string]*command
	sentinelCmds map[string]*sentinelSub
	clientID     atomic.Int64
	conns        sync.Map // *clientConn → struct{}; for CLIENT LIST and shutdown

	cluster *cluster.Cluster
	actions redisActions
	history *historyStore
	scripts *scripts.Runner
	bcast   chan struct{} // wakes the broadcaster
	wake    chan struct{} // runs a tick now (see wakeTick)

	shutdown context.CancelFunc // stops Run (SHUTDOWN); set by Run
	// serveGoroutines serves every client of the Sentinel-protocol port
	// with a goroutine of its own, as where there is no client loop (tests
	// of that path).
	serveGoroutines bool
	// pumpLinks reads every monitoring connection with a goroutine of its
	// own, as on platforms without epoll (set by tests of that path).
	pumpLinks bool
	sim       simulation // SENTINEL SIMULATE-FAILURE (simulate.go)

	mu     sync.Mutex
	rt     *runtimeConf // runtime configuration changes (runtime.go)
	state  *DurableState
	groups map[string]*group
	peers  map[string]*peer
	runCtx context.Context
	links  *linkSet // the monitoring links; set by Run

	lastTick, tiltSince, tiltUntil time.Time
	bgWG                           sync.WaitGroup // reconfiguration commands and peer sends
}

// New creates a node from a validated configuration. It reads (or creates)
// the durable state in cfg.Node.DataDir; a corrupt state file is an error.
func New(cfg config.Config, log *slog.Logger) (*Node, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	st, err := openStore(cfg.Node.DataDir)
	if err != nil {
		return nil, err
	}
	state, err := st.load()
	if err != nil {
		return nil, err
	}
	hist, err := openHistory(cfg.Node.DataDir)
	if err != nil {
		return nil, err
	}
	rt, err := loadRuntime(cfg.Node.DataDir)
	if err != nil {
		return nil, err
	}
	cfg = rt.applyTo(cfg, log) // runtime changes win over the file (runtime.go)
	n := &Node{
		cfg:     cfg,
		log:     log,
		store:   st,
		bus:     newBus(log),
		start:   time.Now(),
		state:   state,
		history: hist,
		rt:      rt,
		groups:  map[string]*group{},
		peers:   map[string]*peer{},
		bcast:   make(chan struct{}, 1),
		wake:    make(chan struct{}, 1),

		commands:     commandTable(),
		sentinelCmds: sentinelTable(),
	}
	switch {
	case cfg.Node.ID != "":
		n.id = cfg.Node.ID
	case state.NodeID != "":
		n.id = state.NodeID
	default:
		if n.id, err = newNodeID(); err != nil {
			return nil, err
		}
	}
	dirty := state.NodeID != n.id
	state.NodeID = n.id
	tlsConfs, err := masterTLSConfigs(cfg)
	if err != nil {
		return nil, err
	}
	n.actions = redisActions{clientName: "vigil-" + n.id[:min(8, len(n.id))] + "-cmd", tls: tlsConfs}
	n.scripts = scripts.New(log.With("component", "scripts"), scripts.Options{
		OnEvent: func(typ, payload string) { n.emit(Event{Type: typ, Payload: payload, Warning: true}) },
	})
	n.names = cfg.MasterNames()
	for _, name := range n.names {
		if n.buildGroupLocked(cfg.Masters[name]) {
			dirty = true
		}
	}
	for name := range state.Masters {
		if _, ok := cfg.Masters[name]; !ok {
			delete(state.Masters, name)
			dirty = true
		}
	}
	if dirty {
		if err := n.store.save(state); err != nil {
			return nil, err
		}
	}
	return n, nil
}

// buildGroupLocked creates the group of master mc from its durable record
// (creating the record if there is none) and reports whether the record
// changed. It starts no link. Requires n.mu, or a node not yet running.
func (n *Node) buildGroupLocked(mc config.MasterConfig) (dirty bool) {
	name, state := mc.Name, n.state
	g := &group{cfg: mc, replicas: map[string]*instance{}, peers: map[string]struct{}{}, guardWant: -1}
	addr := mc.Addr
	rec := state.Masters[name]
	if rec == nil {
		rec = &MasterRecord{ConfiguredAddr: mc.Addr.String(), Addr: mc.Addr.String()}
		state.Masters[name] = rec
		dirty = true
	} else if rec.ConfiguredAddr != mc.Addr.String() {
		// The operator changed the master's address: the configuration
		// wins over the recorded master, but votes, epochs and known
		// peers are kept (forgetting a vote could allow a second one
		// in the same epoch).
		rec.ConfiguredAddr, rec.Addr = mc.Addr.String(), mc.Addr.String()
		rec.KnownReplicas = nil
		dirty = true
	} else if a, err := topology.ParseAddr(rec.Addr); err == nil {
		addr = a
		g.configEpoch = rec.ConfigEpoch
	}
	g.master = n.newInstance(g, addr)
	for _, r := range rec.KnownReplicas {
		if a, err := topology.ParseAddr(r); err == nil && a != addr {
			g.replicas[a.String()] = n.newInstance(g, a)
		}
	}
	for _, p := range rec.KnownPeers {
		g.peers[p.ID] = struct{}{}
		n.peerLocked(p.ID).respAddr = p.Addr
	}
	n.groups[name] = g
	return dirty
}

// ID returns the node's persistent id (Sentinel's myid).
func (n *Node) ID() string { return n.id }

// Listen binds the Sentinel-protocol port. Run calls it if it was not
// called before; tests call it first to learn the port.
func (n *Node) Listen() error {
	if n.ln != nil {
		return nil
	}
	ln, err := net.Listen("tcp", n.cfg.Node.Listen)
	if err != nil {
		return fmt.Errorf("node.listen %q: %w", n.cfg.Node.Listen, err)
	}
	if ln, err = n.withTLS(ln); err != nil {
		return err
	}
	n.ln = ln
	if n.cfg.Gossip.Bind == "" {
		return nil
	}
	keys, err := n.cfg.Gossip.DecodeSecretKeys()
	if err != nil {
		_ = ln.Close()
		n.ln = nil
		return err
	}
	c, err := cluster.New(cluster.Config{
		NodeID:     n.id,
		RESPAddr:   n.announceAddr(),
		Bind:       resolveHostPort(n.cfg.Gossip.Bind),
		Advertise:  resolveHostPort(n.cfg.Gossip.Advertise),
		Join:       n.cfg.Gossip.Join,
		SecretKeys: keys,
		Logger:     n.log,
		// Fresh state from the peers every half second lets a node tell
		// within a second that it lost the majority (fence.go).
		BroadcastInterval: stateBroadcastPeriod,
	}, n)
	if err != nil {
		_ = ln.Close()
		n.ln = nil
		return fmt.Errorf("gossip.bind %q: %w", n.cfg.Gossip.Bind, err)
	}
	n.cluster = c
	return nil
}

// announceAddr is the Sentinel-protocol address peers and clients are told.
func (n *Node) announceAddr() string {
	if n.cfg.Node.Announce != "" {
		return n.cfg.Node.Announce
	}
	return n.ln.Addr().String()
}

// GossipAddr is the address of this node's gossip transport, once
// listening; empty when gossip is off.
func (n *Node) GossipAddr() string {
	if n.cluster == nil {
		return ""
	}
	return n.cluster.GossipAddr()
}

// Addr is the address the RESP server listens on (after Listen).
func (n *Node) Addr() string {
	if n.ln == nil {
		return ""
	}
	return n.ln.Addr().String()
}

// Run serves until ctx is cancelled, then stops every goroutine it started
// and returns. It returns an error only if the node could not start.
func (n *Node) Run(ctx context.Context) error {
	if err := n.Listen(); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	n.mu.Lock()
	n.shutdown = cancel
	n.mu.Unlock()
	var wg sync.WaitGroup

	n.mu.Lock()
	n.runCtx = ctx
	n.links = newLinkSet(ctx, n, n.pumpLinks)
	wg.Go(n.links.run)
	for _, name := range n.names {
		g := n.groups[name]
		n.emit(Event{Type: "+monitor", Warning: true, Payload: n.instanceRef(g.master) + " quorum " + strconv.Itoa(g.cfg.Quorum)})
		n.startLink(g.master)
		for _, r := range g.sortedReplicas() {
			n.startLink(r)
		}
	}
	n.mu.Unlock()
	n.log.Info("vigil node started", "id", n.id, "listen", n.Addr(), "masters", len(n.groups))

	wg.Go(func() { n.serve(ctx) })
	wg.Go(func() { n.tickLoop(ctx) })
	wg.Go(func() { n.scripts.Run(ctx) })
	if n.cluster != nil {
		wg.Go(func() { n.broadcaster(ctx) })
		wg.Go(func() {
			switch err := n.cluster.Run(ctx); {
			case err == nil:
			case ctx.Err() != nil:
				// Shutting down: a leave nobody acknowledged (every peer
				// stopping too) only means peers see this node fail.
				n.log.Warn("gossip: leaving the cluster was not acknowledged; peers will see this node fail", "err", err)
			default:
				n.log.Error("gossip stopped", "err", err)
			}
		})
	}

	<-ctx.Done()
	_ = n.ln.Close()
	n.closeConns()
	wg.Wait()
	n.bgWG.Wait()
	if n.Crashed() {
		n.log.Warn("vigil node crashed (simulated failure)", "id", n.id)
		return ErrSimulatedFailure
	}
	n.log.Info("vigil node stopped", "id", n.id)
	return nil
}

func (n *Node) newInstance(g *group, addr topology.Addr) *instance {
	now := time.Now()
	return &instance{addr: addr, ip: resolveHostIP(addr.Host), group: g, create: now, lastOKReply: now, roleReportedAt: now}
}

// startLink starts monitoring inst. Requires n.mu and a running node.
func (n *Node) startLink(inst *instance) {
	if inst.link != nil || n.runCtx == nil {
		return
	}
	l := newLink(n, n.links, inst.group, inst.addr)
	l.inst = inst
	inst.link = l
	l.infoEvery.Store(int64(n.infoPeriodLocked(inst.group, inst, time.Now())))
	n.links.add(l)
}

// lookup finds the instance a link monitors: nil once the link is no
// longer the instance's (the instance was dropped, or given a new link),
// since whoever drops an instance or replaces its link clears inst.link.
// Requires n.mu.
func (n *Node) lookup(l *link) *instance {
	if inst := l.inst; inst != nil && inst.link == l {
		return inst
	}
	return nil
}

// notePingSent records that a request (PING, INFO or PUBLISH: the link
// sends them one at a time) is about to go out; the oldest unanswered one
// starts the silence that s_down measures, so a stopped instance is not
// given extra time because the link was waiting on an INFO when it stopped.
//
// While the instance is disconnected (its last request was refused, cut or
// timed out) a new request starts nothing: the silence keeps running from
// the last acceptable reply, as for Sentinel's disconnected link. Otherwise
// every reconnection attempt to a dead instance would restart the clock
// and its s_down would flap.
func (n *Node) notePingSent(l *link, at time.Time) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if inst := n.lookup(l); inst != nil && inst.connected && inst.pingPendingSince.IsZero() {
		inst.pingPendingSince = at
	}
}

func (n *Node) recordPing(l *link, at time.Time, err error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	inst := n.lookup(l)
	if inst == nil {
		return
	}
	if !isReply(err) {
		inst.connected = false
		if refused(err) {
			// Refused, reset or closed by the other side: the PING got
			// no answer because nothing is there, not because the
			// instance is slow. Like Sentinel's disconnected link,
			// silence then runs from the last acceptable reply, not from
			// this PING.
			inst.pingPendingSince = time.Time{}
		}
		return
	}
	inst.connected = true
	inst.lastPingReply = at
	if pingAcceptable(err) {
		inst.lastOKReply = at
		inst.pingPendingSince = time.Time{}
	}
}

// refused reports whether a failed request was refused or its connection
// closed or reset by the other side: nothing listens there any more. Any
// other failure (a timeout, a busy connection pool, our own close) may be
// a stopped or slow instance and is not counted as refused.
func refused(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// recordHello records the outcome of the hello PUBLISH: a reply proves
// the instance alive; a refused or cut connection, like a refused PING,
// leaves nothing pending.
func (n *Node) recordHello(l *link, at time.Time, err error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	inst := n.lookup(l)
	switch {
	case inst == nil:
	case pingAcceptable(err):
		inst.connected = true
		inst.lastOKReply = at
		inst.pingPendingSince = time.Time{}
	case isReply(err):
		inst.connected = true // an error reply (-NOAUTH, ...): not proof of health
	case refused(err):
		inst.connected = false
		inst.pingPendingSince = time.Time{}
	}
}

func (n *Node) recordInfo(l *link, at time.Time, text string, err error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	inst := n.lookup(l)
	if inst == nil {
		return
	}
	if err != nil {
		if !isReply(err) {
			inst.connected = false
			if refused(err) {
				inst.pingPendingSince = time.Time{} // as in recordPing
			}
		}
		return
	}
	// An INFO reply is as good a proof of life as a PONG.
	inst.lastOKReply = at
	inst.pingPendingSince = time.Time{}
	info, perr := topology.ParseInfo(text)
	if perr != nil {
		n.log.Warn("ignoring malformed INFO reply", "master", l.group, "addr", l.addr.String(), "err", perr)
		return
	}
	inst.connected = true
	inst.prevInfoAt, inst.prevOffset = inst.infoAt, inst.info.ReplicaReplOffset
	inst.infoAt = at
	inst.infoRaw = text
	if inst.runID != "" && info.RunID != "" && info.RunID != inst.runID {
		n.emit(Event{Type: "+reboot", Payload: n.instanceRef(inst)})
		n.checkRegressionLocked(inst, info, at)
	}
	if info.RunID != "" {
		inst.runID = info.RunID
	}
	if info.Role != inst.roleReported {
		inst.roleReported = info.Role
		inst.roleReportedAt = at
	}
	inst.info = info
	n.canonicalMasterHostLocked(inst)
	if inst.isMaster() && info.Role == topology.RoleMaster {
		n.discoverReplicas(inst.group, info.Replicas)
	}
	if g := inst.group; g.attempt != nil || g.switching {
		n.wakeTick() // a promotion or re-pointing may be confirmed
	}
}

// discoverReplicas adds replicas a master reports that the node does not
// know yet, starts monitoring them and remembers them durably. Requires n.mu.
func (n *Node) discoverReplicas(g *group, entries []topology.ReplicaEntry) {
	added := false
	for _, e := range entries {
		key := e.Addr.String()
		if e.Addr.Port == 0 || n.knownInstanceLocked(g, e.Addr) != nil {
			continue
		}
		r := n.newInstance(g, e.Addr)
		g.replicas[key] = r
		n.emit(Event{Type: "+slave", Payload: n.instanceRef(r)})
		n.startLink(r)
		added = true
	}
	if added {
		rec := n.state.Masters[g.name()]
		rec.KnownReplicas = rec.KnownReplicas[:0]
		for k := range g.replicas {
			rec.KnownReplicas = append(rec.KnownReplicas, k)
		}
		n.saveStateLocked()
	}
}

// saveStateLocked persists the durable state. Requires n.mu. A failure is
// logged: the node keeps running on its in-memory state, as Sentinel does
// when it cannot rewrite its configuration.
func (n *Node) saveStateLocked() {
	if n.crashedLocked() {
		return
	}
	if err := n.store.save(n.state); err != nil {
		n.log.Error("cannot persist state", "err", err)
	}
}

func (n *Node) tickLoop(ctx context.Context) {
	t := time.NewTicker(tickPeriod)
	defer t.Stop()
	// early fires between ticks when a master's silence reaches
	// down-after, so that s_down (and the o_down and failover that follow)
	// is not up to a tick late.
	early := time.NewTimer(time.Hour)
	defer early.Stop()
	for {
		var at time.Time
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			// Not the tick's own timestamp: a tick that waited in the
			// channel while a wake ran would be older than the last one,
			// which TILT takes for the clock going backwards.
			at = n.tick(time.Now())
		case <-n.wake:
			at = n.tick(time.Now())
		case <-early.C:
			at = n.tick(time.Now())
		}
		if d := time.Until(at); !at.IsZero() && d < tickPeriod {
			early.Reset(max(d, 0))
		}
	}
}

// wakeTick makes the tick loop re-evaluate now rather than at its next
// tick, when something a running decision waits for has just arrived (a
// vote, a command's result, an INFO during a failover, a peer's changed
// opinion): each step of a failover then follows the previous one without
// waiting up to tickPeriod. Wakes coalesce. Safe with or without n.mu.
func (n *Node) wakeTick() {
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// tick re-evaluates every decision from the latest observations. It
// returns the earliest time a master still answering would turn s_down if
// it stays silent (zero if none), for the tick loop to wake then.
func (n *Node) tick(now time.Time) (sdownAt time.Time) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.crashedLocked() {
		return time.Time{}
	}
	n.checkTiltLocked(now)
	tilt := n.tiltLocked()
	for _, name := range n.names {
		g := n.groups[name]
		n.clearRegressionLocked(g, now)
		sdownBefore := g.master.sdown
		if at := n.checkSDown(g.master, now); !at.IsZero() && (sdownAt.IsZero() || at.Before(sdownAt)) {
			sdownAt = at
		}
		for _, r := range g.sortedReplicas() {
			n.checkSDown(r, now)
		}
		if g.master.sdown != sdownBefore {
			n.broadcastLocked()
			if g.master.sdown {
				// Replica offsets stop moving when the master dies: read
				// them now so a failover ranks replicas on final values.
				for _, r := range g.replicas {
					if r.link != nil {
						r.link.requestInfo()
					}
				}
			}
		}
		if g.master.sdown && now.Sub(g.lastAsk) >= askPeriod {
			n.askPeersLocked(g, now)
		}
		if !tilt {
			n.checkODownLocked(g, now)
			n.maybeStartFailoverLocked(g, now)
		}
		n.stepAttemptLocked(g, now)
		n.fixReplicasLocked(g, now)
		n.guardWritesLocked(g, now)
		n.fenceLocked(g, now)
		for inst := range g.all() {
			n.setInfoPeriodLocked(g, inst, now)
		}
	}
	return sdownAt
}

// setInfoPeriodLocked gives inst's link the INFO period it should have now.
func (n *Node) setInfoPeriodLocked(g *group, inst *instance, now time.Time) {
	if inst.link == nil {
		return
	}
	p := int64(n.infoPeriodLocked(g, inst, now))
	if old := inst.link.infoEvery.Swap(p); p != 0 && (old == 0 || p < old) {
		inst.link.requestInfo() // the new, shorter period starts now
	}
}

// instances returns a group's master followed by its replicas.
func (n *Node) instances(g *group) []*instance {
	return append([]*instance{g.master}, g.sortedReplicas()...)
}

// checkSDown applies failover.SubjectivelyDown to one instance and emits
// +sdown / -sdown on a change. Requires n.mu.
//
// For an instance that is not down but not answering either (a PING
// pending, or no link), it returns when silence will make it down; zero
// otherwise.
func (n *Node) checkSDown(inst *instance, now time.Time) (downAt time.Time) {
	probe := failover.Probe{
		DownAfter:           inst.group.cfg.DownAfter,
		LastAcceptableReply: inst.lastOKReply,
		PingPending:         !inst.pingPendingSince.IsZero(),
		PingPendingSince:    inst.pingPendingSince,
		ConfiguredMaster:    inst.isMaster(),
		RoleReported:        inst.roleReported,
		RoleReportedSince:   inst.roleReportedAt,
		InfoPeriod:          infoPeriod,
	}
	reason := probe.Reason(now)
	down := reason != failover.NotDown || !inst.regressedSince.IsZero()
	switch {
	case down && !inst.sdown:
		inst.sdown = true
		inst.sdownSince = now
		why := reason.String()
		if !inst.regressedSince.IsZero() {
			why = "data-regressed"
		}
		n.log.Warn("instance subjectively down", "master", inst.group.name(), "addr", inst.addr.String(), "reason", why)
		n.emit(Event{Type: "+sdown", Warning: true, Payload: n.instanceRef(inst)})
	case !down && inst.sdown:
		inst.sdown = false
		inst.sdownSince = time.Time{}
		n.log.Info("instance back up", "master", inst.group.name(), "addr", inst.addr.String())
		n.emit(Event{Type: "-sdown", Warning: true, Payload: n.instanceRef(inst)})
	}
	if silent := probe.PingPending || !inst.connected; inst.sdown || !silent {
		return time.Time{}
	}
	return probe.SilentDownAt()
}

// instanceRef formats an instance the way Sentinel's events do:
// "master <name> <ip> <port>" or
// "slave <ip:port> <ip> <port> @ <master-name> <master-ip> <master-port>".
func (n *Node) instanceRef(inst *instance) string {
	g := inst.group
	if inst.isMaster() {
		return "master " + g.name() + " " + n.hostOf(inst) + " " + inst.addr.PortString()
	}
	return "slave " + n.nameOf(inst) + " " + n.hostOf(inst) + " " + inst.addr.PortString() +
		" @ " + g.name() + " " + n.hostOf(g.master) + " " + g.master.addr.PortString()
}

// emit logs and publishes an event.
func (n *Node) emit(ev Event) {
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	level := slog.LevelInfo
	if ev.Warning {
		level = slog.LevelWarn
	}
	n.log.Log(context.Background(), level, "event", "type", ev.Type, "payload", ev.Payload)
	n.bus.publish(ev)
	n.notifyScript(ev)
}

// Subscribe returns a channel of events matching pattern (a Redis glob) and
// a function that cancels the subscription. For tests and embedding.
func (n *Node) Subscribe(pattern string) (<-chan Event, func()) {
	s := n.bus.subscribe()
	n.bus.update(func() { s.patterns[pattern] = struct{}{} })
	return s.ch, func() { n.bus.unsubscribe(s) }
}

// Errors with Sentinel's reply texts.
var (
	errNoSuchMaster = errors.New("ERR No such master with that name")
	errInProgress   = errors.New("INPROG Failover already in progress")
	errNoGoodSlave  = errors.New("NOGOODSLAVE No suitable replica to promote")
)

// TILT protection, after Sentinel's: when the node itself stalls (a VM
// pause, CPU starvation, SIGSTOP of vigil) every instance looks silent for
// as long as the stall lasted, so its s_down verdicts are not to be trusted
// until it has probed everything again. vigil measures time with Go's
// monotonic clock, so wall-clock jumps do not trigger it (nor fool its
// timeouts); stalls do.
const (
	// tiltTrigger is the gap between two ticks that counts as a stall.
	tiltTrigger = 2 * time.Second
	// tiltPeriod is how long the node stays in TILT after the last stall:
	// enough for every link to PING and INFO again. Sentinel uses 30 s.
	tiltPeriod = 5 * time.Second
)

// tiltLocked reports whether the node is in TILT mode: it monitors but does
// not act (no o_down, no failover start, no replica reconfiguration) and
// answers is-master-down queries with 0. Requires n.mu.
func (n *Node) tiltLocked() bool { return !n.tiltSince.IsZero() }

// checkTiltLocked enters or leaves TILT from the tick cadence. Requires n.mu.
func (n *Node) checkTiltLocked(now time.Time) {
	if !n.lastTick.IsZero() {
		if d := now.Sub(n.lastTick); d < 0 || d > tiltTrigger {
			if n.tiltSince.IsZero() {
				n.tiltSince = now
				n.emit(Event{Type: "+tilt", Warning: true, Payload: "#tilt mode entered"})
			}
			n.tiltUntil = now.Add(tiltPeriod)
			n.log.Warn("node stalled; entering TILT", "stall", d.String(), "until", n.tiltUntil)
		}
	}
	n.lastTick = now
	if !n.tiltSince.IsZero() && now.After(n.tiltUntil) {
		n.tiltSince = time.Time{}
		n.emit(Event{Type: "-tilt", Warning: true, Payload: "#tilt mode exited"})
	}
}

// splitHostPort splits host:port, returning the whole string as host when
// it has no port.
func splitHostPort(s string) (host, port string) {
	h, p, err := net.SplitHostPort(s)
	if err != nil {
		return s, "0"
	}
	return h, p
}

// resolveHostPort turns host:port with a host name into ip:port, as the
// gossip transport binds and advertises IP addresses only. An address that
// does not resolve is returned as is, for the transport to report.
func resolveHostPort(s string) string {
	host, port, err := net.SplitHostPort(s)
	if err != nil || host == "" || net.ParseIP(host) != nil {
		return s
	}
	a, err := net.ResolveTCPAddr("tcp", s)
	if err != nil || a.IP == nil {
		return s
	}
	return net.JoinHostPort(a.IP.String(), port)
}

// infoPeriodLocked is how often inst is polled with INFO: every 10 s
// normally; every second for a group whose master is down and for a replica
// whose link is down (Sentinel's rule); every 250 ms for replicas while
// their master is late answering or down, so that their offsets can
// corroborate a live master within a ping period. Requires n.mu.
func (n *Node) infoPeriodLocked(g *group, inst *instance, now time.Time) time.Duration {
	m := g.master
	late := now.Sub(m.lastOKReply) > g.cfg.DownAfter/2
	switch {
	case !inst.isMaster() && (late || m.sdown):
		return suspectInfoPeriod
	case m.sdown || (!inst.isMaster() && inst.info.MasterLinkDownSinceSecs != 0):
		return fastInfoPeriod
	}
	return 0
}
