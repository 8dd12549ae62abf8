package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/vigil-ha/vigil/internal/harness"
	"github.com/vigil-ha/vigil/internal/testbed"
)

// Metric keys of a failover run, in report order.
const (
	mSDown        = "sdown_ms"
	mODown        = "odown_ms"
	mSwitch       = "switch_master_ms"
	mAllNodes     = "all_nodes_ms"
	mFirstWrite   = "first_write_ms"
	mLost         = "lost_writes"
	mLostKeepable = "lost_writes_keepable"
	mDualMaster   = "dual_master_ms"
	mDualWritable = "dual_writable_ms"
	mDemoted      = "old_master_demoted_ms"
	mLastOldWrite = "last_old_master_write_ms"
)

// metricInfo describes a metric for reports.
type metricInfo struct {
	key   string
	label string
	unit  string // "ms" or "" (a count)
	// faults it applies to; nil means all.
	faults []testbed.Fault
}

func metricInfos() []metricInfo {
	timed := []testbed.Fault{testbed.FaultKill9, testbed.FaultSigstop}
	alive := []testbed.Fault{testbed.FaultSigstop, testbed.FaultManual}
	return []metricInfo{
		{mSDown, "fault → first +sdown (master)", "ms", timed},
		{mODown, "fault → first +odown", "ms", timed},
		{mSwitch, "fault → first +switch-master", "ms", nil},
		{mAllNodes, "fault → every node answers the new master", "ms", nil},
		{mFirstWrite, "fault → first acked write on the new master (unavailability)", "ms", nil},
		{mLastOldWrite, "fault → last acked write on the old master", "ms", []testbed.Fault{testbed.FaultManual}},
		{mLost, "acknowledged writes lost", "", nil},
		{mLostKeepable, "… of them a controller could have kept", "", nil},
		{mDualMaster, "two servers answering ROLE master at once", "ms", alive},
		{mDualWritable, "two servers accepting writes at once", "ms", alive},
		{mDemoted, "old master reachable → it answers ROLE slave", "ms", alive},
	}
}

func (m metricInfo) appliesTo(f testbed.Fault) bool {
	if m.faults == nil {
		return true
	}
	for _, x := range m.faults {
		if x == f {
			return true
		}
	}
	return false
}

// RunResult is one failover run.
type RunResult struct {
	Kind        testbed.Kind  `json:"kind"`
	Fault       testbed.Fault `json:"fault"`
	DownAfterMS int64         `json:"down_after_ms"`
	Run         int           `json:"run"`
	OK          bool          `json:"ok"`
	Error       string        `json:"error,omitempty"`
	KeptDir     string        `json:"kept_dir,omitempty"`
	OldMaster   string        `json:"old_master"`
	NewMaster   string        `json:"new_master,omitempty"`
	// Metrics maps the m* keys to milliseconds (or a count); a metric that
	// was not observed is absent.
	Metrics     map[string]float64 `json:"metrics"`
	WritesTried int                `json:"writes_tried"`
	WritesAcked int                `json:"writes_acked"`
	LostSeqs    []int64            `json:"lost_seqs,omitempty"`
	// Unreplicated lists the writes the old master acknowledged before the
	// fault that no replica held shortly after it (kill9, sigstop): only
	// the old master ever had them, so no controller could keep them.
	Unreplicated []int64         `json:"unreplicated_seqs,omitempty"`
	FaultAt      time.Time       `json:"fault_at"`
	ResumedAt    *time.Time      `json:"resumed_at,omitempty"`
	DurationMS   int64           `json:"duration_ms"`
	Events       []testbed.Event `json:"events,omitempty"`
	// WriteTimeline groups the writes from shortly before the fault on by
	// outcome: runs of writes acknowledged by the same server, or failing
	// with the same error.
	WriteTimeline []writeSegment    `json:"write_timeline,omitempty"`
	ControllerLog map[string]string `json:"-"`
}

// bench runs the whole benchmark.
type bench struct {
	opts   options
	log    *slog.Logger
	stdout io.Writer
}

