package main

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/vigil-ha/vigil/internal/harness"
	"github.com/vigil-ha/vigil/internal/testbed"
)

// worseThreshold is how much larger vigil's median must be (relative, and
// at least worseMinMS in absolute terms for times) to be listed as worse.
const (
	worseThreshold = 1.10
	worseMinMS     = 50
)

// printSummary writes the per-case tables to w.
func printSummary(w io.Writer, res *Results) error {
	var b bytes.Buffer
	t := newTable(res)
	kinds := res.Settings.Kinds
	for _, da := range res.Settings.DownAfterMS {
		for _, f := range res.Settings.Faults {
			fmt.Fprintf(&b, "\n== %s, down-after %d ms — runs ok:", f, da)
			for _, k := range kinds {
				ok, n := t.runs(caseKey{da, f, k})
				fmt.Fprintf(&b, " %s %d/%d", k, ok, n)
			}
			b.WriteString("\n")
			var rows bytes.Buffer
			rows.WriteString("metric")
			for _, k := range kinds {
				fmt.Fprintf(&rows, "\t%s min / med / max", k)
			}
			rows.WriteString("\tvigil/sentinel\n")
			for _, m := range metricInfos() {
				if !m.appliesTo(f) {
					continue
				}
				rows.WriteString(m.label)
				if m.unit != "" {
					rows.WriteString(" [" + m.unit + "]")
				}
				for _, k := range kinds {
					fmt.Fprintf(&rows, "\t%s", fmtStat(t.stat(caseKey{da, f, k}, m.key), m.unit))
				}
				v := t.stat(caseKey{da, f, testbed.KindVigil}, m.key)
				s := t.stat(caseKey{da, f, testbed.KindSentinel}, m.key)
				fmt.Fprintf(&rows, "\t%s\n", ratio(v, s))
			}
			if err := tabulate(&b, rows.String()); err != nil {
				return err
			}
		}
	}
	if len(res.Cost) > 0 {
		b.WriteString("\n== cost: one controller monitoring one master\n")
		var rows bytes.Buffer
		for _, c := range res.Cost {
			fmt.Fprintf(&rows, "%s\t%s\n", c.Kind, c.summary())
		}
		if err := tabulate(&b, rows.String()); err != nil {
			return err
		}
	}
	if err := scaleSummary(&b, res); err != nil {
		return err
	}
	for _, line := range anomalyLines(res) {
		b.WriteString("events: " + line + "\n")
	}
	for _, line := range worseFindings(res) {
		b.WriteString("vigil worse: " + line + "\n")
	}
	_, err := w.Write(b.Bytes())
	return err
}

// tabulate aligns tab-separated rows into b.
func tabulate(b *bytes.Buffer, rows string) error {
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	if _, err := io.WriteString(tw, rows); err != nil {
		return err
	}
	return tw.Flush()
}

