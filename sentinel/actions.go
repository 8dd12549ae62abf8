package sentinel

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vigil-ha/vigil/config"
	"github.com/vigil-ha/vigil/topology"
)

// actionTimeout bounds one reconfiguration command sent to an instance.
const actionTimeout = 2 * time.Second

// redisActions carries out the steps a failover decides, against real Redis
// instances. It is the thin driver behind the failover state machine: one
// short-lived connection per command, nothing decided here.
type redisActions struct {
	clientName string
	tls        map[string]*tls.Config // by master name; see tlsconf.go
}

func (a redisActions) client(mc config.MasterConfig, addr topology.Addr) *redis.Client {
	return redis.NewClient(&redis.Options{
		Addr:                  addr.String(),
		Username:              mc.AuthUser,
		Password:              mc.AuthPass,
		TLSConfig:             a.tls[mc.Name],
		ClientName:            a.clientName,
		Protocol:              2,
		DialTimeout:           actionTimeout,
		ReadTimeout:           actionTimeout,
		WriteTimeout:          actionTimeout,
		ContextTimeoutEnabled: true,
		MaxRetries:            -1,
		PoolSize:              1,
		DisableIdentity:       true,
	})
}

// replicaOf makes addr a replica of to, or a master when to is zero, the way
// Sentinel does: in one MULTI/EXEC, REPLICAOF, CONFIG REWRITE (so the change
// survives a restart of the instance) and CLIENT KILL of normal and Pub/Sub
// clients (so that clients reconnect and ask the sentinels again). Only the
// REPLICAOF result decides success: CONFIG REWRITE fails on instances
// started without a config file, and that must not stop a failover.
func (a redisActions) replicaOf(ctx context.Context, mc config.MasterConfig, addr, to topology.Addr) error {
	_, err := a.replicaOfInfo(ctx, mc, addr, to, false)
	return err
}

// replicaOfInfo is replicaOf that, when withInfo and REPLICAOF succeeded,
// also reads INFO on the same connection (CLIENT KILL skips it) and
// returns it: the instance's new role without waiting for the monitoring
// link, whose connections that CLIENT KILL has just closed. An INFO error
// leaves info empty and does not change err.
func (a redisActions) replicaOfInfo(ctx context.Context, mc config.MasterConfig, addr, to topology.Addr, withInfo bool) (info string, err error) {
	c := a.client(mc, addr)
	defer func() { _ = c.Close() }() // the commands' errors are what count
	ctx, cancel := context.WithTimeout(ctx, actionTimeout)
	defer cancel()
	if err = a.replicaOfOn(ctx, c, addr, to); err == nil && withInfo {
		info, _ = c.Info(ctx).Result()
	}
	return info, err
}

func (a redisActions) replicaOfOn(ctx context.Context, c *redis.Client, addr, to topology.Addr) error {
	host, port := "NO", "ONE"
	if !to.IsZero() {
		host, port = to.Host, to.PortString()
	}
	var replicaOf *redis.StatusCmd
	cmds, err := c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		replicaOf = redis.NewStatusCmd(ctx, "replicaof", host, port)
		_ = p.Process(ctx, replicaOf)
		_ = p.Process(ctx, redis.NewStatusCmd(ctx, "config", "rewrite"))
		_ = p.Process(ctx, redis.NewIntCmd(ctx, "client", "kill", "type", "normal"))
		_ = p.Process(ctx, redis.NewIntCmd(ctx, "client", "kill", "type", "pubsub"))
		return nil
	})
	if replicaOf != nil && replicaOf.Err() == nil && len(cmds) > 0 {
		return nil
	}
	if replicaOf != nil && replicaOf.Err() != nil {
		return fmt.Errorf("REPLICAOF %s %s on %s: %w", host, port, addr, replicaOf.Err())
	}
	if err == nil {
		err = errors.New("no reply")
	}
	return fmt.Errorf("REPLICAOF %s %s on %s: %w", host, port, addr, err)
}
