package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

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
type Machine struct {
	CPUs        int    `json:"cpus"`
	CPUModel    string `json:"cpu_model,omitempty"`
	MemTotalMiB int64  `json:"mem_total_mib,omitempty"`
	Kernel      string `json:"kernel,omitempty"`
	Platform    string `json:"platform"`
	// LoadAvgStart, LoadAvgBefore (cost section) and LoadAvgAfter are
	// /proc/loadavg's 1, 5 and 15 minute averages: other work on the
	// machine shows up there.
	LoadAvgStart  string `json:"loadavg_start,omitempty"`
	LoadAvgBefore string `json:"loadavg_before_cost,omitempty"`
	LoadAvgAfter  string `json:"loadavg_after,omitempty"`
}

// loadAvg returns the first three fields of /proc/loadavg, or "".
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// Versions of what was measured and measured with.
type Versions struct {
	Vigil string `json:"vigil"`
	// VigilBuilt is the modification time of the vigil binary, and Commit
	// `git describe --always --dirty` of the working tree it was run from.
	VigilBuilt     time.Time `json:"vigil_built"`
	Commit         string    `json:"commit"`
	RedisServer    string    `json:"redis_server"`
	RedisSentinel  string    `json:"redis_sentinel"`
	RedisBenchmark string    `json:"redis_benchmark"`
	Go             string    `json:"go"`
	GoRedis        string    `json:"go_redis"`
}

func readMachine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), Platform: runtime.GOOS + "/" + runtime.GOARCH, LoadAvgStart: loadAvg()}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
		_ = f.Close()
	}
	if f, err := os.Open("/proc/meminfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) >= 2 && fields[0] == "MemTotal:" {
				if kib, err := strconv.ParseInt(fields[1], 10, 64); err == nil {
					m.MemTotalMiB = kib / 1024
				}
				break
			}
		}
		_ = f.Close()
	}
	return m
}

func readVersions(ctx context.Context, vigil string) Versions {
	v := Versions{
		Vigil:          commandOutput(ctx, vigil, "version"),
		RedisServer:    commandOutput(ctx, testbed.DefaultRedisServer, "--version"),
		RedisSentinel:  commandOutput(ctx, testbed.DefaultRedisSentinel, "--version"),
		RedisBenchmark: commandOutput(ctx, "redis-benchmark", "--version"),
		Go:             runtime.Version(),
		GoRedis:        "unknown",
		Commit:         commandOutput(ctx, "git", "describe", "--always", "--dirty"),
	}
	if fi, err := os.Stat(vigil); err == nil {
		v.VigilBuilt = fi.ModTime()
	}
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			if dep.Path == "github.com/redis/go-redis/v9" {
				v.GoRedis = dep.Version
			}
		}
	}
	return v
}

// commandOutput runs a short command and returns its first output line, or
// "unavailable (reason)".
func commandOutput(ctx context.Context, name string, args ...string) string {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).Output()
	if err != nil {
		return fmt.Sprintf("unavailable (%v)", err)
	}
	return firstLine(strings.TrimSpace(string(out)))
}

// writeJSON writes res to path (directories created), indented.
func writeJSON(path string, res *Results) error {
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return fmt.Errorf("encode results: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	return nil
}

// readJSON loads results written by writeJSON.
func readJSON(path string) (*Results, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read results: %w", err)
	}
	var res Results
	if err := json.Unmarshal(b, &res); err != nil {
		return nil, fmt.Errorf("read results %s: %w", path, err)
	}
	return &res, nil
}
