package wasm_test

import (
	"context"
	"encoding/json"
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
		for b.Loop() {
			if r := e.Execute(ctx, sc); !r.IsSuccess() {
				b.Fatal(r.Message())
			}
		}
	}
	b.Run("native", func(b *testing.B) {
		reg := worker.NewRegistry()
		require.NoError(b, native.Register(reg))
		run(b, reg, step("tasker_example_rs::step_handlers::linear_workflow::LinearStep2Handler"))
	})
	for _, m := range []string{"arith", "arith-c"} {
		for _, fresh := range []bool{false, true} {
			name := "wasm-" + m
			if fresh {
				name += "-fresh"
			}
			b.Run(name, func(b *testing.B) {
				dir := b.TempDir()
				linkModuleB(b, guestModule(b, m), dir+"/"+m+".wasm")
				x, err := wasm.New(context.Background(), wasm.Config{ModulePaths: []string{dir}, FreshInstances: fresh,
					CompilationCacheDir: cacheDir()}, nil)
				require.NoError(b, err)
				defer func() { _ = x.Close(context.Background()) }()
				run(b, x, step("wasm:"+m+"/linear_step_2"))
			})
		}
	}
}
