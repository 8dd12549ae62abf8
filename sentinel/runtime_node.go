package sentinel

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-ha/vigil/config"
	"github.com/vigil-ha/vigil/sentinel/cluster"
)

// How the node applies its runtime configuration (runtime.go): at start on
// top of the configuration file, and while running when a command or a
// peer changes it.

// applyTo returns cfg with the runtime changes applied: the masters
// section replaced by the effective masters, and announce-ip /
// announce-port set by CONFIG SET. An entry that cannot be applied here (a
// script missing on this machine, say) is logged and the file's settings of
// that master, if any, are used.
func (rc *runtimeConf) applyTo(cfg config.Config, log *slog.Logger) config.Config {
	rc.file = cfg.Masters
	// n.cfg.Masters is copy-on-write (setCfgMasterLocked), so without
	// runtime changes it may share the file's map: a thousand masters'
	// configuration is then held once, not twice.
	masters := cfg.Masters
	if len(rc.state.Masters) > 0 {
		masters = maps.Clone(cfg.Masters)
		if masters == nil {
			masters = map[string]config.MasterConfig{}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(rc.state.Masters)) {
		e := rc.state.Masters[name]
		mc, ok, err := rc.effective(cfg.Node, name, &e)
		switch {
		case err != nil:
			rc.bad[name] = e.Version
			log.Error("runtime configuration of a master not applied; using the configuration file's", "master", name, "version", e.Version, "writer", e.Writer, "err", err)
		case ok:
			masters[name] = mc
		default:
			delete(masters, name)
		}
	}
	cfg.Masters = masters
	ip, hasIP := rc.state.Global["announce-ip"]
	port, hasPort := rc.state.Global["announce-port"]
	if hasIP || hasPort {
		base := cfg.Node.Announce
		if base == "" {
			base = cfg.Node.Listen
		}
		h, p := splitHostPort(base)
		if hasIP && ip != "" {
			h = ip
		}
		if hasPort && port != "0" {
			p = port
		}
		if p != "0" && h != "" {
			cfg.Node.Announce = net.JoinHostPort(h, p)
		}
	}
	return cfg
}

// effective is effectiveMaster plus this node's own rule: with
// deny-scripts-reconfig (the default) a script path that differs from the
// configuration file's is refused, whoever set it.
func (rc *runtimeConf) effective(node config.NodeConfig, name string, e *cluster.ConfigEntry) (config.MasterConfig, bool, error) {
	mc, ok, err := effectiveMaster(rc.file, name, e)
	if err != nil || !ok || !node.ScriptsReconfigDenied() {
		return mc, ok, err
	}
	fm := rc.file[name]
	if mc.NotificationScript != fm.NotificationScript || mc.ClientReconfigScript != fm.ClientReconfigScript || mc.PreFailoverHook != fm.PreFailoverHook {
		return config.MasterConfig{}, false, fmt.Errorf("script paths changed at runtime are refused by node.deny-scripts-reconfig")
	}
	return mc, ok, nil
}

// Gossip of the runtime entries. Every state carries the digest of this
// node's entries; the entries themselves ride along only for a while after
// a change (ours or a peer's), when a peer's digest differs from ours, and
// every runtimeResend. A node that missed a change therefore sees a digest
// that differs from its own, starts sending its entries, and the other side
// does the same on seeing its digest: both merge and converge within a few
// states, without every state of every node carrying every entry.
const (
	runtimeSendFor = 3 * time.Second
	runtimeResend  = 30 * time.Second
)

// gossipEntriesLocked returns the entries to put in a state sent now (nil
// when not needed) and the digest. Requires n.mu.
func (n *Node) gossipEntriesLocked(now time.Time) ([]cluster.ConfigEntry, uint64) {
	if n.rt.digest == 0 {
		return nil, 0
	}
	if now.Before(n.rt.sendUntil) || now.Sub(n.rt.resentAt) >= runtimeResend {
		n.rt.resentAt = now
		return n.runtimeEntriesLocked(), n.rt.digest
	}
	return nil, n.rt.digest
}

// sendEntriesLocked makes the next states carry the entries for a while.
// Requires n.mu.
func (n *Node) sendEntriesLocked(now time.Time) {
	n.rt.sendUntil = now.Add(runtimeSendFor)
}

// runtimeEntriesLocked returns the runtime entries to gossip, by name.
// Requires n.mu.
func (n *Node) runtimeEntriesLocked() []cluster.ConfigEntry {
	if len(n.rt.state.Masters) == 0 {
		return nil
	}
	out := make([]cluster.ConfigEntry, 0, len(n.rt.state.Masters))
	for _, name := range slices.Sorted(maps.Keys(n.rt.state.Masters)) {
		out = append(out, cloneEntry(n.rt.state.Masters[name]))
	}
	return out
}

// mergeRuntimeLocked folds the runtime entries a peer sent (from is its
// id, digest the digest of its entries) into ours (last writer wins),
// persists the result and applies what changed. Requires n.mu.
func (n *Node) mergeRuntimeLocked(from string, digest uint64, in ...cluster.ConfigEntry) {
	defer func() {
		if digest != n.rt.digest && !time.Now().Before(n.rt.sendUntil) {
			// One of us misses an entry: send ours, the peer will send
			// its own when it sees our digest.
			n.sendEntriesLocked(time.Now())
			n.broadcastLocked()
		}
	}()
	if len(in) == 0 {
		return
	}
	prev := map[string]cluster.ConfigEntry{}
	for _, e := range in {
		if old, ok := n.rt.state.Masters[e.Name]; ok {
			prev[e.Name] = old
		}
	}
	changed, maxVersion := mergeEntries(n.rt.state.Masters, in)
	if maxVersion > n.rt.state.Clock {
		n.rt.state.Clock = maxVersion
	}
	if len(changed) == 0 {
		return
	}
	n.log.Debug("runtime configuration received", "from", from, "masters", changed)
	n.rt.digest = entriesDigest(n.rt.state.Masters)
	n.sendEntriesLocked(time.Now()) // pass it on
	if err := n.rt.save(); err != nil {
		n.log.Error("cannot persist runtime configuration", "err", err)
	}
	for _, name := range changed {
		var p *cluster.ConfigEntry
		if old, ok := prev[name]; ok {
			p = &old
		}
		n.reconcileLocked(name, p, n.rt.state.Masters[name].Writer)
	}
	n.broadcastLocked()
}

// commitEntryLocked records e, a change made on this node, durably before
// applying it, then applies and gossips it. Requires n.mu. On a write
// failure nothing changes and the error is returned.
func (n *Node) commitEntryLocked(e cluster.ConfigEntry) error {
	old, had := n.rt.state.Masters[e.Name]
	e.Version = n.rt.state.Clock + 1
	e.Writer = n.id
	// Peers drop a whole state with an entry they cannot decode, and a
	// state must fit in a gossip message: refuse such a change here.
	if err := e.Validate(); err != nil {
		return entryError("ERR " + err.Error())
	}
	n.rt.state.Masters[e.Name] = e
	if size := entriesSize(n.rt.state.Masters); size > maxRuntimeBytes {
		if had {
			n.rt.state.Masters[e.Name] = old
		} else {
			delete(n.rt.state.Masters, e.Name)
		}
		return entryError(fmt.Sprintf("ERR the runtime configuration would take %d bytes in every gossiped state, more than %d", size, maxRuntimeBytes))
	}
	clock := n.rt.state.Clock
	n.rt.state.Clock = e.Version
	if err := n.rt.save(); err != nil {
		n.rt.state.Clock = clock
		if had {
			n.rt.state.Masters[e.Name] = old
		} else {
			delete(n.rt.state.Masters, e.Name)
		}
		n.log.Error("cannot persist runtime configuration", "err", err)
		return err
	}
	n.rt.digest = entriesDigest(n.rt.state.Masters)
	n.sendEntriesLocked(time.Now())
	var p *cluster.ConfigEntry
	if had {
		p = &old
	}
	n.reconcileLocked(e.Name, p, n.id)
	n.broadcastLocked()
	return nil
}

// maxRuntimeBytes bounds the encoded runtime entries, which ride in every
// state a node gossips (cluster.MaxMessageSize bounds the whole state).
const maxRuntimeBytes = 64 << 10

// entryError is a change refused before anything was written: its text is
// the reply.
type entryError string

func (e entryError) Error() string { return string(e) }

// entriesSize is the size of the entries in JSON, as gossiped.
func entriesSize(m map[string]cluster.ConfigEntry) int {
	b, err := json.Marshal(m)
	if err != nil {
		return 1 << 30
	}
	return len(b)
}

// reconcileLocked brings master name in line with its runtime entry: adds,
// removes or updates its group. prev is the entry it replaced, if any; by
// is the node that made the change. Requires n.mu.
func (n *Node) reconcileLocked(name string, prev *cluster.ConfigEntry, by string) {
	var ep *cluster.ConfigEntry
	if e, ok := n.rt.state.Masters[name]; ok {
		ep = &e
	}
	mc, ok, err := n.rt.effective(n.cfg.Node, name, ep)
	if err != nil {
		if ep != nil && n.rt.bad[name] != ep.Version {
			n.rt.bad[name] = ep.Version
			n.log.Error("runtime configuration of a master not applied here; keeping the current one", "master", name, "version", ep.Version, "writer", ep.Writer, "err", err)
		}
		return
	}
	delete(n.rt.bad, name)
	g := n.groups[name]
	switch {
	case !ok && g == nil:
	case !ok:
		n.removeGroupLocked(g, by)
	case g == nil:
		n.addGroupLocked(mc, by)
	case g.cfg.Addr != mc.Addr:
		n.removeGroupLocked(g, by)
		n.addGroupLocked(mc, by)
	default:
		n.updateGroupLocked(g, mc, by)
	}
	if ep != nil && !ep.Removed {
		n.logNoEffectOptions(name, prev, ep, by)
	}
}

// setCfgMasterLocked replaces n.cfg.Masters with a copy holding mc (or
// without name when mc is nil), so a map handed out earlier never changes.
// Requires n.mu.
func (n *Node) setCfgMasterLocked(name string, mc *config.MasterConfig) {
	m := maps.Clone(n.cfg.Masters)
	if m == nil {
		m = map[string]config.MasterConfig{}
	}
	if mc == nil {
		delete(m, name)
	} else {
		m[name] = *mc
	}
	n.cfg.Masters = m
	n.names = n.cfg.MasterNames()
}

// addGroupLocked starts monitoring a master (SENTINEL MONITOR here or on a
// peer). Requires n.mu.
func (n *Node) addGroupLocked(mc config.MasterConfig, by string) {
	n.setCfgMasterLocked(mc.Name, &mc)
	n.buildGroupLocked(mc)
	n.saveStateLocked()
	g := n.groups[mc.Name]
	n.log.Info("runtime configuration: master added", "master", mc.Name, "addr", mc.Addr.String(), "quorum", mc.Quorum, "by", by)
	if n.runCtx == nil {
		return // Run emits +monitor and starts the links
	}
	if n.runCtx.Err() != nil {
		return // stopping: no new link
	}
	n.emit(Event{Type: "+monitor", Warning: true, Payload: n.instanceRef(g.master) + " quorum " + strconv.Itoa(mc.Quorum)})
	for _, inst := range n.instances(g) {
		n.startLink(inst)
	}
}

// removeGroupLocked stops monitoring g's master: its links stop, a failover
// attempt of this node is abandoned, its durable record is dropped.
// Requires n.mu.
func (n *Node) removeGroupLocked(g *group, by string) {
	name := g.name()
	n.emit(Event{Type: "-monitor", Warning: true, Payload: n.instanceRef(g.master)})
	for _, inst := range n.instances(g) {
		if inst.link != nil {
			inst.link.cancel()
			inst.link = nil
		}
	}
	if g.attempt != nil {
		g.attempt = nil
		n.endRecordLocked(g, "aborted: SENTINEL REMOVE", "")
	}
	if g.fence.active && n.runCtx != nil {
		n.unfenceLocked(g, "master removed") // nobody would lift it later
	}
	for _, p := range n.peers {
		delete(p.masters, name)
	}
	delete(n.groups, name)
	delete(n.state.Masters, name)
	n.setCfgMasterLocked(name, nil)
	n.saveStateLocked()
	n.log.Info("runtime configuration: master removed", "master", name, "by", by)
}

// updateGroupLocked applies new settings to a monitored master. Links are
// restarted when what they use changed (down-after, credentials), like
// Sentinel drops its connections on a new auth-pass. Requires n.mu.
func (n *Node) updateGroupLocked(g *group, mc config.MasterConfig, by string) {
	old := g.cfg
	mc.TLS = old.TLS // from the file, by name; never changed at runtime
	g.cfg = mc
	n.setCfgMasterLocked(mc.Name, &mc)
	before, after := optionValues(old), optionValues(mc)
	for i := range after {
		if before[i].val == after[i].val {
			continue
		}
		n.log.Info("runtime configuration changed", "master", mc.Name, "key", after[i].key, "old", redact(before[i]), "new", redact(after[i]), "by", by)
		n.emit(Event{Type: "+set", Warning: true, Payload: n.instanceRef(g.master) + " " + after[i].key + " " + redact(after[i])})
	}
	if (old.DownAfter != mc.DownAfter || old.AuthUser != mc.AuthUser || old.AuthPass != mc.AuthPass) && n.runCtx != nil && n.runCtx.Err() == nil {
		for _, inst := range n.instances(g) {
			if inst.link != nil {
				inst.link.cancel()
				inst.link = nil
				n.startLink(inst)
			}
		}
	}
}

// logNoEffectOptions logs changes of the options vigil accepts for
// compatibility but does not act on (rename-command,
// master-reboot-down-after-period). Requires n.mu.
func (n *Node) logNoEffectOptions(name string, prev, cur *cluster.ConfigEntry, by string) {
	var was map[string]string
	if prev != nil && !prev.Removed {
		was = prev.Options
	}
	for _, k := range slices.Sorted(maps.Keys(cur.Options)) {
		if !strings.HasPrefix(k, optRenamePrefix) && k != "master-reboot-down-after-period" {
			continue
		}
		if v, ok := was[k]; ok && v == cur.Options[k] {
			continue
		}
		n.log.Info("runtime configuration changed (accepted for compatibility, no effect in vigil)", "master", name, "key", k, "old", was[k], "new", cur.Options[k], "by", by)
	}
}
