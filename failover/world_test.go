package failover_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/failover"
	"github.com/vigil-ha/vigil/topology"
)

// world is a tiny in-memory model of a Redis replication group, enough for
// scenario tests: instances die, get promoted and re-pointed, and replicas
// bring their link up syncDelay after being pointed at a live master.
type world struct {
	now       time.Time
	syncDelay time.Duration
	master    topology.Addr // the master of record (the failing one)
	sdownAt   time.Time     // when our node saw master s_down; zero if not
	order     []topology.Addr
	inst      map[topology.Addr]*instance

	ignorePromote bool                   // REPLICAOF NO ONE answers OK and does nothing
	neverSync     map[topology.Addr]bool // replicas that accept REPLICAOF but never link up
}

type instance struct {
	alive         bool
	diedAt        time.Time
	role          topology.Role
	replicaOf     topology.Addr
	linkUp        bool
	linkDownSince time.Time
	followSince   time.Time
	priority      int
	offset        int64
}

var errDead = errors.New("connection refused")

// newWorld has master replicated by replicas with the given offsets, all
// links up, at t0.
func newWorld(master topology.Addr, replicas map[topology.Addr]int64, order ...topology.Addr) *world {
	w := &world{now: t0, syncDelay: 1500 * time.Millisecond, master: master, inst: map[topology.Addr]*instance{}, neverSync: map[topology.Addr]bool{}}
	w.add(master, &instance{alive: true, role: topology.RoleMaster, priority: 100})
	for _, a := range order {
		w.add(a, &instance{alive: true, role: topology.RoleReplica, replicaOf: master, linkUp: true, priority: 100, offset: replicas[a]})
	}
	return w
}

func (w *world) add(a topology.Addr, i *instance) {
	w.inst[a] = i
	w.order = append(w.order, a)
}

func (w *world) kill(a topology.Addr) {
	i := w.inst[a]
	i.alive, i.diedAt = false, w.now
	for _, r := range w.inst {
		if r.replicaOf == a && r.linkUp {
			r.linkUp, r.linkDownSince = false, w.now
		}
	}
}

// advance moves time on by d and lets replicas finish their sync.
func (w *world) advance(d time.Duration) {
	w.now = w.now.Add(d)
	for _, a := range w.order {
		r := w.inst[a]
		m, ok := w.inst[r.replicaOf]
		if !r.alive || r.role != topology.RoleReplica || r.linkUp || !ok || !m.alive || m.role != topology.RoleMaster || w.neverSync[a] {
			continue
		}
		if w.now.Sub(r.followSince) >= w.syncDelay {
			r.linkUp = true
		}
	}
}

func (w *world) promote(a topology.Addr) failover.PromoteResult {
	i := w.inst[a]
	if !i.alive {
		return failover.PromoteResult{Err: errDead}
	}
	if !w.ignorePromote {
		i.role, i.replicaOf, i.linkUp = topology.RoleMaster, topology.Addr{}, false
	}
	return failover.PromoteResult{}
}

func (w *world) repoint(a, to topology.Addr) failover.RepointResult {
	i := w.inst[a]
	if !i.alive {
		return failover.RepointResult{Replica: a, Err: errDead}
	}
	i.role, i.replicaOf, i.linkUp, i.followSince = topology.RoleReplica, to, false, w.now
	if i.linkDownSince.IsZero() {
		i.linkDownSince = w.now
	}
	return failover.RepointResult{Replica: a}
}

// snapshot is what a driver polling every instance would report now.
func (w *world) snapshot() failover.Snapshot {
	s := failover.Snapshot{Master: failover.MasterView{SDown: !w.sdownAt.IsZero(), SDownSince: w.sdownAt, DownAfter: 5 * time.Second}}
	for _, a := range w.order {
		if a == w.master {
			continue
		}
		i := w.inst[a]
		c := failover.Candidate{
			Addr: a, RunID: "run-" + a.String(), Priority: i.priority, Offset: i.offset,
			RoleReported: i.role, ReplicaOf: i.replicaOf, LinkUp: i.linkUp,
			LastAcceptableReply: w.now, InfoRefreshed: w.now,
		}
		if !i.alive {
			c.SDown, c.Disconnected = true, true
			c.LastAcceptableReply, c.InfoRefreshed = i.diedAt, i.diedAt
		}
		if i.role == topology.RoleReplica && !i.linkUp {
			c.MasterLinkDownFor = w.now.Sub(i.linkDownSince)
		}
		s.Replicas = append(s.Replicas, c)
	}
	return s
}

// driver plays the role of package sentinel: it feeds inputs to a Machine,
// executes the actions against the world, feeds the results back (with a
// fresh snapshot right after a promotion) and logs every action.
type driver struct {
	w   *world
	m   *failover.Machine
	log []string
}

func (d *driver) step(in failover.Input) {
	queue := []failover.Input{in}
	for len(queue) > 0 {
		in, queue = queue[0], queue[1:]
		for _, a := range d.m.Step(d.w.now, in) {
			d.log = append(d.log, fmtAction(a))
			switch a := a.(type) {
			case failover.Promote:
				queue = append(queue, d.w.promote(a.Replica), d.w.snapshot())
			case failover.Repoint:
				queue = append(queue, d.w.repoint(a.Replica, a.To))
			}
		}
	}
}

// pollUntilFinished advances the world a second at a time, passing a
// snapshot each second, until the attempt ends or limit passes.
func (d *driver) pollUntilFinished(t *testing.T, limit time.Duration) {
	t.Helper()
	deadline := d.w.now.Add(limit)
	for d.m.State() != failover.StateDone && d.m.State() != failover.StateAborted {
		if d.w.now.After(deadline) {
			t.Fatalf("still %v after %v; log:\n%s", d.m.State(), limit, fmtLog(d.log))
		}
		d.w.advance(time.Second)
		d.step(d.w.snapshot())
	}
}

func fmtLog(lines []string) string {
	s := ""
	for _, l := range lines {
		s += fmt.Sprintf("  %s\n", l)
	}
	return s
}
