package httpapi

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/vigil-ha/vigil/failover"
	"github.com/vigil-ha/vigil/sentinel"
)

// namespace prefixes every vigil metric.
const namespace = "vigil"

// familyID names one of the families nodeSeries exposes.
type familyID int

const (
	famCurrentEpoch familyID = iota
	famTilt
	famPeerUp

	famMasterUp
	famMasterSDown
	famMasterODown
	famMasterConfigEpoch
	famMasterQuorum
	famMasterOffset
	famMasterLastOKPingAge
	famPeersKnown
	famPeersUsable
	famQuorumReachable
	famFailoverInProgress
	famDecision

	famReplicaUp
	famReplicaOffset
	famReplicaLag
	famReplicaLinkUp
	famReplicaPriority
	famReplicaInfoAge

	famFailoversStarted
	famFailoversSucceeded
	famFailoversAborted
	famElectionsWon
	famSwitchMaster
	famLastFailoverDuration
)

// familyKind tells what a family has a series for, and so which labels it
// has.
type familyKind int

const (
	kindNode     familyKind = iota // the node itself: no label
	kindPeer                       // each other vigil node: peer
	kindMaster                     // each master of the status: master
	kindDecision                   // each master of the status: master, reason
	kindReplica                    // each replica of each master: master, replica
	kindCounter                    // each master with event counters: master
	kindAborted                    // each master and abort reason: master, reason
)

// family is one metric family of the node's status or of its per-master
// event counters.
type family struct {
	id     familyID
	kind   familyKind
	name   string // fully qualified
	help   string
	typ    dto.MetricType // GAUGE or COUNTER
	labels []string       // label names, in the order the registry sorts them
	desc   *prometheus.Desc
	// header is the family's HELP and TYPE lines as the text format
	// writes them.
	header string
}

// nodeSeries exposes the node's status, read once per scrape so that the
// gauges are never older than the scrape, and its per-master event
// counters: the families with a series per master or replica, some 20000
// series at 1000 masters. metricsHandler writes them in the text format
// itself (see textWriter), with no allocation per series, where a
// prometheus.Collector had every series turned into a constant metric, then
// a dto.Metric, checked, sorted and encoded by the registry: 11 to 13 KiB of
// garbage per master and scrape.
//
// Its Describe reserves the families' names on the server's registry, so
// that registering a clashing collector on Server.Registerer still fails;
// its Collect sends nothing.
type nodeSeries struct {
	node   NodeAPI
	events *eventMetrics
	// now is the clock ages are measured with; tests set it.
	now func() time.Time
	// families are sorted by name, as the exposition lists them.
	families []*family
}

