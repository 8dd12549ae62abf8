// Package failover owns vigil's failover decisions: when an instance is
// subjectively down, when enough nodes agree that a master is objectively
// down, who may lead a failover (per-master votes and the tally), which
// replica to promote, and the state machine that drives one failover attempt
// from election to the re-pointing of the remaining replicas.
//
// Everything here is pure and deterministic, in the style of etcd's raft
// package: no I/O, no goroutines, no clock reads and no randomness. Callers
// pass the current time (and any jitter) in, and get plain values back:
//
//   - SubjectivelyDown judges one instance from a Probe (s_down).
//   - ObjectivelyDown, Majority, LeaderAuthorized and VoteTally are the quorum
//     arithmetic (o_down, leader authorisation, won/lost/pending).
//   - VoteState is a node's one-vote-per-epoch record for a master;
//     HandleRequest and StartCandidacy return the next state to persist.
//   - SelectReplica ranks promotion candidates and says why each excluded one
//     was rejected.
//   - Machine runs one failover attempt: the driver feeds it Inputs
//     (Tick, Elected, NotElected, Snapshot, PromoteResult, RepointResult) and
//     executes the Actions it returns (Promote, Repoint, Event, Promoted,
//     Finished, Aborted).
//
// The driver in package sentinel gathers observations from Redis and from
// peers, calls these decisions, performs the commands, publishes the events
// and persists state. The semantics follow Redis Sentinel (sentinel.c) unless
// a doc comment says otherwise; every deliberate difference is documented
// where it is made.
package failover
