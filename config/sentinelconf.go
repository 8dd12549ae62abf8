package config

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-ha/vigil/topology"
)

// This file reads an unmodified redis-sentinel configuration file
// (sentinel.conf) into a Config, for operators switching from Sentinel.
// docs/sentinel-conf.md is the operator-facing description of every
// directive; the behaviour follows redis 7.0's config.c and sentinel.c:
//   - lines are tokenized like sdssplitargs (quotes, \xHH and \n escapes);
//   - the "sentinel ..." lines are applied in three passes, like
//     loadSentinelConfigFromQueue: global settings first, then every
//     monitor line, then the per-master settings, so that order in the
//     file does not matter;
//   - regular server directives apply in file order, the last one wins.

// SentinelGossipPortOffset is added to the Sentinel port to get the gossip
// port when importing a sentinel.conf, which has no gossip setting: 26379
// gives 36379. See SentinelGossipPort.
const SentinelGossipPortOffset = 10000

// SentinelState is the runtime state redis-sentinel keeps in its
// configuration file (the lines it writes on every rewrite), so that a node
// replacing that Sentinel can seed its durable state with it and not vote
// twice in an epoch it already voted in.
type SentinelState struct {
	// CurrentEpoch is Sentinel's current epoch: the largest of
	// "sentinel current-epoch" and every master's config epoch, as
	// Sentinel computes it on load.
	CurrentEpoch uint64
	// Masters has one entry per master in the returned Config, under the
	// same name; an entry is zero when the file recorded nothing for it.
	Masters map[string]MasterState
}

// MasterState is the state Sentinel recorded for one master.
type MasterState struct {
	// ConfigEpoch is "sentinel config-epoch": the epoch of the failover
	// that made the monitored address the master.
	ConfigEpoch uint64
	// LeaderEpoch is "sentinel leader-epoch": the last epoch in which
	// this Sentinel voted for a failover leader for this master.
	LeaderEpoch uint64
	// KnownReplicas are the "sentinel known-replica" (or known-slave)
	// addresses, host:port, in file order.
	KnownReplicas []string
	// KnownSentinels are the "sentinel known-sentinel" lines that carry an
	// id, in file order.
	KnownSentinels []KnownSentinel
}

// KnownSentinel is another Sentinel (or vigil node) seen monitoring the same
// master.
type KnownSentinel struct {
	// Addr is the host:port of its Sentinel-protocol port.
	Addr string
	// ID is its myid.
	ID string
}

// SentinelConfError is one problem in a sentinel.conf. LoadSentinelConf
// returns every one it finds, joined with errors.Join, in file order.
type SentinelConfError struct {
	// File and Line locate the offending line; Line is 0 when the problem
	// is about the file as a whole or about a derived setting.
	File string
	Line int
	// Directive is the directive as Sentinel names it, in lower case:
	// "port", "sentinel monitor".
	Directive string
	// Message says what is wrong, in Sentinel's own words where Sentinel
	// has them ("Quorum must be 1 or greater.").
	Message string
	// Err is the underlying error, if any: a *FieldError when the imported
	// setting breaks one of vigil's rules, or an I/O error.
	Err error
}

