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
// With worker.wasm.module_paths in the configuration, or --wasm-modules
// (or $TASKER_WASM_MODULES), it also runs WASM step handlers (docs/wasm.md)
// from the modules in those directories, beside the Go handlers. The
// --wasm-* flags override the [worker.wasm] keys they name.
//
// Usage:
//
//	tasker-worker [--config-root DIR] [--env test|development|production]
//	              [--wasm-modules DIR[,DIR...]] [--wasm-map CALLABLE=module/function]... [--wasm-memory-mib N]
//	              [--wasm-uninterruptible] [--wasm-cache-dir DIR]
//	tasker-worker --probe URL   # exit 0 when URL answers 2xx (container health checks)
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
	"slices"
	"strings"
	"syscall"

	"github.com/tasker-go/tasker/internal/probe"
	"github.com/tasker-go/tasker/shared/config"
	"github.com/tasker-go/tasker/shared/infra"
	"github.com/tasker-go/tasker/worker"
	"github.com/tasker-go/tasker/worker/wasm"
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
	probeURL := fs.String("probe", "", "check a health endpoint instead of running (container health checks): exit 0 when URL answers 2xx")
	var wf wasmFlags
	fs.StringVar(&wf.modules, "wasm-modules", "", "comma-separated directories of WASM handler modules (worker.wasm.module_paths; default: $"+wasmModulesEnv+")")
	fs.Var(&wf.mapping, "wasm-map", "map a template callable to a WASM handler: CALLABLE=module/function (repeatable; replaces worker.wasm.callables)")
	fs.IntVar(&wf.memoryMiB, "wasm-memory-mib", 0, "memory limit of each WASM instance in MiB (worker.wasm.memory_limit_mib)")
	fs.BoolVar(&wf.uninterruptible, "wasm-uninterruptible", false, "compile WASM modules without the checks that let a step's timeout stop them (worker.wasm.uninterruptible_loops; trusted modules only)")
	fs.StringVar(&wf.cacheDir, "wasm-cache-dir", "", "keep compiled WASM modules in this directory across restarts (worker.wasm.compilation_cache_dir)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	fs.Visit(func(f *flag.Flag) { wf.set = append(wf.set, f.Name) })
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "tasker-worker: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if *probeURL != "" {
		if err := probe.Check(ctx, *probeURL, probe.DefaultTimeout); err != nil {
			fmt.Fprintf(stderr, "tasker-worker: %v\n", err)
			return 1
		}
		return 0
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
	if wf.modules == "" {
		for _, kv := range environ {
			if v, ok := strings.CutPrefix(kv, wasmModulesEnv+"="); ok && v != "" {
				wf.modules = v
				wf.set = append(wf.set, "wasm-modules")
			}
		}
	}
	opts := worker.OpenOptions{
		Name: "tasker-worker", ConfigRoot: *root, Environment: *env, Environ: environ,
		Registry: reg, Templates: examples, Logger: log,
		Configure: wf.apply, FallbackFromConfig: wasm.FromConfig,
	}
	w, err := worker.Open(ctx, opts)
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

// wasmModulesEnv names the module directories when --wasm-modules is not
// given.
const wasmModulesEnv = "TASKER_WASM_MODULES"

// wasmFlags are the --wasm-* flags: each given one overrides its
// [worker.wasm] key.
type wasmFlags struct {
	modules         string
	mapping         mapFlag
	memoryMiB       int
	uninterruptible bool
	cacheDir        string
	set             []string // the flags given
}

// apply writes the given flags over the loaded configuration (validated
// after, like any other layer).
func (f *wasmFlags) apply(cfg *config.Config) {
	if cfg.Worker == nil {
		return
	}
	w := &cfg.Worker.Wasm
	for _, name := range f.set {
		switch name {
		case "wasm-modules":
			w.ModulePaths = strings.Split(f.modules, ",")
		case "wasm-map":
			w.Callables = w.Callables[:0:0]
			for callable, target := range f.mapping {
				w.Callables = append(w.Callables, callable+"="+target)
			}
			slices.Sort(w.Callables)
		case "wasm-memory-mib":
			w.MemoryLimitMiB = f.memoryMiB
		case "wasm-uninterruptible":
			w.UninterruptibleLoops = f.uninterruptible
		case "wasm-cache-dir":
			w.CompilationCacheDir = f.cacheDir
		}
	}
}

// mapFlag collects CALLABLE=module/function flags.
type mapFlag map[string]string

func (m *mapFlag) String() string { return "" }

func (m *mapFlag) Set(v string) error {
	callable, target, ok := strings.Cut(v, "=")
	if !ok || callable == "" {
		return fmt.Errorf("want CALLABLE=module/function, got %q", v)
	}
	if *m == nil {
		*m = mapFlag{}
	}
	(*m)[callable] = target
	return nil
}
