package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vigil-ha/vigil/internal/harness"
	"github.com/vigil-ha/vigil/internal/testbed"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// Exit codes.
const (
	exitOK          = 0
	exitFailure     = 1 // the benchmark could not run (or some runs failed with -strict)
	exitUsage       = 2
	exitInterrupted = 130
)

// options are the command-line settings.
type options struct {
	runs            int
	quick           bool
	kinds           []testbed.Kind
	faults          []testbed.Fault
	downAfters      []time.Duration
	failoverTimeout time.Duration
	controllers     int
	replicas        int
	quorum          int
	masterName      string
	writeInterval   time.Duration
	writeTimeout    time.Duration
	pollInterval    time.Duration
	dualCap         time.Duration

	vigil    string
	vigilLog string
	from     string
	out      string
	docPath  string
	pngPath  string
	docs     bool
	failover bool
	cost     bool
	costIdle time.Duration
	costReqs int

	scale        bool
	scaleMasters []int
	scaleIdle    time.Duration
	merge        bool

	keep    bool
	verbose bool
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.runs, "runs", 5, "runs per (kind, down-after, fault) case")
	fs.BoolVar(&o.quick, "quick", false, "smoke mode: 1 run, down-after 1000ms only, short cost section, results to bench/results/quick.json, docs untouched")
	kinds := fs.String("kinds", "vigil,sentinel", "controller kinds, comma-separated")
	faults := fs.String("faults", "kill9,sigstop,manual", "faults, comma-separated: kill9, sigstop, manual")
	downAfters := fs.String("down-after", "1000ms,5000ms", "down-after values, comma-separated")
	fs.DurationVar(&o.failoverTimeout, "failover-timeout", 10*time.Second, "failover-timeout of every controller")
	fs.IntVar(&o.controllers, "controllers", 3, "controllers per run")
	fs.IntVar(&o.replicas, "replicas", 2, "replicas of the master")
	fs.IntVar(&o.quorum, "quorum", 2, "quorum")
	fs.StringVar(&o.masterName, "master-name", "mymaster", "master name")
	fs.DurationVar(&o.writeInterval, "write-interval", time.Millisecond, "time between the starts of two writes")
	fs.DurationVar(&o.writeTimeout, "write-timeout", 200*time.Millisecond, "writer's dial/read/write timeout")
	fs.DurationVar(&o.pollInterval, "poll-interval", 5*time.Millisecond, "interval of the GET-MASTER-ADDR-BY-NAME poller and the ROLE prober")
	fs.DurationVar(&o.dualCap, "dual-cap", 30*time.Second, "longest wait for a resumed or manually failed-over old master to turn replica")
	fs.StringVar(&o.vigil, "vigil", testbed.DefaultVigil, "vigil binary (run `make build` first)")
	fs.StringVar(&o.vigilLog, "vigil-log-level", "info", "log.level of the vigil nodes (their logs are kept for failed runs and with -keep)")
	fs.StringVar(&o.from, "from", "", "measure nothing: load results from this JSON file (an earlier -out) and only print and regenerate the report")
	fs.StringVar(&o.out, "out", "bench/results/latest.json", "raw results (JSON)")
	fs.StringVar(&o.docPath, "doc", "docs/performance.md", "report to regenerate")
	fs.StringVar(&o.pngPath, "png", "docs/performance-failover.png", "plot to regenerate")
	fs.BoolVar(&o.docs, "docs", true, "regenerate -doc and -png (default false with -quick)")
	fs.BoolVar(&o.failover, "failover", true, "run the failover section")
	fs.BoolVar(&o.cost, "cost", true, "run the cost section")
	fs.DurationVar(&o.costIdle, "cost-idle", 20*time.Second, "idle period over which CPU use is measured")
	fs.IntVar(&o.costReqs, "cost-requests", 100000, "redis-benchmark -n for the discovery throughput")
	fs.BoolVar(&o.scale, "scale", true, "run the scale section (one controller monitoring -scale-masters fake masters)")
	scaleMasters := fs.String("scale-masters", "1,100,1000", "master counts of the scale section, comma-separated")
	fs.DurationVar(&o.scaleIdle, "scale-idle", 15*time.Second, "idle period over which the scale section measures CPU")
	only := fs.String("only", "", "run only these sections (comma-separated: failover, cost, scale) and keep the others from -out (implies -merge)")
	fs.BoolVar(&o.merge, "merge", false, "keep from the existing -out file the sections this run does not measure")
	fs.BoolVar(&o.keep, "keep", false, "keep every run's directory (configs, logs); failed runs are always kept")
	fs.BoolVar(&o.verbose, "v", false, "log testbed progress")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if o.quick {
		if !set["runs"] {
			o.runs = 1
		}
		if !set["down-after"] {
			*downAfters = "1000ms"
		}
		if !set["cost-idle"] {
			o.costIdle = 5 * time.Second
		}
		if !set["cost-requests"] {
			o.costReqs = 20000
		}
		if !set["scale-masters"] {
			*scaleMasters = "1,100"
		}
		if !set["scale-idle"] {
			o.scaleIdle = 5 * time.Second
		}
		if !set["out"] {
			o.out = "bench/results/quick.json"
		}
		if !set["docs"] {
			o.docs = false
		}
	}
	var errs []error
	if *only != "" {
		o.failover, o.cost, o.scale = false, false, false
		if !set["merge"] {
			o.merge = true
		}
		for s := range strings.SplitSeq(*only, ",") {
			switch strings.TrimSpace(s) {
			case "failover":
				o.failover = true
			case "cost":
				o.cost = true
			case "scale":
				o.scale = true
			default:
				errs = append(errs, fmt.Errorf("-only: unknown section %q (want failover, cost or scale)", s))
			}
		}
	}
	for s := range strings.SplitSeq(*scaleMasters, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err == nil && n < 1 {
			err = fmt.Errorf("-scale-masters: %d is below 1", n)
		}
		errs = append(errs, err)
		o.scaleMasters = append(o.scaleMasters, n)
	}
	if o.scaleIdle <= 0 {
		errs = append(errs, errors.New("-scale-idle must be > 0"))
	}
	for s := range strings.SplitSeq(*kinds, ",") {
		k, err := testbed.ParseKind(strings.TrimSpace(s))
		errs = append(errs, err)
		o.kinds = append(o.kinds, k)
	}
	for s := range strings.SplitSeq(*faults, ",") {
		f, err := testbed.ParseFault(strings.TrimSpace(s))
		errs = append(errs, err)
		o.faults = append(o.faults, f)
	}
	for s := range strings.SplitSeq(*downAfters, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(s))
		if err == nil && d < 100*time.Millisecond {
			err = fmt.Errorf("down-after %v is below 100ms", d)
		}
		errs = append(errs, err)
		o.downAfters = append(o.downAfters, d)
	}
	if o.runs < 1 || o.controllers < 1 || o.replicas < 1 || o.quorum < 1 || o.costReqs < 1 {
		errs = append(errs, errors.New("-runs, -controllers, -replicas, -quorum and -cost-requests must be >= 1"))
	}
	if o.writeInterval <= 0 || o.writeTimeout <= 0 || o.pollInterval <= 0 || o.failoverTimeout <= 0 {
		errs = append(errs, errors.New("durations must be > 0"))
	}
	return o, errors.Join(errs...)
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == fakeSubcommand {
		return runFakeMasters(args[1:], stdout, stderr)
	}
	fail := func(code int, err error) int {
		_, _ = fmt.Fprintln(stderr, "bench:", err)
		return code
	}
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		return fail(exitUsage, err)
	}
	log := harness.NewLogger(stderr, o.verbose)

	var res *Results
	if o.from != "" {
		if res, err = readJSON(o.from); err != nil {
			return fail(exitFailure, err)
		}
	} else {
		if _, err := os.Stat(o.vigil); err != nil && containsKind(o.kinds, testbed.KindVigil) {
			return fail(exitFailure, fmt.Errorf("%w: run `make build` first (or pass -vigil)", err))
		}
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
		defer stop()
		b := &bench{opts: o, log: log, stdout: stdout}
		res, err = b.run(ctx)
		if ctx.Err() != nil {
			return fail(exitInterrupted, errors.New("interrupted; every process it started has been stopped"))
		}
		if err != nil {
			return fail(exitFailure, err)
		}
		if o.merge {
			if old, err := readJSON(o.out); err == nil {
				mergeResults(res, old, o)
			} else if !errors.Is(err, os.ErrNotExist) {
				return fail(exitFailure, err)
			}
		}
	}
	if err := printSummary(stdout, res); err != nil {
		return fail(exitFailure, err)
	}
	if o.from == "" {
		if err := writeJSON(o.out, res); err != nil {
			return fail(exitFailure, err)
		}
		log.Info("raw results written", "path", o.out)
	}
	if o.docs {
		if err := writeDocs(o.docPath, o.pngPath, res); err != nil {
			return fail(exitFailure, err)
		}
		log.Info("report regenerated", "doc", o.docPath, "plot", o.pngPath)
	}
	return exitOK
}

func containsKind(kinds []testbed.Kind, k testbed.Kind) bool {
	for _, x := range kinds {
		if x == k {
			return true
		}
	}
	return false
}