// Error formats the error as "file:line: directive: message[: cause]".
func (e *SentinelConfError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteString(":")
		b.WriteString(strconv.Itoa(e.Line))
	}
	if e.Directive != "" {
		b.WriteString(": ")
		b.WriteString(e.Directive)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the underlying error, if any.
func (e *SentinelConfError) Unwrap() error { return e.Err }

// Limits that keep a hostile or broken file from exhausting memory.
const (
	maxConfFileSize   = 16 << 20 // bytes per file
	maxConfFiles      = 256      // files read, the main one and every include
	maxIncludeDepth   = 16       // nested include levels
	maxConfErrors     = 100      // errors reported before reading stops
	maxBindAddrs      = 16       // CONFIG_BINDADDR_MAX
	sentinelRunIDSize = 40       // CONFIG_RUN_ID_SIZE
	sentinelPort      = 26379    // Sentinel's default port
)

// LoadSentinelConf reads the redis-sentinel configuration file at path and
// returns the equivalent vigil configuration, validated, together with the
// runtime state Sentinel recorded in the file. Directives vigil does not
// implement, and server directives that do not apply, produce warnings
// naming the directive and its file:line. The error, if any, joins one
// *SentinelConfError per problem (unknown directive, wrong number of
// arguments, bad number, unknown master, a value vigil rejects); the Config
// and SentinelState are then nil. docs/sentinel-conf.md describes every
// directive.
func LoadSentinelConf(path string) (*Config, *SentinelState, []Warning, error) {
	return loadSentinelConf(path, confFiles{read: readConfFile, glob: filepath.Glob})
}

// confFiles is how the loader reaches the file system; tests confine it.
type confFiles struct {
	read func(path string) ([]byte, error)
	glob func(pattern string) ([]string, error)
}

func loadSentinelConf(path string, files confFiles) (*Config, *SentinelState, []Warning, error) {
	p := &confParser{fs: files}
	if err := p.readFile(path, nil, confPos{}); err != nil {
		return nil, nil, p.warnings(), err
	}
	b := newConfBuilder(p)
	for _, l := range p.lines {
		b.serverDirective(l)
	}
	b.sentinelDirectives()
	cfg, state := b.result()
	if len(p.errs) == 0 {
		for _, fe := range cfg.check() {
			pos, directive := b.originOf(fe.Key)
			p.errs = append(p.errs, &confIssue{pos: pos, err: &SentinelConfError{
				File: pos.file, Line: pos.line, Directive: directive, Err: fe,
			}})
		}
		if len(p.errs) == 0 {
			return &cfg, state, p.warnings(), nil
		}
	}
	for _, e := range p.errs {
		if e.err.File == "" {
			e.err.File = path // a derived setting, not from one line
		}
	}
	return nil, nil, p.warnings(), p.joinErrors()
}

// SentinelGossipPort is the gossip port LoadSentinelConf derives from a
// Sentinel port: port+SentinelGossipPortOffset, wrapped around into
// 1024..65535 when that is above 65535 (60000 gives 5488).
func SentinelGossipPort(port int) int {
	const low, span = 1024, 65536 - 1024
	p := port + SentinelGossipPortOffset
	if p <= 65535 {
		return p
	}
	return low + (p-low)%span
}

// confPos is where a line came from. seq orders lines across included
// files as Redis reads them.
type confPos struct {
	file string
	line int
	seq  int
}

func (p confPos) String() string {
	if p.line == 0 {
		return p.file
	}
	return fmt.Sprintf("%s:%d", p.file, p.line)
}

// confLine is one non-empty, non-comment line split into arguments; args[0]
// is in lower case.
type confLine struct {
	pos  confPos
	args []string
}

// confIssue is an error or warning with the position it sorts by.
type confIssue struct {
	pos  confPos
	err  *SentinelConfError
	warn Warning
}

// confParser reads the file and its includes, and collects errors and
// warnings for the whole load.
type confParser struct {
	fs    confFiles
	lines []confLine
	errs  []*confIssue
	warns []*confIssue
	files int
	seq   int
}

func (p *confParser) fail(pos confPos, directive, format string, args ...any) {
	if len(p.errs) == maxConfErrors {
		p.errs = append(p.errs, &confIssue{pos: pos, err: &SentinelConfError{
			File: pos.file, Line: pos.line, Message: "too many errors, stopped reading",
		}})
	}
	if len(p.errs) > maxConfErrors {
		return
	}
	p.errs = append(p.errs, &confIssue{pos: pos, err: &SentinelConfError{
		File: pos.file, Line: pos.line, Directive: directive, Message: fmt.Sprintf(format, args...),
	}})
}

// failErr records an error with Sentinel's message and its cause.
func (p *confParser) failErr(pos confPos, directive, message string, err error) {
	n := len(p.errs)
	p.fail(pos, directive, "%s", message)
	if len(p.errs) > n {
		if last := p.errs[len(p.errs)-1].err; last.Directive == directive {
			last.Err = err
		}
	}
}

func (p *confParser) warn(pos confPos, directive, format string, args ...any) {
	p.warns = append(p.warns, &confIssue{pos: pos, warn: Warning{
		Key: directive, Message: fmt.Sprintf(format, args...) + " (" + pos.String() + ")",
	}})
}

// warnings returns the warnings in file order.
func (p *confParser) warnings() []Warning {
	if len(p.warns) == 0 {
		return nil
	}
	sortIssues(p.warns)
	out := make([]Warning, len(p.warns))
	for i, w := range p.warns {
		out[i] = w.warn
	}
	return out
}

func (p *confParser) joinErrors() error {
	sortIssues(p.errs)
	errs := make([]error, len(p.errs))
	for i, e := range p.errs {
		errs[i] = e.err
	}
	return errors.Join(errs...)
}

func sortIssues(is []*confIssue) {
	sort.SliceStable(is, func(i, j int) bool { return is[i].pos.seq < is[j].pos.seq })
}

// readFile reads one file and, recursively, the files it includes. stack
// holds the absolute paths of the files being read, to refuse include
// cycles; from is the include line (zero for the main file). An error about
// the main file is returned; errors about included files are recorded
// against the include line.
func (p *confParser) readFile(path string, stack []string, from confPos) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = filepath.Clean(path)
	}
	data, err := p.fs.read(path)
	if err != nil {
		if from.file == "" {
			return fmt.Errorf("sentinel config: %w", err)
		}
		p.errs = append(p.errs, &confIssue{pos: from, err: &SentinelConfError{
			File: from.file, Line: from.line, Directive: "include", Err: err,
		}})
		return nil
	}
	p.files++
	stack = append(stack, abs)
	for i, raw := range strings.Split(string(data), "\n") {
		if len(p.errs) > maxConfErrors {
			break
		}
		p.seq++
		pos := confPos{file: path, line: i + 1, seq: p.seq}
		if strings.IndexByte(raw, 0) >= 0 {
			p.fail(pos, "", "NUL byte in configuration line")
			continue
		}
		line := strings.Trim(raw, " \t\r\n")
		if line == "" || line[0] == '#' {
			continue
		}
		args, ok := splitArgs(line)
		if !ok {
			p.fail(pos, "", "Unbalanced quotes in configuration line")
			continue
		}
		if len(args) == 0 {
			continue
		}
		args[0] = strings.ToLower(args[0])
		if args[0] == "include" && len(args) == 2 {
			p.include(pos, path, args[1], stack)
			continue
		}
		p.lines = append(p.lines, confLine{pos: pos, args: args})
	}
	return nil
}

// include reads the files an include line names. Like Redis, a pattern
// (with *, ? or [) may match nothing; a plain path must exist. Unlike
// Redis, which resolves a relative path against its working directory, the
// path is taken relative to the including file's directory.
func (p *confParser) include(pos confPos, from, target string, stack []string) {
	if target == "" {
		p.fail(pos, "include", "empty file name")
		return
	}
	if len(stack) >= maxIncludeDepth {
		p.fail(pos, "include", "includes nested more than %d deep", maxIncludeDepth)
		return
	}
	if !filepath.IsAbs(target) {
		target = filepath.Join(filepath.Dir(from), target)
	}
	paths := []string{target}
	if strings.ContainsAny(target, "*?[") {
		matches, err := p.fs.glob(target)
		if err != nil {
			p.fail(pos, "include", "bad pattern %q: %v", target, err)
			return
		}
		paths = matches
	}
	for _, path := range paths {
		abs, err := filepath.Abs(path)
		if err != nil {
			abs = filepath.Clean(path)
		}
		for _, open := range stack {
			if open == abs {
				p.fail(pos, "include", "%s includes itself", path)
				return
			}
		}
		if p.files >= maxConfFiles {
			p.fail(pos, "include", "more than %d files included", maxConfFiles)
			return
		}
		_ = p.readFile(path, stack, pos) // errors are recorded against pos
	}
}

