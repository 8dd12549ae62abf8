package sentinel

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/internal/redistest"
)

// closedByServer reports whether the server closed c's connection.
func closedByServer(c *rawClient) bool {
	_ = c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := c.r.ReadByte()
	return err == io.EOF || (err != nil && strings.Contains(err.Error(), "reset"))
}

func clientID(t *testing.T, c *rawClient) int64 {
	t.Helper()
	r := c.roundTrip("CLIENT ID\r\n")
	id, err := strconv.ParseInt(strings.TrimSpace(strings.TrimPrefix(r, ":")), 10, 64)
	if err != nil {
		t.Fatalf("CLIENT ID: %q", r)
	}
	return id
}

// TestClientKill: CLIENT KILL in both forms closes the matching
// connections and answers like redis-server (+OK / -ERR No such client for
// the old form, the number killed for filters).
func TestClientKill(t *testing.T) {
	n := authNode(t)
	auth := func(c *rawClient, user, pass string) {
		t.Helper()
		if r := c.roundTrip("AUTH " + user + " " + pass + "\r\n"); r != "+OK\r\n" {
			t.Fatalf("AUTH: %q", r)
		}
	}
	admin := dialRaw(t, n.Addr())
	auth(admin, "default", "s3cret")

	// Old form: ip:port.
	victim := dialRaw(t, n.Addr())
	auth(victim, "alice", "alice-pw")
	addr := victim.conn.LocalAddr().String()
	if r := admin.roundTrip("CLIENT KILL " + addr + "\r\n"); r != "+OK\r\n" {
		t.Fatalf("CLIENT KILL addr: %q", r)
	}
	if !closedByServer(victim) {
		t.Error("killed connection still open")
	}
	if r := admin.roundTrip("CLIENT KILL " + addr + "\r\n"); r != "-ERR No such client\r\n" {
		t.Errorf("CLIENT KILL of a gone addr: %q", r)
	}

	// Filters.
	a1, a2, sub := dialRaw(t, n.Addr()), dialRaw(t, n.Addr()), dialRaw(t, n.Addr())
	auth(a1, "alice", "alice-pw")
	auth(a2, "alice", "alice-pw")
	auth(sub, "default", "s3cret")
	sub.send("SUBSCRIBE +switch-master\r\n")
	sub.reply()
	for _, tc := range []struct{ cmd, want string }{
		{"CLIENT KILL ID abc", "-ERR client-id should be greater than 0\r\n"},
		{"CLIENT KILL ID 0", "-ERR client-id should be greater than 0\r\n"},
		{"CLIENT KILL TYPE bogus", "-ERR Unknown client type 'bogus'\r\n"},
		{"CLIENT KILL USER nobody", "-ERR No such user 'nobody'\r\n"},
		{"CLIENT KILL SKIPME maybe", "-ERR syntax error\r\n"},
		{"CLIENT KILL ID 1 TYPE", "-ERR syntax error\r\n"},
		{"CLIENT KILL FOO bar", "-ERR syntax error\r\n"},
		{"CLIENT KILL ID 999999", ":0\r\n"},
		{"CLIENT KILL TYPE master", ":0\r\n"},
		{"CLIENT KILL MAXAGE 3600", ":0\r\n"},
		{"CLIENT KILL TYPE pubsub", ":1\r\n"},
	} {
		if r := admin.roundTrip(tc.cmd + "\r\n"); r != tc.want {
			t.Errorf("%s: %q, want %q", tc.cmd, r, tc.want)
		}
	}
	if !closedByServer(sub) {
		t.Error("TYPE pubsub did not close the subscriber")
	}
	if r := admin.roundTrip("CLIENT KILL ID " + strconv.FormatInt(clientID(t, a1), 10) + "\r\n"); r != ":1\r\n" {
		t.Errorf("CLIENT KILL ID: %q", r)
	}
	if !closedByServer(a1) {
		t.Error("CLIENT KILL ID did not close the connection")
	}
	if r := admin.roundTrip("CLIENT KILL USER alice\r\n"); r != ":1\r\n" {
		t.Errorf("CLIENT KILL USER alice: %q", r)
	}
	if !closedByServer(a2) {
		t.Error("CLIENT KILL USER did not close the connection")
	}
	// The caller itself is skipped by default, killed after the reply
	// with SKIPME no.
	if r := admin.roundTrip("CLIENT KILL USER default\r\n"); r != ":0\r\n" {
		t.Errorf("CLIENT KILL USER default (skipme): %q", r)
	}
	if r := admin.roundTrip("CLIENT KILL USER default SKIPME no\r\n"); r != ":1\r\n" {
		t.Errorf("CLIENT KILL SKIPME no: %q", r)
	}
	if !closedByServer(admin) {
		t.Error("SKIPME no did not close the caller after the reply")
	}
	check := dialRaw(t, n.Addr())
	auth(check, "default", "s3cret")
	redistest.WaitFor(t, 5*time.Second, "killed connections to leave CLIENT LIST", func() bool {
		return strings.Count(check.roundTrip("CLIENT LIST\r\n"), "id=") == 1
	})
}

