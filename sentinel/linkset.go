package sentinel

import (
	"bytes"
	"container/heap"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"
)

// parkAfter is how long a wait must be to park in Go's network poller
// rather than block its thread in epoll_wait: the runtime's monitor
// (sysmon) takes the processor away from a thread that has been in a
// system call this long, and after each such takeover it polls every
// 20 µs for a while. An idle node whose loops blocked in epoll_wait
// between their rare events woke sysmon over a hundred times a second.
const parkAfter = 10 * time.Millisecond

// How long a long wait blocks before it parks. The link set's events come
// on its own schedule, so it parks almost at once: its thread then holds
// no processor between events and sysmon can sleep. A client loop that
// served a burst of requests waits longer for the next, which under load
// comes within microseconds: parking there and being woken through the
// runtime's poller would cost more per request.
const (
	linkBlockFirst   = time.Millisecond
	clientBlockFirst = parkAfter - 2*time.Millisecond
)

// linkSet drives every monitoring link of a node from one goroutine, the
// way Sentinel's event loop does: a schedule ordered by when each link is
// next due, the link's connections read as their replies arrive, and the
// outcomes handed to the node. A node watching a thousand masters thus
// keeps no goroutine, stack or timer per instance, only the link's state
// and its two sockets.
//
// On Linux plain TCP connections to numeric addresses are connected and
// read straight from an epoll instance (linkpoll_linux.go). A connection to
// a host name, or over TLS, is dialled by a short goroutine of its own; a
// plain one then joins the epoll instance, while a TLS connection (or any
// connection where there is no poller) is read by a small goroutine of its
// own (pump) that hands what it reads to the loop. Either way the loop
// sends AUTH and CLIENT SETNAME pipelined ahead of the first requests
// (begin) and reads their replies with the others (handle).
type linkSet struct {
	n      *Node
	ctx    context.Context
	poll   *poller       // nil: every connection is pumped
	wakeCh chan struct{} // wakes the loop when there is no poller

	inbox mailbox[linkMsg]
	wg    sync.WaitGroup // dials and pumps

	// Owned by the loop goroutine.
	sched    linkHeap
	fds      map[int]*lconn
	rbuf     []byte // read buffer shared by every socket
	wbuf     []byte // write buffer shared by every connection
	ready    []int
	ownHello []byte    // prefix of this node's own hellos, skipped unparsed
	epoch    time.Time // origin of the schedule's grid (linkGrid)

	// CLIENT SETNAME of the links' command connections and subscriptions.
	cmdName, subName string
}

// linkGrid is the granularity of the schedule: due times are put on it, so
// that links due at about the same time are served in one pass of
// the loop and their replies come back together, as Sentinel's timer
// (10 Hz) batches its requests. A thousand links then cost at most a
// hundred wake-ups a second for their requests instead of thousands.
const linkGrid = 10 * time.Millisecond

// lconn is one connection of a link.
type lconn struct {
	l    *link
	sub  bool
	fd   int      // a socket in the poller, or -1
	nc   net.Conn // a pumped connection
	buf  []byte   // bytes of a reply not yet complete
	need int      // len(buf) before parsing again is worth it
	dead bool

	// A socket connected by the loop is connecting until the connect ends
	// (by deadline). Then, on every connection, hs replies of its handshake
	// are still to come, the first of them AUTH's when auth is set.
	connecting bool
	auth       bool
	hs         uint8
	deadline   time.Time
}

// linkMsg is news for the loop from another goroutine.
type linkMsg struct {
	kind msgKind
	l    *link
	c    *lconn
	sub  bool
	gen  uint32
	nc   net.Conn
	data []byte
	err  error
}

type msgKind uint8

const (
	msgAdd    msgKind = iota // start l
	msgRemove                // stop l
	msgPoke                  // INFO now on l
	msgDialed                // a dial of l finished: nc or err
	msgData                  // a pump read data or err on c
)

var (
	errAgain      = errors.New("no data")
	errShortWrite = errors.New("short write")
)

