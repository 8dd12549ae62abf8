package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/vigil-ha/vigil/internal/harness"
	"github.com/vigil-ha/vigil/internal/testbed"
)

// settings are the parameters shared by every run.
type settings struct {
	masterName      string
	replicas        int
	controllers     int
	quorum          int
	downAfter       time.Duration
	failoverTimeout time.Duration
	writeInterval   time.Duration
	writeTimeout    time.Duration
	probeInterval   time.Duration
	// settleTimeout bounds the wait for checker (a) after the fault ended;
	// stableFor is how long it must hold without a break.
	settleTimeout time.Duration
	stableFor     time.Duration
	// observe is how long no-failover scenarios keep watching after the
	// fault ended; warmup how long a deployment runs (writer on, replicas
	// in sync) before its fault.
	observe time.Duration
	warmup  time.Duration

	flapCycles         int
	flapStop, flapRun  time.Duration
	latencyMin         time.Duration
	latencyMax         time.Duration
	latencyFor         time.Duration
	cutFor             time.Duration
	outageFor          time.Duration
	leaderRestartAfter time.Duration
	// ctrlsDownFor is how long scenario 12 keeps two controllers dead.
	ctrlsDownFor time.Duration
	switchovers  int
	linClients   int
	linTimeout   time.Duration
	// vigilExtra is appended to every vigil node's master section
	// (-vigil-extra, e.g. "    write-guard: true\n").
	vigilExtra string
}

// defaultSettings are the brief's: 3 controllers, quorum 2, down-after 1 s,
// failover-timeout 10 s, a master and two replicas.
func defaultSettings() settings {
	return settings{
		masterName:         "mymaster",
		replicas:           2,
		controllers:        3,
		quorum:             2,
		downAfter:          time.Second,
		failoverTimeout:    10 * time.Second,
		writeInterval:      2 * time.Millisecond,
		writeTimeout:       200 * time.Millisecond,
		probeInterval:      20 * time.Millisecond,
		settleTimeout:      60 * time.Second,
		stableFor:          time.Second,
		observe:            3 * time.Second,
		warmup:             2 * time.Second,
		flapCycles:         10,
		flapStop:           700 * time.Millisecond,
		flapRun:            time.Second,
		latencyMin:         200 * time.Millisecond,
		latencyMax:         400 * time.Millisecond,
		latencyFor:         15 * time.Second,
		cutFor:             10 * time.Second,
		outageFor:          5 * time.Second,
		leaderRestartAfter: time.Second,
		ctrlsDownFor:       10 * time.Second,
		switchovers:        4,
		linClients:         4,
		linTimeout:         2 * time.Minute,
	}
}

// quickSettings shorten the long scenarios for a smoke run.
func quickSettings() settings {
	s := defaultSettings()
	s.flapCycles = 5
	s.latencyFor = 8 * time.Second
	s.cutFor = 5 * time.Second
	s.ctrlsDownFor = 5 * time.Second
	s.observe = 2 * time.Second
	s.switchovers = 2
	return s
}

