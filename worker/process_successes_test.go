package worker

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/config"
	"github.com/tasker-go/tasker/shared/messaging"
	"github.com/tasker-go/tasker/shared/state"
	"github.com/tasker-go/tasker/shared/template"
)

// TestWorkerProcessesItsSuccesses: with worker.completion.process_successes
// (the default) a worker takes a linear task to completion without
// orchestration: each success completes its step and claims the next for
// this worker in the transaction that records it (only the first step is
// claimed from the queue), the last one finalizes the task, no result
// message is left for orchestration, no step message is left behind, the
// completions after the first plan on the graph the one before left (one
// round trip each), and the worker exports the result series
// orchestration would have.
func TestWorkerProcessesItsSuccesses(t *testing.T) {
	h := newHarness(t)
	tpl := parseTemplate(t, `name: chain
namespace_name: inline_ns
version: "1"
steps:
  - {name: a, handler: {callable: inline.step}}
  - {name: b, handler: {callable: inline.step}, dependencies: [a]}
  - {name: c, handler: {callable: inline.step}, dependencies: [b]}
`)
	h.register(tpl)
	reg := NewRegistry()
	handle(t, reg, "inline.step", noop)
	var spy *spyStore
	c := h.newCore(coreSpec{templates: []*template.Template{tpl}, registry: reg,
		config: func(w *config.Worker) { w.Completion.ProcessSuccesses = true },
		before: func(c *Core) { spy = spyOn(c, nil) }})
	tk := h.createTask(tpl, `{}`)
	h.waitFor("the task to complete without orchestration", func() bool {
		return h.taskState(tk.id) == state.TaskComplete
	})
	for _, name := range []string{"a", "b", "c"} {
		require.Equal(t, state.StepComplete, h.step(tk, name).State, name)
	}
	st, err := h.queue.Stats(h.ctx, messaging.StepResultsQueue)
	require.NoError(t, err)
	require.Zero(t, st.Depth, "no result message was sent")
	require.EqualValues(t, 3, c.stats.processed.Load())
	require.EqualValues(t, 3, c.stats.claimed.Load())
	claims, _ := spy.calls()
	require.Equal(t, []int{1}, claims, "steps b and c were claimed by the completions of a and b")
	st, err = h.queue.Stats(h.ctx, messaging.WorkerQueue("inline_ns"))
	require.NoError(t, err)
	require.Zero(t, st.Depth, "every step message was acked")

	g, ok := c.opts.Registerer.(prometheus.Gatherer)
	require.True(t, ok)
	families, err := g.Gather()
	require.NoError(t, err)
	got := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "state" && l.GetValue() == "complete" {
					got[f.GetName()] = m.GetCounter().GetValue() + float64(m.GetHistogram().GetSampleCount())
				}
			}
		}
	}
	require.InDelta(t, 3, got["tasker_step_results_total"], 0)
	require.InDelta(t, 1, got["tasker_tasks_finished_total"], 0)
	require.InDelta(t, 1, got["tasker_task_duration_seconds"], 0)
	for _, f := range families {
		if f.GetName() == "tasker_worker_predicted_completions_total" {
			got[f.GetName()] = f.GetMetric()[0].GetCounter().GetValue()
		}
	}
	require.InDelta(t, 2, got["tasker_worker_predicted_completions_total"], 0,
		"b's and c's completions planned on the graph a's and b's left")
}
