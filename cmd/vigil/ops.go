package main

// The operator commands (status, failover, switchover, get-master-addr,
// ckquorum) are Sentinel-protocol clients of a running node: they send the
// same SENTINEL commands redis-cli would, so they also work against
// redis-sentinel (except the SWITCHOVER extension). docs/cli.md documents
// their output and exit codes.

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"

	"github.com/vigil-ha/vigil/config"
)

// Connection defaults of the operator commands, shown in their --help.
const (
	defaultOpsAddr        = "127.0.0.1:26379"
	defaultOpsTimeout     = 3 * time.Second
	defaultSwitchoverWait = 60 * time.Second

	envOpsAddr     = "VIGIL_ADDR"
	envOpsUser     = "VIGIL_USER"
	envOpsPassword = "VIGIL_PASSWORD"
)

// connOptions says how to reach a node: the --addr, --user, --password,
// TLS and --timeout flags, completed from the environment by resolve.
type connOptions struct {
	addr     string
	user     string
	password string
	timeout  time.Duration

	// TLS towards the node's Sentinel port (node.tls), named like
	// redis-cli's options. tlsConfig is built from them by resolve.
	tls       config.MasterTLSConfig
	tlsConfig *tls.Config
}

// addConnFlags registers the connection flags on cmd.
func addConnFlags(cmd *cobra.Command, o *connOptions) {
	f := cmd.Flags()
	f.StringVarP(&o.addr, "addr", "a", defaultOpsAddr, "host:port of the node's Sentinel-protocol port (env "+envOpsAddr+")")
	f.StringVar(&o.user, "user", "", "user name sent with AUTH, for nodes with node.users (env "+envOpsUser+")")
	f.StringVar(&o.password, "password", "", "password sent with AUTH when set (env "+envOpsPassword+")")
	f.DurationVar(&o.timeout, "timeout", defaultOpsTimeout, "connect, read and write timeout for each request")
	f.BoolVar(&o.tls.Enabled, "tls", false, "connect with TLS (node.tls on the node)")
	f.StringVar(&o.tls.CAFile, "cacert", "", "PEM file of the CA that signed the node's certificate (default: the system's roots)")
	f.StringVar(&o.tls.CertFile, "cert", "", "client certificate (PEM) for nodes that verify clients (node.tls.ca-file)")
	f.StringVar(&o.tls.KeyFile, "key", "", "private key (PEM) of --cert")
	f.StringVar(&o.tls.ServerName, "sni", "", "server name to request and verify (default: the host of --addr)")
	f.BoolVar(&o.tls.InsecureSkipVerify, "insecure", false, "accept any server certificate (tests only: no protection against a man in the middle)")
}

// resolve fills in VIGIL_ADDR and VIGIL_PASSWORD for flags not given on the
// command line and validates the result.
func (o *connOptions) resolve(cmd *cobra.Command, env []string) error {
	if v, ok := lookupEnv(env, envOpsAddr); ok && !cmd.Flags().Changed("addr") {
		o.addr = v
	}
	if v, ok := lookupEnv(env, envOpsUser); ok && !cmd.Flags().Changed("user") {
		o.user = v
	}
	if v, ok := lookupEnv(env, envOpsPassword); ok && !cmd.Flags().Changed("password") {
		o.password = v
	}
	host, _, err := splitAddr(o.addr)
	if err != nil {
		return &exitError{exitUsage, fmt.Errorf("--addr: %w", err)}
	}
	if o.timeout <= 0 {
		return &exitError{exitUsage, fmt.Errorf("--timeout must be positive, got %v", o.timeout)}
	}
	if o.user != "" && o.password == "" {
		return &exitError{exitUsage, fmt.Errorf("--user %q needs --password (or %s)", o.user, envOpsPassword)}
	}
	tlsFlags := o.tls.CAFile != "" || o.tls.CertFile != "" || o.tls.KeyFile != "" || o.tls.ServerName != "" || o.tls.InsecureSkipVerify
	if tlsFlags && !o.tls.Enabled {
		return &exitError{exitUsage, errors.New("--cacert, --cert, --key, --sni and --insecure need --tls")}
	}
	if (o.tls.CertFile == "") != (o.tls.KeyFile == "") {
		return &exitError{exitUsage, errors.New("--cert and --key go together")}
	}
	tc, err := o.tls.ClientConfig()
	if err != nil {
		// The config package names its own keys (tls.ca-file, ...);
		// say which flag that is.
		msg := strings.NewReplacer("tls.ca-file", "--cacert", "tls.cert-file", "--cert", "tls.key-file", "--key").Replace(err.Error())
		return &exitError{exitUsage, errors.New(msg)}
	}
	if tc != nil && tc.ServerName == "" {
		tc.ServerName = host
	}
	o.tlsConfig = tc
	return nil
}

