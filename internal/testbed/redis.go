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
	"github.com/vigil-ha/vigil/internal/resp"
)

const (
	// StartTimeout bounds how long a new server or controller may take to
	// answer PING.
	StartTimeout = 10 * time.Second
	// SyncTimeout bounds how long StartGroup waits for replication.
	SyncTimeout = 20 * time.Second
	// startAttempts is how many port choices a start tries when the port
	// it picked was taken before the server could bind it.
	startAttempts = 5
	// logTailLines is how much of a log a start error shows.
	logTailLines = 30
)

// errPortInUse reports that a server exited because its port was taken.
var errPortInUse = errors.New("port already in use")

// RedisServer is one redis-server child process on 127.0.0.1:Port with its
// redis.conf, redis.log and data in Dir.
type RedisServer struct {
	// Name is "redis-<n>" within the environment.
	Name string
	// Port is the TCP port the server listens on.
	Port int
	// Dir holds redis.conf, redis.log and output.log.
	Dir string
	// Placement is where it runs (default 127.0.0.1, root namespace).
	Placement Placement

	proc   *Proc
	client *redis.Client
}

// Addr returns "<host>:<Port>", 127.0.0.1 unless placed elsewhere.
func (s *RedisServer) Addr() string { return hostPort(s.Placement.host(), s.Port) }

// Proc returns the server's process.
func (s *RedisServer) Proc() *Proc { return s.proc }

// LogPath returns the path of the server's redis.log.
func (s *RedisServer) LogPath() string { return filepath.Join(s.Dir, "redis.log") }

// Client returns a fail-fast client for the server (see [NewClient]) with a
// one-second timeout. The environment closes it.
func (s *RedisServer) Client() *redis.Client { return s.client }

// Kill sends SIGKILL to the server and waits until it has been reaped.
func (s *RedisServer) Kill() { s.proc.Kill() }

// Pause sends SIGSTOP to the server.
func (s *RedisServer) Pause() error { return s.proc.Pause() }

// Resume sends SIGCONT to the server.
func (s *RedisServer) Resume() error { return s.proc.Resume() }

// RedisConfig renders the redis.conf of a throwaway server: loopback only,
// no persistence, immediate diskless full syncs, and replicaof when
// replicaOf ("host:port") is set.
func RedisConfig(port int, dir, replicaOf string) (string, error) {
	return redisConfigAt("127.0.0.1", port, dir, replicaOf)
}

func redisConfigAt(host string, port int, dir, replicaOf string) (string, error) {
	var b strings.Builder
	b.WriteString("# Written by vigil's internal/testbed.\n")
	fmt.Fprintf(&b, "port %d\n", port)
	fmt.Fprintf(&b, "bind %s\n", host)
	fmt.Fprintf(&b, "dir %s\n", quote(dir))
	b.WriteString("daemonize no\n")
	b.WriteString("protected-mode no\n")
	fmt.Fprintf(&b, "logfile %s\n", quote(filepath.Join(dir, "redis.log")))
	b.WriteString("save \"\"\n")
	b.WriteString("appendonly no\n")
	b.WriteString("repl-diskless-sync yes\n")
	b.WriteString("repl-diskless-sync-delay 0\n")
	if replicaOf != "" {
		host, port, err := splitHostPort(replicaOf)
		if err != nil {
			return "", fmt.Errorf("replicaof: %w", err)
		}
		fmt.Fprintf(&b, "replicaof %s %d\n", host, port)
	}
	return b.String(), nil
}

// quote renders s as a double-quoted redis.conf string.
func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// splitHostPort splits "host:port" and checks the port.
func splitHostPort(addr string) (string, int, error) {
	i := strings.LastIndexByte(addr, ':')
	if i <= 0 {
		return "", 0, fmt.Errorf("%q: want host:port", addr)
	}
	port, err := strconv.Atoi(addr[i+1:])
	if err != nil || port < 1 || port > 65535 {
		return "", 0, fmt.Errorf("%q: bad port", addr)
	}
	return strings.Trim(addr[:i], "[]"), port, nil
}

// StartRedis starts a redis-server on a free loopback port (a replica of
// replicaOf when it is not empty) and waits until it answers PING.
func (e *Env) StartRedis(ctx context.Context, replicaOf string) (*RedisServer, error) {
	return e.StartRedisAt(ctx, replicaOf, Placement{})
}