// worseFindings lists where vigil measured worse than redis-sentinel.
func worseFindings(res *Results) []string {
	t := newTable(res)
	var out []string
	for _, da := range res.Settings.DownAfterMS {
		for _, f := range res.Settings.Faults {
			kv := caseKey{da, f, testbed.KindVigil}
			ks := caseKey{da, f, testbed.KindSentinel}
			okV, nV := t.runs(kv)
			okS, nS := t.runs(ks)
			if nV > 0 && nS > 0 && float64(okV)/float64(nV) < float64(okS)/float64(nS) {
				out = append(out, fmt.Sprintf("%s, down-after %d ms: vigil completed %d/%d runs, redis-sentinel %d/%d", f, da, okV, nV, okS, nS))
			}
			for _, m := range metricInfos() {
				if !m.appliesTo(f) {
					continue
				}
				v, s := t.stat(kv, m.key), t.stat(ks, m.key)
				if !v.ok() || !s.ok() {
					if s.ok() && !v.ok() && okV > 0 {
						out = append(out, fmt.Sprintf("%s, down-after %d ms: %s — never observed for vigil", f, da, m.label))
					}
					continue
				}
				diff := v.median - s.median
				if m.unit == "ms" && diff < worseMinMS {
					continue
				}
				if m.unit == "" && diff <= 0 {
					continue
				}
				if s.median > 0 && v.median/s.median < worseThreshold {
					continue
				}
				out = append(out, fmt.Sprintf("%s, down-after %d ms: %s — vigil median %s vs redis-sentinel %s%s",
					f, da, m.label, fmtValue(v.median, m.unit), fmtValue(s.median, m.unit), unitSuffix(m.unit)))
			}
		}
	}
	if cv, cs, ok := costPair(res); ok {
		if float64(cv.RSSIdleKiB) > worseThreshold*float64(cs.RSSIdleKiB) {
			out = append(out, fmt.Sprintf("cost: RSS %.1f MiB vs redis-sentinel %.1f MiB", mib(cv.RSSIdleKiB), mib(cs.RSSIdleKiB)))
		}
		if cv.IdleCPUPercent > worseThreshold*cs.IdleCPUPercent && cv.IdleCPUPercent-cs.IdleCPUPercent > 0.05 {
			out = append(out, fmt.Sprintf("cost: idle CPU %.2f%% vs redis-sentinel %.2f%%", cv.IdleCPUPercent, cs.IdleCPUPercent))
		}
		if cv.BenchRPS*worseThreshold < cs.BenchRPS {
			out = append(out, fmt.Sprintf("cost: discovery throughput %.0f req/s vs redis-sentinel %.0f req/s", cv.BenchRPS, cs.BenchRPS))
		}
	}
	return append(out, scaleWorse(res)...)
}

func unitSuffix(unit string) string {
	if unit == "" {
		return ""
	}
	return " " + unit
}

func mib(kib int64) float64 { return float64(kib) / kibPerMiB }

// costPair returns the successful cost results of vigil and sentinel.
func costPair(res *Results) (v, s CostResult, ok bool) {
	var haveV, haveS bool
	for _, c := range res.Cost {
		if c.Error != "" {
			continue
		}
		switch c.Kind {
		case testbed.KindVigil:
			v, haveV = c, true
		case testbed.KindSentinel:
			s, haveS = c, true
		}
	}
	return v, s, haveV && haveS
}

// writeDocs regenerates the Markdown report and, when there are failover
// results, the plot.
func writeDocs(docPath, pngPath string, res *Results) error {
	rel := ""
	if len(res.Failover) > 0 {
		img, err := plotFailover(res)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(pngPath), 0o755); err != nil {
			return fmt.Errorf("write plot: %w", err)
		}
		if err := os.WriteFile(pngPath, img, 0o644); err != nil {
			return fmt.Errorf("write plot: %w", err)
		}
		if rel, err = filepath.Rel(filepath.Dir(docPath), pngPath); err != nil {
			rel = pngPath
		}
		rel = filepath.ToSlash(rel)
	}
	if err := os.MkdirAll(filepath.Dir(docPath), 0o755); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	if err := os.WriteFile(docPath, markdown(res, rel), 0o644); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// markdown renders docs/performance.md.
