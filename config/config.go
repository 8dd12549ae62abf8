package config

import (
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/vigil-ha/vigil/topology"
)

// Defaults. The flags registered by BindFlags show these in their help, and
// docs/configuration.md lists them; keep the three in step.
const (
	// DefaultListen is node.listen: where the node serves the Sentinel
	// protocol (RESP). 26379 is Sentinel's port, so existing clients work
	// unchanged.
	DefaultListen = "127.0.0.1:26379"
	// DefaultDataDir is node.data-dir: where the node persists its id,
	// epochs and votes.
	DefaultDataDir = "./vigil-data"
	// DefaultGossipBind is gossip.bind: the TCP and UDP address of the gossip
	// (memberlist) transport.
	DefaultGossipBind = "127.0.0.1:7946"
	// DefaultLogLevel is log.level.
	DefaultLogLevel = "info"
	// DefaultLogFormat is log.format.
	DefaultLogFormat = "text"
	// DefaultDownAfter is a master's down-after: how long an instance may
	// fail to answer before this node considers it subjectively down.
	// Sentinel's down-after-milliseconds default.
	DefaultDownAfter = 30 * time.Second
	// DefaultFailoverTimeout is a master's failover-timeout. Sentinel's
	// default.
	DefaultFailoverTimeout = 3 * time.Minute
	// DefaultParallelSyncs is a master's parallel-syncs: replicas re-pointed
	// at the new master at the same time during a failover.
	DefaultParallelSyncs = 1
	// DefaultWriteGuardMaxLag is a master's write-guard-max-lag when unset
	// (zero): Redis's min-replicas-max-lag while the write guard is on.
	DefaultWriteGuardMaxLag = time.Second
	// DefaultPreFailoverHookTimeout bounds a master's pre-failover-hook
	// when pre-failover-hook-timeout is unset.
	DefaultPreFailoverHookTimeout = 5 * time.Second
	// DefaultHTTPListen is http.listen: empty, so the HTTP server (metrics
	// and JSON API) is off unless configured. 127.0.0.1:9121 is the
	// suggested address.
	DefaultHTTPListen = ""
)

// Log levels and formats accepted in log.level and log.format.
const (
	LevelDebug = "debug"
	LevelInfo  = "info"
	LevelWarn  = "warn"
	LevelError = "error"

	FormatText = "text"
	FormatJSON = "json"
)

// Config is vigil's complete configuration. Build one with Default or Load;
// Load returns it validated.
type Config struct {
	Node   NodeConfig
	Gossip GossipConfig
	Log    LogConfig
	HTTP   HTTPConfig
	// Masters maps each monitored master's name to its settings. The map
	// key and MasterConfig.Name are the same string.
	Masters map[string]MasterConfig
}

// NodeConfig is the "node" section: this vigil process's identity and
// client-facing endpoint.
type NodeConfig struct {
	// ID is the node's stable identity. Empty means the node generates one
	// on first start and persists it in DataDir.
	ID string
	// Listen is the host:port the Sentinel-protocol (RESP) server binds.
	// An empty host means all interfaces; port 0 picks a free port.
	Listen string
	// Announce is the host:port peers and clients should use to reach
	// Listen, when that differs (NAT, containers). Empty means Listen.
	Announce string
	// DataDir is the directory for the node's persistent state.
	DataDir string
	// RequirePass is the password of the default user on the Sentinel
	// port (AUTH pass, or AUTH default pass), like redis-server's
	// requirepass. A secret: LogValue redacts it.
	RequirePass string
	// Users are further user/password pairs accepted by AUTH user pass and
	// HELLO AUTH. With RequirePass or Users set, clients must authenticate
	// before any command but AUTH, HELLO, QUIT and RESET.
	Users []UserConfig
	// TLS, when set, makes the Sentinel port TLS-only.
	TLS NodeTLSConfig
	// DenyScriptsReconfig is Sentinel's deny-scripts-reconfig: "yes" (the
	// default, also when empty) refuses SENTINEL SET of a script path
	// (notification-script, client-reconfig-script, pre-failover-hook);
	// "no" allows it. "true" and "false" are accepted too.
	DenyScriptsReconfig string
	// AnnounceHostnames is Sentinel's announce-hostnames: "yes" makes
	// replies, INFO and events show an instance configured by host name
	// with that name; "no" (the default, also when empty) with the IP
	// address it resolves to. "true" and "false" are accepted too.
	AnnounceHostnames string
}

