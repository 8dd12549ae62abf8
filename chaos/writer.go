package main

import (
	"context"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/vigil-ha/vigil/internal/testbed"
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

// writer writes through discovery at a steady rate, like testbed.Writer,
// but dials through a router: SET keyPrefix+seq = seq, one at a time, each
// attempt recorded with the real address of the server that acknowledged
// it. Distinct keys with unique values make "acknowledged but lost"
// checkable with testbed.LostWrites.
type writer struct {
	client   *redis.Client
	prefix   string
	interval time.Duration
	last     atomic.Pointer[string]
	acked    atomic.Int64
	cancel   context.CancelFunc
	done     chan struct{}

	mu     sync.Mutex
	writes []testbed.Write
	latest map[string]testbed.Write // the last acknowledged write per server
}

// startWriter starts writing in the background until stop or ctx ends.
func startWriter(ctx context.Context, name string, ctrls []string, rt router, interval, timeout time.Duration, prefix string) *writer {
	w := &writer{prefix: prefix, interval: interval, done: make(chan struct{}), latest: map[string]testbed.Write{}}
	w.client = failoverClient(name, ctrls, timeout, rt, func(addr string) { w.last.Store(&addr) })
	ctx, w.cancel = context.WithCancel(ctx)
	go w.run(ctx)
	return w
}

func (w *writer) run(ctx context.Context) {
	defer close(w.done)
	timer := time.NewTimer(0)
	defer timer.Stop()
	next := time.Now()
	for seq := int64(0); ; seq++ {
		if wait := time.Until(next); wait > 0 {
			timer.Reset(wait)
			select {
			case <-ctx.Done():
				return
			case <-timer.C:
			}
		} else if ctx.Err() != nil {
			return
		}
		next = next.Add(w.interval)
		w.last.Store(nil)
		start := time.Now()
		if next.Before(start) {
			next = start // no burst to catch up after a slow write
		}
		err := w.client.Set(ctx, w.prefix+strconv.FormatInt(seq, 10), seq, 0).Err()
		rec := testbed.Write{Seq: seq, Start: start, End: time.Now()}
		switch a := w.last.Load(); {
		case err != nil:
			rec.Err = err.Error()
		case a != nil:
			rec.Addr = *a
		default:
			rec.Addr = "?"
		}
		if ctx.Err() != nil && err != nil {
			return // the write was cut short by stop, not by a fault
		}
		w.mu.Lock()
		w.writes = append(w.writes, rec)
		if rec.Acked() {
			w.acked.Add(1)
			w.latest[rec.Addr] = rec
		}
		w.mu.Unlock()
	}
}

// lastAckOn returns the latest write acknowledged by addr.
func (w *writer) lastAckOn(addr string) (testbed.Write, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	rec, ok := w.latest[addr]
	return rec, ok
}

// stop stops writing, closes the client and returns every write recorded.
// It may be called more than once.
func (w *writer) stop() []testbed.Write {
	w.cancel()
	<-w.done
	_ = w.client.Close()
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]testbed.Write(nil), w.writes...)
}

// snapshot returns the writes recorded so far.
func (w *writer) snapshot() []testbed.Write {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]testbed.Write(nil), w.writes...)
}