// RunResult is one run of one scenario against one controller kind.
type RunResult struct {
	Scenario string       `json:"scenario"`
	Kind     testbed.Kind `json:"kind"`
	Run      int          `json:"run"`
	// Correct is the scenario's verdict: the checkers passed and the
	// outcome is the expected one. Problems says why not.
	Correct  bool     `json:"correct"`
	Problems []string `json:"problems,omitempty"`
	// Error is a failure of the harness itself (a server that would not
	// start...): the run says nothing about the controllers.
	Error   string `json:"error,omitempty"`
	KeptDir string `json:"kept_dir,omitempty"`

	OldMaster   string    `json:"old_master"`
	FinalMaster string    `json:"final_master,omitempty"`
	FaultAt     time.Time `json:"fault_at"`
	// RecoverFrom is where the recovery clock starts (the fault, or the
	// restart after a total outage); RecoverMS runs from there to the start
	// of the stable stretch of checker (a), -1 when it never held.
	RecoverFrom time.Time `json:"recover_from"`
	RecoverMS   float64   `json:"recover_ms"`

	WritesTried int     `json:"writes_tried"`
	WritesAcked int     `json:"writes_acked"`
	Lost        int     `json:"lost"`
	LostSeqs    []int64 `json:"lost_seqs,omitempty"`
	// LostAfterFault counts lost writes acknowledged by the old master at
	// or after the fault (the partition scenario's figure).
	LostAfterFault int `json:"lost_after_fault"`
	// The partition scenarios: HealAt is when the cut ended; IsolatedAckMS
	// how long after the cut the isolated old master acknowledged its last
	// write (-1: none after the cut); AckedAfterHeal how many writes it
	// acknowledged after the heal; DemotedMS how long after the heal it
	// first answered ROLE slave (-1: never within the wait).
	HealAt         time.Time `json:"heal_at,omitzero"`
	IsolatedAckMS  float64   `json:"isolated_ack_ms,omitempty"`
	AckedAfterHeal int       `json:"acked_after_heal,omitempty"`
	DemotedMS      float64   `json:"demoted_ms,omitempty"`

	MasterChanges  []string       `json:"master_changes,omitempty"`
	EventCounts    map[string]int `json:"event_counts,omitempty"`
	DualWritableMS float64        `json:"dual_writable_ms"`
	Notes          []string       `json:"notes,omitempty"`
	// MasterSDowns, ODowns, Aborts and Tilts count the +sdown (of the
	// master), +odown, -failover-abort-* and +tilt events after the fault.
	MasterSDowns int             `json:"master_sdowns"`
	ODowns       int             `json:"odowns"`
	Aborts       int             `json:"aborts"`
	Tilts        int             `json:"tilts"`
	Events       []testbed.Event `json:"events,omitempty"`
	DurationMS   int64           `json:"duration_ms"`

	// The switchover linearizability scenario.
	Linearizable string `json:"linearizable,omitempty"` // "ok", "illegal", "unknown"
	// Visualization is porcupine's HTML rendering of an illegal history.
	Visualization string `json:"visualization,omitempty"`
	Ops           int    `json:"ops,omitempty"`
	Indefinite    int    `json:"indefinite,omitempty"`
}

// problem records why the run is not correct.
func (r *RunResult) problem(format string, args ...any) {
	r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
}

// note records a fact worth reporting.
func (r *RunResult) note(format string, args ...any) {
	r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
}

// scenario is one fault story.
type scenario struct {
	id    int
	name  string
	title string
	// expectFailover: the master must move (true) or must not (false).
	expectFailover bool
	// vigilOnly scenarios use vigil extensions.
	vigilOnly bool
	// recover labels the time-to-recover row ("" when the scenario has no
	// recovery to time).
	recover string
	deploy  deployOptions
	// inject applies the fault and undoes it (resume, restart, heal). It
	// sets r.FaultAt and r.RecoverFrom and returns the servers expected
	// alive afterwards. Its error is a harness failure.
	inject func(ctx context.Context, d *deployment, r *RunResult) ([]*testbed.RedisServer, error)
	// run replaces the generic flow entirely (the linearizability check).
	run func(ctx context.Context, env *testbed.Env, cfg settings, r *RunResult, log *slog.Logger) error
}

