package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
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
	exitFailure     = 1 // the suite could not run, or (with -strict) a run was not correct
	exitUsage       = 2
	exitInterrupted = 130
)

// options are the command-line settings.
type options struct {
	runs      int
	quick     bool
	scenarios []scenario
	kinds     []testbed.Kind
	cfg       settings
	vigil     string
	out       string
	docPath   string
	docs      bool
	keep      bool
	strict    bool
	report    string
	verbose   bool
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	o := options{cfg: defaultSettings()}
	fs := flag.NewFlagSet("chaos", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.runs, "runs", 3, "runs per scenario and controller kind")
	fs.BoolVar(&o.quick, "quick", false, "smoke mode: 1 run, shorter flapping/latency/partition phases, results to chaos/results/quick.json, docs untouched")
	spec := fs.String("scenario", "all", "scenarios to run, by name or number, comma-separated: "+scenarioNames())
	kinds := fs.String("kinds", "vigil,sentinel", "controller kinds, comma-separated")
	fs.DurationVar(&o.cfg.downAfter, "down-after", o.cfg.downAfter, "down-after of every controller")
	fs.DurationVar(&o.cfg.failoverTimeout, "failover-timeout", o.cfg.failoverTimeout, "failover-timeout of every controller")
	writeGuard := fs.Bool("write-guard", false, "vigil: masters.NAME.write-guard on (min-replicas-to-write 1, max-lag 1)")
	fence := fs.Bool("isolation-fence", true, "vigil: masters.NAME.isolation-fence (false turns the isolated-master fence off)")
	fs.StringVar(&o.vigil, "vigil", testbed.DefaultVigil, "vigil binary (run `make build` first)")
	fs.StringVar(&o.out, "out", "chaos/results/latest.json", "raw results (JSON)")
	fs.StringVar(&o.docPath, "doc", "docs/reliability.md", "report to regenerate")
	fs.BoolVar(&o.docs, "docs", true, "regenerate -doc (default false with -quick)")
	fs.BoolVar(&o.keep, "keep", false, "keep every run's directory (configs, logs); runs that are not correct are always kept")
	fs.BoolVar(&o.strict, "strict", false, "exit 1 when any run is not correct")
	fs.BoolVar(&o.verbose, "v", false, "log testbed progress")
	fs.StringVar(&o.report, "report", "", "run nothing: print the tables of this raw results file and regenerate -doc from it")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if o.quick {
		q := quickSettings()
		q.downAfter, q.failoverTimeout = o.cfg.downAfter, o.cfg.failoverTimeout
		o.cfg = q
		if !set["runs"] {
			o.runs = 1
		}
		if !set["out"] {
			o.out = "chaos/results/quick.json"
		}
		if !set["docs"] {
			o.docs = false
		}
	}
	if *writeGuard {
		o.cfg.vigilExtra += "    write-guard: true\n"
	}
	if !*fence {
		o.cfg.vigilExtra += "    isolation-fence: false\n"
	}
	var errs []error
	var err error
	if o.scenarios, err = selectScenarios(*spec); err != nil {
		errs = append(errs, err)
	}
	for s := range strings.SplitSeq(*kinds, ",") {
		k, err := testbed.ParseKind(strings.TrimSpace(s))
		errs = append(errs, err)
		o.kinds = append(o.kinds, k)
	}
	if o.runs < 1 {
		errs = append(errs, errors.New("-runs must be >= 1"))
	}
	if o.cfg.downAfter < 100*time.Millisecond || o.cfg.failoverTimeout < time.Second {
		errs = append(errs, errors.New("-down-after must be >= 100ms and -failover-timeout >= 1s"))
	}
	return o, errors.Join(errs...)
}

func scenarioNames() string {
	var names []string
	for _, s := range scenarios() {
		names = append(names, fmt.Sprintf("%d %s", s.id, s.name))
	}
	return strings.Join(names, ", ")
}

