package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/redis/go-redis/v9"

	"github.com/vigil-ha/vigil/internal/testbed"
)

// registerKey is the one key of the linearizability workload.
const registerKey = "chaos:register"

// regInput is a register operation: a read, or a write of value.
type regInput struct {
	write bool
	value int64
}

// registerModel is a single register holding an int64 (0 = missing key).
func registerModel() porcupine.Model {
	return porcupine.Model{
		Init: func() any { return int64(0) },
		Step: func(state, input, output any) (bool, any) {
			in := input.(regInput)
			st := state.(int64)
			if in.write {
				return true, in.value
			}
			return output.(int64) == st, st
		},
		DescribeOperation: func(input, output any) string {
			in := input.(regInput)
			if in.write {
				return fmt.Sprintf("set %d", in.value)
			}
			return fmt.Sprintf("get → %d", output.(int64))
		},
		DescribeState: func(state any) string { return strconv.FormatInt(state.(int64), 10) },
	}
}

// opOutcome classifies a failed command: a definite failure never took
// effect and is left out of the history; an indefinite write may have.
type opOutcome int

const (
	opOK opOutcome = iota
	opFailed
	opIndefinite
)

// classify decides whether err proves the command was not applied: an
// error reply from the server (READONLY, LOADING...), a failed dial or
// discovery, or a pool timeout (never sent). Anything else — a timeout, a
// connection closed under the command — leaves it indefinite.
func classify(err error) opOutcome {
	if err == nil {
		return opOK
	}
	var rerr redis.Error
	if errors.As(err, &rerr) {
		return opFailed
	}
	var oerr *net.OpError
	if errors.As(err, &oerr) && oerr.Op == "dial" {
		return opFailed
	}
	if errors.Is(err, redis.ErrPoolTimeout) {
		return opFailed
	}
	return opIndefinite
}

// history collects the operations of every client.
type history struct {
	base time.Time
	mu   sync.Mutex
	ops  []porcupine.Operation
	// addrs holds the server that answered each completed operation, by
	// index in ops ("" when unknown).
	addrs      []string
	indefinite int
}

func (h *history) add(op porcupine.Operation, addr string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ops = append(h.ops, op)
	h.addrs = append(h.addrs, addr)
	if op.Return == math.MaxInt64 {
		h.indefinite++
	}
}

// registerClient runs reads and writes on the register until stop is
// closed, alternating at random, one at a time.
func registerClient(ctx context.Context, id int, c *redis.Client, last *lastAddr, h *history, stop <-chan struct{}) {
	seed := uint64(id)*7919 + uint64(time.Now().UnixNano())
	n := int64(0)
	for {
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		default:
		}
		n++
		seed = seed*6364136223846793005 + 1442695040888963407
		write := seed>>63 == 1
		last.reset()
		call := time.Since(h.base).Nanoseconds()
		var (
			in  = regInput{write: write}
			out int64
			err error
		)
		if write {
			in.value = int64(id+1)<<32 | n
			err = c.Set(ctx, registerKey, in.value, 0).Err()
		} else {
			out, err = c.Get(ctx, registerKey).Int64()
			if errors.Is(err, redis.Nil) {
				out, err = 0, nil
			}
		}
		ret := time.Since(h.base).Nanoseconds()
		switch classify(err) {
		case opOK:
			h.add(porcupine.Operation{ClientId: id, Input: in, Call: call, Output: out, Return: ret}, last.get())
		case opIndefinite:
			if write {
				h.add(porcupine.Operation{ClientId: id, Input: in, Call: call, Output: int64(0), Return: math.MaxInt64}, "")
			}
		case opFailed:
		}
		_ = sleep(ctx, time.Millisecond)
	}
}

// lastAddr remembers the server a client last read a reply from (set by
// testbed.NewFailoverClient's onRead).
type lastAddr struct{ p atomic.Pointer[string] }

