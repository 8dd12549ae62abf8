package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-ha/vigil/internal/testbed"
)

// deployment is one Redis group (a master and its replicas, real
// redis-server processes), optionally a proxy in front of the master, the
// controllers watching it, and the observers of a run.
type deployment struct {
	env   *testbed.Env
	kind  testbed.Kind
	cfg   settings
	group *testbed.Group
	// proxy, when not nil, stands in front of the master for the replicas
	// and the controllers: they know the master by proxy.Addr().
	proxy *testbed.Proxy
	// part, when not nil, splits the deployment in two sides that can be
	// cut apart: {master, controller 1, writer} | {replicas, the other
	// controllers}.
	part *testbed.Partition
	// advertised is the master's address as the controllers were told it.
	advertised string
	rt         router
	ctrls      []*testbed.Controller
	ctrlAddrs  []string
	watcher    *testbed.EventWatcher
	prober     *testbed.RoleProber
	writer     *testbed.Writer
}

// deployOptions are what a scenario needs from its deployment.
type deployOptions struct {
	proxy     bool // put the master behind a proxy (replicas and controllers)
	partition bool // master and controller 1 on side A, the rest on side B of a testbed.Partition
	// splitControllers, with partition, puts that many controllers on
	// side A and the rest on side B, and every server on the partition's
	// spared address, reachable from both sides.
	splitControllers int
	// controllers and quorum override the settings' when not zero.
	controllers, quorum int
	persistence         bool // append-only file with fsync always on every server
	writer              bool // start the writer
	// downAfter overrides the settings' when not zero.
	downAfter time.Duration
}

// setup starts the group, the controllers and the observers, and waits
// until the controllers are ready and the writer has been acknowledged by
// the master.
func setup(ctx context.Context, env *testbed.Env, kind testbed.Kind, cfg settings, opts deployOptions) (*deployment, error) {
	d := &deployment{env: env, kind: kind, cfg: cfg, rt: router{route: map[string]string{}}}
	if opts.controllers > 0 {
		cfg.controllers = opts.controllers
	}
	if opts.quorum > 0 {
		cfg.quorum = opts.quorum
	}
	if opts.downAfter > 0 {
		cfg.downAfter = opts.downAfter
	}
	d.cfg = cfg
	var masterAt, replicasAt testbed.Placement
	var ctrlsAt []testbed.Placement
	if opts.partition {
		var err error
		if d.part, err = env.StartPartition(ctx); err != nil {
			return nil, err
		}
		onA := 1
		masterAt, replicasAt = d.part.SideA(), d.part.SideB()
		if opts.splitControllers > 0 {
			onA = opts.splitControllers
			masterAt, replicasAt = d.part.Spared(), d.part.Spared()
		}
		for i := range cfg.controllers {
			if i < onA {
				ctrlsAt = append(ctrlsAt, d.part.SideA())
			} else {
				ctrlsAt = append(ctrlsAt, d.part.SideB())
			}
		}
	}
	master, err := env.StartRedisAt(ctx, "", masterAt)
	if err != nil {
		return nil, err
	}
	d.advertised = master.Addr()
	if opts.proxy {
		if d.proxy, err = env.StartProxy(master.Addr()); err != nil {
			return nil, err
		}
		d.advertised = d.proxy.Addr()
		d.rt.route[d.proxy.Addr()] = master.Addr()
	}
	d.group = &testbed.Group{Master: master}
	for range cfg.replicas {
		r, err := env.StartRedisAt(ctx, d.advertised, replicasAt)
		if err != nil {
			return nil, err
		}
		d.group.Replicas = append(d.group.Replicas, r)
	}
	if err := waitReplicas(ctx, d.group, d.advertised); err != nil {
		return nil, err
	}
	if opts.persistence {
		for _, s := range d.group.All() {
			if err := testbed.EnablePersistence(ctx, s); err != nil {
				return nil, err
			}
		}
	}
	cc := testbed.ControllerConfig{
		Kind:            kind,
		MasterName:      cfg.masterName,
		MasterAddr:      d.advertised,
		Quorum:          cfg.quorum,
		DownAfter:       cfg.downAfter,
		FailoverTimeout: cfg.failoverTimeout,
	}
	if kind == testbed.KindVigil {
		cc.Extra = cfg.vigilExtra
	}
	cc.Placements = ctrlsAt
	d.ctrls, err = env.StartControllers(ctx, cfg.controllers, cc)
	if err != nil {
		return nil, err
	}
	for _, c := range d.ctrls {
		d.ctrlAddrs = append(d.ctrlAddrs, c.Addr())
	}
	if err := testbed.WaitControllersReady(ctx, d.ctrls, cfg.masterName, cfg.replicas); err != nil {
		return nil, err
	}
	if d.watcher, err = testbed.WatchEventsFrom(ctx, d.ctrlAddrs, env.Observer()); err != nil {
		return nil, err
	}
	d.prober = testbed.ProbeRolesFrom(ctx, d.serverAddrs(), cfg.probeInterval, env.Observer())
	if opts.writer {
		w, err := testbed.StartWriter(ctx, testbed.WriterOptions{
			MasterName: cfg.masterName, Controllers: d.ctrlAddrs, Route: d.rt.resolve,
			Interval: cfg.writeInterval, Timeout: cfg.writeTimeout, KeyPrefix: keyPrefix,
		})
		if err != nil {
			return nil, err
		}
		d.writer = w
		from := time.Now()
		if err := waitFor(ctx, 10*time.Second, "writes acknowledged by the master", func() error {
			w, ok := d.writer.LastAckOn(master.Addr())
			if !ok || w.Start.Before(from) || d.writer.Acked() < warmupWrites {
				return fmt.Errorf("%d writes acknowledged", d.writer.Acked())
			}
			return nil
		}); err != nil {
			return nil, err
		}
	}
	// Faults come to deployments that have been running: replicas online
	// and streaming (Redis streams to a freshly synced replica only after
	// its first REPLCONF ACK, up to a second later), controllers past
	// their first few pings.
	if err := waitCaughtUp(ctx, d.group); err != nil {
		return nil, err
	}
	if err := sleep(ctx, cfg.warmup); err != nil {
		return nil, err
	}
	return d, nil
}

