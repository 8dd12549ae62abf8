package sentinel

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-ha/vigil/config"
	"github.com/vigil-ha/vigil/sentinel/cluster"
	"github.com/vigil-ha/vigil/topology"
)

// SENTINEL MONITOR, REMOVE, SET and CONFIG SET, with redis-sentinel 7.0's
// checks and reply texts (sentinel.c: sentinelCommand, sentinelSetCommand,
// sentinelConfigSetCommand). vigil's differences: every SET option is
// checked before any is applied (Sentinel applies them one by one and keeps
// the ones before a bad one), the file's rules apply too (master name
// charset, one address per master), and the change reaches every node.

// errFlush is Sentinel's reply when its configuration cannot be written.
const errFlush = "ERR Failed to save config file. Check server logs."

// commitErrorReply is the reply to a change commitEntryLocked refused:
// its own text when refused before writing, else Sentinel's write error.
func commitErrorReply(err error) string {
	var ee entryError
	if errors.As(err, &ee) {
		return string(ee)
	}
	return errFlush
}

// resolveTimeout bounds the DNS lookup of a MONITOR hostname.
const resolveTimeout = 2 * time.Second

// sentMonitor is SENTINEL MONITOR <name> <ip> <port> <quorum>.
func sentMonitor(n *Node, c *clientConn, args []string) {
	name, host := args[2], args[3]
	quorum, okQ := parseStrictInt(args[5])
	port, okP := parseStrictInt(args[4])
	switch {
	case !okQ:
		c.w.Error("ERR Invalid quorum")
		return
	case !okP:
		c.w.Error("ERR Invalid port")
		return
	case quorum <= 0:
		c.w.Error("ERR Quorum must be 1 or greater.")
		return
	}
	if !n.hostAcceptable(host) {
		c.w.Error("ERR Invalid IP address or hostname specified")
		return
	}
	if port < 1 || port > 65535 {
		c.w.Error("ERR Invalid port number.")
		return
	}
	if quorum > 1<<31-1 {
		c.w.Error("ERR Quorum must be 1 or greater.")
		return
	}
	mc := config.NewMaster(name, topology.Addr{Host: host, Port: int(port)}, int(quorum))
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.groups[name] != nil {
		c.w.Error("ERR Duplicate master name.")
		return
	}
	if err := config.ValidateMaster(n.cfg.Masters, mc); err != nil {
		c.w.Error(fieldErrorReply(err))
		return
	}
	e := cluster.ConfigEntry{Name: name, Monitor: true, Addr: mc.Addr.String(), Options: map[string]string{"quorum": strconv.FormatInt(quorum, 10)}}
	if err := n.commitEntryLocked(e); err != nil {
		c.w.Error(commitErrorReply(err))
		return
	}
	c.w.Simple("OK")
}

// hostAcceptable is Sentinel's anetResolve check of a MONITOR address: an
// IP literal, or with resolve-hostnames (vigil's default) a name that
// resolves.
func (n *Node) hostAcceptable(host string) bool {
	if net.ParseIP(host) != nil {
		return true
	}
	if !n.resolveHostnames() || host == "" {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), resolveTimeout)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupHost(ctx, host)
	return err == nil && len(addrs) > 0
}

// sentRemove is SENTINEL REMOVE <name>: stop monitoring on every node.
func sentRemove(n *Node, c *clientConn, args []string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.groups[args[2]] == nil {
		c.w.Error(errNoSuchMaster.Error())
		return
	}
	if err := n.commitEntryLocked(cluster.ConfigEntry{Name: args[2], Removed: true}); err != nil {
		c.w.Error(commitErrorReply(err))
		return
	}
	c.w.Simple("OK")
}

// sentSet is SENTINEL SET <name> <option> <value> [<option> <value> ...].
func sentSet(n *Node, c *clientConn, args []string) {
	name := args[2]
	n.mu.Lock()
	defer n.mu.Unlock()
	g := n.groups[name]
	if g == nil {
		c.w.Error(errNoSuchMaster.Error())
		return
	}
	pairs, err := parseSet(args[3:], n.cfg.Node.ScriptsReconfigDenied())
	if err != nil {
		c.w.Error(err.Error())
		return
	}
	e, ok := n.rt.state.Masters[name]
	if !ok || e.Removed {
		e = cluster.ConfigEntry{Name: name, Addr: g.cfg.Addr.String()}
	}
	e.Options = maps.Clone(e.Options)
	if e.Options == nil {
		e.Options = map[string]string{}
	}
	for i := 0; i+1 < len(pairs); i += 2 {
		e.Options[pairs[i]] = pairs[i+1]
	}
	if len(e.Options) > 64 {
		c.w.Error("ERR too many runtime options for this master")
		return
	}
	if _, _, err := n.rt.effective(n.cfg.Node, name, &e); err != nil {
		c.w.Error(fieldErrorReply(err))
		return
	}
	if err := n.commitEntryLocked(e); err != nil {
		c.w.Error(commitErrorReply(err))
		return
	}
	c.w.Simple("OK")
}

// fieldErrorReply turns a validation error into a one-line RESP error:
// the first rule broken, without the key prefix when it is a FieldError.
func fieldErrorReply(err error) string {
	msg := err.Error()
	var fe *config.FieldError
	if errors.As(err, &fe) {
		msg = fe.Key + ": " + fe.Message
		if fe.Err != nil {
			msg += ": " + fe.Err.Error()
		}
	}
	msg, _, _ = strings.Cut(msg, "\n")
	msg = strings.Map(func(r rune) rune {
		if r < ' ' {
			return ' '
		}
		return r
	}, msg)
	return "ERR " + msg
}

