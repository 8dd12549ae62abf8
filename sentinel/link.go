package sentinel

import (
	"errors"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"github.com/vigil-ha/vigil/topology"
)

// Monitoring cadence. Sentinel's values (sentinel.c): PING every second or
// every down-after if smaller, INFO every 10 s, every second while the
// master is down or a failover runs.
const (
	pingPeriod     = time.Second
	infoPeriod     = 10 * time.Second
	fastInfoPeriod = time.Second
	// suspectInfoPeriod is the INFO period of replicas while their master
	// is late answering or down: their offsets are the evidence of
	// replica-corroborated detection (corroborate.go).
	suspectInfoPeriod = 250 * time.Millisecond
	// retryDelay is how soon a failed PING is retried: a link that is down
	// is probed faster than the ping period so that a returning instance is
	// noticed within a fraction of a second.
	retryDelay = 250 * time.Millisecond
	// fastRetries is how many failures in a row are retried after
	// retryDelay (two seconds of them); after that a connection that keeps
	// failing is tried once a ping period, as Sentinel reconnects its
	// links at most once a second. A node watching many instances that
	// are all down then does not spend its CPU on connects.
	fastRetries = 8
)

// retryAfter is how long to wait before connecting again after fails
// failures in a row.
func (l *link) retryAfter(fails uint8) time.Duration {
	if fails <= fastRetries {
		return min(retryDelay, l.period)
	}
	return l.period
}

// link monitors one instance over two connections: commands (PING, INFO,
// PUBLISH of the hello), one batch at a time, and, when the node gossips,
// the hello subscription. Every link of a node is driven by the node's
// linkSet (linkset.go); a link reports every outcome to the node and never
// touches the node's state directly.
//
// The fields below the first group belong to the link set's goroutine;
// other goroutines only call requestInfo and cancel and set infoEvery.
type link struct {
	addr    topology.Addr
	numeric netip.AddrPort // addr when its host is an IP address
	group   string
	dialer  linkDialer
	period  time.Duration
	timeout time.Duration
	gossip  bool
	set     *linkSet
	inst    *instance // set before the link starts; read under Node.mu (lookup)

	infoEvery atomic.Int64 // INFO period in nanoseconds; 0 means infoPeriod
	poked     atomic.Bool  // an INFO request is on its way to the loop

	index   int       // in the set's schedule; -1 when not in it
	due     time.Time // when the set must next look at the link
	removed bool
	cmd     cmdConn
	sub     subConn

	nextPing, lastInfo, nextHello time.Time
	infoFailed, pingFailed        bool
}

// request is what a link asks of its instance on the command connection.
type request uint8

const (
	reqHello request = iota // PUBLISH of the hello
	reqPing
	reqInfo
)

// cmdConn is the command connection of a link and the batch in flight on
// it (at most a hello and a PING).
type cmdConn struct {
	c         *lconn
	dialing   bool
	gen       uint32 // of the dial in progress: a late result is dropped
	connected bool   // the batch went out on a new connection
	reqs      [2]request
	nreqs     int
	sentAt    time.Time
	deadline  time.Time
	// After a failed batch the connection is not dialled again before
	// retryAt; fails counts the failed batches since the last reply.
	retryAt time.Time
	fails   uint8
}

// subConn is the hello subscription of a link.
type subConn struct {
	c          *lconn
	dialing    bool
	gen        uint32
	retryAt    time.Time // no subscription before this, after a failure
	fails      uint8     // failures since data was last read
	lastData   time.Time // last reply or message read
	pingSentAt time.Time // health-check PING outstanding since, or zero
}

// newLink prepares the link of an instance of g; the set starts it.
func newLink(n *Node, s *linkSet, g *group, addr topology.Addr) *link {
	period, timeout := linkTimeouts(g.cfg.DownAfter)
	numeric, _ := netip.ParseAddrPort(addr.String())
	if numeric.Addr().Zone() != "" {
		numeric = netip.AddrPort{} // scoped: left to the dialer
	}
	return &link{
		addr:    addr,
		numeric: numeric,
		group:   g.name(),
		dialer: linkDialer{
			addr: addr.String(),
			tls:  n.actions.tls[g.cfg.Name],
			user: g.cfg.AuthUser,
			pass: g.cfg.AuthPass,
		},
		period:  period,
		timeout: timeout,
		gossip:  n.cluster != nil,
		set:     s,
		index:   -1,
	}
}

// linkTimeouts returns the PING period and the per-command timeout for a
// group's down-after.
func linkTimeouts(downAfter time.Duration) (period, timeout time.Duration) {
	// A quarter of down-after (at most Sentinel's second): s_down is
	// measured from the oldest unanswered PING, so frequent PINGs notice a
	// dead instance soon after it stopped answering. The timeout is
	// down-after itself: a reply that comes late but within down-after is
	// a live instance, not a failure.
	period = min(pingPeriod, max(downAfter/4, 100*time.Millisecond))
	timeout = max(downAfter, 200*time.Millisecond)
	return period, timeout
}

