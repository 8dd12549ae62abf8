package sentinel

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"
)

// The monitoring links speak RESP2 to Redis through this small client
// rather than go-redis: a node watching a thousand masters holds two
// thousand of these connections, and each go-redis client costs a pool,
// 64 KiB of buffers per connection and, for Pub/Sub, two goroutines. A
// linkConn is a socket, a small read buffer and a reused write buffer; the
// link's one goroutine drives both of its connections with deadlines.
// (Failover actions, which are rare, still use go-redis: actions.go.)

// Limits on what an instance may send back, so that a misbehaving server
// costs bounded memory.
const (
	linkReadBuffer = 256      // replies to PING and PUBLISH, hellos; INFO bypasses it
	maxReplyBulk   = 64 << 20 // an INFO reply is a few KiB
	maxReplyArray  = 1024
	maxReplyDepth  = 4
)

// replyError is an error reply of the instance (-ERR ..., -LOADING ...):
// proof that it is alive and answering, unlike a network error.
type replyError string

func (e replyError) Error() string { return string(e) }

// errProtocol is a reply that is not valid RESP2.
var errProtocol = errors.New("protocol error in reply")

// linkDialer is how a link connects to its instance.
type linkDialer struct {
	addr       string
	tls        *tls.Config
	user, pass string
}

// linkConn is one RESP2 connection to an instance.
type linkConn struct {
	nc   net.Conn
	br   *bufio.Reader
	wbuf []byte
	line []byte // a reply line longer than the read buffer is assembled here
	// started is set once read has consumed any byte of the reply: a
	// timeout after that leaves the stream out of step.
	started bool
}

// dial connects, authenticates when a password is configured and names the
// connection (CLIENT SETNAME; an error there is ignored, as Sentinel does
// with renamed commands). An error reply to AUTH is returned as a
// replyError: the instance is alive but refuses us.
func (d linkDialer) dial(ctx context.Context, name string, deadline time.Time) (*linkConn, error) {
	nd := &net.Dialer{Deadline: deadline, KeepAlive: 15 * time.Second}
	var (
		nc  net.Conn
		err error
	)
	if d.tls != nil {
		td := &tls.Dialer{NetDialer: nd, Config: d.tls}
		nc, err = td.DialContext(ctx, "tcp", d.addr)
	} else {
		nc, err = nd.DialContext(ctx, "tcp", d.addr)
	}
	if err != nil {
		return nil, err
	}
	c := &linkConn{nc: nc, br: bufio.NewReaderSize(nc, linkReadBuffer)}
	if err := nc.SetReadDeadline(deadline); err != nil {
		c.close()
		return nil, err
	}
	n := 1
	if d.pass != "" {
		if d.user != "" {
			c.append("AUTH", d.user, d.pass)
		} else {
			c.append("AUTH", d.pass)
		}
		n++
	}
	c.append("CLIENT", "SETNAME", name)
	if err := c.flush(deadline); err != nil {
		c.close()
		return nil, err
	}
	for i := range n {
		_, err := c.read()
		var rerr replyError
		if errors.As(err, &rerr) && i == n-1 {
			err = nil // CLIENT SETNAME refused: harmless
		}
		if err != nil {
			c.close()
			return nil, err
		}
	}
	return c, nil
}

// dialAside runs dial on a goroutine of its own and waits for it. A dial
// (resolver, TLS handshake) needs a deep stack, and the link's goroutine,
// which lives as long as the node, would otherwise keep that stack: with a
// thousand links, kilobytes each.
func (d linkDialer) dialAside(ctx context.Context, name string, deadline time.Time) (*linkConn, error) {
	type result struct {
		c   *linkConn
		err error
	}
	done := make(chan result, 1)
	go func() {
		c, err := d.dial(ctx, name, deadline)
		done <- result{c, err}
	}()
	r := <-done
	return r.c, r.err
}