// AnnouncesHostnames reports whether instances configured by host name are
// shown by that name: true when AnnounceHostnames is "yes" or "true".
func (n NodeConfig) AnnouncesHostnames() bool { return yes(n.AnnounceHostnames) }

// yes reports whether a yes/no setting is on: "yes" or "true", any case.
func yes(v string) bool {
	switch strings.ToLower(v) {
	case "yes", "true":
		return true
	}
	return false
}

// ScriptsReconfigDenied reports whether SENTINEL SET may not change script
// paths: true unless DenyScriptsReconfig is "no" or "false".
func (n NodeConfig) ScriptsReconfigDenied() bool {
	switch strings.ToLower(n.DenyScriptsReconfig) {
	case "no", "false":
		return false
	}
	return true
}

// GossipConfig is the "gossip" section: membership among vigil nodes.
type GossipConfig struct {
	// Bind is the host:port of the gossip transport (TCP and UDP).
	Bind string
	// Join lists host:port seeds to contact at start-up. Empty means start
	// a new cluster (other nodes may join this one).
	Join []string
	// Advertise is the host:port other nodes should gossip to, when that
	// differs from Bind. Empty means Bind.
	Advertise string
	// SecretKeys are base64-encoded 16, 24 or 32 byte keys. The first
	// encrypts gossip; all of them decrypt, so that keys can be rotated
	// without downtime. Empty means plain-text gossip. Secrets: LogValue
	// shows only how many there are.
	SecretKeys []string
}

// LogConfig is the "log" section.
type LogConfig struct {
	// Level is one of LevelDebug, LevelInfo, LevelWarn, LevelError.
	Level string
	// Format is FormatText or FormatJSON.
	Format string
}

// HTTPConfig is the "http" section: the operator endpoint serving
// Prometheus metrics and the JSON API.
type HTTPConfig struct {
	// Listen is the host:port the HTTP server binds. Empty (the default)
	// turns the server off; port 0 picks a free port.
	Listen string
	// Token is the bearer token that authorises the endpoints that change
	// state (manual failover, switchover). Empty disables them. It is a
	// secret: LogValue redacts it and validation never echoes it.
	Token string
	// Pprof is "yes" to serve Go's profiles under /debug/pprof/ on Listen
	// (off when empty or "no").
	Pprof string
	// Webhooks are URLs the node POSTs its events to. They are outgoing:
	// they work whether or not Listen is set. File only.
	Webhooks []WebhookConfig
}

// PprofEnabled reports whether http.pprof is on ("yes" or "true").
func (h HTTPConfig) PprofEnabled() bool { return yes(h.Pprof) }

// LogValue renders the section for slog with the token redacted and the
// webhooks' URLs redacted (see WebhookConfig.RedactedURL).
func (h HTTPConfig) LogValue() slog.Value {
	token := ""
	if h.Token != "" {
		token = "******"
	}
	webhooks := make([]string, len(h.Webhooks))
	for i, w := range h.Webhooks {
		webhooks[i] = w.RedactedURL()
	}
	return slog.GroupValue(
		slog.String("listen", h.Listen),
		slog.String("token", token),
		slog.String("pprof", h.Pprof),
		slog.Any("webhooks", webhooks),
	)
}