// scenarios returns every scenario in order.
func scenarios() []scenario {
	return []scenario{
		{id: 1, name: "kill-master", title: "kill -9 of the master", expectFailover: true,
			recover: "kill → settled", deploy: deployOptions{writer: true}, inject: injectKillMaster},
		{id: 2, name: "sigstop-master", title: "SIGSTOP of the master for 3× down-after, then SIGCONT", expectFailover: true,
			recover: "SIGSTOP → settled", deploy: deployOptions{writer: true}, inject: injectSigstop},
		{id: 3, name: "leader-crash", title: "master killed, then the elected leader killed (kill -9) right after +elected-leader and restarted 1 s later", expectFailover: true,
			recover: "master kill → settled", deploy: deployOptions{writer: true}, inject: injectLeaderCrash},
		{id: 4, name: "total-outage", title: "all replicas killed, then the master; everything restarted (append-only file, fsync always)", expectFailover: false,
			recover: "restart → settled", deploy: deployOptions{writer: true, persistence: true}, inject: injectTotalOutage},
		{id: 5, name: "flapping-master", title: "flapping master: SIGSTOP 0.7 s / SIGCONT 1 s cycles", expectFailover: false,
			deploy: deployOptions{writer: true}, inject: injectFlapping},
		{id: 6, name: "slow-network", title: "200–400 ms latency each way (jitter) between the master and its controllers and replicas", expectFailover: false,
			deploy: deployOptions{writer: true, proxy: true}, inject: injectLatency},
		{id: 7, name: "partition", title: "master partitioned from replicas and controllers for 10 s, clients still reach it", expectFailover: true,
			recover: "cut → settled", deploy: deployOptions{writer: true, proxy: true}, inject: injectPartition},
		{id: 8, name: "switchover-linearizable", title: "SENTINEL SWITCHOVER under concurrent readers and writers of one register (linearizability)", vigilOnly: true,
			recover: "SWITCHOVER sent → settled, slowest of the run", run: runSwitchoverLinearizable},
		{id: 9, name: "partition-with-controller", title: "partition {master, controller 1, writer} | {replicas, controllers 2 and 3} for 10 s (network namespace; gossip cut too)", expectFailover: true,
			recover: "cut → settled", deploy: deployOptions{writer: true, partition: true}, inject: injectNetPartition},
		{id: 10, name: "controller-partition", title: "5 controllers (quorum 2) split {2} | {3} (network namespace), then the master killed; servers reachable from both sides", expectFailover: true,
			recover: "kill → settled", deploy: deployOptions{writer: true, partition: true, splitControllers: 2, controllers: 5, quorum: 2}, inject: injectControllerPartition},
		{id: 11, name: "controller-stall", title: "controller 1 stopped (SIGSTOP) for 5 s, then resumed and the master killed at once: the stalled controller must enter TILT and not vote while in it", expectFailover: true,
			recover: "kill → settled", deploy: deployOptions{writer: true}, inject: injectControllerStall},
		{id: 12, name: "controllers-down", title: "controllers 2 and 3 killed (kill -9) for 10 s, then restarted; Redis untouched; down-after 5000 ms: the master must stay writable", expectFailover: false,
			deploy: deployOptions{writer: true, downAfter: 5 * time.Second}, inject: injectControllersDown},
	}
}

// selectScenarios parses -scenario: "all", or names and numbers separated
// by commas.
func selectScenarios(spec string) ([]scenario, error) {
	all := scenarios()
	if spec == "" || spec == "all" {
		return all, nil
	}
	var out []scenario
	for part := range strings.SplitSeq(spec, ",") {
		part = strings.TrimSpace(part)
		i := slices.IndexFunc(all, func(s scenario) bool { return s.name == part || fmt.Sprint(s.id) == part })
		if i < 0 {
			return nil, fmt.Errorf("unknown scenario %q", part)
		}
		if !slices.ContainsFunc(out, func(s scenario) bool { return s.id == all[i].id }) {
			out = append(out, all[i])
		}
	}
	return out, nil
}

// runScenario runs sc once against kind in a fresh environment.
func runScenario(ctx context.Context, sc scenario, kind testbed.Kind, run int, cfg settings, envOpts testbed.Options, log *slog.Logger) RunResult {
	r := RunResult{Scenario: sc.name, Kind: kind, Run: run, RecoverMS: -1}
	started := time.Now()
	env, err := testbed.New(envOpts)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	if sc.run != nil {
		err = sc.run(ctx, env, cfg, &r, log)
	} else {
		err = runGeneric(ctx, env, sc, kind, cfg, &r)
	}
	r.DurationMS = time.Since(started).Milliseconds()
	if err != nil && ctx.Err() == nil {
		r.Error = err.Error()
	}
	r.Correct = r.Error == "" && len(r.Problems) == 0 && ctx.Err() == nil
	if !r.Correct && ctx.Err() == nil {
		env.Keep()
		r.KeptDir = env.Dir
	} else if envOpts.Keep {
		r.KeptDir = env.Dir
	}
	if err := env.Close(); err != nil {
		log.Warn("closing testbed", "err", err)
	}
	return r
}

