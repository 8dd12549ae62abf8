package failover_test

import (
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/failover"
	"github.com/vigil-ha/vigil/topology"
)

func addr(last int) topology.Addr {
	return topology.Addr{Host: "10.0.0." + string(rune('0'+last)), Port: 6379}
}

var (
	oldMaster = addr(1)
	r1        = addr(2)
	r2        = addr(3)
	r3        = addr(4)
)

// healthy is a replica of oldMaster that answered and sent INFO at now.
func healthy(a topology.Addr, runID string, offset int64, now time.Time) failover.Candidate {
	return failover.Candidate{
		Addr:                a,
		RunID:               runID,
		LastAcceptableReply: now,
		InfoRefreshed:       now,
		Priority:            100,
		Offset:              offset,
		RoleReported:        topology.RoleReplica,
		ReplicaOf:           oldMaster,
	}
}

func TestSelectReplicaExclusions(t *testing.T) {
	const downAfter = 30 * time.Second
	now := t0.Add(time.Hour)
	up := failover.MasterView{DownAfter: downAfter}
	sdown := failover.MasterView{SDown: true, SDownSince: now.Add(-time.Minute), DownAfter: downAfter}
	with := func(f func(*failover.Candidate)) failover.Candidate {
		c := healthy(r1, "aaa", 10, now)
		f(&c)
		return c
	}
	tests := []struct {
		name   string
		master failover.MasterView
		c      failover.Candidate
		want   failover.RejectReason // 0: eligible
	}{
		{"healthy", sdown, with(func(*failover.Candidate) {}), 0},
		{"s_down", sdown, with(func(c *failover.Candidate) { c.SDown = true }), failover.RejectSDown},
		{"o_down", sdown, with(func(c *failover.Candidate) { c.ODown = true }), failover.RejectSDown},
		{"disconnected", sdown, with(func(c *failover.Candidate) { c.Disconnected = true }), failover.RejectDisconnected},
		{"ping reply exactly 5s old", sdown, with(func(c *failover.Candidate) { c.LastAcceptableReply = now.Add(-5 * time.Second) }), 0},
		{"ping reply older than 5s", sdown, with(func(c *failover.Candidate) { c.LastAcceptableReply = now.Add(-5*time.Second - 1) }), failover.RejectStalePing},
		{"ping freshness uses PingPeriod", failover.MasterView{PingPeriod: 2 * time.Second}, with(func(c *failover.Candidate) { c.LastAcceptableReply = now.Add(-9 * time.Second) }), 0},
		{"ping freshness uses PingPeriod, stale", failover.MasterView{PingPeriod: 2 * time.Second}, with(func(c *failover.Candidate) { c.LastAcceptableReply = now.Add(-11 * time.Second) }), failover.RejectStalePing},
		{"priority zero", sdown, with(func(c *failover.Candidate) { c.Priority = 0 }), failover.RejectPriorityZero},
		{"master s_down: INFO exactly 5s old", sdown, with(func(c *failover.Candidate) { c.InfoRefreshed = now.Add(-5 * time.Second) }), 0},
		{"master s_down: INFO older than 5s", sdown, with(func(c *failover.Candidate) { c.InfoRefreshed = now.Add(-5*time.Second - 1) }), failover.RejectStaleInfo},
		{"master up: INFO 29s old", up, with(func(c *failover.Candidate) { c.InfoRefreshed = now.Add(-29 * time.Second) }), 0},
		{"master up: INFO exactly 30s old", up, with(func(c *failover.Candidate) { c.InfoRefreshed = now.Add(-30 * time.Second) }), 0},
		{"master up: INFO older than 30s", up, with(func(c *failover.Candidate) { c.InfoRefreshed = now.Add(-30*time.Second - 1) }), failover.RejectStaleInfo},
		{"master up: custom InfoPeriod", failover.MasterView{InfoPeriod: time.Second}, with(func(c *failover.Candidate) { c.InfoRefreshed = now.Add(-4 * time.Second) }), failover.RejectStaleInfo},
		{"master up: link down exactly 10×down-after", up, with(func(c *failover.Candidate) { c.MasterLinkDownFor = 10 * downAfter }), 0},
		{"master up: link down longer than 10×down-after", up, with(func(c *failover.Candidate) { c.MasterLinkDownFor = 10*downAfter + 1 }), failover.RejectMasterLinkDownTooLong},
		{"master s_down 1m: link down 10×down-after + 1m", sdown, with(func(c *failover.Candidate) { c.MasterLinkDownFor = 10*downAfter + time.Minute }), 0},
		{"master s_down 1m: link down longer", sdown, with(func(c *failover.Candidate) { c.MasterLinkDownFor = 10*downAfter + time.Minute + 1 }), failover.RejectMasterLinkDownTooLong},
		{"master s_down since the future counts as 0", failover.MasterView{SDown: true, SDownSince: now.Add(time.Hour), DownAfter: downAfter}, with(func(c *failover.Candidate) { c.MasterLinkDownFor = 10*downAfter + 1 }), failover.RejectMasterLinkDownTooLong},
		{"master s_down since unknown (zero) saturates", failover.MasterView{SDown: true, DownAfter: downAfter}, with(func(c *failover.Candidate) { c.MasterLinkDownFor = math.MaxInt64 }), 0},
		{"huge down-after saturates", failover.MasterView{DownAfter: math.MaxInt64}, with(func(c *failover.Candidate) { c.MasterLinkDownFor = time.Hour }), 0},
		{"first reason wins: s_down before disconnected", sdown, with(func(c *failover.Candidate) { c.SDown, c.Disconnected, c.Priority = true, true, 0 }), failover.RejectSDown},
		{"first reason wins: disconnected before stale ping", sdown, with(func(c *failover.Candidate) { c.Disconnected, c.LastAcceptableReply = true, t0 }), failover.RejectDisconnected},
		{"first reason wins: stale ping before priority", sdown, with(func(c *failover.Candidate) { c.Priority, c.LastAcceptableReply = 0, t0 }), failover.RejectStalePing},
		{"first reason wins: priority before stale info", sdown, with(func(c *failover.Candidate) { c.Priority, c.InfoRefreshed = 0, t0 }), failover.RejectPriorityZero},
		{"foreign history (restarted empty as a master)", sdown, with(func(c *failover.Candidate) { c.RoleReported, c.ForeignHistory = topology.RoleMaster, true }), failover.RejectForeignHistory},
		{"orphan master continuing the history", sdown, with(func(c *failover.Candidate) { c.RoleReported = topology.RoleMaster }), 0},
		{"first reason wins: link before foreign history", sdown, with(func(c *failover.Candidate) { c.ForeignHistory, c.MasterLinkDownFor = true, time.Hour*1000 }), failover.RejectMasterLinkDownTooLong},
		{"first reason wins: stale info before link", sdown, with(func(c *failover.Candidate) { c.InfoRefreshed, c.MasterLinkDownFor = t0, time.Hour*1000 }), failover.RejectStaleInfo},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			best, ok, rejected := failover.SelectReplica(tc.master, []failover.Candidate{tc.c}, now)
			if tc.want == 0 {
				if !ok || best.Addr != tc.c.Addr || len(rejected) != 0 {
					t.Fatalf("got (%v, %v, %v), want %v eligible", best.Addr, ok, rejected, tc.c.Addr)
				}
				return
			}
			want := []failover.Rejection{{Addr: tc.c.Addr, Reason: tc.want}}
			if ok || !reflect.DeepEqual(rejected, want) {
				t.Fatalf("got (ok=%v, %v), want rejection %v", ok, rejected, want)
			}
		})
	}
}