// readConfFile reads a regular file of at most maxConfFileSize bytes.
// It checks the type before opening, since opening a FIFO blocks.
func readConfFile(path string) ([]byte, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	if info.Size() > maxConfFileSize {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, maxConfFileSize)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }() // read-only: a close error loses nothing
	data, err := io.ReadAll(io.LimitReader(f, maxConfFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxConfFileSize {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, maxConfFileSize)
	}
	return data, nil
}

// splitArgs splits a configuration line into arguments exactly as Redis's
// sdssplitargs does: blanks separate arguments; "double quotes" allow the
// escapes \n \r \t \b \a \xHH and a backslash before any other character;
// 'single quotes' allow only \'; a closing quote must be followed by a
// blank or the end of the line. ok is false for unbalanced quotes.
func splitArgs(line string) (args []string, ok bool) {
	n := len(line)
	at := func(i int) byte {
		if i < n {
			return line[i]
		}
		return 0
	}
	i := 0
	for {
		for i < n && isCSpace(line[i]) {
			i++
		}
		if i >= n {
			return args, true
		}
		var cur []byte
		inDouble, inSingle, done := false, false, false
		for !done {
			c := at(i)
			switch {
			case inDouble:
				switch {
				case c == '\\' && at(i+1) == 'x' && isHexDigit(at(i+2)) && isHexDigit(at(i+3)):
					cur = append(cur, hexValue(at(i+2))<<4|hexValue(at(i+3)))
					i += 3
				case c == '\\' && at(i+1) != 0:
					i++
					cur = append(cur, unescape(line[i]))
				case c == '"':
					if next := at(i + 1); next != 0 && !isCSpace(next) {
						return nil, false
					}
					done = true
				case c == 0:
					return nil, false
				default:
					cur = append(cur, c)
				}
			case inSingle:
				switch {
				case c == '\\' && at(i+1) == '\'':
					i++
					cur = append(cur, '\'')
				case c == '\'':
					if next := at(i + 1); next != 0 && !isCSpace(next) {
						return nil, false
					}
					done = true
				case c == 0:
					return nil, false
				default:
					cur = append(cur, c)
				}
			default:
				switch c {
				case ' ', '\n', '\r', '\t', 0:
					done = true
				case '"':
					inDouble = true
				case '\'':
					inSingle = true
				default:
					cur = append(cur, c)
				}
			}
			if at(i) != 0 {
				i++
			}
		}
		args = append(args, string(cur))
	}
}

// isCSpace is C's isspace in the C locale.
func isCSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

func isHexDigit(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func hexValue(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	default:
		return c - '0'
	}
}

func unescape(c byte) byte {
	switch c {
	case 'n':
		return '\n'
	case 'r':
		return '\r'
	case 't':
		return '\t'
	case 'b':
		return '\b'
	case 'a':
		return '\a'
	default:
		return c
	}
}

// confMaster is one master being built from its monitor line and
// per-master directives.
type confMaster struct {
	cfg      MasterConfig
	state    MasterState
	pos      confPos            // the monitor line
	replicas map[string]bool    // normalised address
	peers    map[string]bool    // runid
	renamed  map[string]bool    // lower-case command
	userPos  *confPos           // auth-user line
	origins  map[string]confPos // vigil key suffix ("down-after") -> line
}

// confBuilder turns the parsed lines into a Config and SentinelState.
type confBuilder struct {
	p *confParser

	port       int
	portPos    *confPos
	bind       []string
	bindPos    *confPos
	dir        string
	dirPos     *confPos
	logLevel   string
	logPos     *confPos
	myID       string
	myIDPos    *confPos
	announceIP string
	// denyScripts is "no" for sentinel deny-scripts-reconfig no; "" for
	// yes or absent (Sentinel's default).
	denyScripts string
	// announceHostnames is "yes" for sentinel announce-hostnames yes.
	announceHostnames string
	annIPPos          *confPos
	annPort           int
	annPortPos        *confPos
	// requirepass and the "user default" lines with a password, which
	// Sentinel's config rewrite derives from it.
	requirePass  string
	reqPassPos   *confPos
	defaultUsers []pendingUser

	currentEpoch uint64
	masters      map[string]*confMaster
	broken       map[string]bool // masters whose monitor line failed
	queue        [3][]confLine   // the sentinel lines, by pass
}

func newConfBuilder(p *confParser) *confBuilder {
	return &confBuilder{
		p:       p,
		port:    sentinelPort,
		masters: map[string]*confMaster{},
		broken:  map[string]bool{},
	}
}

