package testbed

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// persistenceTimeout bounds how long [EnablePersistence] waits for the
// first append-only file to be written.
const persistenceTimeout = 10 * time.Second

// RestartRedis starts s again after it exited (killed, crashed): same port,
// directory and redis.conf, which the controllers may have rewritten (for
// example with a replicaof line), and waits until it answers PING. What it
// holds afterwards depends on its persistence: none by default (see
// [EnablePersistence]). It must not race with other users of s.Proc().
func (e *Env) RestartRedis(ctx context.Context, s *RedisServer) error {
	if !s.proc.Exited() {
		return fmt.Errorf("testbed: restart %s: still running", s.Name)
	}
	args := append([]string(nil), s.proc.cmd.Args[1:]...)
	p, err := e.start(s.Name, s.Dir, s.proc.cmd.Path, args)
	if err != nil {
		return err
	}
	s.proc = p
	if err := waitServing(ctx, p, s.Addr(), s.LogPath()); err != nil {
		return fmt.Errorf("testbed: restart %s on %s: %w\n%s", s.Name, s.Addr(), err, tail(logTailLines, s.LogPath(), p.OutputPath))
	}
	e.log.Debug("redis-server restarted", "name", s.Name, "addr", s.Addr(), "pid", p.PID())
	return nil
}

// RestartController starts c again after it exited, with the same binary,
// configuration file and data directory (a vigil node keeps its votes and
// epochs in data-dir; a redis-sentinel its rewritten sentinel.conf), and
// waits until it answers PING. It must not race with other users of
// c.Proc().
func (e *Env) RestartController(ctx context.Context, c *Controller) error {
	if !c.proc.Exited() {
		return fmt.Errorf("testbed: restart %s: still running", c.Name)
	}
	args := append([]string(nil), c.proc.cmd.Args[1:]...)
	p, err := e.start(c.Name, c.Dir, c.proc.cmd.Path, args)
	if err != nil {
		return err
	}
	c.proc = p
	if err := waitServing(ctx, p, c.Addr()); err != nil {
		return fmt.Errorf("testbed: restart %s on %s: %w\n%s", c.Name, c.Addr(), err, tail(logTailLines, p.OutputPath))
	}
	e.log.Debug("controller restarted", "name", c.Name, "addr", c.Addr(), "pid", p.PID())
	return nil
}

// EnablePersistence turns on the append-only file with an fsync per write
// on s (CONFIG SET appendonly yes, appendfsync always), waits until the
// first rewrite has produced it, and rewrites redis.conf so that a restart
// through [Env.RestartRedis] reloads every acknowledged write.
func EnablePersistence(ctx context.Context, s *RedisServer) error {
	c := s.Client()
	if err := c.ConfigSet(ctx, "appendfsync", "always").Err(); err != nil {
		return fmt.Errorf("testbed: %s: CONFIG SET appendfsync: %w", s.Name, err)
	}
	if err := c.ConfigSet(ctx, "appendonly", "yes").Err(); err != nil {
		return fmt.Errorf("testbed: %s: CONFIG SET appendonly: %w", s.Name, err)
	}
	err := waitUntil(ctx, persistenceTimeout, s.Name+" to write its append-only file", func() error {
		info, err := Info(ctx, c, "persistence")
		if err != nil {
			return err
		}
		if info["aof_enabled"] != "1" || info["aof_rewrite_in_progress"] != "0" || info["aof_rewrite_scheduled"] != "0" {
			return fmt.Errorf("aof_enabled:%s aof_rewrite_in_progress:%s aof_rewrite_scheduled:%s",
				info["aof_enabled"], info["aof_rewrite_in_progress"], info["aof_rewrite_scheduled"])
		}
		if st := info["aof_last_bgrewrite_status"]; st != "ok" {
			return permanent{errors.New("aof_last_bgrewrite_status:" + st)}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := c.ConfigRewrite(ctx).Err(); err != nil {
		return fmt.Errorf("testbed: %s: CONFIG REWRITE: %w", s.Name, err)
	}
	return nil
}
