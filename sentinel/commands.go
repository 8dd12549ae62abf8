package sentinel

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// command is one top-level command of the Sentinel-protocol port. arity
// follows redis-server's convention: n > 0 means exactly n arguments
// (command name included), n < 0 means at least -n.
type command struct {
	arity int
	// pubsubOK commands may run while a RESP2 client is subscribed.
	pubsubOK bool
	run      func(n *Node, c *clientConn, args []string) (quit bool)
}

// commandTable lists the commands a sentinel answers; everything else gets
// redis-server's unknown-command error. Built per call: no package state.
func commandTable() map[string]*command {
	return map[string]*command{
		"ping":         {arity: -1, pubsubOK: true, run: cmdPing},
		"info":         {arity: -1, run: cmdInfo},
		"role":         {arity: 1, run: cmdRole},
		"sentinel":     {arity: -2, run: cmdSentinel},
		"hello":        {arity: -1, run: cmdHello},
		"auth":         {arity: -2, run: cmdAuth},
		"client":       {arity: -2, run: cmdClient},
		"command":      {arity: -1, run: cmdCommand},
		"subscribe":    {arity: -2, pubsubOK: true, run: cmdSubscribe},
		"psubscribe":   {arity: -2, pubsubOK: true, run: cmdPSubscribe},
		"unsubscribe":  {arity: -1, pubsubOK: true, run: cmdUnsubscribe},
		"punsubscribe": {arity: -1, pubsubOK: true, run: cmdPUnsubscribe},
		"quit":         {arity: -1, pubsubOK: true, run: cmdQuit},
		"reset":        {arity: 1, pubsubOK: true, run: cmdReset},
		"shutdown":     {arity: -1, run: cmdShutdown},
		"acl":          {arity: -2, run: cmdACL},
	}
}

// resolved is a command line looked up: the command, and for SENTINEL the
// subcommand, each found with its arity checked (nil otherwise).
type resolved struct {
	cmd *command
	sub *sentinelSub
}

// dispatch runs one command, received at now, and writes its reply. raw
// is only valid during the call. Requires c.mu.
func (n *Node) dispatch(c *clientConn, raw [][]byte, now time.Time) (quit bool) {
	args, repeat := c.commandArgs(raw)
	if !repeat || c.last.cmd == nil {
		c.last = resolved{}
		c.lastCmd = lowerCached(c.lastCmd, raw[0])
		cmd, ok := n.commands[c.lastCmd]
		if !ok {
			c.w.Error(unknownCommandError(args))
			return false
		}
		if !arityOK(cmd.arity, len(args)) {
			c.w.Error(fmt.Sprintf("ERR wrong number of arguments for '%s' command", c.lastCmd))
			return false
		}
		c.last.cmd = cmd
	}
	cmd, name := c.last.cmd, c.lastCmd
	c.noteCommand(name, args, now)
	if !n.checkAuth(c, name) {
		return false
	}
	if c.subscribed() && c.w.Proto < 3 && !cmd.pubsubOK {
		full := name
		if isContainer(name) {
			if len(args) > 1 {
				full += "|" + strings.ToLower(args[1])
			}
		}
		c.w.Error(fmt.Sprintf("ERR Can't execute '%s': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context", full))
		return false
	}
	return cmd.run(n, c, args)
}

// arityOK reports whether n arguments (command name included) fit arity,
// in redis-server's convention: exactly arity when positive, at least
// -arity when negative.
func arityOK(arity, n int) bool {
	return (arity <= 0 || n == arity) && (arity >= 0 || n >= -arity)
}

// unknownCommandError is redis-server's error text for an unknown command,
// quoting the first arguments up to 128 bytes.
func unknownCommandError(args []string) string {
	var b strings.Builder
	for _, a := range args[1:] {
		if b.Len() >= 128 {
			break
		}
		a = a[:min(len(a), 128-b.Len())]
		b.WriteString("'" + a + "' ")
	}
	cmd := args[0][:min(len(args[0]), 128)]
	return fmt.Sprintf("ERR unknown command '%s', with args beginning with: %s", cmd, b.String())
}

func subcommandError(sub, cmd string) string {
	return fmt.Sprintf("ERR unknown subcommand '%s'. Try %s HELP.", sub[:min(len(sub), 128)], strings.ToUpper(cmd))
}

func subArityError(cmd, sub string) string {
	return fmt.Sprintf("ERR wrong number of arguments for '%s|%s' command", cmd, strings.ToLower(sub))
}

func cmdPing(n *Node, c *clientConn, args []string) bool {
	if len(args) > 2 {
		c.w.Error("ERR wrong number of arguments for 'ping' command")
		return false
	}
	if c.subscribed() && c.w.Proto < 3 {
		c.w.Array(2)
		c.w.Bulk("pong")
		if len(args) == 2 {
			c.w.Bulk(args[1])
		} else {
			c.w.Bulk("")
		}
		return false
	}
	if len(args) == 2 {
		c.w.Bulk(args[1])
		return false
	}
	c.w.Simple("PONG")
	return false
}