// runGeneric is the flow of scenarios 1–7: deploy, inject, settle, check.
func runGeneric(ctx context.Context, env *testbed.Env, sc scenario, kind testbed.Kind, cfg settings, r *RunResult) error {
	d, err := setup(ctx, env, kind, cfg, sc.deploy)
	if err != nil {
		return err
	}
	defer d.close()
	old := d.group.Master.Addr()
	r.OldMaster = old

	alive, err := sc.inject(ctx, d, r)
	if err != nil {
		return err
	}
	master, stableAt, settleErr := settle(ctx, d, alive)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if settleErr != nil {
		r.problem("checker (a): %v", settleErr)
		if e := explain(ctx, d); e != "" {
			r.note("%s", e)
		}
	} else {
		r.FinalMaster = master
		r.RecoverMS = ms(stableAt.Sub(r.RecoverFrom))
		// Some traffic on the final master before the read-back.
		if d.writer != nil {
			from := time.Now()
			if err := waitFor(ctx, 5*time.Second, "a write acknowledged by the final master", func() error {
				if w, ok := d.writer.LastAckOn(master); ok && w.Start.After(from) {
					return nil
				}
				return errors.New("none yet")
			}); err != nil {
				r.problem("writer: %v", err)
			}
		}
	}
	var writes []testbed.Write
	if d.writer != nil {
		writes = d.writer.Stop()
	}
	d.watcher.Close()
	d.prober.Close()
	end := time.Now()

	events := d.watcher.Events()
	for _, ev := range events {
		if !ev.At.Before(r.FaultAt.Add(-time.Second)) {
			r.Events = append(r.Events, ev)
		}
	}
	r.countEvents(events)
	for _, line := range undoneSwitches(events, d.ctrlName) {
		r.note("%s", line)
	}
	roles := d.prober.Changes()
	r.DualWritableMS = ms(testbed.Overlap(roles, r.FaultAt, end, testbed.IsWritable))

	switch {
	case sc.expectFailover && r.FinalMaster == old:
		r.problem("no failover: %s is still the master", old)
	case !sc.expectFailover:
		if r.FinalMaster != "" && r.FinalMaster != old {
			r.problem("false failover: the master moved from %s to %s", old, r.FinalMaster)
		}
		if len(r.MasterChanges) > 0 {
			r.problem("false failover: +switch-master %s", strings.Join(r.MasterChanges, " | "))
		}
		if others := otherMasters(roles, old, r.FaultAt); len(others) > 0 {
			slices.Sort(others)
			r.problem("false failover: %s answered ROLE master", strings.Join(others, ", "))
		}
	}

	for _, w := range writes {
		r.WritesTried++
		if w.Acked() {
			r.WritesAcked++
		}
	}
	if r.FinalMaster != "" && len(writes) > 0 {
		lost, err := lostWrites(ctx, r.FinalMaster, writes)
		if err != nil {
			return err
		}
		r.LostSeqs = lost
		r.Lost = len(lost)
		bySeq := map[int64]testbed.Write{}
		for _, w := range writes {
			bySeq[w.Seq] = w
		}
		for _, seq := range lost {
			if w := bySeq[seq]; w.Addr == old && !w.Start.Before(r.FaultAt) {
				r.LostAfterFault++
			}
		}
		if !r.HealAt.IsZero() && r.FinalMaster != old {
			for _, w := range writes {
				if w.Acked() && w.Addr == old && w.End.After(r.HealAt) {
					r.AckedAfterHeal++
				}
			}
			if r.AckedAfterHeal > 0 {
				r.note("%d writes acknowledged by the old master after the heal", r.AckedAfterHeal)
			}
		}
		if r.Lost > 0 {
			r.note("%d acknowledged writes lost (%d of them acknowledged by the old master after the fault): seq %s", r.Lost, r.LostAfterFault, seqString(lost, 10))
		}
	}
	return nil
}

// countEvents fills the event counters from the events at or after the
// fault.
func (r *RunResult) countEvents(events []testbed.Event) {
	r.EventCounts = eventCounts(events, r.FaultAt)
	r.MasterChanges = masterChanges(events, r.FaultAt)
	for _, ev := range events {
		if ev.At.Before(r.FaultAt) {
			continue
		}
		switch {
		case ev.Type == "+sdown" && strings.HasPrefix(ev.Payload, "master "):
			r.MasterSDowns++
		case ev.Type == "+odown":
			r.ODowns++
		case strings.HasPrefix(ev.Type, "-failover-abort"):
			r.Aborts++
		case ev.Type == "+tilt":
			r.Tilts++
		}
	}
}

