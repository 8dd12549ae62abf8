package main

import (
	"bytes"
	"fmt"
	"sort"

	"github.com/vigil-ha/vigil/internal/harness"
	"github.com/vigil-ha/vigil/internal/testbed"
)

// scaleFind returns the successful scale result of kind at count masters.
func scaleFind(res *Results, kind testbed.Kind, count int) (ScaleResult, bool) {
	for _, s := range res.Scale {
		if s.Kind == kind && s.Masters == count && s.Error == "" {
			return s, true
		}
	}
	return ScaleResult{}, false
}

// scaleCounts lists the measured master counts, ascending.
func scaleCounts(res *Results) []int {
	seen := map[int]bool{}
	var out []int
	for _, s := range res.Scale {
		if !seen[s.Masters] {
			seen[s.Masters] = true
			out = append(out, s.Masters)
		}
	}
	sort.Ints(out)
	return out
}

// scaleSlope is the cost per additional master between the smallest count
// and count n: (cost(n) - cost(smallest)) / (n - smallest).
type scaleSlope struct {
	from, to      int
	rssKiB        float64 // KiB per master
	cpuPerK       float64 // % of one core per 1000 masters
	goroutines    float64 // per master (vigil)
	threads       float64 // per master
	connsPerMastr float64 // at n
}

func slopeOf(res *Results, kind testbed.Kind, n int) (scaleSlope, bool) {
	counts := scaleCounts(res)
	if len(counts) == 0 || counts[0] >= n {
		return scaleSlope{}, false
	}
	a, okA := scaleFind(res, kind, counts[0])
	b, okB := scaleFind(res, kind, n)
	if !okA || !okB {
		return scaleSlope{}, false
	}
	d := float64(n - counts[0])
	return scaleSlope{
		from:          counts[0],
		to:            n,
		rssKiB:        float64(b.RSSKiB-a.RSSKiB) / d,
		cpuPerK:       (b.IdleCPUPercent - a.IdleCPUPercent) / d * 1000,
		goroutines:    float64(b.Goroutines-a.Goroutines) / d,
		threads:       float64(b.Threads-a.Threads) / d,
		connsPerMastr: float64(b.Conns) / float64(n),
	}, true
}

// scaleSummary renders the scale results as an aligned table for stdout.
func scaleSummary(b *bytes.Buffer, res *Results) error {
	if len(res.Scale) == 0 {
		return nil
	}
	b.WriteString("\n== scale: one controller monitoring N fake masters\n")
	var rows bytes.Buffer
	for _, s := range res.Scale {
		fmt.Fprintf(&rows, "%s\t%d\t%s\n", s.Kind, s.Masters, s.summary())
	}
	for _, n := range scaleCounts(res)[1:] {
		v, okV := slopeOf(res, testbed.KindVigil, n)
		s, okS := slopeOf(res, testbed.KindSentinel, n)
		if okV && okS {
			fmt.Fprintf(&rows, "per master %d→%d\tRSS KiB\tvigil %.1f, sentinel %.1f (%s)\n", v.from, n, v.rssKiB, s.rssKiB, ratioF(v.rssKiB, s.rssKiB))
			fmt.Fprintf(&rows, "per 1000 masters %d→%d\tCPU %%\tvigil %.2f, sentinel %.2f (%s)\n", v.from, n, v.cpuPerK, s.cpuPerK, ratioF(v.cpuPerK, s.cpuPerK))
		}
	}
	return tabulate(b, rows.String())
}

// ratioF formats v/s, or "—" when it is meaningless.
func ratioF(v, s float64) string {
	if s <= 0 || v < 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f×", v/s)
}

// scaleWorse lists where vigil's cost per master exceeds redis-sentinel's
// at the largest count.
func scaleWorse(res *Results) []string {
	counts := scaleCounts(res)
	if len(counts) < 2 {
		return nil
	}
	n := counts[len(counts)-1]
	v, okV := slopeOf(res, testbed.KindVigil, n)
	s, okS := slopeOf(res, testbed.KindSentinel, n)
	if !okV || !okS {
		return nil
	}
	var out []string
	if v.rssKiB > worseThreshold*s.rssKiB {
		out = append(out, fmt.Sprintf("scale: memory per master %.1f KiB vs redis-sentinel %.1f KiB (from %d to %d masters)", v.rssKiB, s.rssKiB, v.from, n))
	}
	if v.cpuPerK > worseThreshold*s.cpuPerK && v.cpuPerK-s.cpuPerK > 0.05 {
		out = append(out, fmt.Sprintf("scale: idle CPU per 1000 masters %.2f%% vs redis-sentinel %.2f%% (from %d to %d masters)", v.cpuPerK, s.cpuPerK, v.from, n))
	}
	for _, c := range counts {
		if r, ok := scaleFind(res, testbed.KindVigil, c); ok && r.SDown > 0 {
			out = append(out, fmt.Sprintf("scale: vigil flagged %d of %d healthy fake masters down", r.SDown, c))
		}
	}
	return out
}

