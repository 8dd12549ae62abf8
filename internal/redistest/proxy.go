package redistest

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// proxyDialTimeout bounds how long the proxy waits to connect to its target.
const proxyDialTimeout = 2 * time.Second

// Proxy is an in-process TCP proxy on a loopback port that forwards every
// connection to a loopback target, and can cut, heal and delay the traffic to
// inject network faults between a client (vigil) and a server (Redis).
//
// While cut, the proxy behaves like a network partition rather than a
// refusal: new connections are accepted but nothing is forwarded and nothing
// is answered, so clients see timeouts. When healed, those held connections
// are connected to the target and whatever the client sent meanwhile is
// delivered, as after TCP retransmission.
type Proxy struct {
	target  string
	ln      net.Listener
	latency atomic.Int64 // time.Duration added in each direction
	done    chan struct{}
	wg      sync.WaitGroup

	mu     sync.Mutex
	closed bool
	cut    bool
	healed chan struct{} // closed while not cut; a new one on each Cut
	links  map[*link]struct{}
	held   map[net.Conn]struct{}
}

// link is one proxied connection pair.
type link struct {
	client, server net.Conn
}

func (l *link) close() {
	_ = l.client.Close()
	_ = l.server.Close()
}

// NewProxy starts a proxy on a free 127.0.0.1 port that forwards to target, a
// "host:port" on loopback (127.0.0.0/8, ::1 or localhost). It is closed when
// the test ends.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	p, err := newProxy(target)
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	t.Cleanup(p.Close)
	return p
}

func newProxy(target string) (*Proxy, error) {
	if err := checkLoopback(target); err != nil {
		return nil, fmt.Errorf("proxy target: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("proxy listen: %w", err)
	}
	healed := make(chan struct{})
	close(healed)
	p := &Proxy{
		target: target,
		ln:     ln,
		done:   make(chan struct{}),
		healed: healed,
		links:  make(map[*link]struct{}),
		held:   make(map[net.Conn]struct{}),
	}
	p.wg.Add(1)
	go p.acceptLoop()
	return p, nil
}

// checkLoopback accepts only "host:port" addresses on the loopback interface,
// so that fault-injection traffic never leaves the machine.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !ip.IsLoopback() {
		return fmt.Errorf("%q is not a loopback address", addr)
	}
	return nil
}

// Addr returns the "127.0.0.1:port" clients should connect to.
func (p *Proxy) Addr() string {
	return p.ln.Addr().String()
}

// Target returns the address the proxy forwards to.
func (p *Proxy) Target() string {
	return p.target
}

// Cut drops every forwarded connection and blackholes new ones until Heal:
// they are accepted but get no answer.
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

// Heal ends a Cut: connections accepted meanwhile are forwarded from now on,
// and so are new ones.
func (p *Proxy) Heal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cut {
		p.cut = false
		close(p.healed)
	}
}

// SetLatency delays every chunk of data by d in each direction, so a request
// and its reply gain 2*d. Zero turns the delay off.
func (p *Proxy) SetLatency(d time.Duration) {
	p.latency.Store(int64(d))
}

// Close stops accepting, closes every connection and waits for the proxy's
// goroutines to finish. It may be called more than once.
func (p *Proxy) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
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
}

// takeLinks empties the set of live links and returns them; p.mu is held.
func (p *Proxy) takeLinks() []*link {
	links := make([]*link, 0, len(p.links))
	for l := range p.links {
		links = append(links, l)
	}
	clear(p.links)
	return links
}

func (p *Proxy) acceptLoop() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return // the listener was closed
		}
		p.wg.Add(1)
		go p.handle(c)
	}
}

// handle holds c while the proxy is cut, then connects it to the target and
// forwards both ways until either side closes.
func (p *Proxy) handle(c net.Conn) {
	defer p.wg.Done()
	if !p.waitHealed(c) {
		_ = c.Close()
		return
	}
	server, err := net.DialTimeout("tcp", p.target, proxyDialTimeout)
	if err != nil {
		_ = c.Close()
		return
	}
	l := &link{client: c, server: server}
	p.mu.Lock()
	if p.closed || p.cut {
		// Closed or cut while dialling: drop it like the others.
		p.mu.Unlock()
		l.close()
		return
	}
	p.links[l] = struct{}{}
	p.mu.Unlock()

	var pumps sync.WaitGroup
	pumps.Add(2)
	go func() { defer pumps.Done(); p.pump(l, server, c) }()
	go func() { defer pumps.Done(); p.pump(l, c, server) }()
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

// pump copies src to dst, delaying each chunk by the current latency. At EOF
// it half-closes dst so the other direction can finish; on any other error it
// closes the whole link.
func (p *Proxy) pump(l *link, dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if !p.delay() {
				l.close()
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				l.close()
				return
			}
		}
		if errors.Is(err, io.EOF) {
			if tc, ok := dst.(*net.TCPConn); ok {
				_ = tc.CloseWrite()
				return
			}
			l.close()
			return
		}
		if err != nil {
			l.close()
			return
		}
	}
}

// delay sleeps for the current latency and reports false if the proxy was
// closed meanwhile.
func (p *Proxy) delay() bool {
	d := time.Duration(p.latency.Load())
	if d <= 0 {
		return true
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-p.done:
		return false
	}
}