func run(args []string, stdout, stderr io.Writer) int {
	fail := func(code int, err error) int {
		_, _ = fmt.Fprintln(stderr, "chaos:", err)
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
	if o.report != "" {
		return rerender(o, stdout, stderr)
	}
	if _, err := os.Stat(o.vigil); err != nil {
		return fail(exitFailure, fmt.Errorf("%w: run `make build` first (or pass -vigil)", err))
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()

	res := suite(ctx, o, log, stdout)
	if ctx.Err() != nil {
		return fail(exitInterrupted, errors.New("interrupted; every process it started has been stopped"))
	}
	if err := printSummary(stdout, res); err != nil {
		return fail(exitFailure, err)
	}
	if err := writeJSON(o.out, res); err != nil {
		return fail(exitFailure, err)
	}
	log.Info("raw results written", "path", o.out)
	if o.docs {
		if err := os.WriteFile(o.docPath, markdown(res), 0o644); err != nil {
			return fail(exitFailure, fmt.Errorf("write report: %w", err))
		}
		log.Info("report regenerated", "doc", o.docPath)
	}
	if o.strict {
		for _, r := range res.Runs {
			if !r.Correct {
				return fail(exitFailure, errors.New("some runs were not correct (-strict)"))
			}
		}
	}
	return exitOK
}

// rerender prints the tables of a raw results file and regenerates the
// report from it.
func rerender(o options, stdout, stderr io.Writer) int {
	var res Results
	err := harness.ReadJSON(o.report, &res)
	if err == nil {
		err = printSummary(stdout, &res)
		if err == nil && o.docs {
			err = os.WriteFile(o.docPath, markdown(&res), 0o644)
		}
	}
	if err != nil {
		_, _ = fmt.Fprintln(stderr, "chaos:", err)
		return exitFailure
	}
	return exitOK
}

// suite runs every selected scenario -runs times against each kind,
// interleaving kinds run by run so that slow drifts of the machine hit both
// alike.
func suite(ctx context.Context, o options, log *slog.Logger, stdout io.Writer) *Results {
	res := &Results{
		Started:  time.Now(),
		Quick:    o.quick,
		Machine:  harness.ReadMachine(),
		Versions: readVersions(ctx, o.vigil),
		Settings: o.cfg.describe(o.runs),
		Kinds:    o.kinds,
	}
	for _, sc := range o.scenarios {
		res.Scenarios = append(res.Scenarios, sc.name)
	}
	total := 0
	for _, sc := range o.scenarios {
		total += o.runs * len(kindsFor(sc, o.kinds))
	}
	n := 0
	for run := 1; run <= o.runs; run++ {
		for _, sc := range o.scenarios {
			for _, k := range kindsFor(sc, o.kinds) {
				n++
				r := runScenario(ctx, sc, k, run, o.cfg, testbed.Options{Vigil: o.vigil, Keep: o.keep, Logger: log}, log)
				if ctx.Err() != nil {
					return res
				}
				_, _ = fmt.Fprintf(stdout, "[%d/%d] %s\n", n, total, r.summary())
				res.Runs = append(res.Runs, r)
			}
		}
	}
	res.Finished = time.Now()
	res.Machine.LoadAvgAfter = harness.LoadAvg()
	return res
}

// kindsFor returns the kinds sc runs against.
func kindsFor(sc scenario, kinds []testbed.Kind) []testbed.Kind {
	if !sc.vigilOnly {
		return kinds
	}
	for _, k := range kinds {
		if k == testbed.KindVigil {
			return []testbed.Kind{k}
		}
	}
	return nil
}

// summary is the one-line progress report of a run.
func (r RunResult) summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-24s %-8s run %d: ", r.Scenario, r.Kind, r.Run)
	switch {
	case r.Error != "":
		fmt.Fprintf(&b, "HARNESS ERROR: %s", harness.FirstLine(r.Error))
	case !r.Correct:
		fmt.Fprintf(&b, "NOT CORRECT: %s", harness.FirstLine(strings.Join(r.Problems, "; ")))
	default:
		b.WriteString("ok")
	}
	if r.RecoverMS >= 0 {
		fmt.Fprintf(&b, " recover=%.2fs", r.RecoverMS/1000)
	}
	fmt.Fprintf(&b, " lost=%d/%d changes=%d", r.Lost, r.WritesAcked, len(r.MasterChanges))
	if r.Linearizable != "" {
		fmt.Fprintf(&b, " linearizable=%s (%d ops)", r.Linearizable, r.Ops)
	}
	fmt.Fprintf(&b, " (%.1fs)", float64(r.DurationMS)/1000)
	if r.KeptDir != "" {
		fmt.Fprintf(&b, " [logs: %s]", r.KeptDir)
	}
	return b.String()
}
