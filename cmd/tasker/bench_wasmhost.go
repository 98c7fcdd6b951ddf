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
// example templates (their callables mapped to the functions of a guest
// built from source, named after the steps): the arith Go guest in
// wazero's default mode, where a step's timeout can stop a running module,
// or compiled without those checks (wasm.Config.UninterruptibleLoops), and
// the arith C guest in the default mode.
const (
	benchWasm                = "wasm"
	benchWasmUninterruptible = "wasm-uninterruptible"
	benchWasmC               = "wasm-c"
)

// benchGuest is a guest module serving the bench's templates: a function
// per step name, computing what the native handlers do.
type benchGuest struct {
	module string // the module's name (<module>.wasm)
	source string // its source in the checkout
	c      bool   // built with clang rather than the Go toolchain
}

var (
	benchGoGuest = benchGuest{module: "arith", source: "./worker/wasm/examples/arith"}
	benchCGuest  = benchGuest{module: "arith-c", source: "worker/wasm/examples/arith-c/arith.c", c: true}
)

// benchGuestOf is the guest module lang's worker runs.
func benchGuestOf(lang string) benchGuest {
	if lang == benchWasmC {
		return benchCGuest
	}
	return benchGoGuest
}

// isWasmHandler reports whether lang is one of the WASM workers.
func isWasmHandler(lang string) bool {
	return lang == benchWasm || lang == benchWasmUninterruptible || lang == benchWasmC
}

// benchWasmCallables maps every step callable of the bench's templates to
// module's function named after the step.
func benchWasmCallables(module string) (map[string]string, error) {
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
			out[s.Handler.Callable] = module + "/" + s.Name
		}
	}
	return out, nil
}

// buildBenchGuest builds the guest module from the source checkout into the
// system's module folder (made on first use, removed when the system
// stops), once per run.
func (s *benchSystem) buildBenchGuest(ctx context.Context, out io.Writer, g benchGuest) error {
	root, err := sourceRoot()
	if err != nil {
		return fmt.Errorf("the WASM guest is built from the source checkout: %w", err)
	}
	if s.wasmDir == "" {
		dir, err := os.MkdirTemp("", "tasker-bench-wasm-")
		if err != nil {
			return err
		}
		s.cleanups = append(s.cleanups, func() { _ = os.RemoveAll(dir) })
		s.wasmDir = dir
	}
	path := filepath.Join(s.wasmDir, g.module+".wasm")
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	start := time.Now()
	if g.c {
		fmt.Fprintf(out, "building the WASM guest (clang %s)...\n", strings.Join(wasmtest.CFlags(g.source, g.module+".wasm"), " "))
		err = wasmtest.BuildC(ctx, root, g.source, path)
	} else {
		fmt.Fprintf(out, "building the WASM guest (GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared %s)...\n", g.source)
		err = wasmtest.BuildGo(ctx, root, g.source, path)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "built %s.wasm in %s\n", g.module, time.Since(start).Round(time.Millisecond))
	return nil
}

// startWasmWorker starts lang's WASM worker in this process, on the
// system's connection pool and worker configuration (the Go worker's).
func (s *benchSystem) startWasmWorker(ctx context.Context, out io.Writer, lang string) (*benchWorker, error) {
	g := benchGuestOf(lang)
	if err := s.buildBenchGuest(ctx, out, g); err != nil {
		return nil, err
	}
	callables, err := benchWasmCallables(g.module)
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
	fmt.Fprintf(out, "%s worker: %s.wasm loaded in %s\n", lang, g.module, time.Since(start).Round(time.Millisecond))
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
			g := benchGuestOf(h)
			lang := "Go guest"
			if g.c {
				lang = "C guest"
			}
			modes = append(modes, fmt.Sprintf("%s (%s %s)", h, lang, g.source))
		}
	}
	if len(modes) == 0 {
		return ""
	}
	return "the native templates on WASM guests (wazero, an idle instance per handler slot): " + strings.Join(modes, ", ")
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