func markdown(res *Results, pngRel string) []byte {
	var b bytes.Buffer
	t := newTable(res)
	st := res.Settings
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }

	p("# Performance: vigil vs redis-sentinel\n\n")
	p("<!-- Generated by `make bench` (go run ./bench) from %s; edits here are overwritten. -->\n\n", "bench/results/latest.json")
	p("Measured %s (%s of benchmarking) on one machine: %d CPUs (%s), %d MiB memory, Linux %s (%s).\n",
		res.Started.UTC().Format("2006-01-02 15:04 MST"), res.Finished.Sub(res.Started).Round(time.Second),
		res.Machine.CPUs, orUnknown(res.Machine.CPUModel), res.Machine.MemTotalMiB, orUnknown(res.Machine.Kernel), res.Machine.Platform)
	p("Every process ran on that machine and talked over 127.0.0.1, so network latency is near zero and the\n")
	p("controllers, Redis servers and the measuring harness share %d CPUs: absolute numbers are this machine's, the\n", res.Machine.CPUs)
	p("comparison between the two kinds is the point. The machine may run other work too: its load average\n")
	p("(1, 5, 15 min) was %s at the start, %s before the cost section and %s at the end.\n\n",
		orUnknown(res.Machine.LoadAvgStart), orUnknown(res.Machine.LoadAvgBefore), orUnknown(res.Machine.LoadAvgAfter))
	if len(res.Merged) > 0 {
		p("Some sections come from an earlier run (`-only`/`-merge`), measured at: %s.\n\n", strings.Join(res.Merged, "; "))
	}

	p("| Component | Version |\n|---|---|\n")
	p("| vigil | %s (binary built %s, working tree %s) |\n| redis-sentinel | %s |\n| redis-server | %s |\n| redis-benchmark | %s |\n| Go | %s |\n| go-redis (harness client) | %s |\n\n",
		res.Versions.Vigil, res.Versions.VigilBuilt.UTC().Format("2006-01-02 15:04 MST"), res.Versions.Commit, res.Versions.RedisSentinel, res.Versions.RedisServer, res.Versions.RedisBenchmark, res.Versions.Go, res.Versions.GoRedis)

	p("## Headline: unavailability after a fault\n\n")
	p("Median time from the fault to the first write acknowledged by the new master, as a client writing through\n")
	p("discovery sees it (%d runs per case; min–max in the detailed tables below).\n\n", st.Runs)
	p("*Beyond down-after* is that median minus down-after, for the faults that wait for it: what the controller\n")
	p("adds to the detection time every controller must wait.\n\n")
	p("| Fault | down-after | vigil | redis-sentinel | vigil/sentinel | beyond down-after: vigil | redis-sentinel | vigil/sentinel |\n|---|---|---|---|---|---|---|---|\n")
	for _, da := range st.DownAfterMS {
		for _, f := range st.Faults {
			v := t.stat(caseKey{da, f, testbed.KindVigil}, mFirstWrite)
			s := t.stat(caseKey{da, f, testbed.KindSentinel}, mFirstWrite)
			beyond := "| — | — | — "
			if f != testbed.FaultManual && v.ok() && s.ok() {
				bv, bs := v.median-float64(da), s.median-float64(da)
				r := "—"
				if bs > 0 {
					r = fmt.Sprintf("%.2f×", max(bv, 0)/bs)
				}
				beyond = fmt.Sprintf("| %.0f ms | %.0f ms | %s ", bv, bs, r)
			}
			p("| %s | %d ms | %s | %s | %s %s|\n", faultName(f), da,
				medianMS(v)+incomplete(t, caseKey{da, f, testbed.KindVigil}),
				medianMS(s)+incomplete(t, caseKey{da, f, testbed.KindSentinel}), ratio(v, s), beyond)
		}
	}
	if pngRel != "" {
		p("\n![Failover time distributions](%s)\n\n", pngRel)
		p("*Each dot is one run; boxes span the quartiles, the thick line is the median, whiskers reach min and max.*\n\n")
	} else {
		p("\nNo failover runs in this benchmark (`-failover=false`).\n\n")
	}

	p("## Acknowledged writes lost\n\n")
	p("Summed over every successful run of a case, with the runs that lost any. *Keepable* leaves out the writes\n")
	p("the old master acknowledged just before a kill -9 or SIGSTOP and never sent to a replica (no controller can\n")
	p("keep those; see Metrics); after a manual failover every lost write was keepable.\n\n")
	p("| Fault | down-after | vigil: lost (runs) | redis-sentinel: lost (runs) | vigil: keepable lost | redis-sentinel: keepable lost |\n|---|---|---|---|---|---|\n")
	for _, da := range st.DownAfterMS {
		for _, f := range st.Faults {
			p("| %s | %d ms ", faultName(f), da)
			for _, m := range []string{mLost, mLostKeepable} {
				for _, k := range []testbed.Kind{testbed.KindVigil, testbed.KindSentinel} {
					sum, nonzero, runs := t.total(caseKey{da, f, k}, m)
					if runs == 0 {
						p("| — ")
					} else {
						p("| %.0f (%d of %d) ", sum, nonzero, runs)
					}
				}
			}
			p("|\n")
		}
	}
	p("\n")

	p("## Where vigil is worse\n\n")
	if worse := worseFindings(res); len(worse) == 0 {
		p("Nowhere in this run: no metric's vigil median exceeded redis-sentinel's by more than %.0f%% (and %d ms for times).\n\n",
			(worseThreshold-1)*100, worseMinMS)
	} else {
		p("Every metric whose vigil median exceeds redis-sentinel's by more than %.0f%% (and %d ms for times), and any case\nvigil completed less often:\n\n",
			(worseThreshold-1)*100, worseMinMS)
		for _, line := range worse {
			p("- %s\n", line)
		}
		p("\n")
	}

	if lines := anomalyLines(res); len(lines) > 0 {
		p("## Anomalies in the event streams\n\n")
		p("Counted over every failover run from the controllers' own events. A clean automatic failover has one\n")
		p("`+try-failover`, no abort and no `+sdown` for a replica that stayed healthy. Both count down-after from\n")
		p("the oldest unanswered request, but from the last reply once the connection is refused (Sentinel's\n")
		p("disconnected link): after kill -9 the first `+sdown` may come up to a ping period sooner than down-after\n")
		p("after the fault; after SIGSTOP it cannot.\n\n")
		for _, line := range lines {
			p("- %s\n", line)
		}
		p("\n")
	}

	p("## Setup\n\n")
	p("- **Group**: for every run a fresh redis-server master with %d replicas (no persistence, diskless sync) and %d\n", st.Replicas, st.Controllers)
	p("  controllers of one kind, all configured alike: quorum %d, failover-timeout %d ms, parallel-syncs 1,\n", st.Quorum, st.FailoverTimeoutMS)
	p("  down-after %s ms. Vigil nodes list each other in `gossip.join`; redis-sentinels find each other through the\n", joinInts(st.DownAfterMS, " or "))
	p("  master's hello channel (`sentinel resolve-hostnames no`). The fault is injected only once every controller\n")
	p("  reports the master healthy, all %d replicas, the %d other controllers and `SENTINEL CKQUORUM` OK.\n", st.Replicas, st.Controllers-1)
	p("- **Faults**: `kill9` sends SIGKILL to the master (a crash; it stays dead); `sigstop` sends SIGSTOP (a hung\n")
	p("  process) and SIGCONT as soon as every controller answers the new master; `manual` sends\n")
	p("  `SENTINEL FAILOVER mymaster` to one controller while the master is healthy. The fault time is taken just\n")
	p("  before the signal or command is sent.\n")
	p("- **Writer**: one go-redis `FailoverClient` over the %d controllers (RESP2, dial/read/write timeouts %d ms,\n", st.Controllers, st.WriteTimeoutMS)
	p("  `MaxRetries: -1`, one dial attempt) issues `SET key seq` every %.0f ms, one at a time, and records for every\n", st.WriteIntervalMS)
	p("  write its start, its acknowledgement time and the server that answered. The server is learnt with a custom\n")
	p("  dialer: connections to Redis servers are wrapped and note their address whenever a reply is read, so the\n")
	p("  last address read before `SET` returns is the one that acknowledged it. After the run every acknowledged key\n")
	p("  is read back (MGET) from the final master; a missing key is an **acknowledged write lost**.\n")
	p("- **Observers** (all timestamped on arrival in the harness): a `PSUBSCRIBE *` connection to every controller\n")
	p("  for `+sdown`, `+odown`, `+switch-master`; a poller of `SENTINEL GET-MASTER-ADDR-BY-NAME` on every\n")
	p("  controller every %.0f ms; a prober sending `ROLE` then a probe `SET` to every Redis server every %.0f ms\n", st.PollIntervalMS, st.PollIntervalMS)
	p("  (100 ms timeout), which shows two servers answering `ROLE master` or accepting writes at once.\n")
	p("- Kinds are interleaved run by run so slow drifts of the machine affect both alike. A run fails if no new\n")
	p("  master is answered by every controller and acknowledges a write within down-after + 2 × failover-timeout + 10 s.\n\n")

	p("### Metrics\n\n")
	p("| Metric | Meaning |\n|---|---|\n")
	p("| fault → first +sdown / +odown | earliest `+sdown master mymaster …` / `+odown master mymaster …` event from any controller (kill9, sigstop) |\n")
	p("| fault → first +switch-master | earliest `+switch-master mymaster …` event from any controller |\n")
	p("| fault → every node answers the new master | the moment the last controller first answered the new master to GET-MASTER-ADDR-BY-NAME |\n")
	p("| fault → first acked write on the new master | the unavailability window a client writing through discovery sees; while the old master is frozen (sigstop) each attempt waits the full %d ms timeout, so this has up to that much client-side granularity |\n", st.WriteTimeoutMS)
	p("| acknowledged writes lost | acknowledged writes whose key is missing on the final master |\n")
	p("| … of them a controller could have kept | after kill9 and sigstop, %d ms after the fault, the harness reads from every replica the writes the old master acknowledged in the %d s before it; a write that no replica holds then existed only on the old master, which can send nothing more, and is left out here. A lost write a replica held means the wrong replica was promoted; one acknowledged after the fault means two masters took writes. After a manual failover every lost write counts |\n", unreplicatedAfter.Milliseconds(), int(unreplicatedWindow.Seconds()))
	p("| two servers answering ROLE master / accepting writes at once | total time, after the fault, during which at least two servers did so (sigstop, manual) |\n")
	p("| old master reachable → it answers ROLE slave | from SIGCONT (sigstop) or the fault (manual) until the old master answered ROLE as a replica; capped at the harness's wait |\n\n")

	p("## Detailed results\n\n")
	p("Each cell is min / median / max over the successful runs, in milliseconds unless noted; the last column is the\n")
	p("ratio of the medians (below 1: vigil is faster or loses less).\n\n")
	for _, da := range st.DownAfterMS {
		for _, f := range st.Faults {
			p("### %s, down-after %d ms\n\n", faultName(f), da)
			var runs []string
			for _, k := range st.Kinds {
				ok, n := t.runs(caseKey{da, f, k})
				runs = append(runs, fmt.Sprintf("%s %d/%d", k, ok, n))
			}
			p("Runs completed: %s.\n\n", strings.Join(runs, ", "))
			p("| Metric |")
			for _, k := range st.Kinds {
				p(" %s |", k)
			}
			p(" vigil/sentinel |\n|---|")
			for range st.Kinds {
				p("---|")
			}
			p("---|\n")
			for _, m := range metricInfos() {
				if !m.appliesTo(f) {
					continue
				}
				label := m.label
				if m.unit == "" {
					label += " (count)"
				}
				p("| %s |", label)
				for _, k := range st.Kinds {
					p(" %s |", fmtStat(t.stat(caseKey{da, f, k}, m.key), m.unit))
				}
				v := t.stat(caseKey{da, f, testbed.KindVigil}, m.key)
				s := t.stat(caseKey{da, f, testbed.KindSentinel}, m.key)
				p(" %s |\n", ratio(v, s))
			}
			p("\n")
			failed := false
			for _, k := range st.Kinds {
				for _, r := range t.cases[caseKey{da, f, k}] {
					if !r.OK {
						failed = true
						p("- %s run %d failed: %s. Events after the fault: %s.\n", k, r.Run, harness.FirstLine(r.Error), eventCounts(r))
					}
				}
			}
			if failed {
				p("\n")
			}
		}
	}

	p("## Cost: one controller monitoring one master\n\n")
	if len(res.Cost) == 0 {
		p("Not measured in this run (`-cost=false`).\n\n")
	} else {
		p("One controller (quorum 1) of each kind, each watching a master with %d replicas of its own, all running at\n", st.Replicas)
		p("once. After a %s warm-up CPU is utime+stime from `/proc/PID/stat` over the same %.0f s of idling, as a\n", costWarmup, st.CostIdleS)
		p("percentage of one core; RSS is `VmRSS` from `/proc/PID/status`, split into `RssAnon` (memory the process\n")
		p("owns) and `RssFile` (pages of its executable and libraries: vigil is one static executable, whose pages count\n")
		p("as its own; redis-sentinel's shared libraries are counted too, though other processes map the same pages).\n")
		p("Throughput is the median of %d runs of\n", costBenchRepeats)
		p("`redis-benchmark -c %d -n %d -q SENTINEL get-master-addr-by-name mymaster` against each controller, the kinds\n", costBenchClients, st.CostRequests)
		p("taking turns run by run so that the machine's drift falls on both alike; the controller's CPU is counted over\n")
		p("its own runs. redis-benchmark runs on the same CPUs and needs about one of the two cores itself, so it, not the\n")
		p("controller, sets the pace: the CPU per request is the steadier comparison, the requests/s a check.\n")
		p("The pipelined rows repeat this with `-P %d` (%d requests in flight per connection, %d× the requests), where the\n", costPipeline, costPipeline, costPipeReqFactor)
		p("controller's own work per request, not the round trips, is most of what each side spends. Less CPU per request\n")
		p("need not mean more requests/s here: a controller that answers sooner waits for the client more often, and each\n")
		p("time it sleeps and is woken costs the client a wake-up (in a `perf stat` check, vigil's loop slept an order of magnitude\n")
		p("more often than Sentinel's over the same pipelined run). Spinning instead of sleeping would buy requests/s\n")
		p("with CPU taken from the Redis servers beside the controller, and is not done.\n\n")
		p("| | vigil | redis-sentinel | vigil/sentinel |\n|---|---|---|---|\n")
		v, s, _ := costPair(res)
		row := func(label string, fv, fs float64, format string) {
			r := "—"
			if fs > 0 && fv > 0 {
				r = fmt.Sprintf("%.2f×", fv/fs)
			}
			p("| %s | "+format+" | "+format+" | %s |\n", label, fv, fs, r)
		}
		row("RSS idle (MiB)", mib(v.RSSIdleKiB), mib(s.RSSIdleKiB), "%.1f")
		if v.AnonIdleKiB > 0 && s.AnonIdleKiB > 0 {
			row("… of it anonymous: heap, stacks (MiB)", mib(v.AnonIdleKiB), mib(s.AnonIdleKiB), "%.1f")
			row("… of it mapped files: executable, libraries (MiB)", mib(v.FileIdleKiB), mib(s.FileIdleKiB), "%.1f")
		}
		row("RSS after the benchmark (MiB)", mib(v.RSSAfterBenchKiB), mib(s.RSSAfterBenchKiB), "%.1f")
		row("peak RSS, VmHWM (MiB)", mib(v.HWMKiB), mib(s.HWMKiB), "%.1f")
		row("idle CPU (% of one core)", v.IdleCPUPercent, s.IdleCPUPercent, "%.2f")
		row("GET-MASTER-ADDR-BY-NAME requests/s", v.BenchRPS, s.BenchRPS, "%.0f")
		row(fmt.Sprintf("controller CPU per %d requests (s)", st.CostRequests), v.BenchCPUSeconds, s.BenchCPUSeconds, "%.2f")
		if v.PipeRPS > 0 && s.PipeRPS > 0 {
			row(fmt.Sprintf("… pipelined (-P %d), requests/s", v.Pipeline), v.PipeRPS, s.PipeRPS, "%.0f")
			row(fmt.Sprintf("… pipelined, controller CPU per %d requests (s)", v.PipeRequests), v.PipeCPUSeconds, s.PipeCPUSeconds, "%.2f")
		}
		p("\n")
		for _, c := range res.Cost {
			switch {
			case c.Error != "":
				p("- %s failed: %s\n", c.Kind, harness.FirstLine(c.Error))
			case len(c.PipeRPSRuns) > 0:
				p("- %s: the redis-benchmark runs gave %s requests/s; pipelined %s.\n", c.Kind, joinFloats(c.BenchRPSRuns), joinFloats(c.PipeRPSRuns))
			default:
				p("- %s: the redis-benchmark runs gave %s requests/s.\n", c.Kind, joinFloats(c.BenchRPSRuns))
			}
		}
		p("\n")
	}

	scaleMarkdown(p, res)

	p("## Measured elsewhere\n\n")
	p("- **No false failover under latency jitter below down-after**, network partitions, a stalled controller and\n")
	p("  the other faults: the fault-injection suite (`make chaos`), vigil and redis-sentinel side by side, in\n")
	p("  [reliability.md](reliability.md) (scenario 6 adds 200–400 ms each way with down-after 1000 ms).\n\n")
	p("## Not measured yet\n\n")
	p("- **Failover at scale**: failover time when many masters fail at once, and real redis-server masters with\n")
	p("  replicas at 100+ masters per controller.\n")
	p("- Packet loss without a full partition.\n")
	p("- Multi-host deployments: everything here shares one machine and the loopback interface.\n\n")

	p("## Reproduce\n\n")
	p("```sh\n")
	p("make bench                         # installs redis-sentinel if missing, builds bin/vigil, full run\n")
	p("go run ./bench -quick              # smoke run: 1 run per case, down-after 1000 ms, docs untouched\n")
	p("go run ./bench -runs 3 -faults kill9 -down-after 1000ms -kinds vigil,sentinel\n")
	p("go run ./bench -only scale         # re-measure the scale section only, keep the rest of latest.json\n")
	p("go run ./bench -from bench/results/latest.json   # only rewrite this page and the plot\n")
	p("```\n\n")
	p("Raw results, including every event and lost sequence number, are in `bench/results/latest.json`;\n")
	p("`go run ./bench -help` lists every flag. Settings of this run: %d runs per case, kinds %s, faults %s.\n",
		st.Runs, joinKinds(st.Kinds), joinFaults(st.Faults))
	return b.Bytes()
}

