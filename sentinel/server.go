package sentinel

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/vigil-ha/vigil/internal/resp"
)

// clientConn is one client of the Sentinel-protocol port.
type clientConn struct {
	id      int64
	netConn net.Conn
	created time.Time

	mu      sync.Mutex // guards w, name and lastCmd: replies and Pub/Sub pushes share the writer
	w       *resp.Writer
	name    string
	lastCmd string

	sub *subscriber // non-nil once the client has subscribed to anything

	authed bool // passed AUTH or HELLO AUTH (see auth.go); guarded by mu
}

// serve accepts clients until ctx is cancelled.
func (n *Node) serve(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
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
		cc := &clientConn{id: n.clientID.Add(1), netConn: c, created: time.Now(), w: resp.NewWriter(c)}
		n.conns.Store(cc, struct{}{})
		wg.Go(func() {
			defer n.conns.Delete(cc)
			n.handleConn(ctx, cc)
		})
	}
}

// closeConns closes every client connection (at shutdown).
func (n *Node) closeConns() {
	n.conns.Range(func(k, _ any) bool {
		_ = k.(*clientConn).netConn.Close()
		return true
	})
}

// handleConn reads commands and answers them until the client leaves, sends
// malformed input, or the node stops.
func (n *Node) handleConn(ctx context.Context, c *clientConn) {
	defer c.netConn.Close()
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
	r := resp.NewReader(c.netConn)
	for {
		args, err := r.ReadCommand()
		if err != nil {
			if resp.IsProtocolError(err) {
				c.mu.Lock()
				c.w.Error("ERR " + err.Error())
				_ = c.w.Flush()
				c.mu.Unlock()
			} else if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && ctx.Err() == nil {
				n.log.Debug("client read failed", "client", c.id, "err", err)
			}
			return
		}
		if len(args) == 0 {
			continue
		}
		c.mu.Lock()
		c.lastCmd = strings.ToLower(string(args[0]))
		quit := n.dispatch(c, args)
		var flushErr error
		if r.Buffered() == 0 || quit {
			flushErr = c.w.Flush()
		}
		c.mu.Unlock()
		if quit || flushErr != nil {
			return
		}
		if c.sub != nil && !c.subPumping() {
			c.startPump(&pumpWG, ctx)
		}
	}
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
