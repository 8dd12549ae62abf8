package sentinel

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/vigil-ha/vigil/internal/resp"
)

// clientConn is one client of the Sentinel-protocol port.
type clientConn struct {
	id      int64
	netConn net.Conn
	created time.Time

	mu      sync.Mutex // guards w, name, lastCmd and lastArgs: replies and Pub/Sub pushes share the writer
	w       *resp.Writer
	name    string
	lastCmd string

	// lastArgs is the previous command's arguments as strings, reused when
	// the client repeats it (see commandArgs).
	lastArgs []string
	// last is what dispatch found for lastArgs, so that a client repeating
	// a command (discovery polls, health checks) skips the lookups.
	last resolved

	sub *subscriber // non-nil once the client has subscribed to anything

	// looped is set, before the client is listed in Node.conns, for a
	// client the client loop serves; netConn then changes (under mu) if
	// the loop hands it to a goroutine.
	looped bool

	authed bool // passed AUTH or HELLO AUTH (see auth.go); guarded by mu

	meta clientMeta // what CLIENT LIST shows and CLIENT KILL filters on (client_cmd.go); guarded by mu
}

// serve accepts clients until ctx is cancelled. On Linux plain TCP clients
// are served by the client loop (clientloop.go); TLS clients, and any
// client once it subscribes or runs a command that may wait, have a
// goroutine each.
func (n *Node) serve(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	loop := n.newClientLoop(ctx)
	if loop != nil {
		wg.Go(loop.run)
	}
	for {
		c, err := n.ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			n.log.Warn("accept failed", "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(50 * time.Millisecond):
			}
			continue
		}
		cc := &clientConn{id: n.clientID.Add(1), netConn: c, created: time.Now()}
		if loop != nil && loop.adopt(cc) {
			continue
		}
		cc.w = resp.NewWriter(c)
		n.conns.Store(cc, struct{}{})
		wg.Go(func() {
			defer n.conns.Delete(cc)
			n.handleConn(ctx, cc, resp.NewReader(c), nil)
		})
	}
}

// closeConns closes every client connection (at shutdown) but those of the
// client loop, which closes its own, and whose netConn changes when one is
// handed to a goroutine.
func (n *Node) closeConns() {
	n.conns.Range(func(k, _ any) bool {
		if c := k.(*clientConn); !c.looped {
			_ = c.netConn.Close()
		}
		return true
	})
}

// handleConn reads commands from r and answers them until the client
// leaves, sends malformed input, or the node stops. first, when not nil, is
// a command already read, answered before anything else.
func (n *Node) handleConn(ctx context.Context, c *clientConn, r *resp.Reader, first [][]byte) {
	defer func() { _ = c.netConn.Close() }() // the client is gone or being dropped
	// A connection accepted while the node stops may miss closeConns:
	// close it when ctx ends, so that its read returns and Run can finish.
	stop := context.AfterFunc(ctx, func() { _ = c.netConn.Close() })
	defer stop()
	var pumpWG sync.WaitGroup
	defer pumpWG.Wait()
	defer func() {
		if c.sub != nil {
			n.bus.unsubscribe(c.sub)
		}
	}()
	for {
		args := first
		first = nil
		if args == nil {
			var err error
			if args, err = r.ReadCommand(); err != nil {
				if resp.IsProtocolError(err) {
					n.protocolError(c, err)
				} else if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && ctx.Err() == nil {
					n.log.Debug("client read failed", "client", c.id, "err", err)
				}
				return
			}
		}
		if len(args) == 0 {
			continue
		}
		quit, err := n.answer(c, args, r.Buffered() == 0, time.Now())
		if quit || err != nil {
			return
		}
		if c.sub != nil && !c.subPumping() {
			c.startPump(&pumpWG, ctx)
		}
	}
}

// answer answers one command received at now, flushing the replies when
// flush is set or the client is to be dropped (quit).
func (n *Node) answer(c *clientConn, args [][]byte, flush bool, now time.Time) (quit bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	quit = n.dispatch(c, args, now)
	if flush || quit {
		err = c.w.Flush()
	}
	return quit, err
}

// protocolError answers malformed input as redis-server does, before the
// connection is closed.
func (n *Node) protocolError(c *clientConn, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.w.Error("ERR " + err.Error())
	_ = c.w.Flush()
}

