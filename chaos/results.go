package main

import (
	"context"
	"time"

	"github.com/vigil-ha/vigil/internal/harness"
	"github.com/vigil-ha/vigil/internal/testbed"
)

// Results is everything one suite run produced; it is what -out holds.
type Results struct {
	Started   time.Time      `json:"started"`
	Finished  time.Time      `json:"finished"`
	Quick     bool           `json:"quick"`
	Machine   Machine        `json:"machine"`
	Versions  Versions       `json:"versions"`
	Settings  Settings       `json:"settings"`
	Kinds     []testbed.Kind `json:"kinds"`
	Scenarios []string       `json:"scenarios"`
	Runs      []RunResult    `json:"runs"`
}

// Settings are the parameters of the suite, for the report.
type Settings struct {
	Runs              int     `json:"runs"`
	Controllers       int     `json:"controllers"`
	Replicas          int     `json:"replicas"`
	Quorum            int     `json:"quorum"`
	DownAfterMS       int64   `json:"down_after_ms"`
	FailoverTimeoutMS int64   `json:"failover_timeout_ms"`
	WriteIntervalMS   float64 `json:"write_interval_ms"`
	WriteTimeoutMS    int64   `json:"write_timeout_ms"`
	SettleTimeoutS    float64 `json:"settle_timeout_s"`
	StableForMS       int64   `json:"stable_for_ms"`
	FlapCycles        int     `json:"flap_cycles"`
	FlapStopMS        int64   `json:"flap_stop_ms"`
	FlapRunMS         int64   `json:"flap_run_ms"`
	LatencyMinMS      int64   `json:"latency_min_ms"`
	LatencyMaxMS      int64   `json:"latency_max_ms"`
	LatencyForS       float64 `json:"latency_for_s"`
	CutForS           float64 `json:"cut_for_s"`
	OutageForS        float64 `json:"outage_for_s"`
	Switchovers       int     `json:"switchovers"`
	LinClients        int     `json:"lin_clients"`
	// VigilExtra is what -write-guard / -isolation-fence added to every
	// vigil node's master section.
	VigilExtra string `json:"vigil_extra,omitempty"`
}

func (s settings) describe(runs int) Settings {
	return Settings{
		Runs:              runs,
		Controllers:       s.controllers,
		Replicas:          s.replicas,
		Quorum:            s.quorum,
		DownAfterMS:       s.downAfter.Milliseconds(),
		FailoverTimeoutMS: s.failoverTimeout.Milliseconds(),
		WriteIntervalMS:   float64(s.writeInterval.Microseconds()) / 1000,
		WriteTimeoutMS:    s.writeTimeout.Milliseconds(),
		SettleTimeoutS:    s.settleTimeout.Seconds(),
		StableForMS:       s.stableFor.Milliseconds(),
		FlapCycles:        s.flapCycles,
		FlapStopMS:        s.flapStop.Milliseconds(),
		FlapRunMS:         s.flapRun.Milliseconds(),
		LatencyMinMS:      s.latencyMin.Milliseconds(),
		LatencyMaxMS:      s.latencyMax.Milliseconds(),
		LatencyForS:       s.latencyFor.Seconds(),
		CutForS:           s.cutFor.Seconds(),
		OutageForS:        s.outageFor.Seconds(),
		Switchovers:       s.switchovers,
		LinClients:        s.linClients,
		VigilExtra:        s.vigilExtra,
	}
}

// Machine describes where the suite ran.
type Machine = harness.Machine

// Versions of what was run and what ran it.
type Versions struct {
	harness.Versions
	Porcupine string `json:"porcupine"`
}

func readVersions(ctx context.Context, vigil string) Versions {
	return Versions{Versions: harness.ReadVersions(ctx, vigil), Porcupine: harness.ModuleVersion("github.com/anishathalye/porcupine")}
}

// writeJSON writes res to path (directories created), indented.
func writeJSON(path string, res *Results) error { return harness.WriteJSON(path, res) }
