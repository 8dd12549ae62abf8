package sentinel

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
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
	// subDialSlack is how far past the next PING a resubscription may take.
	subDialSlack = 100 * time.Millisecond
)

// link monitors one instance. Its one goroutine drives two connections:
// commands (PING, INFO, PUBLISH of the hello) and, when the node gossips,
// the hello subscription, which it reads while waiting for the next command
// to be due. It reports every outcome to the node and never touches the
// node's state directly.
type link struct {
	addr      topology.Addr
	group     string
	dialer    linkDialer
	cmdName   string        // CLIENT SETNAME of the command connection
	subName   string        // and of the subscription
	infoEvery atomic.Int64  // INFO period in nanoseconds; 0 means infoPeriod
	poke      chan struct{} // ask for an INFO right now
	cancel    context.CancelFunc

	// waiting is the subscription the goroutine is reading while it waits
	// (nil otherwise): requestInfo expires its read deadline to wake it.
	waiting atomic.Pointer[linkConn]
	// mu guards cmd and sub for closeAll, which runs on cancel.
	mu       sync.Mutex
	cmd, sub *linkConn
	closed   bool
}

// newLink prepares the link of an instance of g; run starts it.
func newLink(n *Node, g *group, addr topology.Addr, cancel context.CancelFunc) *link {
	prefix := "vigil-" + n.id[:min(8, len(n.id))]
	return &link{
		addr:  addr,
		group: g.name(),
		dialer: linkDialer{
			addr: addr.String(),
			tls:  n.actions.tls[g.cfg.Name],
			user: g.cfg.AuthUser,
			pass: g.cfg.AuthPass,
		},
		cmdName: prefix + "-cmd",
		subName: prefix + "-pubsub",
		poke:    make(chan struct{}, 1),
		cancel:  cancel,
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
	select {
	case l.poke <- struct{}{}:
	default:
	}
	if c := l.waiting.Load(); c != nil {
		_ = c.nc.SetReadDeadline(time.Unix(1, 0)) // wake the reader now
	}
}

// setConn installs c as the command (sub=false) or subscription
// connection, closing the one it replaces; c is closed at once when the
// link is already stopping.
func (l *link) setConn(sub bool, c *linkConn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	p := &l.cmd
	if sub {
		p = &l.sub
	}
	if *p != nil && *p != c {
		(*p).close()
	}
	*p = c
	if l.closed && c != nil {
		c.close()
	}
}

// closeAll closes both connections, interrupting any blocked I/O.
func (l *link) closeAll() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	for _, c := range []*linkConn{l.cmd, l.sub} {
		if c != nil {
			c.close()
		}
	}
}

// command sends one command on the command connection (dialled first when
// there is none) and returns its reply. A network or protocol error drops
// the connection; connected reports that a new one was made.
func (l *link) command(ctx context.Context, timeout time.Duration, args ...string) (reply any, connected bool, err error) {
	c := l.cmd
	if c == nil {
		if c, err = l.dialer.dialAside(ctx, l.cmdName, time.Now().Add(timeout)); err != nil {
			return nil, false, err
		}
		l.setConn(false, c)
		connected = true
	}
	reply, err = c.do(time.Now().Add(timeout), args...)
	if err != nil && !isReply(err) {
		l.setConn(false, nil)
	}
	return reply, connected, err
}

// command2 sends two commands in one write and reads both replies, as
// command does for one; errs are the two commands' errors.
func (l *link) command2(ctx context.Context, timeout time.Duration, a, b []string) (errs [2]error, connected bool) {
	c := l.cmd
	if c == nil {
		var err error
		if c, err = l.dialer.dialAside(ctx, l.cmdName, time.Now().Add(timeout)); err != nil {
			return [2]error{err, err}, false
		}
		l.setConn(false, c)
		connected = true
	}
	deadline := time.Now().Add(timeout)
	c.append(a...)
	c.append(b...)
	err := c.flush(deadline)
	if err == nil {
		err = c.nc.SetReadDeadline(deadline)
	}
	for i := range errs {
		if err != nil {
			errs[i] = err
			continue
		}
		_, errs[i] = c.read()
		if !isReply(errs[i]) {
			err = errs[i]
		}
	}
	if err != nil {
		l.setConn(false, nil)
	}
	return errs, connected
}