func faultName(f testbed.Fault) string {
	switch f {
	case testbed.FaultKill9:
		return "kill -9 master"
	case testbed.FaultSigstop:
		return "SIGSTOP master"
	case testbed.FaultManual:
		return "manual SENTINEL FAILOVER"
	}
	return string(f)
}

func medianMS(s stat) string {
	if !s.ok() {
		return "—"
	}
	if s.median >= 1000 {
		return fmt.Sprintf("%.2f s", s.median/1000)
	}
	return fmt.Sprintf("%.0f ms", math.Round(s.median))
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

func joinInts(v []int64, sep string) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = fmt.Sprint(x)
	}
	return strings.Join(s, sep)
}

func joinKinds(v []testbed.Kind) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = string(x)
	}
	return strings.Join(s, ", ")
}

func joinFaults(v []testbed.Fault) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = string(x)
	}
	return strings.Join(s, ", ")
}

func joinFloats(v []float64) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = fmt.Sprintf("%.0f", x)
	}
	return strings.Join(s, ", ")
}

// incomplete returns " (ok/n runs)" when some runs of a case failed.
func incomplete(t *table, k caseKey) string {
	ok, n := t.runs(k)
	if ok == n {
		return ""
	}
	return fmt.Sprintf(" (%d/%d runs)", ok, n)
}

// eventCounts summarises the events of a run from the fault on, by type in
// order of first appearance: "+sdown ×3, +odown ×2".
func eventCounts(r RunResult) string {
	counts := map[string]int{}
	var order []string
	for _, ev := range r.Events {
		if ev.At.Before(r.FaultAt) {
			continue
		}
		if counts[ev.Type] == 0 {
			order = append(order, ev.Type)
		}
		counts[ev.Type]++
	}
	if len(order) == 0 {
		return "none"
	}
	parts := make([]string, len(order))
	for i, typ := range order {
		parts[i] = fmt.Sprintf("`%s` ×%d", typ, counts[typ])
	}
	return strings.Join(parts, ", ")
}
