package sentinel

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// CLIENT, as redis-server 7 answers it on a sentinel: SETNAME, GETNAME, ID,
// INFO, LIST [TYPE t | ID id ...], KILL (both forms), SETINFO, HELP.

// clientMeta is what CLIENT LIST shows about a connection beyond its
// identity, and what CLIENT KILL filters on. Guarded by the connection's mu.
type clientMeta struct {
	user    string    // authenticated user; "" is the default user
	sub     string    // subcommand of the last container command (CLIENT LIST's cmd=client|list)
	at      time.Time // when the last command arrived (idle)
	libName string    // CLIENT SETINFO lib-name
	libVer  string    // CLIENT SETINFO lib-ver
	killed  bool      // closed by CLIENT KILL, not yet gone from the list
}

// userName is the connection's user as ACL WHOAMI and CLIENT LIST show it.
// Requires c.mu.
func (c *clientConn) userName() string {
	if c.meta.user == "" {
		return defaultUser
	}
	return c.meta.user
}

// isContainer reports whether a command's first argument is a subcommand
// (redis-server shows those as cmd|sub).
func isContainer(name string) bool {
	switch name {
	case "sentinel", "client", "command", "acl":
		return true
	}
	return false
}

// noteCommand records the command about to run, received at now, for
// CLIENT LIST. Requires c.mu.
func (c *clientConn) noteCommand(name string, args []string, now time.Time) {
	c.meta.at = now
	c.meta.sub = ""
	if len(args) > 1 && isContainer(name) {
		c.meta.sub = args[1]
	}
}

func cmdClient(n *Node, c *clientConn, args []string) bool {
	sub := strings.ToLower(args[1])
	switch sub {
	case "setname":
		if len(args) != 3 {
			c.w.Error(subArityError("client", sub))
			return false
		}
		if !validClientName(args[2]) {
			c.w.Error("ERR Client names cannot contain spaces, newlines or special characters.")
			return false
		}
		c.name = args[2]
		c.w.Simple("OK")
	case "getname":
		if len(args) != 2 {
			c.w.Error(subArityError("client", sub))
			return false
		}
		if c.name == "" {
			c.w.NullBulk()
		} else {
			c.w.Bulk(c.name)
		}
	case "id":
		if len(args) != 2 {
			c.w.Error(subArityError("client", sub))
			return false
		}
		c.w.Int(c.id)
	case "setinfo":
		if len(args) != 4 {
			c.w.Error(subArityError("client", sub))
			return false
		}
		return clientSetInfo(c, args[2], args[3])
	case "info":
		if len(args) != 2 {
			c.w.Error(subArityError("client", sub))
			return false
		}
		c.w.Verbatim(c.infoLine(time.Now()) + "\n")
	case "list":
		clientList(n, c, args)
	case "kill":
		if len(args) < 3 {
			c.w.Error(subArityError("client", sub))
			return false
		}
		return clientKill(n, c, args)
	case "help":
		writeHelp(c, []string{
			"CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
			"GETNAME", "    Return the name of the current connection.",
			"ID", "    Return the ID of the current connection.",
			"INFO", "    Return information about the current client connection.",
			"KILL <ip:port>", "    Kill connection made from <ip:port>.",
			"KILL <option> <value> [<option> <value> [...]]",
			"    Kill connections. Options are:",
			"    * ADDR (<ip:port>|<unixsocket>:0)",
			"      Kill connections made from the specified address",
			"    * LADDR (<ip:port>|<unixsocket>:0)",
			"      Kill connections made to specified local address",
			"    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
			"      Kill connections by type.",
			"    * USER <username>",
			"      Kill connections authenticated by <username>.",
			"    * SKIPME (YES|NO)",
			"      Skip killing current connection (default: yes).",
			"    * ID <client-id>",
			"      Kill connections by client id.",
			"    * MAXAGE <maxage>",
			"      Kill connections older than the specified age.",
			"LIST [options ...]",
			"    Return information about client connections. Options:",
			"    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
			"      Return clients of specified type.",
			"    * ID <client-id> [<client-id> ...]",
			"      Return clients of specified IDs only.",
			"SETNAME <name>", "    Assign the name <name> to the current connection.",
			"SETINFO <option> <value>", "    Set client meta attr. Options are:",
			"    * LIB-NAME: the client lib name.",
			"    * LIB-VER: the client lib version.",
			"HELP", "    Print this help.",
		})
	default:
		c.w.Error(subcommandError(args[1], "client"))
	}
	return false
}

