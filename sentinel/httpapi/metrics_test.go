package httpapi

import (
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/vigil-ha/vigil/sentinel"
)

func TestMetrics(t *testing.T) {
	node := newFakeNode(testStatus())
	_, base, _ := startServer(t, node, "")
	waitFor(t, 5*time.Second, "the metrics subscription", func() bool { return node.subscribers() == 1 })

	t0 := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, ev := range []sentinel.Event{
		{Type: "+monitor", Payload: "master mymaster 127.0.0.1 6379 quorum 2", Time: t0},
		{Type: "+sdown", Payload: "slave 127.0.0.1:6380 127.0.0.1 6380 @ mymaster 127.0.0.1 6379", Time: t0},
		{Type: "+new-epoch", Payload: "8", Time: t0},
		// A first attempt that loses the election...
		{Type: "+try-failover", Payload: "master mymaster 127.0.0.1 6379", Time: t0},
		{Type: "-failover-abort-not-elected", Payload: "master mymaster 127.0.0.1 6379", Time: t0.Add(time.Second)},
		// ...then one that this node leads to the end in 2.5s.
		{Type: "+try-failover", Payload: "master mymaster 127.0.0.1 6379", Time: t0.Add(10 * time.Second)},
		{Type: "+elected-leader", Payload: "master mymaster 127.0.0.1 6379", Time: t0.Add(10 * time.Second)},
		{Type: "+failover-end", Payload: "master mymaster 127.0.0.1 6379", Time: t0.Add(12500 * time.Millisecond)},
		{Type: "+switch-master", Payload: "mymaster 127.0.0.1 6379 127.0.0.1 6380", Time: t0.Add(12500 * time.Millisecond)},
		// Events of a master this node was not configured with still count.
		{Type: "+switch-master", Payload: "other 10.0.0.1 1 10.0.0.2 2", Time: t0},
		// Garbage is counted by type only.
		{Type: "+try-failover", Payload: "", Time: t0},
		{Type: "+weird\xff", Payload: "master \xff 1 2", Time: t0},
	} {
		node.emit(ev)
	}

	want := []string{
		`vigil_current_epoch 7`,
		`vigil_tilt 0`,
		`vigil_peer_up{peer="node-b"} 1`,
		`vigil_master_up{master="mymaster"} 1`,
		`vigil_master_sdown{master="mymaster"} 0`,
		`vigil_master_odown{master="mymaster"} 0`,
		`vigil_master_config_epoch{master="mymaster"} 5`,
		`vigil_master_quorum{master="mymaster"} 2`,
		`vigil_master_repl_offset_bytes{master="mymaster"} 1000`,
		`vigil_peers_known{master="mymaster"} 1`,
		`vigil_peers_usable{master="mymaster"} 2`,
		`vigil_quorum_reachable{master="mymaster"} 1`,
		`vigil_failover_in_progress{master="mymaster"} 0`,
		`vigil_replica_up{master="mymaster",replica="127.0.0.1:6380"} 1`,
		`vigil_replica_offset_bytes{master="mymaster",replica="127.0.0.1:6380"} 900`,
		`vigil_replica_lag_bytes{master="mymaster",replica="127.0.0.1:6380"} 100`,
		`vigil_replica_link_up{master="mymaster",replica="127.0.0.1:6380"} 1`,
		`vigil_replica_priority{master="mymaster",replica="127.0.0.1:6380"} 100`,
		`vigil_events_total{type="+monitor"} 1`,
		`vigil_events_total{type="+try-failover"} 3`,
		`vigil_events_total{type="+odown"} 0`,
		`vigil_events_total{type="-failover-abort-slave-timeout"} 0`,
		`vigil_failovers_started_total{master="mymaster"} 2`,
		`vigil_failovers_succeeded_total{master="mymaster"} 1`,
		`vigil_failovers_aborted_total{master="mymaster",reason="not-elected"} 1`,
		`vigil_failovers_aborted_total{master="mymaster",reason="no-good-slave"} 0`,
		`vigil_elections_won_total{master="mymaster"} 1`,
		`vigil_last_failover_duration_seconds{master="mymaster"} 2.5`,
		`vigil_switch_master_total{master="mymaster"} 1`,
		`vigil_switch_master_total{master="other"} 1`,
		`# TYPE vigil_events_total counter`,
		`# TYPE vigil_master_up gauge`,
		`go_goroutines `,
		`process_cpu_seconds_total `,
	}
	var body string
	waitFor(t, 5*time.Second, "the events to be counted", func() bool {
		var code int
		code, _, body = do(t, "GET", base+"/metrics", "")
		return code == http.StatusOK && strings.Contains(body, `vigil_switch_master_total{master="other"} 1`)
	})
	for _, w := range want {
		if !strings.Contains(body, w) {
			t.Errorf("/metrics lacks %q", w)
		}
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", body)
	}

	// Status gauges follow the node on the next scrape.
	node.setStatus(func(s *sentinel.Status) {
		s.Masters[0].SDown, s.Masters[0].ODown, s.Masters[0].FailoverState = true, true, "select-slave"
		s.Masters[0].Replicas[0].LinkUp = false
	})
	_, _, body = do(t, "GET", base+"/metrics", "")
	for _, w := range []string{
		`vigil_master_up{master="mymaster"} 0`,
		`vigil_master_sdown{master="mymaster"} 1`,
		`vigil_master_odown{master="mymaster"} 1`,
		`vigil_failover_in_progress{master="mymaster"} 1`,
		`vigil_replica_link_up{master="mymaster",replica="127.0.0.1:6380"} 0`,
	} {
		if !strings.Contains(body, w) {
			t.Errorf("/metrics after the status changed lacks %q", w)
		}
	}
}