// StartRedisAt is [Env.StartRedis] with the server placed at pl (a side of
// a [Partition]).
func (e *Env) StartRedisAt(ctx context.Context, replicaOf string, pl Placement) (*RedisServer, error) {
	bin, err := exec.LookPath(e.opts.RedisServer)
	if err != nil {
		return nil, fmt.Errorf("testbed: %s not found (install the Debian package redis-server): %w", e.opts.RedisServer, err)
	}
	name, dir, err := e.newDir("redis")
	if err != nil {
		return nil, err
	}
	s := &RedisServer{Name: name, Dir: dir, Placement: pl}
	conf := filepath.Join(dir, "redis.conf")
	for attempt := 1; ; attempt++ {
		if s.Port, err = e.Ports.Free(); err != nil {
			return nil, err
		}
		text, err := redisConfigAt(pl.host(), s.Port, dir, replicaOf)
		if err != nil {
			return nil, fmt.Errorf("testbed: %w", err)
		}
		if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
			return nil, fmt.Errorf("testbed: %w", err)
		}
		cmd, args, err := pl.command(bin, []string{conf})
		if err != nil {
			return nil, err
		}
		if s.proc, err = e.start(name, dir, cmd, args); err != nil {
			return nil, err
		}
		err = waitServing(ctx, s.proc, s.Addr(), s.LogPath())
		if err == nil {
			break
		}
		s.proc.Kill()
		if errors.Is(err, errPortInUse) && attempt < startAttempts {
			continue
		}
		return nil, fmt.Errorf("testbed: start %s on %s: %w\n%s", name, s.Addr(), err, tail(logTailLines, s.LogPath(), s.proc.OutputPath))
	}
	s.client = NewClientFrom(s.Addr(), e.Observer(), time.Second)
	e.onClose(s.client)
	e.log.Debug("redis-server started", "name", name, "addr", s.Addr(), "pid", s.proc.PID(), "replicaof", replicaOf)
	return s, nil
}

// waitServing waits until addr answers PING, the process exits (then the
// error wraps errPortInUse when a log says so) or StartTimeout passes.
func waitServing(ctx context.Context, p *Proc, addr string, logs ...string) error {
	return waitUntil(ctx, StartTimeout, p.Name+" to answer PING on "+addr, func() error {
		if p.Exited() {
			for _, path := range append(logs, p.OutputPath) {
				if b, err := os.ReadFile(path); err == nil && strings.Contains(string(b), "already in use") {
					return permanent{fmt.Errorf("%s exited: %w", p.Name, errPortInUse)}
				}
			}
			return permanent{fmt.Errorf("%s exited: %s", p.Name, p.ExitStatus())}
		}
		return resp.Ping(addr, 250*time.Millisecond)
	})
}

// Group is a Redis master with its replicas.
type Group struct {
	Master   *RedisServer
	Replicas []*RedisServer
}

// All returns the master followed by the replicas.
func (g *Group) All() []*RedisServer {
	return append([]*RedisServer{g.Master}, g.Replicas...)
}

// StartGroup starts a master and n replicas of it and waits until every
// replica is online in the master's INFO and reports its link up.
func (e *Env) StartGroup(ctx context.Context, replicas int) (*Group, error) {
	if replicas < 0 {
		return nil, fmt.Errorf("testbed: StartGroup with %d replicas", replicas)
	}
	master, err := e.StartRedis(ctx, "")
	if err != nil {
		return nil, err
	}
	g := &Group{Master: master}
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		errs []error
	)
	for range replicas {
		wg.Go(func() {
			r, err := e.StartRedis(ctx, master.Addr())
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			g.Replicas = append(g.Replicas, r)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if err := WaitReplication(ctx, master, g.Replicas...); err != nil {
		return nil, err
	}
	return g, nil
}

// WaitReplication waits, for at most SyncTimeout, until master's INFO
// replication lists exactly the given replicas, each online, and each
// replica reports master_link_status:up towards master.
func WaitReplication(ctx context.Context, master *RedisServer, replicas ...*RedisServer) error {
	return waitUntil(ctx, SyncTimeout, "replicas of "+master.Addr()+" to be online", func() error {
		return replicationProblem(ctx, master, replicas)
	})
}

func replicationProblem(ctx context.Context, master *RedisServer, replicas []*RedisServer) error {
	info, err := Info(ctx, master.Client(), "replication")
	if err != nil {
		return err
	}
	if got := info["connected_slaves"]; got != strconv.Itoa(len(replicas)) {
		return fmt.Errorf("master reports connected_slaves:%s", got)
	}
	for _, r := range replicas {
		rinfo, err := Info(ctx, r.Client(), "replication")
		if err != nil {
			return err
		}
		if rinfo["master_port"] != strconv.Itoa(master.Port) || rinfo["master_link_status"] != "up" {
			return fmt.Errorf("replica %s reports master_port:%s master_link_status:%s",
				r.Addr(), rinfo["master_port"], rinfo["master_link_status"])
		}
	}
	return nil
}

// Info runs INFO section and returns its "key:value" fields.
func Info(ctx context.Context, c *redis.Client, section string) (map[string]string, error) {
	text, err := c.Info(ctx, section).Result()
	if err != nil {
		return nil, fmt.Errorf("INFO %s on %s: %w", section, c.Options().Addr, err)
	}
	fields := map[string]string{}
	for line := range strings.Lines(text) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if k, v, ok := strings.Cut(line, ":"); ok {
			fields[k] = v
		}
	}
	return fields, nil
}
