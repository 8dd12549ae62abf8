// Package sentinel is a vigil node: it monitors the configured Redis masters
// and their replicas, keeps the node's durable state, publishes events, and
// answers Sentinel-protocol clients on its RESP port.
//
// The node gathers observations (PING and INFO replies) and hands them to the
// pure decision functions of package failover; it executes what they decide.
// Every goroutine the node starts is owned by Node.Run and stops when its
// context is cancelled.
package sentinel