// lookupEnv finds name in an os.Environ()-style list; the first entry wins,
// as with os.Getenv.
func lookupEnv(env []string, name string) (string, bool) {
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && k == name {
			return v, true
		}
	}
	return "", false
}

// splitAddr checks a "host:port" argument and splits it.
func splitAddr(s string) (host, port string, err error) {
	host, port, err = net.SplitHostPort(s)
	if err != nil {
		return "", "", fmt.Errorf("address %q: want host:port ([v6]:port for IPv6)", s)
	}
	if host == "" {
		return "", "", fmt.Errorf("address %q: missing host", s)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return "", "", fmt.Errorf("address %q: invalid port %q", s, port)
	}
	return host, port, nil
}

// opsClient is a connection to one node.
type opsClient struct {
	addr  string
	c     *redis.SentinelClient
	first chan net.Conn // the connection dial made, until go-redis takes it
}

// dial connects to the node and checks it answers PING (which also proves
// AUTH succeeded). readTimeout bounds each reply; callers that wait longer
// for one request pass a larger value and bound the others by context.
//
// The first TCP connection is made here rather than by go-redis, so an
// unreachable node is reported once, by us, instead of also being logged by
// go-redis's global logger.
func dial(ctx context.Context, o connOptions, readTimeout time.Duration) (*opsClient, error) {
	connect := func(ctx context.Context, network, addr string) (net.Conn, error) {
		d := net.Dialer{Timeout: o.timeout}
		if o.tlsConfig == nil {
			return d.DialContext(ctx, network, addr)
		}
		td := tls.Dialer{NetDialer: &d, Config: o.tlsConfig}
		return td.DialContext(ctx, network, addr)
	}
	conn, err := connect(ctx, "tcp", o.addr)
	if err != nil {
		var rerr tls.RecordHeaderError
		if errors.As(err, &rerr) {
			err = fmt.Errorf("%w (does the node serve TLS?)", err)
		}
		return nil, &exitError{exitUnreachable, fmt.Errorf("cannot reach node %s: %w", o.addr, err)}
	}
	first := make(chan net.Conn, 1)
	first <- conn
	c := redis.NewSentinelClient(&redis.Options{
		Addr:     o.addr,
		Username: o.user,
		Password: o.password,
		Dialer: func(ctx context.Context, network, addr string) (net.Conn, error) {
			select {
			case c := <-first:
				return c, nil
			default:
				return connect(ctx, network, addr)
			}
		},
		// RESP2: replies keep redis-sentinel's flat field/value shape.
		Protocol:              2,
		DisableIdentity:       true,
		DialTimeout:           o.timeout,
		DialerRetries:         1,
		ReadTimeout:           readTimeout,
		WriteTimeout:          o.timeout,
		ContextTimeoutEnabled: true,
		// FAILOVER and SWITCHOVER must never be sent twice.
		MaxRetries: -1,
		PoolSize:   1,
	})
	oc := &opsClient{addr: o.addr, c: c, first: first}
	pctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	if err := c.Ping(pctx).Err(); err != nil {
		oc.close()
		return nil, oc.fail("", err)
	}
	return oc, nil
}

func (oc *opsClient) close() {
	_ = oc.c.Close()
	select {
	case c := <-oc.first:
		_ = c.Close()
	default:
	}
}