// injectControllersDown: two of the three controllers killed, the survivor
// left with no majority while the master and its replicas stay healthy,
// then the two restarted. Losing controllers must cost no write: every
// write the clients send meanwhile must be acknowledged. (A fence keyed to
// the PING cadence of down-after 1 s once refused most of them at 5 s.)
func injectControllersDown(ctx context.Context, d *deployment, r *RunResult) ([]*testbed.RedisServer, error) {
	r.FaultAt = time.Now()
	down := d.ctrls[1:]
	for _, c := range down {
		c.Kill()
	}
	if err := sleep(ctx, d.cfg.ctrlsDownFor); err != nil {
		return nil, err
	}
	r.RecoverFrom = time.Now()
	tried, failed, why := 0, 0, map[string]int{}
	for _, w := range d.writer.Snapshot() {
		if w.Start.Before(r.FaultAt) || !w.Start.Before(r.RecoverFrom) {
			continue
		}
		tried++
		if !w.Acked() {
			failed++
			why[harness.FirstLine(w.Err)]++
		}
	}
	if failed > 0 {
		r.problem("%d of %d writes failed while only controllers were down: %s", failed, tried, countsString(why))
	} else {
		r.note("all %d writes acknowledged while controllers 2 and 3 were down", tried)
	}
	for _, c := range down {
		if err := d.env.RestartController(ctx, c); err != nil {
			return nil, err
		}
	}
	return d.group.All(), nil
}

// countsString lists m's keys with their counts, most frequent first.
func countsString(m map[string]int) string {
	keys := slices.Collect(maps.Keys(m))
	slices.SortFunc(keys, func(a, b string) int {
		if m[a] != m[b] {
			return m[b] - m[a]
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%d× %q", m[k], k)
	}
	return strings.Join(parts, ", ")
}

// ms converts a duration to fractional milliseconds.
func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// injectKillMaster: kill -9 of the master; it stays dead.
func injectKillMaster(_ context.Context, d *deployment, r *RunResult) ([]*testbed.RedisServer, error) {
	r.FaultAt = time.Now()
	r.RecoverFrom = r.FaultAt
	d.group.Master.Kill()
	return d.group.Replicas, nil
}

// injectSigstop: SIGSTOP of the master for 3× down-after, then SIGCONT.
func injectSigstop(ctx context.Context, d *deployment, r *RunResult) ([]*testbed.RedisServer, error) {
	r.FaultAt = time.Now()
	r.RecoverFrom = r.FaultAt
	if err := d.group.Master.Pause(); err != nil {
		return nil, err
	}
	err := sleep(ctx, 3*d.cfg.downAfter)
	if _, ok := d.watcher.First("+odown", "", r.FaultAt); !ok && err == nil {
		r.note("no +odown before SIGCONT; %s", explain(ctx, d))
	}
	if rerr := d.group.Master.Resume(); rerr != nil {
		return nil, rerr
	}
	return d.group.All(), err
}

// injectLeaderCrash: kill -9 of the master, then kill -9 of the controller
// that announces +elected-leader as soon as it does, restarted after
// cfg.leaderRestartAfter.
func injectLeaderCrash(ctx context.Context, d *deployment, r *RunResult) ([]*testbed.RedisServer, error) {
	r.FaultAt = time.Now()
	r.RecoverFrom = r.FaultAt
	d.group.Master.Kill()
	var elected testbed.Event
	deadline := d.cfg.downAfter + 2*d.cfg.failoverTimeout + 10*time.Second
	err := pollFast(ctx, deadline, func() bool {
		ev, ok := d.watcher.First("+elected-leader", "", r.FaultAt)
		elected = ev
		return ok
	})
	if err != nil {
		r.problem("no +elected-leader within %v of the master's death", deadline)
		return d.group.Replicas, nil
	}
	leader := d.controller(elected.Controller)
	if leader == nil {
		return nil, fmt.Errorf("+elected-leader from unknown controller %s", elected.Controller)
	}
	leader.Kill()
	killedAt := time.Now()
	var before []string
	for _, ev := range d.watcher.Events() {
		if ev.Controller == leader.Addr() && !ev.At.Before(elected.At) && ev.At.Before(killedAt) {
			before = append(before, ev.Type)
		}
	}
	r.note("%s announced +elected-leader %.0f ms after the kill and was killed %.1f ms later (events it published meanwhile: %s)",
		leader.Name, ms(elected.At.Sub(r.FaultAt)), ms(killedAt.Sub(elected.At)), strings.Join(before, " "))
	if err := sleep(ctx, d.cfg.leaderRestartAfter); err != nil {
		return nil, err
	}
	if err := d.env.RestartController(ctx, leader); err != nil {
		return nil, err
	}
	r.note("%s restarted %.0f ms after the kill", leader.Name, ms(time.Since(killedAt)))
	return d.group.Replicas, nil
}

// pollFast polls cond every millisecond (to react to an event at once).
func pollFast(ctx context.Context, timeout time.Duration, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	ticker := time.NewTicker(time.Millisecond)
	defer ticker.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			return errors.New("timed out")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ticker.C:
		}
	}
	return nil
}

