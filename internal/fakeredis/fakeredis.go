// Package fakeredis serves lightweight stand-ins for Redis masters: one TCP
// listener per fake master, answering what a Sentinel-like controller sends
// to a master that has no replicas. It exists so that benchmarks can put
// hundreds or thousands of monitored masters on one machine, where as many
// redis-server processes would measure the servers rather than the
// controller watching them.
//
// A fake master answers PING (+PONG, or the Pub/Sub form while subscribed),
// INFO (a "# Server" section with run_id, a "# Replication" section with
// role:master, connected_slaves:0 and a master_repl_offset that advances,
// an empty "# Keyspace"), ROLE, HELLO (an error, so clients fall back to
// RESP2), SUBSCRIBE / UNSUBSCRIBE / PUBLISH between the connections of the
// same fake master (Sentinel's and vigil's hello channels), and everything
// else (CLIENT SETNAME, CONFIG SET, ...) with +OK. It holds no data.
//
// A fake can be frozen (it keeps its connections and reads nothing, like a
// stopped process) and closed (its port refuses connections, like a dead
// one): tests use both to check that a controller notices.
package fakeredis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vigil-ha/vigil/internal/resp"
)

// offsetStep is how far master_repl_offset advances between two INFO
// replies, so that a controller sees a master that is being written to.
const offsetStep = 14

// Master is one fake Redis master listening on its own port.
type Master struct {
	ln    net.Listener
	runID string
	wg    sync.WaitGroup

	offset atomic.Int64
	frozen atomic.Bool
	thaw   chan struct{} // closed and replaced when the master is unfrozen

	mu     sync.Mutex
	conns  map[*conn]struct{}
	subs   map[string]map[*conn]struct{}
	closed bool
}

// conn is one client connection of a fake master.
type conn struct {
	nc net.Conn
	w  *resp.Writer
	wm sync.Mutex // guards w: replies and published messages interleave
	// channels is the set of channels the connection is subscribed to;
	// owned by the connection's goroutine (and read under m.mu).
	channels map[string]struct{}
}

// Start listens on addr ("127.0.0.1:0" picks a free port) and serves until
// ctx is cancelled or Close is called.
func Start(ctx context.Context, addr string) (*Master, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("fakeredis: %w", err)
	}
	id := make([]byte, 20)
	_, _ = rand.Read(id)
	m := &Master{
		ln:    ln,
		runID: hex.EncodeToString(id),
		conns: map[*conn]struct{}{},
		subs:  map[string]map[*conn]struct{}{},
		thaw:  make(chan struct{}),
	}
	stop := context.AfterFunc(ctx, m.shut)
	m.wg.Go(func() {
		defer stop()
		m.accept()
	})
	return m, nil
}

// Addr is the "host:port" the fake master listens on.
func (m *Master) Addr() string { return m.ln.Addr().String() }

// Port is the TCP port the fake master listens on.
func (m *Master) Port() int { return m.ln.Addr().(*net.TCPAddr).Port }

// RunID is the run_id the fake master reports in INFO.
func (m *Master) RunID() string { return m.runID }

// Freeze stops answering: connections stay open and new ones are accepted,
// but no command is read or answered until Unfreeze, as with a process
// stopped by SIGSTOP.
func (m *Master) Freeze() { m.frozen.Store(true) }

// Unfreeze resumes answering after Freeze.
func (m *Master) Unfreeze() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.frozen.Swap(false) {
		close(m.thaw)
		m.thaw = make(chan struct{})
	}
}

// Close stops listening, closes every connection and waits for the
// master's goroutines to end.
func (m *Master) Close() {
	m.shut()
	m.wg.Wait()
}

// shut closes the listener and every connection.
func (m *Master) shut() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return
	}
	m.closed = true
	_ = m.ln.Close()
	for c := range m.conns {
		_ = c.nc.Close()
	}
}

func (m *Master) accept() {
	for {
		nc, err := m.ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return
		}
		c := &conn{nc: nc, w: resp.NewWriter(nc)}
		m.mu.Lock()
		if m.closed {
			m.mu.Unlock()
			_ = nc.Close()
			return
		}
		m.conns[c] = struct{}{}
		m.mu.Unlock()
		m.wg.Go(func() { m.serve(c) })
	}
}

// waitThawed blocks while the master is frozen; it returns false if the
// master was closed meanwhile.
func (m *Master) waitThawed() bool {
	for m.frozen.Load() {
		m.mu.Lock()
		ch, closed := m.thaw, m.closed
		m.mu.Unlock()
		if closed {
			return false
		}
		if !m.frozen.Load() {
			break
		}
		select {
		case <-ch:
		case <-time.After(100 * time.Millisecond): // re-check closed
		}
	}
	return true
}

func (m *Master) serve(c *conn) {
	defer func() {
		m.mu.Lock()
		delete(m.conns, c)
		for ch := range c.channels {
			m.unsubscribeLocked(c, ch)
		}
		m.mu.Unlock()
		_ = c.nc.Close()
	}()
	r := resp.NewReader(c.nc)
	for {
		if !m.waitThawed() {
			return
		}
		args, err := r.ReadCommand()
		if err != nil {
			return
		}
		if !m.waitThawed() {
			return
		}
		// PUBLISH delivers before taking c's own reply lock, so that no
		// goroutine ever holds two connections' locks.
		published := -1
		if len(args) == 3 && strings.EqualFold(string(args[0]), "PUBLISH") {
			published = m.publish(string(args[1]), string(args[2]))
		}
		c.wm.Lock()
		m.handle(c, args, published)
		if r.Buffered() == 0 {
			err = c.w.Flush()
		}
		c.wm.Unlock()
		if err != nil {
			return
		}
	}
}