// clientSetInfo answers CLIENT SETINFO LIB-NAME|LIB-VER value (Redis 7.2).
func clientSetInfo(c *clientConn, attr, val string) bool {
	for i := 0; i < len(val); i++ {
		if val[i] < '!' || val[i] > '~' {
			c.w.Error(fmt.Sprintf("ERR %s cannot contain spaces, newlines or special characters.", strings.ToUpper(attr)))
			return false
		}
	}
	switch strings.ToLower(attr) {
	case "lib-name":
		c.meta.libName = val
	case "lib-ver":
		c.meta.libVer = val
	default:
		c.w.Error(fmt.Sprintf("ERR Unrecognized option '%s'", attr))
		return false
	}
	c.w.Simple("OK")
	return false
}

// clientType is the connection's type for TYPE filters: pubsub when it is
// subscribed to anything, else normal (a sentinel has no master or replica
// clients). Requires c.mu.
func (c *clientConn) clientType() string {
	if c.subscribed() {
		return "pubsub"
	}
	return "normal"
}

// validClientType checks a TYPE argument; replica and slave are one type.
func validClientType(t string) (string, bool) {
	switch t = strings.ToLower(t); t {
	case "normal", "pubsub", "master":
		return t, true
	case "replica", "slave":
		return "replica", true
	}
	return "", false
}

// otherClients calls f for every other connection with its mu held. It
// must be called with c.mu held and releases it meanwhile: holding two
// connections' locks at once would deadlock two clients listing each other.
// The writer is untouched until c.mu is taken back; a Pub/Sub push may be
// written in between, before the reply.
func (n *Node) otherClients(c *clientConn, f func(o *clientConn)) {
	c.mu.Unlock()
	defer c.mu.Lock()
	n.conns.Range(func(k, _ any) bool {
		o := k.(*clientConn)
		if o != c {
			o.mu.Lock()
			f(o)
			o.mu.Unlock()
		}
		return true
	})
}

// clientList answers CLIENT LIST [TYPE type] [ID id [id ...]]: one line
// per connection in id order, as redis-server.
func clientList(n *Node, c *clientConn, args []string) {
	var typ string
	var ids map[int64]bool
	for i := 2; i < len(args); {
		switch opt := strings.ToLower(args[i]); {
		case opt == "type" && i+1 < len(args) && ids == nil && typ == "":
			t, ok := validClientType(args[i+1])
			if !ok {
				c.w.Error(fmt.Sprintf("ERR Unknown client type '%s'", args[i+1]))
				return
			}
			typ = t
			i += 2
		case opt == "id" && i+1 < len(args) && ids == nil && typ == "":
			ids = map[int64]bool{}
			for i++; i < len(args); i++ {
				id, err := strconv.ParseInt(args[i], 10, 64)
				if err != nil || id <= 0 {
					c.w.Error("ERR Invalid client ID")
					return
				}
				ids[id] = true
			}
		default:
			c.w.Error("ERR syntax error")
			return
		}
	}
	now := time.Now()
	want := func(o *clientConn) bool {
		return (typ == "" || o.clientType() == typ) && (ids == nil || ids[o.id])
	}
	type line struct {
		id   int64
		text string
	}
	var lines []line
	if want(c) {
		lines = append(lines, line{c.id, c.infoLine(now)})
	}
	n.otherClients(c, func(o *clientConn) {
		if want(o) && !o.meta.killed {
			lines = append(lines, line{o.id, o.infoLine(now)})
		}
	})
	var b strings.Builder
	for len(lines) > 0 {
		min := 0
		for i := range lines {
			if lines[i].id < lines[min].id {
				min = i
			}
		}
		b.WriteString(lines[min].text)
		b.WriteByte('\n')
		lines = append(lines[:min], lines[min+1:]...)
	}
	c.w.Verbatim(b.String())
}

// killFilter is CLIENT KILL's filter form.
type killFilter struct {
	id           int64
	typ          string
	addr, laddr  string
	user         string
	skipMe       bool
	maxAge       int64 // seconds; 0 = any
	hasUser      bool
	hasAddr      bool
	hasLaddr     bool
	hasType      bool
	hasID        bool
	hasMaxAge    bool
	legacyFormat bool
}

func (f *killFilter) match(c *clientConn, now time.Time) bool {
	switch {
	case f.hasID && c.id != f.id,
		f.hasType && c.clientType() != f.typ,
		f.hasAddr && c.netConn.RemoteAddr().String() != f.addr,
		f.hasLaddr && c.netConn.LocalAddr().String() != f.laddr,
		f.hasUser && c.userName() != f.user,
		f.hasMaxAge && int64(now.Sub(c.created).Seconds()) <= f.maxAge:
		return false
	}
	return true
}

