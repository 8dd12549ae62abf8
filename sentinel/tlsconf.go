package sentinel

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/vigil-ha/vigil/config"
)

// TLS on both sides of the node: towards Redis (masters.NAME.tls, for the
// monitoring links, the hello Pub/Sub links and the reconfiguration
// commands) and on the Sentinel port (node.tls). Certificates and keys are
// read once, when the node starts; restart it to load renewed files.

const (
	// tlsHandshakeTimeout bounds a client's TLS handshake on the Sentinel
	// port.
	tlsHandshakeTimeout = 10 * time.Second
	// refusalLogEvery spaces the warnings about refused handshakes; the
	// ones in between are counted, and each logged at debug level.
	refusalLogEvery = 10 * time.Second
	// plainTextRefusal is written, in RESP, to a client that speaks plain
	// text to the TLS port (as net/http answers HTTP on an HTTPS port),
	// before the connection is closed.
	plainTextRefusal = "-ERR this port requires TLS; plain-text connection refused\r\n"
)

// masterTLSConfigs builds the TLS client configuration of every master
// with TLS on, by master name.
func masterTLSConfigs(cfg config.Config) (map[string]*tls.Config, error) {
	out := make(map[string]*tls.Config)
	for _, name := range cfg.MasterNames() {
		tc, err := cfg.Masters[name].TLS.ClientConfig()
		if err != nil {
			return nil, fmt.Errorf("masters.%s: %w", name, err)
		}
		if tc != nil {
			out[name] = tc
		}
	}
	return out, nil
}

// withTLS wraps the Sentinel port's listener in TLS when node.tls is set,
// and returns ln unchanged otherwise. On error ln is closed.
func (n *Node) withTLS(ln net.Listener) (net.Listener, error) {
	cfg, err := n.cfg.Node.TLS.ServerConfig()
	if err != nil {
		_ = ln.Close()
		return nil, err
	}
	if cfg == nil {
		return ln, nil
	}
	n.log.Info("sentinel port serves TLS only", "client_certificates", cfg.ClientAuth == tls.RequireAndVerifyClientCert)
	log := n.log.With("component", "tls")
	return &tlsListener{Listener: ln, cfg: cfg, log: log, refusals: &refusalLog{log: log}}, nil
}

// tlsListener serves TLS. Its connections complete the handshake on their
// first read, in the connection's own goroutine, so that a failure is
// answered, logged and then seen by the server as a failed read.
type tlsListener struct {
	net.Listener
	cfg      *tls.Config
	log      *slog.Logger
	refusals *refusalLog
}

// Accept waits for the next connection and returns it wrapped in TLS.
func (l *tlsListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &tlsServerConn{Conn: tls.Server(c, l.cfg), l: l}, nil
}

// tlsServerConn is a server-side TLS connection whose first Read performs
// the handshake.
type tlsServerConn struct {
	*tls.Conn
	l    *tlsListener
	once sync.Once
	err  error // the handshake's failure
}

// Read completes the handshake first; after a failed handshake it returns
// that failure.
func (c *tlsServerConn) Read(p []byte) (int, error) {
	c.once.Do(c.handshake)
	if c.err != nil {
		return 0, c.err
	}
	return c.Conn.Read(p)
}

func (c *tlsServerConn) handshake() {
	_ = c.SetDeadline(time.Now().Add(tlsHandshakeTimeout))
	err := c.HandshakeContext(context.Background())
	_ = c.SetDeadline(time.Time{})
	if err == nil {
		return
	}
	var rhe tls.RecordHeaderError
	plain := errors.As(err, &rhe) && rhe.Conn != nil
	if plain {
		_ = rhe.Conn.SetWriteDeadline(time.Now().Add(time.Second))
		_, _ = io.WriteString(rhe.Conn, plainTextRefusal)
		err = fmt.Errorf("plain-text client on the TLS port: %w", err)
	}
	c.l.refusals.note(c.RemoteAddr(), err)
	c.err = fmt.Errorf("TLS handshake: %w", err)
}

// refusalLog logs refused handshakes: each at debug level, and at most one
// warning per refusalLogEvery with the number of refusals since the last.
type refusalLog struct {
	log        *slog.Logger
	mu         sync.Mutex
	last       time.Time
	suppressed int
}

func (r *refusalLog) note(addr net.Addr, err error) {
	remote := ""
	if addr != nil {
		remote = addr.String()
	}
	r.log.Debug("TLS handshake failed; connection closed", "addr", remote, "err", err)
	r.mu.Lock()
	now := time.Now()
	if !r.last.IsZero() && now.Sub(r.last) < refusalLogEvery {
		r.suppressed++
		r.mu.Unlock()
		return
	}
	r.last = now
	suppressed := r.suppressed
	r.suppressed = 0
	r.mu.Unlock()
	r.log.Warn("TLS handshake failed; connection closed", "addr", remote, "err", err, "similar_not_logged", suppressed)
}
