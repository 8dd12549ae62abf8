package cluster

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"time"

	"github.com/hashicorp/memberlist"
)

// Defaults for the zero values of Config's timing fields. They follow
// memberlist.DefaultLANConfig with faster probing and gossip, so that a
// failed node is noticed within a few seconds and loopback tests run fast.
const (
	DefaultProbeInterval     = 500 * time.Millisecond
	DefaultGossipInterval    = 100 * time.Millisecond
	DefaultPushPullInterval  = 10 * time.Second
	DefaultBroadcastInterval = time.Second
	DefaultJoinRetryMax      = 5 * time.Second
	DefaultReconnectInterval = 10 * time.Second
	DefaultFailedRetention   = 24 * time.Hour
)

const (
	tcpTimeout      = 2 * time.Second // memberlist TCP dial/read/write, vote messages included
	deadNodeReclaim = 5 * time.Second // a crashed node may come back at a new address after this
	maxProbeTimeout = 500 * time.Millisecond
)

// Config configures a Cluster. NodeID and RESPAddr are required; zero
// durations take the Default constants. With Bind on 0.0.0.0, memberlist
// advertises the host's first private IP (and New fails if there is none):
// set Advertise when peers must use another address.
type Config struct {
	NodeID    string   // this node's id, 1-64 chars of A-Z a-z 0-9 . - _; the memberlist node name
	RESPAddr  string   // host:port of this node's Sentinel-protocol port, carried in node meta
	Bind      string   // IP:port for memberlist TCP and UDP; "" means 0.0.0.0:0, port 0 picks a free port
	Advertise string   // optional IP:port announced to peers; its port is ignored when Bind's port is 0
	Join      []string // seed host:port list, joined in the background by Run until one answers
	SecretKey []byte   // optional 16, 24 or 32 byte key; memberlist then encrypts and authenticates gossip
	// SecretKeys is an optional keyring for key rotation: the first key
	// (or SecretKey, when set) encrypts, every key decrypts. With any key
	// set, unencrypted gossip is refused in both directions.
	SecretKeys [][]byte
	Logger     *slog.Logger

	ProbeInterval     time.Duration // failure detection probe period (timeout is half of it, at most 500ms)
	GossipInterval    time.Duration // UDP gossip period, which carries queued broadcasts
	PushPullInterval  time.Duration // full state exchange over TCP with one random member
	BroadcastInterval time.Duration // how often Run broadcasts Handler.LocalState
	JoinRetryMax      time.Duration // upper bound of the seed join backoff (it starts at 100ms)
	ReconnectInterval time.Duration // how often Run tries to rejoin one failed member
	FailedRetention   time.Duration // how long Members keeps a failed or departed member
}

// withDefaults fills the zero durations and the empty Bind.
func (cfg Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&cfg.ProbeInterval, DefaultProbeInterval)
	def(&cfg.GossipInterval, DefaultGossipInterval)
	def(&cfg.PushPullInterval, DefaultPushPullInterval)
	def(&cfg.BroadcastInterval, DefaultBroadcastInterval)
	def(&cfg.JoinRetryMax, DefaultJoinRetryMax)
	def(&cfg.ReconnectInterval, DefaultReconnectInterval)
	def(&cfg.FailedRetention, DefaultFailedRetention)
	if cfg.Bind == "" {
		cfg.Bind = "0.0.0.0:0"
	}
	return cfg
}

// memberlistConfig validates cfg and translates it.
func (cfg Config) memberlistConfig() (*memberlist.Config, error) {
	if !validID(cfg.NodeID) {
		return nil, fmt.Errorf("cluster: node id %q: want 1 to %d characters from A-Z a-z 0-9 . - _", cfg.NodeID, maxIDLen)
	}
	if !validHostPort(cfg.RESPAddr) {
		return nil, fmt.Errorf("cluster: resp addr %q: want host:port", cfg.RESPAddr)
	}
	for _, d := range []time.Duration{cfg.ProbeInterval, cfg.GossipInterval, cfg.PushPullInterval,
		cfg.BroadcastInterval, cfg.JoinRetryMax, cfg.ReconnectInterval, cfg.FailedRetention} {
		if d < 0 {
			return nil, fmt.Errorf("cluster: negative duration %s", d)
		}
	}
	keys := cfg.SecretKeys
	if len(cfg.SecretKey) > 0 {
		keys = append([][]byte{cfg.SecretKey}, keys...)
	}
	for _, k := range keys {
		switch len(k) {
		case 16, 24, 32:
		default:
			return nil, fmt.Errorf("cluster: secret key is %d bytes, want 16, 24 or 32", len(k))
		}
	}
	cfg = cfg.withDefaults()
	bindIP, bindPort, err := splitIPPort(cfg.Bind)
	if err != nil {
		return nil, fmt.Errorf("cluster: bind %q: %w", cfg.Bind, err)
	}
	mc := memberlist.DefaultLANConfig()
	mc.Name = cfg.NodeID
	mc.BindAddr, mc.BindPort = bindIP, bindPort
	mc.AdvertisePort = bindPort
	if cfg.Advertise != "" {
		ip, port, err := splitIPPort(cfg.Advertise)
		if err != nil {
			return nil, fmt.Errorf("cluster: advertise %q: %w", cfg.Advertise, err)
		}
		mc.AdvertiseAddr, mc.AdvertisePort = ip, port
		if port == 0 {
			mc.AdvertisePort = bindPort
		}
	}
	mc.ProbeInterval = cfg.ProbeInterval
	mc.ProbeTimeout = min(cfg.ProbeInterval/2, maxProbeTimeout)
	mc.GossipInterval = cfg.GossipInterval
	mc.PushPullInterval = cfg.PushPullInterval
	mc.TCPTimeout = tcpTimeout
	mc.DeadNodeReclaimTime = deadNodeReclaim
	if len(keys) > 0 {
		ring, err := memberlist.NewKeyring(keys, keys[0])
		if err != nil {
			return nil, fmt.Errorf("cluster: keyring: %w", err)
		}
		mc.Keyring = ring
		mc.GossipVerifyIncoming, mc.GossipVerifyOutgoing = true, true
	}
	return mc, nil
}

// splitIPPort parses IP:port (an empty IP means all interfaces), as
// memberlist wants IP literals.
func splitIPPort(s string) (string, int, error) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return "", 0, err
	}
	if host == "" {
		host = "0.0.0.0"
	}
	if _, err := netip.ParseAddr(host); err != nil {
		return "", 0, fmt.Errorf("want an IP address: %w", err)
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return "", 0, fmt.Errorf("bad port: %w", err)
	}
	return host, int(p), nil
}
