package wasm_test

import (
	"context"
	"encoding/json"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/worker"
	"github.com/tasker-go/tasker/worker/wasm"
	"github.com/tasker-go/tasker/worker/workertest"
	"github.com/tasker-go/tasker/workers/native"
)

// BenchmarkStep compares one linear_step_2 run (a dependency read, a
// square, a result) on the native Go handler, on the Go guest and on the C
// guest, through the executors a worker calls. The worker's own cost per
// step (claim, commit: database round trips) comes on top of each.
func BenchmarkStep(b *testing.B) {
	step := func(callable string) *worker.StepContext {
		return workertest.NewStep("linear_step_2").WithCallable(callable).
			WithConfig(json.RawMessage(`{"operation":"square","step_number":2}`)).
			WithDependency("linear_step_1", map[string]any{"result": 36, "operation": "square", "input": 6, "source": "even_number", "step_number": 1}).
			Build()
	}
	run := func(b *testing.B, e worker.Executor, sc *worker.StepContext) {
		ctx := context.Background()
		require.True(b, e.Execute(ctx, sc).IsSuccess())
		b.ReportAllocs()
		b.ResetTimer()
		cpu0 := cpuTime()
		for b.Loop() {
			if r := e.Execute(ctx, sc); !r.IsSuccess() {
				b.Fatal(r.Message())
			}
		}
		// The process's CPU time per step: on a shared, loaded machine
		// the wall time mostly measures waiting for a core.
		b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
	}
	b.Run("native", func(b *testing.B) {
		reg := worker.NewRegistry()
		require.NoError(b, native.Register(reg))
		run(b, reg, step("tasker_example_rs::step_handlers::linear_workflow::LinearStep2Handler"))
	})
	b.Run("wasm-noop", func(b *testing.B) {
		// The ABI alone: a Go guest export answering a constant result.
		dir := b.TempDir()
		linkModuleB(b, guestModule(b, "misbehave"), dir+"/misbehave.wasm")
		x, err := wasm.New(context.Background(), wasm.Config{ModulePaths: []string{dir}, CompilationCacheDir: cacheDir()}, nil)
		require.NoError(b, err)
		defer func() { _ = x.Close(context.Background()) }()
		run(b, x, step("wasm:misbehave/noop"))
	})
	b.Run("wasm-sdk", func(b *testing.B) {
		// The Go guest SDK without a handler's work: it reads a
		// dependency's result and returns it as it is.
		dir := b.TempDir()
		linkModuleB(b, guestModule(b, "misbehave"), dir+"/misbehave.wasm")
		x, err := wasm.New(context.Background(), wasm.Config{ModulePaths: []string{dir}, CompilationCacheDir: cacheDir()}, nil)
		require.NoError(b, err)
		defer func() { _ = x.Close(context.Background()) }()
		run(b, x, step("wasm:misbehave/passthrough"))
	})
	for _, m := range []string{"arith", "arith-c"} {
		for _, mode := range []string{"", "-fresh", "-uninterruptible"} {
			b.Run("wasm-"+m+mode, func(b *testing.B) {
				dir := b.TempDir()
				linkModuleB(b, guestModule(b, m), dir+"/"+m+".wasm")
				x, err := wasm.New(context.Background(), wasm.Config{ModulePaths: []string{dir}, FreshInstances: mode == "-fresh",
					UninterruptibleLoops: mode == "-uninterruptible", CompilationCacheDir: cacheDir()}, nil)
				require.NoError(b, err)
				defer func() { _ = x.Close(context.Background()) }()
				run(b, x, step("wasm:"+m+"/linear_step_2"))
			})
		}
	}
}

// cpuTime is the process's user and system CPU time in nanoseconds.
func cpuTime() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
