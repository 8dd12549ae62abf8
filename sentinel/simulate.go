package sentinel

import (
	"errors"
	"strings"
	"sync/atomic"

	"github.com/vigil-ha/vigil/failover"
)

// SENTINEL SIMULATE-FAILURE, as in redis-sentinel: the node "crashes" at a
// chosen point of a failover it leads. redis-sentinel exits the process
// with code 99 there; a vigil node stops abruptly instead: no gossip leave
// (peers see it fail), no further state writes or broadcasts, every link
// and client connection dropped, and Run returns ErrSimulatedFailure
// (`vigil run` exits 99).

// Failure simulation flags (Sentinel's SENTINEL_SIMFAILURE_*).
const (
	simCrashAfterElection  uint32 = 1 << 0
	simCrashAfterPromotion uint32 = 1 << 1
)

// ErrSimulatedFailure is what Run returns after a crash requested with
// SENTINEL SIMULATE-FAILURE. The command line exits with ExitSimulatedFailure.
var ErrSimulatedFailure = errors.New("simulated failure (SENTINEL SIMULATE-FAILURE)")

// ExitSimulatedFailure is the exit code of redis-sentinel's simulated crash.
const ExitSimulatedFailure = 99

// simulation is the node's failure-simulation state.
type simulation struct {
	flags   atomic.Uint32
	crashed atomic.Bool
}

// sentSimulateFailure answers SENTINEL SIMULATE-FAILURE <flag> [<flag> ...]
// exactly like redis-sentinel 7: the flags are cleared first, then set one
// by one, so HELP (which lists them) and an unknown flag leave only the
// flags named before it. "SIMULATE-FAILURE HELP" is how to clear them.
func sentSimulateFailure(n *Node, c *clientConn, args []string) {
	n.sim.flags.Store(0)
	for _, a := range args[2:] {
		switch strings.ToLower(a) {
		case "crash-after-election":
			n.sim.flags.Or(simCrashAfterElection)
			n.log.Warn("Failure simulation: this node will crash after being successfully elected as failover leader")
		case "crash-after-promotion":
			n.sim.flags.Or(simCrashAfterPromotion)
			n.log.Warn("Failure simulation: this node will crash after promoting the selected replica to master")
		case "help":
			c.w.BulkStrings([]string{"crash-after-election", "crash-after-promotion"})
			return
		default:
			c.w.Error("ERR Unknown failure simulation specified")
			return
		}
	}
	c.w.Simple("OK")
}

// Crashed reports whether the node stopped because of a simulated failure.
func (n *Node) Crashed() bool { return n.sim.crashed.Load() }

// crashedLocked reports whether the node has crashed: from then on it
// changes nothing (no state writes, broadcasts or failover steps).
func (n *Node) crashedLocked() bool { return n.sim.crashed.Load() }

// simulateCrashLocked crashes the node if flag is set and reports whether
// it did (or had crashed before). The memberlist shutdown runs on its own
// goroutine, as cluster methods must not be called under n.mu; it happens
// before Run's context is cancelled, so the gossip layer does not leave
// gracefully. Requires n.mu.
func (n *Node) simulateCrashLocked(flag uint32, point string) bool {
	if n.sim.crashed.Load() {
		return true
	}
	if n.sim.flags.Load()&flag == 0 {
		return false
	}
	n.sim.crashed.Store(true)
	n.log.Warn("simulated failure: crashing", "point", point)
	stop, c := n.shutdown, n.cluster
	n.bgWG.Go(func() {
		if c != nil {
			_ = c.Shutdown()
		}
		if stop != nil {
			stop()
		}
	})
	return true
}

// crashAfterElectionLocked is the crash-after-election point: when it
// fires, only the events up to the start of replica selection are
// published (as redis-sentinel crashes in that state) and nothing else of
// acts is carried out. Requires n.mu.
func (n *Node) crashAfterElectionLocked(acts []failover.Action) []failover.Action {
	if !n.simulateCrashLocked(simCrashAfterElection, "after-election") {
		return acts
	}
	for i, act := range acts {
		if ev, ok := act.(failover.Event); !ok || ev.Type == failover.EventSelectedSlave {
			return acts[:i]
		} else if ev.Type == failover.EventStateSelectSlave {
			return acts[:i+1]
		}
	}
	return acts
}