// do sends a raw command and returns it with its reply.
func (oc *opsClient) do(ctx context.Context, args ...any) *redis.Cmd {
	cmd := redis.NewCmd(ctx, args...)
	_ = oc.c.Process(ctx, cmd)
	return cmd
}

// fail turns an error from the node into an exitError carrying the code
// scripts rely on: the node's error replies are operation failures (or an
// unknown master, or bad credentials); anything else means the node could
// not be reached or stopped answering. name is the master concerned, if any.
func (oc *opsClient) fail(name string, err error) error {
	var rerr redis.Error
	if !errors.As(err, &rerr) {
		return &exitError{exitUnreachable, fmt.Errorf("cannot reach node %s: %w", oc.addr, err)}
	}
	msg := rerr.Error()
	switch {
	case isNoSuchMaster(msg):
		return &exitError{exitUnknownMaster, fmt.Errorf("node %s does not monitor a master named %q (%w)", oc.addr, name, err)}
	case isAuthError(msg):
		return &exitError{exitUsage, fmt.Errorf("authentication with %s failed (check --password / %s): %w", oc.addr, envOpsPassword, err)}
	case hasPrefixFold(msg, "ERR unknown command 'sentinel'"):
		return &exitError{exitUsage, fmt.Errorf("%s does not speak the Sentinel protocol (is --addr a data node?): %w", oc.addr, err)}
	}
	return &exitError{exitFailure, err}
}

func isNoSuchMaster(msg string) bool {
	return hasPrefixFold(msg, "ERR No such master")
}

func isAuthError(msg string) bool {
	for _, p := range []string{"NOAUTH", "WRONGPASS", "ERR invalid password", "ERR AUTH"} {
		if hasPrefixFold(msg, p) {
			return true
		}
	}
	return false
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// isTimeout reports whether err is a deadline expiring, as opposed to a
// refused or broken connection.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// connect resolves the connection flags and dials; the commands' common
// first step.
func connect(cmd *cobra.Command, env []string, o *connOptions, readTimeout time.Duration) (*opsClient, error) {
	if err := o.resolve(cmd, env); err != nil {
		return nil, err
	}
	return dial(cmd.Context(), *o, max(readTimeout, o.timeout))
}

// onNode connects to the node o names, runs f on the connection and closes
// it: the body of every command that asks one node something.
func onNode(cmd *cobra.Command, env []string, o *connOptions, readTimeout time.Duration, f func(*opsClient) error) error {
	oc, err := connect(cmd, env, o, readTimeout)
	if err != nil {
		return err
	}
	defer oc.close()
	return f(oc)
}

// masterAddr asks the node for the current address of master name.
func (oc *opsClient) masterAddr(ctx context.Context, name string) (string, error) {
	hp, err := oc.c.GetMasterAddrByName(ctx, name).Result()
	if errors.Is(err, redis.Nil) {
		return "", &exitError{exitUnknownMaster, fmt.Errorf("node %s does not monitor a master named %q", oc.addr, name)}
	}
	if err != nil {
		return "", oc.fail(name, err)
	}
	if len(hp) != 2 {
		return "", &exitError{exitFailure, fmt.Errorf("GET-MASTER-ADDR-BY-NAME %s: unexpected reply %q", name, hp)}
	}
	return net.JoinHostPort(hp[0], hp[1]), nil
}

func newGetMasterAddrCmd(env []string) *cobra.Command {
	var o connOptions
	cmd := &cobra.Command{
		Use:   "get-master-addr NAME",
		Short: "Print the current address (host:port) of a monitored master",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return onNode(cmd, env, &o, 0, func(oc *opsClient) error {
				addr, err := oc.masterAddr(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), addr)
				return nil
			})
		},
	}
	addConnFlags(cmd, &o)
	return cmd
}

