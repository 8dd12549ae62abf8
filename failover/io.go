package failover

import "github.com/vigil-ha/vigil/topology"

// Input is something the driver tells a Machine: one of Tick, Elected,
// NotElected, Snapshot, PromoteResult or RepointResult.
type Input interface{ isInput() }

// Tick only advances time; timeouts and retries are evaluated on every Step
// whatever the input.
type Tick struct{}

// Elected says this node won the election for the attempt's epoch (a
// VoteTally reports VoteWon).
type Elected struct{}

// NotElected says this node can no longer win the attempt's epoch (a
// VoteTally reports VoteLost). The attempt aborts at once instead of waiting
// for the election timeout. While the tally is still pending, send Ticks.
type NotElected struct{}

// Snapshot is the driver's latest view of the master and of all its known
// replicas. It is used to select the replica, to confirm the promotion (the
// selected replica reports role master) and to follow the reconfiguration
// of the others (ReplicaOf equal to the promoted address, then LinkUp).
// Addresses are compared exactly, so the driver must spell them
// consistently.
type Snapshot struct {
	Master   MasterView
	Replicas []Candidate
}

// PromoteResult is the outcome of executing Promote (REPLICAOF NO ONE). Err
// nil moves the attempt to WaitPromotion; the promotion itself is confirmed
// only by a Snapshot showing the replica as master, which the driver may
// pass right after this result. On error the Promote is re-issued on a later
// Tick or Snapshot.
type PromoteResult struct{ Err error }

// RepointResult is the outcome of executing a Repoint for Replica. On error
// the replica is re-pointed again on a later Tick or Snapshot, but no longer
// than ReconfTimeout after the first attempt.
type RepointResult struct {
	Replica topology.Addr
	Err     error
}

func (Tick) isInput()          {}
func (Elected) isInput()       {}
func (NotElected) isInput()    {}
func (Snapshot) isInput()      {}
func (PromoteResult) isInput() {}
func (RepointResult) isInput() {}

// Action is something a Machine asks the driver to do: one of Promote,
// Repoint, Event, Promoted, Finished or Aborted. Actions are returned in the
// order they must be executed.
type Action interface{ isAction() }

// Promote asks the driver to turn Replica into a master (Sentinel sends
// MULTI, REPLICAOF NO ONE, CONFIG REWRITE, CLIENT KILL TYPE normal, CLIENT
// KILL TYPE pubsub, EXEC) and to report a PromoteResult.
type Promote struct{ Replica topology.Addr }

// Repoint asks the driver to make Replica replicate from To (same wrapper
// with REPLICAOF host port) and to report a RepointResult.
type Repoint struct{ Replica, To topology.Addr }

// Promoted says the selected replica now reports role master. The driver
// sets the master's config epoch to Epoch, persists it, and from now on
// advertises NewMaster as the master's address (Sentinel does this at
// promotion, not at the end of the failover).
type Promoted struct {
	Master    string
	NewMaster topology.Addr
	Epoch     uint64
}

// Finished ends a successful attempt (Sentinel's update_config). The driver
// publishes +switch-master <Master> <OldMaster> <NewMaster>, switches the
// master's address, keeps the other replicas and adds OldMaster as a
// replica, and persists. TimedOut is true when the reconfiguration of
// replicas was cut short by the failover timeout.
type Finished struct {
	Master    string
	OldMaster topology.Addr
	NewMaster topology.Addr
	Epoch     uint64
	TimedOut  bool
}

// Aborted ends an unsuccessful attempt. Rejected lists why each replica was
// excluded when Reason is AbortNoGoodReplica.
type Aborted struct {
	Reason   AbortReason
	Rejected []Rejection
}

// Event asks the driver to log and publish a Sentinel event. Replica is
// zero for master events, whose payload is "master <Master> <MasterAddr>";
// otherwise the payload is "slave <Replica> <ip> <port> @ <Master>
// <MasterAddr>". MasterAddr is the address the master had when the attempt
// started.
type Event struct {
	Type       EventType
	Master     string
	MasterAddr topology.Addr
	Replica    topology.Addr
}

func (Promote) isAction()  {}
func (Repoint) isAction()  {}
func (Promoted) isAction() {}
func (Finished) isAction() {}
func (Aborted) isAction()  {}
func (Event) isAction()    {}

// EventType is a Sentinel event name, also the pub/sub channel it is
// published on.
type EventType string

// Events emitted by a Machine, with Sentinel's names.
const (
	EventElectedLeader          EventType = "+elected-leader"
	EventStateSelectSlave       EventType = "+failover-state-select-slave"
	EventSelectedSlave          EventType = "+selected-slave"
	EventStateSendSlaveofNoOne  EventType = "+failover-state-send-slaveof-noone"
	EventStateWaitPromotion     EventType = "+failover-state-wait-promotion"
	EventPromotedSlave          EventType = "+promoted-slave"
	EventStateReconfSlaves      EventType = "+failover-state-reconf-slaves"
	EventSlaveReconfSent        EventType = "+slave-reconf-sent"
	EventSlaveReconfInProg      EventType = "+slave-reconf-inprog"
	EventSlaveReconfDone        EventType = "+slave-reconf-done"
	EventSlaveReconfSentTimeout EventType = "-slave-reconf-sent-timeout"
	EventSlaveReconfSentBE      EventType = "+slave-reconf-sent-be"
	EventFailoverEndForTimeout  EventType = "+failover-end-for-timeout"
	EventFailoverEnd            EventType = "+failover-end"
	EventAbortNotElected        EventType = "-failover-abort-not-elected"
	EventAbortNoGoodSlave       EventType = "-failover-abort-no-good-slave"
	EventAbortSlaveTimeout      EventType = "-failover-abort-slave-timeout"
)

// AbortReason says why a failover attempt was abandoned.
type AbortReason int

// Abort reasons.
const (
	// AbortNotElected: this node did not win the election in time.
	AbortNotElected AbortReason = iota + 1
	// AbortNoGoodReplica: no replica qualified for promotion.
	AbortNoGoodReplica
	// AbortReplicaTimeout: the selected replica was not promoted within
	// the failover timeout.
	AbortReplicaTimeout
)

// String returns a short stable name, suitable as a log field or metric label.
func (r AbortReason) String() string {
	switch r {
	case AbortNotElected:
		return "not-elected"
	case AbortNoGoodReplica:
		return "no-good-slave"
	case AbortReplicaTimeout:
		return "slave-timeout"
	}
	return "unknown"
}

// event returns the Sentinel event that announces the abort.
func (r AbortReason) event() EventType {
	switch r {
	case AbortNotElected:
		return EventAbortNotElected
	case AbortNoGoodReplica:
		return EventAbortNoGoodSlave
	}
	return EventAbortSlaveTimeout
}
