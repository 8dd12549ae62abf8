package main

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"time"

	"github.com/vigil-ha/vigil/internal/harness"
	"github.com/vigil-ha/vigil/internal/testbed"
)

// Cost-section settings that are not flags.
const (
	costWarmup        = 3 * time.Second
	costBenchClients  = 50
	costBenchRepeats  = 3
	costBenchTimeout  = 5 * time.Minute
	benchmarkBinary   = "redis-benchmark"
	kibPerMiB         = 1024
	percent           = 100
	costQuorum        = 1
	costControllerCnt = 1
)

// CostResult is the resource use of one controller monitoring one master.
type CostResult struct {
	Kind testbed.Kind `json:"kind"`
	// RSSIdleKiB is VmRSS after the idle period.
	RSSIdleKiB int64 `json:"rss_idle_kib"`
	// RSSAfterBenchKiB is VmRSS right after redis-benchmark, HWMKiB the
	// peak (VmHWM) over the whole life of the process.
	RSSAfterBenchKiB int64 `json:"rss_after_bench_kib"`
	HWMKiB           int64 `json:"hwm_kib"`
	// IdleCPUPercent is the CPU time used over IdleSeconds of idling, as
	// a percentage of one core.
	IdleCPUPercent float64 `json:"idle_cpu_percent"`
	IdleSeconds    float64 `json:"idle_seconds"`
	// BenchRPS is the median of what redis-benchmark reported, over
	// BenchRPSRuns, for SENTINEL GET-MASTER-ADDR-BY-NAME with BenchClients
	// connections and BenchRequests requests per run.
	BenchRPS      float64   `json:"bench_rps"`
	BenchRPSRuns  []float64 `json:"bench_rps_runs"`
	BenchClients  int       `json:"bench_clients"`
	BenchRequests int       `json:"bench_requests"`
	// BenchCPUSeconds is the controller's CPU time per benchmark run
	// (BenchRequests requests), averaged over the runs.
	BenchCPUSeconds float64 `json:"bench_cpu_seconds"`
	Error           string  `json:"error,omitempty"`
}

func (c CostResult) summary() string {
	if c.Error != "" {
		return "FAILED: " + harness.FirstLine(c.Error)
	}
	return fmt.Sprintf("RSS idle %.1f MiB, idle CPU %.2f%%, %.0f GET-MASTER-ADDR-BY-NAME/s (CPU %.2fs), RSS after %.1f MiB",
		float64(c.RSSIdleKiB)/kibPerMiB, c.IdleCPUPercent, c.BenchRPS, c.BenchCPUSeconds, float64(c.RSSAfterBenchKiB)/kibPerMiB)
}

// costRun starts one controller of kind watching a fresh group, measures
// its memory and idle CPU, then its discovery throughput.
func (b *bench) costRun(ctx context.Context, kind testbed.Kind) (CostResult, error) {
	o := b.opts
	c := CostResult{Kind: kind, BenchClients: costBenchClients, BenchRequests: o.costReqs}
	env, err := testbed.New(testbed.Options{Vigil: o.vigil, Keep: o.keep, Logger: b.log})
	if err != nil {
		return c, err
	}
	defer func() { _ = env.Close() }()
	grp, err := env.StartGroup(ctx, o.replicas)
	if err != nil {
		return c, err
	}
	ctrls, err := env.StartControllers(ctx, costControllerCnt, testbed.ControllerConfig{
		Kind:            kind,
		MasterName:      o.masterName,
		MasterAddr:      grp.Master.Addr(),
		Quorum:          costQuorum,
		DownAfter:       5 * time.Second,
		FailoverTimeout: o.failoverTimeout,
	})
	if err != nil {
		return c, err
	}
	if err := testbed.WaitControllersReady(ctx, ctrls, o.masterName, o.replicas); err != nil {
		return c, err
	}
	ctrl := ctrls[0]
	pid := ctrl.Proc().PID()
	if err := sleep(ctx, costWarmup); err != nil {
		return c, err
	}

	s0, err := testbed.ReadProcStats(pid)
	if err != nil {
		return c, err
	}
	t0 := time.Now()
	if err := sleep(ctx, o.costIdle); err != nil {
		return c, err
	}
	s1, err := testbed.ReadProcStats(pid)
	if err != nil {
		return c, err
	}
	elapsed := time.Since(t0).Seconds()
	c.IdleSeconds = elapsed
	c.RSSIdleKiB = s1.RSSKiB
	c.IdleCPUPercent = float64(s1.CPUTicks-s0.CPUTicks) / testbed.ClockTicksPerSecond / elapsed * percent

	// The machine's other load makes single runs noisy: take the median.
	for range costBenchRepeats {
		rps, err := runRedisBenchmark(ctx, ctrl.Port, o.masterName, o.costReqs)
		if err != nil {
			return c, err
		}
		c.BenchRPSRuns = append(c.BenchRPSRuns, rps)
	}
	s2, err := testbed.ReadProcStats(pid)
	if err != nil {
		return c, err
	}
	c.BenchRPS = summarize(c.BenchRPSRuns).median
	c.BenchCPUSeconds = float64(s2.CPUTicks-s1.CPUTicks) / testbed.ClockTicksPerSecond / costBenchRepeats
	c.RSSAfterBenchKiB = s2.RSSKiB
	c.HWMKiB = s2.HWMKiB
	return c, nil
}

// rpsPattern finds redis-benchmark's "N requests per second".
var rpsPattern = regexp.MustCompile(`([0-9]+(?:\.[0-9]+)?) requests per second`)

// runRedisBenchmark runs redis-benchmark -q against port and returns the
// requests per second it reports.
func runRedisBenchmark(ctx context.Context, port int, name string, requests int) (float64, error) {
	ctx, cancel := context.WithTimeout(ctx, costBenchTimeout)
	defer cancel()
	args := []string{"-h", "127.0.0.1", "-p", strconv.Itoa(port), "-c", strconv.Itoa(costBenchClients),
		"-n", strconv.Itoa(requests), "-q", "SENTINEL", "get-master-addr-by-name", name}
	out, err := exec.CommandContext(ctx, benchmarkBinary, args...).CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("%s %v: %w: %s", benchmarkBinary, args, err, out)
	}
	return parseRPS(string(out))
}

// parseRPS returns the last "N requests per second" figure of
// redis-benchmark's output.
func parseRPS(out string) (float64, error) {
	m := rpsPattern.FindAllStringSubmatch(out, -1)
	if len(m) == 0 {
		return 0, fmt.Errorf("no \"requests per second\" in redis-benchmark output %q", out)
	}
	return strconv.ParseFloat(m[len(m)-1][1], 64)
}