func newNodeSeries(node NodeAPI, events *eventMetrics) *nodeSeries {
	gauge, counter := dto.MetricType_GAUGE, dto.MetricType_COUNTER
	defs := []struct {
		id         familyID
		kind       familyKind
		name, help string
		typ        dto.MetricType
	}{
		{famCurrentEpoch, kindNode, "current_epoch", "This node's current epoch (Sentinel's current-epoch).", gauge},
		{famTilt, kindNode, "tilt", "1 when this node is in TILT mode and takes no action.", gauge},
		{famPeerUp, kindPeer, "peer_up", "1 when the other vigil node is alive in gossip.", gauge},

		{famMasterUp, kindMaster, "master_up", "1 when the master is not subjectively down.", gauge},
		{famMasterSDown, kindMaster, "master_sdown", "1 when this node considers the master subjectively down.", gauge},
		{famMasterODown, kindMaster, "master_odown", "1 when the master is objectively down (quorum agrees).", gauge},
		{famMasterConfigEpoch, kindMaster, "master_config_epoch", "Config epoch of the master's current address.", gauge},
		{famMasterQuorum, kindMaster, "master_quorum", "Configured quorum of the master.", gauge},
		{famMasterOffset, kindMaster, "master_repl_offset_bytes", "The master's replication offset (master_repl_offset).", gauge},
		{famMasterLastOKPingAge, kindMaster, "master_last_ok_ping_age_seconds", "Seconds since the master last answered a PING.", gauge},
		{famPeersKnown, kindMaster, "peers_known", "Other vigil nodes known to monitor the master.", gauge},
		{famPeersUsable, kindMaster, "peers_usable", "vigil nodes, this one included, that can vote on the master now.", gauge},
		{famQuorumReachable, kindMaster, "quorum_reachable", "1 when enough nodes are usable to reach both the quorum and a majority.", gauge},
		{famFailoverInProgress, kindMaster, "failover_in_progress", "1 while this node runs a failover of the master.", gauge},
		{famDecision, kindDecision, "failover_decision", "1 for the reason this node is or is not failing the master over now (vigil explain).", gauge},

		{famReplicaUp, kindReplica, "replica_up", "1 when the replica is not subjectively down.", gauge},
		{famReplicaOffset, kindReplica, "replica_offset_bytes", "The replica's replication offset (slave_repl_offset).", gauge},
		{famReplicaLag, kindReplica, "replica_lag_bytes", "Bytes the replica is behind its master (0 when unknown).", gauge},
		{famReplicaLinkUp, kindReplica, "replica_link_up", "1 when the replica reports master_link_status:up.", gauge},
		{famReplicaPriority, kindReplica, "replica_priority", "The replica's replica-priority (0: never promoted).", gauge},
		{famReplicaInfoAge, kindReplica, "replica_info_age_seconds", "Seconds since the replica's INFO was last read.", gauge},

		{famFailoversStarted, kindCounter, "failovers_started_total", "Failover attempts this node started (+try-failover), automatic and manual.", counter},
		{famFailoversSucceeded, kindCounter, "failovers_succeeded_total", "Failovers this node led to the end (+failover-end).", counter},
		{famFailoversAborted, kindAborted, "failovers_aborted_total", "Failover attempts of this node that were aborted, by reason (-failover-abort-<reason>).", counter},
		{famElectionsWon, kindCounter, "elections_won_total", "Leader elections this node won (+elected-leader).", counter},
		{famSwitchMaster, kindCounter, "switch_master_total", "Master address changes this node applied (+switch-master).", counter},
		{famLastFailoverDuration, kindCounter, "last_failover_duration_seconds", "Duration of the last failover this node led, from +try-failover to +failover-end.", gauge},
	}
	labels := map[familyKind][]string{
		kindPeer:     {"peer"},
		kindMaster:   {"master"},
		kindDecision: {"master", "reason"},
		kindReplica:  {"master", "replica"},
		kindCounter:  {"master"},
		kindAborted:  {"master", "reason"},
	}
	n := &nodeSeries{node: node, events: events, now: time.Now}
	for _, d := range defs {
		f := &family{
			id: d.id, kind: d.kind,
			name: prometheus.BuildFQName(namespace, "", d.name), help: d.help,
			typ: d.typ, labels: labels[d.kind],
		}
		f.desc = prometheus.NewDesc(f.name, f.help, f.labels, nil)
		f.header = textHeader(f)
		n.families = append(n.families, f)
	}
	slices.SortFunc(n.families, func(a, b *family) int { return strings.Compare(a.name, b.name) })
	return n
}

// Describe implements prometheus.Collector.
func (n *nodeSeries) Describe(ch chan<- *prometheus.Desc) {
	for _, f := range n.families {
		ch <- f.desc
	}
}

// Collect implements prometheus.Collector. It sends nothing: the metrics
// handler exposes these families itself (see Describe).
func (n *nodeSeries) Collect(chan<- prometheus.Metric) {}

