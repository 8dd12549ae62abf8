package sentinel

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"
)

// sentinelSub is one SENTINEL subcommand with its arity (counting
// "SENTINEL" and the subcommand, redis-server's convention).
type sentinelSub struct {
	arity int
	run   func(n *Node, c *clientConn, args []string)
}

func sentinelTable() map[string]*sentinelSub {
	return map[string]*sentinelSub{
		"masters":                 {2, sentMasters},
		"master":                  {3, sentMaster},
		"replicas":                {3, sentReplicas},
		"slaves":                  {3, sentReplicas},
		"sentinels":               {3, sentSentinels},
		"get-master-addr-by-name": {3, sentGetMasterAddr},
		"myid":                    {2, sentMyID},
		"ckquorum":                {3, sentCKQuorum},
		"help":                    {2, sentHelp},
		"is-master-down-by-addr":  {6, sentIsMasterDown},
		"failover":                {3, sentFailover},
		"switchover":              {-3, sentSwitchover},
		"info-cache":              {-2, sentInfoCache},
		"pause":                   {3, sentPause},
		"explain":                 {3, sentExplain},
		"history":                 {3, sentHistory},
		"reset":                   {3, sentReset},
		"flushconfig":             {2, sentFlushConfig},
		"pending-scripts":         {2, sentPendingScripts},
		"config":                  {-3, sentConfig},
		"monitor":                 {6, sentMonitor},
		"remove":                  {3, sentRemove},
		"set":                     {-5, sentSet},
		"revert":                  {3, sentRevert},
		"debug":                   {-2, sentDebug},
		"simulate-failure":        {-3, sentSimulateFailure},
		"resume":                  {3, sentResume},
	}
}

func cmdSentinel(n *Node, c *clientConn, args []string) bool {
	sub := c.last.sub // set when the client repeats a command found before
	if sub == nil {
		var key [32]byte
		found, ok := n.sentinelCmds[string(lowerKey(key[:0], args[1]))]
		if !ok {
			c.w.Error(subcommandError(args[1], "sentinel"))
			return false
		}
		if !arityOK(found.arity, len(args)) {
			c.w.Error(subArityError("sentinel", args[1]))
			return false
		}
		sub = found
		c.last.sub = sub
	}
	sub.run(n, c, args)
	return false
}

func sentHelp(n *Node, c *clientConn, args []string) {
	writeHelp(c, []string{
		"SENTINEL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
		"CKQUORUM <master-name>",
		"    Check if the current Sentinel configuration is able to reach the quorum",
		"    needed to failover a master and the majority needed to authorize the",
		"    failover.",
		"CONFIG SET <param> <value>",
		"    Set a global Sentinel configuration parameter.",
		"CONFIG GET <param>",
		"    Get global Sentinel configuration parameter.",
		"DEBUG",
		"    Show a list of configurable time parameters and their values (milliseconds).",
		"GET-MASTER-ADDR-BY-NAME <master-name>",
		"    Return the ip and port number of the master with that name.",
		"FAILOVER <master-name>",
		"    Manually failover a master node without asking for agreement from other",
		"    Sentinels",
		"FLUSHCONFIG",
		"    Force Sentinel to rewrite its configuration on disk, including the current",
		"    Sentinel state.",
		"INFO-CACHE <master-name>",
		"    Return last cached INFO output from masters and all its replicas.",
		"IS-MASTER-DOWN-BY-ADDR <ip> <port> <current-epoch> <runid>",
		"    Check if the master specified by ip:port is down from current Sentinel's",
		"    point of view.",
		"MASTER <master-name>",
		"    Show the state and info of the specified master.",
		"MASTERS",
		"    Show a list of monitored masters and their state.",
		"MONITOR <name> <ip> <port> <quorum>",
		"    Start monitoring a new master with the specified name, ip, port and quorum.",
		"MYID",
		"    Return the ID of the Sentinel instance.",
		"PENDING-SCRIPTS",
		"    Get pending scripts information.",
		"REMOVE <master-name>",
		"    Remove master from Sentinel's monitor list.",
		"REPLICAS <master-name>",
		"    Show a list of replicas for this master and their state.",
		"RESET <pattern>",
		"    Reset masters for specific master name matching this pattern.",
		"SENTINELS <master-name>",
		"    Show a list of Sentinel instances for this master and their state.",
		"SET <master-name> <option> <value> [<option> <value> ...]",
		"    Set configuration parameters for certain masters.",
		"SIMULATE-FAILURE [CRASH-AFTER-ELECTION] [CRASH-AFTER-PROMOTION] [HELP]",
		"    Simulate a Sentinel crash.",
		"SWITCHOVER <master-name> [<ip> <port>]",
		"    (vigil) Hand a healthy master over to a replica without losing writes.",
		"PAUSE <master-name> | RESUME <master-name>",
		"    (vigil) Maintenance mode: no failover of the master on any node.",
		"EXPLAIN <master-name>",
		"    (vigil) Why the master is or is not being failed over.",
		"HISTORY <master-name>",
		"    (vigil) The recorded failover attempts, as JSON.",
		"REVERT <master-name>",
		"    (vigil) Drop the runtime changes of a master the configuration file defines.",
		"HELP",
		"    Prints this help.",
	})
}

