package httpapi

import (
	"context"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-ha/vigil/failover"
	"github.com/vigil-ha/vigil/sentinel"
)

// namespace prefixes every vigil metric.
const namespace = "vigil"

// statusCollector turns a fresh Node.Status into gauges on every scrape, so
// the values are never older than the scrape.
type statusCollector struct {
	node NodeAPI

	currentEpoch *prometheus.Desc
	tilt         *prometheus.Desc
	peerUp       *prometheus.Desc

	masterUp            *prometheus.Desc
	masterSDown         *prometheus.Desc
	masterODown         *prometheus.Desc
	masterConfigEpoch   *prometheus.Desc
	masterQuorum        *prometheus.Desc
	masterOffset        *prometheus.Desc
	peersKnown          *prometheus.Desc
	peersUsable         *prometheus.Desc
	quorumReachable     *prometheus.Desc
	failoverInProgress  *prometheus.Desc
	decision            *prometheus.Desc
	replicaUp           *prometheus.Desc
	replicaOffset       *prometheus.Desc
	replicaLag          *prometheus.Desc
	replicaLinkUp       *prometheus.Desc
	replicaPriority     *prometheus.Desc
	replicaInfoAge      *prometheus.Desc
	masterLastOKPingAge *prometheus.Desc
}

func newStatusCollector(node NodeAPI) *statusCollector {
	desc := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(namespace, "", name), help, labels, nil)
	}
	m, mr := []string{"master"}, []string{"master", "replica"}
	return &statusCollector{
		node:         node,
		currentEpoch: desc("current_epoch", "This node's current epoch (Sentinel's current-epoch)."),
		tilt:         desc("tilt", "1 when this node is in TILT mode and takes no action."),
		peerUp:       desc("peer_up", "1 when the other vigil node is alive in gossip.", "peer"),

		masterUp:            desc("master_up", "1 when the master is not subjectively down.", m...),
		masterSDown:         desc("master_sdown", "1 when this node considers the master subjectively down.", m...),
		masterODown:         desc("master_odown", "1 when the master is objectively down (quorum agrees).", m...),
		masterConfigEpoch:   desc("master_config_epoch", "Config epoch of the master's current address.", m...),
		masterQuorum:        desc("master_quorum", "Configured quorum of the master.", m...),
		masterOffset:        desc("master_repl_offset_bytes", "The master's replication offset (master_repl_offset).", m...),
		masterLastOKPingAge: desc("master_last_ok_ping_age_seconds", "Seconds since the master last answered a PING.", m...),
		peersKnown:          desc("peers_known", "Other vigil nodes known to monitor the master.", m...),
		peersUsable:         desc("peers_usable", "vigil nodes, this one included, that can vote on the master now.", m...),
		quorumReachable:     desc("quorum_reachable", "1 when enough nodes are usable to reach both the quorum and a majority.", m...),
		failoverInProgress:  desc("failover_in_progress", "1 while this node runs a failover of the master.", m...),
		decision:            desc("failover_decision", "1 for the reason this node is or is not failing the master over now (vigil explain).", append(m, "reason")...),
		replicaUp:           desc("replica_up", "1 when the replica is not subjectively down.", mr...),
		replicaOffset:       desc("replica_offset_bytes", "The replica's replication offset (slave_repl_offset).", mr...),
		replicaLag:          desc("replica_lag_bytes", "Bytes the replica is behind its master (0 when unknown).", mr...),
		replicaLinkUp:       desc("replica_link_up", "1 when the replica reports master_link_status:up.", mr...),
		replicaPriority:     desc("replica_priority", "The replica's replica-priority (0: never promoted).", mr...),
		replicaInfoAge:      desc("replica_info_age_seconds", "Seconds since the replica's INFO was last read.", mr...),
	}
}

func (c *statusCollector) descs() []*prometheus.Desc {
	return []*prometheus.Desc{
		c.currentEpoch, c.tilt, c.peerUp,
		c.masterUp, c.masterSDown, c.masterODown, c.masterConfigEpoch, c.masterQuorum, c.masterOffset, c.masterLastOKPingAge,
		c.peersKnown, c.peersUsable, c.quorumReachable, c.failoverInProgress, c.decision,
		c.replicaUp, c.replicaOffset, c.replicaLag, c.replicaLinkUp, c.replicaPriority, c.replicaInfoAge,
	}
}

// Describe implements prometheus.Collector.
func (c *statusCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs() {
		ch <- d
	}
}