// isRedisConfig reports a standard redis.conf directive (names and aliases
// of redis 7.0 to 7.4), which a sentinel.conf may contain and vigil
// ignores unless serverDirective handles it.
func isRedisConfig(name string) bool {
	switch name {
	case "acl-pubsub-default", "aclfile", "acllog-max-len", "active-defrag-cycle-max", "active-defrag-cycle-min",
		"active-defrag-ignore-bytes", "active-defrag-max-scan-fields", "active-defrag-threshold-lower",
		"active-defrag-threshold-upper", "active-expire-effort", "activedefrag", "activerehashing", "always-show-logo",
		"aof-disable-auto-gc", "aof-load-truncated", "aof-rewrite-cpulist", "aof-rewrite-incremental-fsync",
		"aof-timestamp-enabled", "aof-use-rdb-preamble", "aof_rewrite_cpulist", "appenddirname", "appendfilename",
		"appendfsync", "appendonly", "auto-aof-rewrite-min-size", "auto-aof-rewrite-percentage", "bgsave-cpulist",
		"bgsave_cpulist", "bind", "bind-source-addr", "bio-cpulist", "bio_cpulist", "busy-reply-threshold",
		"client-default-resp", "client-output-buffer-limit", "client-query-buffer-limit",
		"cluster-allow-pubsubshard-when-down", "cluster-allow-reads-when-down", "cluster-allow-replica-migration",
		"cluster-announce-bus-port", "cluster-announce-hostname", "cluster-announce-human-nodename",
		"cluster-announce-ip", "cluster-announce-port", "cluster-announce-tls-port", "cluster-config-file",
		"cluster-enabled", "cluster-link-sendbuf-limit", "cluster-migration-barrier", "cluster-node-timeout",
		"cluster-ping-interval", "cluster-port", "cluster-preferred-endpoint-type", "cluster-replica-no-failover",
		"cluster-replica-validity-factor", "cluster-require-full-coverage", "cluster-slave-no-failover",
		"cluster-slave-validity-factor", "crash-log-enabled", "crash-memcheck-enabled", "daemonize", "databases",
		"dbfilename", "dir", "disable-thp", "dynamic-hz", "enable-debug-command", "enable-module-command",
		"enable-protected-configs", "hash-max-listpack-entries", "hash-max-listpack-value", "hash-max-ziplist-entries",
		"hash-max-ziplist-value", "hide-user-data-from-log", "hll-sparse-max-bytes", "hz", "ignore-warnings",
		"io-threads", "io-threads-do-reads", "jemalloc-bg-thread", "key-load-delay", "latency-monitor-threshold",
		"latency-tracking", "latency-tracking-info-percentiles", "lazyfree-lazy-eviction", "lazyfree-lazy-expire",
		"lazyfree-lazy-server-del", "lazyfree-lazy-user-del", "lazyfree-lazy-user-flush", "lfu-decay-time",
		"lfu-log-factor", "list-compress-depth", "list-max-listpack-size", "list-max-ziplist-size",
		"loading-process-events-interval-bytes", "locale-collate", "logfile", "loglevel", "lua-time-limit",
		"masterauth", "masteruser", "max-new-connections-per-cycle", "max-new-tls-connections-per-cycle",
		"maxclients", "maxmemory", "maxmemory-clients", "maxmemory-eviction-tenacity", "maxmemory-policy",
		"maxmemory-samples", "min-replicas-max-lag", "min-replicas-to-write", "min-slaves-max-lag",
		"min-slaves-to-write", "no-appendfsync-on-rewrite", "notify-keyspace-events", "oom-score-adj",
		"oom-score-adj-values", "pidfile", "port", "proc-title-template", "propagation-error-behavior",
		"protected-mode", "proto-max-bulk-len", "rdb-del-sync-files", "rdb-key-save-delay",
		"rdb-save-incremental-fsync", "rdbchecksum", "rdbcompression", "repl-backlog-size", "repl-backlog-ttl",
		"repl-disable-tcp-nodelay", "repl-diskless-load", "repl-diskless-sync", "repl-diskless-sync-delay",
		"repl-diskless-sync-max-replicas", "repl-ping-replica-period", "repl-ping-slave-period", "repl-timeout",
		"replica-announce-ip", "replica-announce-port", "replica-announced", "replica-ignore-disk-write-errors",
		"replica-ignore-maxmemory", "replica-lazy-flush", "replica-priority", "replica-read-only",
		"replica-serve-stale-data", "replicaof", "req-res-logfile", "requirepass", "sanitize-dump-payload", "save",
		"server-cpulist", "server_cpulist", "set-max-intset-entries", "set-max-listpack-entries",
		"set-max-listpack-value", "set-proc-title", "shutdown-on-sigint", "shutdown-on-sigterm", "shutdown-timeout",
		"slave-announce-ip", "slave-announce-port", "slave-ignore-maxmemory", "slave-lazy-flush", "slave-priority",
		"slave-read-only", "slave-serve-stale-data", "slaveof", "slowlog-log-slower-than", "slowlog-max-len",
		"socket-mark-id", "stop-writes-on-bgsave-error", "stream-node-max-bytes", "stream-node-max-entries",
		"supervised", "syslog-enabled", "syslog-facility", "syslog-ident", "tcp-backlog", "tcp-keepalive", "timeout",
		"tls-auth-clients", "tls-ca-cert-dir", "tls-ca-cert-file", "tls-cert-file", "tls-ciphers", "tls-ciphersuites",
		"tls-client-cert-file", "tls-client-key-file", "tls-client-key-file-pass", "tls-cluster",
		"tls-dh-params-file", "tls-key-file", "tls-key-file-pass", "tls-port", "tls-prefer-server-ciphers",
		"tls-protocols", "tls-replication", "tls-session-cache-size", "tls-session-cache-timeout",
		"tls-session-caching", "tracking-table-max-keys", "unixsocket", "unixsocketperm", "use-exit-on-panic",
		"watchdog-period", "zset-max-listpack-entries", "zset-max-listpack-value", "zset-max-ziplist-entries",
		"zset-max-ziplist-value":
		return true
	}
	return false
}

// isMultiArgConfig reports the standard directives that take any number of
// arguments (MULTI_ARG_CONFIG in redis's config.c); the others take one.
func isMultiArgConfig(name string) bool {
	switch name {
	case "bind", "save", "client-output-buffer-limit", "oom-score-adj-values", "replicaof", "slaveof",
		"latency-tracking-info-percentiles", "shutdown-on-sigint", "shutdown-on-sigterm":
		return true
	}
	return false
}

const notSupported = "not supported yet, ignored"

