package testbed

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Kind is the kind of controller watching a Redis group.
type Kind string

// The controller kinds.
const (
	// KindVigil is a vigil node (bin/vigil run).
	KindVigil Kind = "vigil"
	// KindSentinel is a redis-sentinel process.
	KindSentinel Kind = "sentinel"
)

// AllKinds lists every controller kind, vigil first.
func AllKinds() []Kind { return []Kind{KindVigil, KindSentinel} }

// ParseKind accepts "vigil" or "sentinel".
func ParseKind(s string) (Kind, error) {
	switch k := Kind(s); k {
	case KindVigil, KindSentinel:
		return k, nil
	}
	return "", fmt.Errorf("testbed: unknown controller kind %q (want vigil or sentinel)", s)
}

// ControllerConfig is what every controller of a set is configured with;
// both kinds get the same settings.
type ControllerConfig struct {
	// Kind selects vigil or redis-sentinel.
	Kind Kind
	// MasterName is the name clients ask for ("mymaster").
	MasterName string
	// MasterAddr is the master's "127.0.0.1:port" at start.
	MasterAddr string
	// Quorum is the number of controllers that must agree the master is
	// down.
	Quorum int
	// DownAfter is down-after-milliseconds / down-after.
	DownAfter time.Duration
	// FailoverTimeout is failover-timeout.
	FailoverTimeout time.Duration
	// ParallelSyncs is parallel-syncs; 0 means 1.
	ParallelSyncs int
	// LogLevel is vigil's log.level (default "info"); redis-sentinel always
	// logs at its default (notice) level.
	LogLevel string
	// Placements, when set, says where controller i runs (a side of a
	// [Partition]); controllers beyond it run on 127.0.0.1.
	Placements []Placement
	// Extra is appended to every vigil node's masters.<name> section
	// (indented YAML lines, e.g. "    write-guard: true\n"); ignored for
	// redis-sentinel.
	Extra string
}

