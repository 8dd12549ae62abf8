package config

import (
	"bytes"
	"encoding/base64"
	"errors"
	"math/rand"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"github.com/vigil-ha/vigil/topology"
)

// writeSentinelConf writes conf as sentinel.conf in a fresh directory and
// returns its path.
func writeSentinelConf(t *testing.T, conf string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sentinel.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// relative strips dir from the file names in s, so that expectations read
// "sentinel.conf:3".
func relative(s, dir string) string {
	if dir == "" {
		return s
	}
	return strings.ReplaceAll(s, dir+string(filepath.Separator), "")
}

func warningLines(warns []Warning, dir string) []string {
	var out []string
	for _, w := range warns {
		out = append(out, relative(w.String(), dir))
	}
	return out
}

// sentinelDefaults is what LoadSentinelConf makes of a file with nothing
// but the given masters: Sentinel listens on every interface on 26379.
func sentinelDefaults(masters ...MasterConfig) Config {
	c := Default()
	c.Node.Listen = ":26379"
	c.Gossip.Bind = ":36379"
	for _, m := range masters {
		c.Masters[m.Name] = m
	}
	return c
}

func master(name, addr string, quorum int, modify ...func(*MasterConfig)) MasterConfig {
	a, err := topology.ParseAddr(addr)
	if err != nil {
		panic(err)
	}
	m := NewMaster(name, a, quorum)
	for _, f := range modify {
		f(&m)
	}
	return m
}

const monitorLine = "sentinel monitor mymaster 127.0.0.1 6379 2\n"

func TestLoadSentinelConf(t *testing.T) {
	mymaster := master("mymaster", "127.0.0.1:6379", 2)
	tests := []struct {
		name  string
		conf  string
		want  Config   // compared when errs is nil
		warns []string // exact warnings
	}{
		{
			name: "minimal",
			conf: monitorLine,
			want: sentinelDefaults(mymaster),
		},
		{
			name: "empty file",
			conf: "",
			want: sentinelDefaults(),
		},
		{
			name: "comments, blank lines, CRLF and indentation",
			conf: "# comment\r\n\r\n   \t\n  sentinel monitor mymaster 127.0.0.1 6379 2  \r\n\t# indented comment\n",
			want: sentinelDefaults(mymaster),
		},
		{
			name: "per-master directives before their monitor line, any case",
			conf: "SENTINEL DOWN-AFTER-MILLISECONDS mymaster 5000\n" +
				"Sentinel failover-timeout mymaster 60000\n" +
				"sentinel parallel-syncs mymaster 3\n" +
				"sentinel Monitor mymaster 127.0.0.1 6379 2\n",
			want: sentinelDefaults(master("mymaster", "127.0.0.1:6379", 2, func(m *MasterConfig) {
				m.DownAfter = 5 * time.Second
				m.FailoverTimeout = time.Minute
				m.ParallelSyncs = 3
			})),
		},
		{
			name: "port moves the gossip port too",
			conf: "port 26380\n" + monitorLine,
			want: func() Config {
				c := sentinelDefaults(mymaster)
				c.Node.Listen, c.Gossip.Bind = ":26380", ":36380"
				return c
			}(),
		},
		{
			name: "gossip port wraps around above 65535",
			conf: "port 60000\nbind 10.0.0.1\n",
			want: func() Config {
				c := sentinelDefaults()
				c.Node.Listen, c.Gossip.Bind = "10.0.0.1:60000", "10.0.0.1:5488"
				return c
			}(),
		},
		{
			name: "first bind address, IPv6",
			conf: "bind ::1 127.0.0.1\n",
			want: func() Config {
				c := sentinelDefaults()
				c.Node.Listen, c.Gossip.Bind = "[::1]:26379", "[::1]:36379"
				return c
			}(),
			warns: []string{"bind: vigil listens on one address, ::1; not on 127.0.0.1 (sentinel.conf:1)"},
		},
		{
			name: "optional bind address",
			conf: "bind -192.168.1.10\n",
			want: func() Config {
				c := sentinelDefaults()
				c.Node.Listen, c.Gossip.Bind = "192.168.1.10:26379", "192.168.1.10:36379"
				return c
			}(),
		},
		{
			name: "bind addresses in one quoted argument",
			conf: "bind \"127.0.0.1 -::1\"\n",
			want: func() Config {
				c := sentinelDefaults()
				c.Node.Listen, c.Gossip.Bind = "127.0.0.1:26379", "127.0.0.1:36379"
				return c
			}(),
			warns: []string{"bind: vigil listens on one address, 127.0.0.1; not on ::1 (sentinel.conf:1)"},
		},
		{
			name: "bind * -::* is every interface",
			conf: "bind * -::*\n",
			want: sentinelDefaults(),
		},
		{
			name: "bind 0.0.0.0 is every interface",
			conf: "bind 0.0.0.0\n",
			want: sentinelDefaults(),
		},
		{
			name: "the last port and bind win",
			conf: "port 1000\nbind 10.0.0.1\nport 2000\nbind 10.0.0.2\n",
			want: func() Config {
				c := sentinelDefaults()
				c.Node.Listen, c.Gossip.Bind = "10.0.0.2:2000", "10.0.0.2:12000"
				return c
			}(),
		},
		{
			name: "bind to a hostname: gossip on every interface",
			conf: "bind localhost\n",
			want: func() Config {
				c := sentinelDefaults()
				c.Node.Listen = "localhost:26379"
				return c
			}(),
			warns: []string{"bind: localhost is not an IP address, which gossip needs: gossip.bind listens on all interfaces (sentinel.conf:1)"},
		},
		{
			name: "dir is the data dir",
			conf: "dir \"/var/lib/redis sentinel\"\n",
			want: func() Config {
				c := sentinelDefaults()
				c.Node.DataDir = "/var/lib/redis sentinel"
				return c
			}(),
		},
		{
			name: "myid is the node id",
			conf: "sentinel myid 0123456789abcdef0123456789abcdef01234567\n",
			want: func() Config {
				c := sentinelDefaults()
				c.Node.ID = "0123456789abcdef0123456789abcdef01234567"
				return c
			}(),
		},
		{
			name: "loglevel verbose",
			conf: "loglevel verbose\n",
			want: func() Config { c := sentinelDefaults(); c.Log.Level = LevelDebug; return c }(),
		},
		{
			name: "loglevel debug",
			conf: "loglevel debug\n",
			want: func() Config { c := sentinelDefaults(); c.Log.Level = LevelDebug; return c }(),
		},
		{
			name: "loglevel NOTICE",
			conf: "loglevel NOTICE\n",
			want: sentinelDefaults(),
		},
		{
			name: "loglevel warning",
			conf: "loglevel warning\n",
			want: func() Config { c := sentinelDefaults(); c.Log.Level = LevelWarn; return c }(),
		},
		{
			name: "loglevel nothing (redis 7.2)",
			conf: "loglevel nothing\n",
			want: func() Config { c := sentinelDefaults(); c.Log.Level = LevelError; return c }(),
		},
		{
			name: "announce-ip and announce-port",
			conf: "sentinel announce-port 30000\nsentinel announce-ip 203.0.113.7\n",
			want: func() Config {
				c := sentinelDefaults()
				c.Node.Announce, c.Gossip.Advertise = "203.0.113.7:30000", "203.0.113.7:40000"
				return c
			}(),
		},
		{
			name: "announce-ip IPv6 with the listen port",
			conf: "sentinel announce-ip 2001:db8::7\n",
			want: func() Config {
				c := sentinelDefaults()
				c.Node.Announce, c.Gossip.Advertise = "[2001:db8::7]:26379", "[2001:db8::7]:36379"
				return c
			}(),
		},
		{
			name: "announce-ip hostname: no gossip advertise",
			conf: "sentinel announce-ip sentinel-0.example.com\n",
			want: func() Config {
				c := sentinelDefaults()
				c.Node.Announce = "sentinel-0.example.com:26379"
				return c
			}(),
		},
		{
			name: "announce-ip empty is unset",
			conf: "sentinel announce-ip \"\"\nsentinel announce-port 0\n",
			want: sentinelDefaults(),
		},
		{
			name: "announce-port with a bind address",
			conf: "bind 10.0.0.1\nsentinel announce-port 30000\n",
			want: func() Config {
				c := sentinelDefaults()
				c.Node.Listen, c.Gossip.Bind = "10.0.0.1:26379", "10.0.0.1:36379"
				c.Node.Announce, c.Gossip.Advertise = "10.0.0.1:30000", "10.0.0.1:40000"
				return c
			}(),
		},
		{
			name:  "announce-port alone on every interface",
			conf:  "sentinel announce-port 30000\n",
			want:  sentinelDefaults(),
			warns: []string{"sentinel announce-port: ignored without announce-ip when listening on all interfaces: vigil needs a host to announce (sentinel.conf:1)"},
		},
		{
			name: "auth with quoting and escapes",
			conf: monitorLine +
				"sentinel auth-user mymaster \"vigil user\"\n" +
				"sentinel auth-pass mymaster 'it\\'s \"a\" p#ss'\n" +
				"sentinel monitor other 127.0.0.1 6380 1\n" +
				"sentinel auth-pass other \"tab\\there\\x41\\\\\"\n",
			want: sentinelDefaults(
				master("mymaster", "127.0.0.1:6379", 2, func(m *MasterConfig) {
					m.AuthUser, m.AuthPass = "vigil user", `it's "a" p#ss`
				}),
				master("other", "127.0.0.1:6380", 1, func(m *MasterConfig) { m.AuthPass = "tab\there" + "A\\" }),
			),
		},
		{
			name:  "auth-user without auth-pass is dropped, as Sentinel ignores it",
			conf:  monitorLine + "sentinel auth-user mymaster bob\n",
			want:  sentinelDefaults(mymaster),
			warns: []string{"sentinel auth-user: ignored without auth-pass for master mymaster, as Sentinel does (sentinel.conf:2)"},
		},
		{
			name: "IPv6 and hostname masters",
			conf: "sentinel monitor a ::1 6379 1\nsentinel monitor b [2001:db8::1] 6379 1\nsentinel monitor c redis-0.example.com 6379 1\n",
			want: sentinelDefaults(
				master("a", "[::1]:6379", 1),
				master("b", "[2001:db8::1]:6379", 1),
				master("c", "redis-0.example.com:6379", 1),
			),
		},
		{
			name: "silently ignored directives",
			conf: monitorLine +
				"sentinel\n" +
				"protected-mode no\n" +
				"daemonize no\n" +
				"supervised no\n" +
				"logfile \"\"\n" +
				"pidfile \"\"\n" +
				"requirepass \"\"\n" +
				"syslog-enabled no\n" +
				"tls-port 0\n" +
				"tls-replication no\n" +
				"user default on nopass ~* &* +@all\n" +
				"latency-tracking-info-percentiles 50 99 99.9\n" +
				"save \"\"\n" +
				"acllog-max-len 128\n" +
				"maxclients 4064\n" +
				"list-max-ziplist-entries 512\n" +
				"sentinel deny-scripts-reconfig yes\n" +
				"sentinel resolve-hostnames yes\n" +
				"sentinel announce-hostnames no\n" +
				"sentinel sentinel-user \"\"\n" +
				"sentinel master-reboot-down-after-period mymaster 0\n" +
				"sentinel rename-command mymaster CONFIG config\n" +
				"sentinel known-sentinel mymaster 127.0.0.1 26380\n",
			want: sentinelDefaults(mymaster),
		},
		{
			name: "warned directives",
			conf: monitorLine +
				"daemonize yes\n" +
				"pidfile /run/sentinel/redis-sentinel.pid\n" +
				"logfile /var/log/redis/redis-sentinel.log\n" +
				"supervised systemd\n" +
				"syslog-enabled yes\n" +
				"requirepass secret\n" +
				"user admin on >pw +@all\n" +
				"aclfile /etc/redis/users.acl\n" +
				"rename-command CONFIG xyz\n" +
				"loadmodule /usr/lib/redis/mod.so\n" +
				"unixsocket /run/redis.sock\n" +
				"bind-source-addr 10.0.0.9\n" +
				"tls-port 26380\n" +
				"tls-cert-file /etc/redis/cert.pem\n" +
				"tls-replication yes\n" +
				"sentinel rename-command mymaster CONFIG GUESSME\n" +
				"sentinel master-reboot-down-after-period mymaster 5000\n" +
				"sentinel sentinel-user admin\n" +
				"sentinel sentinel-pass secret\n" +
				"sentinel announce-hostnames yes\n",
			want: func() Config {
				c := sentinelDefaults(mymaster)
				c.Node.RequirePass = "secret" // mapped, no warning
				c.Node.AnnounceHostnames = "yes"
				return c
			}(),
			warns: []string{
				"daemonize: ignored: vigil stays in the foreground; run it under a service manager (systemd Type=simple) (sentinel.conf:2)",
				"pidfile: ignored: vigil writes no pid file (sentinel.conf:3)",
				"logfile: ignored: vigil logs to stderr; redirect it, or let systemd's journal keep it (sentinel.conf:4)",
				"supervised: ignored: vigil does not notify a supervisor; use systemd Type=simple (sentinel.conf:5)",
				"syslog-enabled: ignored: vigil logs to stderr only (sentinel.conf:6)",
				"user: not supported yet, ignored: vigil's Sentinel port has no ACL rules; give clients passwords with node.requirepass or node.users (sentinel.conf:8)",
				"aclfile: not supported yet, ignored: vigil's Sentinel port has no ACL users (sentinel.conf:9)",
				"rename-command: not supported yet, ignored; vigil's Sentinel port has no command renaming (sentinel.conf:10)",
				"loadmodule: not supported yet, ignored: vigil loads no Redis modules (sentinel.conf:11)",
				"unixsocket: not supported yet, ignored: vigil listens on TCP only (sentinel.conf:12)",
				"bind-source-addr: not supported yet, ignored: vigil's outgoing connections use the system's source address (sentinel.conf:13)",
				"tls-port: not supported yet, ignored: vigil reads TLS settings from its own configuration; set node.tls for a TLS Sentinel port (sentinel.conf:14)",
				"tls-cert-file: not supported yet, ignored: vigil reads TLS settings from its own configuration; set node.tls for a TLS Sentinel port (sentinel.conf:15)",
				"tls-replication: not supported yet, ignored: vigil reads TLS settings from its own configuration; set masters.NAME.tls to reach Redis over TLS (sentinel.conf:16)",
				"sentinel rename-command: not supported yet, ignored: vigil sends CONFIG under its own name; failovers fail if the master renamed it (sentinel.conf:17)",
				"sentinel master-reboot-down-after-period: not supported yet, ignored: vigil treats a master that answers -LOADING after a restart as reachable (sentinel.conf:18)",
				"sentinel sentinel-user: ignored: vigil nodes talk to each other over gossip, not over the Sentinel port; set gossip.secret-keys to authenticate and encrypt it (sentinel.conf:19)",
				"sentinel sentinel-pass: ignored: vigil nodes talk to each other over gossip, not over the Sentinel port; set gossip.secret-keys to authenticate and encrypt it (sentinel.conf:20)",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeSentinelConf(t, tt.conf)
			dir := filepath.Dir(path)
			cfg, state, warns, err := LoadSentinelConf(path)
			if err != nil {
				t.Fatalf("error: %s", relative(err.Error(), dir))
			}
			if !reflect.DeepEqual(*cfg, tt.want) {
				t.Errorf("config:\n got %+v\nwant %+v", *cfg, tt.want)
			}
			if got := warningLines(warns, dir); !slices.Equal(got, tt.warns) {
				t.Errorf("warnings:\n got %q\nwant %q", got, tt.warns)
			}
			if len(state.Masters) != len(cfg.Masters) {
				t.Errorf("state has %d masters, config %d", len(state.Masters), len(cfg.Masters))
			}
			if err := cfg.Validate(); err != nil {
				t.Errorf("result fails Validate: %v", err)
			}
		})
	}
}

func TestLoadSentinelConfErrors(t *testing.T) {
	tests := []struct {
		name string
		conf string
		want []string // the error's lines
	}{
		{"unknown directive", "foo bar\n",
			[]string{"sentinel.conf:1: foo: Bad directive or wrong number of arguments"}},
		{"include without a file", "include\n",
			[]string{"sentinel.conf:1: include: Bad directive or wrong number of arguments"}},
		{"wrong arity of a server directive", "port 26379 # no trailing comments in redis.conf\n",
			[]string{"sentinel.conf:1: port: wrong number of arguments"}},
		{"port not a number", "port abc\n",
			[]string{"sentinel.conf:1: port: argument couldn't be parsed into an integer"}},
		{"port out of range", "port 70000\n",
			[]string{"sentinel.conf:1: port: argument must be between 0 and 65535 inclusive"}},
		{"port 0", "port 0\n",
			[]string{"sentinel.conf:1: port: port 0 (no TCP listener) is not supported: vigil serves clients over TCP"}},
		{"empty bind", "bind \"\"\n",
			[]string{"sentinel.conf:1: bind: an empty bind (no TCP listener) is not supported: vigil serves clients over TCP"}},
		{"too many bind addresses", "bind" + strings.Repeat(" 10.0.0.1", 17) + "\n",
			[]string{"sentinel.conf:1: bind: Too many bind addresses specified."}},
		{"unbalanced quotes", "port \"26379\n",
			[]string{"sentinel.conf:1: Unbalanced quotes in configuration line"}},
		{"closing quote not followed by a space", "dir \"/tmp\"x\n",
			[]string{"sentinel.conf:1: Unbalanced quotes in configuration line"}},
		{"bad loglevel", "loglevel loud\n",
			[]string{"sentinel.conf:1: loglevel: argument(s) must be one of the following: debug, verbose, notice, warning, nothing"}},
		{"bad yes/no", "daemonize maybe\n",
			[]string{"sentinel.conf:1: daemonize: argument must be 'yes' or 'no'"}},
		{"unknown sentinel directive", "sentinel foo bar\n",
			[]string{"sentinel.conf:1: sentinel foo: Unrecognized sentinel configuration statement."}},
		{"monitor arity", "sentinel monitor m 127.0.0.1 6379\n",
			[]string{"sentinel.conf:1: sentinel monitor: wrong number of arguments, want: sentinel monitor <master-name> <ip> <port> <quorum>"}},
		{"quorum 0", "sentinel monitor m 127.0.0.1 6379 0\n",
			[]string{"sentinel.conf:1: sentinel monitor: Quorum must be 1 or greater."}},
		{"quorum not a number", "sentinel monitor m 127.0.0.1 6379 two\n",
			[]string{`sentinel.conf:1: sentinel monitor: quorum "two" is not a number`}},
		{"master port", "sentinel monitor m 127.0.0.1 70000 2\n",
			[]string{"sentinel.conf:1: sentinel monitor: Invalid port number."}},
		{"master host", "sentinel monitor m \"\" 6379 2\n",
			[]string{"sentinel.conf:1: sentinel monitor: Can't resolve instance hostname."}},
		{"duplicate master", "sentinel monitor m 127.0.0.1 6379 2\nsentinel monitor m 127.0.0.1 6380 2\n",
			[]string{"sentinel.conf:2: sentinel monitor: Duplicate master name."}},
		{"unknown master", monitorLine + "sentinel down-after-milliseconds other 1000\n",
			[]string{"sentinel.conf:2: sentinel down-after-milliseconds: No such master with specified name."}},
		{"master names are case-sensitive", monitorLine + "sentinel auth-pass MyMaster x\n",
			[]string{"sentinel.conf:2: sentinel auth-pass: No such master with specified name."}},
		{"down-after zero", monitorLine + "sentinel down-after-milliseconds mymaster 0\n",
			[]string{"sentinel.conf:2: sentinel down-after-milliseconds: negative or zero time parameter."}},
		{"failover-timeout negative", monitorLine + "sentinel failover-timeout mymaster -1\n",
			[]string{"sentinel.conf:2: sentinel failover-timeout: negative or zero time parameter."}},
		{"down-after not a number", monitorLine + "sentinel down-after-milliseconds mymaster 5s\n",
			[]string{"sentinel.conf:2: sentinel down-after-milliseconds: argument couldn't be parsed into an integer"}},
		{"down-after out of range", monitorLine + "sentinel down-after-milliseconds mymaster 99999999999999999999\n",
			[]string{"sentinel.conf:2: sentinel down-after-milliseconds: 99999999999999999999 milliseconds is out of range"}},
		{"master-reboot negative", monitorLine + "sentinel master-reboot-down-after-period mymaster -1\n",
			[]string{"sentinel.conf:2: sentinel master-reboot-down-after-period: negative time parameter."}},
		{"parallel-syncs 0 breaks a vigil rule", monitorLine + "sentinel parallel-syncs mymaster 0\n",
			[]string{"sentinel.conf:2: sentinel parallel-syncs: masters.mymaster.parallel-syncs: must be >= 1, got 0"}},
		{"master name outside Sentinel's charset", "sentinel monitor my/master 127.0.0.1 6379 2\n",
			[]string{`sentinel.conf:1: sentinel monitor: masters."my/master": invalid master name "my/master": want 1 or more characters from A-Z a-z 0-9 . - _`}},
		{"errors of dotted master names find their line",
			"sentinel monitor a 127.0.0.1 6379 2\nsentinel monitor a.b 127.0.0.1 6380 2\nsentinel parallel-syncs a.b 0\n",
			[]string{"sentinel.conf:3: sentinel parallel-syncs: masters.a.b.parallel-syncs: must be >= 1, got 0"}},
		{"two masters with one address", "sentinel monitor a 127.0.0.1 6379 2\nsentinel monitor b 127.0.0.1 6379 2\n",
			[]string{"sentinel.conf:2: sentinel monitor: masters.b.addr: 127.0.0.1:6379 is also the address of masters.a; each master needs its own address"}},
		{"myid length", "sentinel myid abc\n",
			[]string{"sentinel.conf:1: sentinel myid: Malformed Sentinel id in myid option."}},
		{"myid charset", "sentinel myid 0123456789abcdef0123456789abcdef0123456/\n",
			[]string{`sentinel.conf:1: sentinel myid: node.id: invalid id "0123456789abcdef0123456789abcdef0123456/": want 1 to 64 characters from A-Z a-z 0-9 . - _`}},
		{"deny-scripts-reconfig", "sentinel deny-scripts-reconfig maybe\n",
			[]string{"sentinel.conf:1: sentinel deny-scripts-reconfig: Please specify yes or no for the deny-scripts-reconfig options."}},
		{"resolve-hostnames", "sentinel resolve-hostnames 1\n",
			[]string{"sentinel.conf:1: sentinel resolve-hostnames: Please specify yes or no for the resolve-hostnames option."}},
		{"announce-hostnames", "sentinel announce-hostnames on\n",
			[]string{"sentinel.conf:1: sentinel announce-hostnames: Please specify yes or no for the announce-hostnames option."}},
		{"announce-port", "sentinel announce-port 65536\n",
			[]string{"sentinel.conf:1: sentinel announce-port: Invalid port number."}},
		{"current-epoch", "sentinel current-epoch -1\n",
			[]string{`sentinel.conf:1: sentinel current-epoch: epoch "-1" is not a non-negative integer`}},
		{"config-epoch", monitorLine + "sentinel config-epoch mymaster x\n",
			[]string{`sentinel.conf:2: sentinel config-epoch: epoch "x" is not a non-negative integer`}},
		{"duplicate known-replica", monitorLine + "sentinel known-replica mymaster 10.0.0.2 6379\nsentinel known-slave mymaster 10.0.0.2 6379\n",
			[]string{"sentinel.conf:3: sentinel known-slave: Duplicate hostname and port for replica."}},
		{"known-replica port", monitorLine + "sentinel known-replica mymaster 10.0.0.2 0\n",
			[]string{"sentinel.conf:2: sentinel known-replica: Invalid port number."}},
		{"duplicate known-sentinel", monitorLine +
			"sentinel known-sentinel mymaster 10.0.0.2 26379 aaaa\nsentinel known-sentinel mymaster 10.0.0.3 26379 aaaa\n",
			[]string{"sentinel.conf:3: sentinel known-sentinel: Duplicate runid for sentinel."}},
		{"rename-command twice", monitorLine +
			"sentinel rename-command mymaster config a\nsentinel rename-command mymaster CONFIG b\n",
			[]string{"sentinel.conf:3: sentinel rename-command: Same command renamed multiple times with rename-command."}},
		{"NUL byte", "port 1\x002\n",
			[]string{"sentinel.conf:1: NUL byte in configuration line"}},
		{"every error, in file order, without cascades",
			"sentinel down-after-milliseconds bad 1000\n" + // no error: its monitor line already failed
				"sentinel monitor bad 127.0.0.1 6379 0\n" +
				"loglevel loud\n" +
				"sentinel myid short\n" +
				"sentinel known-replica missing 10.0.0.1 6379\n",
			[]string{
				"sentinel.conf:2: sentinel monitor: Quorum must be 1 or greater.",
				"sentinel.conf:3: loglevel: argument(s) must be one of the following: debug, verbose, notice, warning, nothing",
				"sentinel.conf:4: sentinel myid: Malformed Sentinel id in myid option.",
				"sentinel.conf:5: sentinel known-replica: No such master with specified name.",
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeSentinelConf(t, tt.conf)
			cfg, state, _, err := LoadSentinelConf(path)
			if err == nil {
				t.Fatalf("no error; config %+v", *cfg)
			}
			if cfg != nil || state != nil {
				t.Errorf("returned a config or state with the error")
			}
			got := strings.Split(relative(err.Error(), filepath.Dir(path)), "\n")
			if !slices.Equal(got, tt.want) {
				t.Errorf("error:\n got %q\nwant %q", got, tt.want)
			}
			var ce *SentinelConfError
			if !errors.As(err, &ce) || ce.Line == 0 || ce.File != path {
				t.Errorf("error is not a *SentinelConfError with a position: %#v", err)
			}
		})
	}
}

func TestLoadSentinelConfValidationErrorUnwraps(t *testing.T) {
	path := writeSentinelConf(t, monitorLine+"sentinel parallel-syncs mymaster 0\n")
	_, _, _, err := LoadSentinelConf(path)
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Key != "masters.mymaster.parallel-syncs" {
		t.Fatalf("error does not unwrap to the FieldError: %#v", err)
	}
}

func TestLoadSentinelConfMissingFile(t *testing.T) {
	_, _, _, err := LoadSentinelConf(filepath.Join(t.TempDir(), "nope.conf"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("error = %v, want one wrapping os.ErrNotExist", err)
	}
	if _, _, _, err := LoadSentinelConf(t.TempDir()); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("loading a directory: %v", err)
	}
}

func TestLoadSentinelConfState(t *testing.T) {
	conf := "sentinel known-replica mymaster 10.0.0.2 6379\n" + // before the monitor line
		"sentinel monitor mymaster 10.0.0.1 6379 2\n" +
		"sentinel monitor other 10.0.1.1 6379 2\n" +
		"sentinel current-epoch 7\n" +
		"sentinel config-epoch mymaster 5\n" +
		"sentinel leader-epoch mymaster 7\n" +
		"sentinel config-epoch other 9\n" + // above current-epoch: raises it, as in Sentinel
		"sentinel known-slave mymaster ::1 6380\n" +
		"sentinel known-sentinel mymaster 10.0.0.11 26379 a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1\n" +
		"sentinel known-sentinel mymaster 10.0.0.12 26379\n" + // legacy form without an id: ignored
		"sentinel known-sentinel mymaster 2001:db8::13 26379 b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2\n"
	_, state, warns, err := LoadSentinelConf(writeSentinelConf(t, conf))
	if err != nil || warns != nil {
		t.Fatalf("LoadSentinelConf: %v, %v", warns, err)
	}
	want := &SentinelState{
		CurrentEpoch: 9,
		Masters: map[string]MasterState{
			"mymaster": {
				ConfigEpoch:   5,
				LeaderEpoch:   7,
				KnownReplicas: []string{"10.0.0.2:6379", "[::1]:6380"},
				KnownSentinels: []KnownSentinel{
					{Addr: "10.0.0.11:26379", ID: "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1"},
					{Addr: "[2001:db8::13]:26379", ID: "b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2"},
				},
			},
			"other": {ConfigEpoch: 9},
		},
	}
	if !reflect.DeepEqual(state, want) {
		t.Fatalf("state:\n got %+v\nwant %+v", state, want)
	}
}

func TestLoadSentinelConfInclude(t *testing.T) {
	dir := t.TempDir()
	write := func(name, conf string) string {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	write("conf.d/10-masters.conf", "sentinel monitor a 10.0.0.1 6379 2\nsentinel monitor b 10.0.0.2 6379 2\n")
	write("conf.d/20-tuning.conf", "sentinel down-after-milliseconds a 1000\nlogfile /var/log/x.log\n")
	write("common.conf", "port 26000\n")
	main := write("sentinel.conf", "sentinel down-after-milliseconds b 2000\n"+
		"include common.conf\n"+
		"include conf.d/*.conf\n"+
		"include empty.d/*.conf\n"+ // a pattern may match nothing, as in Redis
		"port 26001\n") // after the include: wins

	cfg, _, warns, err := LoadSentinelConf(main)
	if err != nil {
		t.Fatal(err)
	}
	want := sentinelDefaults(
		master("a", "10.0.0.1:6379", 2, func(m *MasterConfig) { m.DownAfter = time.Second }),
		master("b", "10.0.0.2:6379", 2, func(m *MasterConfig) { m.DownAfter = 2 * time.Second }),
	)
	want.Node.Listen, want.Gossip.Bind = ":26001", ":36001"
	if !reflect.DeepEqual(*cfg, want) {
		t.Errorf("config:\n got %+v\nwant %+v", *cfg, want)
	}
	wantWarns := []string{"logfile: ignored: vigil logs to stderr; redirect it, or let systemd's journal keep it (conf.d/20-tuning.conf:2)"}
	if got := warningLines(warns, dir); !slices.Equal(got, wantWarns) {
		t.Errorf("warnings:\n got %q\nwant %q", got, wantWarns)
	}

	t.Run("missing file", func(t *testing.T) {
		path := write("missing.conf", "include nope.conf\n")
		_, _, _, err := LoadSentinelConf(path)
		if err == nil || relative(err.Error(), dir) != "missing.conf:1: include: stat nope.conf: no such file or directory" || !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("error = %v", err)
		}
	})
	t.Run("cycle", func(t *testing.T) {
		write("loop-b.conf", "include loop-a.conf\n")
		path := write("loop-a.conf", "include loop-b.conf\n")
		_, _, _, err := LoadSentinelConf(path)
		want := "loop-b.conf:1: include: " + filepath.Join(dir, "loop-a.conf") + " includes itself"
		if err == nil || relative(err.Error(), dir) != relative(want, dir) {
			t.Fatalf("error = %v, want %s", err, want)
		}
	})
	t.Run("errors name the included file", func(t *testing.T) {
		write("bad.conf", "\nsentinel monitor m 127.0.0.1 6379 0\n")
		path := write("with-bad.conf", "include bad.conf\n")
		_, _, _, err := LoadSentinelConf(path)
		if err == nil || relative(err.Error(), dir) != "bad.conf:2: sentinel monitor: Quorum must be 1 or greater." {
			t.Fatalf("error = %v", err)
		}
	})
}

func TestSplitArgs(t *testing.T) {
	tests := []struct {
		line string
		want []string // nil with ok false: unbalanced quotes
		ok   bool
	}{
		{"", nil, true},
		{"a b\tc", []string{"a", "b", "c"}, true},
		{"  a   b  ", []string{"a", "b"}, true},
		{`"a b" 'c d'`, []string{"a b", "c d"}, true},
		{`""`, []string{""}, true},
		{`a"b c"`, []string{"ab c"}, true},
		{`"\x41\x4a\x4" "\n\r\t\b\a\z\\\""`, []string{"AJx4", "\n\r\t\b\az\\\""}, true},
		{`'it\'s' '\n'`, []string{"it's", `\n`}, true},
		{"\"a\"\tb", []string{"a", "b"}, true},
		{"a\vb", []string{"a\vb"}, true}, // \v separates only before a token
		{"\va", []string{"a"}, true},
		{`"a"b`, nil, false},
		{`'a'b`, nil, false},
		{`"abc`, nil, false},
		{`'abc`, nil, false},
		{`"abc\"`, nil, false},
		{`"\`, nil, false},
		{`"\x4`, nil, false},
	}
	for _, tt := range tests {
		got, ok := splitArgs(tt.line)
		if ok != tt.ok || !slices.Equal(got, tt.want) {
			t.Errorf("splitArgs(%q) = %q, %v; want %q, %v", tt.line, got, ok, tt.want, tt.ok)
		}
	}
}

func TestSentinelGossipPort(t *testing.T) {
	for port, want := range map[int]int{1: 10001, 6379: 16379, 26379: 36379, 55535: 65535, 55536: 1024, 60000: 5488, 65535: 11023} {
		if got := SentinelGossipPort(port); got != want {
			t.Errorf("SentinelGossipPort(%d) = %d, want %d", port, got, want)
		}
	}
}

// TestLoadSentinelConfDebian loads the sentinel.conf Debian's
// redis-sentinel 7.0.15 package installs, unmodified.
func TestLoadSentinelConfDebian(t *testing.T) {
	path := filepath.Join("testdata", "sentinelconf", "debian-7.0.15.conf")
	cfg, state, warns, err := LoadSentinelConf(path)
	if err != nil {
		t.Fatal(err)
	}
	want := sentinelDefaults(master("mymaster", "127.0.0.1:6379", 2))
	want.Node.DataDir = "/var/lib/redis"
	if !reflect.DeepEqual(*cfg, want) {
		t.Errorf("config:\n got %+v\nwant %+v", *cfg, want)
	}
	wantWarns := []string{
		"daemonize: ignored: vigil stays in the foreground; run it under a service manager (systemd Type=simple) (" + path + ":15)",
		"pidfile: ignored: vigil writes no pid file (" + path + ":20)",
		"logfile: ignored: vigil logs to stderr; redirect it, or let systemd's journal keep it (" + path + ":25)",
	}
	if got := warningLines(warns, ""); !slices.Equal(got, wantWarns) {
		t.Errorf("warnings:\n got %q\nwant %q", got, wantWarns)
	}
	if !reflect.DeepEqual(state, &SentinelState{Masters: map[string]MasterState{"mymaster": {}}}) {
		t.Errorf("state = %+v", state)
	}
}

// TestLoadSentinelConfRewritten loads the files two redis-sentinel 7.0.15
// processes rewrote after discovering each other and the replica, and
// after a SENTINEL FAILOVER of mymaster led by the first one (see
// testdata/sentinelconf/README.md).
func TestLoadSentinelConfRewritten(t *testing.T) {
	const idA, idB = "f7395e136d1380e3079427ef59dd5d4e51c8855f", "ee4ee65f7bf8c116c08365d477616790d8aac793"
	tests := []struct {
		file, id, listen, gossip, dataDir string
		state                             SentinelState
	}{
		{
			file: "rewritten-7.0.15-a.conf", id: idA, listen: "127.0.0.1:38555", gossip: "127.0.0.1:48555", dataDir: "/tmp/sx/live2/s1",
			state: SentinelState{CurrentEpoch: 1, Masters: map[string]MasterState{
				"mymaster": {ConfigEpoch: 1, LeaderEpoch: 1, KnownReplicas: []string{"127.0.0.1:43695"},
					KnownSentinels: []KnownSentinel{{Addr: "127.0.0.1:46609", ID: idB}}},
				"other": {KnownSentinels: []KnownSentinel{{Addr: "127.0.0.1:46609", ID: idB}}},
			}},
		},
		{
			file: "rewritten-7.0.15-b.conf", id: idB, listen: "127.0.0.1:46609", gossip: "127.0.0.1:56609", dataDir: "/tmp/sx/live2/s2",
			state: SentinelState{CurrentEpoch: 1, Masters: map[string]MasterState{
				"mymaster": {ConfigEpoch: 1, LeaderEpoch: 0, KnownReplicas: []string{"127.0.0.1:43695"},
					KnownSentinels: []KnownSentinel{{Addr: "127.0.0.1:38555", ID: idA}}},
				"other": {KnownSentinels: []KnownSentinel{{Addr: "127.0.0.1:38555", ID: idA}}},
			}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			cfg, state, warns, err := LoadSentinelConf(filepath.Join("testdata", "sentinelconf", tt.file))
			if err != nil || warns != nil {
				t.Fatalf("LoadSentinelConf: %v, %v", warns, err)
			}
			want := Default()
			want.Node = NodeConfig{ID: tt.id, Listen: tt.listen, DataDir: tt.dataDir}
			want.Gossip.Bind = tt.gossip
			want.Masters = map[string]MasterConfig{
				// The monitor line names the promoted replica.
				"mymaster": master("mymaster", "127.0.0.1:51521", 2, func(m *MasterConfig) {
					m.DownAfter, m.FailoverTimeout = 5*time.Second, time.Minute
				}),
				"other": master("other", "127.0.0.1:50685", 1, func(m *MasterConfig) { m.AuthPass = "s3cret-pass" }),
			}
			if !reflect.DeepEqual(*cfg, want) {
				t.Errorf("config:\n got %+v\nwant %+v", *cfg, want)
			}
			if !reflect.DeepEqual(*state, tt.state) {
				t.Errorf("state:\n got %+v\nwant %+v", *state, tt.state)
			}
		})
	}
}

// TestLoadSentinelConfOrderIndependent shuffles the lines of a rewritten
// file: like Sentinel's three passes, the result must not change.
func TestLoadSentinelConfOrderIndependent(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "sentinelconf", "rewritten-7.0.15-a.conf"))
	if err != nil {
		t.Fatal(err)
	}
	data = append(data, "sentinel known-replica mymaster 127.0.0.1 1\nsentinel known-replica other 127.0.0.1 2\n"...)
	wantCfg, wantState, _, err := LoadSentinelConf(writeSentinelConf(t, string(data)))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range wantState.Masters {
		slices.Sort(m.KnownReplicas)
	}
	lines := strings.Split(string(data), "\n")
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 50; i++ {
		rng.Shuffle(len(lines), func(a, b int) { lines[a], lines[b] = lines[b], lines[a] })
		cfg, state, _, err := LoadSentinelConf(writeSentinelConf(t, strings.Join(lines, "\n")))
		if err != nil {
			t.Fatalf("shuffle %d: %v", i, err)
		}
		for _, m := range state.Masters {
			slices.Sort(m.KnownReplicas) // file order
		}
		if !reflect.DeepEqual(cfg, wantCfg) || !reflect.DeepEqual(state, wantState) {
			t.Fatalf("shuffle %d:\n%s\ngives %+v %+v", i, strings.Join(lines, "\n"), *cfg, *state)
		}
	}
}

