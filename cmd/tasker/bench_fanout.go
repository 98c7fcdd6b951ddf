package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/tasker-go/tasker/client"
	"github.com/tasker-go/tasker/shared/config"
	"github.com/tasker-go/tasker/shared/infra"
	"github.com/tasker-go/tasker/shared/template"
)

// The fan-out/converge benchmark: one batchable step plans N workers of one
// item each, the workers run, a deferred convergence step checks their
// total. It runs on the embedded system with the native worker's batch
// example handlers, under a template registered in a namespace that worker
// already serves.

const fanOutNamespace = "examples_linear"

// fanOutTemplate is the benchmark's template for n workers.
func fanOutTemplate(n int) string {
	return fmt.Sprintf(`
name: bench_fan_out_%d
namespace_name: %s
version: 1.0.0
identity_strategy: always_unique
steps:
  - name: analyze_dataset
    type: batchable
    handler:
      callable: tasker_example_rs::step_handlers::batch_processing_example::DatasetAnalyzerHandler
      initialization: {batch_size: 1, max_workers: %d, worker_template_name: process_batch}
  - name: process_batch
    type: batch_worker
    dependencies: [analyze_dataset]
    handler: {callable: tasker_example_rs::step_handlers::batch_processing_example::BatchWorkerHandler}
    batch_config: {batch_size: 1, parallelism: %d, worker_template: process_batch, failure_strategy: fail_fast}
  - name: aggregate_results
    type: deferred_convergence
    dependencies: [process_batch]
    handler: {callable: tasker_example_rs::step_handlers::batch_processing_example::ResultsAggregatorHandler}
`, n, fanOutNamespace, n, n)
}

type fanOutFlags struct {
	workers, runs  int
	root, env, dir string
	embeddedPG     bool
	keep           bool
	jsonOut        string
	runTimeout     time.Duration
}

// fanOutResult is one fan-out run's timings.
type fanOutResult struct {
	Workers int `json:"workers"`
	// TotalMS is task creation to completion (client-observed).
	TotalMS float64 `json:"total_ms"`
	// FanOutMS is task creation to the batchable step's completion, when
	// the workers exist and are enqueued.
	FanOutMS float64 `json:"fan_out_ms"`
	// ConvergeMS is the batchable step's completion to the task's.
	ConvergeMS    float64 `json:"converge_ms"`
	WorkersPerSec float64 `json:"workers_per_sec"`
}

// withFanOut adds the fanout subcommand to the bench command.
func withFanOut(bench *cobra.Command) *cobra.Command {
	bench.AddCommand(newBenchFanOutCmd())
	return bench
}

