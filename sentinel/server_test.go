package sentinel

import (
	"bufio"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/config"
	"github.com/vigil-ha/vigil/internal/redistest"
)

// rawClient speaks raw RESP to the node so that tests see exact bytes.
type rawClient struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

func dialRaw(t *testing.T, addr string) *rawClient {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return &rawClient{t: t, conn: c, r: bufio.NewReader(c)}
}

func (c *rawClient) send(s string) {
	c.t.Helper()
	if _, err := c.conn.Write([]byte(s)); err != nil {
		c.t.Fatal(err)
	}
}

// reply reads one complete RESP value and returns its raw bytes.
func (c *rawClient) reply() string {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	var b strings.Builder
	c.readValue(&b)
	return b.String()
}

func (c *rawClient) line() string {
	l, err := c.r.ReadString('\n')
	if err != nil {
		c.t.Fatalf("read: %v (got %q)", err, l)
	}
	return l
}

func (c *rawClient) readValue(b *strings.Builder) {
	l := c.line()
	b.WriteString(l)
	n := 0
	if len(l) > 1 {
		for _, ch := range strings.TrimRight(l[1:], "\r\n") {
			if ch == '-' {
				n = -1
				break
			}
			n = n*10 + int(ch-'0')
		}
	}
	switch l[0] {
	case '$', '=':
		if n >= 0 {
			buf := make([]byte, n+2)
			if _, err := io.ReadFull(c.r, buf); err != nil {
				c.t.Fatal(err)
			}
			b.Write(buf)
		}
	case '*', '>':
		for range max(n, 0) {
			c.readValue(b)
		}
	case '%':
		for range 2 * n {
			c.readValue(b)
		}
	}
}

func (c *rawClient) roundTrip(cmd string) string {
	c.t.Helper()
	c.send(cmd)
	return c.reply()
}

func unreachableNode(t *testing.T) *Node {
	// Port 1 on loopback refuses connections: the master is simply down.
	return startNode(t, testConfig(t, map[string]config.MasterConfig{"mymaster": master(t, "127.0.0.1:1", 2, 5*time.Second)}))
}

func TestServerReplies(t *testing.T) {
	n := unreachableNode(t)
	c := dialRaw(t, n.Addr())
	tests := []struct{ cmd, want string }{
		{"PING\r\n", "+PONG\r\n"},
		{"*2\r\n$4\r\nping\r\n$2\r\nhi\r\n", "$2\r\nhi\r\n"},
		{"foo bar baz\r\n", "-ERR unknown command 'foo', with args beginning with: 'bar' 'baz' \r\n"},
		{"SENTINEL foo\r\n", "-ERR unknown subcommand 'foo'. Try SENTINEL HELP.\r\n"},
		{"SENTINEL get-master-addr-by-name\r\n", "-ERR wrong number of arguments for 'sentinel|get-master-addr-by-name' command\r\n"},
		{"SENTINEL\r\n", "-ERR wrong number of arguments for 'sentinel' command\r\n"},
		{"SENTINEL master nope\r\n", "-ERR No such master with that name\r\n"},
		{"SENTINEL get-master-addr-by-name nope\r\n", "*-1\r\n"},
		{"SENTINEL GET-MASTER-ADDR-BY-NAME mymaster\r\n", "*2\r\n$9\r\n127.0.0.1\r\n$1\r\n1\r\n"},
		{"SENTINEL sentinels mymaster\r\n", "*0\r\n"},
		{"SENTINEL ckquorum mymaster\r\n", "-NOQUORUM 1 usable Sentinels. Not enough available Sentinels to reach the specified quorum for this master\r\n"},
		{"SENTINEL myid\r\n", "$40\r\n" + n.ID() + "\r\n"},
		{"ROLE\r\n", "*2\r\n$8\r\nsentinel\r\n*1\r\n$8\r\nmymaster\r\n"},
		{"CLIENT SETNAME app\r\n", "+OK\r\n"},
		{"CLIENT GETNAME\r\n", "$3\r\napp\r\n"},
		{"CLIENT SETINFO lib-name x\r\n", "+OK\r\n"},
		{"AUTH secret\r\n", "-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?\r\n"},
		{"PING\r\n", "+PONG\r\n"}, // still usable after all those errors
	}
	for _, tc := range tests {
		if got := c.roundTrip(tc.cmd); got != tc.want {
			t.Errorf("%q:\n got %q\nwant %q", tc.cmd, got, tc.want)
		}
	}
	// A client repeating a command reuses what was looked up for it
	// (dispatch); errors must repeat too.
	for _, tc := range tests {
		c.send(strings.Repeat(tc.cmd, 3))
		for i := range 3 {
			if got := c.reply(); got != tc.want {
				t.Errorf("%q, time %d in a row:\n got %q\nwant %q", tc.cmd, i+1, got, tc.want)
			}
		}
	}
}