func TestLoadSentinelConfScripts(t *testing.T) {
	dir := t.TempDir()
	notify := writeExecutable(t, dir, "notify.sh")
	reconfig := writeExecutable(t, dir, "reconfig.sh")
	noExec := filepath.Join(dir, "not-executable.sh")
	if err := os.WriteFile(noExec, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cwd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	withScripts := func(n, r string) MasterConfig {
		return master("mymaster", "127.0.0.1:6379", 2, func(m *MasterConfig) { m.NotificationScript, m.ClientReconfigScript = n, r })
	}
	tests := []struct {
		name  string
		conf  string
		want  *MasterConfig // nil: an error is expected
		warns []string
		errs  []string // with DIR for dir and CWD for the working directory
	}{
		{
			name: "absolute paths",
			conf: monitorLine +
				"sentinel notification-script mymaster " + notify + "\n" +
				"sentinel client-reconfig-script mymaster " + reconfig + "\n",
			want: ptr(withScripts(notify, reconfig)),
		},
		{
			name: "script line before monitor, as in rewritten files",
			conf: "sentinel client-reconfig-script mymaster " + reconfig + "\n" + monitorLine,
			want: ptr(withScripts("", reconfig)),
		},
		{
			name: "relative path is taken from dir",
			conf: "dir " + dir + "\n" + monitorLine + "sentinel notification-script mymaster notify.sh\n",
			want: ptr(withScripts(notify, "")),
			warns: []string{
				`sentinel notification-script: relative path "notify.sh" taken from dir "DIR", as Sentinel does: DIR/notify.sh (sentinel.conf:3)`,
			},
		},
		{
			name: "relative path without dir is taken from the working directory",
			conf: monitorLine + "sentinel client-reconfig-script mymaster no-such-reconfig.sh\n",
			warns: []string{
				`sentinel client-reconfig-script: relative path "no-such-reconfig.sh" taken from the current directory, as Sentinel does: CWD/no-such-reconfig.sh (sentinel.conf:2)`,
			},
			errs: []string{"sentinel.conf:2: sentinel client-reconfig-script: Client reconfiguration script seems non existing or non executable: CWD/no-such-reconfig.sh: no such file"},
		},
		{
			name: "missing and not executable",
			conf: monitorLine +
				"sentinel notification-script mymaster " + dir + "/missing.sh\n" +
				"sentinel client-reconfig-script mymaster " + noExec + "\n",
			errs: []string{
				"sentinel.conf:2: sentinel notification-script: Notification script seems non existing or non executable: DIR/missing.sh: no such file",
				"sentinel.conf:3: sentinel client-reconfig-script: Client reconfiguration script seems non existing or non executable: DIR/not-executable.sh: not executable by this user",
			},
		},
		{
			name: "empty path",
			conf: monitorLine + "sentinel notification-script mymaster \"\"\n",
			errs: []string{"sentinel.conf:2: sentinel notification-script: Notification script seems non existing or non executable: empty path"},
		},
		{
			name: "unknown master",
			conf: monitorLine + "sentinel notification-script other " + notify + "\n",
			errs: []string{"sentinel.conf:2: sentinel notification-script: No such master with specified name."},
		},
	}
	placeholders := strings.NewReplacer("DIR", dir, "CWD", cwd)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeSentinelConf(t, tt.conf)
			confDir := filepath.Dir(path)
			cfg, _, warns, err := LoadSentinelConf(path)
			var wantWarns []string
			for _, w := range tt.warns {
				wantWarns = append(wantWarns, placeholders.Replace(w))
			}
			if got := warningLines(warns, confDir); !slices.Equal(got, wantWarns) {
				t.Errorf("warnings:\n got %q\nwant %q", got, wantWarns)
			}
			if tt.want == nil {
				if err == nil {
					t.Fatalf("no error; config %+v", *cfg)
				}
				var wantErrs []string
				for _, e := range tt.errs {
					wantErrs = append(wantErrs, placeholders.Replace(e))
				}
				if got := strings.Split(relative(err.Error(), confDir), "\n"); !slices.Equal(got, wantErrs) {
					t.Errorf("error:\n got %q\nwant %q", got, wantErrs)
				}
				return
			}
			if err != nil {
				t.Fatalf("error: %v", err)
			}
			if got := cfg.Masters["mymaster"]; !reflect.DeepEqual(got, *tt.want) {
				t.Errorf("master:\n got %+v\nwant %+v", got, *tt.want)
			}
			roundTrip(t, cfg)
		})
	}
}

