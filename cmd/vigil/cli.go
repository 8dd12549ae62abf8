package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"sync"
	"syscall"

	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"

	"github.com/vigil-ha/vigil/config"
	"github.com/vigil-ha/vigil/sentinel"
	"github.com/vigil-ha/vigil/sentinel/httpapi"
)

// Exit codes a script can rely on.
const (
	exitOK      = 0
	exitFailure = 1 // the operation failed (e.g. node could not start)
	exitUsage   = 2 // bad command line or invalid configuration

	exitUnknownMaster = 3 // the node monitors no master by that name
	exitUnreachable   = 4 // the node could not be reached (refused, timeout)
)

// exitError carries an exit code through cobra.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func run(args, env []string) int {
	root := newRoot(env, os.Stdout, os.Stderr)
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(os.Stderr, "vigil:", err)
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return exitUsage
}

func newRoot(env []string, stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "vigil",
		Short:         "High-availability controller for Redis, speaking the Sentinel protocol",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(newRunCmd(env, stderr), newCheckConfigCmd(stdout), newVersionCmd(stdout),
		newImportSentinelConfCmd(stdout), newStatusCmd(env), newFailoverCmd(env), newSwitchoverCmd(env), newGetMasterAddrCmd(env), newCKQuorumCmd(env),
		newPauseCmd(env, true), newPauseCmd(env, false), newExplainCmd(env), newHistoryCmd(env))
	return root
}

func newVersionCmd(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print vigil's version",
		Args:  cobra.NoArgs,
		Run: func(*cobra.Command, []string) {
			fmt.Fprintln(stdout, "vigil", sentinel.Version)
		},
	}
}

func newImportSentinelConfCmd(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "import-sentinel-conf FILE",
		Short: "Print the vigil YAML configuration equivalent to a redis sentinel.conf",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, _, warnings, err := config.LoadSentinelConf(args[0])
			for _, w := range warnings {
				fmt.Fprintln(cmd.ErrOrStderr(), "warning:", w.String())
			}
			if err != nil {
				return &exitError{exitUsage, err}
			}
			out, err := config.MarshalYAML(cfg)
			if err != nil {
				return &exitError{exitFailure, err}
			}
			_, err = stdout.Write(out)
			return err
		},
	}
}

func newCheckConfigCmd(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "check-config FILE",
		Short: "Validate a configuration file and exit (non-zero when it is invalid)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			warnings, err := config.CheckFile(args[0])
			for _, w := range warnings {
				fmt.Fprintln(cmd.ErrOrStderr(), "warning:", w.String())
			}
			if err != nil {
				return &exitError{exitUsage, err}
			}
			fmt.Fprintln(stdout, "configuration OK:", args[0])
			return nil
		},
	}
}

func newRunCmd(env []string, stderr io.Writer) *cobra.Command {
	var file, sentinelConf string
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run a vigil node: monitor the configured masters and serve the Sentinel protocol",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var (
				cfg      *config.Config
				seed     *config.SentinelState
				warnings []config.Warning
				err      error
			)
			if sentinelConf != "" {
				if file != "" {
					return &exitError{exitUsage, errors.New("--config and --sentinel-conf are mutually exclusive")}
				}
				cfg, seed, warnings, err = config.LoadSentinelConf(sentinelConf)
				if err == nil {
					// VIGIL_* and flags still apply on top of the file
					// (e.g. gossip.secret-keys, http.listen, log.level).
					var more []config.Warning
					cfg, more, err = config.Load(config.LoadOptions{Base: cfg, Flags: cmd.Flags(), Env: env})
					warnings = append(warnings, more...)
				}
			} else {
				cfg, warnings, err = config.Load(config.LoadOptions{File: file, Flags: cmd.Flags(), Env: env})
			}
			if err != nil {
				return &exitError{exitUsage, err}
			}
			log := newLogger(cfg.Log, stderr)
			redis.SetLogger(redisLogger{log})
			for _, w := range warnings {
				log.Warn("configuration warning", "key", w.Key, "msg", w.Message)
			}
			if seed != nil {
				seeded, err := sentinel.SeedFromSentinel(*cfg, seed)
				if err != nil {
					return &exitError{exitFailure, err}
				}
				if seeded {
					log.Info("state seeded from sentinel.conf", "file", sentinelConf, "epoch", seed.CurrentEpoch)
				}
			}
			tuneGC(env)
			node, err := sentinel.New(*cfg, log)
			if err != nil {
				return &exitError{exitFailure, err}
			}
			var api *httpapi.Server
			if cfg.HTTP.Listen != "" {
				// Listen before the node runs: a busy port fails the start,
				// and the node's first events are counted.
				api = httpapi.New(node, cfg.HTTP, log.With("component", "http"))
				if err := api.Listen(); err != nil {
					return &exitError{exitFailure, err}
				}
			}
			var hooks *httpapi.Webhooks
			if len(cfg.HTTP.Webhooks) > 0 {
				// Outgoing, so they need no http.listen; their counters go
				// to the server's /metrics when there is one.
				hookLog := log.With("component", "webhooks")
				if api != nil {
					hooks = httpapi.NewWebhooks(node, cfg.HTTP.Webhooks, hookLog, api.Registerer())
				} else {
					hooks = httpapi.NewWebhooks(node, cfg.HTTP.Webhooks, hookLog, nil)
				}
				if err := hooks.Subscribe(); err != nil { // before the node's first events
					return &exitError{exitFailure, err}
				}
			}
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
			defer stop()
			var wg sync.WaitGroup
			if api != nil {
				wg.Go(func() {
					if err := api.Serve(ctx); err != nil {
						log.Error("http server failed; the node keeps running", "err", err)
					}
				})
			}
			if hooks != nil {
				wg.Go(func() {
					if err := hooks.Run(ctx); err != nil {
						log.Error("webhooks failed; the node keeps running", "err", err)
					}
				})
			}
			err = node.Run(ctx)
			stop() // the node stopped: stop the HTTP server too
			wg.Wait()
			if errors.Is(err, sentinel.ErrSimulatedFailure) {
				return &exitError{sentinel.ExitSimulatedFailure, err}
			}
			if err != nil {
				return &exitError{exitFailure, err}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "config", "c", "", "YAML configuration file")
	cmd.Flags().StringVar(&sentinelConf, "sentinel-conf", "", "an unmodified redis sentinel.conf to run from instead of --config (read-only: vigil never rewrites it); VIGIL_* variables and flags apply on top")
	config.BindFlags(cmd.Flags())
	return cmd
}

func newLogger(lc config.LogConfig, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: lc.SlogLevel()}
	if lc.Format == config.FormatJSON {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// defaultGCPercent is the Go collector's GOGC for vigil run. A node's live
// heap is a few MiB and it allocates slowly when idle, so collecting when
// the heap has grown by a quarter instead of doubled costs a few
// milliseconds of CPU every few seconds at most, and keeps resident memory
// near what is live: about 30% less per monitored master in
// docs/performance.md's scale table.
const defaultGCPercent = 25

// tuneGC applies defaultGCPercent unless the operator set GOGC.
func tuneGC(env []string) {
	if _, set := lookupEnv(env, "GOGC"); !set {
		debug.SetGCPercent(defaultGCPercent)
	}
}
