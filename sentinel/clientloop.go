package sentinel

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vigil-ha/vigil/internal/resp"
)

// clientLoop serves the plain TCP clients of the Sentinel-protocol port
// from one goroutine, as redis-server and Sentinel serve theirs: every
// client socket is non-blocking and registered in one epoll instance, and
// the loop reads what is ready, answers each complete command and writes
// the replies. A discovery request then costs one read and one write and no
// goroutine wake-up, where a goroutine per client paid the scheduler a park
// and a wake per request (docs/performance.md, discovery throughput).
//
// Only commands that answer from memory at once run in the loop
// (servedInLoop). Before a client runs anything else (SUBSCRIBE, whose
// events are pushed from another goroutine; FAILOVER, SWITCHOVER and the
// other commands that write state to disk or wait for instances) its
// socket is handed to a goroutine of its own (handleConn) for the rest of
// its life, with what it had sent but was not yet answered. TLS clients
// always have their goroutine.
type clientLoop struct {
	n    *Node
	ctx  context.Context
	poll *poller

	inbox mailbox[loopMsg] // closed when the loop stops: adopt refuses
	wg    sync.WaitGroup   // the goroutines of handed-off clients

	// Owned by the loop goroutine.
	conns   map[int]*loopConn
	ready   []int
	replied []*loopConn // clients with replies to write after this pass
}

// loopConn is a client served by the loop.
type loopConn struct {
	c   *clientConn
	fd  int
	r   *resp.Reader
	in  loopSource
	out loopSink

	queued bool // in clientLoop.replied

	// killed is set by Close (CLIENT KILL, shutdown) under c.mu, so a
	// handoff that takes c.mu after it sees it.
	killed atomic.Bool
}

// loopMsg is news for the loop: a client to serve, or one to drop.
type loopMsg struct {
	lc   *loopConn
	kill bool
}

// newClientLoop returns the loop for n's clients, or nil where there is no
// poller (not Linux) or the node's serveGoroutines knob is set.
func (n *Node) newClientLoop(ctx context.Context) *clientLoop {
	if n.serveGoroutines {
		return nil
	}
	p, err := newPoller(clientBlockFirst)
	if err != nil {
		return nil
	}
	return &clientLoop{n: n, ctx: ctx, poll: p, conns: map[int]*loopConn{}}
}

// adopt takes c into the loop if its connection is plain TCP, and then
// owns it (and its place in n.conns). It reports false, with c untouched,
// for any other connection.
func (l *clientLoop) adopt(c *clientConn) bool {
	nc, ok := c.netConn.(*net.TCPConn)
	if !ok {
		return false
	}
	remote, local := nc.RemoteAddr(), nc.LocalAddr()
	fd, err := detach(nc)
	if err != nil {
		// detach closes nc only once it has a duplicate: on failure the
		// goroutine path still has a working connection.
		l.n.log.Debug("client stays off the client loop", "client", c.id, "err", err)
		return false
	}
	lc := &loopConn{c: c, fd: fd}
	lc.in.fd, lc.out.fd = fd, fd
	lc.r = resp.NewReader(&lc.in)
	c.netConn = &loopSock{l: l, lc: lc, remote: remote, local: local}
	c.w = resp.NewWriter(&lc.out)
	c.looped = true
	l.n.conns.Store(c, struct{}{})
	if !l.post(loopMsg{lc: lc}) {
		l.n.conns.Delete(c)
		fdClose(fd)
	}
	return true
}

// post hands m to the loop and wakes it; false once the loop has stopped.
func (l *clientLoop) post(m loopMsg) bool {
	first, ok := l.inbox.put(m)
	if first {
		l.poll.wake()
	}
	return ok
}

// run serves the loop's clients until the node stops.
func (l *clientLoop) run() {
	defer l.shutdown()
	stop := context.AfterFunc(l.ctx, l.poll.wake)
	defer stop()
	busy := false
	for {
		l.drain()
		if l.ctx.Err() != nil {
			return
		}
		// After a pass that served clients more are likely ready: look
		// without blocking first (see poller.wait).
		var ready []int
		var err error
		if busy {
			ready, err = l.poll.wait(0, l.ready[:0])
		}
		if len(ready) == 0 && err == nil {
			ready, err = l.poll.wait(-1, l.ready[:0])
		}
		l.ready = ready
		busy = len(ready) > 0
		if err != nil {
			l.n.log.Error("client loop: epoll_wait failed", "err", err)
			select {
			case <-l.ctx.Done():
			case <-time.After(10 * time.Millisecond):
			}
			continue
		}
		// One clock reading per pass, as redis-server caches its time per
		// event-loop iteration: it stamps the commands for CLIENT LIST.
		now := time.Now()
		for _, fd := range ready {
			if lc := l.conns[fd]; lc != nil {
				l.serveReady(lc, now)
			}
		}
		for i, lc := range l.replied {
			lc.queued = false
			if l.conns[lc.fd] == lc && l.flush(lc) != nil {
				l.drop(lc)
			}
			l.replied[i] = nil
		}
		l.replied = l.replied[:0]
	}
}

