package sentinel

import (
	"strconv"
	"strings"
	"time"

	"github.com/vigil-ha/vigil/failover"
)

// Administrative SENTINEL subcommands with Sentinel's semantics.

// sentReset is SENTINEL RESET <pattern>: for every master whose name
// matches the glob, forget its replicas and peers (they are rediscovered
// within seconds from the master's INFO and from gossip, so only dead ones
// stay forgotten), clear o_down and any failover attempt, and allow a new
// failover at once. Replies with the number of masters reset.
func sentReset(n *Node, c *clientConn, args []string) {
	n.mu.Lock()
	count := 0
	for _, name := range n.names {
		if !globMatch(args[2], name) {
			continue
		}
		g := n.groups[name]
		for _, r := range g.replicas {
			if r.link != nil {
				r.link.cancel()
				r.link = nil
			}
		}
		g.replicas = map[string]*instance{}
		g.peers = map[string]struct{}{}
		g.odown, g.odownSince = false, time.Time{}
		if g.attempt != nil {
			g.attempt = nil
			n.endRecordLocked(g, "aborted: SENTINEL RESET", "")
		}
		g.nextAttempt = time.Time{}
		rec := n.state.Masters[name]
		rec.KnownReplicas, rec.KnownPeers = nil, nil
		n.emit(Event{Type: "+reset-master", Warning: true, Payload: n.instanceRef(g.master)})
		if g.master.link != nil {
			g.master.link.requestInfo()
		}
		count++
	}
	if count > 0 {
		n.saveStateLocked()
	}
	n.mu.Unlock()
	c.w.Int(int64(count))
}

// sentFlushConfig is SENTINEL FLUSHCONFIG: vigil writes its state on every
// change already; this forces one more write.
func sentFlushConfig(n *Node, c *clientConn, args []string) {
	n.mu.Lock()
	err := n.store.save(n.state)
	n.mu.Unlock()
	if err != nil {
		n.log.Error("flushconfig", "err", err)
		c.w.Error("ERR Failed to save config file. Check server logs.")
		return
	}
	c.w.Simple("OK")
}

// sentDebug is SENTINEL DEBUG without arguments: vigil's timing constants
// in Sentinel's names (milliseconds). They are not settable at runtime.
func sentDebug(n *Node, c *clientConn, args []string) {
	if len(args) > 2 {
		c.w.Error("ERR vigil's timing constants cannot be changed at runtime")
		return
	}
	ms := func(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }
	c.w.StringMap([]string{
		"INFO-PERIOD", ms(infoPeriod),
		"PING-PERIOD", ms(pingPeriod),
		"ASK-PERIOD", ms(askPeriod),
		"PUBLISH-PERIOD", ms(helloPeriod),
		"DEFAULT-DOWN-AFTER", "30000",
		"DEFAULT-FAILOVER-TIMEOUT", "180000",
		"TILT-TRIGGER", ms(tiltTrigger),
		"TILT-PERIOD", ms(tiltPeriod),
		"SLAVE-RECONF-TIMEOUT", ms(failover.DefaultReconfTimeout),
		"ELECTION-TIMEOUT", ms(failover.DefaultElectionTimeout),
	})
}

// cmdShutdown stops the node gracefully (SHUTDOWN [NOSAVE|SAVE] [NOW]
// [FORCE]): the connection is closed, the process exits once the node has
// stopped.
func cmdShutdown(n *Node, c *clientConn, args []string) bool {
	if n.shutdown != nil {
		n.log.Warn("SHUTDOWN requested by a client", "client", c.netConn.RemoteAddr().String())
		n.shutdown()
	}
	return true
}

// sentPendingScripts is SENTINEL PENDING-SCRIPTS: the script queue, in
// Sentinel's shape (argv, flags, pid, run-time or run-delay, retry-num).
func sentPendingScripts(n *Node, c *clientConn, args []string) {
	jobs := n.scripts.Pending()
	c.w.Array(len(jobs))
	for _, j := range jobs {
		c.w.Map(5)
		c.w.Bulk("argv")
		c.w.BulkStrings(j.Argv)
		c.w.Bulk("flags")
		c.w.Bulk(j.Flags())
		c.w.Bulk("pid")
		c.w.Bulk(strconv.Itoa(j.PID))
		if j.Running {
			c.w.Bulk("run-time")
			c.w.Bulk(strconv.FormatInt(j.RunTime.Milliseconds(), 10))
		} else {
			c.w.Bulk("run-delay")
			c.w.Bulk(strconv.FormatInt(j.RunDelay.Milliseconds(), 10))
		}
		c.w.Bulk("retry-num")
		c.w.Bulk(strconv.Itoa(j.RetryNum))
	}
}

// sentConfig is SENTINEL CONFIG GET <pattern> [...] (the global parameters
// Sentinel knows, with vigil's values) and CONFIG SET <param> <value> [...]
// (runtime_cmd.go).
func sentConfig(n *Node, c *clientConn, args []string) {
	if len(args) < 4 {
		c.w.Error(subArityError("sentinel", "config"))
		return
	}
	switch {
	case strings.EqualFold(args[2], "set") && len(args) >= 5:
		sentConfigSet(n, c, args)
		return
	case strings.EqualFold(args[2], "get"):
	default:
		c.w.Error("ERR Only SENTINEL CONFIG GET <option> / SET <option> <value> are supported.")
		return
	}
	names := []string{"resolve-hostnames", "announce-hostnames", "announce-ip", "announce-port", "sentinel-user", "sentinel-pass", "loglevel"}
	n.mu.Lock()
	values := n.globalsLocked()
	n.mu.Unlock()
	var out []string
	for _, name := range names {
		for _, pat := range args[3:] {
			if globMatch(strings.ToLower(pat), name) {
				out = append(out, name, values[name])
				break
			}
		}
	}
	c.w.StringMap(out)
}