// scrape is what one scrape exposes of nodeSeries: one Status and a copy of
// the event counters, with the order of their series worked out.
type scrape struct {
	st  sentinel.Status
	now time.Time
	// peers and masters are the indices of the exposed st.Peers and
	// st.Masters, by label value.
	peers   []int32
	masters []int32
	// replicas are the indices of the exposed replicas of each exposed
	// master, by address: those of masters[k] are
	// replicas[replicaEnd[k-1]:replicaEnd[k]] (from 0 for k = 0).
	replicas   []int32
	replicaEnd []int32
	// counters are the event counters of each master, by name.
	counters []namedCounters
	// reasons are the abort reasons of masterCounters.aborted; byReason
	// their indices in the order of the reasons.
	reasons  [numAbortReasons]string
	byReason [numAbortReasons]int
	// err reports the series left out: label values that are not valid
	// UTF-8 or repeated.
	err error
}

// scrape reads the node's status and the event counters for one scrape.
func (n *nodeSeries) scrape() *scrape {
	st := n.node.Status()
	sc := &scrape{st: st, now: n.now(), counters: n.events.snapshot()}
	sc.reasons, sc.byReason = n.events.reasons, n.events.byReason
	var bad labelErrors
	sc.peers = exposed(make([]int32, 0, len(st.Peers)), len(st.Peers),
		func(i int32) string { return st.Peers[i].ID }, &bad, "peer", "")
	sc.masters = exposed(make([]int32, 0, len(st.Masters)), len(st.Masters),
		func(i int32) string { return st.Masters[i].Name }, &bad, "master", "")
	replicas := 0
	for _, i := range sc.masters {
		replicas += len(st.Masters[i].Replicas)
	}
	sc.replicas = make([]int32, 0, replicas)
	sc.replicaEnd = make([]int32, len(sc.masters))
	for k, i := range sc.masters {
		ms := &st.Masters[i]
		sc.replicas = exposed(sc.replicas, len(ms.Replicas),
			func(j int32) string { return ms.Replicas[j].Addr }, &bad, "replica", ms.Name)
		sc.replicaEnd[k] = int32(len(sc.replicas))
		if r := ms.Decision.Reason.String(); !utf8.ValidString(r) {
			bad.add("decision reason", ms.Name, r, "is not valid UTF-8")
		}
	}
	sc.err = bad.err()
	return sc
}

// labelErrors collects the label values a scrape leaves out.
type labelErrors []error

func (e *labelErrors) add(what, master, value, why string) {
	if master != "" {
		*e = append(*e, fmt.Errorf("%s %q of master %q %s: its series are left out", what, value, master, why))
		return
	}
	*e = append(*e, fmt.Errorf("%s %q %s: its series are left out", what, value, why))
}

// err is nil without errors, else the first error with how many there are.
func (e labelErrors) err() error {
	switch len(e) {
	case 0:
		return nil
	case 1:
		return e[0]
	}
	return fmt.Errorf("%d label values left out; first: %w", len(e), e[0])
}

// exposed appends to idx the indices below n whose label value (key) can be
// exposed, sorted by it, and returns idx. A value that is not valid UTF-8
// is left out, as the registry leaves out a metric with such a label
// value. Of a value listed more than once (the node lists none), only the
// first entry is kept, as the registry keeps the first of metrics with the
// same labels. Both are reported in bad; what and master name the value
// there.
func exposed(idx []int32, n int, key func(int32) string, bad *labelErrors, what, master string) []int32 {
	start := len(idx)
	for i := range int32(n) {
		if v := key(i); !utf8.ValidString(v) {
			bad.add(what, master, v, "is not valid UTF-8")
			continue
		}
		idx = append(idx, i)
	}
	sub := idx[start:]
	slices.SortStableFunc(sub, func(a, b int32) int { return strings.Compare(key(a), key(b)) })
	kept := sub[:0]
	for _, i := range sub {
		if len(kept) > 0 && key(kept[len(kept)-1]) == key(i) {
			bad.add(what, master, key(i), "is repeated")
			continue
		}
		kept = append(kept, i)
	}
	return idx[:start+len(kept)]
}