// pumpWriteTimeout bounds a write on a pumped connection, which the loop
// makes itself: a request is a few hundred bytes into an idle socket.
const pumpWriteTimeout = 200 * time.Millisecond

// newLinkSet prepares the link set of n; run drives it until ctx ends.
// With pump set, every connection is pumped (tests of that path).
func newLinkSet(ctx context.Context, n *Node, pump bool) *linkSet {
	s := &linkSet{
		n:        n,
		ctx:      ctx,
		wakeCh:   make(chan struct{}, 1),
		fds:      map[int]*lconn{},
		rbuf:     make([]byte, 64<<10),
		ownHello: []byte(helloVersion + "," + n.id + ","),
		epoch:    time.Now(),
		cmdName:  "vigil-" + n.id[:min(8, len(n.id))] + "-cmd",
		subName:  "vigil-" + n.id[:min(8, len(n.id))] + "-pubsub",
	}
	if !pump {
		if p, err := newPoller(linkBlockFirst); err == nil {
			s.poll = p
		} else {
			n.log.Debug("monitoring links without epoll", "err", err)
		}
	}
	return s
}

// add starts monitoring with l.
func (s *linkSet) add(l *link) { s.post(linkMsg{kind: msgAdd, l: l}) }

// post hands m to the loop and wakes it. Once the loop has stopped, m is
// dropped.
func (s *linkSet) post(m linkMsg) {
	if first, _ := s.inbox.put(m); first {
		s.wake()
	}
}

func (s *linkSet) wake() {
	if s.poll != nil {
		s.poll.wake()
		return
	}
	select {
	case s.wakeCh <- struct{}{}:
	default:
	}
}

// run is the loop. It closes every connection before it returns.
func (s *linkSet) run() {
	stop := context.AfterFunc(s.ctx, s.wake)
	defer func() {
		stop()
		s.shutdown()
	}()
	var timer *time.Timer
	for s.ctx.Err() == nil {
		timeout := time.Duration(-1)
		if len(s.sched) > 0 {
			timeout = max(time.Until(s.sched[0].due), 0)
		}
		s.ready = s.ready[:0]
		if s.poll != nil {
			var err error
			if s.ready, err = s.poll.wait(timeout, s.ready); err != nil {
				// Never seen: epoll_wait fails only on a bad descriptor
				// or argument. Keep serving what can be served.
				s.n.log.Error("monitoring links: epoll_wait failed", "err", err)
				select {
				case <-s.ctx.Done():
				case <-time.After(100 * time.Millisecond):
				}
			}
		} else if timeout != 0 {
			var tc <-chan time.Time
			if timeout > 0 {
				if timer == nil {
					timer = time.NewTimer(timeout)
				} else {
					timer.Reset(timeout)
				}
				tc = timer.C
			}
			select {
			case <-s.wakeCh:
			case <-tc:
			case <-s.ctx.Done():
			}
		}
		if s.ctx.Err() != nil {
			return
		}
		now := time.Now()
		for _, fd := range s.ready {
			switch c := s.fds[fd]; {
			case c == nil:
			case c.connecting:
				s.connectDone(c, now)
			default:
				s.readSocket(c, now)
			}
		}
		s.drain(now)
		now = time.Now()
		for len(s.sched) > 0 && !now.Before(s.sched[0].due) {
			s.step(s.sched[0], now)
		}
	}
}

// shutdown closes every connection, waits for dials and pumps, and closes
// what dials delivered meanwhile.
func (s *linkSet) shutdown() {
	for _, l := range s.sched {
		s.closeLink(l)
	}
	s.sched = nil
	s.wg.Wait()
	for _, m := range s.inbox.close() {
		switch {
		case m.kind == msgDialed && m.nc != nil:
			_ = m.nc.Close()
		case m.kind == msgAdd || m.kind == msgRemove:
			s.closeLink(m.l)
		}
	}
	if s.poll != nil {
		s.poll.close()
	}
}