func sentMyID(n *Node, c *clientConn, args []string) {
	c.w.Bulk(n.id)
}

func sentMasters(n *Node, c *clientConn, args []string) {
	n.mu.Lock()
	now := time.Now()
	var maps [][]string
	for _, name := range n.names {
		maps = append(maps, n.instanceFields(n.groups[name].master, now))
	}
	n.mu.Unlock()
	writeMaps(c, maps)
}

// replyGroupMaps answers a per-master listing: -ERR No such master for an
// unknown name, else the instance maps build returns (built under n.mu).
func (n *Node) replyGroupMaps(c *clientConn, name string, build func(g *group, now time.Time) [][]string) {
	n.mu.Lock()
	g := n.groups[name]
	var maps [][]string
	if g != nil {
		maps = build(g, time.Now())
	}
	n.mu.Unlock()
	if g == nil {
		c.w.Error(errNoSuchMaster.Error())
		return
	}
	writeMaps(c, maps)
}

func writeMaps(c *clientConn, maps [][]string) {
	c.w.Array(len(maps))
	for _, m := range maps {
		c.w.StringMap(m)
	}
}

func sentMaster(n *Node, c *clientConn, args []string) {
	n.mu.Lock()
	g := n.groups[args[2]]
	var fields []string
	if g != nil {
		fields = n.instanceFields(g.master, time.Now())
	}
	n.mu.Unlock()
	if g == nil {
		c.w.Error(errNoSuchMaster.Error())
		return
	}
	c.w.StringMap(fields)
}

func sentReplicas(n *Node, c *clientConn, args []string) {
	n.replyGroupMaps(c, args[2], func(g *group, now time.Time) (maps [][]string) {
		for _, r := range g.sortedReplicas() {
			if r.infoAt.IsZero() || r.info.ReplicaAnnounced {
				maps = append(maps, n.instanceFields(r, now))
			}
		}
		return maps
	})
}

func sentSentinels(n *Node, c *clientConn, args []string) {
	n.replyGroupMaps(c, args[2], func(g *group, now time.Time) (maps [][]string) {
		for _, id := range sortedStrings(keys(g.peers)) {
			maps = append(maps, n.peerFields(g, n.peers[id], now))
		}
		return maps
	})
}