// drain takes in new clients and drops killed ones.
func (l *clientLoop) drain() {
	msgs := l.inbox.take()
	for _, m := range msgs {
		switch {
		case m.kill:
			if l.conns[m.lc.fd] == m.lc {
				l.drop(m.lc)
			}
		default:
			if err := l.poll.add(m.lc.fd); err != nil {
				l.n.log.Warn("client loop: cannot watch a client", "client", m.lc.c.id, "err", err)
				l.n.conns.Delete(m.lc.c)
				fdClose(m.lc.fd)
				break
			}
			l.conns[m.lc.fd] = m.lc
		}
	}
	l.inbox.done(msgs)
}

// shutdown drops every client still in the loop, refuses new ones and
// waits for the goroutines of those handed off (ctx closes their
// connections).
func (l *clientLoop) shutdown() {
	for _, m := range l.inbox.close() {
		if !m.kill {
			l.n.conns.Delete(m.lc.c)
			fdClose(m.lc.fd)
		}
	}
	for _, lc := range l.conns {
		l.drop(lc)
	}
	l.poll.close()
	l.wg.Wait()
}

// drop closes a client's socket and forgets it.
func (l *clientLoop) drop(lc *loopConn) {
	l.poll.del(lc.fd)
	fdClose(lc.fd)
	delete(l.conns, lc.fd)
	l.n.conns.Delete(lc.c)
}

// serveReady serves a client whose socket is ready: replies waiting for
// room are written, or else what it sent is read and answered.
func (l *clientLoop) serveReady(lc *loopConn, now time.Time) {
	if len(lc.out.pending) > 0 {
		if err := lc.out.drain(); err != nil {
			l.drop(lc)
			return
		}
		if len(lc.out.pending) > 0 {
			return
		}
		if err := l.poll.watchRead(lc.fd); err != nil {
			l.drop(lc)
			return
		}
		// Answer what was read while the replies waited before reading
		// more; the socket stays ready if there is more.
	} else {
		lc.in.armed = true
	}
	l.process(lc, now)
}

// process answers the complete commands lc has sent. A client whose
// replies the socket does not take is not read from until it does, as a
// goroutine blocked in its write would not.
func (l *clientLoop) process(lc *loopConn, now time.Time) {
	c := lc.c
	for {
		args, err := lc.r.ReadCommand()
		switch {
		case err == errAgain:
			// Replies go out once every ready client is served, as
			// redis-server writes them before it waits again: the
			// client side then wakes once for many of them.
			if !lc.queued {
				lc.queued = true
				l.replied = append(l.replied, lc)
			}
			return
		case err != nil:
			switch {
			case resp.IsProtocolError(err):
				l.n.protocolError(c, err)
			case errors.Is(err, io.EOF):
				// A client that sent its commands and shut its side
				// still gets the replies, as on the goroutine path.
				_ = l.flush(lc)
			case l.ctx.Err() == nil:
				l.n.log.Debug("client read failed", "client", c.id, "err", err)
			}
			l.drop(lc)
			return
		case len(args) == 0:
			continue
		case !sameArgs(c.lastArgs, args) && !servedInLoop(args):
			// (A command the client repeats was served here before. Only
			// the loop writes lastArgs while it serves the client.)
			l.handoff(lc, args)
			return
		}
		quit, err := l.n.answer(c, args, false, now)
		if quit || err != nil {
			l.drop(lc) // answer flushed the reply to QUIT
			return
		}
		if len(lc.out.pending) > 0 {
			// A large reply filled the socket while it was written.
			if l.flush(lc) != nil {
				l.drop(lc)
			}
			return
		}
	}
}

// flush writes lc's replies; those the socket does not take wait for it
// to become writable. The client is to be dropped on an error.
func (l *clientLoop) flush(lc *loopConn) error {
	lc.c.mu.Lock()
	err := lc.c.w.Flush()
	lc.c.mu.Unlock()
	if err == nil && len(lc.out.pending) > 0 {
		err = l.poll.watchWrite(lc.fd)
	}
	return err
}