// drain handles the messages posted since the last pass.
func (s *linkSet) drain(now time.Time) {
	msgs := s.inbox.take()
	for i := range msgs {
		m := &msgs[i]
		l := m.l
		switch m.kind {
		case msgAdd:
			s.step(l, now)
		case msgRemove:
			l.removed = true
			s.closeLink(l)
			if l.index >= 0 {
				heap.Remove(&s.sched, l.index)
			}
		case msgPoke:
			l.poked.Store(false)
			if !l.removed {
				l.lastInfo = time.Time{}
				s.step(l, now)
			}
		case msgDialed:
			s.dialed(m, now)
		case msgData:
			if m.c.dead {
				continue
			}
			if len(m.data) > 0 {
				s.feed(m.c, m.data, now)
			}
			if m.err != nil && !m.c.dead {
				s.connFailed(m.c, m.err, now)
			}
		}
	}
	s.inbox.done(msgs)
}

// step does what is due on l at now and schedules it again.
func (s *linkSet) step(l *link, now time.Time) {
	if l.removed {
		if l.index >= 0 { // never: removal takes it out of the schedule
			heap.Remove(&s.sched, l.index)
		}
		return
	}
	if l.cmd.nreqs > 0 && !now.Before(l.cmd.deadline) {
		s.failCmd(l, os.ErrDeadlineExceeded, now)
	}
	waitRetry := l.cmd.c == nil && !l.cmd.dialing && now.Before(l.cmd.retryAt)
	if l.cmd.nreqs == 0 && !waitRetry {
		if reqs, k := l.nextRequest(now); k > 0 {
			if reqs[0] == reqInfo {
				l.lastInfo = now
			}
			s.send(l, reqs, k, now)
		}
	}
	if l.gossip {
		s.checkSub(l, now)
	}
	s.reschedule(l, now)
}

// reschedule puts l in the schedule at its next due time, on linkGrid. A
// link is never due again at once: what was due has been
// started.
func (s *linkSet) reschedule(l *link, now time.Time) {
	if l.removed {
		return
	}
	// Rounded down, so that a period (the next PING one period after this
	// one) does not drift, but never to before soonest. On the monotonic
	// clock: Truncate would strip it.
	soonest := now.Add(time.Millisecond)
	l.due = s.epoch.Add(l.nextDue().Sub(s.epoch) / linkGrid * linkGrid)
	if l.due.Before(soonest) {
		l.due = s.epoch.Add((soonest.Sub(s.epoch) + linkGrid - 1) / linkGrid * linkGrid)
	}
	if l.index < 0 {
		heap.Push(&s.sched, l)
	} else {
		heap.Fix(&s.sched, l.index)
	}
}

// send starts a batch of requests on l's command connection, dialling it
// first when there is none.
func (s *linkSet) send(l *link, reqs [2]request, k int, now time.Time) {
	l.cmd.reqs, l.cmd.nreqs = reqs, k
	l.cmd.sentAt, l.cmd.deadline = now, now.Add(l.timeout)
	s.n.notePingSent(l, now)
	switch {
	case l.cmd.c == nil:
		l.cmd.connected = true
		if !l.cmd.dialing {
			s.open(l, false, now, l.cmd.deadline)
		}
	case l.cmd.c.connecting: // connectDone writes the batch
		l.cmd.connected = true
	default:
		l.cmd.connected = false
		s.writeBatch(l, now)
	}
}

// writeBatch writes the batch in flight on l's command connection.
func (s *linkSet) writeBatch(l *link, now time.Time) {
	s.wbuf = s.appendBatch(s.wbuf[:0], l)
	if err := s.write(l.cmd.c, s.wbuf); err != nil {
		s.failCmd(l, err, now)
	}
}

// appendBatch appends the requests of l's batch in flight to b.
func (s *linkSet) appendBatch(b []byte, l *link) []byte {
	for _, req := range l.cmd.reqs[:l.cmd.nreqs] {
		switch req {
		case reqHello:
			b = appendCommand(b, "PUBLISH", helloChannel, s.n.helloPayload(l.group))
		case reqPing:
			b = append(b, "*1\r\n$4\r\nPING\r\n"...)
		case reqInfo:
			b = append(b, "*1\r\n$4\r\nINFO\r\n"...)
		}
	}
	return b
}

