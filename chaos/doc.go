// Command chaos is vigil's fault-injection suite. It runs real redis-server
// processes on 127.0.0.1 (through internal/testbed), watched by three vigil
// nodes and, with the same settings, by three redis-sentinel processes,
// injects faults and checks the outcome:
//
//  1. kill-master: kill -9 of the master;
//  2. sigstop-master: SIGSTOP of the master for 3× down-after, then SIGCONT;
//  3. leader-crash: the master is killed, then the controller announcing
//     +elected-leader is killed at once and restarted a second later;
//  4. total-outage: every replica killed, then the master; all restarted;
//  5. flapping-master: SIGSTOP/SIGCONT cycles shorter than down-after;
//  6. slow-network: 200–400 ms jittered latency on the master's links to
//     the controllers and replicas (a proxy);
//  7. partition: the master cut off from the controllers and replicas for
//     10 s while clients still reach it, then healed;
//  8. switchover-linearizable (vigil only): SENTINEL SWITCHOVER under
//     concurrent readers and writers of one register;
//  9. partition-with-controller: {master, controller 1, writer} |
//     {replicas, controllers 2 and 3} for 10 s, gossip included (a
//     network namespace, testbed.Partition; needs root), then healed;
//  10. controller-partition: five controllers (quorum 2) split {2} | {3},
//     the master killed; only the majority may fail over (needs root);
//  11. controller-stall: SIGSTOP of a controller for 5 s, then the master
//     killed at once: the controller enters TILT and gives no vote in it;
//  12. controllers-down: two of the three controllers killed for 10 s,
//     Redis untouched, down-after 5 s: no failover, and every write sent
//     meanwhile acknowledged.
//
// The checkers: (a) after settling, exactly one master, every other server
// replicating from it with its link up, every controller answering its
// address; (b) acknowledged writes missing from the final master; (c) the
// register history of scenario 8 is linearizable (porcupine); (d) in
// scenario 12, writes that failed while only controllers were down.
//
// It prints a table per scenario, writes the raw results as JSON and
// regenerates docs/reliability.md.
//
//	make chaos                            # every scenario, 3 runs, both kinds
//	go run ./chaos -quick                 # smoke run
//	go run ./chaos -scenario 5,partition -runs 5 -kinds vigil
//
// Every process it starts is stopped at the end, on failure and on Ctrl-C
// (and, on Linux, if it dies: PR_SET_PDEATHSIG).
package main
