// Package httpapi is vigil's operator endpoint over HTTP: Prometheus metrics,
// a read-only JSON view of the node, a Server-Sent Events stream of the
// node's events, health and readiness probes, and two token-guarded actions
// (manual failover and switchover).
//
// It owns nothing of the node's logic. Everything it reports comes from two
// public doors of the node (see NodeAPI): Status, a snapshot taken on every
// request or scrape, and Subscribe, the same event stream the Sentinel
// Pub/Sub channels carry, from which the event counters are derived. The
// actions call Failover and Switchover, exactly as SENTINEL FAILOVER and
// SENTINEL SWITCHOVER do.
//
// A Server has its own prometheus.Registry (never the global one), with the
// Go runtime and process collectors on it. The series of the node's status
// and the per-master event counters, most of them, bypass it: the metrics
// handler writes them in the text format itself, merged with the
// registry's, and builds them for promhttp in the other formats. The output
// is what promhttp served from the registry. docs/metrics.md lists every
// metric; docs/http-api.md every endpoint.
//
// The server is off unless http.listen is set. Without http.token the
// actions are disabled (403); with it they need "Authorization: Bearer
// <token>". The read-only endpoints need no token, so bind the server to
// loopback or a management network.
package httpapi
