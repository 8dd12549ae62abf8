package sentinel

import (
	"strings"

	"github.com/vigil-ha/vigil/topology"
)

// Scripts: the master's notification-script runs for every warning-level
// event about the master or one of its instances, with Sentinel's
// arguments <event-type> <event-description>; client-reconfig-script runs
// when the master changes, with <master-name> <role> <state> <from-ip>
// <from-port> <to-ip> <to-port> (role leader on the node that promoted,
// observer on the others; state is always "start", as in Sentinel). See
// docs/scripts.md.

// notifyScript queues the notification script of the master an event is
// about, if it has one. Events without a master (+tilt, +new-epoch, the
// runner's own -script-* events) never run it.
func (n *Node) notifyScript(ev Event) {
	if !ev.Warning || n.scripts == nil {
		return
	}
	name := eventMaster(ev)
	if name == "" {
		return
	}
	mc, ok := n.cfg.Masters[name]
	if !ok || mc.NotificationScript == "" {
		return
	}
	n.scripts.Enqueue(mc.NotificationScript, ev.Type, ev.Payload)
}

// eventMaster extracts the master name from a Sentinel event payload:
// "master <name> ...", "... @ <name> <ip> <port>", or +switch-master's
// leading name.
func eventMaster(ev Event) string {
	f := strings.Fields(ev.Payload)
	switch {
	case ev.Type == "+switch-master" && len(f) > 0:
		return f[0]
	case len(f) > 1 && f[0] == "master":
		return f[1]
	}
	for i, tok := range f {
		if tok == "@" && i+1 < len(f) {
			return f[i+1]
		}
	}
	return ""
}

// reconfigScript queues the client-reconfig-script of g's master for a
// change of master from old to to. Requires n.mu.
func (n *Node) reconfigScript(g *group, role string, old, to topology.Addr) {
	if n.scripts == nil || g.cfg.ClientReconfigScript == "" {
		return
	}
	n.scripts.Enqueue(g.cfg.ClientReconfigScript, g.name(), role, "start", old.Host, old.PortString(), to.Host, to.PortString())
}
