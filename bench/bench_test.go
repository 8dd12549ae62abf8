package main

import (
	"bytes"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/internal/harness"
	"github.com/vigil-ha/vigil/internal/testbed"
)

func TestParseRPS(t *testing.T) {
	out := "SENTINEL get-master-addr-by-name mymaster: rps=0.0 (overall: nan) avg_msec=nan (overall: nan)\r" +
		"SENTINEL get-master-addr-by-name mymaster: 23866.35 requests per second, p50=1.031 msec\n"
	got, err := parseRPS(out)
	if err != nil || got != 23866.35 {
		t.Fatalf("parseRPS = %v, %v", got, err)
	}
	if got, err := parseRPS("x: 100000 requests per second\n"); err != nil || got != 100000 {
		t.Fatalf("integer rps = %v, %v", got, err)
	}
	if _, err := parseRPS("ERR unknown command"); err == nil {
		t.Fatal("parseRPS accepted output without a figure")
	}
}

func TestSummarize(t *testing.T) {
	s := summarize([]float64{5, 1, 3})
	if s.n != 3 || s.min != 1 || s.median != 3 || s.max != 5 {
		t.Errorf("odd: %+v", s)
	}
	s = summarize([]float64{4, 1, 3, 2})
	if s.median != 2.5 {
		t.Errorf("even median %v", s.median)
	}
	if s := summarize(nil); s.ok() {
		t.Error("empty summary is ok")
	}
	if q := quantile([]float64{0, 10}, 0.25); q != 2.5 {
		t.Errorf("quantile = %v", q)
	}
	if q := quantile(nil, 0.5); q != 0 {
		t.Errorf("quantile(nil) = %v", q)
	}
}

func TestRatioAndFormat(t *testing.T) {
	for _, tc := range []struct {
		v, s []float64
		want string
	}{
		{[]float64{50}, []float64{100}, "0.50×"},
		{[]float64{0}, []float64{0}, "—"},
		{[]float64{3}, []float64{0}, "∞"},
		{nil, []float64{1}, "—"},
	} {
		if got := ratio(summarize(tc.v), summarize(tc.s)); got != tc.want {
			t.Errorf("ratio(%v, %v) = %q, want %q", tc.v, tc.s, got, tc.want)
		}
	}
	if got := fmtStat(summarize([]float64{1.25, 1200.4, 30}), "ms"); got != "1.2 / 30 / 1200" {
		t.Errorf("fmtStat = %q", got)
	}
	if got := fmtStat(summarize([]float64{2, 0}), ""); got != "0 / 1 / 2" {
		t.Errorf("fmtStat count = %q", got)
	}
}

func TestNiceStep(t *testing.T) {
	for _, tc := range []struct{ span, want float64 }{
		{2.4, 0.5}, {10, 2}, {0.3, 0.1}, {0, 1}, {16, 5},
	} {
		if got := niceStep(tc.span); got != tc.want {
			t.Errorf("niceStep(%v) = %v, want %v", tc.span, got, tc.want)
		}
	}
}

// TestFontCoversLabels checks every character the plot draws is in the
// font.
func TestFontCoversLabels(t *testing.T) {
	res := syntheticResults()
	var texts []string
	texts = append(texts, "FAILOVER TIMES, VIGIL VS REDIS-SENTINEL (5 RUNS PER CASE, SECONDS)",
		"ADDR: FAULT TO EVERY NODE ANSWERING THE NEW MASTER.  WRITE: FAULT TO FIRST ACKED WRITE ON THE NEW MASTER.",
		"NO DATA", "0.125")
	for _, f := range res.Settings.Faults {
		texts = append(texts, shortFaultName(f)+", DOWN-AFTER 1000 MS")
	}
	for _, s := range texts {
		for _, r := range s {
			if _, ok := glyph(r); !ok {
				t.Errorf("font lacks %q (in %q)", r, s)
			}
		}
	}
}

