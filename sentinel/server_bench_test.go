package sentinel

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/config"
	"github.com/vigil-ha/vigil/internal/resp"
)

// The benchmarks here measure the request path of the Sentinel-protocol
// port (read a command, dispatch it, write and flush the reply) without
// monitoring anything: the node is created but not run, so no monitoring
// loop or gossip competes for the CPU.
//
//	go test -run '^$' -bench . -benchmem ./sentinel/

const benchGetMasterAddr = "*3\r\n$8\r\nSENTINEL\r\n$23\r\nget-master-addr-by-name\r\n$8\r\nmymaster\r\n"

// benchNode returns a node monitoring one master (never contacted) that
// serves clients but runs no monitoring.
func benchNode(b testing.TB) *Node {
	b.Helper()
	cfg := testConfig(b, map[string]config.MasterConfig{
		"mymaster": master(b, "127.0.0.1:6379", 1, 5*time.Second),
	})
	n, err := New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	return n
}

// pipeConn is a net.Conn whose reads return one request at a time,
// requests times, as a client waiting for every reply would send them, and
// whose writes are counted and dropped.
type pipeConn struct {
	req      []byte
	left     int
	pending  []byte
	written  int64
	flushes  int64
	net.Conn // nil: only the methods below are used
}

func (p *pipeConn) Read(b []byte) (int, error) {
	if len(p.pending) == 0 {
		if p.left == 0 {
			return 0, io.EOF
		}
		p.left--
		p.pending = p.req
	}
	n := copy(b, p.pending)
	p.pending = p.pending[n:]
	return n, nil
}

func (p *pipeConn) Write(b []byte) (int, error) {
	p.written += int64(len(b))
	p.flushes++
	return len(b), nil
}

func (p *pipeConn) Close() error         { return nil }
func (p *pipeConn) RemoteAddr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1} }
func (p *pipeConn) LocalAddr() net.Addr  { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 2} }

// benchConn serves b.N copies of req on one in-memory connection and checks
// that every one was answered with want.
func benchConn(b *testing.B, req, want string) {
	n := benchNode(b)
	pc := &pipeConn{req: []byte(req), left: b.N}
	c := &clientConn{id: 1, netConn: pc, created: time.Now(), w: resp.NewWriter(pc)}
	b.ReportAllocs()
	b.ResetTimer()
	n.handleConn(context.Background(), c, resp.NewReader(pc), nil)
	b.StopTimer()
	if wantBytes := int64(len(want)) * int64(b.N); pc.written != wantBytes {
		b.Fatalf("wrote %d bytes, want %d (%d × %q)", pc.written, wantBytes, b.N, want)
	}
	if pc.flushes != int64(b.N) {
		b.Fatalf("%d writes for %d requests", pc.flushes, b.N)
	}
}

// BenchmarkGetMasterAddr is the discovery request every client library sends
// on connect and after a failover, answered on one connection.
func BenchmarkGetMasterAddr(b *testing.B) {
	benchConn(b, benchGetMasterAddr, "*2\r\n$9\r\n127.0.0.1\r\n$4\r\n6379\r\n")
}

// BenchmarkGetMasterAddrInline is the same request typed as an inline
// command.
func BenchmarkGetMasterAddrInline(b *testing.B) {
	benchConn(b, "SENTINEL get-master-addr-by-name mymaster\r\n", "*2\r\n$9\r\n127.0.0.1\r\n$4\r\n6379\r\n")
}

// BenchmarkPing is the cheapest command: the fixed cost of the request path.
func BenchmarkPing(b *testing.B) {
	benchConn(b, "*1\r\n$4\r\nPING\r\n", "+PONG\r\n")
}

// BenchmarkGetMasterAddrTCP answers the discovery request over real loopback
// connections, 50 of them at once as in the redis-benchmark comparison of
// docs/performance.md (each client waits for its reply before sending the
// next request).
func BenchmarkGetMasterAddrTCP(b *testing.B) {
	const clients = 50
	n := benchNode(b)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	n.ln = ln
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan struct{})
	go func() {
		defer close(served)
		n.serve(ctx)
	}()
	b.Cleanup(func() {
		cancel()
		_ = ln.Close()
		n.closeConns()
		<-served
	})
	want := "*2\r\n$9\r\n127.0.0.1\r\n$4\r\n6379\r\n"
	req := []byte(benchGetMasterAddr)
	conns := make([]net.Conn, clients)
	for i := range conns {
		if conns[i], err = net.Dial("tcp", ln.Addr().String()); err != nil {
			b.Fatal(err)
		}
		defer func() { _ = conns[i].Close() }()
	}
	work := make(chan struct{}, clients)
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	b.ReportAllocs()
	b.ResetTimer()
	for _, conn := range conns {
		wg.Go(func() {
			r := bufio.NewReader(conn)
			buf := make([]byte, len(want))
			for range work {
				if err := roundTrip(conn, r, req, buf, want); err != nil {
					errs <- err
					for range work { // let the others finish
					}
					return
				}
			}
		})
	}
	for range b.N {
		work <- struct{}{}
	}
	close(work)
	wg.Wait()
	b.StopTimer()
	close(errs)
	for err := range errs {
		b.Fatalf("client: %v", err)
	}
}