// handle answers one command; published is the result of a PUBLISH
// already delivered. Requires c.wm.
func (m *Master) handle(c *conn, args [][]byte, published int) {
	if len(args) == 0 {
		return
	}
	w := c.w
	switch strings.ToUpper(string(args[0])) {
	case "PING":
		if len(c.channels) > 0 {
			w.Array(2)
			w.Bulk("pong")
			if len(args) > 1 {
				w.BulkBytes(args[1])
			} else {
				w.Bulk("")
			}
			return
		}
		if len(args) > 1 {
			w.BulkBytes(args[1])
			return
		}
		w.Simple("PONG")
	case "INFO":
		w.Bulk(m.info())
	case "ROLE":
		w.Array(3)
		w.Bulk("master")
		w.Int(m.offset.Add(offsetStep))
		w.Array(0)
	case "HELLO":
		w.Error("ERR unknown command 'HELLO'")
	case "SUBSCRIBE":
		for _, ch := range args[1:] {
			name := string(ch)
			m.mu.Lock()
			if c.channels == nil {
				c.channels = map[string]struct{}{}
			}
			c.channels[name] = struct{}{}
			if m.subs[name] == nil {
				m.subs[name] = map[*conn]struct{}{}
			}
			m.subs[name][c] = struct{}{}
			n := len(c.channels)
			m.mu.Unlock()
			w.Array(3)
			w.Bulk("subscribe")
			w.Bulk(name)
			w.Int(int64(n))
		}
	case "UNSUBSCRIBE":
		m.mu.Lock()
		names := make([]string, 0, len(args))
		for _, ch := range args[1:] {
			names = append(names, string(ch))
		}
		if len(names) == 0 {
			for ch := range c.channels {
				names = append(names, ch)
			}
		}
		for _, ch := range names {
			m.unsubscribeLocked(c, ch)
		}
		n := len(c.channels)
		m.mu.Unlock()
		for _, ch := range names {
			w.Array(3)
			w.Bulk("unsubscribe")
			w.Bulk(ch)
			w.Int(int64(n))
		}
	case "PUBLISH":
		if len(args) != 3 {
			w.Error("ERR wrong number of arguments for 'publish' command")
			return
		}
		w.Int(int64(published))
	case "QUIT":
		w.Simple("OK")
		_ = w.Flush()
		_ = c.nc.Close()
	default:
		w.Simple("OK")
	}
}

// unsubscribeLocked removes c from channel ch. Requires m.mu.
func (m *Master) unsubscribeLocked(c *conn, ch string) {
	delete(c.channels, ch)
	if s := m.subs[ch]; s != nil {
		delete(s, c)
		if len(s) == 0 {
			delete(m.subs, ch)
		}
	}
}

// publish delivers msg to every subscriber of ch and returns how many
// there were. A subscriber that does not read within a second loses the
// message (its connection is then likely dead anyway).
func (m *Master) publish(ch, msg string) int {
	m.mu.Lock()
	targets := make([]*conn, 0, len(m.subs[ch]))
	for c := range m.subs[ch] {
		targets = append(targets, c)
	}
	m.mu.Unlock()
	for _, c := range targets {
		c.wm.Lock()
		c.w.Array(3)
		c.w.Bulk("message")
		c.w.Bulk(ch)
		c.w.Bulk(msg)
		_ = c.nc.SetWriteDeadline(time.Now().Add(time.Second))
		_ = c.w.Flush()
		_ = c.nc.SetWriteDeadline(time.Time{})
		c.wm.Unlock()
	}
	return len(targets)
}

// info renders the INFO reply.
func (m *Master) info() string {
	off := m.offset.Add(offsetStep)
	port := strconv.Itoa(m.Port())
	var b strings.Builder
	b.Grow(512)
	b.WriteString("# Server\r\nredis_version:7.0.15\r\nredis_mode:standalone\r\nprocess_id:1\r\nrun_id:")
	b.WriteString(m.runID)
	b.WriteString("\r\ntcp_port:")
	b.WriteString(port)
	b.WriteString("\r\n\r\n# Replication\r\nrole:master\r\nconnected_slaves:0\r\nmaster_failover_state:no-failover\r\nmaster_replid:")
	b.WriteString(m.runID)
	b.WriteString("\r\nmaster_replid2:0000000000000000000000000000000000000000\r\nmaster_repl_offset:")
	b.WriteString(strconv.FormatInt(off, 10))
	b.WriteString("\r\nsecond_repl_offset:-1\r\nrepl_backlog_active:0\r\nrepl_backlog_size:1048576\r\nrepl_backlog_first_byte_offset:0\r\nrepl_backlog_histlen:0\r\n\r\n# Keyspace\r\n")
	return b.String()
}

// Group is a set of fake masters started together.
type Group struct {
	Masters []*Master
}

// StartGroup starts n fake masters on free loopback ports.
func StartGroup(ctx context.Context, n int) (*Group, error) {
	g := &Group{}
	for range n {
		m, err := Start(ctx, "127.0.0.1:0")
		if err != nil {
			g.Close()
			return nil, err
		}
		g.Masters = append(g.Masters, m)
	}
	return g, nil
}

// Close closes every master of the group.
func (g *Group) Close() {
	for _, m := range g.Masters {
		m.shut()
	}
	for _, m := range g.Masters {
		m.Close()
	}
}
