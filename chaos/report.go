package main

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/vigil-ha/vigil/internal/harness"
	"github.com/vigil-ha/vigil/internal/testbed"
)

// worseRecoverFactor and worseRecoverMS: vigil's median time to recover is
// listed as worse when it exceeds redis-sentinel's by both.
const (
	worseRecoverFactor = 1.10
	worseRecoverMS     = 100
)

// stat summarises a set of values.
type stat struct {
	n                int
	min, median, max float64
}

func summarize(values []float64) stat {
	if len(values) == 0 {
		return stat{}
	}
	v := slices.Clone(values)
	slices.Sort(v)
	med := v[len(v)/2]
	if len(v)%2 == 0 {
		med = (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	return stat{n: len(v), min: v[0], median: med, max: v[len(v)-1]}
}

// format renders "min / median / max" (a single value alone), "—" when
// empty, with prec decimals after scaling by div.
func (s stat) format(div float64, prec int) string {
	if s.n == 0 {
		return "—"
	}
	f := func(x float64) string { return fmt.Sprintf("%.*f", prec, x/div) }
	if s.min == s.max {
		return f(s.min)
	}
	return f(s.min) + " / " + f(s.median) + " / " + f(s.max)
}

// cell groups the runs of one scenario and kind.
type cell struct {
	runs []RunResult
}

func (c cell) n() int { return len(c.runs) }

func (c cell) correct() int {
	k := 0
	for _, r := range c.runs {
		if r.Correct {
			k++
		}
	}
	return k
}

func (c cell) harnessErrors() int {
	k := 0
	for _, r := range c.runs {
		if r.Error != "" {
			k++
		}
	}
	return k
}

// values collects f over the runs where ok holds.
func (c cell) values(ok func(RunResult) bool, f func(RunResult) float64) stat {
	var v []float64
	for _, r := range c.runs {
		if ok(r) {
			v = append(v, f(r))
		}
	}
	return summarize(v)
}

func measured(r RunResult) bool  { return r.Error == "" }
func readBack(r RunResult) bool  { return r.Error == "" && r.FinalMaster != "" && r.WritesTried > 0 }
func recovered(r RunResult) bool { return r.Error == "" && r.RecoverMS >= 0 }

func (c cell) lost() stat {
	return c.values(readBack, func(r RunResult) float64 { return float64(r.Lost) })
}

func (c cell) recover() stat {
	return c.values(recovered, func(r RunResult) float64 { return r.RecoverMS })
}

// cells groups res's runs by scenario and kind.
func cells(res *Results) map[string]map[testbed.Kind]cell {
	out := map[string]map[testbed.Kind]cell{}
	for _, r := range res.Runs {
		if out[r.Scenario] == nil {
			out[r.Scenario] = map[testbed.Kind]cell{}
		}
		c := out[r.Scenario][r.Kind]
		c.runs = append(c.runs, r)
		out[r.Scenario][r.Kind] = c
	}
	return out
}

// scenarioByName returns the scenario called name.
func scenarioByName(name string) (scenario, bool) {
	for _, s := range scenarios() {
		if s.name == name {
			return s, true
		}
	}
	return scenario{}, false
}

// kindLabel names a kind in tables.
func kindLabel(k testbed.Kind) string {
	if k == testbed.KindSentinel {
		return "redis-sentinel"
	}
	return string(k)
}

// rows returns the table of one scenario: a header row and one row per
// measure, cells tab-separated.
func rows(sc scenario, byKind map[testbed.Kind]cell, kinds []testbed.Kind) [][]string {
	header := []string{""}
	for _, k := range kinds {
		header = append(header, kindLabel(k))
	}
	out := [][]string{header}
	add := func(label string, f func(c cell) string) {
		row := []string{label}
		for _, k := range kinds {
			c, ok := byKind[k]
			if !ok || c.n() == 0 {
				row = append(row, "n/a")
				continue
			}
			row = append(row, f(c))
		}
		out = append(out, row)
	}
	add("correct outcomes", func(c cell) string {
		s := fmt.Sprintf("%d/%d", c.correct(), c.n())
		if e := c.harnessErrors(); e > 0 {
			s += fmt.Sprintf(" (%d harness errors)", e)
		}
		return s
	})
	add("acked writes lost (min / med / max)", func(c cell) string { return c.lost().format(1, 0) })
	if sc.name == "partition" || sc.name == "partition-with-controller" {
		add("… of them acked by the isolated old master", func(c cell) string {
			return c.values(readBack, func(r RunResult) float64 { return float64(r.LostAfterFault) }).format(1, 0)
		})
		add("isolated master acked writes until [ms after the cut] (max)", func(c cell) string {
			s := c.values(func(r RunResult) bool { return measured(r) && !r.HealAt.IsZero() }, func(r RunResult) float64 { return max(r.IsolatedAckMS, 0) })
			if s.n == 0 {
				return "—"
			}
			return fmt.Sprintf("%.0f", s.max)
		})
		add("writes it acked after the heal (total)", func(c cell) string {
			t := 0
			for _, r := range c.runs {
				t += r.AckedAfterHeal
			}
			return fmt.Sprint(t)
		})
		add("old master demoted [ms after the heal] (max)", func(c cell) string {
			s := c.values(func(r RunResult) bool { return measured(r) && r.DemotedMS > 0 }, func(r RunResult) float64 { return r.DemotedMS })
			if s.n == 0 {
				return "—"
			}
			return fmt.Sprintf("%.0f", s.max)
		})
	}
	if sc.recover != "" {
		add("time to recover ["+sc.recover+", s]", func(c cell) string { return c.recover().format(1000, 2) })
	}
	add("master changes (+switch-master)", func(c cell) string {
		return c.values(measured, func(r RunResult) float64 { return float64(len(r.MasterChanges)) }).format(1, 0)
	})
	add("master +sdown / +odown events (median)", func(c cell) string {
		sd := c.values(measured, func(r RunResult) float64 { return float64(r.MasterSDowns) })
		od := c.values(measured, func(r RunResult) float64 { return float64(r.ODowns) })
		if sd.n == 0 {
			return "—"
		}
		return fmt.Sprintf("%.0f / %.0f", sd.median, od.median)
	})
	add("failover aborts (total)", func(c cell) string {
		t := 0
		for _, r := range c.runs {
			t += r.Aborts
		}
		return fmt.Sprint(t)
	})
	add("two writable masters [ms] (max)", func(c cell) string {
		s := c.values(measured, func(r RunResult) float64 { return r.DualWritableMS })
		if s.n == 0 {
			return "—"
		}
		return fmt.Sprintf("%.0f", s.max)
	})
	if sc.run != nil {
		add("linearizable histories", func(c cell) string {
			k := 0
			for _, r := range c.runs {
				if r.Linearizable == "ok" {
					k++
				}
			}
			return fmt.Sprintf("%d/%d", k, c.n())
		})
		add("operations checked (median)", func(c cell) string {
			return c.values(measured, func(r RunResult) float64 { return float64(r.Ops) }).format(1, 0)
		})
	}
	return out
}

// printSummary writes a table per scenario, the runs that were not
// correct and where vigil is worse.
func printSummary(w io.Writer, res *Results) error {
	var b bytes.Buffer
	byScenario := cells(res)
	for _, name := range res.Scenarios {
		sc, ok := scenarioByName(name)
		if !ok || byScenario[name] == nil {
			continue
		}
		fmt.Fprintf(&b, "\n== %d %s — %s (%s)\n", sc.id, sc.name, sc.title, expectation(sc))
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		for _, row := range rows(sc, byScenario[name], res.Kinds) {
			if _, err := io.WriteString(tw, strings.Join(row, "\t")+"\n"); err != nil {
				return err
			}
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if bad := incorrectRuns(res, true); len(bad) > 0 {
		b.WriteString("\nruns that were not correct:\n")
		for _, line := range bad {
			b.WriteString("  " + line + "\n")
		}
	}
	for _, line := range worseFindings(res) {
		b.WriteString("vigil worse: " + line + "\n")
	}
	_, err := w.Write(b.Bytes())
	return err
}

// expectation says what a correct outcome is.
func expectation(sc scenario) string {
	switch {
	case sc.run != nil:
		return "expect: +OK, one master, nothing lost, a linearizable history"
	case sc.expectFailover:
		return "expect: failover, then one master with every replica following"
	default:
		return "expect: no failover; one master with every replica following"
	}
}

// incorrectRuns describes every run that was not correct; withPaths adds
// where its logs were kept (meaningless outside this machine).
func incorrectRuns(res *Results, withPaths bool) []string {
	var out []string
	for _, r := range res.Runs {
		if r.Correct {
			continue
		}
		what := strings.Join(r.Problems, "; ")
		if r.Error != "" {
			what = "harness error: " + harness.FirstLine(r.Error)
		}
		line := fmt.Sprintf("%s, %s run %d: %s", r.Scenario, kindLabel(r.Kind), r.Run, what)
		if len(r.Notes) > 0 {
			line += " — " + strings.Join(r.Notes, "; ")
		}
		if withPaths && r.Visualization != "" {
			line += " (porcupine visualization: " + r.Visualization + ")"
		}
		if withPaths && r.KeptDir != "" {
			line += " (logs: " + r.KeptDir + ")"
		}
		out = append(out, line)
	}
	return out
}

// worseFindings lists where vigil did worse than redis-sentinel: fewer
// correct outcomes, more writes lost, or a slower recovery.
func worseFindings(res *Results) []string {
	byScenario := cells(res)
	var out []string
	for _, name := range res.Scenarios {
		sc, _ := scenarioByName(name)
		v, okV := byScenario[name][testbed.KindVigil]
		s, okS := byScenario[name][testbed.KindSentinel]
		if !okV {
			continue
		}
		if !okS {
			if v.correct() < v.n() {
				out = append(out, fmt.Sprintf("%s: vigil correct in %d/%d runs (vigil only)", name, v.correct(), v.n()))
			}
			continue
		}
		if float64(v.correct())/float64(v.n()) < float64(s.correct())/float64(s.n()) {
			out = append(out, fmt.Sprintf("%s: vigil correct in %d/%d runs, redis-sentinel %d/%d", name, v.correct(), v.n(), s.correct(), s.n()))
		}
		if lv, ls := v.lost(), s.lost(); lv.n > 0 && ls.n > 0 && lv.median > ls.median {
			out = append(out, fmt.Sprintf("%s: median acked writes lost vigil %.0f, redis-sentinel %.0f", name, lv.median, ls.median))
		}
		if sc.recover != "" {
			rv, rs := v.recover(), s.recover()
			if rv.n > 0 && rs.n > 0 && rv.median > rs.median*worseRecoverFactor && rv.median-rs.median > worseRecoverMS {
				out = append(out, fmt.Sprintf("%s: median time to recover vigil %.2f s, redis-sentinel %.2f s", name, rv.median/1000, rs.median/1000))
			}
		}
	}
	return out
}

// markdown renders docs/reliability.md.
func markdown(res *Results) []byte {
	var b bytes.Buffer
	st := res.Settings
	b.WriteString("# Reliability: fault injection, vigil vs redis-sentinel\n\n")
	b.WriteString("<!-- Generated by `make chaos` (go run ./chaos); do not edit by hand. -->\n\n")
	fmt.Fprintf(&b, "Generated %s by `go run ./chaos`", res.Finished.UTC().Format("2006-01-02 15:04 MST"))
	if res.Quick {
		b.WriteString(" -quick (a smoke run: shortened phases)")
	}
	fmt.Fprintf(&b, ", %d run(s) per scenario and controller kind, in %s.\n\n", st.Runs, res.Finished.Sub(res.Started).Round(time.Second))
	b.WriteString("Each run starts a fresh Redis group on 127.0.0.1 — one master and " +
		fmt.Sprintf("%d replicas, real `redis-server` processes — watched by %d controllers ", st.Replicas, st.Controllers) +
		"(vigil nodes, or `redis-sentinel` processes with the same settings: " +
		fmt.Sprintf("quorum %d, down-after %d ms, failover-timeout %d ms), ", st.Quorum, st.DownAfterMS, st.FailoverTimeoutMS) +
		"injects one fault, waits for the group to settle and checks it. Runs of the two kinds are interleaved, one after the other, " +
		"so that drifts of the machine hit both alike. Scenarios 9 and 10 place the processes on two sides of a network namespace " +
		"(`testbed.Partition`: a veth pair with 10.231.N.0/24 addresses) so that a cut drops everything between the sides, " +
		"UDP gossip included, while the observers keep seeing both sides.\n\n")
	if st.VigilExtra != "" {
		fmt.Fprintf(&b, "vigil nodes ran with these extra master settings: `%s`.\n\n", strings.TrimSpace(strings.Join(strings.Fields(st.VigilExtra), " ")))
	}
	b.WriteString("Checkers:\n\n")
	fmt.Fprintf(&b, "- **(a) settled**: exactly one server answers `ROLE` master, every other live server replicates from it with its link up "+
		"(`ROLE` state `connected`) and the master lists them all, and every controller answers that address to "+
		"`SENTINEL GET-MASTER-ADDR-BY-NAME`. It must hold without a break for %d ms, within %.0f s of the end of the fault. "+
		"*Time to recover* runs to the start of that stable stretch.\n", st.StableForMS, st.SettleTimeoutS)
	fmt.Fprintf(&b, "- **(b) acknowledged writes lost**: a go-redis `FailoverClient` discovering the master through the controllers "+
		"writes `SET chaos:w:<n> <n>` every %.0f ms (timeout %d ms, no retries) during the whole run; afterwards every acknowledged "+
		"key is read back from the final master, and those missing are lost.\n", st.WriteIntervalMS, st.WriteTimeoutMS)
	fmt.Fprintf(&b, "- **(c) linearizability** (vigil only, `SENTINEL SWITCHOVER` is a vigil extension): %d clients read and write "+
		"one register through discovery while the master role is handed over %d times; the history is checked with "+
		"[porcupine](https://github.com/anishathalye/porcupine). Writes whose outcome is unknown (timeout, connection closed) "+
		"count as possibly applied at any later time; errors replied by the server count as not applied.\n", st.LinClients, st.Switchovers)
	b.WriteString("- **(d) writes available** (scenario 12): while only controllers are down, every write the writer sends must be " +
		"acknowledged; a failed one (`-NOREPLICAS` from a fence, a timeout) is a problem, as losing controllers must never cost " +
		"the application its master.\n\n")
	b.WriteString("Other rows: *master changes* counts distinct `+switch-master` announcements; *+sdown / +odown* the controllers' " +
		"events about the master; *two writable masters* how long two servers accepted a probe write at once (probed every 20 ms " +
		"with a 100 ms timeout, so a figure below ~100 ms is within measurement error).\n\n")

	b.WriteString("## Summary\n\n")
	byScenario := cells(res)
	b.WriteString("| Scenario | Expected |")
	for _, k := range res.Kinds {
		fmt.Fprintf(&b, " %s: correct | lost (med) | recover (med) |", kindLabel(k))
	}
	b.WriteString("\n|---|---|")
	for range res.Kinds {
		b.WriteString("---|---|---|")
	}
	b.WriteString("\n")
	for _, name := range res.Scenarios {
		sc, ok := scenarioByName(name)
		if !ok {
			continue
		}
		exp := "no failover"
		switch {
		case sc.run != nil:
			exp = "linearizable, no loss"
		case sc.expectFailover:
			exp = "failover"
		}
		fmt.Fprintf(&b, "| %d %s | %s |", sc.id, sc.name, exp)
		for _, k := range res.Kinds {
			c, ok := byScenario[name][k]
			if !ok || c.n() == 0 {
				b.WriteString(" n/a | | |")
				continue
			}
			mark := ""
			if c.correct() < c.n() {
				mark = " ⚠"
			}
			rec := "—"
			if sc.recover != "" {
				if s := c.recover(); s.n > 0 {
					rec = fmt.Sprintf("%.2f s", s.median/1000)
				}
			}
			lost := "—"
			if s := c.lost(); s.n > 0 {
				lost = fmt.Sprintf("%.0f", s.median)
			}
			fmt.Fprintf(&b, " %d/%d%s | %s | %s |", c.correct(), c.n(), mark, lost, rec)
		}
		b.WriteString("\n")
	}
	b.WriteString("\n")

	b.WriteString("## Where vigil is worse, or a checker failed\n\n")
	worse := worseFindings(res)
	bad := incorrectRuns(res, false)
	if len(worse) == 0 && len(bad) == 0 {
		b.WriteString("Nowhere in this run.\n\n")
	}
	for _, line := range worse {
		b.WriteString("- vigil worse — " + line + "\n")
	}
	for _, line := range bad {
		b.WriteString("- not correct — " + markdownEscape(line) + "\n")
	}
	if len(worse)+len(bad) > 0 {
		b.WriteString("\n")
	}

	b.WriteString(splitBrainText)
	b.WriteString("## Scenarios\n\n")
	for _, name := range res.Scenarios {
		sc, ok := scenarioByName(name)
		if !ok || byScenario[name] == nil {
			continue
		}
		fmt.Fprintf(&b, "### %d. %s\n\n%s. *%s.*\n\n", sc.id, sc.name, upperFirst(sc.title), upperFirst(expectation(sc)))
		for i, row := range rows(sc, byScenario[name], res.Kinds) {
			b.WriteString("| " + strings.Join(row, " | ") + " |\n")
			if i == 0 {
				b.WriteString("|---" + strings.Repeat("|---", len(row)-1) + "|\n")
			}
		}
		b.WriteString("\n")
		for _, k := range res.Kinds {
			for _, r := range byScenario[name][k].runs {
				if len(r.Notes) == 0 {
					continue
				}
				fmt.Fprintf(&b, "- %s run %d: %s\n", kindLabel(k), r.Run, markdownEscape(strings.Join(r.Notes, "; ")))
			}
		}
		b.WriteString("\n")
	}

	b.WriteString("## Machine and versions\n\n")
	m, v := res.Machine, res.Versions
	fmt.Fprintf(&b, "- %d CPUs (%s), %d MiB, Linux %s, %s; load average %s at the start, %s at the end\n",
		m.CPUs, m.CPUModel, m.MemTotalMiB, m.Kernel, m.Platform, m.LoadAvgStart, m.LoadAvgAfter)
	fmt.Fprintf(&b, "- vigil: %s (binary built %s, tree %s)\n", v.Vigil, v.VigilBuilt.UTC().Format("2006-01-02 15:04 MST"), v.Commit)
	fmt.Fprintf(&b, "- redis-server: %s\n- redis-sentinel: %s\n", v.RedisServer, v.RedisSentinel)
	fmt.Fprintf(&b, "- %s, go-redis %s, porcupine %s\n\n", v.Go, v.GoRedis, v.Porcupine)
	b.WriteString("## Reproduce\n\n```\nmake build\nmake chaos                                  # every scenario, 3 runs each, both kinds\n" +
		"go run ./chaos -quick                       # smoke run: 1 run, shorter phases, docs untouched\n" +
		"go run ./chaos -scenario partition,5 -runs 5 -kinds vigil\n```\n\n" +
		"Runs that are not correct keep their directory (configurations, logs of every process); the terminal output names it. " +
		"`go test ./chaos` runs scenarios 1, 2 and 5 once against vigil (skipped with -short).\n")
	return b.Bytes()
}

// markdownEscape keeps a line of free text from breaking a Markdown list.
func markdownEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "*", `\*`, "_", `\_`, "<", "&lt;").Replace(s)
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// splitBrainText is the hand-written part of the report: how vigil bounds
// split brain, and what the suite cannot inject.
const splitBrainText = `## Bounded split brain

The partition scenarios measure what a controller does for the writes an
isolated master keeps acknowledging: every one of them is lost when the
majority promotes a replica. Scenario 9 is the reference partition
{master, controller 1, writer} | {replicas, controllers 2 and 3}: the writer
can only ask controller 1, which keeps naming the old master, so the writes
go on as long as the old master takes them. Scenario 7 cuts the master from
every controller and replica but not from the writer.

redis-sentinel does nothing on the master's side: the old master acknowledges
writes for the whole cut, and Sentinel waits before demoting it after the
heal. vigil bounds the window from both ends:

- **Fence on the master's side** (` + "`isolation-fence`" + `, on by default): a vigil node
  that still reaches the master but has heard from no replica of it for
  2.5 PING periods (625 ms here, at down-after 1000 ms; never under 600 ms)
  and from no majority of the nodes for 800 ms (nodes broadcast their
  state every 500 ms) raises the master's ` + "`min-replicas-to-write`" + ` to
  1048576 + its value (never for a master without known replicas, which no
  failover could replace). Redis compares it with its count of good replicas on
  every write, so the very next write gets ` + "`-NOREPLICAS`" + `. The decision is
  ` + "`failover.DecideFence`" + `, pure and table-tested. The fence is lifted only
  on positive evidence: the majority heard again with this master unchanged,
  a replica following it again, or the master's INFO showing replica
  acknowledgements after the fence; when the majority failed over meanwhile
  the fence stays until the old master answers ROLE slave, then the saved
  value is restored. CLIENT PAUSE WRITE was rejected for this: it blocks
  PUBLISH (the hello messages every node sends) and hangs clients instead of
  refusing them, and a returning node's first PUBLISH would stall its link
  for a second before the demotion. A fence left by a node that died is
  undone by a node that hears the majority and sees the master healthy
  (checked every 5 s).
- **Write guard** (` + "`write-guard`" + `, off by default): min-replicas-to-write 1 with
  min-replicas-max-lag 1 on the master, so a master cut off from its replicas
  refuses writes by itself, also when no vigil node is on its side
  (scenario 7). Redis counts good replicas once a second from their
  once-a-second acknowledgements, so after a silent cut (scenario 9) it
  bites 1–3 s late; scenario 7's proxy closes the replication connections
  at the cut, so there the master notices at once, which flatters it. It stays
  off by default because a master whose replicas all died refuses writes
  until a node of the majority lowers the setting (it does, within a tick,
  when it sees no healthy replica).
- **Demotion after the heal**: the old master is known as a replica that
  reports role master since long before the heal, so the 750 ms grace
  (which protects a replica promoted by a peer whose gossip has not arrived
  yet) has long passed: it is converted as soon as a node reaches it again.

## Faults not injected

A **clock jump** is not injected: it cannot be confined to the processes
under test. Go reads both clocks through the vDSO, so libfaketime does not
reach vigil; a Linux time namespace (` + "`unshare -T`" + `) offsets only the
monotonic and boot clocks, and only once, before the process starts; moving
the system clock would hit every process on the machine. It would also test
nothing in vigil: every timeout and TILT itself use Go's monotonic clock,
which a wall-clock jump does not move. What Sentinel's TILT protects against
is the controller's own timer running late, and scenario 11 (SIGSTOP of a
controller) is exactly that.

`