// Collect implements prometheus.Collector: one Status per scrape.
func (c *statusCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.node.Status()
	now := time.Now()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		m, err := prometheus.NewConstMetric(d, prometheus.GaugeValue, v, labels...)
		if err != nil {
			m = prometheus.NewInvalidMetric(d, err)
		}
		ch <- m
	}
	gauge(c.currentEpoch, float64(st.CurrentEpoch))
	gauge(c.tilt, b2f(st.Tilt))
	for _, p := range st.Peers {
		gauge(c.peerUp, b2f(p.Alive), p.ID)
	}
	for _, ms := range st.Masters {
		name := ms.Name
		gauge(c.masterUp, b2f(!ms.SDown), name)
		gauge(c.masterSDown, b2f(ms.SDown), name)
		gauge(c.masterODown, b2f(ms.ODown), name)
		gauge(c.masterConfigEpoch, float64(ms.ConfigEpoch), name)
		gauge(c.masterQuorum, float64(ms.Quorum), name)
		gauge(c.masterOffset, float64(ms.MasterOffset), name)
		if !ms.LastOKPing.IsZero() {
			gauge(c.masterLastOKPingAge, max(now.Sub(ms.LastOKPing).Seconds(), 0), name)
		}
		gauge(c.peersKnown, float64(len(ms.Peers)), name)
		gauge(c.peersUsable, float64(ms.UsablePeers), name)
		gauge(c.quorumReachable, b2f(ms.QuorumReachable), name)
		gauge(c.failoverInProgress, b2f(ms.FailoverState != ""), name)
		gauge(c.decision, 1, name, ms.Decision.Reason.String())
		for _, r := range ms.Replicas {
			gauge(c.replicaUp, b2f(!r.SDown), name, r.Addr)
			gauge(c.replicaOffset, float64(r.Offset), name, r.Addr)
			gauge(c.replicaLag, float64(r.Lag), name, r.Addr)
			gauge(c.replicaLinkUp, b2f(r.LinkUp), name, r.Addr)
			gauge(c.replicaPriority, float64(r.Priority), name, r.Addr)
			if r.InfoAge > 0 {
				gauge(c.replicaInfoAge, r.InfoAge.Seconds(), name, r.Addr)
			}
		}
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Event types the counters single out.
const (
	typeTryFailover  = "+try-failover"
	typeSwitchMaster = "+switch-master"
	typeAbortPrefix  = "-failover-abort-"
)

// knownEventTypes are the event types vigil emits; their events_total series
// exist (at 0) from the start, so rate() and increase() see the first one.
func knownEventTypes() []string {
	types := []string{
		"+monitor", "+slave", "+sentinel", "+reboot",
		"+sdown", "-sdown", "+odown", "-odown",
		"+new-epoch", "+vote-for-leader", typeTryFailover, typeSwitchMaster,
		"+convert-to-slave", "+fix-slave-config", "+config-update-from",
	}
	for _, t := range []failover.EventType{
		failover.EventElectedLeader, failover.EventStateSelectSlave, failover.EventSelectedSlave,
		failover.EventStateSendSlaveofNoOne, failover.EventStateWaitPromotion, failover.EventPromotedSlave,
		failover.EventStateReconfSlaves, failover.EventSlaveReconfSent, failover.EventSlaveReconfInProg,
		failover.EventSlaveReconfDone, failover.EventSlaveReconfSentTimeout, failover.EventSlaveReconfSentBE,
		failover.EventFailoverEndForTimeout, failover.EventFailoverEnd,
		failover.EventAbortNotElected, failover.EventAbortNoGoodSlave, failover.EventAbortSlaveTimeout,
	} {
		types = append(types, string(t))
	}
	return types
}

// numAbortReasons is how many abort reasons vigil emits (abortReasons).
const numAbortReasons = 3

// abortReasons are the reasons of the -failover-abort-* events, in the
// order of masterCounters.aborted.
func abortReasons() [numAbortReasons]string {
	var out [numAbortReasons]string
	for i, t := range [numAbortReasons]failover.EventType{failover.EventAbortNotElected, failover.EventAbortNoGoodSlave, failover.EventAbortSlaveTimeout} {
		out[i] = strings.TrimPrefix(string(t), typeAbortPrefix)
	}
	return out
}

// series is a set of a master's series, one bit each: a series is exposed
// once its bit is set. A master configured at the start has all its counters
// from the start; one first seen in an event has only those its events
// touched, as a CounterVec would.
type series uint16

const (
	seriesStarted series = 1 << iota
	seriesSucceeded
	seriesElectionsWon
	seriesSwitchMaster
	seriesLastDuration
	// seriesAborted is the first of numAbortReasons bits, one per reason.
	seriesAborted

	// seriesCounters are all the counters of a master.
	seriesCounters = seriesStarted | seriesSucceeded | seriesElectionsWon | seriesSwitchMaster |
		((1<<numAbortReasons)-1)*seriesAborted
)

// masterCounters are the event counters of one master: 80 bytes for all of
// them, where a single CounterVec series costs 300 to 400.
type masterCounters struct {
	started      uint64
	succeeded    uint64
	electionsWon uint64
	switchMaster uint64
	aborted      [numAbortReasons]uint64
	// otherAborts counts aborts for reasons outside abortReasons. vigil
	// emits none, so it stays nil.
	otherAborts map[string]uint64
	// lastDuration is the duration of the last failover that ended, in
	// seconds; exposed once seriesLastDuration is set.
	lastDuration float64
	present      series
}

// eventMetrics counts the node's events. observe runs on one goroutine
// (consume) while Collect runs on concurrent scrapes. events_total is a
// CounterVec (one series per event type); the per-master counters live in
// one small masterCounters per master, under mu, and are turned into
// constant metrics on each scrape.
type eventMetrics struct {
	log *slog.Logger

	events *prometheus.CounterVec

	failoversStarted *prometheus.Desc
	failoversOK      *prometheus.Desc
	failoversAborted *prometheus.Desc
	electionsWon     *prometheus.Desc
	switchMaster     *prometheus.Desc
	lastDuration     *prometheus.Desc
	reasons          [numAbortReasons]string

	mu sync.Mutex
	// masters holds the counters of each master, configured or seen in an
	// event. Entries are never removed, as CounterVec series were not.
	masters map[string]*masterCounters

	// started is when the failover of each master in progress on this node
	// began (its +try-failover). Owned by the consume goroutine.
	started map[string]time.Time
}

func newEventMetrics(log *slog.Logger) *eventMetrics {
	desc := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(namespace, "", name), help, labels, nil)
	}
	m := &eventMetrics{
		log: log,
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "events_total",
			Help: "Events this node published, by type (the Pub/Sub channel).",
		}, []string{"type"}),
		failoversStarted: desc("failovers_started_total", "Failover attempts this node started (+try-failover), automatic and manual.", "master"),
		failoversOK:      desc("failovers_succeeded_total", "Failovers this node led to the end (+failover-end).", "master"),
		failoversAborted: desc("failovers_aborted_total", "Failover attempts of this node that were aborted, by reason (-failover-abort-<reason>).", "master", "reason"),
		electionsWon:     desc("elections_won_total", "Leader elections this node won (+elected-leader).", "master"),
		switchMaster:     desc("switch_master_total", "Master address changes this node applied (+switch-master).", "master"),
		lastDuration:     desc("last_failover_duration_seconds", "Duration of the last failover this node led, from +try-failover to +failover-end.", "master"),
		reasons:          abortReasons(),
		masters:          map[string]*masterCounters{},
		started:          map[string]time.Time{},
	}
	for _, t := range knownEventTypes() {
		m.events.WithLabelValues(t)
	}
	return m
}