func newBenchFanOutCmd() *cobra.Command {
	var f fanOutFlags
	cmd := &cobra.Command{
		Use:   "fanout [--workers N] [--runs R]",
		Short: "Measure a batch fanning out to N workers and converging (embedded system)",
		Long: `Start an embedded system (like tasker bench --embedded) and run R tasks of a batch
that fans out to N workers of one item each and converges: the time from task
creation to the batchable step's completion (workers created and enqueued), from
there to the task's completion, and workers per second.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runBenchFanOut(cmd, f) },
	}
	fl := cmd.Flags()
	fl.IntVar(&f.workers, "workers", 1000, "batch workers per task (1 to 100000)")
	fl.IntVar(&f.runs, "runs", 3, "tasks, one after the other")
	fl.DurationVar(&f.runTimeout, "run-timeout", 10*time.Minute, "give up on a run whose task has not finished after this long")
	fl.StringVar(&f.jsonOut, "json", "", "write the runs as JSON to this file")
	fl.StringVar(&f.root, "config-root", "", "configuration directory (default $"+configRootEnv+", else the built-in copy)")
	fl.StringVar(&f.env, "env", "", "configuration environment (default $TASKER_ENV, else development)")
	fl.StringVar(&f.dir, "dir", ".tasker", "folder for the private PostgreSQL cluster (when no server answers)")
	fl.BoolVar(&f.embeddedPG, "embedded-postgres", false, "always use the private PostgreSQL cluster")
	fl.BoolVar(&f.keep, "keep", false, "keep the benchmark schema afterwards")
	return cmd
}

func runBenchFanOut(cmd *cobra.Command, f fanOutFlags) error {
	ctx, out := cmd.Context(), cmd.OutOrStdout()
	if f.workers < 1 || f.workers > 100_000 {
		return fmt.Errorf("--workers must be within 1..100000 (got %d)", f.workers)
	}
	if f.runs < 1 {
		return fmt.Errorf("--runs must be at least 1 (got %d)", f.runs)
	}
	sys, err := startBenchSystem(ctx, out, benchFlags{embedded: true, root: f.root, env: f.env, dir: f.dir,
		embeddedPG: f.embeddedPG, keep: f.keep})
	if err != nil {
		return err
	}
	defer sys.stop(out)
	// The native Go worker runs the fan-out's handlers (the batch example's).
	w, err := sys.startGoWorker(ctx)
	if err != nil {
		return err
	}
	defer w.stop(out)
	tpls, err := template.Parse([]byte(fanOutTemplate(f.workers)), "bench_fan_out.yaml", template.ParseOptions{})
	if err != nil {
		return err
	}
	if err := registerBenchTemplate(ctx, f, sys, tpls); err != nil {
		return err
	}
	c, err := client.New(sys.apiURL)
	if err != nil {
		return err
	}
	var runs []fanOutResult
	for i := range f.runs {
		rctx, cancel := context.WithTimeout(ctx, f.runTimeout)
		r, err := runFanOut(rctx, c, tpls[0], f.workers)
		cancel()
		if err != nil {
			return fmt.Errorf("fan-out run %d: %w", i+1, err)
		}
		runs = append(runs, r)
		fmt.Fprintf(out, "fan-out %d workers: total %.0f ms (fan out %.0f ms, converge %.0f ms), %.0f workers/s\n",
			r.Workers, r.TotalMS, r.FanOutMS, r.ConvergeMS, r.WorkersPerSec)
	}
	totals := make([]float64, 0, len(runs))
	for _, r := range runs {
		totals = append(totals, r.TotalMS)
	}
	slices.Sort(totals)
	fmt.Fprintf(out, "fan-out %d workers: median total %.0f ms over %d runs\n", f.workers, totals[len(totals)/2], len(runs))
	if f.jsonOut == "" {
		return nil
	}
	b, err := json.MarshalIndent(map[string]any{"workers": f.workers, "runs": runs}, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(f.jsonOut, b, 0o600); err != nil {
		return fmt.Errorf("writing %s: %w", f.jsonOut, err)
	}
	return nil
}

// registerBenchTemplate registers the benchmark template in the embedded
// system's database.
func registerBenchTemplate(ctx context.Context, f fanOutFlags, sys *benchSystem, tpls []*template.Template) error {
	cfg, err := loadConfig(f.root, config.ContextOrchestration, f.env)
	if err != nil {
		return err
	}
	cfg.Database.URL, cfg.Database.Schema = sys.dbURL, sys.schema
	cfg.Database.Pool.MaxConnections, cfg.Database.Pool.MinConnections = 2, 0
	in, err := infra.Connect(ctx, cfg, "tasker-bench-fanout", slog.New(slog.DiscardHandler))
	if err != nil {
		return fmt.Errorf("connecting to the benchmark database: %w", err)
	}
	defer in.Close()
	if _, err := in.Store.RegisterTemplates(ctx, tpls); err != nil {
		return fmt.Errorf("registering the fan-out template: %w", err)
	}
	return nil
}

// runFanOut runs one fan-out task to its end.
func runFanOut(ctx context.Context, c *client.Client, tpl *template.Template, n int) (fanOutResult, error) {
	began := time.Now()
	task, err := c.CreateTask(ctx, client.TaskRequest{Namespace: tpl.NamespaceName, Name: tpl.Name, Version: tpl.Version,
		Context: json.RawMessage(fmt.Sprintf(`{"dataset_size":%d}`, n))})
	if err != nil {
		return fanOutResult{}, err
	}
	var fannedOut time.Time
	final, err := c.Wait(ctx, task.TaskUUID, func(e client.Event) {
		if fannedOut.IsZero() && e.StepName == "analyze_dataset" && e.ToState == "complete" {
			fannedOut = time.Now()
		}
	})
	if err != nil {
		return fanOutResult{}, err
	}
	done := time.Now()
	if final.Status != "complete" {
		return fanOutResult{}, fmt.Errorf("task %s ended %s", task.TaskUUID, final.Status)
	}
	if fannedOut.IsZero() {
		fannedOut = done
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	return fanOutResult{Workers: n, TotalMS: ms(done.Sub(began)), FanOutMS: ms(fannedOut.Sub(began)),
		ConvergeMS: ms(done.Sub(fannedOut)), WorkersPerSec: float64(n) / done.Sub(began).Seconds()}, nil
}
