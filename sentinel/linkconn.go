package sentinel

import (
	"context"
	"crypto/tls"
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

// dial connects (and, over TLS, completes the TLS handshake). What a new
// connection sends first is the link set's (linkSet.begin), whose replies
// it reads with every other reply.
func (d linkDialer) dial(ctx context.Context, deadline time.Time) (net.Conn, error) {
	nd := &net.Dialer{Deadline: deadline, KeepAlive: 15 * time.Second}
	if d.tls != nil {
		td := &tls.Dialer{NetDialer: nd, Config: d.tls}
		return td.DialContext(ctx, "tcp", d.addr)
	}
	return nd.DialContext(ctx, "tcp", d.addr)
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
