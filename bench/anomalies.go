package main

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/vigil-ha/vigil/internal/testbed"
)

// anomalyCounts are things seen in a kind's event streams that a healthy
// failover should not show, counted over all its runs.
type anomalyCounts struct {
	runs int
	// earlySDown counts kill9/sigstop runs whose first +sdown of the master
	// came sooner after the fault than down-after.
	earlySDown, timedRuns int
	// replicaSDown counts +sdown events for replicas other than the old
	// master (which is really down after kill9 and sigstop).
	replicaSDown int
	// aborts counts -failover-abort-* events by type.
	aborts map[string]int
	// elections counts +try-failover events (a clean automatic failover
	// has one per run; split votes and retries add more).
	elections int
}

// anomalies counts, per kind, the anomalies of its failover runs.
func anomalies(res *Results) map[testbed.Kind]*anomalyCounts {
	out := map[testbed.Kind]*anomalyCounts{}
	for _, r := range res.Failover {
		a := out[r.Kind]
		if a == nil {
			a = &anomalyCounts{aborts: map[string]int{}}
			out[r.Kind] = a
		}
		a.runs++
		if r.Fault != testbed.FaultManual {
			if v, ok := r.Metrics[mSDown]; ok {
				a.timedRuns++
				if v < float64(r.DownAfterMS) {
					a.earlySDown++
				}
			}
		}
		oldHost, oldPort, _ := strings.Cut(r.OldMaster, ":")
		oldRef := "slave " + r.OldMaster + " " + oldHost + " " + oldPort + " "
		for _, ev := range r.Events {
			switch {
			case ev.Type == "+sdown" && strings.HasPrefix(ev.Payload, "slave ") && !strings.HasPrefix(ev.Payload, oldRef):
				a.replicaSDown++
			case strings.HasPrefix(ev.Type, "-failover-abort"):
				a.aborts[ev.Type]++
			case ev.Type == "+try-failover":
				a.elections++
			}
		}
	}
	return out
}

// anomalyLines renders the anomalies of each kind, one line per kind.
func anomalyLines(res *Results) []string {
	counts := anomalies(res)
	var lines []string
	for _, k := range res.Settings.Kinds {
		a := counts[k]
		if a == nil {
			continue
		}
		var aborts []string
		for _, t := range slices.Sorted(maps.Keys(a.aborts)) {
			aborts = append(aborts, fmt.Sprintf("%s ×%d", t, a.aborts[t]))
		}
		abortText := "none"
		if len(aborts) > 0 {
			abortText = strings.Join(aborts, ", ")
		}
		lines = append(lines, fmt.Sprintf("%s: first +sdown sooner than down-after in %d of %d kill9/sigstop runs; "+
			"%d +sdown events for healthy replicas; %d +try-failover over %d runs; failover aborts: %s",
			k, a.earlySDown, a.timedRuns, a.replicaSDown, a.elections, a.runs, abortText))
	}
	return lines
}
