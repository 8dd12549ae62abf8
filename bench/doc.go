// Command bench measures failover and cost of vigil against redis-sentinel
// on one machine, with real redis-server, redis-sentinel and bin/vigil
// processes on 127.0.0.1 (started through internal/testbed).
//
// For each controller kind, down-after and fault (kill -9 of the master,
// SIGSTOP of the master, manual SENTINEL FAILOVER) it runs a fresh group of
// one master and two replicas watched by three controllers, writes through
// discovery the whole time, injects the fault and measures: fault to the
// first +sdown, +odown and +switch-master event, fault to every controller
// answering the new master, fault to the first acknowledged write on the new
// master, acknowledged writes lost (and, of those, the ones a controller
// could have kept: after kill -9 or SIGSTOP the replicas are read 100 ms
// after the fault, and a write none of them holds is left out), and how
// long two servers were masters (or writable) at once. A cost section measures one controller's memory,
// idle CPU and discovery throughput (redis-benchmark). A scale section
// measures one controller of each kind monitoring 1, 100 and 1000 masters
// (-scale-masters): the masters are internal/fakeredis endpoints served by
// a separate process, this binary re-executed as the hidden subcommand
// `bench fakeredis -n N`, so that their CPU is not counted.
//
// It prints a table, writes the raw results as JSON and regenerates
// docs/performance.md and docs/performance-failover.png.
//
//	make bench                      # full run (builds bin/vigil, installs redis-sentinel)
//	go run ./bench -quick           # one run per case, down-after 1s only
//	go run ./bench -runs 3 -kinds vigil -faults kill9
//	go run ./bench -only cost,scale  # re-measure those, keep the rest of latest.json
//
// go run ./bench measures bin/vigil as it is: run make build first after a
// change, or the numbers are the old binary's. See -help for every flag.
package main
