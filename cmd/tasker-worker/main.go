// Command tasker-worker is the native Go worker: it runs the handlers of
// package workers/native (the example workflows) on the worker foundation.
//
// It loads the worker configuration as the tasker commands do (the tree of
// --config-root, else $TASKER_CONFIG_ROOT, else the copy built into the
// binary; then the environment: TASKER_ENV, DATABASE_URL,
// TASKER_TEMPLATE_PATH, TASKER__SECTION__KEY overrides;
// TASKER_EXAMPLE_ITEM_TRACE_DIR makes the batch handlers record each item
// they process there, for tests), connects to
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
	"strings"
	"syscall"

	"github.com/tasker-go/tasker/shared/config"
	"github.com/tasker-go/tasker/shared/infra"
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
	root := fs.String("config-root", "", "directory holding the shared/ and worker/ configuration (default: $"+infra.ConfigRootEnv+", else the copy built into the binary)")
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
	reg := worker.NewRegistry()
	if err := native.Register(reg); err != nil {
		fmt.Fprintf(stderr, "tasker-worker: %v\n", err)
		return 1
	}
	examples, err := native.Templates()
	if err != nil {
		fmt.Fprintf(stderr, "tasker-worker: loading the built-in templates: %v\n", err)
		return 1
	}
	if environ == nil {
		environ = []string{}
	}
	// Tests that stop a worker mid-batch read which items its batch
	// handlers processed from this directory.
	for _, kv := range environ {
		if dir, ok := strings.CutPrefix(kv, "TASKER_EXAMPLE_ITEM_TRACE_DIR="); ok {
			native.TraceItemsTo(dir)
		}
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	w, err := worker.Open(ctx, worker.OpenOptions{
		Name: "tasker-worker", ConfigRoot: *root, Environment: *env, Environ: environ,
		Registry: reg, Templates: examples, Logger: log,
	})
	var problems config.Problems
	switch {
	case errors.As(err, &problems):
		fmt.Fprintf(stderr, "tasker-worker: configuration:\n%v\n", err)
		return 1
	case err != nil:
		fmt.Fprintf(stderr, "tasker-worker: %v\n", err)
		return 1
	}
	if err := w.Run(ctx); err != nil {
		fmt.Fprintf(stderr, "tasker-worker: %v\n", err)
		return 1
	}
	return 0
}