// sink receives the series of a family: their label values (as many as the
// family has labels; the others are "") and value.
type sink interface {
	add(value1, value2 string, v float64)
}

// walk sends each series of f to s, in the order of the exposition: by
// label values.
func (sc *scrape) walk(f *family, s sink) {
	st := &sc.st
	switch f.kind {
	case kindNode:
		switch f.id {
		case famCurrentEpoch:
			s.add("", "", float64(st.CurrentEpoch))
		case famTilt:
			s.add("", "", b2f(st.Tilt))
		}
	case kindPeer:
		for _, i := range sc.peers {
			p := &st.Peers[i]
			s.add(p.ID, "", b2f(p.Alive))
		}
	case kindMaster:
		for _, i := range sc.masters {
			ms := &st.Masters[i]
			if v, ok := masterValue(f.id, ms, sc.now); ok {
				s.add(ms.Name, "", v)
			}
		}
	case kindDecision:
		for _, i := range sc.masters {
			ms := &st.Masters[i]
			if r := ms.Decision.Reason.String(); utf8.ValidString(r) {
				s.add(ms.Name, r, 1)
			}
		}
	case kindReplica:
		start := int32(0)
		for k, i := range sc.masters {
			ms := &st.Masters[i]
			for _, j := range sc.replicas[start:sc.replicaEnd[k]] {
				r := &ms.Replicas[j]
				if v, ok := replicaValue(f.id, r); ok {
					s.add(ms.Name, r.Addr, v)
				}
			}
			start = sc.replicaEnd[k]
		}
	case kindCounter:
		for i := range sc.counters {
			c := &sc.counters[i]
			if v, ok := counterValue(f.id, &c.masterCounters); ok {
				s.add(c.name, "", v)
			}
		}
	case kindAborted:
		for i := range sc.counters {
			sc.aborted(&sc.counters[i], s)
		}
	}
}

// masterValue is the value of ms in family f, and false when ms has no
// series in it.
func masterValue(f familyID, ms *sentinel.MasterStatus, now time.Time) (float64, bool) {
	switch f {
	case famMasterUp:
		return b2f(!ms.SDown), true
	case famMasterSDown:
		return b2f(ms.SDown), true
	case famMasterODown:
		return b2f(ms.ODown), true
	case famMasterConfigEpoch:
		return float64(ms.ConfigEpoch), true
	case famMasterQuorum:
		return float64(ms.Quorum), true
	case famMasterOffset:
		return float64(ms.MasterOffset), true
	case famMasterLastOKPingAge:
		if ms.LastOKPing.IsZero() {
			return 0, false
		}
		return max(now.Sub(ms.LastOKPing).Seconds(), 0), true
	case famPeersKnown:
		return float64(len(ms.Peers)), true
	case famPeersUsable:
		return float64(ms.UsablePeers), true
	case famQuorumReachable:
		return b2f(ms.QuorumReachable), true
	case famFailoverInProgress:
		return b2f(ms.FailoverState != ""), true
	}
	return 0, false
}

// replicaValue is the value of r in family f, and false when r has no
// series in it.
func replicaValue(f familyID, r *sentinel.ReplicaStatus) (float64, bool) {
	switch f {
	case famReplicaUp:
		return b2f(!r.SDown), true
	case famReplicaOffset:
		return float64(r.Offset), true
	case famReplicaLag:
		return float64(r.Lag), true
	case famReplicaLinkUp:
		return b2f(r.LinkUp), true
	case famReplicaPriority:
		return float64(r.Priority), true
	case famReplicaInfoAge:
		if r.InfoAge <= 0 {
			return 0, false
		}
		return r.InfoAge.Seconds(), true
	}
	return 0, false
}