// initMasters creates the per-master counters at 0. Names that are not
// valid label values (not UTF-8) are skipped.
func (m *eventMetrics) initMasters(names []string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, name := range names {
		if c := m.counters(name, false); c != nil {
			c.present |= seriesCounters
		}
	}
}

// counters returns the counters of the named master, creating them when
// needed, or nil when name is not a valid label value. clone copies a new
// name, so that the map does not keep the event payload it was cut from.
// The caller holds mu.
func (m *eventMetrics) counters(name string, clone bool) *masterCounters {
	if c, ok := m.masters[name]; ok {
		return c
	}
	if !utf8.ValidString(name) {
		return nil
	}
	if clone {
		name = strings.Clone(name)
	}
	c := &masterCounters{}
	m.masters[name] = c
	return c
}

// Describe implements prometheus.Collector.
func (m *eventMetrics) Describe(ch chan<- *prometheus.Desc) {
	m.events.Describe(ch)
	for _, d := range []*prometheus.Desc{m.failoversStarted, m.failoversOK, m.failoversAborted, m.electionsWon, m.switchMaster, m.lastDuration} {
		ch <- d
	}
}

// Collect implements prometheus.Collector. It copies the counters under mu
// and sends them after, so a slow scrape does not hold up observe.
func (m *eventMetrics) Collect(ch chan<- prometheus.Metric) {
	m.events.Collect(ch)

	type snapshot struct {
		name string
		masterCounters
	}
	m.mu.Lock()
	all := make([]snapshot, 0, len(m.masters))
	for name, c := range m.masters {
		s := snapshot{name: name, masterCounters: *c}
		s.otherAborts = maps.Clone(c.otherAborts)
		all = append(all, s)
	}
	m.mu.Unlock()

	metric := func(d *prometheus.Desc, t prometheus.ValueType, v float64, labels ...string) {
		pm, err := prometheus.NewConstMetric(d, t, v, labels...)
		if err != nil {
			pm = prometheus.NewInvalidMetric(d, err)
		}
		ch <- pm
	}
	for _, s := range all {
		counter := func(bit series, d *prometheus.Desc, v uint64) {
			if s.present&bit != 0 {
				metric(d, prometheus.CounterValue, float64(v), s.name)
			}
		}
		counter(seriesStarted, m.failoversStarted, s.started)
		counter(seriesSucceeded, m.failoversOK, s.succeeded)
		counter(seriesElectionsWon, m.electionsWon, s.electionsWon)
		counter(seriesSwitchMaster, m.switchMaster, s.switchMaster)
		for i, reason := range m.reasons {
			if s.present&(seriesAborted<<i) != 0 {
				metric(m.failoversAborted, prometheus.CounterValue, float64(s.aborted[i]), s.name, reason)
			}
		}
		for reason, v := range s.otherAborts {
			metric(m.failoversAborted, prometheus.CounterValue, float64(v), s.name, reason)
		}
		if s.present&seriesLastDuration != 0 {
			metric(m.lastDuration, prometheus.GaugeValue, s.lastDuration, s.name)
		}
	}
}