// failCmd closes l's command connection and fails the batch in flight.
func (s *linkSet) failCmd(l *link, err error, now time.Time) {
	if l.cmd.c != nil {
		s.closeConn(l.cmd.c)
		l.cmd.c = nil
	}
	if l.cmd.dialing {
		l.cmd.dialing = false
		l.cmd.gen++
	}
	reqs := l.cmd.reqs[:l.cmd.nreqs]
	l.cmd.nreqs = 0
	l.cmd.fails = min(l.cmd.fails, 254) + 1
	l.cmd.retryAt = now.Add(l.retryAfter(l.cmd.fails))
	for _, req := range reqs {
		l.complete(s.n, req, nil, err, now)
	}
}

// checkSub keeps l's hello subscription: dials it when there is none and
// its retry time has come; PINGs it when silent, as go-redis's Pub/Sub
// health check does; drops it when that PING goes unanswered. Our own
// hellos normally arrive every helloPeriod.
func (s *linkSet) checkSub(l *link, now time.Time) {
	sub := &l.sub
	switch {
	case sub.dialing:
	case sub.c == nil:
		if !now.Before(sub.retryAt) {
			s.open(l, true, now, now.Add(l.timeout))
		}
	case sub.c.connecting:
		if !now.Before(sub.c.deadline) {
			s.dropSub(l, now)
		}
	case !sub.pingSentAt.IsZero():
		if !now.Before(sub.pingSentAt.Add(l.timeout)) {
			s.dropSub(l, now)
		}
	case !now.Before(sub.lastData.Add(3 * helloPeriod)):
		if err := s.write(sub.c, []byte("*1\r\n$4\r\nPING\r\n")); err != nil {
			s.dropSub(l, now)
			return
		}
		sub.pingSentAt = now
	}
}

// dropSub closes l's subscription; checkSub subscribes again after
// retryDelay.
func (s *linkSet) dropSub(l *link, now time.Time) {
	if l.sub.c != nil {
		s.closeConn(l.sub.c)
		l.sub.c = nil
	}
	l.subFailed(now)
}

// subFailed schedules the next subscription attempt after a failure.
func (l *link) subFailed(now time.Time) {
	l.sub.fails = min(l.sub.fails, 254) + 1
	l.sub.retryAt = now.Add(l.retryAfter(l.sub.fails))
}

// open connects l's command (sub false) or subscription connection: in
// the loop when it can, otherwise on a goroutine of its own whose result
// comes back as msgDialed.
func (s *linkSet) open(l *link, sub bool, now, deadline time.Time) {
	if s.poll != nil && l.dialer.tls == nil && l.numeric.IsValid() {
		fd, err := connectStart(l.numeric)
		if err == nil {
			if err = s.poll.addConnecting(fd); err != nil {
				fdClose(fd)
			}
		}
		if err != nil {
			err = fmt.Errorf("dial tcp %s: %w", l.dialer.addr, err)
			if sub {
				l.subFailed(now)
			} else {
				s.failCmd(l, err, now)
			}
			return
		}
		c := &lconn{l: l, sub: sub, fd: fd, connecting: true, deadline: deadline}
		s.fds[fd] = c
		if sub {
			l.sub.c = c
		} else {
			l.cmd.c = c
		}
		return
	}
	if sub {
		l.sub.dialing = true
		l.sub.gen++
		s.dial(l, true, l.sub.gen, deadline)
	} else {
		l.cmd.dialing = true
		l.cmd.gen++
		s.dial(l, false, l.cmd.gen, deadline)
	}
}

// connectDone finishes a connect started by open and begins the
// connection.
func (s *linkSet) connectDone(c *lconn, now time.Time) {
	l := c.l
	err := connectResult(c.fd)
	if err == nil {
		err = s.poll.connected(c.fd)
	}
	if err != nil {
		s.connFailed(c, fmt.Errorf("dial tcp %s: %w", l.dialer.addr, err), now)
		return
	}
	c.connecting = false
	if err := s.begin(c, now); err != nil {
		s.connFailed(c, err, now)
		return
	}
	s.reschedule(l, now)
}