// run is the link's loop. It owns the link's connections and closes them
// on return.
func (l *link) run(ctx context.Context, n *Node, downAfter time.Duration) {
	stop := context.AfterFunc(ctx, l.closeAll)
	defer func() {
		stop()
		l.closeAll()
	}()
	period, timeout := linkTimeouts(downAfter)
	gossip := n.cluster != nil
	var (
		nextPing, lastInfo, nextHello time.Time
		infoFailed, pingFailed        bool
		hs                            helloSub
	)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		now := time.Now()
		pingDue := !now.Before(nextPing)
		var (
			pingErr       error
			pingConnected bool
		)
		if gossip && !now.Before(nextHello) {
			n.notePingSent(l, now)
			hello := []string{"PUBLISH", helloChannel, n.helloPayload(l.group)}
			var (
				err       error
				connected bool
			)
			if pingDue {
				// Both due (every other PING): one round trip.
				var errs [2]error
				errs, connected = l.command2(ctx, timeout, hello, []string{"PING"})
				err, pingErr, pingConnected = errs[0], errs[1], connected
			} else {
				_, connected, err = l.command(ctx, timeout, hello...)
			}
			if ctx.Err() != nil {
				return
			}
			n.recordHello(l, time.Now(), err)
			if connected {
				lastInfo = time.Time{} // maybe a restarted instance: see below
			}
			nextHello = now.Add(helloPeriod)
			if err != nil {
				nextHello = now.Add(min(retryDelay, period))
			}
		} else if pingDue {
			n.notePingSent(l, now)
			_, pingConnected, pingErr = l.command(ctx, timeout, "PING")
			if ctx.Err() != nil {
				return
			}
		}
		if pingDue {
			err, connected := pingErr, pingConnected
			n.recordPing(l, time.Now(), err)
			if pingAcceptable(err) {
				nextPing = now.Add(period)
				if pingFailed || connected {
					// Back after an outage, or on a new connection that
					// may be to a restarted instance: read INFO now, a
					// reboot (new run id, maybe an emptied data set) must
					// be seen at once, not at the next 10 s poll.
					lastInfo = time.Time{}
				}
				pingFailed = false
			} else {
				nextPing = time.Now().Add(min(retryDelay, period))
				pingFailed = true
			}
		}
		if nextInfo := l.nextInfo(lastInfo, infoFailed); !time.Now().Before(nextInfo) {
			lastInfo = time.Now()
			n.notePingSent(l, lastInfo)
			reply, _, err := l.command(ctx, timeout, "INFO")
			if ctx.Err() != nil {
				return
			}
			text, ok := reply.(string)
			if err == nil && !ok {
				err = errProtocol
			}
			infoFailed = err != nil
			n.recordInfo(l, time.Now(), text, err)
		}
		due := earliest(nextPing, l.nextInfo(lastInfo, infoFailed))
		if gossip {
			due = earliest(due, nextHello)
		}
		if gossip && hs.wait(ctx, l, n, due, timeout) {
			lastInfo = time.Time{}
			continue
		}
		if ctx.Err() != nil {
			return
		}
		if wait := time.Until(due); wait > 0 {
			timer.Reset(wait)
			select {
			case <-ctx.Done():
				return
			case <-l.poke:
				lastInfo = time.Time{}
			case <-timer.C:
			}
		}
	}
}

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// helloSub is the state of a link's hello subscription. Owned by the
// link's goroutine.
type helloSub struct {
	c          *linkConn
	retryAt    time.Time // no subscription before this, after a failure
	lastData   time.Time // last reply or message read
	pingSentAt time.Time // health-check PING outstanding since, or zero
}

// wait reads the subscription until due, handing hellos to the node. It
// returns true when an INFO was requested meanwhile, and false when due
// came (or, without a usable subscription, at once: the caller then waits
// on a timer).
func (h *helloSub) wait(ctx context.Context, l *link, n *Node, due time.Time, timeout time.Duration) (poked bool) {
	now := time.Now()
	if h.c == nil {
		if now.Before(h.retryAt) || !now.Before(due) {
			return false
		}
		// Resubscribing never holds up the next PING by more than a
		// fraction of its period.
		deadline := now.Add(subDialSlack)
		if due.After(deadline) {
			deadline = earliest(due, now.Add(timeout))
		}
		c, err := l.dialer.dialAside(ctx, l.subName, deadline)
		if err == nil {
			c.append("SUBSCRIBE", helloChannel)
			err = c.flush(time.Now().Add(timeout))
			if err != nil {
				c.close()
			}
		}
		if err != nil {
			h.retryAt = time.Now().Add(retryDelay)
			return false
		}
		l.setConn(true, c)
		h.c, h.lastData, h.pingSentAt = c, time.Now(), time.Time{}
	}
	// Health check, as go-redis's Pub/Sub channel does: a silent
	// subscription is PINGed, and dropped when the PING goes unanswered.
	// Our own hellos normally arrive every helloPeriod.
	switch {
	case !h.pingSentAt.IsZero() && now.Sub(h.pingSentAt) > timeout:
		h.drop(l)
		return false
	case h.pingSentAt.IsZero() && now.Sub(h.lastData) > 3*helloPeriod:
		h.c.append("PING")
		if err := h.c.flush(now.Add(timeout)); err != nil {
			h.drop(l)
			return false
		}
		h.pingSentAt = now
	}
	for {
		if err := h.c.nc.SetReadDeadline(due); err != nil {
			h.drop(l)
			return false
		}
		l.waiting.Store(h.c)
		if len(l.poke) > 0 { // requested before the deadline was set
			l.waiting.Store(nil)
			<-l.poke
			return true
		}
		reply, err := h.c.read()
		l.waiting.Store(nil)
		if ctx.Err() != nil {
			return false
		}
		if err != nil && !isReply(err) {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() && !h.c.started {
				select {
				case <-l.poke:
					return true
				default:
				}
				if !time.Now().Before(due) {
					return false
				}
				continue // woken for a poke that was already consumed
			}
			h.drop(l)
			return false
		}
		h.lastData, h.pingSentAt = time.Now(), time.Time{}
		if msg, ok := reply.([]any); ok && len(msg) == 3 && msg[0] == "message" {
			if payload, ok := msg[2].(string); ok {
				if hl, ok := parseHello(payload); ok {
					n.handleHello(hl)
				}
			}
		}
	}
}

// drop closes the subscription; the next wait re-subscribes after
// retryDelay.
func (h *helloSub) drop(l *link) {
	l.setConn(true, nil)
	h.c = nil
	h.retryAt = time.Now().Add(retryDelay)
}

// nextInfo is when the next INFO is due: at once if none was sent yet, soon
// after a failure, otherwise one info period (fast or normal) after the last.
func (l *link) nextInfo(last time.Time, failed bool) time.Time {
	switch {
	case last.IsZero():
		return last
	case failed:
		return last.Add(retryDelay)
	case l.infoEvery.Load() > 0:
		return last.Add(time.Duration(l.infoEvery.Load()))
	default:
		return last.Add(infoPeriod)
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