// injectTotalOutage: kill every replica, let the master take writes alone
// for a second, kill it, keep everything down for cfg.outageFor, then
// restart the master and the replicas. Nothing can be promoted meanwhile;
// every controller must stay up and keep answering.
func injectTotalOutage(ctx context.Context, d *deployment, r *RunResult) ([]*testbed.RedisServer, error) {
	r.FaultAt = time.Now()
	for _, s := range d.group.Replicas {
		s.Kill()
	}
	if err := sleep(ctx, time.Second); err != nil {
		return nil, err
	}
	d.group.Master.Kill()
	killedAt := time.Now()
	if err := sleep(ctx, d.cfg.outageFor); err != nil {
		return nil, err
	}
	old := d.group.Master.Addr()
	for name, addr := range masterAddrs(ctx, d) {
		if addr != old {
			r.problem("during the outage %s answered %q, not the old master %s", name, addr, old)
		}
	}
	for _, c := range d.ctrls {
		if c.Proc().Exited() {
			r.problem("%s exited during the outage: %s", c.Name, c.Proc().ExitStatus())
		}
	}
	if n := len(masterChanges(d.watcher.Events(), r.FaultAt)); n > 0 {
		r.problem("%d +switch-master announced while no server was up", n)
	}
	r.RecoverFrom = time.Now()
	if err := d.env.RestartRedis(ctx, d.group.Master); err != nil {
		return nil, err
	}
	for _, s := range d.group.Replicas {
		if err := d.env.RestartRedis(ctx, s); err != nil {
			return nil, err
		}
	}
	r.note("master down %.0f ms, replicas down %.0f ms", ms(r.RecoverFrom.Sub(killedAt)), ms(time.Since(r.FaultAt)))
	return d.group.All(), nil
}

// injectFlapping: cfg.flapCycles cycles of SIGSTOP for cfg.flapStop, then
// SIGCONT for cfg.flapRun; both below down-after, so no failover.
func injectFlapping(ctx context.Context, d *deployment, r *RunResult) ([]*testbed.RedisServer, error) {
	r.FaultAt = time.Now()
	m := d.group.Master
	for range d.cfg.flapCycles {
		if err := m.Pause(); err != nil {
			return nil, err
		}
		err := sleep(ctx, d.cfg.flapStop)
		if rerr := m.Resume(); rerr != nil {
			return nil, rerr
		}
		if err != nil {
			return nil, err
		}
		if err := sleep(ctx, d.cfg.flapRun); err != nil {
			return nil, err
		}
	}
	r.RecoverFrom = time.Now()
	r.note("%d cycles: stopped %v, running %v", d.cfg.flapCycles, d.cfg.flapStop, d.cfg.flapRun)
	return d.group.All(), sleep(ctx, d.cfg.observe)
}

// injectLatency: latency drawn uniformly from [latencyMin, latencyMax]
// every 250 ms on the proxy in front of the master, for cfg.latencyFor.
func injectLatency(ctx context.Context, d *deployment, r *RunResult) ([]*testbed.RedisServer, error) {
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, seed>>32|1))
	r.FaultAt = time.Now()
	lo, hi := d.cfg.latencyMin, d.cfg.latencyMax
	var err error
	for end := r.FaultAt.Add(d.cfg.latencyFor); time.Now().Before(end) && err == nil; {
		d.proxy.SetLatency(lo + time.Duration(rng.Int64N(int64(hi-lo)+1)))
		err = sleep(ctx, 250*time.Millisecond)
	}
	d.proxy.SetLatency(0)
	if err != nil {
		return nil, err
	}
	r.RecoverFrom = time.Now()
	r.note("latency %v–%v each way (round trip %v–%v) for %v, seed %d", lo, hi, 2*lo, 2*hi, d.cfg.latencyFor, seed)
	return d.group.All(), sleep(ctx, d.cfg.observe)
}

