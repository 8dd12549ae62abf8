package main

import (
	"context"
	"strings"
	"time"

	"github.com/vigil-ha/vigil/internal/harness"
	"github.com/vigil-ha/vigil/internal/testbed"
)

// Results is everything one benchmark produced; it is what -out holds.
type Results struct {
	Started  time.Time    `json:"started"`
	Finished time.Time    `json:"finished"`
	Quick    bool         `json:"quick"`
	Machine  Machine      `json:"machine"`
	Versions Versions     `json:"versions"`
	Settings Settings     `json:"settings"`
	Failover []RunResult  `json:"failover"`
	Cost     []CostResult `json:"cost,omitempty"`
	// Scale is one controller monitoring 1, 100, 1000 fake masters.
	Scale []ScaleResult `json:"scale,omitempty"`
	// Merged lists the sections copied from an earlier results file
	// (-merge, -only) with when they were measured, e.g.
	// "failover: 2026-11-28 06:12 UTC".
	Merged []string `json:"merged,omitempty"`
}

// mergeResults copies into res the sections of old that this run (options
// o) did not measure, so that one section can be re-run alone.
func mergeResults(res, old *Results, o options) {
	when := func(section string) {
		res.Merged = append(res.Merged, section+": "+old.Started.UTC().Format("2006-01-02 15:04 MST"))
	}
	for _, m := range old.Merged { // sections old itself had copied
		section, _, _ := strings.Cut(m, ":")
		if (section == "failover" && !o.failover) || (section == "cost" && !o.cost) || (section == "scale" && !o.scale) {
			res.Merged = append(res.Merged, m)
		}
	}
	inherited := func(section string) bool {
		for _, m := range old.Merged {
			if strings.HasPrefix(m, section+":") {
				return true
			}
		}
		return false
	}
	if !o.failover && len(old.Failover) > 0 {
		res.Failover = old.Failover
		st := &res.Settings
		st.Runs, st.Faults, st.DownAfterMS = old.Settings.Runs, old.Settings.Faults, old.Settings.DownAfterMS
		st.Controllers, st.Replicas, st.Quorum = old.Settings.Controllers, old.Settings.Replicas, old.Settings.Quorum
		st.WriteIntervalMS, st.WriteTimeoutMS, st.PollIntervalMS = old.Settings.WriteIntervalMS, old.Settings.WriteTimeoutMS, old.Settings.PollIntervalMS
		if !inherited("failover") {
			when("failover")
		}
	}
	if !o.cost && len(old.Cost) > 0 {
		res.Cost = old.Cost
		res.Settings.CostIdleS, res.Settings.CostRequests = old.Settings.CostIdleS, old.Settings.CostRequests
		if !inherited("cost") {
			when("cost")
		}
	}
	if !o.scale && len(old.Scale) > 0 {
		res.Scale = old.Scale
		res.Settings.ScaleIdleS, res.Settings.ScaleMasters = old.Settings.ScaleIdleS, old.Settings.ScaleMasters
		if !inherited("scale") {
			when("scale")
		}
	}
}

// Settings are the parameters shared by every run.
type Settings struct {
	Runs              int             `json:"runs"`
	Kinds             []testbed.Kind  `json:"kinds"`
	Faults            []testbed.Fault `json:"faults"`
	DownAfterMS       []int64         `json:"down_after_ms"`
	Controllers       int             `json:"controllers"`
	Replicas          int             `json:"replicas"`
	Quorum            int             `json:"quorum"`
	FailoverTimeoutMS int64           `json:"failover_timeout_ms"`
	WriteIntervalMS   float64         `json:"write_interval_ms"`
	WriteTimeoutMS    int64           `json:"write_timeout_ms"`
	PollIntervalMS    float64         `json:"poll_interval_ms"`
	CostIdleS         float64         `json:"cost_idle_s"`
	CostRequests      int             `json:"cost_requests"`
	ScaleIdleS        float64         `json:"scale_idle_s,omitempty"`
	ScaleMasters      []int           `json:"scale_masters,omitempty"`
}

// Machine describes where the benchmark ran.
type Machine = harness.Machine

// Versions of what was run and what ran it.
type Versions struct {
	harness.Versions
	RedisBenchmark string `json:"redis_benchmark"`
}

func readVersions(ctx context.Context, vigil string) Versions {
	return Versions{Versions: harness.ReadVersions(ctx, vigil), RedisBenchmark: harness.CommandOutput(ctx, "redis-benchmark", "--version")}
}

// writeJSON writes res to path (directories created), indented.
func writeJSON(path string, res *Results) error { return harness.WriteJSON(path, res) }

// readJSON loads results written by writeJSON.
func readJSON(path string) (*Results, error) {
	var res Results
	if err := harness.ReadJSON(path, &res); err != nil {
		return nil, err
	}
	return &res, nil
}
