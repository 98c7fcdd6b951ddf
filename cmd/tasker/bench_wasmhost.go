package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/tasker-go/tasker/shared/infra"
	"github.com/tasker-go/tasker/shared/template"
	"github.com/tasker-go/tasker/worker"
	"github.com/tasker-go/tasker/worker/wasm"
	"github.com/tasker-go/tasker/worker/wasm/wasmtest"
	"github.com/tasker-go/tasker/workers/native"
)

// The WASM workers of --handlers: the native Go worker's machinery with no
// Go handlers and the WASM executor as its fallback, serving the same
// example templates (their callables mapped to the functions of the arith
// guest, built from source) in wazero's default mode, where a step's
// timeout can stop a running module, or compiled without those checks
// (wasm.Config.UninterruptibleLoops).
const (
	benchWasm                = "wasm"
	benchWasmUninterruptible = "wasm-uninterruptible"
	// benchGuestPackage is the guest module serving the bench's templates:
	// a function per step name, computing what the native handlers do.
	benchGuestPackage = "./worker/wasm/examples/arith"
	benchGuestModule  = "arith"
)

// isWasmHandler reports whether lang is one of the WASM workers.
func isWasmHandler(lang string) bool { return lang == benchWasm || lang == benchWasmUninterruptible }

// benchWasmCallables maps every step callable of the bench's templates to
// the guest function named after the step.
func benchWasmCallables() (map[string]string, error) {
	tpls, err := native.Templates()
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, sc := range latencyScenarios {
		i := slices.IndexFunc(tpls, func(t *template.Template) bool { return t.NamespaceName == sc.namespace && t.Name == sc.template })
		if i < 0 {
			return nil, fmt.Errorf("no native template %s/%s", sc.namespace, sc.template)
		}
		for _, s := range tpls[i].Steps {
			out[s.Handler.Callable] = benchGuestModule + "/" + s.Name
		}
	}
	return out, nil
}

// buildBenchGuest builds the guest module from the source checkout into a
// folder of its own (removed when the system stops) and returns the folder.
func (s *benchSystem) buildBenchGuest(ctx context.Context, out io.Writer) (string, error) {
	root, err := sourceRoot()
	if err != nil {
		return "", fmt.Errorf("the WASM guest is built from the source checkout: %w", err)
	}
	dir, err := os.MkdirTemp("", "tasker-bench-wasm-")
	if err != nil {
		return "", err
	}
	s.cleanups = append(s.cleanups, func() { _ = os.RemoveAll(dir) })
	fmt.Fprintf(out, "building the WASM guest (GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared %s)...\n", benchGuestPackage)
	start := time.Now()
	if err := wasmtest.BuildGo(ctx, root, benchGuestPackage, filepath.Join(dir, benchGuestModule+".wasm")); err != nil {
		return "", err
	}
	fmt.Fprintf(out, "built %s.wasm in %s\n", benchGuestModule, time.Since(start).Round(time.Millisecond))
	return dir, nil
}

// startWasmWorker starts lang's WASM worker in this process, on the
// system's connection pool and worker configuration (the Go worker's).
func (s *benchSystem) startWasmWorker(ctx context.Context, out io.Writer, lang string) (*benchWorker, error) {
	if s.wasmDir == "" {
		dir, err := s.buildBenchGuest(ctx, out)
		if err != nil {
			return nil, err
		}
		s.wasmDir = dir
	}
	callables, err := benchWasmCallables()
	if err != nil {
		return nil, err
	}
	// The pool keeps an instance for every step the worker can run at once:
	// with fewer, the steps beyond them instantiate a module (a Go guest's
	// runtime start-up, about 10 ms of CPU) and throw it away.
	x, err := wasm.New(ctx, wasm.Config{ModulePaths: []string{s.wasmDir}, Callables: callables,
		MaxIdleInstances:    max(s.workerConfig.Worker.Handlers.MaxConcurrent, 1),
		CompilationCacheDir: wasmtest.CompilationCacheDir(), UninterruptibleLoops: lang == benchWasmUninterruptible}, nil)
	if err != nil {
		return nil, err
	}
	closeExecutor := func() {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = x.Close(cctx)
	}
	// Compile (or load from the cache) before the clock starts, and check
	// that every callable is exported.
	start := time.Now()
	if err := x.Check(ctx, mapKeys(callables)); err != nil {
		closeExecutor()
		return nil, err
	}
	fmt.Fprintf(out, "%s worker: %s.wasm loaded in %s\n", lang, benchGuestModule, time.Since(start).Round(time.Millisecond))
	examples, err := native.Templates()
	if err != nil {
		closeExecutor()
		return nil, err
	}
	wcfg := *s.workerConfig
	wcfg.Worker.Web.Enabled = false
	wcfg.Templates.SearchPaths = nil
	wcfg.Worker.WorkerID = infra.ProcessName("bench-"+lang+"-worker", "")
	svc, err := worker.Open(ctx, worker.OpenOptions{Config: &wcfg, Infra: s.infra, Registry: worker.NewRegistry(),
		Fallback: x, Templates: examples, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		closeExecutor()
		return nil, err
	}
	wk := svc.Core()
	if err := wk.Start(ctx); err != nil {
		closeExecutor()
		return nil, err
	}
	return &benchWorker{lang: lang, stop: func(io.Writer) {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = wk.Stop(sctx)
		closeExecutor()
	}}, nil
}

func mapKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// wasmHandlersNote describes the WASM workers of a report's Config.
func wasmHandlersNote(handlers []string) string {
	var modes []string
	for _, h := range handlers {
		if isWasmHandler(h) {
			modes = append(modes, h)
		}
	}
	if len(modes) == 0 {
		return ""
	}
	return "the native templates on " + benchGuestPackage + " (Go guest, wazero, an idle instance per handler slot): " + strings.Join(modes, ", ")
}

// handlerStageAdded is the mean over linear 4's steps of the difference of
// the "handler runs" stage's medians, l against g (nil without both
// breakdowns).
func handlerStageAdded(l, g *stageBreakdown) *float64 {
	if l == nil || g == nil {
		return nil
	}
	a, b := l.P50MS[stageHandler], g.P50MS[stageHandler]
	var sum float64
	n := 0
	for i := range min(len(a), len(b)) {
		if a[i] != nil && b[i] != nil {
			sum += *a[i] - *b[i]
			n++
		}
	}
	if n == 0 {
		return nil
	}
	v := round2(sum / float64(n))
	return &v
}
