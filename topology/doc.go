// Package topology describes what a monitored Redis group looks like: the
// instances, their roles, replication offsets and links, and the parsers that
// turn Redis's INFO and ROLE replies into those values.
//
// The package is pure data and parsing. It performs no I/O, reads no clock and
// imports no Redis client: callers hand it reply text and timestamps.
package topology