func TestEventMaster(t *testing.T) {
	tests := []struct {
		typ, payload, want string
	}{
		{"+sdown", "master mymaster 127.0.0.1 6379", "mymaster"},
		{"+monitor", "master mymaster 127.0.0.1 6379 quorum 2", "mymaster"},
		{"+odown", "master mymaster 127.0.0.1 6379 #quorum 2/2", "mymaster"},
		{"+sdown", "slave 127.0.0.1:6380 127.0.0.1 6380 @ mymaster 127.0.0.1 6379", "mymaster"},
		{"+sentinel", "sentinel abc 127.0.0.1 26380 @ mymaster 127.0.0.1 6379", "mymaster"},
		{"+switch-master", "mymaster 127.0.0.1 6379 127.0.0.1 6380", "mymaster"},
		{"+new-epoch", "12", ""},
		{"+vote-for-leader", "abc 12", ""},
		{"+sdown", "", ""},
		{"+sdown", "master", ""},
		{"+sdown", "slave 127.0.0.1:6380 @", ""},
		{"+sdown", "slave 127.0.0.1:6380 127.0.0.1 6380", ""},
		{"+switch-master", "   ", ""},
	}
	for _, tt := range tests {
		if got := eventMaster(tt.typ, tt.payload); got != tt.want {
			t.Errorf("eventMaster(%q, %q) = %q, want %q", tt.typ, tt.payload, got, tt.want)
		}
	}
}

// FuzzObserve checks that no event, however malformed, panics the counters.
func FuzzObserve(f *testing.F) {
	f.Add("+try-failover", "master mymaster 127.0.0.1 6379")
	f.Add("-failover-abort-\xff", "master m\xff 1 2")
	f.Add("+switch-master", "\x00")
	f.Add("+sdown", "slave a b c @ m x y")
	f.Fuzz(func(t *testing.T, typ, payload string) {
		m := newEventMetrics(testLogger(t))
		m.initMasters([]string{eventMaster(typ, payload)})
		m.observe(sentinel.Event{Type: typ, Payload: payload})
		m.observe(sentinel.Event{Type: "+failover-end", Payload: payload})
		formatEvent(sentinel.Event{Type: typ, Payload: payload})
	})
}

// gatherEvents gathers the event counters of m: events_total from m alone
// in a pedantic registry, the per-master counters as nodeSeries builds
// them for the protobuf format (over a node with no masters), checked for
// consistency by prometheus.Gatherers. It returns every sample as
// `name{label="value",...}` (labels in order) with its value, and each
// family's type and help.
func gatherEvents(t *testing.T, m *eventMetrics) (samples map[string]float64, types, help map[string]string) {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(m)
	ns := newNodeSeries(newFakeNode(sentinel.Status{}), m)
	counters := prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		sc := ns.scrape()
		var mfs []*dto.MetricFamily
		for _, f := range ns.families {
			if f.kind != kindCounter && f.kind != kindAborted {
				continue
			}
			if mf := sc.metricFamily(f, dtoLabels{}); mf != nil {
				mfs = append(mfs, mf)
			}
		}
		return mfs, sc.err
	})
	families, err := prometheus.Gatherers{reg, counters}.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	samples, types, help = map[string]float64{}, map[string]string{}, map[string]string{}
	for _, f := range families {
		types[f.GetName()], help[f.GetName()] = f.GetType().String(), f.GetHelp()
		for _, s := range f.GetMetric() {
			var labels []string
			for _, l := range s.GetLabel() {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			key := f.GetName()
			if len(labels) > 0 {
				key += "{" + strings.Join(labels, ",") + "}"
			}
			v := s.GetCounter().GetValue()
			if s.GetGauge() != nil {
				v = s.GetGauge().GetValue()
			}
			samples[key] = v
		}
	}
	return samples, types, help
}

