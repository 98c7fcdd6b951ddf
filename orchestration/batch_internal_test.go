package orchestration

import (
	"encoding/json"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/batch"
	"github.com/tasker-go/tasker/shared/messaging"
	"github.com/tasker-go/tasker/shared/state"
	"github.com/tasker-go/tasker/shared/template"
)

// TestBatchResultRacingOrchestrators: two orchestrators process the same
// batchable result at the same moment, then it is redelivered. The 50
// workers and the convergence step exist once, each worker is enqueued
// once (parallelism 50), and the redelivery creates nothing.
func TestBatchResultRacingOrchestrators(t *testing.T) {
	tpls, err := template.Parse([]byte(`
name: race
namespace_name: batch_race
version: 1.0.0
steps:
  - name: split
    type: batchable
    handler: {callable: split}
  - name: work
    type: batch_worker
    dependencies: [split]
    handler: {callable: work}
    batch_config: {batch_size: 1, parallelism: 50, worker_template: work}
  - name: gather
    type: deferred_convergence
    dependencies: [work]
    handler: {callable: gather}
`), "race.yaml", template.ParseOptions{})
	require.NoError(t, err)
	e := newRaceEnv(t, "batch_race", tpls)
	created, err := e.cores[0].CreateTask(e.ctx, TaskRequest{Namespace: "batch_race", Name: "race", Version: "1.0.0"})
	require.NoError(t, err)
	task := created.Task

	// Run split: claim it, report the outcome, take the result message.
	value, err := json.Marshal(map[string]any{batch.ResultField: batch.CreateBatches("work", batch.Plan(50, 1, 50, 0), 50)})
	require.NoError(t, err)
	rm := e.runStep("split", value)

	e.processAtOnce(rm)
	require.Equal(t, 51.0, e.count(e.cores[0].metrics.stepsCreated), "50 workers and gather")
	require.NoError(t, processGiven(e.ctx, e.cores[1], []messaging.Message{rm}))
	require.Equal(t, 51.0, e.count(e.cores[0].metrics.stepsCreated), "a redelivered batchable result creates nothing")

	steps, err := e.st.StepReadiness(e.ctx, []uuid.UUID{task.UUID}, nil)
	require.NoError(t, err)
	require.Len(t, steps, 52)
	enqueued := 0
	for _, s := range steps {
		if s.State == state.StepEnqueued {
			enqueued++
		}
		if s.Name == "gather" {
			require.Len(t, s.Parents, 50)
		}
	}
	require.Equal(t, 50, enqueued)
	depth, err := e.q.Stats(e.ctx, e.queue)
	require.NoError(t, err)
	require.Equal(t, int64(50), depth.Depth, "one message per worker")
}
