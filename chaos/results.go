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
type Machine struct {
	CPUs         int    `json:"cpus"`
	CPUModel     string `json:"cpu_model,omitempty"`
	MemTotalMiB  int64  `json:"mem_total_mib,omitempty"`
	Kernel       string `json:"kernel,omitempty"`
	Platform     string `json:"platform"`
	LoadAvgStart string `json:"loadavg_start,omitempty"`
	LoadAvgAfter string `json:"loadavg_after,omitempty"`
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

func readMachine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), Platform: runtime.GOOS + "/" + runtime.GOARCH, LoadAvgStart: loadAvg()}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	m.CPUModel = procField("/proc/cpuinfo", "model name")
	if kib, err := strconv.ParseInt(strings.TrimSuffix(procField("/proc/meminfo", "MemTotal"), " kB"), 10, 64); err == nil {
		m.MemTotalMiB = kib / 1024
	}
	return m
}

// procField returns the value of the first "key: value" line of a /proc
// file, or "".
func procField(path, key string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// Versions of what was tested and tested with.
type Versions struct {
	Vigil         string    `json:"vigil"`
	VigilBuilt    time.Time `json:"vigil_built"`
	Commit        string    `json:"commit"`
	RedisServer   string    `json:"redis_server"`
	RedisSentinel string    `json:"redis_sentinel"`
	Go            string    `json:"go"`
	GoRedis       string    `json:"go_redis"`
	Porcupine     string    `json:"porcupine"`
}

func readVersions(ctx context.Context, vigil string) Versions {
	v := Versions{
		Vigil:         commandOutput(ctx, vigil, "version"),
		RedisServer:   commandOutput(ctx, testbed.DefaultRedisServer, "--version"),
		RedisSentinel: commandOutput(ctx, testbed.DefaultRedisSentinel, "--version"),
		Go:            runtime.Version(),
		GoRedis:       "unknown",
		Porcupine:     "unknown",
		Commit:        commandOutput(ctx, "git", "describe", "--always", "--dirty"),
	}
	if fi, err := os.Stat(vigil); err == nil {
		v.VigilBuilt = fi.ModTime()
	}
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			switch dep.Path {
			case "github.com/redis/go-redis/v9":
				v.GoRedis = dep.Version
			case "github.com/anishathalye/porcupine":
				v.Porcupine = dep.Version
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