// TestEventCollector feeds the event counters the events of a configured
// master and of one first seen in an event, and checks every per-master
// series, its value, type and help.
func TestEventCollector(t *testing.T) {
	m := newEventMetrics(testLogger(t))
	m.initMasters([]string{"alpha", "idle", "bad\xff"})
	t0 := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	alpha, beta := "master alpha 10.0.0.1 6379", "master beta 10.0.0.2 6379"
	for _, ev := range []sentinel.Event{
		{Type: "+try-failover", Payload: alpha, Time: t0},
		{Type: "-failover-abort-not-elected", Payload: alpha, Time: t0.Add(time.Second)},
		{Type: "+try-failover", Payload: alpha, Time: t0.Add(10 * time.Second)},
		{Type: "+elected-leader", Payload: alpha, Time: t0.Add(10 * time.Second)},
		{Type: "-failover-abort-no-good-slave", Payload: alpha, Time: t0.Add(11 * time.Second)},
		{Type: "+try-failover", Payload: alpha, Time: t0.Add(20 * time.Second)},
		{Type: "+elected-leader", Payload: alpha, Time: t0.Add(20 * time.Second)},
		{Type: "+failover-end", Payload: alpha, Time: t0.Add(23250 * time.Millisecond)},
		{Type: "+switch-master", Payload: "alpha 10.0.0.1 6379 10.0.0.3 6379", Time: t0.Add(24 * time.Second)},
		// beta is not configured (added at runtime by SENTINEL MONITOR):
		// only the series its events touch appear.
		{Type: "+sdown", Payload: beta, Time: t0},
		{Type: "+try-failover", Payload: beta, Time: t0},
		{Type: "-failover-abort-slave-timeout", Payload: beta, Time: t0.Add(time.Second)},
		{Type: "+switch-master", Payload: "beta 10.0.0.2 6379 10.0.0.4 6379", Time: t0},
		{Type: "+switch-master", Payload: "beta 10.0.0.4 6379 10.0.0.2 6379", Time: t0},
		// A master name that is no valid label value is not counted.
		{Type: "+switch-master", Payload: "gamma\xff 1 2 3 4", Time: t0},
	} {
		m.observe(ev)
	}

	samples, types, help := gatherEvents(t, m)
	want := map[string]float64{
		`vigil_failovers_started_total{master="alpha"}`:                        3,
		`vigil_failovers_succeeded_total{master="alpha"}`:                      1,
		`vigil_failovers_aborted_total{master="alpha",reason="not-elected"}`:   1,
		`vigil_failovers_aborted_total{master="alpha",reason="no-good-slave"}`: 1,
		`vigil_failovers_aborted_total{master="alpha",reason="slave-timeout"}`: 0,
		`vigil_elections_won_total{master="alpha"}`:                            2,
		`vigil_switch_master_total{master="alpha"}`:                            1,
		`vigil_last_failover_duration_seconds{master="alpha"}`:                 3.25,
		`vigil_failovers_started_total{master="idle"}`:                         0,
		`vigil_failovers_succeeded_total{master="idle"}`:                       0,
		`vigil_failovers_aborted_total{master="idle",reason="not-elected"}`:    0,
		`vigil_failovers_aborted_total{master="idle",reason="no-good-slave"}`:  0,
		`vigil_failovers_aborted_total{master="idle",reason="slave-timeout"}`:  0,
		`vigil_elections_won_total{master="idle"}`:                             0,
		`vigil_switch_master_total{master="idle"}`:                             0,
		`vigil_failovers_started_total{master="beta"}`:                         1,
		`vigil_failovers_aborted_total{master="beta",reason="slave-timeout"}`:  1,
		`vigil_switch_master_total{master="beta"}`:                             2,
		`vigil_events_total{type="+try-failover"}`:                             4,
		`vigil_events_total{type="+switch-master"}`:                            4,
		`vigil_events_total{type="-failover-abort-slave-timeout"}`:             1,
		`vigil_events_total{type="+odown"}`:                                    0,
	}
	for k, v := range want {
		got, ok := samples[k]
		switch {
		case !ok:
			t.Errorf("no series %s", k)
		case got != v:
			t.Errorf("%s = %v, want %v", k, got, v)
		}
	}
	// No other per-master series: none for beta's untouched counters, nor
	// for the names that are no valid label values.
	for k := range samples {
		if _, ok := want[k]; !ok && !strings.HasPrefix(k, "vigil_events_total{") {
			t.Errorf("unexpected series %s = %v", k, samples[k])
		}
	}

	for name, wantType := range map[string]string{
		"vigil_events_total":                   "COUNTER",
		"vigil_failovers_started_total":        "COUNTER",
		"vigil_failovers_succeeded_total":      "COUNTER",
		"vigil_failovers_aborted_total":        "COUNTER",
		"vigil_elections_won_total":            "COUNTER",
		"vigil_switch_master_total":            "COUNTER",
		"vigil_last_failover_duration_seconds": "GAUGE",
	} {
		if types[name] != wantType {
			t.Errorf("%s has type %q, want %q", name, types[name], wantType)
		}
		if help[name] == "" {
			t.Errorf("%s has no help", name)
		}
	}
	if h := help["vigil_failovers_aborted_total"]; h != "Failover attempts of this node that were aborted, by reason (-failover-abort-<reason>)." {
		t.Errorf("vigil_failovers_aborted_total help = %q", h)
	}
}

