package sentinel

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"time"
)

// The monitoring links speak RESP2 to Redis through the small client in
// this file, linkreply.go and linkset.go rather than go-redis: a node
// watching a thousand masters holds two thousand of these connections, and
// each go-redis client costs a pool, 64 KiB of buffers per connection and,
// for Pub/Sub, two goroutines. (Failover actions, which are rare, still use
// go-redis: actions.go.)

// linkDialer is how a link connects to its instance.
type linkDialer struct {
	addr       string
	tls        *tls.Config
	user, pass string
}

// dial connects, authenticates when a password is configured and names the
// connection (CLIENT SETNAME; an error there is ignored, as Sentinel does
// with renamed commands). An error reply to AUTH is returned as a
// replyError: the instance is alive but refuses us.
func (d linkDialer) dial(ctx context.Context, name string, deadline time.Time) (net.Conn, error) {
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
	// The handshake runs on deadlines; cancelling ctx expires them. (The
	// callback has its own copy of the connection: it may run while this
	// function returns.)
	conn := nc
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if err := handshake(nc, deadline, d.user, d.pass, name); err != nil {
		_ = nc.Close()
		return nil, err
	}
	return nc, nil
}

// handshake sends AUTH (with a password) and CLIENT SETNAME and reads
// their replies. Anything sent beyond them is a protocol error: the
// instance speaks before it is asked.
func handshake(nc net.Conn, deadline time.Time, user, pass, name string) error {
	req, count := appendHandshake(nil, user, pass, name)
	if err := nc.SetDeadline(deadline); err != nil {
		return err
	}
	if _, err := nc.Write(req); err != nil {
		return err
	}
	buf := make([]byte, 0, 256)
	for i := 0; i < count; {
		var r reply
		n, _, err := parseReply(buf, &r)
		if errors.Is(err, errIncomplete) {
			if len(buf) == cap(buf) {
				buf = append(buf, 0)[:len(buf)]
			}
			k, rerr := nc.Read(buf[len(buf):cap(buf)])
			buf = buf[:len(buf)+k]
			if rerr != nil && k == 0 {
				return rerr
			}
			continue
		}
		if err != nil {
			return err
		}
		// An error reply to CLIENT SETNAME (renamed or refused) is harmless.
		if rerr := r.err(); rerr != nil && i < count-1 {
			return rerr
		}
		buf = buf[n:]
		i++
	}
	if len(buf) > 0 {
		return errProtocol
	}
	return nc.SetDeadline(time.Time{})
}

// appendHandshake appends to b what a new connection sends first: AUTH
// when a password is configured, then CLIENT SETNAME; count is how many
// replies that makes.
func appendHandshake(b []byte, user, pass, name string) (_ []byte, count int) {
	if pass != "" {
		if user != "" {
			b = appendCommand(b, "AUTH", user, pass)
		} else {
			b = appendCommand(b, "AUTH", pass)
		}
		count++
	}
	return appendCommand(b, "CLIENT", "SETNAME", name), count + 1
}
