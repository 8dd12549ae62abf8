package testbed

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// noBreakerPoolSize is the PoolSize of every client the testbed creates.
// go-redis counts failed dials over a pool's whole life and, once they
// reach PoolSize, stops dialling and retries only once a second: that would
// add up to a second of client-side delay to every measurement after a
// server died. A pool this large never trips within a run, while
// maxActiveConns keeps the real number of connections small.
const (
	noBreakerPoolSize = 1 << 17
	maxActiveConns    = 8
)

// NewClient returns a go-redis client for one Redis or controller address
// that fails fast instead of hiding faults: RESP2, timeout for dial, read
// and write, no command retries, one dial attempt, no dial circuit breaker
// (see noBreakerPoolSize), and none of the connection-time extras (CLIENT
// SETINFO, maintenance notifications) that Redis 7.0 and Sentinel-protocol
// servers do not know.
func NewClient(addr string, timeout time.Duration) *redis.Client {
	return NewClientFrom(addr, "", timeout)
}

// NewClientFrom is [NewClient] dialling from the local address source
// ("" for the kernel's choice): observers of a [Partition] use its
// observer address so that the cut spares them.
func NewClientFrom(addr, source string, timeout time.Duration) *redis.Client {
	var dialer func(ctx context.Context, network, addr string) (net.Conn, error)
	if source != "" {
		d := &net.Dialer{Timeout: timeout, LocalAddr: &net.TCPAddr{IP: net.ParseIP(source)}}
		dialer = d.DialContext
	}
	return redis.NewClient(&redis.Options{
		Dialer:                   dialer,
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

// NewFailoverClient returns a go-redis FailoverClient for the master called
// name, discovered through the controllers ctrls, that fails fast like
// [NewClient] (RESP2, timeout for dial, read and write, no retries, one
// dial attempt, no dial circuit breaker). route, if not nil, maps an
// address the client is about to dial (one the controllers advertised) to
// the address really dialled. onRead, if not nil, is given the address
// really dialled of a Redis server (not controller) connection whenever a
// reply is read from it: issued one at a time, a command's reply comes
// from the last address given.
func NewFailoverClient(name string, ctrls []string, timeout time.Duration, route func(string) string, onRead func(addr *string)) *redis.Client {
	isCtrl := make(map[string]bool, len(ctrls))
	for _, a := range ctrls {
		isCtrl[a] = true
	}
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		d := net.Dialer{Timeout: timeout}
		real := addr
		if route != nil {
			real = route(addr)
		}
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

// trackingConn gives its address to onRead whenever data is read from it.
type trackingConn struct {
	net.Conn
	addr   string
	onRead func(*string)
}

func (c *trackingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.onRead(&c.addr)
	}
	return n, err
}

// flatMap turns a flat [k1, v1, k2, v2...] reply (Sentinel's maps in RESP2)
// or a RESP3 map into a map of strings.
func flatMap(reply any) (map[string]string, error) {
	m := map[string]string{}
	switch r := reply.(type) {
	case []any:
		if len(r)%2 != 0 {
			return nil, fmt.Errorf("odd-length field list (%d)", len(r))
		}
		for i := 0; i < len(r); i += 2 {
			m[fmt.Sprint(r[i])] = fmt.Sprint(r[i+1])
		}
	case map[any]any:
		for k, v := range r {
			m[fmt.Sprint(k)] = fmt.Sprint(v)
		}
	default:
		return nil, fmt.Errorf("unexpected reply type %T", reply)
	}
	return m, nil
}