// serverDirective handles one line that is not "sentinel ..." (those are
// queued for sentinelDirectives).
func (b *confBuilder) serverDirective(l confLine) {
	name, args := l.args[0], l.args[1:]
	p := b.p
	if name == "sentinel" {
		if len(args) > 0 {
			b.queueSentinel(l)
		}
		return
	}
	switch name {
	case "rename-command":
		if len(args) != 2 {
			p.fail(l.pos, name, "Bad directive or wrong number of arguments")
			return
		}
		p.warn(l.pos, name, "%s; vigil's Sentinel port has no command renaming", notSupported)
		return
	case "user":
		if len(args) < 1 {
			p.fail(l.pos, name, "Bad directive or wrong number of arguments")
			return
		}
		if hash, ok := defaultUserPassword(args); ok {
			b.defaultUsers = append(b.defaultUsers, pendingUser{pos: l.pos, hash: hash})
			return // checked against requirepass in result
		}
		if !isOpenDefaultUser(args) {
			p.warn(l.pos, name, userNotSupported, notSupported)
		}
		return
	case "loadmodule":
		if len(args) < 1 {
			p.fail(l.pos, name, "Bad directive or wrong number of arguments")
			return
		}
		p.warn(l.pos, name, "%s: vigil loads no Redis modules", notSupported)
		return
	case "list-max-ziplist-entries", "list-max-ziplist-value", "lua-replicate-commands":
		// Deprecated and ignored by Redis 7 with exactly one argument.
		if len(args) != 1 {
			p.fail(l.pos, name, "Bad directive or wrong number of arguments")
		}
		return
	case "include":
		p.fail(l.pos, name, "Bad directive or wrong number of arguments")
		return
	}
	if !isRedisConfig(name) {
		p.fail(l.pos, name, "Bad directive or wrong number of arguments")
		return
	}
	if !isMultiArgConfig(name) && len(args) != 1 {
		p.fail(l.pos, name, "wrong number of arguments")
		return
	}
	if name == "bind" {
		b.bindDirective(l)
		return
	}
	if isMultiArgConfig(name) {
		return
	}
	val := args[0]
	pos := l.pos
	switch name {
	case "port":
		n, ok := b.integer(pos, name, val, 0, 65535, "argument must be between 0 and 65535 inclusive")
		if ok {
			b.port, b.portPos = n, &pos
		}
	case "dir":
		b.dir, b.dirPos = val, &pos
	case "loglevel":
		level, ok := mapLogLevel(val)
		if !ok {
			p.fail(pos, name, "argument(s) must be one of the following: debug, verbose, notice, warning, nothing")
			return
		}
		b.logLevel, b.logPos = level, &pos
	case "logfile":
		if val != "" {
			p.warn(pos, name, "ignored: vigil logs to stderr; redirect it, or let systemd's journal keep it")
		}
	case "daemonize":
		if yes, ok := b.yesNo(pos, name, val); ok && yes {
			p.warn(pos, name, "ignored: vigil stays in the foreground; run it under a service manager (systemd Type=simple)")
		}
	case "supervised":
		if !strings.EqualFold(val, "no") && !strings.EqualFold(val, "auto") {
			p.warn(pos, name, "ignored: vigil does not notify a supervisor; use systemd Type=simple")
		}
	case "pidfile":
		if val != "" {
			p.warn(pos, name, "ignored: vigil writes no pid file")
		}
	case "syslog-enabled":
		if yes, ok := b.yesNo(pos, name, val); ok && yes {
			p.warn(pos, name, "ignored: vigil logs to stderr only")
		}
	case "requirepass":
		b.requirePass, b.reqPassPos = val, &pos
	case "aclfile":
		if val != "" {
			p.warn(pos, name, "%s: vigil's Sentinel port has no ACL users", notSupported)
		}
	case "unixsocket":
		if val != "" {
			p.warn(pos, name, "%s: vigil listens on TCP only", notSupported)
		}
	case "bind-source-addr":
		if val != "" {
			p.warn(pos, name, "%s: vigil's outgoing connections use the system's source address", notSupported)
		}
	case "tls-replication":
		if yes, ok := b.yesNo(pos, name, val); ok && yes {
			p.warn(pos, name, "%s: vigil reads TLS settings from its own configuration; set masters.NAME.tls to reach Redis over TLS", notSupported)
		}
	default:
		if strings.HasPrefix(name, "tls-") && val != "" && val != "0" && !strings.EqualFold(val, "no") {
			p.warn(pos, name, "%s: vigil reads TLS settings from its own configuration; set node.tls for a TLS Sentinel port", notSupported)
		}
	}
}

// isOpenDefaultUser reports the ACL line Sentinel's own config rewrite
// writes for the default user without a password ("user default on nopass
// ~* &* +@all"), which needs no warning.
func isOpenDefaultUser(args []string) bool {
	if args[0] != "default" {
		return false
	}
	on, nopass := false, false
	for _, a := range args[1:] {
		switch strings.ToLower(a) {
		case "on":
			on = true
		case "off":
			on = false
		case "nopass":
			nopass = true
		case "resetpass":
			nopass = false
		default:
			if strings.HasPrefix(a, ">") || strings.HasPrefix(a, "#") {
				nopass = false
			}
		}
	}
	return on && nopass
}

// mapLogLevel maps Redis's loglevel to log.level.
func mapLogLevel(s string) (string, bool) {
	switch strings.ToLower(s) {
	case "debug", "verbose":
		return LevelDebug, true
	case "notice":
		return LevelInfo, true
	case "warning":
		return LevelWarn, true
	case "nothing":
		return LevelError, true
	}
	return "", false
}

// bindDirective records the bind addresses. A single argument holding
// several addresses is split, as Redis does for multi-argument directives.
func (b *confBuilder) bindDirective(l confLine) {
	addrs := l.args[1:]
	if len(addrs) == 1 && addrs[0] != "" {
		split, ok := splitArgs(addrs[0])
		if !ok {
			b.p.fail(l.pos, "bind", "Unbalanced quotes in configuration line")
			return
		}
		addrs = split
	}
	if len(addrs) == 1 && addrs[0] == "" {
		addrs = nil
	}
	if len(addrs) > maxBindAddrs {
		b.p.fail(l.pos, "bind", "Too many bind addresses specified.")
		return
	}
	pos := l.pos
	b.bind, b.bindPos = addrs, &pos
}

// integer parses a decimal integer in [lo, hi]; rangeMsg is the error when
// it is out of range.
func (b *confBuilder) integer(pos confPos, directive, s string, lo, hi int64, rangeMsg string) (int, bool) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		b.p.fail(pos, directive, "argument couldn't be parsed into an integer")
		return 0, false
	}
	if err != nil || n < lo || n > hi {
		b.p.fail(pos, directive, "%s", rangeMsg)
		return 0, false
	}
	return int(n), true
}

func (b *confBuilder) yesNo(pos confPos, directive, s string) (yes, ok bool) {
	switch strings.ToLower(s) {
	case "yes":
		return true, true
	case "no":
		return false, true
	}
	b.p.fail(pos, directive, "argument must be 'yes' or 'no'")
	return false, false
}

// Sentinel's three passes (queueSentinelConfig).
const (
	passGlobal = iota
	passMonitor
	passMaster
)