func TestServerCKQuorumOK(t *testing.T) {
	n := startNode(t, testConfig(t, map[string]config.MasterConfig{"m": master(t, "127.0.0.1:1", 1, 5*time.Second)}))
	c := dialRaw(t, n.Addr())
	if got, want := c.roundTrip("SENTINEL ckquorum m\r\n"), "+OK 1 usable Sentinels. Quorum and failover authorization can be reached\r\n"; got != want {
		t.Fatalf("got %q want %q", got, want)
	}
}

func TestServerHelloResp3(t *testing.T) {
	n := unreachableNode(t)
	c := dialRaw(t, n.Addr())
	got := c.roundTrip("HELLO 3\r\n")
	if !strings.HasPrefix(got, "%6\r\n$6\r\nserver\r\n$5\r\nredis\r\n") || !strings.Contains(got, "$4\r\nmode\r\n$8\r\nsentinel\r\n") {
		t.Fatalf("HELLO 3 = %q", got)
	}
	if got := c.roundTrip("SENTINEL get-master-addr-by-name nope\r\n"); got != "_\r\n" {
		t.Fatalf("RESP3 null = %q", got)
	}
	m := c.roundTrip("SENTINEL master mymaster\r\n")
	if !strings.HasPrefix(m, "%") || !strings.Contains(m, "$5\r\nflags\r\n") {
		t.Fatalf("RESP3 master reply is not a map: %q", m)
	}
	// RESP3 clients may run commands while subscribed.
	if got := c.roundTrip("SUBSCRIBE x\r\n"); got != ">3\r\n$9\r\nsubscribe\r\n$1\r\nx\r\n:1\r\n" {
		t.Fatalf("subscribe = %q", got)
	}
	if got := c.roundTrip("SENTINEL myid\r\n"); got != "$40\r\n"+n.ID()+"\r\n" {
		t.Fatalf("myid while subscribed = %q", got)
	}
	if got := c.roundTrip("HELLO 4\r\n"); got != "-NOPROTO unsupported protocol version\r\n" {
		t.Fatalf("HELLO 4 = %q", got)
	}
}