// peerFields renders a peer node in the shape of Sentinel's sentinel
// entries. Requires n.mu.
func (n *Node) peerFields(g *group, p *peer, now time.Time) []string {
	host, port := splitHostPort(p.respAddr)
	flags := "sentinel"
	fresh := p.alive && now.Sub(p.lastState) <= opinionMaxAge
	if !fresh {
		flags = "s_down,sentinel"
	}
	if !p.alive {
		flags += ",disconnected"
	}
	v := p.masters[g.name()]
	if v.sdown && fresh {
		flags += ",master_down"
	}
	ms := func(t time.Time) string {
		if t.IsZero() {
			return "0"
		}
		return strconv.FormatInt(now.Sub(t).Milliseconds(), 10)
	}
	leader := v.leader
	if leader == "" {
		leader = "?"
	}
	return []string{
		"name", p.id,
		"ip", host,
		"port", port,
		"runid", p.id,
		"flags", flags,
		"link-pending-commands", "0",
		"link-refcount", "1",
		"last-ping-sent", "0",
		"last-ok-ping-reply", ms(p.lastState),
		"last-ping-reply", ms(p.lastState),
		"down-after-milliseconds", strconv.FormatInt(g.cfg.DownAfter.Milliseconds(), 10),
		"last-hello-message", ms(p.lastState),
		"voted-leader", leader,
		"voted-leader-epoch", strconv.FormatUint(v.leaderEpoch, 10),
	}
}

// sentIsMasterDown answers a peer's (or redis-sentinel-style tool's)
// SENTINEL IS-MASTER-DOWN-BY-ADDR ip port epoch runid: [down, leader,
// leader-epoch], voting when runid is not "*".
func sentIsMasterDown(n *Node, c *clientConn, args []string) {
	epoch, err := strconv.ParseUint(args[4], 10, 64)
	if err != nil {
		c.w.Error("ERR value is not an integer or out of range")
		return
	}
	addr := args[2] + ":" + args[3]
	if h, p, err := net.SplitHostPort(addr); err == nil {
		addr = net.JoinHostPort(h, p)
	}
	n.mu.Lock()
	var g *group
	for _, gg := range n.groups {
		if gg.master.addr.String() == addr || gg.master.isHostPort(addr) {
			g = gg
		}
	}
	down, leader, leaderEpoch := 0, "*", uint64(0)
	if g != nil {
		if n.masterDownLocked(g) && !n.tiltLocked() {
			down = 1
		}
		candidate := args[5]
		if n.pausedLocked(g) || n.replicaSeesMasterLocked(g) != nil || n.vetoedLocked(g, time.Now()) {
			candidate = "*"
		}
		vr := n.voteLocked(g, epoch, candidate)
		if vr.Leader != "" {
			leader, leaderEpoch = vr.Leader, vr.Epoch
		}
	}
	n.mu.Unlock()
	c.w.Array(3)
	c.w.Int(int64(down))
	c.w.Bulk(leader)
	c.w.Int(int64(leaderEpoch))
}

// sentSwitchover is vigil's extension SENTINEL SWITCHOVER <name> [<ip>
// <port>]: a zero-loss handover of a healthy master, answered when done.
func sentSwitchover(n *Node, c *clientConn, args []string) {
	to := ""
	switch len(args) {
	case 3:
	case 5:
		to = net.JoinHostPort(args[3], args[4])
	default:
		c.w.Error(subArityError("sentinel", "switchover"))
		return
	}
	if err := n.switchover(context.Background(), args[2], to); err != nil {
		c.w.Error(err.Error())
		return
	}
	c.w.Simple("OK")
}

// sentInfoCache answers SENTINEL INFO-CACHE [name ...]: per master, the last
// INFO text of the master and each replica with its age in milliseconds
// (unknown names are ignored, none means all).
func sentInfoCache(n *Node, c *clientConn, args []string) {
	type entry struct {
		age  int64
		text string
		ok   bool
	}
	type master struct {
		name    string
		entries []entry
	}
	n.mu.Lock()
	names := args[2:]
	if len(names) == 0 {
		names = n.names
	}
	now := time.Now()
	var out []master
	seen := map[string]bool{}
	for _, name := range names {
		g := n.groups[name]
		if g == nil || seen[name] {
			continue
		}
		seen[name] = true
		m := master{name: name}
		for _, inst := range n.instances(g) {
			e := entry{}
			if !inst.infoAt.IsZero() {
				e = entry{age: now.Sub(inst.infoAt).Milliseconds(), text: inst.infoRaw, ok: true}
			}
			m.entries = append(m.entries, e)
		}
		out = append(out, m)
	}
	n.mu.Unlock()
	c.w.Array(2 * len(out))
	for _, m := range out {
		c.w.Bulk(m.name)
		c.w.Array(len(m.entries))
		for _, e := range m.entries {
			c.w.Array(2)
			c.w.Int(e.age)
			if e.ok {
				c.w.Bulk(e.text)
			} else {
				c.w.NullBulk()
			}
		}
	}
}