// Global options of SENTINEL CONFIG SET (Sentinel 7.0's list, and loglevel
// from 7.2). They are this node's own: persisted, not gossiped.
var configSetOptions = []string{"announce-ip", "sentinel-user", "sentinel-pass", "resolve-hostnames", "announce-port", "announce-hostnames", "loglevel"}

// sentConfigSet is SENTINEL CONFIG SET <option> <value> [<option> <value>
// ...] (several pairs as in Sentinel 7.2). Every pair is checked before
// any is applied.
func sentConfigSet(n *Node, c *clientConn, args []string) {
	set := map[string]string{}
	var order []string
	for i := 3; i < len(args); i++ {
		opt := strings.ToLower(args[i])
		known := false
		for _, o := range configSetOptions {
			known = known || o == opt
		}
		if !known {
			c.w.Error(fmt.Sprintf("ERR Invalid argument '%s' to SENTINEL CONFIG SET", args[i]))
			return
		}
		if _, dup := set[opt]; dup {
			c.w.Error(fmt.Sprintf("ERR Duplicate argument '%s' to SENTINEL CONFIG SET", args[i]))
			return
		}
		if i+1 == len(args) {
			c.w.Error(fmt.Sprintf("ERR Missing argument '%s' value", args[i]))
			return
		}
		i++
		val := args[i]
		bad := false
		switch opt {
		case "resolve-hostnames", "announce-hostnames":
			v := strings.ToLower(val)
			bad = v != "yes" && v != "no"
			val = v
		case "announce-port":
			p, ok := parseStrictInt(val)
			bad = !ok || p < 0 || p > 65535
		case "announce-ip":
			bad = val != "" && !validAnnounceHost(val)
		case "loglevel":
			switch strings.ToLower(val) {
			case "debug", "verbose", "notice", "warning", "nothing":
				c.w.Error("ERR vigil's log level is log.level in its configuration file; it cannot be changed at runtime")
				return
			}
			bad = true
		}
		if bad {
			c.w.Error(fmt.Sprintf("ERR Invalid value '%s' to SENTINEL CONFIG SET '%s'", args[i], args[i-1]))
			return
		}
		set[opt] = val
		order = append(order, opt)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	old := maps.Clone(n.rt.state.Global)
	before := n.globalsLocked()
	for opt, val := range set {
		n.rt.state.Global[opt] = val
	}
	if err := n.rt.save(); err != nil {
		n.rt.state.Global = old
		n.log.Error("cannot persist runtime configuration", "err", err)
		c.w.Error(errFlush)
		return
	}
	for _, opt := range order {
		was, now := before[opt], set[opt]
		if opt == "sentinel-pass" {
			was, now = redactString(was), redactString(now)
		}
		msg := "runtime configuration changed"
		switch opt {
		case "announce-ip", "announce-port":
			msg += " (takes effect when the node restarts)"
		case "sentinel-user", "sentinel-pass":
			msg += " (accepted for compatibility, no effect in vigil)"
		}
		n.log.Info(msg, "key", opt, "old", was, "new", now)
	}
	c.w.Simple("OK")
}

// validAnnounceHost accepts an IP literal or a host name: printable, no
// spaces, no brackets or colons outside an IPv6 literal.
func validAnnounceHost(h string) bool {
	if net.ParseIP(h) != nil {
		return true
	}
	if len(h) > 255 {
		return false
	}
	for i := 0; i < len(h); i++ {
		if h[i] <= ' ' || h[i] > '~' || strings.IndexByte("[]:/", h[i]) >= 0 {
			return false
		}
	}
	return true
}

func redactString(s string) string {
	if s == "" {
		return ""
	}
	return "******"
}

// globalsLocked returns the global parameters as CONFIG GET shows them:
// vigil's values, overridden by CONFIG SET. Requires n.mu.
func (n *Node) globalsLocked() map[string]string {
	announceIP, announcePort := "", "0"
	if a := n.cfg.Node.Announce; a != "" {
		announceIP, announcePort = splitHostPort(a)
	}
	level := map[string]string{"debug": "debug", "info": "notice", "warn": "warning", "error": "warning"}[n.cfg.Log.Level]
	g := map[string]string{
		"resolve-hostnames":  "yes",
		"announce-hostnames": map[bool]string{true: "yes", false: "no"}[n.cfg.Node.AnnouncesHostnames()],
		"announce-ip":        announceIP,
		"announce-port":      announcePort,
		"sentinel-user":      "",
		"sentinel-pass":      "",
		"loglevel":           level,
	}
	for k, v := range n.rt.state.Global {
		g[k] = v
	}
	return g
}

// resolveHostnames reports the resolve-hostnames setting (vigil: yes
// unless CONFIG SET said no).
func (n *Node) resolveHostnames() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.rt.state.Global["resolve-hostnames"] != "no"
}

// sentRevert is vigil's SENTINEL REVERT <name>: forget the runtime changes
// of a master the configuration file defines, on every node, so that the
// file's settings apply again; a master removed at runtime is monitored
// again. A master added at runtime has no file settings to go back to:
// SENTINEL REMOVE it instead.
func sentRevert(n *Node, c *clientConn, args []string) {
	name := args[2]
	n.mu.Lock()
	defer n.mu.Unlock()
	fm, inFile := n.rt.file[name]
	switch {
	case !inFile && n.groups[name] == nil:
		c.w.Error(errNoSuchMaster.Error())
		return
	case !inFile:
		c.w.Error("ERR " + name + " is not in the configuration file (it was added at runtime): use SENTINEL REMOVE")
		return
	}
	if err := n.commitEntryLocked(cluster.ConfigEntry{Name: name, Addr: fm.Addr.String()}); err != nil {
		c.w.Error(commitErrorReply(err))
		return
	}
	c.w.Simple("OK")
}