func TestServerPubSubContext(t *testing.T) {
	n := unreachableNode(t)
	c := dialRaw(t, n.Addr())
	if got := c.roundTrip("SUBSCRIBE +sdown\r\n"); got != "*3\r\n$9\r\nsubscribe\r\n$6\r\n+sdown\r\n:1\r\n" {
		t.Fatalf("subscribe = %q", got)
	}
	if got := c.roundTrip("SENTINEL myid\r\n"); got != "-ERR Can't execute 'sentinel|myid': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n" {
		t.Fatalf("command while subscribed = %q", got)
	}
	if got := c.roundTrip("PING\r\n"); got != "*2\r\n$4\r\npong\r\n$0\r\n\r\n" {
		t.Fatalf("ping while subscribed = %q", got)
	}
	if got := c.roundTrip("PSUBSCRIBE *\r\n"); got != "*3\r\n$10\r\npsubscribe\r\n$1\r\n*\r\n:2\r\n" {
		t.Fatalf("psubscribe = %q", got)
	}
	n.emit(Event{Type: "+sdown", Payload: "master mymaster 127.0.0.1 1"})
	if got := c.reply(); got != "*3\r\n$7\r\nmessage\r\n$6\r\n+sdown\r\n$27\r\nmaster mymaster 127.0.0.1 1\r\n" {
		t.Fatalf("message = %q", got)
	}
	if got := c.reply(); got != "*4\r\n$8\r\npmessage\r\n$1\r\n*\r\n$6\r\n+sdown\r\n$27\r\nmaster mymaster 127.0.0.1 1\r\n" {
		t.Fatalf("pmessage = %q", got)
	}
	if got := c.roundTrip("UNSUBSCRIBE\r\n"); got != "*3\r\n$11\r\nunsubscribe\r\n$6\r\n+sdown\r\n:1\r\n" {
		t.Fatalf("unsubscribe = %q", got)
	}
	if got := c.roundTrip("PUNSUBSCRIBE\r\n"); got != "*3\r\n$12\r\npunsubscribe\r\n$1\r\n*\r\n:0\r\n" {
		t.Fatalf("punsubscribe = %q", got)
	}
	if got := c.roundTrip("SENTINEL myid\r\n"); got != "$40\r\n"+n.ID()+"\r\n" {
		t.Fatalf("after unsubscribing = %q", got)
	}
}

func TestServerProtocolErrorClosesConnection(t *testing.T) {
	n := unreachableNode(t)
	c := dialRaw(t, n.Addr())
	if got := c.roundTrip("*1\r\n:1\r\n"); got != "-ERR Protocol error: expected '$', got ':'\r\n" {
		t.Fatalf("got %q", got)
	}
	_ = c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.r.ReadByte(); err != io.EOF {
		t.Fatalf("connection not closed after protocol error: %v", err)
	}
	// The node keeps serving others.
	if got := dialRaw(t, n.Addr()).roundTrip("PING\r\n"); got != "+PONG\r\n" {
		t.Fatalf("got %q", got)
	}
}

func TestServerInfoSentinelSection(t *testing.T) {
	n := unreachableNode(t)
	c := dialRaw(t, n.Addr())
	got := c.roundTrip("INFO sentinel\r\n")
	for _, want := range []string{"# Sentinel\r\n", "sentinel_masters:1\r\n", "master0:name=mymaster,status=", ",address=127.0.0.1:1,slaves=0,sentinels=1\r\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("INFO sentinel lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "# Server") {
		t.Errorf("INFO sentinel includes other sections")
	}
}

func TestStatePersistsNodeID(t *testing.T) {
	cfg := testConfig(t, map[string]config.MasterConfig{"m": master(t, "127.0.0.1:1", 1, time.Second)})
	a, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if a.ID() != b.ID() || len(a.ID()) != 40 {
		t.Fatalf("node id not persisted: %q vs %q", a.ID(), b.ID())
	}
}

func TestCorruptStateIsAnError(t *testing.T) {
	cfg := testConfig(t, nil)
	if err := writeFile(cfg.Node.DataDir+"/"+stateFile, "{not json"); err != nil {
		t.Fatal(err)
	}
	if _, err := New(cfg, nil); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Fatalf("want corrupt-state error, got %v", err)
	}
}