// clientKill answers CLIENT KILL ip:port (+OK or -ERR No such client) and
// CLIENT KILL <filter> <value> ... (the number of connections closed),
// with redis-server's errors. A killed connection is closed at once; the
// caller's own connection, when it matches (old form, or SKIPME no), is
// closed after the reply.
func clientKill(n *Node, c *clientConn, args []string) (quit bool) {
	f := killFilter{skipMe: true}
	if len(args) == 3 {
		f.addr, f.hasAddr, f.skipMe, f.legacyFormat = args[2], true, false, true
	} else if len(args)%2 != 0 {
		c.w.Error("ERR syntax error")
		return false
	}
	for i := 2; !f.legacyFormat && i+1 < len(args); i += 2 {
		val := args[i+1]
		switch strings.ToLower(args[i]) {
		case "id":
			id, err := strconv.ParseInt(val, 10, 64)
			if err != nil || id < 1 {
				c.w.Error("ERR client-id should be greater than 0")
				return false
			}
			f.id, f.hasID = id, true
		case "type":
			t, ok := validClientType(val)
			if !ok {
				c.w.Error(fmt.Sprintf("ERR Unknown client type '%s'", val))
				return false
			}
			f.typ, f.hasType = t, true
		case "addr":
			f.addr, f.hasAddr = val, true
		case "laddr":
			f.laddr, f.hasLaddr = val, true
		case "user":
			if !n.userExists(val) {
				c.w.Error(fmt.Sprintf("ERR No such user '%s'", val))
				return false
			}
			f.user, f.hasUser = val, true
		case "skipme":
			switch strings.ToLower(val) {
			case "yes":
				f.skipMe = true
			case "no":
				f.skipMe = false
			default:
				c.w.Error("ERR syntax error")
				return false
			}
		case "maxage":
			age, err := strconv.ParseInt(val, 10, 64)
			if err != nil {
				c.w.Error("ERR value is not an integer or out of range")
				return false
			}
			f.maxAge, f.hasMaxAge = age, true
		default:
			c.w.Error("ERR syntax error")
			return false
		}
	}
	now := time.Now()
	killed := int64(0)
	self := !f.skipMe && f.match(c, now)
	if self {
		killed++
	}
	n.otherClients(c, func(o *clientConn) {
		if !o.meta.killed && f.match(o, now) {
			o.meta.killed = true
			_ = o.netConn.Close()
			killed++
		}
	})
	if f.legacyFormat {
		if killed == 0 {
			c.w.Error("ERR No such client")
			return false
		}
		c.w.Simple("OK")
	} else {
		c.w.Int(killed)
	}
	if self {
		n.log.Debug("client killed itself", "client", c.id)
	}
	return self
}

// infoLine describes a client as CLIENT LIST and CLIENT INFO do, with
// redis-server 7.2's fields in its order; the buffer and memory fields,
// which describe redis-server's internals, are 0. Requires c.mu.
func (c *clientConn) infoLine(now time.Time) string {
	sub, psub := 0, 0
	if c.sub != nil {
		sub, psub = len(c.sub.channels), len(c.sub.patterns)
	}
	age, idle := int64(0), int64(0)
	if !c.created.IsZero() {
		age = int64(now.Sub(c.created).Seconds())
		last := c.meta.at
		if last.IsZero() {
			last = c.created
		}
		idle = int64(now.Sub(last).Seconds())
	}
	flags := "N"
	if c.subscribed() {
		flags = "P"
	}
	cmd := c.lastCmd
	if c.meta.sub != "" {
		cmd += "|" + strings.ToLower(c.meta.sub)
	}
	if cmd == "" {
		cmd = "NULL"
	}
	return fmt.Sprintf("id=%d addr=%s laddr=%s fd=%d name=%s age=%d idle=%d flags=%s db=0 sub=%d psub=%d ssub=0 multi=-1 "+
		"qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd=%s user=%s redir=-1 resp=%d lib-name=%s lib-ver=%s",
		c.id, c.netConn.RemoteAddr(), c.netConn.LocalAddr(), connFD(c.netConn), c.name, age, idle, flags, sub, psub,
		cmd, c.userName(), c.w.Proto, c.meta.libName, c.meta.libVer)
}

// connFD is the connection's file descriptor, -1 when it has none (TLS).
func connFD(c net.Conn) int {
	if s, ok := c.(*loopSock); ok {
		return s.lc.fd
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return -1
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return -1
	}
	fd := -1
	_ = rc.Control(func(f uintptr) { fd = int(f) })
	return fd
}