func (b *confBuilder) queueSentinel(l confLine) {
	sub := strings.ToLower(l.args[1])
	pass := passMaster
	switch sub {
	case "monitor":
		pass = passMonitor
	case "announce-ip", "announce-port", "deny-scripts-reconfig", "sentinel-user", "sentinel-pass",
		"current-epoch", "myid", "resolve-hostnames", "announce-hostnames":
		pass = passGlobal
	}
	b.queue[pass] = append(b.queue[pass], l)
}

// sentinelUsage is each "sentinel" directive's argument list, for arity
// checks and messages. known-sentinel also accepts the legacy form without
// a runid, which Sentinel ignores.
func sentinelUsage(sub string) (string, bool) {
	switch sub {
	case "monitor":
		return "<master-name> <ip> <port> <quorum>", true
	case "down-after-milliseconds", "failover-timeout", "master-reboot-down-after-period":
		return "<master-name> <milliseconds>", true
	case "parallel-syncs":
		return "<master-name> <numreplicas>", true
	case "notification-script", "client-reconfig-script":
		return "<master-name> <script-path>", true
	case "auth-pass":
		return "<master-name> <password>", true
	case "auth-user":
		return "<master-name> <username>", true
	case "config-epoch", "leader-epoch":
		return "<master-name> <epoch>", true
	case "known-replica", "known-slave":
		return "<master-name> <ip> <port>", true
	case "known-sentinel":
		return "<master-name> <ip> <port> <runid>", true
	case "rename-command":
		return "<master-name> <command> <renamed-command>", true
	case "current-epoch":
		return "<epoch>", true
	case "myid":
		return "<id>", true
	case "announce-ip":
		return "<ip>", true
	case "announce-port":
		return "<port>", true
	case "deny-scripts-reconfig", "resolve-hostnames", "announce-hostnames":
		return "yes|no", true
	case "sentinel-user":
		return "<username>", true
	case "sentinel-pass":
		return "<password>", true
	}
	return "", false
}

func (b *confBuilder) sentinelDirectives() {
	for _, pass := range b.queue {
		for _, l := range pass {
			b.sentinelDirective(l)
		}
	}
}

// sentinelDirective applies one "sentinel SUB ..." line (args[0] is
// "sentinel").
func (b *confBuilder) sentinelDirective(l confLine) {
	p := b.p
	sub := strings.ToLower(l.args[1])
	args := l.args[2:]
	directive := "sentinel " + sub
	pos := l.pos
	usage, known := sentinelUsage(sub)
	if !known {
		p.fail(pos, "sentinel "+l.args[1], "Unrecognized sentinel configuration statement.")
		return
	}
	want := len(strings.Fields(usage))
	if sub == "known-sentinel" && len(args) == 3 {
		return // the legacy form without a runid: Sentinel ignores it
	}
	if len(args) != want {
		p.fail(pos, directive, "wrong number of arguments, want: %s %s", directive, usage)
		return
	}

	// Global directives.
	switch sub {
	case "current-epoch":
		if e, ok := b.epoch(pos, directive, args[0]); ok {
			b.currentEpoch = max(b.currentEpoch, e)
		}
		return
	case "myid":
		if len(args[0]) != sentinelRunIDSize {
			p.fail(pos, directive, "Malformed Sentinel id in myid option.")
			return
		}
		b.myID, b.myIDPos = args[0], &pos
		return
	case "announce-ip":
		if args[0] != "" {
			b.announceIP, b.annIPPos = args[0], &pos
		}
		return
	case "announce-port":
		if n, ok := b.integer(pos, directive, args[0], 0, 65535, "Invalid port number."); ok {
			b.annPort, b.annPortPos = n, &pos
		}
		return
	case "deny-scripts-reconfig":
		if !isYesNo(args[0]) {
			p.fail(pos, directive, "Please specify yes or no for the deny-scripts-reconfig options.")
			return
		}
		if strings.EqualFold(args[0], "no") {
			b.denyScripts = "no"
		}
		return
	case "resolve-hostnames":
		if !isYesNo(args[0]) {
			p.fail(pos, directive, "Please specify yes or no for the resolve-hostnames option.")
		}
		return
	case "announce-hostnames":
		if !isYesNo(args[0]) {
			p.fail(pos, directive, "Please specify yes or no for the announce-hostnames option.")
			return
		}
		if strings.EqualFold(args[0], "yes") {
			b.announceHostnames = "yes"
		}
		return
	case "sentinel-user", "sentinel-pass":
		if args[0] != "" {
			p.warn(pos, directive, "ignored: vigil nodes talk to each other over gossip, not over the Sentinel port; set gossip.secret-keys to authenticate and encrypt it")
		}
		return
	case "monitor":
		b.monitor(pos, args)
		return
	}

	// Per-master directives.
	m := b.masters[args[0]]
	if m == nil {
		if !b.broken[args[0]] {
			p.fail(pos, directive, "No such master with specified name.")
		}
		return
	}
	val := args[1]
	switch sub {
	case "down-after-milliseconds", "failover-timeout":
		d, ok := b.millis(pos, directive, val, 1, "negative or zero time parameter.")
		if !ok {
			return
		}
		if sub == "failover-timeout" {
			m.cfg.FailoverTimeout = d
			m.origins[keyFailoverTimeout] = pos
		} else {
			m.cfg.DownAfter = d
			m.origins[keyDownAfter] = pos
		}
	case "parallel-syncs":
		n, err := strconv.Atoi(val)
		if err != nil {
			p.fail(pos, directive, "argument couldn't be parsed into an integer")
			return
		}
		m.cfg.ParallelSyncs = n
		m.origins[keyParallelSyncs] = pos
	case "auth-pass":
		m.cfg.AuthPass = val
		m.origins[keyAuthPass] = pos
	case "auth-user":
		m.cfg.AuthUser = val
		m.userPos = &pos
		m.origins[keyAuthUser] = pos
	case "notification-script", "client-reconfig-script":
		b.script(pos, directive, m, sub, val)
	case "master-reboot-down-after-period":
		d, ok := b.millis(pos, directive, val, 0, "negative time parameter.")
		if ok && d > 0 {
			p.warn(pos, directive, "%s: vigil treats a master that answers -LOADING after a restart as reachable", notSupported)
		}
	case "rename-command":
		b.renameCommand(pos, directive, m, args[1], args[2])
	case "config-epoch":
		if e, ok := b.epoch(pos, directive, val); ok {
			m.state.ConfigEpoch = e
			b.currentEpoch = max(b.currentEpoch, e)
		}
	case "leader-epoch":
		if e, ok := b.epoch(pos, directive, val); ok {
			m.state.LeaderEpoch = e
		}
	case "known-replica", "known-slave":
		a, ok := b.instanceAddr(pos, directive, args[1], args[2])
		if !ok {
			return
		}
		key := normalizeAddr(a)
		if m.replicas[key] {
			p.fail(pos, directive, "Duplicate hostname and port for replica.")
			return
		}
		m.replicas[key] = true
		m.state.KnownReplicas = append(m.state.KnownReplicas, a.String())
	case "known-sentinel":
		a, ok := b.instanceAddr(pos, directive, args[1], args[2])
		if !ok {
			return
		}
		id := args[3]
		if m.peers[id] {
			p.fail(pos, directive, "Duplicate runid for sentinel.")
			return
		}
		m.peers[id] = true
		m.state.KnownSentinels = append(m.state.KnownSentinels, KnownSentinel{Addr: a.String(), ID: id})
	}
}