func (b *bench) run(ctx context.Context) (*Results, error) {
	res := &Results{
		Started:  time.Now(),
		Quick:    b.opts.quick,
		Machine:  harness.ReadMachine(),
		Versions: readVersions(ctx, b.opts.vigil),
		Settings: Settings{
			Runs:              b.opts.runs,
			Controllers:       b.opts.controllers,
			Replicas:          b.opts.replicas,
			Quorum:            b.opts.quorum,
			FailoverTimeoutMS: b.opts.failoverTimeout.Milliseconds(),
			WriteIntervalMS:   float64(b.opts.writeInterval.Microseconds()) / 1000,
			WriteTimeoutMS:    b.opts.writeTimeout.Milliseconds(),
			PollIntervalMS:    float64(b.opts.pollInterval.Microseconds()) / 1000,
			CostIdleS:         b.opts.costIdle.Seconds(),
			CostRequests:      b.opts.costReqs,
			ScaleIdleS:        b.opts.scaleIdle.Seconds(),
			ScaleMasters:      b.opts.scaleMasters,
		},
	}
	res.Settings.Kinds = append(res.Settings.Kinds, b.opts.kinds...)
	res.Settings.Faults = b.opts.faults
	for _, d := range b.opts.downAfters {
		res.Settings.DownAfterMS = append(res.Settings.DownAfterMS, d.Milliseconds())
	}

	total := b.opts.runs * len(b.opts.kinds) * len(b.opts.faults) * len(b.opts.downAfters)
	if !b.opts.failover {
		total = 0
		res.Settings.Runs = 0
		res.Settings.Faults = nil
		res.Settings.DownAfterMS = nil
	}
	n := 0
	// Interleave kinds run by run so that slow drifts of the machine hit
	// both alike.
	for run := 1; run <= res.Settings.Runs; run++ {
		for _, da := range b.opts.downAfters {
			for _, f := range b.opts.faults {
				for _, k := range b.opts.kinds {
					n++
					r := b.failoverRun(ctx, k, f, da, run)
					if ctx.Err() != nil {
						return nil, ctx.Err()
					}
					b.progress("[%d/%d] %s", n, total, r.summary())
					res.Failover = append(res.Failover, r)
				}
			}
		}
	}
	res.Machine.LoadAvgBefore = harness.LoadAvg()
	if b.opts.cost {
		res.Cost = b.costSection(ctx)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		for _, c := range res.Cost {
			b.progress("cost %s: %s", c.Kind, c.summary())
		}
	}
	if b.opts.scale {
		scale, err := b.scaleSection(ctx)
		if err != nil {
			return nil, err
		}
		res.Scale = scale
	} else {
		res.Settings.ScaleIdleS, res.Settings.ScaleMasters = 0, nil
	}
	res.Finished = time.Now()
	res.Machine.LoadAvgAfter = harness.LoadAvg()
	return res, nil
}

// progress prints one line of progress; a failing stdout does not stop the
// benchmark (its results still go to the JSON file).
func (b *bench) progress(format string, args ...any) {
	_, _ = fmt.Fprintf(b.stdout, format+"\n", args...)
}

func (r RunResult) summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-8s %-7s down-after=%-5d run %d: ", r.Kind, r.Fault, r.DownAfterMS, r.Run)
	if !r.OK {
		fmt.Fprintf(&b, "FAILED: %s", harness.FirstLine(r.Error))
		if r.KeptDir != "" {
			fmt.Fprintf(&b, " (logs in %s)", r.KeptDir)
		}
		return b.String()
	}
	for _, k := range []string{mSDown, mODown, mSwitch, mAllNodes, mFirstWrite, mDualMaster} {
		if v, ok := r.Metrics[k]; ok {
			fmt.Fprintf(&b, "%s=%.0f ", strings.TrimSuffix(k, "_ms"), v)
		}
	}
	fmt.Fprintf(&b, "lost=%.0f/%d", r.Metrics[mLost], r.WritesAcked)
	if len(r.Unreplicated) > 0 {
		fmt.Fprintf(&b, " (%d on no replica at the fault)", len(r.Unreplicated))
	}
	fmt.Fprintf(&b, " (%.1fs)", float64(r.DurationMS)/1000)
	return b.String()
}