func (c *linkConn) close() { _ = c.nc.Close() }

// append adds a command to the write buffer.
func (c *linkConn) append(args ...string) {
	b := append(c.wbuf, '*')
	b = strconv.AppendInt(b, int64(len(args)), 10)
	b = append(b, '\r', '\n')
	for _, a := range args {
		b = append(b, '$')
		b = strconv.AppendInt(b, int64(len(a)), 10)
		b = append(b, '\r', '\n')
		b = append(b, a...)
		b = append(b, '\r', '\n')
	}
	c.wbuf = b
}

// flush writes the buffered commands before deadline.
func (c *linkConn) flush(deadline time.Time) error {
	if err := c.nc.SetWriteDeadline(deadline); err != nil {
		return err
	}
	_, err := c.nc.Write(c.wbuf)
	if cap(c.wbuf) > 4096 {
		c.wbuf = nil
	} else {
		c.wbuf = c.wbuf[:0]
	}
	return err
}

// do sends one command and reads its reply before deadline.
func (c *linkConn) do(deadline time.Time, args ...string) (any, error) {
	c.append(args...)
	if err := c.flush(deadline); err != nil {
		return nil, err
	}
	if err := c.nc.SetReadDeadline(deadline); err != nil {
		return nil, err
	}
	return c.read()
}

// read reads one reply: a string (simple or bulk), an int64, nil, a []any
// or, as the error, a replyError.
func (c *linkConn) read() (any, error) {
	c.started = false
	return c.readDepth(0)
}

func (c *linkConn) readDepth(depth int) (any, error) {
	line, err := c.readLine()
	if err != nil {
		return nil, err
	}
	if len(line) == 0 {
		return nil, errProtocol
	}
	body := line[1:]
	switch line[0] {
	case '+':
		return string(body), nil
	case '-':
		return nil, replyError(body)
	case ':':
		n, err := strconv.ParseInt(string(body), 10, 64)
		if err != nil {
			return nil, errProtocol
		}
		return n, nil
	case '$':
		n, err := strconv.Atoi(string(body))
		switch {
		case err != nil || n < -1 || n > maxReplyBulk:
			return nil, errProtocol
		case n == -1:
			return nil, nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(c.br, buf); err != nil {
			return nil, err
		}
		if buf[n] != '\r' || buf[n+1] != '\n' {
			return nil, errProtocol
		}
		return string(buf[:n]), nil
	case '*':
		n, err := strconv.Atoi(string(body))
		switch {
		case err != nil || n < -1 || n > maxReplyArray || depth >= maxReplyDepth:
			return nil, errProtocol
		case n == -1:
			return nil, nil
		}
		out := make([]any, n)
		for i := range out {
			v, err := c.readDepth(depth + 1)
			var rerr replyError
			if err != nil && !errors.As(err, &rerr) {
				return nil, err
			}
			if err != nil {
				v = rerr
			}
			out[i] = v
		}
		return out, nil
	}
	return nil, fmt.Errorf("%w: type byte %q", errProtocol, line[0])
}

// readLine returns the next line without its CRLF, valid until the next
// read.
func (c *linkConn) readLine() ([]byte, error) {
	b, err := c.br.ReadSlice('\n')
	if len(b) > 0 {
		c.started = true
	}
	if errors.Is(err, bufio.ErrBufferFull) {
		c.line = append(c.line[:0], b...)
		for errors.Is(err, bufio.ErrBufferFull) {
			if len(c.line) > maxReplyBulk {
				return nil, errProtocol
			}
			b, err = c.br.ReadSlice('\n')
			c.line = append(c.line, b...)
		}
		b = c.line
		if cap(c.line) > 4096 {
			c.line = nil
		}
	}
	if err != nil {
		return nil, err
	}
	if len(b) < 2 || b[len(b)-2] != '\r' {
		return nil, errProtocol
	}
	return b[:len(b)-2], nil
}
