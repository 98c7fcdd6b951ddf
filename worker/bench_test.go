package worker

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/config"
	"github.com/tasker-go/tasker/shared/template"
)

// BenchmarkWorkerThroughput measures the worker side of the step lifecycle
// (claim, hydrate, run a trivial handler, commit the result and the
// orchestration message) on single-step tasks created beforehand. Each
// iteration starts a worker on a backlog of benchSteps tasks and stops it
// once every result is committed; steps/s is reported.
func BenchmarkWorkerThroughput(b *testing.B) {
	const benchSteps = 2000
	h := newHarness(b)
	tpl := parseTemplate(b, `name: bench
namespace_name: bench_ns
version: "1"
steps: [{name: only, handler: {callable: bench.noop}}]
`)
	h.register(tpl)
	reg := NewRegistry()
	handle(b, reg, "bench.noop", func(context.Context, *Step[struct{}]) (map[string]bool, error) {
		return map[string]bool{"ok": true}, nil
	})
	var elapsed time.Duration
	var steps int
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		for range benchSteps {
			h.createTask(tpl, fmt.Sprintf(`{"i": %d}`, i))
		}
		c := h.buildCore(coreSpec{templates: []*template.Template{tpl}, registry: reg, config: func(w *config.Worker) {
			w.Handlers.MaxConcurrent = 50
			w.Claims.BatchSize = 50
			w.Completion.BatchSize = 100
		}})
		b.StartTimer()
		began := time.Now()
		require.NoError(b, c.Start(h.ctx))
		for c.Stats().Recorded < benchSteps {
			time.Sleep(time.Millisecond)
		}
		elapsed += time.Since(began)
		steps += benchSteps
		b.StopTimer()
		require.NoError(b, c.Stop(h.ctx))
		b.Logf("batches: %d for %d results", c.Stats().CompletionBatches, benchSteps)
	}
	b.ReportMetric(float64(steps)/elapsed.Seconds(), "steps/s")
	b.ReportMetric(0, "ns/op")
}