// requestInfo asks the link for an immediate INFO without blocking.
func (l *link) requestInfo() {
	if !l.poked.Swap(true) {
		l.set.post(linkMsg{kind: msgPoke, l: l})
	}
}

// cancel stops the link and closes its connections.
func (l *link) cancel() { l.set.post(linkMsg{kind: msgRemove, l: l}) }

// nextRequest is what the command connection should send now, if anything
// (n is 0): the hello (with the PING when both are due: one round trip),
// the PING, or INFO. A hello due within half a PING period goes out early
// with the PING, so that the two share a write and a read instead of
// drifting apart.
func (l *link) nextRequest(now time.Time) (reqs [2]request, n int) {
	pingDue := !now.Before(l.nextPing)
	switch {
	case l.gossip && pingDue && l.nextHello.Sub(now) < l.period/2:
		return [2]request{reqHello, reqPing}, 2
	case l.gossip && !now.Before(l.nextHello):
		return [2]request{reqHello}, 1
	case pingDue:
		return [2]request{reqPing}, 1
	case !now.Before(l.nextInfo()):
		return [2]request{reqInfo}, 1
	}
	return reqs, 0
}

// nextDue is when the link set must next look at the link: a deadline of
// the batch in flight, the next request due, or the subscription's next
// health check or retry.
func (l *link) nextDue() time.Time {
	var due time.Time
	if l.cmd.nreqs > 0 {
		due = l.cmd.deadline
	} else {
		due = earliest(l.nextPing, l.nextInfo())
		if l.gossip {
			due = earliest(due, l.nextHello)
		}
		if l.cmd.c == nil && due.Before(l.cmd.retryAt) {
			due = l.cmd.retryAt
		}
	}
	if !l.gossip {
		return due
	}
	switch s := &l.sub; {
	case s.dialing:
	case s.c == nil:
		due = earliest(due, s.retryAt)
	case s.c.connecting:
		due = earliest(due, s.c.deadline)
	case !s.pingSentAt.IsZero():
		due = earliest(due, s.pingSentAt.Add(l.timeout))
	default:
		due = earliest(due, s.lastData.Add(3*helloPeriod))
	}
	return due
}

// complete records the outcome of one request: its reply r, or err.
func (l *link) complete(n *Node, req request, r *reply, err error, now time.Time) {
	if err == nil {
		err = r.err()
	}
	sentAt, connected := l.cmd.sentAt, l.cmd.connected
	switch req {
	case reqHello:
		n.recordHello(l, now, err)
		if connected {
			l.lastInfo = time.Time{} // maybe a restarted instance: see reqPing
		}
		l.nextHello = sentAt.Add(helloPeriod)
		if err != nil {
			l.nextHello = sentAt.Add(min(retryDelay, l.period))
		}
	case reqPing:
		n.recordPing(l, now, err)
		if pingAcceptable(err) {
			l.nextPing = sentAt.Add(l.period)
			if l.pingFailed || connected {
				// Back after an outage, or on a new connection that may
				// be to a restarted instance: read INFO now, a reboot
				// (new run id, maybe an emptied data set) must be seen
				// at once, not at the next 10 s poll.
				l.lastInfo = time.Time{}
			}
			l.pingFailed = false
		} else {
			l.nextPing = now.Add(min(retryDelay, l.period))
			l.pingFailed = true
		}
	case reqInfo:
		var text string
		if err == nil {
			var ok bool
			if text, ok = r.str(); !ok {
				err = errProtocol
			}
		}
		l.infoFailed = err != nil
		n.recordInfo(l, now, text, err)
	}
}

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// nextInfo is when the next INFO is due: at once if none was sent yet, soon
// after a failure, otherwise one info period (fast or normal) after the last.
func (l *link) nextInfo() time.Time {
	switch {
	case l.lastInfo.IsZero():
		return l.lastInfo
	case l.infoFailed:
		return l.lastInfo.Add(retryDelay)
	case l.infoEvery.Load() > 0:
		return l.lastInfo.Add(time.Duration(l.infoEvery.Load()))
	default:
		return l.lastInfo.Add(infoPeriod)
	}
}

// pingAcceptable reports whether a PING outcome proves the instance alive:
// +PONG, or the -LOADING and -MASTERDOWN errors Sentinel also accepts.
func pingAcceptable(err error) bool {
	if err == nil {
		return true
	}
	var rerr replyError
	if !errors.As(err, &rerr) {
		return false
	}
	msg := string(rerr)
	return strings.HasPrefix(msg, "LOADING") || strings.HasPrefix(msg, "MASTERDOWN")
}

// isReply reports whether err is a reply from the instance (an error reply)
// rather than a network failure.
func isReply(err error) bool {
	if err == nil {
		return true
	}
	var rerr replyError
	return errors.As(err, &rerr)
}