// handoff gives lc to a goroutine of its own, which answers first (a
// command already read) and then everything else the client sends.
func (l *clientLoop) handoff(lc *loopConn, first [][]byte) {
	c := lc.c
	l.poll.del(lc.fd)
	delete(l.conns, lc.fd)
	// The arguments point into the reader's buffer, which the goroutine
	// goes on reading into.
	cmd := make([][]byte, len(first))
	for i, a := range first {
		cmd[i] = append([]byte(nil), a...)
	}
	f := os.NewFile(uintptr(lc.fd), "client")
	nc, err := net.FileConn(f) // a duplicate in Go's network poller
	_ = f.Close()
	if err != nil {
		l.n.log.Warn("client loop: cannot hand a client to a goroutine", "client", c.id, "err", err)
		l.n.conns.Delete(c)
		return
	}
	// Replies not yet flushed stay in the writer and go out on nc; none
	// wait in lc.out, since a client is read (and so handed off) only
	// while its socket takes every reply.
	c.mu.Lock()
	c.netConn = nc
	lc.r.SetSource(nc)
	c.w.SetOutput(nc)
	killed := lc.killed.Load()
	c.mu.Unlock()
	l.wg.Go(func() {
		defer l.n.conns.Delete(c)
		if killed {
			_ = nc.Close()
			return
		}
		l.n.handleConn(l.ctx, c, lc.r, cmd)
	})
}

// loopSource reads a client's socket for its resp.Reader: once per
// readiness (armed), and again only while a read fills the buffer, so that
// a read that would block is rarely made; the reader parses what it has
// and gets errAgain when it needs more.
type loopSource struct {
	fd    int
	armed bool
}

func (s *loopSource) Read(p []byte) (int, error) {
	if !s.armed {
		return 0, errAgain
	}
	n, err := fdRead(s.fd, p)
	s.armed = err == nil && n == len(p)
	if err == nil && n == 0 {
		return 0, io.EOF
	}
	return n, err
}

// loopSink writes a client's replies for its resp.Writer. What the socket
// does not take at once is kept, in order, until it becomes writable.
type loopSink struct {
	fd      int
	pending []byte
}

func (s *loopSink) Write(p []byte) (int, error) {
	if len(s.pending) > 0 {
		s.pending = append(s.pending, p...)
		return len(p), nil
	}
	n, err := fdWriteSome(s.fd, p)
	if err != nil && err != errAgain {
		return n, err
	}
	if n < len(p) {
		s.pending = append(s.pending, p[n:]...)
	}
	return len(p), nil
}

// drain writes what the socket takes of the pending replies.
func (s *loopSink) drain() error {
	n, err := fdWriteSome(s.fd, s.pending)
	if err != nil && err != errAgain {
		return err
	}
	rest := copy(s.pending, s.pending[n:])
	s.pending = s.pending[:rest]
	if rest == 0 && cap(s.pending) > 64<<10 {
		s.pending = nil
	}
	return nil
}

// loopSock stands for a loop client's socket as its clientConn.netConn:
// addresses for CLIENT LIST, and Close (CLIENT KILL, shutdown), which asks
// the loop to drop the client. It carries no data.
type loopSock struct {
	l             *clientLoop
	lc            *loopConn
	remote, local net.Addr
}

var errLoopSock = errors.New("a client-loop socket is read and written by the loop")

func (s *loopSock) Read([]byte) (int, error)         { return 0, errLoopSock }
func (s *loopSock) Write([]byte) (int, error)        { return 0, errLoopSock }
func (s *loopSock) LocalAddr() net.Addr              { return s.local }
func (s *loopSock) RemoteAddr() net.Addr             { return s.remote }
func (s *loopSock) SetDeadline(time.Time) error      { return nil }
func (s *loopSock) SetReadDeadline(time.Time) error  { return nil }
func (s *loopSock) SetWriteDeadline(time.Time) error { return nil }

// Close drops the client; the loop closes the socket.
func (s *loopSock) Close() error {
	s.lc.killed.Store(true)
	s.l.post(loopMsg{lc: s.lc, kill: true})
	return nil
}

// servedInLoop reports whether a command is answered from memory at once
// and so may run in the client loop. Anything not known to be is handed
// off: a new command blocks nobody for being unlisted.
func servedInLoop(args [][]byte) bool {
	var buf [32]byte
	switch string(lowerKey(buf[:0], args[0])) {
	case "ping", "info", "role", "hello", "auth", "client", "command", "quit", "reset":
		return true
	case "sentinel":
		if len(args) < 2 {
			return true // an arity error
		}
		switch string(lowerKey(buf[:0], args[1])) {
		case "get-master-addr-by-name", "masters", "master", "replicas", "slaves",
			"sentinels", "myid", "ckquorum", "help", "info-cache", "explain",
			"history", "pending-scripts":
			return true
		}
		return false
	case "subscribe", "psubscribe", "unsubscribe", "punsubscribe", "shutdown", "acl":
		return false
	}
	return true // unknown: answered with an error
}