// TestClientListFields: CLIENT LIST and CLIENT INFO carry redis-server's
// fields, with user, cmd (container|sub), flags and the subscription
// counts true.
func TestClientListFields(t *testing.T) {
	n := authNode(t)
	c, sub := dialRaw(t, n.Addr()), dialRaw(t, n.Addr())
	c.roundTrip("AUTH alice alice-pw\r\n")
	sub.roundTrip("AUTH s3cret\r\n")
	sub.send("PSUBSCRIBE *\r\n")
	sub.reply()
	list := c.roundTrip("CLIENT LIST\r\n")
	lines := strings.Split(strings.TrimSpace(list[strings.Index(list, "\r\n")+2:]), "\n")
	if len(lines) != 2 {
		t.Fatalf("CLIENT LIST: %q", list)
	}
	fields := func(line string) map[string]string {
		m := map[string]string{}
		for _, kv := range strings.Fields(line) {
			k, v, _ := strings.Cut(kv, "=")
			m[k] = v
		}
		return m
	}
	self, other := fields(lines[0]), fields(lines[1])
	if self["cmd"] != "client|list" || self["user"] != "alice" || self["flags"] != "N" || self["addr"] != c.conn.LocalAddr().String() {
		t.Errorf("own line: %v", self)
	}
	if other["cmd"] != "psubscribe" || other["user"] != "default" || other["flags"] != "P" || other["psub"] != "1" {
		t.Errorf("subscriber's line: %v", other)
	}
	info := c.roundTrip("CLIENT INFO\r\n")
	if !strings.Contains(info, "cmd=client|info user=alice redir=-1 resp=2") {
		t.Errorf("CLIENT INFO: %q", info)
	}
	if r := c.roundTrip("CLIENT LIST TYPE pubsub\r\n"); strings.Count(r, "id=") != 1 || !strings.Contains(r, "flags=P") {
		t.Errorf("CLIENT LIST TYPE pubsub: %q", r)
	}
}

// TestACLReadOnly: ACL shows the configured users as redis-server would
// (passwords as #sha256), and refuses changes with a message saying where
// users are configured.
func TestACLReadOnly(t *testing.T) {
	n := authNode(t)
	c := dialRaw(t, n.Addr())
	c.roundTrip("AUTH alice alice-pw\r\n")
	hash := func(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }
	bulk := func(s string) string { return "$" + strconv.Itoa(len(s)) + "\r\n" + s + "\r\n" }
	for _, tc := range []struct{ cmd, want string }{
		{"ACL WHOAMI", bulk("alice")},
		{"ACL USERS", "*2\r\n" + bulk("alice") + bulk("default")},
		{"ACL LIST", "*2\r\n" + bulk("user alice on #"+hash("alice-pw")+" ~* &* +@all") + bulk("user default on #"+hash("s3cret")+" ~* &* +@all")},
		{"ACL GETUSER nobody", "$-1\r\n"},
		{"ACL GETUSER alice", "*12\r\n" + bulk("flags") + "*1\r\n" + bulk("on") + bulk("passwords") + "*1\r\n" + bulk(hash("alice-pw")) +
			bulk("commands") + bulk("+@all") + bulk("keys") + bulk("~*") + bulk("channels") + bulk("&*") + bulk("selectors") + "*0\r\n"},
		{"ACL CAT nosuch", "-ERR Unknown category 'nosuch'\r\n"},
		{"ACL DRYRUN alice ping", "+OK\r\n"},
		{"ACL DRYRUN bob ping", "-ERR User 'bob' not found\r\n"},
		{"ACL LOG", "*0\r\n"},
		{"ACL WHOAMI x", "-ERR wrong number of arguments for 'acl|whoami' command\r\n"},
		{"ACL NOPE", "-ERR unknown subcommand 'NOPE'. Try ACL HELP.\r\n"},
		{"ACL SETUSER bob on >pw", "-" + errACLReadOnly + "\r\n"},
		{"ACL DELUSER alice", "-" + errACLReadOnly + "\r\n"},
		{"ACL SAVE", "-" + errACLReadOnly + "\r\n"},
		{"ACL LOAD", "-" + errACLReadOnly + "\r\n"},
	} {
		if r := c.roundTrip(tc.cmd + "\r\n"); r != tc.want {
			t.Errorf("%s: %q, want %q", tc.cmd, r, tc.want)
		}
	}
	if r := c.roundTrip("ACL GENPASS\r\n"); !strings.HasPrefix(r, "$64\r\n") {
		t.Errorf("ACL GENPASS: %q", r)
	}
	// Without credentials: the default user, nopass.
	open := unreachableNode(t)
	o := dialRaw(t, open.Addr())
	if r := o.roundTrip("ACL LIST\r\n"); r != "*1\r\n"+bulk("user default on nopass ~* &* +@all") {
		t.Errorf("ACL LIST without credentials: %q", r)
	}
}