// subPumping and startPump run one goroutine per subscribed client that
// writes events as they arrive. It stops when the client goes away or the
// bus drops it for being too slow (then the connection is closed, like
// redis-server's Pub/Sub output-buffer limit).
func (c *clientConn) subPumping() bool { return c.sub.pumping }

func (c *clientConn) startPump(wg *sync.WaitGroup, ctx context.Context) {
	s := c.sub
	s.pumping = true
	wg.Go(func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-s.dropped:
				_ = c.netConn.Close()
				return
			case ev := <-s.ch:
				c.mu.Lock()
				c.writeMessage(ev)
				for more := true; more; {
					select {
					case ev := <-s.ch:
						c.writeMessage(ev)
					default:
						more = false
					}
				}
				err := c.w.Flush()
				c.mu.Unlock()
				if err != nil {
					_ = c.netConn.Close()
					return
				}
			}
		}
	})
}

// writeMessage writes one Pub/Sub message: "message" for a channel
// subscription, "pmessage" for each matching pattern. Requires c.mu.
func (c *clientConn) writeMessage(ev Event) {
	if _, ok := c.sub.channels[ev.Type]; ok {
		c.w.Push(3)
		c.w.Bulk("message")
		c.w.Bulk(ev.Type)
		c.w.Bulk(ev.Payload)
	}
	for p := range c.sub.patterns {
		if globMatch(p, ev.Type) {
			c.w.Push(4)
			c.w.Bulk("pmessage")
			c.w.Bulk(p)
			c.w.Bulk(ev.Type)
			c.w.Bulk(ev.Payload)
		}
	}
}

// maxCachedArgs bounds the bytes of arguments a connection keeps for reuse
// and shares in one allocation.
const maxCachedArgs = 512

// commandArgs returns raw as strings, and whether they are the previous
// command's again. Clients repeat the same few commands (discovery polls
// GET-MASTER-ADDR-BY-NAME, health checks PING), so the previous command's
// strings are reused when the bytes are the same; a
// different small command costs one allocation for all its strings and one
// for the slice. A large command gets a string per argument, so that a
// handler keeping one argument does not keep the whole command. Handlers may
// keep the strings and the slice but must not modify the slice. Requires
// c.mu.
func (c *clientConn) commandArgs(raw [][]byte) (args []string, repeat bool) {
	if sameArgs(c.lastArgs, raw) {
		return c.lastArgs, true
	}
	total := 0
	for _, a := range raw {
		total += len(a)
	}
	args = make([]string, len(raw))
	if total > maxCachedArgs {
		for i, a := range raw {
			args[i] = string(a)
		}
		c.lastArgs = nil
		return args, false
	}
	var b strings.Builder
	b.Grow(total)
	for _, a := range raw {
		b.Write(a)
	}
	all := b.String()
	off := 0
	for i, a := range raw {
		args[i] = all[off : off+len(a)]
		off += len(a)
	}
	c.lastArgs = args
	return args, false
}

func sameArgs(args []string, raw [][]byte) bool {
	if len(args) != len(raw) {
		return false
	}
	for i, a := range raw {
		if string(a) != args[i] {
			return false
		}
	}
	return true
}

// lowerCached returns name in lower case, as strings.ToLower does, reusing
// prev when it already is that (the same command again) so that a repeated
// command costs no allocation.
func lowerCached(prev string, name []byte) string {
	if len(prev) == len(name) {
		same := true
		for i, c := range name {
			if c >= utf8.RuneSelf || lowerASCII(c) != prev[i] {
				same = false
				break
			}
		}
		if same {
			return prev
		}
	}
	return strings.ToLower(string(name))
}

// lowerASCII lower-cases an ASCII letter and returns any other byte as is.
func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// lowerKey writes s lower-cased (ASCII) into buf for a map lookup or a
// switch that does not allocate: m[string(lowerKey(buf[:0], s))]. A key
// longer than buf is not truncated but spills to the heap.
func lowerKey[S ~string | ~[]byte](buf []byte, s S) []byte {
	for i := 0; i < len(s); i++ {
		buf = append(buf, lowerASCII(s[i]))
	}
	return buf
}