// begin sends what a new connection sends first: the handshake (AUTH when
// a password is configured, CLIENT SETNAME), then SUBSCRIBE on a
// subscription or the batch in flight on a command connection. handle
// takes the handshake's replies.
func (s *linkSet) begin(c *lconn, now time.Time) error {
	l := c.l
	name := s.cmdName
	if c.sub {
		name = s.subName
	}
	b, count := appendHandshake(s.wbuf[:0], l.dialer.user, l.dialer.pass, name)
	c.hs, c.auth = uint8(count), count > 1
	if c.sub {
		b = appendCommand(b, "SUBSCRIBE", helloChannel)
		l.sub.lastData, l.sub.pingSentAt = now, time.Time{}
	} else {
		b = s.appendBatch(b, l)
	}
	s.wbuf = b
	return s.write(c, b)
}

// dial runs linkDialer.dial on a goroutine; the result comes back as
// msgDialed.
func (s *linkSet) dial(l *link, sub bool, gen uint32, deadline time.Time) {
	s.wg.Go(func() {
		nc, err := l.dialer.dial(s.ctx, deadline)
		s.post(linkMsg{kind: msgDialed, l: l, sub: sub, gen: gen, nc: nc, err: err})
	})
}

// dialed installs a new connection, or reports the failed dial.
func (s *linkSet) dialed(m *linkMsg, now time.Time) {
	l := m.l
	dialing, gen := &l.cmd.dialing, l.cmd.gen
	if m.sub {
		dialing, gen = &l.sub.dialing, l.sub.gen
	}
	if l.removed || !*dialing || m.gen != gen {
		if m.nc != nil {
			_ = m.nc.Close() // a late dial, given up on
		}
		return
	}
	*dialing = false
	var c *lconn
	if m.err == nil {
		var err error
		if c, err = s.attach(l, m.sub, m.nc); err != nil {
			m.err = err
		}
	}
	switch {
	case m.sub && m.err != nil:
		l.subFailed(now)
	case m.err != nil:
		s.failCmd(l, m.err, now)
	default:
		if m.sub {
			l.sub.c = c
		} else {
			l.cmd.c = c
		}
		if err := s.begin(c, now); err != nil {
			s.connFailed(c, err, now)
			return
		}
	}
	s.reschedule(l, now)
}

// attach makes nc a connection of the loop: a socket in the poller, or a
// pumped connection.
func (s *linkSet) attach(l *link, sub bool, nc net.Conn) (*lconn, error) {
	c := &lconn{l: l, sub: sub, fd: -1}
	if s.poll != nil && l.dialer.tls == nil {
		fd, err := detach(nc)
		if err != nil {
			_ = nc.Close()
			return nil, err
		}
		if err := s.poll.add(fd); err != nil {
			fdClose(fd)
			return nil, err
		}
		c.fd = fd
		s.fds[fd] = c
		return c, nil
	}
	c.nc = nc
	s.wg.Go(func() { s.pump(c) })
	return c, nil
}

// pump reads a connection the poller does not serve and hands what it
// reads to the loop. It ends when the connection fails or is closed.
func (s *linkSet) pump(c *lconn) {
	buf := make([]byte, 4096)
	for {
		k, err := c.nc.Read(buf)
		var data []byte
		if k > 0 {
			data = append([]byte(nil), buf[:k]...)
		}
		if k > 0 || err != nil {
			s.post(linkMsg{kind: msgData, c: c, data: data, err: err})
		}
		if err != nil {
			return
		}
	}
}

// write sends b on c.
func (s *linkSet) write(c *lconn, b []byte) error {
	if c.fd >= 0 {
		return fdWrite(c.fd, b)
	}
	if err := c.nc.SetWriteDeadline(time.Now().Add(pumpWriteTimeout)); err != nil {
		return err
	}
	_, err := c.nc.Write(b)
	return err
}