// sentPause and sentResume are vigil's SENTINEL PAUSE|RESUME <name>:
// maintenance mode for one master on every node.
func sentPause(n *Node, c *clientConn, args []string)  { replyErr(c, n.setPause(args[2], true)) }
func sentResume(n *Node, c *clientConn, args []string) { replyErr(c, n.setPause(args[2], false)) }

// sentExplain is vigil's SENTINEL EXPLAIN <name>: the current failover
// decision as [reason, [detail, ...], last-abort].
func sentExplain(n *Node, c *clientConn, args []string) {
	d, err := n.Explain(args[2])
	if err != nil {
		c.w.Error(err.Error())
		return
	}
	c.w.Map(3)
	c.w.Bulk("reason")
	c.w.Bulk(d.Reason.String())
	c.w.Bulk("details")
	c.w.BulkStrings(d.Details)
	c.w.Bulk("last-abort")
	c.w.Bulk(d.LastAbort)
}

// sentHistory is vigil's SENTINEL HISTORY <name>: the recorded attempts,
// newest first, as one JSON document (a bulk string).
func sentHistory(n *Node, c *clientConn, args []string) {
	h, err := n.History(args[2])
	if err != nil {
		c.w.Error(err.Error())
		return
	}
	if h == nil {
		h = []Attempt{}
	}
	data, err := json.Marshal(h)
	if err != nil {
		c.w.Error("ERR " + err.Error())
		return
	}
	c.w.BulkBytes(data)
}

func replyErr(c *clientConn, err error) {
	if err != nil {
		c.w.Error(err.Error())
		return
	}
	c.w.Simple("OK")
}

func sentFailover(n *Node, c *clientConn, args []string) {
	if err := n.manualFailover(args[2]); err != nil {
		c.w.Error(err.Error())
		return
	}
	c.w.Simple("OK")
}

func sentGetMasterAddr(n *Node, c *clientConn, args []string) {
	n.mu.Lock()
	g := n.groups[args[2]]
	var host string
	var port int
	if g != nil {
		a := n.shownAddrLocked(g, g.advertisedAddr())
		host, port = a.Host, a.Port
	}
	n.mu.Unlock()
	if g == nil {
		c.w.NullArray()
		return
	}
	c.w.Array(2)
	c.w.Bulk(host)
	c.w.BulkInt(int64(port))
}

func sentCKQuorum(n *Node, c *clientConn, args []string) {
	n.mu.Lock()
	g := n.groups[args[2]]
	var quorum, usable, voters int
	if g != nil {
		quorum = g.cfg.Quorum
		usable, voters = n.usableLocked(g, time.Now())
	}
	n.mu.Unlock()
	if g == nil {
		c.w.Error(errNoSuchMaster.Error())
		return
	}
	majority := voters/2 + 1
	if usable < quorum || usable < majority {
		msg := fmt.Sprintf("NOQUORUM %d usable Sentinels. ", usable)
		if usable < quorum {
			msg += "Not enough available Sentinels to reach the specified quorum for this master"
		}
		if usable < majority {
			if usable < quorum {
				msg += ". "
			}
			msg += "Not enough available Sentinels to reach the majority and authorize a failover"
		}
		c.w.Error(msg)
		return
	}
	c.w.Simple(fmt.Sprintf("OK %d usable Sentinels. Quorum and failover authorization can be reached", usable))
}

