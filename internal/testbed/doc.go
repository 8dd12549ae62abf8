// Package testbed starts and drives real Redis deployments on loopback for
// benchmarks and fault-injection suites: a Redis group (one master and its
// replicas, each a redis-server child process), a set of controllers
// watching it (vigil nodes or redis-sentinel processes configured alike),
// faults (kill -9, SIGSTOP/SIGCONT, a manual SENTINEL FAILOVER), and
// observers that timestamp what happens: a client writing through discovery
// ([Writer]), a Pub/Sub event watcher ([EventWatcher]), a poller of
// SENTINEL GET-MASTER-ADDR-BY-NAME ([AddrPoller]) and a ROLE/write prober of
// every Redis server ([RoleProber]).
//
// Unlike internal/redistest it does not depend on package testing: every
// function takes a context and returns an error, so a plain program (the
// bench command) can use it as well as tests. An [Env] owns a temporary
// directory, the ports it handed out and every process it started; Close
// stops them all, and on Linux each child also gets PR_SET_PDEATHSIG so that
// an abruptly killed parent leaves nothing behind.
//
// Everything listens on 127.0.0.1 only.
package testbed
