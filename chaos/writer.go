package main

import (
	"context"
	"net"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// Client pool settings shared by every client the suite creates (see
// testbed.NewClient): a pool too large for go-redis's dial circuit breaker
// to trip, with few real connections.
const (
	noBreakerPoolSize = 1 << 17
	maxActiveConns    = 8
)

// router rewrites the addresses clients dial: the controllers may name a
// proxy in front of the master (scenarios 6 and 7), while the clients of
// the suite sit on the master's side of that proxy and reach the master
// directly. It also tells which address a connection really reached.
type router struct {
	route map[string]string // advertised address → real address
}

// resolve returns the real address behind addr.
func (r router) resolve(addr string) string {
	if real, ok := r.route[addr]; ok {
		return real
	}
	return addr
}

// failoverClient returns a go-redis FailoverClient for the master called
// name, discovered through ctrls, that fails fast (no retries, one dial
// attempt, timeout for dial, read and write) and dials through rt. onRead,
// if not nil, is told the real address of a server connection whenever a
// reply is read from it.
func failoverClient(name string, ctrls []string, timeout time.Duration, rt router, onRead func(addr string)) *redis.Client {
	isCtrl := map[string]bool{}
	for _, a := range ctrls {
		isCtrl[a] = true
	}
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		d := net.Dialer{Timeout: timeout}
		real := rt.resolve(addr)
		c, err := d.DialContext(ctx, network, real)
		if err != nil || isCtrl[addr] || onRead == nil {
			return c, err
		}
		return &trackingConn{Conn: c, addr: real, onRead: onRead}, nil
	}
	return redis.NewFailoverClient(&redis.FailoverOptions{
		MasterName:            name,
		SentinelAddrs:         ctrls,
		Dialer:                dial,
		Protocol:              2,
		DialTimeout:           timeout,
		ReadTimeout:           timeout,
		WriteTimeout:          timeout,
		ContextTimeoutEnabled: true,
		MaxRetries:            -1,
		DialerRetries:         1,
		PoolSize:              noBreakerPoolSize,
		MaxActiveConns:        maxActiveConns,
		PipelinePoolSize:      -1,
		DisableIdentity:       true,
	})
}

// plainClient is testbed.NewClient for one address.
func plainClient(addr string, timeout time.Duration) *redis.Client {
	return redis.NewClient(&redis.Options{
		Addr:                     addr,
		Protocol:                 2,
		DialTimeout:              timeout,
		ReadTimeout:              timeout,
		WriteTimeout:             timeout,
		ContextTimeoutEnabled:    true,
		MaxRetries:               -1,
		DialerRetries:            1,
		PoolSize:                 noBreakerPoolSize,
		MaxActiveConns:           maxActiveConns,
		PipelinePoolSize:         -1,
		DisableIdentity:          true,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	})
}

// trackingConn reports its address whenever data is read from it.
type trackingConn struct {
	net.Conn
	addr   string
	onRead func(string)
}

func (c *trackingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.onRead(c.addr)
	}
	return n, err
}