// counterValue is the value of a master's counters in family f, and false
// when the master has no series in it.
func counterValue(f familyID, c *masterCounters) (float64, bool) {
	switch f {
	case famFailoversStarted:
		return float64(c.started), c.present&seriesStarted != 0
	case famFailoversSucceeded:
		return float64(c.succeeded), c.present&seriesSucceeded != 0
	case famElectionsWon:
		return float64(c.electionsWon), c.present&seriesElectionsWon != 0
	case famSwitchMaster:
		return float64(c.switchMaster), c.present&seriesSwitchMaster != 0
	case famLastFailoverDuration:
		return c.lastDuration, c.present&seriesLastDuration != 0
	}
	return 0, false
}

// aborted sends the failovers_aborted_total series of c to s, by reason.
func (sc *scrape) aborted(c *namedCounters, s sink) {
	if len(c.otherAborts) == 0 {
		for _, i := range sc.byReason {
			if c.present&(seriesAborted<<i) != 0 {
				s.add(c.name, sc.reasons[i], float64(c.aborted[i]))
			}
		}
		return
	}
	// Reasons vigil does not emit: merge them in.
	type count struct {
		reason string
		n      uint64
	}
	all := make([]count, 0, numAbortReasons+len(c.otherAborts))
	for i, reason := range sc.reasons {
		if c.present&(seriesAborted<<i) != 0 {
			all = append(all, count{reason, c.aborted[i]})
		}
	}
	for reason, n := range c.otherAborts {
		all = append(all, count{reason, n})
	}
	slices.SortFunc(all, func(a, b count) int { return strings.Compare(a.reason, b.reason) })
	for _, x := range all {
		s.add(c.name, x.reason, float64(x.n))
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

// namedCounters are the counters of one master as a scrape copies them.
type namedCounters struct {
	name string
	masterCounters
}

// eventMetrics counts the node's events. observe runs on one goroutine
// (consume) while scrapes run concurrently. events_total is a CounterVec
// (one series per event type), collected by the registry; the per-master
// counters live in one small masterCounters per master, under mu, and are
// exposed by nodeSeries from a copy taken on each scrape (snapshot).
type eventMetrics struct {
	log *slog.Logger

	events *prometheus.CounterVec

	reasons [numAbortReasons]string
	// byReason are the indices of reasons, sorted by reason.
	byReason [numAbortReasons]int

	mu sync.Mutex
	// masters holds the counters of each master, configured or seen in an
	// event. Entries are never removed, as CounterVec series were not.
	masters map[string]*masterCounters

	// started is when the failover of each master in progress on this node
	// began (its +try-failover). Owned by the consume goroutine.
	started map[string]time.Time
}

func newEventMetrics(log *slog.Logger) *eventMetrics {
	m := &eventMetrics{
		log: log,
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "events_total",
			Help: "Events this node published, by type (the Pub/Sub channel).",
		}, []string{"type"}),
		reasons: abortReasons(),
		masters: map[string]*masterCounters{},
		started: map[string]time.Time{},
	}
	for i := range m.byReason {
		m.byReason[i] = i
	}
	slices.SortFunc(m.byReason[:], func(a, b int) int { return strings.Compare(m.reasons[a], m.reasons[b]) })
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

// Describe implements prometheus.Collector: events_total only, the
// per-master counters are nodeSeries' families.
func (m *eventMetrics) Describe(ch chan<- *prometheus.Desc) {
	m.events.Describe(ch)
}

// Collect implements prometheus.Collector: events_total only.
func (m *eventMetrics) Collect(ch chan<- prometheus.Metric) {
	m.events.Collect(ch)
}

// snapshot copies the per-master counters under mu, sorted by name, so that
// a slow scrape does not hold up observe.
func (m *eventMetrics) snapshot() []namedCounters {
	m.mu.Lock()
	all := make([]namedCounters, 0, len(m.masters))
	for name, c := range m.masters {
		s := namedCounters{name: name, masterCounters: *c}
		s.otherAborts = maps.Clone(c.otherAborts)
		all = append(all, s)
	}
	m.mu.Unlock()
	slices.SortFunc(all, func(a, b namedCounters) int { return strings.Compare(a.name, b.name) })
	return all
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