func ptr[T any](v T) *T { return &v }

// TestSentinelConfUnderEnvAndFlags: what `vigil run --sentinel-conf` does —
// VIGIL_* variables and flags override the converted file, which is left
// as it was.
func TestSentinelConfUnderEnvAndFlags(t *testing.T) {
	path := writeSentinelConf(t, "port 26390\nsentinel monitor mymaster 127.0.0.1 6380 2\nsentinel down-after-milliseconds mymaster 2000\n")
	base, _, _, err := LoadSentinelConf(path)
	if err != nil {
		t.Fatal(err)
	}
	before := base.clone()
	fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
	BindFlags(fs)
	if err := fs.Parse([]string{"--log-level", "debug"}); err != nil {
		t.Fatal(err)
	}
	key := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	cfg, warns, err := Load(LoadOptions{Base: base, Flags: fs, Env: []string{"VIGIL_GOSSIP_SECRET_KEYS=" + key, "VIGIL_LOG_LEVEL=warn"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(warns) != 0 {
		t.Errorf("warnings: %v", warns)
	}
	if cfg.Log.Level != "debug" || !slices.Equal(cfg.Gossip.SecretKeys, []string{key}) {
		t.Errorf("log.level %q, gossip.secret-keys %q: want the flag's debug and the environment's key", cfg.Log.Level, cfg.Gossip.SecretKeys)
	}
	if cfg.Node.Listen != base.Node.Listen || !reflect.DeepEqual(cfg.Masters, base.Masters) {
		t.Errorf("the file's settings were lost: listen %q, masters %+v", cfg.Node.Listen, cfg.Masters)
	}
	if !reflect.DeepEqual(*base, before) {
		t.Error("Load modified its base configuration")
	}
	_, _, err = Load(LoadOptions{Base: base, Env: []string{"VIGIL_GOSSIP_SECRET_KEYS=short"}})
	if err == nil || !strings.Contains(err.Error(), "gossip.secret-keys") {
		t.Errorf("a bad variable over a sentinel.conf: err = %v", err)
	}
	if _, _, err := Load(LoadOptions{Base: base, File: path}); err == nil {
		t.Error("Base and File together were accepted")
	}
}
