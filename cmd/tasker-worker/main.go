// Command tasker-worker is the native Go worker: it runs the handlers of
// package workers/native (the example workflows) on the worker foundation.
//
// It loads the worker configuration as the tasker commands do (the tree of
// --config-root, else $TASKER_CONFIG_ROOT, else the copy built into the
// binary; then the environment: TASKER_ENV, DATABASE_URL,
// TASKER_TEMPLATE_PATH, TASKER__SECTION__KEY overrides), connects to
// PostgreSQL (the schema must already be migrated with `tasker migrate`),
// registers the templates found on the search paths plus the examples
// embedded in the binary, and consumes the queues of their namespaces until
// SIGINT or SIGTERM, then shuts down gracefully.
//
// Usage:
//
//	tasker-worker [--config-root DIR] [--env test|development|production]
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
	"syscall"
	"time"

	"github.com/tasker-go/tasker/cmd/internal/app"
	"github.com/tasker-go/tasker/shared/config"
	"github.com/tasker-go/tasker/worker"
	"github.com/tasker-go/tasker/workers/native"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Environ(), os.Stderr)
	stop()
	os.Exit(code)
}

// run parses flags and serves until ctx ends; it returns the exit status.
func run(ctx context.Context, args, environ []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("tasker-worker", flag.ContinueOnError)
	fs.SetOutput(stderr)
	root := fs.String("config-root", "", "directory holding the shared/ and worker/ configuration (default: $"+app.ConfigRootEnv+", else the copy built into the binary)")
	env := fs.String("env", "", "configuration environment: test, development or production (default: $TASKER_ENV, else development)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "tasker-worker: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	cfg, err := app.LoadConfig(app.ConfigOptions{Root: *root, Context: config.ContextWorker, Env: *env, Environ: environ})
	if err != nil {
		fmt.Fprintf(stderr, "tasker-worker: configuration:\n%v\n", err)
		return 1
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	if err := serve(ctx, cfg, log); err != nil {
		fmt.Fprintf(stderr, "tasker-worker: %v\n", err)
		return 1
	}
	return 0
}

// serve wires the process together and runs the worker until ctx ends.
func serve(ctx context.Context, cfg *config.Config, log *slog.Logger) error {
	name := app.ProcessName("tasker-worker", cfg.Worker.WorkerID)
	cfg.Worker.WorkerID = name
	// The infrastructure outlives the signal: it is closed after the
	// graceful stop below.
	infra, err := app.Connect(context.WithoutCancel(ctx), cfg, name, log)
	if err != nil {
		return redact(err)
	}
	defer infra.Close()
	if err := infra.CheckSchema(ctx); err != nil {
		return err
	}

	reg := worker.NewRegistry()
	if err := native.Register(reg); err != nil {
		return err
	}
	examples, err := native.Templates()
	if err != nil {
		return fmt.Errorf("loading the built-in templates: %w", err)
	}
	core, err := app.Worker(infra, cfg, reg, examples, app.NewRegistry(), log)
	if err != nil {
		return err
	}
	if err := core.Start(ctx); err != nil {
		return err
	}
	log.Info("tasker-worker started", "worker_id", core.WorkerID(), "namespaces", core.Namespaces())
	<-ctx.Done()
	log.Info("shutting down", "grace", cfg.Worker.ShutdownGrace)
	// Stop is bounded by the grace plus a second for releasing claims and
	// committing results.
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.Worker.ShutdownGrace+time.Second)
	defer cancel()
	return core.Stop(stopCtx)
}

// redact hides passwords that a connection error may quote.
func redact(err error) error { return errors.New(config.RedactSecrets(err.Error())) }