// failoverRun sets up a fresh group and controllers, injects f and
// measures. Errors end up in the result (OK false) rather than stopping the
// benchmark.
func (b *bench) failoverRun(ctx context.Context, kind testbed.Kind, f testbed.Fault, downAfter time.Duration, run int) RunResult {
	r := RunResult{Kind: kind, Fault: f, DownAfterMS: downAfter.Milliseconds(), Run: run, Metrics: map[string]float64{}}
	started := time.Now()
	env, err := testbed.New(testbed.Options{Vigil: b.opts.vigil, Keep: b.opts.keep, Logger: b.log})
	if err != nil {
		r.Error = err.Error()
		return r
	}
	err = b.measure(ctx, env, &r)
	r.DurationMS = time.Since(started).Milliseconds()
	if err != nil {
		r.Error = err.Error()
		if ctx.Err() == nil {
			r.KeptDir = env.Dir
			env.Keep()
		}
	} else {
		r.OK = true
		if b.opts.keep {
			r.KeptDir = env.Dir
		}
	}
	if err := env.Close(); err != nil {
		b.log.Warn("closing testbed", "err", err)
	}
	return r
}

// measure is one run; see failoverRun.
func (b *bench) measure(ctx context.Context, env *testbed.Env, r *RunResult) error {
	o := b.opts
	grp, err := env.StartGroup(ctx, o.replicas)
	if err != nil {
		return err
	}
	old := grp.Master.Addr()
	r.OldMaster = old
	ctrls, err := env.StartControllers(ctx, o.controllers, testbed.ControllerConfig{
		Kind:            r.Kind,
		MasterName:      o.masterName,
		MasterAddr:      old,
		Quorum:          o.quorum,
		DownAfter:       time.Duration(r.DownAfterMS) * time.Millisecond,
		FailoverTimeout: o.failoverTimeout,
		LogLevel:        o.vigilLog,
	})
	if err != nil {
		return err
	}
	if err := testbed.WaitControllersReady(ctx, ctrls, o.masterName, o.replicas); err != nil {
		return err
	}
	var ctrlAddrs, servers []string
	for _, c := range ctrls {
		ctrlAddrs = append(ctrlAddrs, c.Addr())
	}
	for _, s := range grp.All() {
		servers = append(servers, s.Addr())
	}

	watcher, err := testbed.WatchEvents(ctx, ctrlAddrs)
	if err != nil {
		return err
	}
	defer watcher.Close()
	poller := testbed.PollMasterAddr(ctx, ctrlAddrs, o.masterName, o.pollInterval)
	defer poller.Close()
	prober := testbed.ProbeRoles(ctx, servers, o.pollInterval)
	defer prober.Close()
	writer, err := testbed.StartWriter(ctx, testbed.WriterOptions{
		MasterName:  o.masterName,
		Controllers: ctrlAddrs,
		Interval:    o.writeInterval,
		Timeout:     o.writeTimeout,
	})
	if err != nil {
		return err
	}
	defer writer.Stop()

	// Warm up: the writer is acknowledged on the master for a second.
	warmStart := time.Now()
	if err := waitFor(ctx, 10*time.Second, "writes acknowledged before the fault", func() bool {
		w, ok := writer.LastAckOn(old)
		return ok && !w.Start.Before(warmStart) && writer.Acked() >= 200
	}); err != nil {
		return err
	}
	if err := sleep(ctx, time.Second); err != nil {
		return err
	}

	faultAt, err := testbed.Inject(ctx, r.Fault, grp, ctrls[0], o.masterName)
	r.FaultAt = faultAt
	if err != nil {
		return err
	}
	if r.Fault != testbed.FaultManual {
		// The old master can send nothing more; what the replicas hold
		// once the bytes already in flight have landed is all any
		// controller can keep.
		if err := sleep(ctx, unreplicatedAfter); err != nil {
			return err
		}
		r.Unreplicated, err = unreplicated(ctx, grp, writer.Snapshot(), old, faultAt)
		if err != nil {
			return err
		}
	}
	deadline := time.Duration(r.DownAfterMS)*time.Millisecond + 2*o.failoverTimeout + 10*time.Second
	var newMaster string
	failErr := waitFor(ctx, deadline, "every controller to answer a new master and a write acknowledged there", func() bool {
		cur := poller.Current()
		cand := ""
		for _, a := range ctrlAddrs {
			v := cur[a]
			if v == "" || v == old || (cand != "" && v != cand) {
				return false
			}
			cand = v
		}
		if w, ok := writer.LastAckOn(cand); !ok || w.Start.Before(faultAt) {
			return false
		}
		newMaster = cand
		return true
	})
	r.NewMaster = newMaster
	reachable := faultAt // when the old master could be seen again
	if r.Fault == testbed.FaultSigstop {
		if err := grp.Master.Resume(); err != nil {
			return err
		}
		reachable = time.Now()
		r.ResumedAt = &reachable
	}
	if failErr == nil && r.Fault != testbed.FaultKill9 {
		// Watch the old master until it is a replica again (or give up:
		// the dual-master metrics are then lower bounds).
		_ = waitFor(ctx, o.dualCap, "old master to turn replica", func() bool {
			s := prober.Current()[old]
			return s == testbed.StateReplica
		})
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	// A little more traffic on the new master before stopping.
	_ = sleep(ctx, 200*time.Millisecond)
	end := time.Now()
	writes := writer.Stop()
	watcher.Close()
	poller.Close()
	prober.Close()

	for _, w := range writes {
		r.WritesTried++
		if w.Acked() {
			r.WritesAcked++
		}
	}
	events := watcher.Events()
	for _, ev := range events {
		if !ev.At.Before(faultAt.Add(-time.Second)) {
			r.Events = append(r.Events, ev)
		}
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	if ev, ok := testbed.FirstEvent(events, "+sdown", "master "+o.masterName+" ", faultAt); ok {
		r.Metrics[mSDown] = ms(ev.At.Sub(faultAt))
	}
	if ev, ok := testbed.FirstEvent(events, "+odown", "master "+o.masterName+" ", faultAt); ok {
		r.Metrics[mODown] = ms(ev.At.Sub(faultAt))
	}
	if ev, ok := testbed.FirstEvent(events, "+switch-master", o.masterName+" ", faultAt); ok {
		r.Metrics[mSwitch] = ms(ev.At.Sub(faultAt))
	}
	if failErr != nil {
		return failErr
	}
	if at, ok := poller.AllAnswer(newMaster, faultAt); ok {
		r.Metrics[mAllNodes] = ms(at.Sub(faultAt))
	}
	if w, ok := testbed.FirstAckOn(writes, newMaster, faultAt); ok {
		r.Metrics[mFirstWrite] = ms(w.End.Sub(faultAt))
	}
	for _, w := range writes {
		if w.Acked() && w.Addr == old && !w.Start.Before(faultAt) {
			r.Metrics[mLastOldWrite] = ms(w.End.Sub(faultAt))
		}
	}
	r.WriteTimeline = segments(writes, faultAt.Add(-500*time.Millisecond), faultAt)
	if r.Fault != testbed.FaultKill9 {
		roles := prober.Changes()
		r.Metrics[mDualMaster] = ms(testbed.Overlap(roles, faultAt, end, testbed.IsMaster))
		r.Metrics[mDualWritable] = ms(testbed.Overlap(roles, faultAt, end, testbed.IsWritable))
		if at, ok := firstState(roles[old], testbed.StateReplica, reachable); ok {
			r.Metrics[mDemoted] = ms(at.Sub(reachable))
		}
	}

	final := testbed.NewClient(newMaster, 2*time.Second)
	defer func() { _ = final.Close() }()
	lost, err := testbed.LostWrites(ctx, final, "", writes)
	if err != nil {
		return err
	}
	r.LostSeqs = lost
	r.Metrics[mLost] = float64(len(lost))
	only := map[int64]bool{}
	for _, seq := range r.Unreplicated {
		only[seq] = true
	}
	keepable := 0
	for _, seq := range lost {
		if !only[seq] {
			keepable++
		}
	}
	r.Metrics[mLostKeepable] = float64(keepable)
	return nil
}

// unreplicatedAfter is how long after a kill9 or sigstop fault the
// replicas are read for the writes the old master acknowledged before it:
// long enough for bytes the master had already written to its replication
// sockets to arrive (loopback), far shorter than any down-after.
const unreplicatedAfter = 100 * time.Millisecond

// unreplicatedWindow bounds which acknowledged writes are looked for on the
// replicas: those acknowledged in this window before the fault. An older
// write missing from every replica would be counted as keepable.
const unreplicatedWindow = 2 * time.Second

// unreplicated returns the writes old acknowledged shortly before faultAt
// that no replica of grp holds.
func unreplicated(ctx context.Context, grp *testbed.Group, writes []testbed.Write, old string, faultAt time.Time) ([]int64, error) {
	var recent []testbed.Write
	for _, w := range writes {
		if w.Acked() && w.Addr == old && w.Start.Before(faultAt) && w.End.After(faultAt.Add(-unreplicatedWindow)) {
			recent = append(recent, w)
		}
	}
	missing := map[int64]int{}
	for _, rep := range grp.Replicas {
		lost, err := testbed.LostWrites(ctx, rep.Client(), "", recent)
		if err != nil {
			return nil, fmt.Errorf("reading the replicas after the fault: %w", err)
		}
		for _, seq := range lost {
			missing[seq]++
		}
	}
	var out []int64
	for _, w := range recent {
		if missing[w.Seq] == len(grp.Replicas) {
			out = append(out, w.Seq)
		}
	}
	return out, nil
}

// writeSegment is a run of consecutive writes with the same outcome.
type writeSegment struct {
	// FromMS and ToMS are the first write's start and the last write's end,
	// relative to the fault.
	FromMS  float64 `json:"from_ms"`
	ToMS    float64 `json:"to_ms"`
	Count   int     `json:"count"`
	Outcome string  `json:"outcome"` // "ack <addr>" or "error <message>"
}

// segments groups the writes that started at or after from by outcome,
// with times relative to zero.
func segments(writes []testbed.Write, from, zero time.Time) []writeSegment {
	var out []writeSegment
	ms := func(t time.Time) float64 { return float64(t.Sub(zero).Microseconds()) / 1000 }
	for _, w := range writes {
		if w.Start.Before(from) {
			continue
		}
		outcome := "ack " + w.Addr
		if !w.Acked() {
			outcome = "error " + w.Err
		}
		if n := len(out); n > 0 && out[n-1].Outcome == outcome {
			out[n-1].ToMS = ms(w.End)
			out[n-1].Count++
			continue
		}
		out = append(out, writeSegment{FromMS: ms(w.Start), ToMS: ms(w.End), Count: 1, Outcome: outcome})
	}
	return out
}

// firstState returns the first change to state at or after from.
func firstState(changes []testbed.Change, state string, from time.Time) (time.Time, bool) {
	for _, c := range changes {
		if !c.At.Before(from) && c.Value == state {
			return c.At, true
		}
	}
	return time.Time{}, false
}

// waitFor polls cond every 5ms until it holds, ctx ends or timeout passes.
func waitFor(ctx context.Context, timeout time.Duration, what string, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	ticker := time.NewTicker(5 * time.Millisecond)
	defer ticker.Stop()
	for {
		if cond() {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %v waiting for %s", timeout, what)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ticker.C:
		}
	}
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