func (l *lastAddr) reset() { l.p.Store(nil) }

func (l *lastAddr) get() string {
	if a := l.p.Load(); a != nil {
		return *a
	}
	return ""
}

// runSwitchoverLinearizable is scenario 8 (vigil only): concurrent clients
// read and write one register through discovery while vigil hands the
// master role over with SENTINEL SWITCHOVER, several times; the history
// must be linearizable and the writer must lose nothing.
func runSwitchoverLinearizable(ctx context.Context, env *testbed.Env, cfg settings, r *RunResult, log *slog.Logger) error {
	d, err := setup(ctx, env, testbed.KindVigil, cfg, deployOptions{writer: true})
	if err != nil {
		return err
	}
	defer d.close()
	r.OldMaster = d.group.Master.Addr()
	if err := d.group.Master.Client().Del(ctx, registerKey).Err(); err != nil {
		return fmt.Errorf("reset the register: %w", err)
	}
	h := &history{base: time.Now()}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for id := range cfg.linClients {
		last := &lastAddr{}
		c := testbed.NewFailoverClient(cfg.masterName, d.ctrlAddrs, cfg.writeTimeout, d.rt.resolve, last.p.Store)
		defer func() { _ = c.Close() }()
		wg.Go(func() { registerClient(ctx, id, c, last, h, stop) })
	}
	stopClients := sync.OnceFunc(func() { close(stop); wg.Wait() })
	defer stopClients()

	r.FaultAt = time.Now()
	r.RecoverFrom = r.FaultAt
	master := r.OldMaster
	var worst time.Duration
	for i := range cfg.switchovers {
		if err := sleep(ctx, 1500*time.Millisecond); err != nil {
			return err
		}
		ctrl := d.ctrls[i%len(d.ctrls)]
		start := time.Now()
		err := switchover(ctx, ctrl.Addr(), cfg.masterName)
		took := time.Since(start)
		if err != nil {
			r.problem("switchover %d via %s: %v (after %.0f ms)", i+1, ctrl.Name, err, ms(took))
			continue
		}
		next, stableAt, err := settle(ctx, d, d.group.All())
		if err != nil {
			r.problem("after switchover %d: checker (a): %v", i+1, err)
			break
		}
		if next == master {
			r.problem("switchover %d via %s replied OK but %s is still the master once settled (after %.1f s)", i+1, ctrl.Name, master, stableAt.Sub(start).Seconds())
		}
		r.note("switchover %d via %s: %s → %s, +OK after %.0f ms, settled after %.0f ms", i+1, ctrl.Name, master, next, ms(took), ms(stableAt.Sub(start)))
		worst = max(worst, stableAt.Sub(start))
		master = next
	}
	if err := sleep(ctx, time.Second); err != nil {
		return err
	}
	stopClients()
	r.FinalMaster = master
	if len(r.Problems) == 0 {
		r.RecoverMS = ms(worst)
	}
	writes := d.writer.Stop()
	d.watcher.Close()
	d.prober.Close()
	r.Events = d.watcher.Events()
	r.countEvents(r.Events)
	for _, line := range undoneSwitches(r.Events, d.ctrlName) {
		r.problem("%s", line)
	}
	r.DualWritableMS = ms(testbed.Overlap(d.prober.Changes(), r.FaultAt, time.Now(), testbed.IsWritable))
	for _, w := range writes {
		r.WritesTried++
		if w.Acked() {
			r.WritesAcked++
		}
	}
	if r.WritesTried > r.WritesAcked {
		r.note("%d of %d writes failed (unacknowledged) during the switchovers", r.WritesTried-r.WritesAcked, r.WritesTried)
	}
	lost, err := lostWrites(ctx, master, writes)
	if err != nil {
		return err
	}
	r.LostSeqs, r.Lost = lost, len(lost)
	if r.Lost > 0 {
		r.problem("switchover lost %d acknowledged writes: seq %s", r.Lost, seqString(lost, 10))
	}

	h.mu.Lock()
	ops, addrs := slices.Clone(h.ops), slices.Clone(h.addrs)
	r.Ops, r.Indefinite = len(ops), h.indefinite
	h.mu.Unlock()
	log.Info("checking linearizability", "ops", len(ops), "indefinite", r.Indefinite)
	model := registerModel()
	res, info := porcupine.CheckOperationsVerbose(model, ops, cfg.linTimeout)
	switch res {
	case porcupine.Ok:
		r.Linearizable = "ok"
	case porcupine.Illegal:
		r.Linearizable = "illegal"
		r.problem("checker (c): history of %d operations is not linearizable", len(ops))
		roles := d.prober.Changes()
		roleAt := func(addr string, at time.Time) string { return stateAt(roles[addr], at) }
		for _, s := range staleReads(ops, addrs, h.base, roleAt, 3) {
			r.problem("checker (c): %s", s)
		}
		path := filepath.Join(env.Dir, "linearizability.html")
		if err := porcupine.VisualizePath(model, info, path); err == nil {
			r.Visualization = path
		}
	default:
		r.Linearizable = "unknown"
		r.problem("checker (c): porcupine gave no answer within %v (%d operations)", cfg.linTimeout, len(ops))
	}
	return nil
}