// roundTrip sends req and reads a reply of len(buf) bytes that must be want.
func roundTrip(conn net.Conn, r *bufio.Reader, req, buf []byte, want string) error {
	if _, err := conn.Write(req); err != nil {
		return err
	}
	if _, err := io.ReadFull(r, buf); err != nil {
		return err
	}
	if string(buf) != want {
		return fmt.Errorf("reply %q, want %q", buf, want)
	}
	return nil
}

// TestRequestPathAllocations guards the discovery request path: after the
// connection's first request, answering allocates nothing.
func TestRequestPathAllocations(t *testing.T) {
	const requests = 1000
	n := benchNode(t)
	for _, req := range []string{benchGetMasterAddr, "sentinel GET-MASTER-ADDR-BY-NAME mymaster\r\n", "PING\r\n"} {
		allocs := testing.AllocsPerRun(5, func() {
			pc := &pipeConn{req: []byte(req), left: requests}
			c := &clientConn{id: 1, netConn: pc, created: time.Now(), w: resp.NewWriter(pc)}
			n.handleConn(context.Background(), c, resp.NewReader(pc), nil)
			if pc.flushes != requests {
				t.Fatalf("%q: %d replies for %d requests", req, pc.flushes, requests)
			}
		})
		// A connection's buffers and its first command's strings are
		// allocated once (about 20 allocations); nothing may be per
		// request.
		if allocs >= requests/10 {
			t.Errorf("%q: %.0f allocations for %d requests", req, allocs, requests)
		}
	}
}

func TestCommandArgs(t *testing.T) {
	c := &clientConn{}
	raw := func(ss ...string) [][]byte {
		var out [][]byte
		for _, s := range ss {
			out = append(out, []byte(s))
		}
		return out
	}
	first, repeat := c.commandArgs(raw("SENTINEL", "get-master-addr-by-name", "mymaster"))
	if repeat {
		t.Error("the first command counted as a repeat")
	}
	again, repeat := c.commandArgs(raw("SENTINEL", "get-master-addr-by-name", "mymaster"))
	if &first[0] != &again[0] || !repeat {
		t.Errorf("a repeated command was not reused (repeat %v)", repeat)
	}
	if got, repeat := c.commandArgs(raw("SENTINEL", "get-master-addr-by-name", "other")); got[2] != "other" || first[2] != "mymaster" || repeat {
		t.Errorf("different command: %q (the first one now %q, repeat %v)", got, first, repeat)
	}
	ab, _ := c.commandArgs(raw("ab", "c"))
	if got, repeat := c.commandArgs(raw("a", "bc")); got[0] != "a" || got[1] != "bc" || ab[0] != "ab" || repeat {
		t.Errorf("same bytes split differently: %q after %q (repeat %v)", got, ab, repeat)
	}
	big := strings.Repeat("x", maxCachedArgs+1)
	for range 2 {
		if got, repeat := c.commandArgs(raw("ECHO", big)); got[1] != big || c.lastArgs != nil || repeat {
			t.Errorf("a large command is kept for reuse (repeat %v)", repeat)
		}
	}
}

func TestLowerCached(t *testing.T) {
	tests := []struct{ prev, name, want string }{
		{"", "PING", "ping"},
		{"ping", "PING", "ping"},
		{"ping", "PinG", "ping"},
		{"ping", "pong", "pong"},
		{"sentinel", "SENTINEL", "sentinel"},
		{"", "ÉCHO", "écho"},
		{"écho", "ÉCHO", "écho"},
	}
	for _, tc := range tests {
		if got := lowerCached(tc.prev, []byte(tc.name)); got != tc.want {
			t.Errorf("lowerCached(%q, %q) = %q, want %q", tc.prev, tc.name, got, tc.want)
		}
	}
	if allocs := testing.AllocsPerRun(100, func() { _ = lowerCached("sentinel", []byte("SENTINEL")) }); allocs != 0 {
		t.Errorf("a repeated command name allocates %.0f times", allocs)
	}
}
