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
	costWarmup       = 3 * time.Second
	costBenchClients = 50
	costBenchRepeats = 9
	// costPipeline is redis-benchmark -P of the pipelined runs, which send
	// costPipeReqFactor times as many requests.
	costPipeline      = 16
	costPipeReqFactor = 10
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
	// RSSIdleKiB is VmRSS after the idle period; AnonIdleKiB and
	// FileIdleKiB its RssAnon and RssFile parts.
	RSSIdleKiB  int64 `json:"rss_idle_kib"`
	AnonIdleKiB int64 `json:"anon_idle_kib,omitempty"`
	FileIdleKiB int64 `json:"file_idle_kib,omitempty"`
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
	// PipeRPS, PipeRPSRuns, PipeRequests and PipeCPUSeconds are the same
	// for the pipelined runs: Pipeline requests in flight per connection.
	PipeRPS        float64   `json:"pipe_rps,omitempty"`
	PipeRPSRuns    []float64 `json:"pipe_rps_runs,omitempty"`
	Pipeline       int       `json:"pipeline,omitempty"`
	PipeRequests   int       `json:"pipe_requests,omitempty"`
	PipeCPUSeconds float64   `json:"pipe_cpu_seconds,omitempty"`
	Error          string    `json:"error,omitempty"`
}

func (c CostResult) summary() string {
	if c.Error != "" {
		return "FAILED: " + harness.FirstLine(c.Error)
	}
	return fmt.Sprintf("RSS idle %.1f MiB, idle CPU %.2f%%, %.0f GET-MASTER-ADDR-BY-NAME/s (CPU %.2fs), RSS after %.1f MiB",
		float64(c.RSSIdleKiB)/kibPerMiB, c.IdleCPUPercent, c.BenchRPS, c.BenchCPUSeconds, float64(c.RSSAfterBenchKiB)/kibPerMiB)
}

// costSubject is one controller of the cost section and what is measured
// of it.
type costSubject struct {
	res  CostResult
	env  *testbed.Env
	pid  int
	port int
}

// costSection measures every kind side by side: one controller of each
// kind watching a group of its own, all started together, idle over the
// same period, then redis-benchmark against each in turn, kind after kind
// for costBenchRepeats rounds. The machine's drift and other load then
// fall on every kind alike instead of on whichever ran first.
func (b *bench) costSection(ctx context.Context) []CostResult {
	o := b.opts
	subjects := make([]*costSubject, 0, len(o.kinds))
	defer func() {
		for _, sub := range subjects {
			if sub.env != nil {
				_ = sub.env.Close()
			}
		}
	}()
	for _, k := range o.kinds {
		sub := &costSubject{res: CostResult{Kind: k, BenchClients: costBenchClients, BenchRequests: o.costReqs,
			Pipeline: costPipeline, PipeRequests: o.costReqs * costPipeReqFactor}}
		subjects = append(subjects, sub)
		if err := b.costStart(ctx, sub); err != nil {
			sub.res.Error = err.Error()
		}
	}
	live := func() []*costSubject {
		var l []*costSubject
		for _, sub := range subjects {
			if sub.res.Error == "" {
				l = append(l, sub)
			}
		}
		return l
	}
	fail := func(sub *costSubject, err error) {
		if sub.res.Error == "" {
			sub.res.Error = err.Error()
		}
	}
	results := func() []CostResult {
		out := make([]CostResult, len(subjects))
		for i, sub := range subjects {
			out[i] = sub.res
		}
		return out
	}

	if err := sleep(ctx, costWarmup); err != nil {
		return results()
	}
	before := map[*costSubject]testbed.ProcStats{}
	for _, sub := range live() {
		st, err := testbed.ReadProcStats(sub.pid)
		if err != nil {
			fail(sub, err)
			continue
		}
		before[sub] = st
	}
	t0 := time.Now()
	if err := sleep(ctx, o.costIdle); err != nil {
		return results()
	}
	elapsed := time.Since(t0).Seconds()
	for _, sub := range live() {
		st, err := testbed.ReadProcStats(sub.pid)
		if err != nil {
			fail(sub, err)
			continue
		}
		sub.res.IdleSeconds = elapsed
		sub.res.RSSIdleKiB = st.RSSKiB
		sub.res.AnonIdleKiB, sub.res.FileIdleKiB = st.AnonKiB, st.FileKiB
		sub.res.IdleCPUPercent = float64(st.CPUTicks-before[sub].CPUTicks) / testbed.ClockTicksPerSecond / elapsed * percent
	}

	// The machine's other load makes single runs noisy: alternate the
	// kinds and take the median of each. CPU is counted over a kind's own
	// runs only.
	ticks, pipeTicks := map[*costSubject]int64{}, map[*costSubject]int64{}
	for range costBenchRepeats {
		for _, sub := range live() {
			rps, t, err := benchRun(ctx, sub, o.masterName, o.costReqs, 1)
			if err == nil {
				sub.res.BenchRPSRuns = append(sub.res.BenchRPSRuns, rps)
				ticks[sub] += t
				rps, t, err = benchRun(ctx, sub, o.masterName, sub.res.PipeRequests, costPipeline)
			}
			if err == nil {
				sub.res.PipeRPSRuns = append(sub.res.PipeRPSRuns, rps)
				pipeTicks[sub] += t
			}
			if ctx.Err() != nil {
				return results()
			}
			if err != nil {
				fail(sub, err)
			}
		}
	}
	for _, sub := range live() {
		st, err := testbed.ReadProcStats(sub.pid)
		if err != nil {
			fail(sub, err)
			continue
		}
		sub.res.BenchRPS = summarize(sub.res.BenchRPSRuns).median
		sub.res.BenchCPUSeconds = float64(ticks[sub]) / testbed.ClockTicksPerSecond / float64(len(sub.res.BenchRPSRuns))
		sub.res.PipeRPS = summarize(sub.res.PipeRPSRuns).median
		sub.res.PipeCPUSeconds = float64(pipeTicks[sub]) / testbed.ClockTicksPerSecond / float64(len(sub.res.PipeRPSRuns))
		sub.res.RSSAfterBenchKiB = st.RSSKiB
		sub.res.HWMKiB = st.HWMKiB
	}
	return results()
}