// switchover sends SENTINEL SWITCHOVER name to the controller at addr and
// waits for its reply (it answers when the switchover is complete).
func switchover(ctx context.Context, addr, name string) error {
	c := testbed.NewClient(addr, 40*time.Second)
	defer func() { _ = c.Close() }()
	return c.Do(ctx, "SENTINEL", "SWITCHOVER", name).Err()
}

// staleReads explains a non-linearizable history in the simplest terms it
// can find: reads that returned a value although another write had
// completed after that value's write and before the read began. roleAt
// tells what the role prober last saw of a server at a time.
func staleReads(ops []porcupine.Operation, addrs []string, base time.Time, roleAt func(addr string, at time.Time) string, limit int) []string {
	writes := map[int64]int{} // value → index in ops
	var byEnd []int           // completed writes
	for i, op := range ops {
		if in := op.Input.(regInput); in.write {
			writes[in.value] = i
			if op.Return != math.MaxInt64 {
				byEnd = append(byEnd, i)
			}
		}
	}
	at := func(ns int64) string { return base.Add(time.Duration(ns)).Format("15:04:05.000000") }
	var out []string
	for i, op := range ops {
		in := op.Input.(regInput)
		if in.write {
			continue
		}
		v := op.Output.(int64)
		wi, ok := writes[v]
		if v != 0 && !ok {
			out = append(out, fmt.Sprintf("client %d read %d at %s from %s, a value never written", op.ClientId, v, at(op.Call), addrs[i]))
		} else {
			for _, xi := range byEnd {
				x := ops[xi]
				after := v == 0 || x.Call > ops[wi].Return
				if xi != wi && after && x.Return < op.Call {
					out = append(out, fmt.Sprintf("stale read: client %d read %d from %s (role then: %s) at %s–%s, but client %d's write of %d was acknowledged by %s at %s, after that value's write and before the read",
						op.ClientId, v, addrs[i], roleAt(addrs[i], base.Add(time.Duration(op.Call))), at(op.Call), at(op.Return),
						x.ClientId, x.Input.(regInput).value, addrs[xi], at(x.Return)))
					break
				}
			}
		}
		if len(out) >= limit {
			break
		}
	}
	return out
}

// stateAt returns the state in force at time at in a prober timeline
// ("?" before the first sample, "no answer" for an empty one).
func stateAt(changes []testbed.Change, at time.Time) string {
	v := "?"
	for _, c := range changes {
		if c.At.After(at) {
			break
		}
		v = c.Value
	}
	if v == "" {
		return "no answer"
	}
	return v
}