func cmdQuit(n *Node, c *clientConn, args []string) bool {
	c.w.Simple("OK")
	return true
}

func cmdReset(n *Node, c *clientConn, args []string) bool {
	if c.sub != nil {
		n.bus.update(func() {
			clear(c.sub.channels)
			clear(c.sub.patterns)
		})
	}
	c.name = ""
	c.w.Proto = 2
	c.authed = false
	c.meta.user = ""
	c.w.Simple("RESET")
	return false
}

func cmdRole(n *Node, c *clientConn, args []string) bool {
	n.mu.Lock()
	names := n.names
	n.mu.Unlock()
	c.w.Array(2)
	c.w.Bulk("sentinel")
	c.w.BulkStrings(names)
	return false
}

func cmdHello(n *Node, c *clientConn, args []string) bool {
	proto := c.w.Proto
	i := 1
	if len(args) > 1 {
		v, err := strconv.Atoi(args[1])
		if err != nil {
			c.w.Error("ERR Protocol version is not an integer or out of range")
			return false
		}
		if v < 2 || v > 3 {
			c.w.Error("NOPROTO unsupported protocol version")
			return false
		}
		proto = v
		i = 2
	}
	name := c.name
	var authUser, authPass string
	authGiven := false
	for ; i < len(args); i++ {
		opt := strings.ToLower(args[i])
		switch {
		case opt == "auth" && i+2 < len(args):
			authUser, authPass, authGiven = args[i+1], args[i+2], true
			i += 2
		case opt == "setname" && i+1 < len(args):
			if !validClientName(args[i+1]) {
				c.w.Error("ERR Client names cannot contain spaces, newlines or special characters.")
				return false
			}
			name = args[i+1]
			i++
		default:
			c.w.Error(fmt.Sprintf("ERR Syntax error in HELLO option '%s'", args[i]))
			return false
		}
	}
	if !n.helloAuth(c, authGiven, authUser, authPass) {
		return false
	}
	c.w.Proto = proto
	c.name = name
	c.w.Map(6)
	c.w.Bulk("server")
	c.w.Bulk("redis")
	c.w.Bulk("version")
	c.w.Bulk(redisCompatVersion)
	c.w.Bulk("proto")
	c.w.Int(int64(proto))
	c.w.Bulk("id")
	c.w.Int(c.id)
	c.w.Bulk("mode")
	c.w.Bulk("sentinel")
	c.w.Bulk("modules")
	c.w.Array(0)
	return false
}

func cmdAuth(n *Node, c *clientConn, args []string) bool {
	if len(args) > 3 {
		c.w.Error("ERR syntax error")
		return false
	}
	if n.cfg.Node.AuthRequired() {
		n.authenticate(c, args[1:])
		return false
	}
	if len(args) == 3 {
		// Without credentials the default user is "nopass": AUTH default
		// <anything> succeeds and other users do not exist, as in
		// redis-server.
		if args[1] == defaultUser {
			c.meta.user = ""
			c.w.Simple("OK")
		} else {
			c.w.Error(errWrongPass)
		}
		return false
	}
	c.w.Error("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?")
	return false
}

func validClientName(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '!' || s[i] > '~' {
			return false
		}
	}
	return true
}

func cmdCommand(n *Node, c *clientConn, args []string) bool {
	if len(args) == 1 {
		c.w.Array(0)
		return false
	}
	switch sub := strings.ToLower(args[1]); sub {
	case "count":
		c.w.Int(int64(len(n.commands)))
	case "docs", "info":
		c.w.Map(0)
	case "list":
		names := make([]string, 0, len(n.commands))
		for k := range n.commands {
			names = append(names, k)
		}
		c.w.BulkStrings(sortedStrings(names))
	default:
		c.w.Error(subcommandError(args[1], "command"))
	}
	return false
}

func (c *clientConn) subscribed() bool {
	return c.sub != nil && (len(c.sub.channels) > 0 || len(c.sub.patterns) > 0)
}

func (n *Node) ensureSub(c *clientConn) {
	if c.sub == nil {
		c.sub = n.bus.subscribe()
	}
}

func (c *clientConn) subCount() int64 {
	return int64(len(c.sub.channels) + len(c.sub.patterns))
}

func cmdSubscribe(n *Node, c *clientConn, args []string) bool {
	n.ensureSub(c)
	for _, ch := range args[1:] {
		n.bus.update(func() { c.sub.channels[ch] = struct{}{} })
		c.w.Push(3)
		c.w.Bulk("subscribe")
		c.w.Bulk(ch)
		c.w.Int(c.subCount())
	}
	return false
}