func TestServerAdminCommands(t *testing.T) {
	cfg := testConfig(t, map[string]config.MasterConfig{"mymaster": master(t, "127.0.0.1:1", 2, 5*time.Second)})
	n, _ := startStoppableNode(t, cfg)
	c := dialRaw(t, n.Addr())
	if got := c.roundTrip("SENTINEL RESET my*\r\n"); got != ":1\r\n" {
		t.Fatalf("RESET my* = %q", got)
	}
	if got := c.roundTrip("SENTINEL RESET nomatch\r\n"); got != ":0\r\n" {
		t.Fatalf("RESET nomatch = %q", got)
	}
	if got := c.roundTrip("SENTINEL FLUSHCONFIG\r\n"); got != "+OK\r\n" {
		t.Fatalf("FLUSHCONFIG = %q", got)
	}
	if got := c.roundTrip("SENTINEL DEBUG\r\n"); !strings.Contains(got, "INFO-PERIOD") {
		t.Fatalf("DEBUG = %q", got)
	}
	if got := c.roundTrip("SENTINEL EXPLAIN mymaster\r\n"); !strings.Contains(got, "master-ok") && !strings.Contains(got, "not-odown") {
		t.Fatalf("EXPLAIN = %q", got)
	}
	c.send("SHUTDOWN\r\n")
	_ = c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.r.ReadByte(); err != io.EOF {
		t.Fatalf("connection not closed by SHUTDOWN: %v", err)
	}
	redistest.WaitFor(t, 10*time.Second, "the node to stop listening", func() bool {
		conn, err := net.DialTimeout("tcp", n.Addr(), 100*time.Millisecond)
		if err == nil {
			_ = conn.Close()
		}
		return err != nil
	})
}

func TestServerConfigGetAndRuntimeChanges(t *testing.T) {
	n := unreachableNode(t)
	c := dialRaw(t, n.Addr())
	got := c.roundTrip("SENTINEL CONFIG GET announce-*\r\n")
	if got != "*6\r\n$18\r\nannounce-hostnames\r\n$2\r\nno\r\n$11\r\nannounce-ip\r\n$0\r\n\r\n$13\r\nannounce-port\r\n$1\r\n0\r\n" {
		t.Fatalf("CONFIG GET announce-* = %q", got)
	}
	for cmd, want := range map[string]string{
		"SENTINEL CONFIG SET foo 1\r\n":                                     "-ERR Invalid argument 'foo' to SENTINEL CONFIG SET\r\n",
		"SENTINEL CONFIG SET announce-port 70000\r\n":                       "-ERR Invalid value '70000' to SENTINEL CONFIG SET 'announce-port'\r\n",
		"SENTINEL CONFIG SET resolve-hostnames maybe\r\n":                   "-ERR Invalid value 'maybe' to SENTINEL CONFIG SET 'resolve-hostnames'\r\n",
		"SENTINEL CONFIG SET announce-ip 10.1.2.3 announce-ip 10.1.2.4\r\n": "-ERR Duplicate argument 'announce-ip' to SENTINEL CONFIG SET\r\n",
		"SENTINEL CONFIG SET announce-ip 10.1.2.3 announce-port\r\n":        "-ERR Missing argument 'announce-port' value\r\n",
		"SENTINEL CONFIG SET announce-ip\r\n":                               "-ERR Only SENTINEL CONFIG GET <option> / SET <option> <value> are supported.\r\n",
		"SENTINEL CONFIG SET loglevel debug\r\n":                            "-ERR vigil's log level is log.level in its configuration file; it cannot be changed at runtime\r\n",
		"SENTINEL CONFIG SET announce-ip 10.1.2.3 announce-port 26000\r\n":  "+OK\r\n",
		"SENTINEL MONITOR x 127.0.0.1 1\r\n":                                "-ERR wrong number of arguments for 'sentinel|monitor' command\r\n",
		"SENTINEL SET mymaster quorum\r\n":                                  "-ERR wrong number of arguments for 'sentinel|set' command\r\n",
		"SENTINEL REMOVE nosuch\r\n":                                        "-ERR No such master with that name\r\n",
	} {
		if got := c.roundTrip(cmd); got != want {
			t.Errorf("%q = %q, want %q", cmd, got, want)
		}
	}
	want := "*4\r\n$11\r\nannounce-ip\r\n$8\r\n10.1.2.3\r\n$13\r\nannounce-port\r\n$5\r\n26000\r\n"
	if got := c.roundTrip("SENTINEL CONFIG GET announce-ip announce-port\r\n"); got != want {
		t.Fatalf("CONFIG GET after SET = %q, want %q", got, want)
	}
}
