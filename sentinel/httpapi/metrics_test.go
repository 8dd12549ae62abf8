package httpapi

import (
	"net/http"
	"strings"
	"testing"
	"time"

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