func TestSelectReplicaOrdering(t *testing.T) {
	now := t0
	cand := func(a topology.Addr, prio int, offset int64, runID string) failover.Candidate {
		c := healthy(a, runID, offset, now)
		c.Priority = prio
		return c
	}
	tests := []struct {
		name  string
		cands []failover.Candidate
		want  topology.Addr
	}{
		{"lower priority wins over offset", []failover.Candidate{cand(r1, 100, 999, "a"), cand(r2, 10, 1, "b")}, r2},
		{"negative priority sorts first", []failover.Candidate{cand(r1, 1, 999, "a"), cand(r2, -1, 1, "b")}, r2},
		{"same priority: larger offset wins", []failover.Candidate{cand(r1, 100, 5, "a"), cand(r2, 100, 7, "b")}, r2},
		{"same offset: smaller run id wins", []failover.Candidate{cand(r1, 100, 5, "bbb"), cand(r2, 100, 5, "aaa")}, r2},
		{"run id compared case-insensitively", []failover.Candidate{cand(r1, 100, 5, "B"), cand(r2, 100, 5, "a")}, r2},
		{"run id compared case-insensitively (reverse)", []failover.Candidate{cand(r1, 100, 5, "a"), cand(r2, 100, 5, "B")}, r1},
		{"empty run id last", []failover.Candidate{cand(r1, 100, 5, ""), cand(r2, 100, 5, "zzz")}, r2},
		{"empty run id last (reverse order)", []failover.Candidate{cand(r2, 100, 5, "zzz"), cand(r1, 100, 5, "")}, r2},
		{"full tie: smaller address", []failover.Candidate{cand(r3, 100, 5, "AA"), cand(r2, 100, 5, "aa")}, r2},
		{"full tie, empty run ids: smaller address", []failover.Candidate{cand(r2, 100, 5, ""), cand(r1, 100, 5, "")}, r1},
		{"three-way", []failover.Candidate{cand(r1, 100, 5, "c"), cand(r2, 50, 3, "z"), cand(r3, 50, 4, "y")}, r3},
		{"same offset: an orphan already master wins", []failover.Candidate{cand(r1, 100, 5, "a"), orphan(cand(r2, 100, 5, "b"))}, r2},
		{"orphan behind: larger offset still wins", []failover.Candidate{cand(r1, 100, 6, "a"), orphan(cand(r2, 100, 5, "b"))}, r1},
		{"orphan: priority still first", []failover.Candidate{cand(r1, 10, 5, "a"), orphan(cand(r2, 100, 5, "b"))}, r1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			best, ok, rejected := failover.SelectReplica(failover.MasterView{}, tc.cands, now)
			if !ok || best.Addr != tc.want || len(rejected) != 0 {
				t.Errorf("got (%v, %v, %v), want %v", best.Addr, ok, rejected, tc.want)
			}
		})
	}
}