// scaleMarkdown renders the scale section of docs/performance.md.
func scaleMarkdown(p func(string, ...any), res *Results) {
	st := res.Settings
	p("## Scale: one controller monitoring many masters\n\n")
	if len(res.Scale) == 0 {
		p("Not measured in this run (`-scale=false`).\n\n")
		return
	}
	p("One controller of each kind monitors N masters (quorum 1, down-after %d ms, failover-timeout %d ms, no\n", scaleDownAfter.Milliseconds(), st.FailoverTimeoutMS)
	p("replicas, no other controller). The masters are **fake**: `internal/fakeredis` endpoints served by one separate\n")
	p("process (`bench fakeredis -n N`), one loopback port each, answering what both controllers send a master\n")
	p("without replicas (PING, INFO with `run_id`, `role:master`, `connected_slaves:0` and a moving\n")
	p("`master_repl_offset`, ROLE, CLIENT SETNAME, SUBSCRIBE/PUBLISH on the hello channels); N redis-server\n")
	p("processes would measure the servers rather than the controller. Measured after every master is listed\n")
	p("healthy with a run id, a %s warm-up, then %.0f s of idling: RSS (`VmRSS`, at the end), CPU (utime+stime, %% of\n", scaleWarmup, st.ScaleIdleS)
	p("one core, the median of %d equal parts of the idle period, so that one burst of other work on the machine\n", scaleWindows)
	p("does not decide it), threads (`/proc/PID/status`), vigil's goroutines (`go_goroutines` from its `/metrics`), and\n")
	p("established TCP connections from the controller to the fake masters (`/proc/PID/fd` matched with\n")
	p("`/proc/PID/net/tcp`). *s_down* counts masters flagged down at the end (healthy fakes: must be 0).\n\n")
	p("| Masters | Kind | RSS (MiB) | idle CPU (%%) | threads | goroutines | conns per master | ready after (s) | s_down |\n")
	p("|---|---|---|---|---|---|---|---|---|\n")
	for _, c := range scaleCounts(res) {
		for _, k := range st.Kinds {
			r, ok := scaleFind(res, k, c)
			if !ok {
				p("| %d | %s | failed | | | | | | |\n", c, k)
				continue
			}
			g := "—"
			if r.Goroutines > 0 {
				g = fmt.Sprint(r.Goroutines)
			}
			p("| %d | %s | %.1f | %.2f | %d | %s | %.2f | %.1f | %d |\n", c, k, mib(r.RSSKiB), r.IdleCPUPercent, r.Threads, g,
				float64(r.Conns)/float64(c), r.ReadySeconds, r.SDown)
		}
		v, okV := scaleFind(res, testbed.KindVigil, c)
		s, okS := scaleFind(res, testbed.KindSentinel, c)
		if okV && okS {
			p("| %d | vigil/sentinel | %s | %s | | | | | |\n", c, ratioF(float64(v.RSSKiB), float64(s.RSSKiB)), ratioF(v.IdleCPUPercent, s.IdleCPUPercent))
		}
	}
	p("\n")
	counts := scaleCounts(res)
	if len(counts) > 1 {
		p("Cost of each additional master, `(cost at N − cost at %d) / (N − %d)`:\n\n", counts[0], counts[0])
		p("| Per additional master | vigil | redis-sentinel | vigil/sentinel |\n|---|---|---|---|\n")
		for _, n := range counts[1:] {
			v, okV := slopeOf(res, testbed.KindVigil, n)
			s, okS := slopeOf(res, testbed.KindSentinel, n)
			if !okV || !okS {
				continue
			}
			p("| memory, %d→%d masters (KiB) | %.1f | %.1f | %s |\n", v.from, n, v.rssKiB, s.rssKiB, ratioF(v.rssKiB, s.rssKiB))
			p("| idle CPU, %d→%d masters (%% of one core per 1000 masters) | %.2f | %.2f | %s |\n", v.from, n, v.cpuPerK, s.cpuPerK, ratioF(v.cpuPerK, s.cpuPerK))
			p("| threads per 1000 masters, %d→%d | %.1f | %.1f | |\n", v.from, n, v.threads*1000, s.threads*1000)
			p("| goroutines per master, %d→%d (vigil) | %.2f | — | |\n", v.from, n, v.goroutines)
		}
		p("\n")
		p("The step to the largest count is what a master costs. A small step mostly measures noise and the Go\n")
		p("runtime: a few hundred KiB of heap more or less, or a garbage collection that has or has not yet returned\n")
		p("the start-up's garbage, moves it by several KiB per master. `vigil run` sets the collector's GOGC to 25\n")
		p("unless the environment sets it (docs/operations.md, sizing).\n\n")
	}
	for _, r := range res.Scale {
		if r.Error != "" {
			p("- %s with %d masters failed: %s\n", r.Kind, r.Masters, harness.FirstLine(r.Error))
		}
	}
	p("\n")
}