func newCKQuorumCmd(env []string) *cobra.Command {
	var o connOptions
	cmd := &cobra.Command{
		Use:   "ckquorum NAME",
		Short: "Check that the nodes can agree on a failover of a master (exit 1 when they cannot)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return onNode(cmd, env, &o, 0, func(oc *opsClient) error {
				reply, err := oc.c.CkQuorum(cmd.Context(), args[0]).Result()
				var rerr redis.Error
				if errors.As(err, &rerr) && hasPrefixFold(rerr.Error(), "NOQUORUM") {
					fmt.Fprintln(cmd.OutOrStdout(), rerr.Error())
					return &exitError{exitFailure, fmt.Errorf("master %s: quorum or failover authorization cannot be reached", args[0])}
				}
				if err != nil {
					return oc.fail(args[0], err)
				}
				fmt.Fprintln(cmd.OutOrStdout(), reply)
				return nil
			})
		},
	}
	addConnFlags(cmd, &o)
	return cmd
}

func newFailoverCmd(env []string) *cobra.Command {
	var o connOptions
	cmd := &cobra.Command{
		Use:   "failover NAME",
		Short: "Force a failover of a master now, without asking the other nodes (SENTINEL FAILOVER)",
		Long: "Force a failover of a master now, without waiting for it to be down and without\n" +
			"asking the other nodes for agreement, like SENTINEL FAILOVER. The command returns\n" +
			"as soon as the failover started; follow it with `vigil status NAME`.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return onNode(cmd, env, &o, 0, func(oc *opsClient) error {
				if err := oc.c.Failover(cmd.Context(), args[0]).Err(); err != nil {
					err = oc.fail(args[0], err)
					var ee *exitError
					if errors.As(err, &ee) && ee.code == exitFailure {
						ee.err = fmt.Errorf("failover of %s refused: %w", args[0], ee.err)
					}
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "failover of %s started\n", args[0])
				return nil
			})
		},
	}
	addConnFlags(cmd, &o)
	return cmd
}

func newSwitchoverCmd(env []string) *cobra.Command {
	var (
		o    connOptions
		to   string
		wait time.Duration
	)
	cmd := &cobra.Command{
		Use:   "switchover NAME",
		Short: "Hand the master role to a replica without losing acknowledged writes",
		Long: "Hand the master role of a healthy master to one of its replicas (the best one,\n" +
			"or the one given with --to) without losing acknowledged writes, and wait until the\n" +
			"switchover is complete. Sends vigil's SENTINEL SWITCHOVER NAME [host port].",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			req := []any{"sentinel", "switchover", name}
			if to != "" {
				host, port, err := splitAddr(to)
				if err != nil {
					return &exitError{exitUsage, fmt.Errorf("--to: %w", err)}
				}
				req = append(req, host, port)
			}
			if wait <= 0 {
				return &exitError{exitUsage, fmt.Errorf("--wait must be positive, got %v", wait)}
			}
			return onNode(cmd, env, &o, wait, func(oc *opsClient) error {
				ctx, cancel := context.WithTimeout(cmd.Context(), wait)
				defer cancel()
				if err := oc.do(ctx, req...).Err(); err != nil {
					if isTimeout(err) {
						return &exitError{exitFailure, fmt.Errorf("switchover of %s: no answer within %v; it may still be in progress, check `vigil status %s`: %w", name, wait, name, err)}
					}
					err = oc.fail(name, err)
					var ee *exitError
					if errors.As(err, &ee) && ee.code == exitFailure {
						ee.err = fmt.Errorf("switchover of %s failed: %w", name, ee.err)
					}
					return err
				}
				actx, cancel := context.WithTimeout(cmd.Context(), o.timeout)
				defer cancel()
				addr, err := oc.masterAddr(actx, name)
				if err != nil {
					fmt.Fprintf(cmd.OutOrStdout(), "switchover of %s done\n", name)
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "switchover of %s done: new master %s\n", name, addr)
				return nil
			})
		},
	}
	addConnFlags(cmd, &o)
	cmd.Flags().StringVar(&to, "to", "", "host:port of the replica to promote (default: the node picks the best one)")
	cmd.Flags().DurationVar(&wait, "wait", defaultSwitchoverWait, "how long to wait for the switchover to complete")
	return cmd
}