// script applies "sentinel notification-script NAME PATH" and
// "sentinel client-reconfig-script NAME PATH". Like Sentinel, it requires
// the file to exist and be executable now. A relative path is taken from
// the directory Sentinel would run in: dir, or the current directory when
// the file sets no dir.
func (b *confBuilder) script(pos confPos, directive string, m *confMaster, sub, path string) {
	key, field := keyNotificationScript, &m.cfg.NotificationScript
	refusal := "Notification script seems non existing or non executable"
	if sub == "client-reconfig-script" {
		key, field = keyClientReconfigScript, &m.cfg.ClientReconfigScript
		refusal = "Client reconfiguration script seems non existing or non executable"
	}
	if path == "" {
		b.p.failErr(pos, directive, refusal, errors.New("empty path"))
		return
	}
	if !filepath.IsAbs(path) {
		base, from := ".", "the current directory"
		if b.dirPos != nil {
			base, from = b.dir, "dir "+strconv.Quote(b.dir)
		}
		abs, err := filepath.Abs(filepath.Join(base, path))
		if err != nil {
			b.p.failErr(pos, directive, refusal, err)
			return
		}
		b.p.warn(pos, directive, "relative path %q taken from %s, as Sentinel does: %s", path, from, abs)
		path = abs
	}
	if err := scriptRunnable(path); err != nil {
		b.p.failErr(pos, directive, refusal, fmt.Errorf("%s: %w", path, err))
		return
	}
	*field = path
	m.origins[key] = pos
}

func isYesNo(s string) bool { return strings.EqualFold(s, "yes") || strings.EqualFold(s, "no") }

// monitor applies "sentinel monitor NAME HOST PORT QUORUM".
func (b *confBuilder) monitor(pos confPos, args []string) {
	const directive = "sentinel monitor"
	p := b.p
	name := args[0]
	if _, dup := b.masters[name]; dup {
		p.fail(pos, directive, "Duplicate master name.")
		return
	}
	quorum, err := strconv.Atoi(args[3])
	switch {
	case err != nil && !errors.Is(err, strconv.ErrRange):
		p.fail(pos, directive, "quorum %q is not a number", args[3])
	case err != nil || quorum <= 0:
		p.fail(pos, directive, "Quorum must be 1 or greater.")
	}
	a, ok := b.instanceAddr(pos, directive, args[1], args[2])
	if !ok || err != nil || quorum <= 0 {
		b.broken[name] = true
		return
	}
	b.masters[name] = &confMaster{
		cfg:      NewMaster(name, a, quorum),
		pos:      pos,
		replicas: map[string]bool{},
		peers:    map[string]bool{},
		renamed:  map[string]bool{},
		origins:  map[string]confPos{},
	}
}

func (b *confBuilder) renameCommand(pos confPos, directive string, m *confMaster, from, to string) {
	key := strings.ToLower(from)
	if m.renamed[key] {
		b.p.fail(pos, directive, "Same command renamed multiple times with rename-command.")
		return
	}
	m.renamed[key] = true
	if !strings.EqualFold(from, to) {
		b.p.warn(pos, directive, "%s: vigil sends %s under its own name; failovers fail if the master renamed it", notSupported, strings.ToUpper(from))
	}
}

// instanceAddr parses the host and port of a monitored instance or a known
// replica or Sentinel. Hostnames are accepted whatever resolve-hostnames
// says; a bracketed IPv6 literal is accepted too.
func (b *confBuilder) instanceAddr(pos confPos, directive, host, port string) (topology.Addr, bool) {
	if len(host) > 2 && host[0] == '[' && host[len(host)-1] == ']' {
		host = host[1 : len(host)-1]
	}
	if host == "" || strings.ContainsAny(host, "[] \t") {
		b.p.fail(pos, directive, "Can't resolve instance hostname.")
		return topology.Addr{}, false
	}
	n, err := topology.ParsePort(port)
	if err != nil {
		b.p.fail(pos, directive, "Invalid port number.")
		return topology.Addr{}, false
	}
	return topology.Addr{Host: host, Port: n}, true
}

// millis parses a number of milliseconds >= lo.
func (b *confBuilder) millis(pos confPos, directive, s string, lo int64, rangeMsg string) (time.Duration, bool) {
	n, err := strconv.ParseInt(s, 10, 64)
	switch {
	case err != nil && !errors.Is(err, strconv.ErrRange):
		b.p.fail(pos, directive, "argument couldn't be parsed into an integer")
		return 0, false
	case err == nil && n < lo:
		b.p.fail(pos, directive, "%s", rangeMsg)
		return 0, false
	case err != nil || n > maxMillis:
		b.p.fail(pos, directive, "%s milliseconds is out of range", s)
		return 0, false
	}
	return time.Duration(n) * time.Millisecond, true
}