// readSocket reads what a socket has and handles its replies.
func (s *linkSet) readSocket(c *lconn, now time.Time) {
	for !c.dead {
		k, err := fdRead(c.fd, s.rbuf)
		if k > 0 {
			s.feed(c, s.rbuf[:k], now)
		}
		switch {
		case c.dead || errors.Is(err, errAgain):
			return
		case err == nil && k == 0:
			err = io.EOF
		}
		if err != nil {
			s.connFailed(c, err, now)
			return
		}
		if k < len(s.rbuf) {
			return // drained; level-triggered epoll reports the rest
		}
	}
}

// feed handles the replies in data, which arrived on c; an incomplete
// reply at its end is kept for the next read.
func (s *linkSet) feed(c *lconn, data []byte, now time.Time) {
	if len(c.buf) > 0 {
		c.buf = append(c.buf, data...)
		data = c.buf
	}
	for len(data) > 0 && !c.dead {
		if len(data) < c.need {
			break
		}
		var r reply
		n, need, err := parseReply(data, &r)
		if errors.Is(err, errIncomplete) {
			c.need = need
			break
		}
		if err != nil {
			s.connFailed(c, err, now)
			return
		}
		data, c.need = data[n:], 0
		s.handle(c, &r, now)
	}
	if c.dead || len(data) == 0 {
		c.buf, c.need = nil, 0
		return
	}
	c.buf = append(c.buf[:0], data...)
}

// handle takes one reply read on c.
func (s *linkSet) handle(c *lconn, r *reply, now time.Time) {
	l := c.l
	if c.hs > 0 { // a reply to the handshake
		c.hs--
		if err := r.err(); err != nil && c.auth {
			s.connFailed(c, err, now) // alive, but refuses us
			return
		}
		c.auth = false // an error from CLIENT SETNAME is harmless
		return
	}
	if c.sub {
		l.sub.lastData, l.sub.pingSentAt, l.sub.fails = now, time.Time{}, 0
		if payload, ok := r.isMessage(); ok && !bytes.HasPrefix(payload, s.ownHello) {
			if h, ok := parseHello(string(payload)); ok {
				s.n.handleHello(h)
			}
		}
		return
	}
	if l.cmd.nreqs == 0 {
		s.connFailed(c, errProtocol, now) // a reply nobody asked for
		return
	}
	req := l.cmd.reqs[0]
	l.cmd.reqs[0] = l.cmd.reqs[1]
	l.cmd.nreqs--
	l.cmd.fails = 0
	l.complete(s.n, req, r, nil, now)
	if l.cmd.nreqs == 0 {
		s.step(l, now)
	}
}

// connFailed handles a connection that failed: err is the network or
// protocol error.
func (s *linkSet) connFailed(c *lconn, err error, now time.Time) {
	l := c.l
	switch {
	case c.dead:
		return
	case c.sub:
		s.dropSub(l, now)
	default:
		s.failCmd(l, err, now)
		s.step(l, now)
		return
	}
	s.reschedule(l, now)
}

func (s *linkSet) closeConn(c *lconn) {
	if c.dead {
		return
	}
	c.dead = true
	c.buf = nil
	if c.fd >= 0 {
		s.poll.del(c.fd)
		fdClose(c.fd)
		delete(s.fds, c.fd)
		return
	}
	_ = c.nc.Close()
}

// closeLink closes both of l's connections; dials in progress are given up.
func (s *linkSet) closeLink(l *link) {
	for _, c := range []*lconn{l.cmd.c, l.sub.c} {
		if c != nil {
			s.closeConn(c)
		}
	}
	l.cmd.c, l.sub.c = nil, nil
	l.cmd.dialing, l.sub.dialing = false, false
	l.cmd.gen++
	l.sub.gen++
	l.cmd.nreqs = 0
}

// linkHeap orders links by when they are next due.
type linkHeap []*link

func (h linkHeap) Len() int           { return len(h) }
func (h linkHeap) Less(i, j int) bool { return h[i].due.Before(h[j].due) }
func (h linkHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *linkHeap) Push(x any) {
	l := x.(*link)
	l.index = len(*h)
	*h = append(*h, l)
}
func (h *linkHeap) Pop() any {
	old := *h
	l := old[len(old)-1]
	old[len(old)-1] = nil
	l.index = -1
	*h = old[:len(old)-1]
	return l
}