// TestEventCollectorConcurrentScrapes runs scrapes while events are counted,
// for the race detector.
func TestEventCollectorConcurrentScrapes(t *testing.T) {
	m := newEventMetrics(testLogger(t))
	m.initMasters([]string{"m0"})
	ns := newNodeSeries(newFakeNode(testStatus()), m)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 500 {
			p := fmt.Sprintf("master m%d 10.0.0.1 6379", i%7)
			m.observe(sentinel.Event{Type: "+try-failover", Payload: p})
			m.observe(sentinel.Event{Type: "-failover-abort-odd", Payload: p})
			m.observe(sentinel.Event{Type: "+failover-end", Payload: p})
		}
	}()
	for range 20 {
		sc := ns.scrape()
		tw := &textWriter{w: io.Discard}
		for _, f := range ns.families {
			if err := tw.family(sc, f); err != nil {
				t.Fatal(err)
			}
			sc.metricFamily(f, dtoLabels{})
		}
	}
	<-done
	samples, _, _ := gatherEvents(t, m)
	if got := samples[`vigil_failovers_aborted_total{master="m0",reason="odd"}`]; got != 72 {
		t.Errorf(`vigil_failovers_aborted_total{master="m0",reason="odd"} = %v, want 72`, got)
	}
}

// TestEventMetricsMemoryPerMaster checks what the event counters cost per
// monitored master: with 1000 masters, each with a finished failover (so
// every series, the duration included, exists), less than 512 bytes of live
// heap per master. A CounterVec series per counter cost about 3.5 KiB.
func TestEventMetricsMemoryPerMaster(t *testing.T) {
	const n = 1000
	names := make([]string, n)
	payloads := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("master-%04d", i)
		payloads[i] = "master " + names[i] + " 10.0.0.1 6379"
	}
	heap := func() uint64 {
		var ms runtime.MemStats
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	// The least of a few runs, so that garbage of other goroutines does not
	// count.
	best := int64(math.MaxInt64)
	for range 3 {
		before := heap()
		m := newEventMetrics(slog.New(slog.DiscardHandler))
		m.initMasters(names)
		for _, p := range payloads {
			m.observe(sentinel.Event{Type: "+try-failover", Payload: p})
			m.observe(sentinel.Event{Type: "+failover-end", Payload: p})
		}
		best = min(best, int64(heap()-before)/n)
		runtime.KeepAlive(m)
	}
	t.Logf("event counters: %d bytes per master", best)
	if best >= 512 {
		t.Errorf("event counters take %d bytes per master, want < 512", best)
	}
}