func cmdPSubscribe(n *Node, c *clientConn, args []string) bool {
	n.ensureSub(c)
	for _, p := range args[1:] {
		n.bus.update(func() { c.sub.patterns[p] = struct{}{} })
		c.w.Push(3)
		c.w.Bulk("psubscribe")
		c.w.Bulk(p)
		c.w.Int(c.subCount())
	}
	return false
}

func cmdUnsubscribe(n *Node, c *clientConn, args []string) bool {
	return n.unsubscribe(c, args[1:], "unsubscribe", func(s *subscriber) map[string]struct{} { return s.channels })
}

func cmdPUnsubscribe(n *Node, c *clientConn, args []string) bool {
	return n.unsubscribe(c, args[1:], "punsubscribe", func(s *subscriber) map[string]struct{} { return s.patterns })
}

// unsubscribe removes the named channels or patterns (all of them when none
// is named) and confirms each, as redis-server does.
func (n *Node) unsubscribe(c *clientConn, names []string, kind string, set func(*subscriber) map[string]struct{}) bool {
	n.ensureSub(c)
	m := set(c.sub)
	if len(names) == 0 {
		names = sortedStrings(keys(m))
		if len(names) == 0 {
			c.w.Push(3)
			c.w.Bulk(kind)
			c.w.NullBulk()
			c.w.Int(c.subCount())
			return false
		}
	}
	for _, name := range names {
		n.bus.update(func() { delete(m, name) })
		c.w.Push(3)
		c.w.Bulk(kind)
		c.w.Bulk(name)
		c.w.Int(c.subCount())
	}
	return false
}

// writeHelp writes a HELP reply as redis-server does: an array of status
// lines.
func writeHelp(c *clientConn, lines []string) {
	c.w.Array(len(lines))
	for _, l := range lines {
		c.w.Simple(l)
	}
}

// infoServer is INFO's Server section with redis-server's fields in its
// order (those describing redis-server's build say what vigil is built
// with), plus vigil_version.
func (n *Node) infoServer() []string {
	now := time.Now()
	up := now.Sub(n.start)
	osName := osDescription()
	exe, _ := os.Executable()
	return []string{
		"redis_version:" + redisCompatVersion,
		"redis_git_sha1:00000000",
		"redis_git_dirty:0",
		"redis_build_id:0",
		"redis_mode:sentinel",
		"os:" + osName,
		"arch_bits:" + strconv.Itoa(strconv.IntSize),
		"monotonic_clock:Go runtime",
		"multiplexing_api:" + runtime.Version(),
		"atomicvar_api:sync/atomic",
		"gcc_version:0.0.0",
		"process_id:" + strconv.Itoa(os.Getpid()),
		"process_supervised:no",
		"run_id:" + n.id,
		"tcp_port:" + portOf(n.Addr()),
		"server_time_usec:" + strconv.FormatInt(now.UnixMicro(), 10),
		"uptime_in_seconds:" + strconv.FormatInt(int64(up.Seconds()), 10),
		"uptime_in_days:" + strconv.FormatInt(int64(up.Hours()/24), 10),
		"hz:10",
		"configured_hz:10",
		"lru_clock:" + strconv.FormatInt(now.Unix()&(1<<24-1), 10),
		"executable:" + exe,
		"config_file:",
		"io_threads_active:0",
		"vigil_version:" + Version,
	}
}

// infoClients is INFO's Clients section with redis-server's fields.
func (n *Node) infoClients() []string {
	count := 0
	n.conns.Range(func(_, _ any) bool {
		count++
		return true
	})
	return []string{
		"connected_clients:" + strconv.Itoa(count),
		"cluster_connections:0",
		"maxclients:10000",
		"client_recent_max_input_buffer:0",
		"client_recent_max_output_buffer:0",
		"blocked_clients:0",
		"tracking_clients:0",
		"clients_in_timeout_table:0",
	}
}

// infoCPU is INFO's CPU section: the process's CPU time (Go has no single
// main thread; the main-thread fields repeat the process's).
func infoCPU() []string {
	var self, children syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	_ = syscall.Getrusage(syscall.RUSAGE_CHILDREN, &children)
	secs := func(tv syscall.Timeval) string {
		return strconv.FormatFloat(float64(tv.Sec)+float64(tv.Usec)/1e6, 'f', 6, 64)
	}
	return []string{
		"used_cpu_sys:" + secs(self.Stime),
		"used_cpu_user:" + secs(self.Utime),
		"used_cpu_sys_children:" + secs(children.Stime),
		"used_cpu_user_children:" + secs(children.Utime),
		"used_cpu_sys_main_thread:" + secs(self.Stime),
		"used_cpu_user_main_thread:" + secs(self.Utime),
	}
}