// costStart starts sub's controller watching a fresh group and waits
// until it knows the replicas.
func (b *bench) costStart(ctx context.Context, sub *costSubject) error {
	o := b.opts
	env, err := testbed.New(testbed.Options{Vigil: o.vigil, Keep: o.keep, Logger: b.log})
	if err != nil {
		return err
	}
	sub.env = env
	grp, err := env.StartGroup(ctx, o.replicas)
	if err != nil {
		return err
	}
	ctrls, err := env.StartControllers(ctx, costControllerCnt, testbed.ControllerConfig{
		Kind:            sub.res.Kind,
		MasterName:      o.masterName,
		MasterAddr:      grp.Master.Addr(),
		Quorum:          costQuorum,
		DownAfter:       5 * time.Second,
		FailoverTimeout: o.failoverTimeout,
	})
	if err != nil {
		return err
	}
	if err := testbed.WaitControllersReady(ctx, ctrls, o.masterName, o.replicas); err != nil {
		return err
	}
	sub.pid, sub.port = ctrls[0].Proc().PID(), ctrls[0].Port
	return nil
}

// benchRun runs redis-benchmark once against sub's controller and returns
// the requests per second it reported and the controller's CPU ticks over
// the run.
func benchRun(ctx context.Context, sub *costSubject, name string, requests, pipeline int) (float64, int64, error) {
	s0, err := testbed.ReadProcStats(sub.pid)
	if err != nil {
		return 0, 0, err
	}
	rps, err := runRedisBenchmark(ctx, sub.port, name, requests, pipeline)
	if err != nil {
		return 0, 0, err
	}
	s1, err := testbed.ReadProcStats(sub.pid)
	if err != nil {
		return 0, 0, err
	}
	return rps, s1.CPUTicks - s0.CPUTicks, nil
}

// rpsPattern finds redis-benchmark's "N requests per second".
var rpsPattern = regexp.MustCompile(`([0-9]+(?:\.[0-9]+)?) requests per second`)

// runRedisBenchmark runs redis-benchmark -q against port, with pipeline
// requests in flight per connection, and returns the requests per second
// it reports.
func runRedisBenchmark(ctx context.Context, port int, name string, requests, pipeline int) (float64, error) {
	ctx, cancel := context.WithTimeout(ctx, costBenchTimeout)
	defer cancel()
	args := []string{"-h", "127.0.0.1", "-p", strconv.Itoa(port), "-c", strconv.Itoa(costBenchClients),
		"-n", strconv.Itoa(requests), "-P", strconv.Itoa(pipeline), "-q", "SENTINEL", "get-master-addr-by-name", name}
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