// usableLocked counts the nodes that could take part in a failover of g
// now (self plus live, fresh peers) and all known voters. Requires n.mu.
func (n *Node) usableLocked(g *group, now time.Time) (usable, voters int) {
	usable, voters = 1, len(g.peers)+1
	for id := range g.peers {
		if n.usablePeerLocked(id, now) {
			usable++
		}
	}
	return usable, voters
}

// usablePeerLocked reports whether peer id is alive in the gossip
// cluster with a recent state. Requires n.mu.
func (n *Node) usablePeerLocked(id string, now time.Time) bool {
	p := n.peers[id]
	return p != nil && p.alive && now.Sub(p.lastState) <= opinionMaxAge
}

// instanceFields renders an instance the way Sentinel's
// addReplySentinelRedisInstance does: the same fields, in the same order,
// every value a string. Requires n.mu.
func (n *Node) instanceFields(inst *instance, now time.Time) []string {
	ms := func(t time.Time) string {
		if t.IsZero() {
			return "0"
		}
		return strconv.FormatInt(now.Sub(t).Milliseconds(), 10)
	}
	g := inst.group
	name := g.name()
	if !inst.isMaster() {
		name = n.nameOf(inst)
	}
	f := []string{
		"name", name,
		"ip", n.hostOf(inst),
		"port", inst.addr.PortString(),
		"runid", inst.runID,
		"flags", n.flags(inst),
		"link-pending-commands", "0",
		"link-refcount", "1",
		"last-ping-sent", ms(inst.pingPendingSince),
		"last-ok-ping-reply", ms(inst.lastOKReply),
		"last-ping-reply", ms(inst.lastPingReply),
	}
	if inst.isMaster() && g.attempt != nil {
		f = append(f[:len(f)-6], "failover-state", g.attempt.m.State().String())
		f = append(f,
			"last-ping-sent", ms(inst.pingPendingSince),
			"last-ok-ping-reply", ms(inst.lastOKReply),
			"last-ping-reply", ms(inst.lastPingReply))
	}
	if inst.sdown {
		f = append(f, "s-down-time", ms(inst.sdownSince))
	}
	if inst.isMaster() && g.odown {
		f = append(f, "o-down-time", ms(g.odownSince))
	}
	f = append(f,
		"down-after-milliseconds", strconv.FormatInt(g.cfg.DownAfter.Milliseconds(), 10),
		"info-refresh", ms(inst.infoAt),
		"role-reported", roleString(inst),
		"role-reported-time", ms(inst.roleReportedAt),
	)
	if inst.isMaster() {
		f = append(f,
			"config-epoch", strconv.FormatUint(g.configEpoch, 10),
			"num-slaves", strconv.Itoa(len(g.replicas)),
			"num-other-sentinels", strconv.Itoa(len(g.peers)),
			"quorum", strconv.Itoa(g.cfg.Quorum),
			"failover-timeout", strconv.FormatInt(g.cfg.FailoverTimeout.Milliseconds(), 10),
			"parallel-syncs", strconv.Itoa(g.cfg.ParallelSyncs),
		)
		return f
	}
	linkStatus := "err"
	if inst.info.MasterLinkUp {
		linkStatus = "ok"
	}
	masterHost, masterPort := "?", "0"
	if inst.info.MasterHost != "" {
		masterHost, masterPort = inst.info.MasterHost, strconv.Itoa(inst.info.MasterPort)
		if a, ok := inst.info.ReplicaOf(); ok {
			masterHost = n.shownAddrLocked(g, a).Host
		}
	}
	announced := "1"
	if !inst.infoAt.IsZero() && !inst.info.ReplicaAnnounced {
		announced = "0"
	}
	priority := inst.info.ReplicaPriority
	if inst.infoAt.IsZero() {
		priority = 100
	}
	return append(f,
		"master-link-down-time", strconv.FormatInt(inst.info.MasterLinkDownSinceSecs*1000, 10),
		"master-link-status", linkStatus,
		"master-host", masterHost,
		"master-port", masterPort,
		"slave-priority", strconv.Itoa(priority),
		"slave-repl-offset", strconv.FormatInt(inst.info.ReplicaReplOffset, 10),
		"replica-announced", announced,
	)
}