func syntheticResults() *Results {
	res := &Results{
		Started:  time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Finished: time.Date(2026, 1, 2, 3, 14, 5, 0, time.UTC),
		Machine:  Machine{CPUs: 2, MemTotalMiB: 1024, Platform: "linux/amd64"},
		Versions: Versions{Versions: harness.Versions{Vigil: "vigil 0.1.0", RedisSentinel: "Redis server v=7.0.15"}},
		Settings: Settings{
			Runs: 3, Kinds: []testbed.Kind{testbed.KindVigil, testbed.KindSentinel},
			Faults:      []testbed.Fault{testbed.FaultKill9, testbed.FaultSigstop, testbed.FaultManual},
			DownAfterMS: []int64{1000}, Controllers: 3, Replicas: 2, Quorum: 2, FailoverTimeoutMS: 10000,
			WriteIntervalMS: 1, WriteTimeoutMS: 200, PollIntervalMS: 5, CostIdleS: 20, CostRequests: 100000,
		},
		Cost: []CostResult{
			{Kind: testbed.KindVigil, RSSIdleKiB: 16000, IdleCPUPercent: 0.5, BenchRPS: 20000},
			{Kind: testbed.KindSentinel, RSSIdleKiB: 12000, IdleCPUPercent: 0.3, BenchRPS: 30000},
		},
	}
	for _, f := range res.Settings.Faults {
		for run := 1; run <= 3; run++ {
			for _, k := range res.Settings.Kinds {
				scale := 1.0
				if k == testbed.KindSentinel {
					scale = 2
				}
				r := RunResult{Kind: k, Fault: f, DownAfterMS: 1000, Run: run, OK: true, Metrics: map[string]float64{
					mSDown: 1000 * scale, mODown: 1100 * scale, mSwitch: 1500 * scale, mAllNodes: 1600*scale + float64(run),
					mFirstWrite: 1700 * scale, mLost: float64(run - 1), mDualMaster: 20 / scale,
				}}
				if k == testbed.KindVigil && run == 3 && f == testbed.FaultManual {
					r = RunResult{Kind: k, Fault: f, DownAfterMS: 1000, Run: run, Error: "timed out\nmore", Metrics: map[string]float64{}}
				}
				res.Failover = append(res.Failover, r)
			}
		}
	}
	return res
}

func TestReports(t *testing.T) {
	res := syntheticResults()
	var out bytes.Buffer
	if err := printSummary(&out, res); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"== kill9, down-after 1000 ms", "vigil 2/3", "0.50×", "vigil worse: cost: RSS"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, out.String())
		}
	}
	md := string(markdown(res, "performance-failover.png"))
	for _, want := range []string{
		"# Performance: vigil vs redis-sentinel", "![Failover time distributions](performance-failover.png)",
		"| kill -9 master | 1000 ms | 1.70 s | 3.40 s | 0.50× |", "vigil run 3 failed: timed out",
		"## Where vigil is worse", "acknowledged writes lost", "## Scale: one controller monitoring many masters", "2 CPUs",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
	worse := strings.Join(worseFindings(res), "\n")
	if !strings.Contains(worse, "manual, down-after 1000 ms: vigil completed 2/3 runs") {
		t.Errorf("worse findings lack the failed run:\n%s", worse)
	}
	if strings.Contains(worse, "fault → first +sdown") {
		t.Errorf("vigil is faster but listed as worse:\n%s", worse)
	}
}

func TestPlot(t *testing.T) {
	b, err := plotFailover(syntheticResults())
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if img.Bounds().Dx() != plotWidth {
		t.Errorf("width %d", img.Bounds().Dx())
	}
	empty := syntheticResults()
	empty.Failover = nil
	if _, err := plotFailover(empty); err != nil {
		t.Errorf("plot with no runs: %v", err)
	}
	empty.Settings.Faults = nil
	if _, err := plotFailover(empty); err == nil {
		t.Error("plot with no panels succeeded")
	}
}

