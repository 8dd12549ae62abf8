package sentinel

import (
	"strconv"
	"strings"
	"time"
)

// Discovery through the monitored instances, like Sentinel's hello
// messages: every helloPeriod each node publishes who it is on helloChannel
// of every instance it monitors and listens there, so that nodes configured
// only with the same master find each other and join one gossip cluster.
//
// A hello only ever leads to a gossip join. It never changes configuration:
// anyone who can PUBLISH on a monitored Redis could forge one, and the
// gossip layer (encrypted when gossip.secret-key is set) is where state is
// exchanged.
const (
	helloChannel = "__vigil__:hello"
	helloPeriod  = 2 * time.Second
	helloVersion = "vigil1"
	// rejoinPeriod limits join attempts towards one peer learned by hello.
	rejoinPeriod = 5 * time.Second
)

// hello is one parsed hello message.
type hello struct {
	nodeID, gossipAddr, respAddr, master string
	epoch                                uint64
}

// helloPayload is this node's hello: version, node id, gossip address,
// RESP address, current epoch and master name, comma-separated.
func (n *Node) helloPayload(master string) string {
	n.mu.Lock()
	epoch := n.state.CurrentEpoch
	n.mu.Unlock()
	return strings.Join([]string{helloVersion, n.id, n.GossipAddr(), n.announceAddr(), strconv.FormatUint(epoch, 10), master}, ",")
}

func parseHello(s string) (hello, bool) {
	f := strings.Split(s, ",")
	if len(f) != 6 || f[0] != helloVersion || f[1] == "" || f[2] == "" {
		return hello{}, false
	}
	epoch, err := strconv.ParseUint(f[4], 10, 64)
	if err != nil {
		return hello{}, false
	}
	return hello{nodeID: f[1], gossipAddr: f[2], respAddr: f[3], epoch: epoch, master: f[5]}, true
}

// handleHello joins the gossip cluster of a node we have not heard of.
func (n *Node) handleHello(h hello) {
	if h.nodeID == n.id || n.cluster == nil {
		return
	}
	n.mu.Lock()
	if _, ok := n.groups[h.master]; !ok {
		n.mu.Unlock()
		return
	}
	p := n.peerLocked(h.nodeID)
	if p.respAddr == "" {
		p.respAddr = h.respAddr
	}
	now := time.Now()
	if p.alive || now.Sub(p.lastJoin) < rejoinPeriod {
		n.mu.Unlock()
		return
	}
	p.lastJoin = now
	n.mu.Unlock()
	c := n.cluster
	n.bgWG.Go(func() {
		if _, err := c.Join([]string{h.gossipAddr}); err != nil {
			n.log.Debug("join via hello failed", "peer", h.nodeID, "addr", h.gossipAddr, "err", err)
		} else {
			n.log.Info("joined peer discovered through Redis", "peer", h.nodeID, "addr", h.gossipAddr)
		}
	})
}