// orphan makes c a replica already promoted by a leader that died.
func orphan(c failover.Candidate) failover.Candidate {
	c.RoleReported = topology.RoleMaster
	return c
}

func TestSelectReplicaMixed(t *testing.T) {
	now := t0
	bad := healthy(r1, "a", 100, now)
	bad.Priority = 0
	down := healthy(r3, "c", 100, now)
	down.SDown = true
	good := healthy(r2, "b", 1, now)
	best, ok, rejected := failover.SelectReplica(failover.MasterView{}, []failover.Candidate{bad, good, down}, now)
	if !ok || !reflect.DeepEqual(best, good) {
		t.Errorf("best = %+v, ok %v", best, ok)
	}
	want := []failover.Rejection{{Addr: r1, Reason: failover.RejectPriorityZero}, {Addr: r3, Reason: failover.RejectSDown}}
	if !reflect.DeepEqual(rejected, want) {
		t.Errorf("rejected = %v, want %v", rejected, want)
	}
}

func TestSelectReplicaNone(t *testing.T) {
	if best, ok, rejected := failover.SelectReplica(failover.MasterView{}, nil, t0); ok || best != (failover.Candidate{}) || rejected != nil {
		t.Errorf("got (%+v, %v, %v)", best, ok, rejected)
	}
}

func TestSelectReplicaDoesNotReorderInput(t *testing.T) {
	in := []failover.Candidate{healthy(r1, "b", 1, t0), healthy(r2, "a", 2, t0)}
	orig := append([]failover.Candidate(nil), in...)
	failover.SelectReplica(failover.MasterView{}, in, t0)
	if !reflect.DeepEqual(in, orig) {
		t.Error("input slice modified")
	}
}

func TestRejectReasonString(t *testing.T) {
	for r, want := range map[failover.RejectReason]string{
		failover.RejectSDown:                 "s_down",
		failover.RejectDisconnected:          "disconnected",
		failover.RejectStalePing:             "stale-ping",
		failover.RejectPriorityZero:          "priority-zero",
		failover.RejectStaleInfo:             "stale-info",
		failover.RejectMasterLinkDownTooLong: "master-link-down-too-long",
		failover.RejectForeignHistory:        "foreign-history",
		failover.RejectReason(0):             "unknown",
	} {
		if got := r.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", int(r), got, want)
		}
	}
}
