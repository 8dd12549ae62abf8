package sentinel

import (
	"cmp"
	"iter"
	"slices"
	"time"

	"github.com/vigil-ha/vigil/config"
	"github.com/vigil-ha/vigil/failover"
	"github.com/vigil-ha/vigil/topology"
)

// instance is what the node knows about one monitored Redis instance, a
// master or a replica. All fields are guarded by Node.mu.
type instance struct {
	addr   topology.Addr
	ip     string // the IP addr.Host resolved to when it is a host name (hostnames.go)
	group  *group
	link   *link
	runID  string
	create time.Time

	// Link and PING bookkeeping.
	connected        bool
	pingPendingSince time.Time // send time of the unanswered PING; zero if none
	lastPingReply    time.Time // any reply, errors included
	lastOKReply      time.Time // +PONG, -LOADING or -MASTERDOWN; create time until then

	// INFO bookkeeping.
	infoAt         time.Time
	info           topology.Info
	prevInfoAt     time.Time // the INFO before infoAt, and its offset
	prevOffset     int64
	infoRaw        string
	roleReported   topology.Role
	roleReportedAt time.Time

	// Subjective down.
	sdown      bool
	sdownSince time.Time

	// regressedSince is set when the instance, our master, rebooted with
	// less data than its replicas hold (see checkRegressionLocked).
	regressedSince time.Time

	// Reconfiguration bookkeeping (convert-to-slave, fix-slave-config).
	lastFix          time.Time
	wrongMasterSince time.Time
}

// isMaster reports whether the instance is its group's current master.
func (i *instance) isMaster() bool { return i.group.master == i }

// group is one monitored master with its replicas.
type group struct {
	cfg         config.MasterConfig
	master      *instance
	replicas    map[string]*instance // by addr.String()
	configEpoch uint64

	// peers are the vigil nodes known to monitor this master: the voters.
	peers map[string]struct{}

	odown      bool
	odownSince time.Time
	odownCount int

	attempt     *attempt  // the failover attempt in progress, if any
	switching   bool      // a switchover is in progress
	nextAttempt time.Time // no new attempt before this
	lastAsk     time.Time // last opinion query to peers

	record *Attempt // history record of the attempt or switchover in progress

	lastSwitch time.Time // when the master last changed (anti-flap)
	hook       hookState // pre-failover hook (governance.go)

	// Write guard (writeguard.go): what was last applied, where and when.
	guardWant  int // min-replicas-to-write; -1 before the first
	guardRunID string
	guardAddr  topology.Addr
	guardAt    time.Time

	fence fenceState // isolated-master fence (fence.go)

	lastAbort   string // why this node's last attempt ended without a failover
	lastAbortAt time.Time
}

// advertisedAddr is the master address clients and peers are told: the
// promoted replica's as soon as its promotion is confirmed, as Sentinel does
// from reconf_slaves on.
func (g *group) advertisedAddr() topology.Addr {
	if a := g.attempt; a != nil && a.m.State() >= failover.StateReconfReplicas && a.m.State() != failover.StateAborted {
		return a.m.Promoted()
	}
	return g.master.addr
}

// name is the master's configured name.
func (g *group) name() string { return g.cfg.Name }

// all yields the master, then the replicas in no particular order; unlike
// sortedReplicas it allocates nothing (the tick runs it on every group).
func (g *group) all() iter.Seq[*instance] {
	return func(yield func(*instance) bool) {
		if !yield(g.master) {
			return
		}
		for _, r := range g.replicas {
			if !yield(r) {
				return
			}
		}
	}
}

// sortedReplicas returns the replicas ordered by address, for stable replies.
func (g *group) sortedReplicas() []*instance {
	out := make([]*instance, 0, len(g.replicas))
	for _, r := range g.replicas {
		out = append(out, r)
	}
	sortInstances(out)
	return out
}

func sortInstances(in []*instance) {
	slices.SortFunc(in, func(a, b *instance) int {
		if c := cmp.Compare(a.addr.Host, b.addr.Host); c != 0 {
			return c
		}
		return cmp.Compare(a.addr.Port, b.addr.Port)
	})
}
