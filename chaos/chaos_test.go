package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/redis/go-redis/v9"

	"github.com/vigil-ha/vigil/internal/harness"
	"github.com/vigil-ha/vigil/internal/testbed"
)

func TestSelectScenarios(t *testing.T) {
	all, err := selectScenarios("all")
	if err != nil || len(all) != len(scenarios()) || all[len(all)-1].id != len(all) {
		t.Fatalf("all: %d scenarios, %v", len(all), err)
	}
	got, err := selectScenarios("5, kill-master,1,partition")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range got {
		names = append(names, s.name)
	}
	if strings.Join(names, ",") != "flapping-master,kill-master,partition" {
		t.Errorf("selected %v", names)
	}
	for _, bad := range []string{"99", "kill", "1,,2"} {
		if _, err := selectScenarios(bad); err == nil {
			t.Errorf("selectScenarios(%q) accepted", bad)
		}
	}
	for _, sc := range all {
		if (sc.inject == nil) == (sc.run == nil) {
			t.Errorf("scenario %s must have exactly one of inject and run", sc.name)
		}
	}
}

func TestParseFlags(t *testing.T) {
	o, err := parseFlags([]string{"-quick"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.runs != 1 || o.docs || o.out != "chaos/results/quick.json" || o.cfg.flapCycles != 5 || len(o.scenarios) != len(scenarios()) {
		t.Errorf("quick defaults: runs %d docs %v out %s cycles %d", o.runs, o.docs, o.out, o.cfg.flapCycles)
	}
	o, err = parseFlags([]string{"-runs", "2", "-scenario", "2", "-kinds", "sentinel", "-down-after", "2s"}, io.Discard)
	if err != nil || o.runs != 2 || len(o.scenarios) != 1 || o.kinds[0] != testbed.KindSentinel || o.cfg.downAfter != 2*time.Second || !o.docs {
		t.Errorf("explicit flags: %+v, %v", o, err)
	}
	for _, bad := range [][]string{{"-runs", "0"}, {"-scenario", "x"}, {"-kinds", "etcd"}, {"-down-after", "1ms"}, {"extra"}} {
		if _, err := parseFlags(bad, io.Discard); err == nil {
			t.Errorf("parseFlags(%q) accepted", bad)
		}
	}
}

func TestSummarizeAndFormat(t *testing.T) {
	if s := summarize([]float64{5, 1, 3}); s.n != 3 || s.min != 1 || s.median != 3 || s.max != 5 {
		t.Errorf("odd: %+v", s)
	}
	if s := summarize([]float64{4, 1, 3, 2}); s.median != 2.5 {
		t.Errorf("even median %v", s.median)
	}
	for _, tc := range []struct {
		values []float64
		div    float64
		prec   int
		want   string
	}{
		{nil, 1, 0, "—"},
		{[]float64{7}, 1, 0, "7"},
		{[]float64{1000, 1500, 2250}, 1000, 2, "1.00 / 1.50 / 2.25"},
	} {
		if got := summarize(tc.values).format(tc.div, tc.prec); got != tc.want {
			t.Errorf("format(%v) = %q, want %q", tc.values, got, tc.want)
		}
	}
}

func TestEventHelpers(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	events := []testbed.Event{
		{Controller: "a", Type: "+sdown", Payload: "master mymaster 127.0.0.1 1", At: at(-10)},
		{Controller: "a", Type: "+sdown", Payload: "master mymaster 127.0.0.1 1", At: at(10)},
		{Controller: "b", Type: "+sdown", Payload: "slave 127.0.0.1:2 127.0.0.1 2 @ mymaster 127.0.0.1 1", At: at(11)},
		{Controller: "a", Type: "+odown", Payload: "master mymaster 127.0.0.1 1 #quorum 2/2", At: at(20)},
		{Controller: "a", Type: "-failover-abort-no-good-slave", At: at(25)},
		{Controller: "a", Type: "+switch-master", Payload: "mymaster 127.0.0.1 1 127.0.0.1 2", At: at(30)},
		{Controller: "b", Type: "+switch-master", Payload: "mymaster 127.0.0.1 1 127.0.0.1 2", At: at(31)},
		{Controller: "b", Type: "+switch-master", Payload: "mymaster 127.0.0.1 2 127.0.0.1 3", At: at(40)},
	}
	r := RunResult{FaultAt: t0}
	r.countEvents(events)
	if r.MasterSDowns != 1 || r.ODowns != 1 || r.Aborts != 1 || len(r.MasterChanges) != 2 || r.EventCounts["+sdown"] != 2 {
		t.Errorf("counts: %+v", r)
	}
	changes := map[string][]testbed.Change{
		"old":   {{At: at(-100), Value: testbed.StateMasterWritable}},
		"other": {{At: at(-100), Value: testbed.StateReplica}, {At: at(50), Value: testbed.StateMaster}},
		"third": {{At: at(-100), Value: testbed.StateMaster}, {At: at(-50), Value: testbed.StateReplica}},
	}
	if got := otherMasters(changes, "old", t0); len(got) != 1 || got[0] != "other" {
		t.Errorf("otherMasters = %v", got)
	}
	undo := []testbed.Event{
		{Controller: "a", Type: "+switch-master", Payload: "mymaster 127.0.0.1 1 127.0.0.1 2", At: at(100)},
		{Controller: "b", Type: "+convert-to-slave", Payload: "slave 127.0.0.1:2 127.0.0.1 2 @ mymaster 127.0.0.1 1", At: at(160)},
		{Controller: "a", Type: "+convert-to-slave", Payload: "slave 127.0.0.1:1 127.0.0.1 1 @ mymaster 127.0.0.1 2", At: at(170)},
	}
	got := undoneSwitches(undo, strings.ToUpper)
	if len(got) != 1 || !strings.HasPrefix(got[0], "B turned the new master 127.0.0.1:2 back into a replica of 127.0.0.1:1") || !strings.Contains(got[0], "60 ms after A") {
		t.Errorf("undoneSwitches = %q", got)
	}
	if got := undoneSwitches(undo[:1], strings.ToUpper); len(got) != 0 {
		t.Errorf("undoneSwitches without a conversion = %q", got)
	}
	if got := stateAt([]testbed.Change{{At: at(0), Value: ""}, {At: at(10), Value: "master"}}, at(5)); got != "no answer" {
		t.Errorf("stateAt = %q", got)
	}
	if got := seqString([]int64{1, 2, 3}, 2); got != "1 2 … (1 more)" {
		t.Errorf("seqString = %q", got)
	}
}

func TestRouter(t *testing.T) {
	rt := router{route: map[string]string{"127.0.0.1:1": "127.0.0.1:2"}}
	if rt.resolve("127.0.0.1:1") != "127.0.0.1:2" || rt.resolve("127.0.0.1:3") != "127.0.0.1:3" {
		t.Error("resolve")
	}
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want opOutcome
	}{
		{nil, opOK},
		{redis.ErrPoolTimeout, opFailed},
		{&net.OpError{Op: "dial", Err: errors.New("refused")}, opFailed},
		{&net.OpError{Op: "read", Err: errors.New("timeout")}, opIndefinite},
		{io.EOF, opIndefinite},
		{context.DeadlineExceeded, opIndefinite},
	} {
		if got := classify(tc.err); got != tc.want {
			t.Errorf("classify(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

// TestRegisterModel checks the model on hand-made histories: a stale read
// is illegal, an indefinite write may take effect late or never.
func TestRegisterModel(t *testing.T) {
	w := func(c int, v int64, call, ret int64) porcupine.Operation {
		return porcupine.Operation{ClientId: c, Input: regInput{write: true, value: v}, Call: call, Output: int64(0), Return: ret}
	}
	r := func(c int, v int64, call, ret int64) porcupine.Operation {
		return porcupine.Operation{ClientId: c, Input: regInput{}, Call: call, Output: v, Return: ret}
	}
	for _, tc := range []struct {
		name string
		ops  []porcupine.Operation
		ok   bool
	}{
		{"sequential", []porcupine.Operation{w(0, 1, 0, 10), r(1, 1, 20, 30), w(0, 2, 40, 50), r(1, 2, 60, 70)}, true},
		{"concurrent read sees either", []porcupine.Operation{w(0, 1, 0, 10), w(0, 2, 20, 50), r(1, 1, 25, 30), r(2, 2, 26, 35)}, true},
		{"stale read", []porcupine.Operation{w(0, 1, 0, 10), w(0, 2, 20, 30), r(1, 1, 40, 50)}, false},
		{"initial then stale", []porcupine.Operation{w(0, 1, 0, 10), r(1, 0, 20, 30)}, false},
		{"indefinite write lands late", []porcupine.Operation{w(0, 1, 0, math.MaxInt64), r(1, 0, 20, 30), r(1, 1, 40, 50)}, true},
		{"indefinite write never lands", []porcupine.Operation{w(0, 1, 0, math.MaxInt64), r(1, 0, 20, 30), r(1, 0, 40, 50)}, true},
	} {
		if got := porcupine.CheckOperations(registerModel(), tc.ops); got != tc.ok {
			t.Errorf("%s: linearizable = %v, want %v", tc.name, got, tc.ok)
		}
	}
	stale := []porcupine.Operation{w(0, 1, 0, 10), w(0, 2, 20, 30), r(1, 1, 40, 50)}
	roleAt := func(addr string, _ time.Time) string { return "role-of-" + addr }
	lines := staleReads(stale, []string{"a", "b", "c"}, time.Unix(0, 0), roleAt, 5)
	if len(lines) != 1 || !strings.Contains(lines[0], "client 1 read 1 from c (role then: role-of-c)") || !strings.Contains(lines[0], "write of 2 was acknowledged by b") {
		t.Errorf("staleReads = %q", lines)
	}
}

func syntheticResults() *Results {
	res := &Results{
		Started:   time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Finished:  time.Date(2026, 1, 2, 3, 34, 5, 0, time.UTC),
		Machine:   Machine{CPUs: 2, MemTotalMiB: 1024, Platform: "linux/amd64"},
		Versions:  Versions{Versions: harness.Versions{Vigil: "vigil 0.1.0", RedisSentinel: "Redis server v=7.0.15"}},
		Settings:  defaultSettings().describe(2),
		Kinds:     []testbed.Kind{testbed.KindVigil, testbed.KindSentinel},
		Scenarios: []string{"kill-master", "flapping-master", "switchover-linearizable"},
	}
	for run := 1; run <= 2; run++ {
		res.Runs = append(res.Runs,
			RunResult{Scenario: "kill-master", Kind: testbed.KindVigil, Run: run, Correct: true, FinalMaster: "x", WritesTried: 10, Lost: 3, RecoverMS: 1200, MasterChanges: []string{"m"}},
			RunResult{Scenario: "kill-master", Kind: testbed.KindSentinel, Run: run, Correct: true, FinalMaster: "x", WritesTried: 10, Lost: 1, RecoverMS: 2500, MasterChanges: []string{"m"}},
			RunResult{Scenario: "flapping-master", Kind: testbed.KindSentinel, Run: run, Correct: true, FinalMaster: "x", WritesTried: 10, RecoverMS: 2000},
			RunResult{Scenario: "switchover-linearizable", Kind: testbed.KindVigil, Run: run, Correct: true, FinalMaster: "y", WritesTried: 10, RecoverMS: 150, Linearizable: "ok", Ops: 1000},
		)
	}
	res.Runs = append(res.Runs,
		RunResult{Scenario: "flapping-master", Kind: testbed.KindVigil, Run: 1, Correct: false, FinalMaster: "y", WritesTried: 10, RecoverMS: 2000,
			Problems: []string{"false failover: the master moved from a to b"}, Notes: []string{"10 cycles"}, KeptDir: "/tmp/x"},
		RunResult{Scenario: "flapping-master", Kind: testbed.KindVigil, Run: 2, Correct: true, FinalMaster: "x", WritesTried: 10, RecoverMS: 2000},
	)
	return res
}

func TestReports(t *testing.T) {
	res := syntheticResults()
	var out bytes.Buffer
	if err := printSummary(&out, res); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	for _, want := range []string{
		"== 1 kill-master", "correct outcomes", "2/2", "1/2", "1.20", "2.50",
		"flapping-master, vigil run 1: false failover", "(logs: /tmp/x)",
		"vigil worse: flapping-master: vigil correct in 1/2 runs, redis-sentinel 2/2",
		"vigil worse: kill-master: median acked writes lost vigil 3, redis-sentinel 1",
		"linearizable histories",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("summary lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "kill-master: median time to recover") {
		t.Errorf("vigil recovers faster but is listed as worse:\n%s", text)
	}
	md := string(markdown(res))
	for _, want := range []string{
		"# Reliability: fault injection, vigil vs redis-sentinel",
		"| 1 kill-master | failover | 2/2 | 3 | 1.20 s | 2/2 | 1 | 2.50 s |",
		"| 5 flapping-master | no failover | 1/2 ⚠ |",
		"| 8 switchover-linearizable | linearizable, no loss | 2/2 |",
		"## Where vigil is worse, or a checker failed",
		"- not correct — flapping-master, vigil run 1",
		"### 5. flapping-master", "2 CPUs", "quorum 2, down-after 1000 ms",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(md, "/tmp/x") {
		t.Error("markdown names a local log directory")
	}
}

// TestRerender regenerates the report from a raw results file.
func TestRerender(t *testing.T) {
	dir := t.TempDir()
	raw := filepath.Join(dir, "results.json")
	if err := writeJSON(raw, syntheticResults()); err != nil {
		t.Fatal(err)
	}
	doc := filepath.Join(dir, "reliability.md")
	var out, errs bytes.Buffer
	if code := run([]string{"-report", raw, "-doc", doc}, &out, &errs); code != exitOK {
		t.Fatalf("exit %d: %s", code, errs.String())
	}
	md, err := os.ReadFile(doc)
	if err != nil || !strings.Contains(string(md), "| 1 kill-master | failover | 2/2 |") {
		t.Errorf("report not regenerated: %v\n%s", err, md)
	}
	if !strings.Contains(out.String(), "== 5 flapping-master") {
		t.Errorf("tables not printed:\n%s", out.String())
	}
	if code := run([]string{"-report", filepath.Join(dir, "missing.json")}, io.Discard, io.Discard); code != exitFailure {
		t.Errorf("missing results file: exit %d", code)
	}
}

// TestProxyLatencyAndCut runs the testbed proxy over a plain TCP echo.
func TestProxyLatencyAndCut(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = io.Copy(c, c); _ = c.Close() }()
		}
	}()
	env, err := testbed.New(testbed.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = env.Close() }()
	p, err := env.StartProxy(ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.StartProxy("10.1.2.3:80"); err == nil {
		t.Error("proxy to a non-loopback target accepted")
	}
	echo := func(timeout time.Duration) (time.Duration, error) {
		c, err := net.DialTimeout("tcp", p.Addr(), time.Second)
		if err != nil {
			return 0, err
		}
		defer func() { _ = c.Close() }()
		_ = c.SetDeadline(time.Now().Add(timeout))
		start := time.Now()
		for i := range 3 { // overlapping round trips must not queue behind each other's delays
			if _, err := c.Write([]byte{byte('a' + i)}); err != nil {
				return 0, err
			}
		}
		buf := make([]byte, 3)
		if _, err := io.ReadFull(c, buf); err != nil {
			return 0, err
		}
		return time.Since(start), nil
	}
	if _, err := echo(2 * time.Second); err != nil {
		t.Fatalf("echo through the proxy: %v", err)
	}
	p.SetLatency(100 * time.Millisecond)
	took, err := echo(5 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if took < 200*time.Millisecond {
		t.Errorf("round trip with 100ms latency each way took %v", took)
	}
	p.SetLatency(0)
	p.Cut()
	if _, err := echo(300 * time.Millisecond); err == nil {
		t.Error("echo succeeded through a cut proxy")
	}
	p.Heal()
	if _, err := echo(2 * time.Second); err != nil {
		t.Errorf("echo after heal: %v", err)
	}
}

// TestShortScenarios is the short variant of the suite: scenarios 1, 2, 5
// and 12 once, against vigil only, with real redis-server processes and a vigil
// binary built from this tree (or the one named by $CHAOS_VIGIL). It
// asserts the checkers, not timings.
func TestShortScenarios(t *testing.T) {
	if testing.Short() {
		t.Skip("starts redis-server and vigil processes")
	}
	if _, err := exec.LookPath(testbed.DefaultRedisServer); err != nil {
		t.Skipf("redis-server not installed (scripts/install-deps.sh): %v", err)
	}
	bin := os.Getenv("CHAOS_VIGIL")
	if bin == "" {
		bin = filepath.Join(t.TempDir(), "vigil")
		if out, err := exec.Command("go", "build", "-o", bin, "github.com/vigil-ha/vigil/cmd/vigil").CombinedOutput(); err != nil {
			t.Fatalf("go build cmd/vigil: %v\n%s", err, out)
		}
	} else if abs, err := filepath.Abs(bin); err == nil {
		bin = abs
	}
	redis.SetLogger(harness.DiscardLogger{})
	log := slog.New(slog.DiscardHandler)
	cfg := defaultSettings()
	cfg.settleTimeout = 90 * time.Second // generous: the machine may be busy with other tests
	cfg.observe = 2 * time.Second
	cfg.ctrlsDownFor = 5 * time.Second
	for _, name := range []string{"kill-master", "sigstop-master", "flapping-master", "controllers-down"} {
		t.Run(name, func(t *testing.T) {
			sc, ok := scenarioByName(name)
			if !ok {
				t.Fatalf("no scenario %s", name)
			}
			r := runScenario(t.Context(), sc, testbed.KindVigil, 1, cfg, testbed.Options{Vigil: bin}, log)
			t.Log(r.summary())
			if r.Error != "" {
				t.Fatalf("harness: %s (logs: %s)", r.Error, r.KeptDir)
			}
			if !r.Correct {
				t.Errorf("not correct: %s\nnotes: %s\nlogs: %s", strings.Join(r.Problems, "\n  "), strings.Join(r.Notes, "; "), r.KeptDir)
			}
			if r.WritesAcked == 0 {
				t.Error("no write was acknowledged")
			}
			if !sc.expectFailover && r.Lost > 0 {
				t.Errorf("%d acknowledged writes lost without a failover", r.Lost)
			}
		})
	}
}
