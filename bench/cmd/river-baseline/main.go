// Command river-baseline measures River on the scenarios of Tasker's own
// benchmark (a 4-step linear chain's latency and sustained throughput) and
// prints a summary, optionally writing JSON that `tasker bench` reads.
//
//	river-baseline --database-url URL --schema NAME [--latency-n 200] [--warmup 20]
//	    [--throughput-tasks 2000] [--concurrency 50] [--workers 100] [--json FILE] [--quick]
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/tasker-go/tasker/bench/internal/riverbench"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, jsonPath, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		_, _ = fmt.Fprintf(stderr, "river-baseline: %v\n", err)
		return 2
	}
	cfg.Log = func(format string, a ...any) { _, _ = fmt.Fprintf(stderr, "river-baseline: "+format+"\n", a...) }

	res, err := riverbench.Run(ctx, cfg)
	if err != nil {
		_, _ = fmt.Fprintf(stderr, "river-baseline: %v\n", err)
		return 1
	}
	_, _ = fmt.Fprint(stdout, res.Summary())
	if jsonPath != "" {
		if err := writeJSON(jsonPath, res); err != nil {
			_, _ = fmt.Fprintf(stderr, "river-baseline: --json %s: %v\n", jsonPath, err)
			return 1
		}
		_, _ = fmt.Fprintf(stdout, "\nJSON written to %s\n", jsonPath)
	}
	return 0
}

func parseFlags(args []string, stderr io.Writer) (riverbench.Config, string, error) {
	cfg := riverbench.Defaults()
	if u := os.Getenv("DATABASE_URL"); u != "" {
		cfg.DatabaseURL = u
	}
	var jsonPath string
	fs := flag.NewFlagSet("river-baseline", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.DatabaseURL, "database-url", cfg.DatabaseURL, "PostgreSQL URL (default from DATABASE_URL, else local postgres)")
	fs.StringVar(&cfg.Schema, "schema", cfg.Schema, "schema to create for River's tables; dropped at the end unless --keep")
	fs.IntVar(&cfg.LatencyN, "latency-n", cfg.LatencyN, "measured chains in the linear4 scenario (run one at a time)")
	fs.IntVar(&cfg.Warmup, "warmup", cfg.Warmup, "unmeasured chains before the linear4 scenario")
	fs.IntVar(&cfg.ThroughputTasks, "throughput-tasks", cfg.ThroughputTasks, "chains (of 4 jobs each) in the throughput scenario")
	fs.IntVar(&cfg.Concurrency, "concurrency", cfg.Concurrency, "concurrent chain submitters (inserts in flight) in the throughput scenario")
	fs.IntVar(&cfg.Workers, "workers", cfg.Workers, "MaxWorkers of River's default queue")
	fs.IntVar(&cfg.MaxConns, "max-conns", cfg.MaxConns, "pgxpool MaxConns for River's pool (workers open their own transaction)")
	fs.DurationVar(&cfg.FetchCooldown, "fetch-cooldown", cfg.FetchCooldown, "River FetchCooldown (River's own default is 100ms; 1ms is its minimum)")
	fs.DurationVar(&cfg.FetchPoll, "fetch-poll-interval", cfg.FetchPoll, "River FetchPollInterval (River's default 1s)")
	fs.DurationVar(&cfg.Jitter, "jitter", cfg.Jitter, "random pause in [0, jitter) before each linear4 chain, so chain starts do not phase-lock to River's 250ms completer tick (0 = back to back)")
	fs.DurationVar(&cfg.Timeout, "timeout", cfg.Timeout, "give up on the whole run after this long")
	fs.BoolVar(&cfg.Quick, "quick", false, fmt.Sprintf("small sizes unless set explicitly: latency-n %d, warmup %d, throughput-tasks %d",
		riverbench.QuickLatencyN, riverbench.QuickWarmup, riverbench.QuickThroughputTasks))
	fs.BoolVar(&cfg.Keep, "keep", false, "keep the schema (and its river_job rows) after the run")
	fs.BoolVar(&cfg.Replace, "replace", false, "drop the schema first if it already exists")
	fs.StringVar(&jsonPath, "json", "", "also write the result as JSON to this file")
	if err := fs.Parse(args); err != nil {
		return cfg, "", err
	}
	if fs.NArg() > 0 {
		return cfg, "", fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if cfg.Quick {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if !set["latency-n"] {
			cfg.LatencyN = riverbench.QuickLatencyN
		}
		if !set["warmup"] {
			cfg.Warmup = riverbench.QuickWarmup
		}
		if !set["throughput-tasks"] {
			cfg.ThroughputTasks = riverbench.QuickThroughputTasks
		}
	}
	return cfg, jsonPath, cfg.Validate()
}

func writeJSON(path string, res *riverbench.Result) error {
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
