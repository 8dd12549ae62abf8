package sentinel

import (
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/config"
)

// servePaths runs f against a node serving its clients from the client
// loop and against one serving each with a goroutine.
func servePaths(t *testing.T, masters map[string]config.MasterConfig, f func(t *testing.T, n *Node)) {
	for _, goroutines := range []bool{false, true} {
		name := "loop"
		if goroutines {
			name = "goroutines"
		}
		t.Run(name, func(t *testing.T) {
			cn := startNodeSetup(t, testConfig(t, masters), slog.New(slog.DiscardHandler),
				func(n *Node) { n.serveGoroutines = goroutines })
			cn.mustEndCleanly = true
			f(t, cn.Node)
		})
	}
}

func unreachableMasters(t *testing.T, count int) map[string]config.MasterConfig {
	m := map[string]config.MasterConfig{}
	for i := range count {
		// Port 1 on loopback refuses connections: the master is down.
		m[fmt.Sprintf("m%03d", i)] = master(t, "127.0.0.1:1", 1, 5*time.Second)
	}
	return m
}

// TestClientLoopPipelines: commands split anywhere across writes, or many
// in one write, are answered in order, including across the handoff to a
// goroutine that a subscription or a state-changing command causes.
func TestClientLoopPipelines(t *testing.T) {
	servePaths(t, unreachableMasters(t, 1), func(t *testing.T, n *Node) {
		c := dialRaw(t, n.Addr())
		req := "*1\r\n$4\r\nPING\r\n*2\r\n$8\r\nSENTINEL\r\n$4\r\nmyid\r\nPING\r\n"
		for i := range len(req) {
			c.send(req[i : i+1]) // one byte per write
		}
		for _, want := range []string{"+PONG\r\n", "$40\r\n" + n.ID() + "\r\n", "+PONG\r\n"} {
			if got := c.reply(); got != want {
				t.Fatalf("byte by byte: %q, want %q", got, want)
			}
		}

		// In one write: answered from memory, then FLUSHCONFIG (handed
		// off), then more, then SUBSCRIBE, then a message.
		c.send("PING\r\nSENTINEL flushconfig\r\nSENTINEL myid\r\nSUBSCRIBE +sdown\r\nPING\r\n")
		for _, want := range []string{
			"+PONG\r\n",
			"+OK\r\n",
			"$40\r\n" + n.ID() + "\r\n",
			"*3\r\n$9\r\nsubscribe\r\n$6\r\n+sdown\r\n:1\r\n",
			"*2\r\n$4\r\npong\r\n$0\r\n\r\n",
		} {
			if got := c.reply(); got != want {
				t.Fatalf("pipelined: %q, want %q", got, want)
			}
		}
		n.emit(Event{Type: "+sdown", Payload: "master m000 127.0.0.1 1"})
		if got, want := c.reply(), "*3\r\n$7\r\nmessage\r\n$6\r\n+sdown\r\n$23\r\nmaster m000 127.0.0.1 1\r\n"; got != want {
			t.Fatalf("message: %q, want %q", got, want)
		}
	})
}

// TestClientLoopSlowReader: a client that pipelines large replies without
// reading them stalls only itself; once it reads it gets every reply,
// whole and in order.
func TestClientLoopSlowReader(t *testing.T) {
	servePaths(t, unreachableMasters(t, 40), func(t *testing.T, n *Node) {
		probe := dialRaw(t, n.Addr())
		want := probe.roundTrip("SENTINEL masters\r\n")
		if len(want) < 20_000 {
			t.Fatalf("SENTINEL MASTERS is only %d bytes", len(want))
		}
		const requests = 400 // some megabytes, more than the socket buffers hold
		slow := dialRaw(t, n.Addr())
		slow.send(strings.Repeat("SENTINEL masters\r\nPING\r\n", requests))

		// Others are served meanwhile.
		other := dialRaw(t, n.Addr())
		for range 20 {
			if got := other.roundTrip("SENTINEL get-master-addr-by-name m001\r\n"); !strings.HasPrefix(got, "*2\r\n") {
				t.Fatalf("other client: %q", got)
			}
		}

		for i := range requests {
			// Replies may differ in their timing fields: compare shapes.
			if got := slow.reply(); len(got) < len(want)/2 || !strings.HasPrefix(got, "*40\r\n") {
				t.Fatalf("reply %d: %d bytes, starting %q", i, len(got), got[:min(len(got), 20)])
			}
			if got := slow.reply(); got != "+PONG\r\n" {
				t.Fatalf("reply %d: %q, want PONG", i, got)
			}
		}
	})
}