func (c ControllerConfig) validate() error {
	var errs []error
	if _, err := ParseKind(string(c.Kind)); err != nil {
		errs = append(errs, err)
	}
	if c.MasterName == "" {
		errs = append(errs, errors.New("MasterName is empty"))
	}
	if _, _, err := splitHostPort(c.MasterAddr); err != nil {
		errs = append(errs, fmt.Errorf("MasterAddr: %w", err))
	}
	if c.Quorum < 1 {
		errs = append(errs, fmt.Errorf("quorum %d < 1", c.Quorum))
	}
	if c.DownAfter < time.Millisecond || c.FailoverTimeout < time.Millisecond {
		errs = append(errs, errors.New("DownAfter and FailoverTimeout must be at least 1ms"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("testbed: controller config: %w", err)
	}
	return nil
}

// Controller is one vigil node or redis-sentinel process.
type Controller struct {
	// Kind is vigil or sentinel.
	Kind Kind
	// Name is "vigil-<n>" or "sentinel-<n>"; for vigil it is also node.id.
	Name string
	// Port is the Sentinel-protocol (RESP) port.
	Port int
	// GossipPort is vigil's gossip.bind port (0 for redis-sentinel).
	GossipPort int
	// Dir holds the configuration, data and output.
	Dir string
	// ConfigPath is the generated vigil.yaml or sentinel.conf.
	ConfigPath string
	// Placement is where it runs (default 127.0.0.1, root namespace).
	Placement Placement

	proc   *Proc
	client *redis.Client
}

// Addr returns "<host>:<Port>", 127.0.0.1 unless placed elsewhere.
func (c *Controller) Addr() string { return hostPort(c.Placement.host(), c.Port) }

// GossipAddr returns "<host>:<GossipPort>" (vigil only).
func (c *Controller) GossipAddr() string { return hostPort(c.Placement.host(), c.GossipPort) }

// Proc returns the controller's process.
func (c *Controller) Proc() *Proc { return c.proc }

// Client returns a fail-fast client for the controller's RESP port (see
// [NewClient]) with a one-second timeout. The environment closes it.
func (c *Controller) Client() *redis.Client { return c.client }

// Stop stops the controller with SIGTERM (SIGKILL after StopTimeout).
func (c *Controller) Stop() { c.proc.Stop(StopTimeout) }

// Kill stops the controller with SIGKILL.
func (c *Controller) Kill() { c.proc.Kill() }

// Output returns the controller's log so far (both kinds log to stdout or
// stderr, which the environment captures).
func (c *Controller) Output() (string, error) { return c.proc.Output() }

// MasterAddr asks SENTINEL GET-MASTER-ADDR-BY-NAME and returns "host:port".
func (c *Controller) MasterAddr(ctx context.Context, name string) (string, error) {
	return MasterAddrOf(ctx, c.client, name)
}

// MasterAddrOf asks the controller behind client for the address of the
// master called name.
func MasterAddrOf(ctx context.Context, client *redis.Client, name string) (string, error) {
	reply, err := client.Do(ctx, "SENTINEL", "get-master-addr-by-name", name).Slice()
	if err != nil {
		return "", fmt.Errorf("SENTINEL get-master-addr-by-name %s on %s: %w", name, client.Options().Addr, err)
	}
	if len(reply) != 2 {
		return "", fmt.Errorf("SENTINEL get-master-addr-by-name %s on %s: %d elements", name, client.Options().Addr, len(reply))
	}
	return fmt.Sprint(reply[0]) + ":" + fmt.Sprint(reply[1]), nil
}

// Failover sends SENTINEL FAILOVER name: a manual failover that needs no
// agreement from the other controllers.
func (c *Controller) Failover(ctx context.Context, name string) error {
	if err := c.client.Do(ctx, "SENTINEL", "failover", name).Err(); err != nil {
		return fmt.Errorf("SENTINEL failover %s on %s: %w", name, c.Name, err)
	}
	return nil
}

// Master returns the fields of SENTINEL MASTER name.
func (c *Controller) Master(ctx context.Context, name string) (map[string]string, error) {
	reply, err := c.client.Do(ctx, "SENTINEL", "master", name).Result()
	if err != nil {
		return nil, fmt.Errorf("SENTINEL master %s on %s: %w", name, c.Name, err)
	}
	return flatMap(reply)
}

// Replicas returns the entries of SENTINEL REPLICAS name.
func (c *Controller) Replicas(ctx context.Context, name string) ([]map[string]string, error) {
	reply, err := c.client.Do(ctx, "SENTINEL", "replicas", name).Slice()
	if err != nil {
		return nil, fmt.Errorf("SENTINEL replicas %s on %s: %w", name, c.Name, err)
	}
	out := make([]map[string]string, 0, len(reply))
	for _, r := range reply {
		m, err := flatMap(r)
		if err != nil {
			return nil, fmt.Errorf("SENTINEL replicas %s on %s: %w", name, c.Name, err)
		}
		out = append(out, m)
	}
	return out, nil
}

// VigilConfig renders a vigil node's YAML configuration.
func VigilConfig(cfg ControllerConfig, id string, listen, gossip int, dataDir string, join []int) string {
	var peers []string
	for _, p := range join {
		peers = append(peers, loopback(p))
	}
	return vigilConfigAt(cfg, id, "127.0.0.1", listen, gossip, dataDir, peers)
}

func vigilConfigAt(cfg ControllerConfig, id, host string, listen, gossip int, dataDir string, join []string) string {
	level := cfg.LogLevel
	if level == "" {
		level = "info"
	}
	var b strings.Builder
	b.WriteString("# Written by vigil's internal/testbed.\n")
	b.WriteString("node:\n")
	fmt.Fprintf(&b, "  id: %s\n", id)
	fmt.Fprintf(&b, "  listen: %s\n", hostPort(host, listen))
	fmt.Fprintf(&b, "  data-dir: %s\n", strconv.Quote(dataDir))
	b.WriteString("gossip:\n")
	fmt.Fprintf(&b, "  bind: %s\n", hostPort(host, gossip))
	if len(join) == 0 {
		b.WriteString("  join: []\n")
	} else {
		b.WriteString("  join:\n")
		for _, p := range join {
			fmt.Fprintf(&b, "    - %s\n", p)
		}
	}
	b.WriteString("log:\n")
	fmt.Fprintf(&b, "  level: %s\n", level)
	b.WriteString("  format: text\n")
	b.WriteString("masters:\n")
	fmt.Fprintf(&b, "  %s:\n", cfg.MasterName)
	fmt.Fprintf(&b, "    addr: %q\n", cfg.MasterAddr)
	fmt.Fprintf(&b, "    quorum: %d\n", cfg.Quorum)
	fmt.Fprintf(&b, "    down-after: %dms\n", cfg.DownAfter.Milliseconds())
	fmt.Fprintf(&b, "    failover-timeout: %dms\n", cfg.FailoverTimeout.Milliseconds())
	fmt.Fprintf(&b, "    parallel-syncs: %d\n", max(cfg.ParallelSyncs, 1))
	b.WriteString(cfg.Extra)
	return b.String()
}

// SentinelConfig renders a redis-sentinel configuration file.
func SentinelConfig(cfg ControllerConfig, port int, dir string) (string, error) {
	return sentinelConfigAt(cfg, "127.0.0.1", port, dir)
}

func sentinelConfigAt(cfg ControllerConfig, bind string, port int, dir string) (string, error) {
	host, masterPort, err := splitHostPort(cfg.MasterAddr)
	if err != nil {
		return "", fmt.Errorf("MasterAddr: %w", err)
	}
	var b strings.Builder
	b.WriteString("# Written by vigil's internal/testbed; redis-sentinel rewrites it.\n")
	fmt.Fprintf(&b, "port %d\n", port)
	fmt.Fprintf(&b, "bind %s\n", bind)
	b.WriteString("protected-mode no\n")
	b.WriteString("daemonize no\n")
	fmt.Fprintf(&b, "dir %s\n", quote(dir))
	b.WriteString("logfile \"\"\n")
	b.WriteString("sentinel resolve-hostnames no\n")
	b.WriteString("sentinel announce-hostnames no\n")
	fmt.Fprintf(&b, "sentinel monitor %s %s %d %d\n", cfg.MasterName, host, masterPort, cfg.Quorum)
	fmt.Fprintf(&b, "sentinel down-after-milliseconds %s %d\n", cfg.MasterName, cfg.DownAfter.Milliseconds())
	fmt.Fprintf(&b, "sentinel failover-timeout %s %d\n", cfg.MasterName, cfg.FailoverTimeout.Milliseconds())
	fmt.Fprintf(&b, "sentinel parallel-syncs %s %d\n", cfg.MasterName, max(cfg.ParallelSyncs, 1))
	return b.String(), nil
}

// StartControllers starts n controllers of cfg.Kind with the same settings
// and waits until each answers PING. Vigil nodes list each other's gossip
// addresses in gossip.join; redis-sentinels find each other through the
// master's hello channel. Use [WaitControllersReady] before injecting
// faults.
func (e *Env) StartControllers(ctx context.Context, n int, cfg ControllerConfig) ([]*Controller, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if n < 1 {
		return nil, fmt.Errorf("testbed: StartControllers with n=%d", n)
	}
	binName := e.opts.Vigil
	if cfg.Kind == KindSentinel {
		binName = e.opts.RedisSentinel
	}
	bin, err := exec.LookPath(binName)
	if err != nil {
		return nil, fmt.Errorf("testbed: %s not found (for vigil run `make build`; for sentinel install the Debian package redis-sentinel): %w", binName, err)
	}
	ctrls := make([]*Controller, n)
	for i := range ctrls {
		name, dir, err := e.newDir(string(cfg.Kind))
		if err != nil {
			return nil, err
		}
		c := &Controller{Kind: cfg.Kind, Name: name, Dir: dir}
		if i < len(cfg.Placements) {
			c.Placement = cfg.Placements[i]
		}
		if c.Port, err = e.Ports.Free(); err != nil {
			return nil, err
		}
		if cfg.Kind == KindVigil {
			if c.GossipPort, err = e.Ports.FreeTCPUDP(); err != nil {
				return nil, err
			}
		}
		ctrls[i] = c
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, c := range ctrls {
		wg.Go(func() {
			if err := e.launchController(ctx, bin, c, ctrls, cfg); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return ctrls, nil
}

// launchController writes c's configuration, starts it and waits for PING.
// Ports were chosen by StartControllers (all peers must know them up front),
// so a port taken meanwhile is an error rather than a retry.
func (e *Env) launchController(ctx context.Context, bin string, c *Controller, all []*Controller, cfg ControllerConfig) error {
	var (
		text string
		args []string
		err  error
	)
	switch cfg.Kind {
	case KindVigil:
		var join []string
		for _, o := range all {
			if o != c {
				join = append(join, o.GossipAddr())
			}
		}
		dataDir := filepath.Join(c.Dir, "data")
		text = vigilConfigAt(cfg, c.Name, c.Placement.host(), c.Port, c.GossipPort, dataDir, join)
		c.ConfigPath = filepath.Join(c.Dir, "vigil.yaml")
		args = []string{"run", "--config", c.ConfigPath}
	case KindSentinel:
		text, err = sentinelConfigAt(cfg, c.Placement.host(), c.Port, c.Dir)
		if err != nil {
			return fmt.Errorf("testbed: %s: %w", c.Name, err)
		}
		c.ConfigPath = filepath.Join(c.Dir, "sentinel.conf")
		args = []string{c.ConfigPath}
	}
	if err := os.WriteFile(c.ConfigPath, []byte(text), 0o644); err != nil {
		return fmt.Errorf("testbed: %w", err)
	}
	cmd, args, err := c.Placement.command(bin, args)
	if err != nil {
		return err
	}
	if c.proc, err = e.start(c.Name, c.Dir, cmd, args); err != nil {
		return err
	}
	if err := waitServing(ctx, c.proc, c.Addr()); err != nil {
		return fmt.Errorf("testbed: start %s on %s: %w\n%s", c.Name, c.Addr(), err, tail(logTailLines, c.proc.OutputPath))
	}
	c.client = NewClientFrom(c.Addr(), e.Observer(), time.Second)
	e.onClose(c.client)
	e.log.Debug("controller started", "name", c.Name, "addr", c.Addr(), "pid", c.proc.PID())
	return nil
}

// ReadyTimeout bounds how long [WaitControllersReady] waits.
const ReadyTimeout = 30 * time.Second

// WaitControllersReady waits until every controller sees the master called
// name as healthy (flags exactly "master"), knows all the other controllers
// (num-other-sentinels), lists exactly `replicas` replicas all healthy
// (flags exactly "slave"), and answers SENTINEL CKQUORUM with OK.
func WaitControllersReady(ctx context.Context, ctrls []*Controller, name string, replicas int) error {
	return waitUntil(ctx, ReadyTimeout, "controllers to be ready", func() error {
		for _, c := range ctrls {
			if err := controllerProblem(ctx, c, name, len(ctrls)-1, replicas); err != nil {
				return fmt.Errorf("%s: %w", c.Name, err)
			}
		}
		return nil
	})
}

func controllerProblem(ctx context.Context, c *Controller, name string, others, replicas int) error {
	if c.proc.Exited() {
		return permanent{fmt.Errorf("exited: %s", c.proc.ExitStatus())}
	}
	m, err := c.Master(ctx, name)
	if err != nil {
		return err
	}
	if m["flags"] != "master" {
		return fmt.Errorf("master flags %q", m["flags"])
	}
	if m["num-other-sentinels"] != strconv.Itoa(others) {
		return fmt.Errorf("num-other-sentinels %s, want %d", m["num-other-sentinels"], others)
	}
	rs, err := c.Replicas(ctx, name)
	if err != nil {
		return err
	}
	if len(rs) != replicas {
		return fmt.Errorf("%d replicas listed, want %d", len(rs), replicas)
	}
	for _, r := range rs {
		if r["flags"] != "slave" {
			return fmt.Errorf("replica %s:%s flags %q", r["ip"], r["port"], r["flags"])
		}
	}
	if err := c.client.Do(ctx, "SENTINEL", "ckquorum", name).Err(); err != nil {
		return fmt.Errorf("ckquorum: %w", err)
	}
	return nil
}