// waitCaughtUp waits until the master lists every replica online and each
// replica's offset has reached the master's offset at the time of the call.
func waitCaughtUp(ctx context.Context, g *testbed.Group) error {
	info, err := testbed.Info(ctx, g.Master.Client(), "replication")
	if err != nil {
		return err
	}
	target, err := strconv.ParseInt(info["master_repl_offset"], 10, 64)
	if err != nil {
		return fmt.Errorf("master_repl_offset %q: %w", info["master_repl_offset"], err)
	}
	return waitFor(ctx, testbed.SyncTimeout, "replicas to catch up with the master", func() error {
		info, err := testbed.Info(ctx, g.Master.Client(), "replication")
		if err != nil {
			return err
		}
		for i := range g.Replicas {
			if line := info["slave"+strconv.Itoa(i)]; !strings.Contains(line, "state=online") {
				return fmt.Errorf("master reports slave%d:%s", i, line)
			}
		}
		for _, r := range g.Replicas {
			ri, err := testbed.Info(ctx, r.Client(), "replication")
			if err != nil {
				return err
			}
			if off, _ := strconv.ParseInt(ri["slave_repl_offset"], 10, 64); off < target {
				return fmt.Errorf("replica %s at offset %d, master was at %d", r.Addr(), off, target)
			}
		}
		return nil
	})
}

// keyPrefix is the writer's key prefix; warmupWrites how many writes the
// master must have acknowledged before a fault.
const (
	keyPrefix    = "chaos:w:"
	warmupWrites = 100
)

// close stops the observers (the environment stops the processes).
func (d *deployment) close() {
	if d.writer != nil {
		d.writer.Stop()
	}
	if d.watcher != nil {
		d.watcher.Close()
	}
	if d.prober != nil {
		d.prober.Close()
	}
}

// serverAddrs returns the real addresses of the master and the replicas.
func (d *deployment) serverAddrs() []string {
	var out []string
	for _, s := range d.group.All() {
		out = append(out, s.Addr())
	}
	return out
}

// controller returns the controller listening on addr.
func (d *deployment) controller(addr string) *testbed.Controller {
	for _, c := range d.ctrls {
		if c.Addr() == addr {
			return c
		}
	}
	return nil
}

// ctrlName returns the name of the controller listening on addr, or addr.
func (d *deployment) ctrlName(addr string) string {
	if c := d.controller(addr); c != nil {
		return c.Name
	}
	return addr
}

// waitReplicas waits until master lists every replica online and each
// replica reports its link to masterAddr (the master or its proxy) up.
func waitReplicas(ctx context.Context, g *testbed.Group, masterAddr string) error {
	_, port, err := splitAddr(masterAddr)
	if err != nil {
		return err
	}
	return waitFor(ctx, testbed.SyncTimeout, "replicas of "+masterAddr+" to be online", func() error {
		info, err := testbed.Info(ctx, g.Master.Client(), "replication")
		if err != nil {
			return err
		}
		if got := info["connected_slaves"]; got != strconv.Itoa(len(g.Replicas)) {
			return fmt.Errorf("master reports connected_slaves:%s", got)
		}
		for _, r := range g.Replicas {
			ri, err := testbed.Info(ctx, r.Client(), "replication")
			if err != nil {
				return err
			}
			if ri["master_port"] != port || ri["master_link_status"] != "up" {
				return fmt.Errorf("replica %s reports master_port:%s master_link_status:%s", r.Addr(), ri["master_port"], ri["master_link_status"])
			}
		}
		return nil
	})
}

// waitFor polls cond every 20ms until it returns nil, ctx ends or timeout
// passes; the error then names what and cond's last complaint.
func waitFor(ctx context.Context, timeout time.Duration, what string, cond func() error) error {
	deadline := time.Now().Add(timeout)
	ticker := time.NewTicker(20 * time.Millisecond)
	defer ticker.Stop()
	for {
		err := cond()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %v waiting for %s (last: %v)", timeout, what, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ticker.C:
		}
	}
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