// injectPartition: the proxy in front of the master is cut for cfg.cutFor
// (replicas and controllers lose it; the writer still reaches it), then
// healed.
func injectPartition(ctx context.Context, d *deployment, r *RunResult) ([]*testbed.RedisServer, error) {
	r.FaultAt = time.Now()
	r.RecoverFrom = r.FaultAt
	d.proxy.Cut()
	err := sleep(ctx, d.cfg.cutFor)
	if _, ok := d.watcher.First("+switch-master", "", r.FaultAt); !ok && err == nil {
		r.note("no +switch-master before the heal; %s", explain(ctx, d))
	}
	d.proxy.Heal()
	r.HealAt = time.Now()
	if err != nil {
		return nil, err
	}
	measureIsolation(ctx, d, r)
	old := d.group.Master.Addr()
	var last testbed.Write
	for _, w := range d.writer.Snapshot() {
		if w.Acked() && w.Addr == old && !w.Start.Before(r.FaultAt) {
			last = w
		}
	}
	if !last.End.IsZero() {
		r.note("the isolated old master acknowledged writes until %.0f ms after the cut", ms(last.End.Sub(r.FaultAt)))
	}
	return d.group.All(), nil
}

// injectNetPartition: the partition cuts {master, controller 1, writer}
// from {replicas, controllers 2..n} for cfg.cutFor, gossip included, then
// heals.
func injectNetPartition(ctx context.Context, d *deployment, r *RunResult) ([]*testbed.RedisServer, error) {
	r.FaultAt = time.Now()
	r.RecoverFrom = r.FaultAt
	if err := d.part.Cut(ctx); err != nil {
		return nil, err
	}
	err := sleep(ctx, d.cfg.cutFor)
	if _, ok := d.watcher.First("+switch-master", "", r.FaultAt); !ok && err == nil {
		r.note("no +switch-master before the heal; %s", explain(ctx, d))
	}
	if herr := d.part.Heal(ctx); herr != nil {
		return nil, herr
	}
	r.HealAt = time.Now()
	if err != nil {
		return nil, err
	}
	measureIsolation(ctx, d, r)
	return d.group.All(), nil
}

// measureIsolation records, after the heal of a partition that isolated
// the master, how long the old master kept acknowledging writes after the
// cut and how soon after the heal it answered ROLE slave.
func measureIsolation(ctx context.Context, d *deployment, r *RunResult) {
	old := d.group.Master
	r.IsolatedAckMS = -1
	for _, w := range d.writer.Snapshot() {
		if w.Acked() && w.Addr == old.Addr() && !w.Start.Before(r.FaultAt) && w.End.Before(r.HealAt) {
			r.IsolatedAckMS = max(r.IsolatedAckMS, ms(w.End.Sub(r.FaultAt)))
		}
	}
	r.DemotedMS = -1
	err := pollFast(ctx, 15*time.Second, func() bool {
		reply, err := old.Client().Do(ctx, "ROLE").Slice()
		return err == nil && len(reply) > 0 && reply[0] == "slave"
	})
	if err == nil {
		r.DemotedMS = ms(time.Since(r.HealAt))
	}
	if r.IsolatedAckMS < 0 {
		r.note("the isolated old master acknowledged no write after the cut")
	} else {
		r.note("the isolated old master acknowledged its last write %.0f ms after the cut", r.IsolatedAckMS)
	}
	if r.DemotedMS >= 0 {
		r.note("the old master answered ROLE slave %.0f ms after the heal", r.DemotedMS)
	} else {
		r.note("the old master was not demoted within 15 s of the heal")
	}
}

// promotionEvents are the events only a controller that leads a failover
// publishes.
var promotionEvents = []string{"+elected-leader", "+selected-slave", "+failover-state-send-slaveof-noone", "+promoted-slave", "+failover-end"}