func TestSegments(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	writes := []testbed.Write{
		{Seq: 0, Start: at(-900), End: at(-899), Addr: "a"},
		{Seq: 1, Start: at(-10), End: at(-9), Addr: "a"},
		{Seq: 2, Start: at(0), End: at(1), Addr: "a"},
		{Seq: 3, Start: at(2), End: at(3), Err: "refused"},
		{Seq: 4, Start: at(4), End: at(5), Err: "refused"},
		{Seq: 5, Start: at(6), End: at(7), Addr: "b"},
	}
	got := segments(writes, at(-500), t0)
	if len(got) != 3 || got[0].Count != 2 || got[0].FromMS != -10 || got[1].Outcome != "error refused" || got[1].Count != 2 || got[2].ToMS != 7 {
		t.Errorf("segments = %+v", got)
	}
}

func TestParseFlags(t *testing.T) {
	o, err := parseFlags([]string{"-quick"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.runs != 1 || len(o.downAfters) != 1 || o.docs || o.out != "bench/results/quick.json" || o.costIdle != 5*time.Second {
		t.Errorf("quick defaults: %+v", o)
	}
	o, err = parseFlags([]string{"-quick", "-runs", "2", "-docs"}, io.Discard)
	if err != nil || o.runs != 2 || !o.docs {
		t.Errorf("explicit flags with -quick: %+v, %v", o, err)
	}
	o, err = parseFlags(nil, io.Discard)
	if err != nil || o.runs != 5 || len(o.downAfters) != 2 || len(o.kinds) != 2 || len(o.faults) != 3 || !o.docs {
		t.Errorf("defaults: %+v, %v", o, err)
	}
	for _, bad := range [][]string{{"-kinds", "vigil,etcd"}, {"-faults", "partition"}, {"-down-after", "10ms"}, {"-runs", "0"}, {"extra"}} {
		if _, err := parseFlags(bad, io.Discard); err == nil {
			t.Errorf("parseFlags(%q) accepted", bad)
		}
	}
}

func TestAnomalies(t *testing.T) {
	res := &Results{Settings: Settings{Kinds: []testbed.Kind{testbed.KindVigil, testbed.KindSentinel}}}
	res.Failover = []RunResult{
		{Kind: testbed.KindVigil, Fault: testbed.FaultKill9, DownAfterMS: 1000, OK: true, OldMaster: "127.0.0.1:7000",
			Metrics: map[string]float64{mSDown: 700},
			Events: []testbed.Event{
				{Type: "+sdown", Payload: "slave 127.0.0.1:7001 127.0.0.1 7001 @ mymaster 127.0.0.1 7000"},
				{Type: "+sdown", Payload: "slave 127.0.0.1:7000 127.0.0.1 7000 @ mymaster 127.0.0.1 7001"},
				{Type: "+try-failover"}, {Type: "-failover-abort-no-good-slave"}, {Type: "+try-failover"},
			}},
		{Kind: testbed.KindSentinel, Fault: testbed.FaultManual, DownAfterMS: 1000, OK: true, OldMaster: "127.0.0.1:7000",
			Metrics: map[string]float64{mSDown: 10}, Events: []testbed.Event{{Type: "+try-failover"}}},
	}
	a := anomalies(res)
	v := a[testbed.KindVigil]
	if v.earlySDown != 1 || v.timedRuns != 1 || v.replicaSDown != 1 || v.elections != 2 || v.aborts["-failover-abort-no-good-slave"] != 1 {
		t.Errorf("vigil anomalies %+v", v)
	}
	if s := a[testbed.KindSentinel]; s.timedRuns != 0 || s.earlySDown != 0 || s.elections != 1 {
		t.Errorf("sentinel anomalies %+v (manual runs have no timed s_down)", s)
	}
	lines := anomalyLines(res)
	if len(lines) != 2 || !strings.Contains(lines[0], "-failover-abort-no-good-slave ×1") || !strings.Contains(lines[1], "aborts: none") {
		t.Errorf("anomaly lines %q", lines)
	}
}

// TestReportFromJSON round-trips results through the JSON file and
// regenerates the report from it without measuring anything.
func TestReportFromJSON(t *testing.T) {
	dir := t.TempDir()
	res := syntheticResults()
	res.Failover[len(res.Failover)-2].Events = []testbed.Event{
		{Type: "+sdown", At: time.Unix(5, 0)}, {Type: "+odown", At: time.Unix(6, 0)}, {Type: "+sdown", At: time.Unix(7, 0)},
	}
	path := filepath.Join(dir, "results.json")
	if err := writeJSON(path, res); err != nil {
		t.Fatal(err)
	}
	doc, img := filepath.Join(dir, "docs", "perf.md"), filepath.Join(dir, "docs", "perf.png")
	var stdout, stderr bytes.Buffer
	if code := run([]string{"-from", path, "-doc", doc, "-png", img}, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	md, err := os.ReadFile(doc)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"](perf.png)", "| manual SENTINEL FAILOVER | 1000 ms | 1.70 s (2/3 runs) |", "Events after the fault: `+sdown` ×2, `+odown` ×1."} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if _, err := os.Stat(img); err != nil {
		t.Error(err)
	}
	if code := run([]string{"-from", filepath.Join(dir, "missing.json")}, &stdout, &stderr); code != exitFailure {
		t.Errorf("missing file: exit %d", code)
	}
}

func TestScaleReport(t *testing.T) {
	res := syntheticResults()
	res.Settings.ScaleMasters, res.Settings.ScaleIdleS = []int{1, 1000}, 15
	res.Scale = []ScaleResult{
		{Kind: testbed.KindVigil, Masters: 1, RSSKiB: 10240, IdleCPUPercent: 0.2, Threads: 7, Goroutines: 30, Conns: 2},
		{Kind: testbed.KindSentinel, Masters: 1, RSSKiB: 12288, IdleCPUPercent: 0.2, Threads: 5, Conns: 2},
		{Kind: testbed.KindVigil, Masters: 1000, RSSKiB: 10240 + 999*20, IdleCPUPercent: 0.2 + 999*0.004, Threads: 9, Goroutines: 1029, Conns: 2000},
		{Kind: testbed.KindSentinel, Masters: 1000, RSSKiB: 12288 + 999*10, IdleCPUPercent: 0.2 + 999*0.004, Threads: 5, Conns: 2000},
	}
	md := string(markdown(res, ""))
	for _, want := range []string{
		"| 1000 | vigil | 29.5 | 4.20 | 9 | 1029 | 2.00 |",
		"| memory, 1→1000 masters (KiB) | 20.0 | 10.0 | 2.00× |",
		"| idle CPU, 1→1000 masters (% of one core per 1000 masters) | 4.00 | 4.00 | 1.00× |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
	worse := strings.Join(worseFindings(res), "\n")
	if !strings.Contains(worse, "scale: memory per master 20.0 KiB vs redis-sentinel 10.0 KiB") || strings.Contains(worse, "scale: idle CPU") {
		t.Errorf("worse findings:\n%s", worse)
	}
	var out bytes.Buffer
	if err := printSummary(&out, res); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "== scale: one controller monitoring N fake masters") {
		t.Errorf("summary lacks the scale table:\n%s", out.String())
	}
}

func TestMergeKeepsSectionsNotRun(t *testing.T) {
	old := syntheticResults()
	old.Scale = []ScaleResult{{Kind: testbed.KindVigil, Masters: 1}}
	old.Settings.ScaleMasters = []int{1}
	res := &Results{Started: old.Started.Add(time.Hour), Scale: []ScaleResult{{Kind: testbed.KindSentinel, Masters: 1}}}
	mergeResults(res, old, options{scale: true})
	if len(res.Failover) != len(old.Failover) || res.Settings.Runs != old.Settings.Runs || len(res.Cost) != len(old.Cost) {
		t.Errorf("failover/cost not kept: %d runs, %d cost", len(res.Failover), len(res.Cost))
	}
	if len(res.Scale) != 1 || res.Scale[0].Kind != testbed.KindSentinel {
		t.Errorf("scale of this run replaced: %+v", res.Scale)
	}
	if len(res.Merged) == 0 || !strings.HasPrefix(res.Merged[0], "failover: ") {
		t.Errorf("Merged = %q", res.Merged)
	}
}