// consume counts events until ctx ends or the channel closes.
func (m *eventMetrics) consume(ctx context.Context, events <-chan sentinel.Event) {
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-events:
			if !ok {
				return
			}
			m.observe(ev)
		}
	}
}

// observe counts one event.
func (m *eventMetrics) observe(ev sentinel.Event) {
	inc(m.log, m.events, ev.Type)
	master := eventMaster(ev.Type, ev.Payload)
	if master == "" {
		return
	}
	at := ev.Time
	if at.IsZero() {
		at = time.Now()
	}
	switch {
	case ev.Type == typeTryFailover:
		m.count(master, func(c *masterCounters) { c.started++; c.present |= seriesStarted })
		m.started[master] = at
	case ev.Type == string(failover.EventElectedLeader):
		m.count(master, func(c *masterCounters) { c.electionsWon++; c.present |= seriesElectionsWon })
	case ev.Type == string(failover.EventFailoverEnd):
		t0, ok := m.started[master]
		delete(m.started, master)
		m.count(master, func(c *masterCounters) {
			c.succeeded++
			c.present |= seriesSucceeded
			if ok {
				c.lastDuration = max(at.Sub(t0).Seconds(), 0)
				c.present |= seriesLastDuration
			}
		})
	case strings.HasPrefix(ev.Type, typeAbortPrefix):
		m.countAbort(master, strings.TrimPrefix(ev.Type, typeAbortPrefix))
		delete(m.started, master)
	case ev.Type == typeSwitchMaster:
		m.count(master, func(c *masterCounters) { c.switchMaster++; c.present |= seriesSwitchMaster })
	}
}

// count applies add to the counters of master, under mu; masters whose name
// is not a valid label value are skipped.
func (m *eventMetrics) count(master string, add func(*masterCounters)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.counters(master, true)
	if c == nil {
		m.log.Debug("event not counted", "master", master, "err", "master name is not valid UTF-8")
		return
	}
	add(c)
}

// countAbort counts an abort of master's failover for reason. A reason that
// is not a valid label value is skipped.
func (m *eventMetrics) countAbort(master, reason string) {
	for i, r := range m.reasons {
		if reason == r {
			m.count(master, func(c *masterCounters) { c.aborted[i]++; c.present |= seriesAborted << i })
			return
		}
	}
	if !utf8.ValidString(reason) {
		m.log.Debug("event not counted", "master", master, "reason", reason, "err", "reason is not valid UTF-8")
		return
	}
	m.count(master, func(c *masterCounters) {
		if c.otherAborts == nil {
			c.otherAborts = map[string]uint64{}
		}
		if _, ok := c.otherAborts[reason]; !ok {
			reason = strings.Clone(reason)
		}
		c.otherAborts[reason]++
	})
}

// inc adds one to the counter with the given labels; label values that
// Prometheus refuses (not UTF-8) are skipped.
func inc(log *slog.Logger, v *prometheus.CounterVec, labels ...string) {
	c, err := v.GetMetricWithLabelValues(labels...)
	if err != nil {
		log.Debug("event not counted", "labels", labels, "err", err)
		return
	}
	c.Inc()
}

// eventMaster extracts the master name from an event's payload, or "" when
// it names none. Payloads are "master <name> <ip> <port> ...",
// "slave <ip:port> <ip> <port> @ <name> <ip> <port>" (and "sentinel ..."
// likewise), and +switch-master's "<name> <oldip> <oldport> <newip>
// <newport>".
func eventMaster(typ, payload string) string {
	f := strings.Fields(payload)
	if len(f) == 0 {
		return ""
	}
	if typ == typeSwitchMaster {
		return f[0]
	}
	switch f[0] {
	case "master":
		if len(f) >= 2 {
			return f[1]
		}
	case "slave", "sentinel":
		for i, x := range f {
			if x == "@" && i+1 < len(f) {
				return f[i+1]
			}
		}
	}
	return ""
}