// injectControllerPartition: the controllers are split, side A (the
// minority) from side B, the master is killed; the servers stay reachable
// from both sides. The majority must fail over during the cut, the
// minority must not lead anything. Healed after cfg.cutFor.
func injectControllerPartition(ctx context.Context, d *deployment, r *RunResult) ([]*testbed.RedisServer, error) {
	if err := d.part.Cut(ctx); err != nil {
		return nil, err
	}
	cutAt := time.Now()
	// Let each side notice it lost the other (a few gossip probes).
	if err := sleep(ctx, 2*time.Second); err != nil {
		return nil, err
	}
	r.FaultAt = time.Now()
	r.RecoverFrom = r.FaultAt
	d.group.Master.Kill()
	err := sleep(ctx, d.cfg.cutFor)
	minority := map[string]bool{}
	var names []string
	for _, c := range d.ctrls {
		if c.Placement.Netns == "" {
			minority[c.Addr()] = true
			names = append(names, c.Name)
		}
	}
	majorityFailedOver := false
	for _, ev := range d.watcher.Events() {
		if ev.At.Before(cutAt) {
			continue
		}
		if minority[ev.Controller] && slices.Contains(promotionEvents, ev.Type) {
			r.problem("split brain: minority controller %s published %s %s during the cut", d.ctrlName(ev.Controller), ev.Type, ev.Payload)
		}
		if !minority[ev.Controller] && ev.Type == "+switch-master" {
			majorityFailedOver = true
		}
	}
	if !majorityFailedOver && err == nil {
		r.problem("the majority side did not fail over during the %v cut; %s", d.cfg.cutFor, explain(ctx, d))
	}
	r.note("minority side: %s; the cut began %.0f ms before the kill", strings.Join(names, ", "), ms(r.FaultAt.Sub(cutAt)))
	if herr := d.part.Heal(ctx); herr != nil {
		return nil, herr
	}
	r.HealAt = time.Now()
	return d.group.Replicas, err
}

// stallFor is how long injectControllerStall stops a controller: more than
// twice TILT's 2 s trigger.
const stallFor = 5 * time.Second

// injectControllerStall: SIGSTOP of controller 1 for stallFor (nothing may
// fail over meanwhile), SIGCONT, and the master killed at once, so that
// the failover runs while the stalled controller is in TILT: it must enter
// TILT and give no vote in it.
func injectControllerStall(ctx context.Context, d *deployment, r *RunResult) ([]*testbed.RedisServer, error) {
	c := d.ctrls[0]
	r.FaultAt = time.Now()
	if err := c.Proc().Pause(); err != nil {
		return nil, err
	}
	err := sleep(ctx, stallFor)
	if rerr := c.Proc().Resume(); rerr != nil {
		return nil, rerr
	}
	if err != nil {
		return nil, err
	}
	if n := len(masterChanges(d.watcher.Events(), r.FaultAt)); n > 0 {
		r.problem("false failover: %d +switch-master while %s was stopped", n, c.Name)
	}
	r.RecoverFrom = time.Now()
	d.group.Master.Kill()
	// The verdict on TILT needs the failover over: wait for it (settle
	// follows anyway).
	_ = pollFast(ctx, d.cfg.downAfter+2*d.cfg.failoverTimeout, func() bool {
		_, ok := d.watcher.First("+switch-master", "", r.RecoverFrom)
		return ok
	})
	var tiltAt, tiltEnd time.Time
	for _, ev := range d.watcher.Events() {
		if ev.Controller != c.Addr() || ev.At.Before(r.FaultAt) {
			continue
		}
		switch {
		case ev.Type == "+tilt" && tiltAt.IsZero():
			tiltAt = ev.At
		case ev.Type == "-tilt" && !tiltAt.IsZero() && tiltEnd.IsZero():
			tiltEnd = ev.At
		case ev.Type == "+vote-for-leader" && !tiltAt.IsZero() && tiltEnd.IsZero():
			r.problem("%s voted while in TILT: +vote-for-leader %s", c.Name, ev.Payload)
		}
	}
	switch {
	case tiltAt.IsZero():
		r.problem("%s did not enter TILT after a %v stall", c.Name, stallFor)
	case tiltEnd.IsZero():
		r.note("%s entered TILT %.0f ms after SIGCONT and was still in it when the failover ended", c.Name, ms(tiltAt.Sub(r.RecoverFrom)))
	default:
		r.note("%s in TILT from %.0f ms to %.0f ms after SIGCONT", c.Name, ms(tiltAt.Sub(r.RecoverFrom)), ms(tiltEnd.Sub(r.RecoverFrom)))
	}
	return d.group.Replicas, nil
}
