// Package netproxy is an in-process TCP proxy on a loopback port in front of
// one loopback server, for fault injection in tests and in the bench and
// chaos harnesses: it cuts (partition), heals and delays the traffic.
// internal/redistest wraps it for tests, internal/testbed for programs.
package netproxy

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// proxyDialTimeout bounds how long a [Proxy] waits to connect to its target.
const proxyDialTimeout = 2 * time.Second

// Proxy is a TCP proxy on a loopback port in front of one server, used to
// put network faults between that server and its clients (controllers,
// replicas): it can cut (partition), heal and delay the traffic.
//
// While cut, the proxy behaves like a partition rather than a refusal:
// forwarded connections are dropped, new ones are accepted but nothing is
// forwarded or answered, so clients see timeouts. When healed, the held
// connections are connected to the target and whatever the client sent
// meanwhile is delivered, as after TCP retransmission.
type Proxy struct {
	target  string
	ln      net.Listener
	latency atomic.Int64 // time.Duration added to each chunk, each direction
	done    chan struct{}
	wg      sync.WaitGroup

	mu     sync.Mutex
	closed bool
	cut    bool
	healed chan struct{} // closed while not cut; a new one on each Cut
	links  map[*proxyLink]struct{}
	held   map[net.Conn]struct{}
}

// proxyLink is one forwarded connection pair.
type proxyLink struct {
	client, server net.Conn
}

func (l *proxyLink) close() {
	_ = l.client.Close()
	_ = l.server.Close()
}

// checkLoopback accepts only "host:port" addresses on 127.0.0.0/8, ::1 or
// localhost, so that fault-injection traffic never leaves the machine.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%q is not a loopback address", addr)
	}
	return nil
}

// Listen starts a proxy on a free 127.0.0.1 port forwarding to target, a
// loopback "host:port" (127.0.0.0/8, ::1 or localhost; anything else is
// refused, so that fault-injection traffic never leaves the machine).
// Close stops it.
func Listen(target string) (*Proxy, error) {
	if err := checkLoopback(target); err != nil {
		return nil, fmt.Errorf("netproxy: target: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("netproxy: listen: %w", err)
	}
	healed := make(chan struct{})
	close(healed)
	p := &Proxy{
		target: target,
		ln:     ln,
		done:   make(chan struct{}),
		healed: healed,
		links:  map[*proxyLink]struct{}{},
		held:   map[net.Conn]struct{}{},
	}
	p.wg.Go(p.acceptLoop)
	return p, nil
}

// Addr returns the "127.0.0.1:port" clients connect to.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Target returns the address the proxy forwards to.
func (p *Proxy) Target() string { return p.target }

// Cut drops every forwarded connection and blackholes new ones until Heal.
func (p *Proxy) Cut() {
	p.mu.Lock()
	if !p.cut {
		p.cut = true
		p.healed = make(chan struct{})
	}
	links := p.takeLinks()
	p.mu.Unlock()
	for _, l := range links {
		l.close()
	}
}

// Heal ends a Cut: connections accepted meanwhile are forwarded from now
// on, and so are new ones.
func (p *Proxy) Heal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cut {
		p.cut = false
		close(p.healed)
	}
}

// SetLatency delays every chunk of data by d in each direction, so a
// request and its reply gain 2*d. Zero turns the delay off.
func (p *Proxy) SetLatency(d time.Duration) { p.latency.Store(int64(d)) }

// Close stops accepting, closes every connection and waits for the proxy's
// goroutines. It may be called more than once and always returns nil.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	close(p.done)
	links := p.takeLinks()
	held := make([]net.Conn, 0, len(p.held))
	for c := range p.held {
		held = append(held, c)
	}
	p.mu.Unlock()

	_ = p.ln.Close()
	for _, l := range links {
		l.close()
	}
	for _, c := range held {
		_ = c.Close()
	}
	p.wg.Wait()
	return nil
}

// takeLinks empties the set of live links and returns them; p.mu is held.
func (p *Proxy) takeLinks() []*proxyLink {
	links := make([]*proxyLink, 0, len(p.links))
	for l := range p.links {
		links = append(links, l)
	}
	clear(p.links)
	return links
}

func (p *Proxy) acceptLoop() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return // the listener was closed
		}
		p.wg.Go(func() { p.handle(c) })
	}
}

// handle holds c while the proxy is cut, then connects it to the target
// and forwards both ways until either side closes.
func (p *Proxy) handle(c net.Conn) {
	if !p.waitHealed(c) {
		_ = c.Close()
		return
	}
	server, err := net.DialTimeout("tcp", p.target, proxyDialTimeout)
	if err != nil {
		_ = c.Close()
		return
	}
	l := &proxyLink{client: c, server: server}
	p.mu.Lock()
	if p.closed || p.cut {
		p.mu.Unlock()
		l.close()
		return
	}
	p.links[l] = struct{}{}
	p.mu.Unlock()

	var pumps sync.WaitGroup
	pumps.Go(func() { p.pump(l, server, c) })
	pumps.Go(func() { p.pump(l, c, server) })
	pumps.Wait()

	p.mu.Lock()
	delete(p.links, l)
	p.mu.Unlock()
	l.close()
}

// waitHealed blocks while the proxy is cut and reports whether c may be
// forwarded (false once the proxy is closed).
func (p *Proxy) waitHealed(c net.Conn) bool {
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return false
		}
		if !p.cut {
			p.mu.Unlock()
			return true
		}
		healed := p.healed
		p.held[c] = struct{}{}
		p.mu.Unlock()

		select {
		case <-healed:
		case <-p.done:
		}
		p.mu.Lock()
		delete(p.held, c)
		p.mu.Unlock()
	}
}

// chunk is data read from one side of a link, stamped with when it was read.
type chunk struct {
	data []byte
	at   time.Time
}

// pump copies src to dst, each chunk delayed by the latency in force when
// it is written, counted from when it was read: like a network's latency,
// chunks in flight overlap rather than queue behind each other's delays,
// and their order is kept. At EOF it half-closes dst so the other direction
// can finish; on any other error it closes the whole link.
func (p *Proxy) pump(l *proxyLink, dst, src net.Conn) {
	queue := make(chan chunk, 256)
	stopped := make(chan struct{}) // closed when the writer gives up
	readErr := make(chan error, 1)
	p.wg.Go(func() {
		defer close(queue)
		for {
			buf := make([]byte, 32<<10)
			n, err := src.Read(buf)
			if n > 0 {
				select {
				case queue <- chunk{data: buf[:n], at: time.Now()}:
				case <-stopped:
					return
				}
			}
			if err != nil {
				readErr <- err
				return
			}
		}
	})
	fail := func() {
		close(stopped)
		l.close()
	}
	for c := range queue {
		if !p.delayUntil(c.at) {
			fail()
			return
		}
		if _, err := dst.Write(c.data); err != nil {
			fail()
			return
		}
	}
	if err := <-readErr; errors.Is(err, io.EOF) {
		if tc, ok := dst.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
			return
		}
	}
	l.close()
}

// delayUntil sleeps until the current latency has passed since at and
// reports false if the proxy was closed meanwhile.
func (p *Proxy) delayUntil(at time.Time) bool {
	wait := time.Until(at.Add(time.Duration(p.latency.Load())))
	if wait <= 0 {
		return true
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-p.done:
		return false
	}
}