// TestClientLoopKillAndCount: CLIENT KILL closes loop clients and handed-off
// ones alike, and INFO counts what is left.
func TestClientLoopKillAndCount(t *testing.T) {
	servePaths(t, unreachableMasters(t, 1), func(t *testing.T, n *Node) {
		admin := dialRaw(t, n.Addr())
		plain := dialRaw(t, n.Addr())
		sub := dialRaw(t, n.Addr())
		ids := []int64{clientID(t, plain), clientID(t, sub)}
		if got := sub.roundTrip("SUBSCRIBE x\r\n"); !strings.HasPrefix(got, "*3\r\n") {
			t.Fatalf("subscribe: %q", got)
		}
		connected := func() string {
			for _, l := range strings.Split(admin.roundTrip("INFO clients\r\n"), "\r\n") {
				if v, ok := strings.CutPrefix(l, "connected_clients:"); ok {
					return v
				}
			}
			return ""
		}
		if got := connected(); got != "3" {
			t.Fatalf("connected_clients %s, want 3", got)
		}
		list := admin.roundTrip("CLIENT LIST\r\n")
		if strings.Contains(list, " fd=-1 ") {
			t.Errorf("CLIENT LIST shows no descriptor: %q", list)
		}
		for i, c := range []*rawClient{plain, sub} {
			id := strconv.FormatInt(ids[i], 10)
			if got := admin.roundTrip("CLIENT KILL ID " + id + "\r\n"); got != ":1\r\n" {
				t.Fatalf("CLIENT KILL ID %s: %q", id, got)
			}
			if !closedByServer(c) {
				t.Fatalf("client %s not closed", id)
			}
		}
		deadline := time.Now().Add(5 * time.Second)
		for connected() != "1" {
			if time.Now().After(deadline) {
				t.Fatalf("connected_clients %s after the kills, want 1", connected())
			}
			time.Sleep(10 * time.Millisecond)
		}
		if got := admin.roundTrip("CLIENT KILL ID " + strconv.FormatInt(clientID(t, admin), 10) + " SKIPME no\r\n"); got != ":1\r\n" {
			t.Fatalf("killing itself: %q", got)
		}
		if !closedByServer(admin) {
			t.Fatal("a client that killed itself stays open")
		}
	})
}

// TestClientLoopHalfClose: a client that sends its commands and shuts its
// side of the connection (printf ... | nc) gets every reply.
func TestClientLoopHalfClose(t *testing.T) {
	servePaths(t, unreachableMasters(t, 1), func(t *testing.T, n *Node) {
		// One command; exactly the reader's first buffer (1024 bytes), so
		// that the end of input comes on a read of its own; more than it.
		exact := strings.Repeat("PING\r\n", 168) + "PING" + strings.Repeat(" ", 10) + "\r\n"
		for _, req := range []string{"PING\r\n", exact, strings.Repeat("PING\r\n", 500)} {
			count := strings.Count(req, "PING")
			c := dialRaw(t, n.Addr())
			c.send(req)
			if err := c.conn.(*net.TCPConn).CloseWrite(); err != nil {
				t.Fatal(err)
			}
			for i := range count {
				if got := c.reply(); got != "+PONG\r\n" {
					t.Fatalf("%d commands: reply %d is %q", count, i, got)
				}
			}
			if !closedByServer(c) {
				t.Fatalf("%d commands: not closed after the replies", count)
			}
		}
	})
}

// TestServedInLoop: what runs in the loop is decided by name, in any case,
// without allocating.
func TestServedInLoop(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want bool
	}{
		{[]string{"PING"}, true},
		{[]string{"sentinel", "GET-MASTER-ADDR-BY-NAME", "m"}, true},
		{[]string{"SENTINEL"}, true},
		{[]string{"Sentinel", "failover", "m"}, false},
		{[]string{"SENTINEL", "is-master-down-by-addr", "1", "2", "3", "*"}, false},
		{[]string{"subscribe", "x"}, false},
		{[]string{"NOSUCHCOMMAND"}, true},
	} {
		raw := make([][]byte, len(tc.args))
		for i, a := range tc.args {
			raw[i] = []byte(a)
		}
		if got := servedInLoop(raw); got != tc.want {
			t.Errorf("servedInLoop(%q) = %v, want %v", tc.args, got, tc.want)
		}
		if allocs := testing.AllocsPerRun(100, func() { servedInLoop(raw) }); allocs != 0 {
			t.Errorf("servedInLoop(%q) allocates %.0f times", tc.args, allocs)
		}
	}
}