// MasterConfig is one entry of the "masters" section: a Redis master group to
// monitor, the equivalent of Sentinel's "sentinel monitor" plus its per-master
// directives.
type MasterConfig struct {
	// Name is the group's name, as clients pass it to
	// SENTINEL GET-MASTER-ADDR-BY-NAME. Case-sensitive.
	Name string
	// Addr is the master's address at start-up.
	Addr topology.Addr
	// Quorum is how many vigil nodes must agree the master is unreachable
	// before it is objectively down. A failover still needs a majority.
	Quorum int
	// DownAfter is how long an instance may fail to reply before it is
	// subjectively down.
	DownAfter time.Duration
	// FailoverTimeout bounds a failover's steps and spaces retries.
	FailoverTimeout time.Duration
	// ParallelSyncs is how many replicas are re-pointed at once.
	ParallelSyncs int
	// WriteGuard makes vigil keep min-replicas-to-write 1 (lag
	// WriteGuardMaxLag) on the master while it has a healthy replica, so
	// that a master cut off from its replicas stops acknowledging writes
	// that a failover would lose (see docs/configuration.md).
	WriteGuard       bool
	WriteGuardMaxLag time.Duration
	// DisableIsolationFence turns off the isolated-master fence
	// (isolation-fence: false): by default a node that reaches the master
	// but neither its replicas nor a majority of the nodes makes it refuse
	// writes until the partition is over (see docs/reliability.md).
	DisableIsolationFence bool
	// AntiFlap is a quiet period after a failover of this master during
	// which no automatic failover starts again (0: none).
	AntiFlap time.Duration
	// PreFailoverHook is the absolute path of a program run before this
	// node asks for votes: exit 0 allows the failover, anything else
	// vetoes it (its first output line is the reason). It gets
	// <master-name> <master-ip> <master-port>. PreFailoverHookTimeout
	// bounds it (default 5 s; a timeout is a veto).
	PreFailoverHook        string
	PreFailoverHookTimeout time.Duration
	// AuthUser and AuthPass authenticate to the master and its replicas
	// (AUTH [user] pass). Both empty means no AUTH.
	AuthUser string
	AuthPass string
	// TLS configures TLS towards the master and its replicas.
	TLS MasterTLSConfig
	// NotificationScript is the absolute path of a program run with
	// "<event-type> <event-description>" for every warning-level event
	// about this master or its instances. Empty means none.
	// docs/scripts.md describes the contract.
	NotificationScript string
	// ClientReconfigScript is the absolute path of a program run when a
	// failover moves this master, with "<master-name> <role> <state>
	// <from-ip> <from-port> <to-ip> <to-port>". Empty means none.
	ClientReconfigScript string
}

// Default returns the configuration used when nothing is set: the Default*
// constants and no masters.
func Default() Config {
	return Config{
		Node: NodeConfig{
			Listen:  DefaultListen,
			DataDir: DefaultDataDir,
		},
		Gossip: GossipConfig{
			Bind: DefaultGossipBind,
		},
		Log: LogConfig{
			Level:  DefaultLogLevel,
			Format: DefaultLogFormat,
		},
		HTTP: HTTPConfig{
			Listen: DefaultHTTPListen,
		},
		Masters: map[string]MasterConfig{},
	}
}

// NewMaster returns a master with the given name, address and quorum and
// every other setting at its default, as SENTINEL MONITOR creates one.
func NewMaster(name string, addr topology.Addr, quorum int) MasterConfig {
	return MasterConfig{
		Name:            name,
		Addr:            addr,
		Quorum:          quorum,
		DownAfter:       DefaultDownAfter,
		FailoverTimeout: DefaultFailoverTimeout,
		ParallelSyncs:   DefaultParallelSyncs,
	}
}

// MasterNames returns the names of the configured masters, sorted.
func (c Config) MasterNames() []string {
	names := make([]string, 0, len(c.Masters))
	for name := range c.Masters {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// SlogLevel maps Level to a slog.Level; anything unrecognised is Info.
func (l LogConfig) SlogLevel() slog.Level {
	switch l.Level {
	case LevelDebug:
		return slog.LevelDebug
	case LevelWarn:
		return slog.LevelWarn
	case LevelError:
		return slog.LevelError
	default:
		return slog.LevelInfo
	}
}

// LogValue renders the master for slog with the password redacted.
func (m MasterConfig) LogValue() slog.Value {
	pass := ""
	if m.AuthPass != "" {
		pass = "******"
	}
	return slog.GroupValue(
		slog.String("name", m.Name),
		slog.String("addr", m.Addr.String()),
		slog.Int("quorum", m.Quorum),
		slog.Duration("down-after", m.DownAfter),
		slog.Duration("failover-timeout", m.FailoverTimeout),
		slog.Int("parallel-syncs", m.ParallelSyncs),
		slog.String("auth-user", m.AuthUser),
		slog.String("auth-pass", pass),
		slog.Bool("tls", m.TLS.Enabled),
		slog.String("notification-script", m.NotificationScript),
		slog.String("client-reconfig-script", m.ClientReconfigScript),
	)
}