func (b *confBuilder) epoch(pos confPos, directive, s string) (uint64, bool) {
	e, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		b.p.fail(pos, directive, "epoch %q is not a non-negative integer", s)
		return 0, false
	}
	return e, true
}

// result builds the Config and SentinelState from what was read.
func (b *confBuilder) result() (Config, *SentinelState) {
	cfg := Default()
	p := b.p

	if b.port == 0 {
		pos := confPos{}
		if b.portPos != nil {
			pos = *b.portPos
		}
		p.fail(pos, "port", "port 0 (no TCP listener) is not supported: vigil serves clients over TCP")
	}
	if b.bindPos != nil && len(b.bind) == 0 {
		p.fail(*b.bindPos, "bind", "an empty bind (no TCP listener) is not supported: vigil serves clients over TCP")
	}
	host := b.listenHost()
	cfg.Node.Listen = net.JoinHostPort(host, strconv.Itoa(b.port))
	if b.dirPos != nil {
		cfg.Node.DataDir = b.dir
	}
	cfg.Node.ID = b.myID
	cfg.Node.DenyScriptsReconfig = b.denyScripts
	cfg.Node.AnnounceHostnames = b.announceHostnames
	b.applyRequirePass(&cfg)

	gossipHost := host
	if host != "" && !isIPLiteral(host) {
		gossipHost = ""
		p.warn(*b.bindPos, "bind", "%s is not an IP address, which gossip needs: gossip.bind listens on all interfaces", host)
	}
	cfg.Gossip.Bind = net.JoinHostPort(gossipHost, strconv.Itoa(SentinelGossipPort(b.port)))

	if b.announceIP != "" || b.annPort != 0 {
		b.announce(&cfg, host)
	}
	if b.logPos != nil {
		cfg.Log.Level = b.logLevel
	}

	state := &SentinelState{CurrentEpoch: b.currentEpoch, Masters: map[string]MasterState{}}
	for name, m := range b.masters {
		if m.cfg.AuthUser != "" && m.cfg.AuthPass == "" {
			p.warn(*m.userPos, "sentinel auth-user", "ignored without auth-pass for master %s, as Sentinel does", name)
			m.cfg.AuthUser = ""
		}
		cfg.Masters[name] = m.cfg
		state.Masters[name] = m.state
	}
	return cfg, state
}

// listenHost picks node.listen's host from the bind addresses: the first
// one, or all interfaces when none is given (Sentinel's default, "* -::*")
// or any of them is a wildcard. vigil listens on a single address.
func (b *confBuilder) listenHost() string {
	if b.bindPos == nil || len(b.bind) == 0 {
		return ""
	}
	hosts := make([]string, len(b.bind))
	for i, a := range b.bind {
		hosts[i] = strings.TrimPrefix(a, "-")
		switch hosts[i] {
		case "*", "::*", "0.0.0.0", "::":
			return ""
		}
	}
	if len(hosts) > 1 {
		b.p.warn(*b.bindPos, "bind", "vigil listens on one address, %s; not on %s", hosts[0], strings.Join(hosts[1:], " "))
	}
	return hosts[0]
}

// announce sets node.announce, and gossip.advertise when the announced
// host is an IP address, from announce-ip and announce-port. The gossip
// port is derived from the announced port.
func (b *confBuilder) announce(cfg *Config, listenHost string) {
	port := b.port
	if b.annPort != 0 {
		port = b.annPort
	}
	host := b.announceIP
	if host == "" {
		if listenHost == "" {
			b.p.warn(*b.annPortPos, "sentinel announce-port", "ignored without announce-ip when listening on all interfaces: vigil needs a host to announce")
			return
		}
		host = listenHost
	}
	cfg.Node.Announce = net.JoinHostPort(host, strconv.Itoa(port))
	if isIPLiteral(host) {
		cfg.Gossip.Advertise = net.JoinHostPort(host, strconv.Itoa(SentinelGossipPort(port)))
	}
}

func isIPLiteral(host string) bool {
	_, err := netip.ParseAddr(host)
	return err == nil
}

// originOf says which line set the value behind a vigil key, and that
// line's directive, for errors Validate finds.
func (b *confBuilder) originOf(key string) (confPos, string) {
	at := func(pos *confPos, directive string) (confPos, string) {
		if pos == nil {
			return confPos{}, directive
		}
		return *pos, directive
	}
	switch {
	case key == "node.id":
		return at(b.myIDPos, "sentinel myid")
	case key == "node.listen", strings.HasPrefix(key, "gossip."):
		if b.bindPos != nil {
			return at(b.bindPos, "bind")
		}
		return at(b.portPos, "port")
	case key == "node.announce":
		if b.annIPPos != nil {
			return at(b.annIPPos, "sentinel announce-ip")
		}
		return at(b.annPortPos, "sentinel announce-port")
	case key == "node.data-dir":
		return at(b.dirPos, "dir")
	case key == "node.requirepass":
		return at(b.reqPassPos, "requirepass")
	case key == "log.level":
		return at(b.logPos, "loglevel")
	}
	// The master whose key is the longest prefix: "masters.a.b.addr" is
	// master "a.b", not "a".
	var best *confMaster
	bestKey := ""
	for name, m := range b.masters {
		mk := masterKey(name)
		if (key == mk || strings.HasPrefix(key, mk+".")) && len(mk) > len(bestKey) {
			best, bestKey = m, mk
		}
	}
	if best == nil {
		return confPos{}, ""
	}
	field := strings.TrimPrefix(strings.TrimPrefix(key, bestKey), ".")
	if pos, ok := best.origins[field]; ok {
		return pos, "sentinel " + sentinelDirectiveFor(field)
	}
	return best.pos, "sentinel monitor"
}

// sentinelDirectiveFor names the per-master directive behind a master key.
func sentinelDirectiveFor(key string) string {
	switch key {
	case keyDownAfter:
		return "down-after-milliseconds"
	default:
		return key
	}
}