// roleString is the role Sentinel reports for an instance: what the
// instance said, or what we configured until it has said anything.
func roleString(inst *instance) string {
	if inst.roleReported != "" {
		return string(inst.roleReported)
	}
	if inst.isMaster() {
		return "master"
	}
	return "slave"
}

// flags renders Sentinel's comma-separated flag list in Sentinel's order.
// Requires n.mu.
func (n *Node) flags(inst *instance) string {
	var f []string
	if inst.sdown {
		f = append(f, "s_down")
	}
	if inst.isMaster() && inst.group.odown {
		f = append(f, "o_down")
	}
	if inst.isMaster() {
		f = append(f, "master")
	} else {
		f = append(f, "slave")
	}
	if !inst.connected {
		f = append(f, "disconnected")
	}
	if inst.isMaster() && n.pausedLocked(inst.group) {
		f = append(f, "paused")
	}
	if a := inst.group.attempt; a != nil {
		if inst.isMaster() {
			f = append(f, "failover_in_progress")
		} else if a.m.Promoted() == inst.addr {
			f = append(f, "promoted")
		}
	}
	return strings.Join(f, ",")
}

func cmdInfo(n *Node, c *clientConn, args []string) bool {
	sections := map[string]bool{}
	for _, a := range args[1:] {
		sections[strings.ToLower(a)] = true
	}
	all := len(sections) == 0 || sections["all"] || sections["everything"] || sections["default"]
	want := func(s string) bool { return all || sections[s] }
	var b strings.Builder
	add := func(section string, lines ...string) {
		if b.Len() > 0 {
			b.WriteString("\r\n")
		}
		b.WriteString("# " + section + "\r\n")
		for _, l := range lines {
			b.WriteString(l + "\r\n")
		}
	}
	if want("server") {
		add("Server", n.infoServer()...)
	}
	if want("clients") {
		add("Clients", n.infoClients()...)
	}
	if want("cpu") {
		add("CPU", infoCPU()...)
	}
	if want("sentinel") {
		n.mu.Lock()
		epoch := n.state.CurrentEpoch
		masters := len(n.groups)
		running, queued := n.scripts.Stats()
		tiltFlag, tiltSecs := "0", "-1"
		if n.tiltLocked() {
			tiltFlag, tiltSecs = "1", strconv.FormatInt(int64(time.Since(n.tiltSince).Seconds()), 10)
		}
		n.mu.Unlock()
		lines := []string{
			"sentinel_masters:" + strconv.Itoa(masters),
			"sentinel_tilt:" + tiltFlag,
			"sentinel_tilt_since_seconds:" + tiltSecs,
			"sentinel_running_scripts:" + strconv.Itoa(running),
			"sentinel_scripts_queue_length:" + strconv.Itoa(queued),
			"sentinel_simulate_failure_flags:" + strconv.FormatUint(uint64(n.sim.flags.Load()), 10),
			"sentinel_current_epoch:" + strconv.FormatUint(epoch, 10),
		}
		n.mu.Lock()
		for i, name := range n.names {
			g := n.groups[name]
			status := "ok"
			if g.odown {
				status = "odown"
			} else if g.master.sdown {
				status = "sdown"
			}
			lines = append(lines, fmt.Sprintf("master%d:name=%s,status=%s,address=%s,slaves=%d,sentinels=%d",
				i, name, status, infoAddr(n.shownAddrLocked(g, g.advertisedAddr())), len(g.replicas), len(g.peers)+1))
		}
		n.mu.Unlock()
		add("Sentinel", lines...)
	}
	c.w.Bulk(b.String()) // a bulk string in RESP3 too, as redis-server 7.0
	return false
}

func portOf(addr string) string {
	if i := strings.LastIndexByte(addr, ':'); i >= 0 {
		return addr[i+1:]
	}
	return ""
}

func sortedStrings(s []string) []string {
	sort.Strings(s)
	return s
}

func keys(m map[string]struct{}) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
