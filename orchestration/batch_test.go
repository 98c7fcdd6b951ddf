package orchestration_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/batch"
	"github.com/tasker-go/tasker/shared/messaging"
	"github.com/tasker-go/tasker/shared/state"
	"github.com/tasker-go/tasker/shared/store"
	"github.com/tasker-go/tasker/shared/template"
)

// batchTemplate is a synthetic batch workflow: split → work_NNN →
// gather (deferred convergence) → report (a standard step after it is
// not created by the batch; the convergence step is the end of the graph).
func batchTemplate(t *testing.T, h *harness, ns string, parallelism int, strategy string) *template.Template {
	t.Helper()
	tpls, err := template.Parse(fmt.Appendf(nil, `
name: synthetic_batch
namespace_name: %s
version: 1.0.0
steps:
  - name: split
    type: batchable
    handler: {callable: split, initialization: {worker_template_name: work}}
  - name: work
    type: batch_worker
    dependencies: [split]
    retry: {max_attempts: 1}
    handler: {callable: work, initialization: {operation: sum}}
    batch_config: {batch_size: 10, parallelism: %d, cursor_field: id, worker_template: work, failure_strategy: %s}
  - name: gather
    type: deferred_convergence
    dependencies: [work]
    handler: {callable: gather}
`, ns, parallelism, strategy), "synthetic.yaml", template.ParseOptions{})
	require.NoError(t, err)
	h.register(tpls[0])
	return tpls[0]
}

// batchScript plays the handlers: split returns outcome, each worker
// returns its range size (or fails when fail names it), gather records
// the dependency results it saw.
type batchScript struct {
	h       *harness
	outcome batch.Outcome
	fail    string
	// noBusy skips the parallelism probe (a query per worker).
	noBusy bool

	mu       sync.Mutex
	gathered map[string]json.RawMessage
	// workerDeps is what a worker last saw of its batchable ancestor.
	workerDeps json.RawMessage
	maxBusy    int
}

func (s *batchScript) run(cs store.ClaimedStep) outcome {
	switch {
	case cs.Step.Name == "split" || cs.Step.Name == "analyze_csv":
		return outcome{value: map[string]any{batch.ResultField: s.outcome}}
	case cs.Step.Name == "gather" || cs.Step.Name == "aggregate_csv_results":
		s.mu.Lock()
		s.gathered = cs.Dependencies
		s.mu.Unlock()
		return outcome{value: map[string]any{"workers": len(cs.Dependencies) - 1}}
	}
	w, ok, err := batch.ParseWorkerInputs(cs.Step.Inputs)
	if err != nil || !ok {
		return outcome{fail: true}
	}
	s.mu.Lock()
	for name, raw := range cs.Dependencies {
		if name == "split" || name == "analyze_csv" {
			s.workerDeps = raw
		}
	}
	s.mu.Unlock()
	if s.noBusy {
		return outcome{value: map[string]any{"batch_id": w.Cursor.BatchID}}
	}
	// How many workers of this batch hold a slot right now.
	var busy int
	require.NoError(s.h.t, s.h.pool.QueryRow(s.h.ctx, `SELECT count(*) FROM workflow_steps WHERE task_uuid = $1
		AND template_step_name <> name AND state IN ('enqueued', 'in_progress', 'enqueued_for_orchestration',
		'enqueued_as_error_for_orchestration', 'waiting_for_retry')`, cs.Task.UUID).Scan(&busy))
	s.mu.Lock()
	s.maxBusy = max(s.maxBusy, busy)
	s.mu.Unlock()
	if cs.Step.Name == s.fail {
		return outcome{fail: true}
	}
	return outcome{value: map[string]any{"batch_id": w.Cursor.BatchID, "items": w.End() - w.Start(), "no_op": w.IsNoOp}}
}

func (s *batchScript) seen() map[string]json.RawMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gathered
}

// TestBatchCreatesWorkersAndConvergence: the products CSV template's
// batchable result creates five workers named process_csv_batch_001..005
// with their cursor ranges and the aggregate step with an edge from each;
// the aggregate sees every worker's result; the task has seven steps and
// completes. A redelivered result creates nothing more.
func TestBatchCreatesWorkersAndConvergence(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tpl := h.fixture("rust/batch_processing_products_csv.yaml", false)
	s := &batchScript{h: h, outcome: batch.CreateBatches("process_csv_batch", batch.Plan(1000, 200, 5, 1), 1000)}
	h.drive(tpl.NamespaceName, s.run)
	task := h.create(tpl, `{"csv_file_path": "products.csv"}`)
	require.Len(t, h.steps(task.UUID), 1, "only analyze_csv exists at creation")
	h.waitState(task.UUID, state.TaskComplete)

	steps := h.steps(task.UUID)
	require.Len(t, steps, 7)
	for i := 1; i <= 5; i++ {
		name := fmt.Sprintf("process_csv_batch_%03d", i)
		st, ok := steps[name]
		require.True(t, ok, name)
		require.Equal(t, state.StepComplete, st.State)
		w, ok, err := batch.ParseWorkerInputs(st.Inputs)
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, int64((i-1)*200+1), w.Start())
		require.Equal(t, int64(i*200+1), w.End())
		require.Equal(t, "row_number", w.BatchMetadata.CursorField)
		require.Equal(t, template.FailureContinueOnFailure, w.BatchMetadata.FailureStrategy)
		require.Equal(t, "process_csv_batch", st.TemplateStepName)
		var init map[string]any
		require.NoError(t, json.Unmarshal(st.Inputs, &init))
		require.Equal(t, "inventory_analysis", init["operation"], "the template's initialization is kept")
		require.Equal(t, []string{"analyze_csv"}, st.Parents)
	}
	agg := steps["aggregate_csv_results"]
	require.Len(t, agg.Parents, 5, "an edge from every worker")
	require.Len(t, s.seen(), 6, "the aggregate sees every worker's result and analyze_csv's")
	require.LessOrEqual(t, s.maxBusy, 5)
	// A worker gets the batchable step's result without the cursor
	// configs (it has its own range); the rest of the outcome is there.
	s.mu.Lock()
	dep := string(s.workerDeps)
	s.mu.Unlock()
	require.Contains(t, dep, `"worker_count": 5`)
	require.NotContains(t, dep, "cursor_configs")
	require.Contains(t, string(s.seen()["analyze_csv"]), `"worker_count": 5`)

	// The batchable step's result message again: a duplicate, nothing new.
	b, err := json.Marshal(messaging.StepMessage{TaskUUID: task.UUID, StepUUID: steps["analyze_csv"].UUID})
	require.NoError(t, err)
	err = h.queue.Send(h.ctx, messaging.StepResultsQueue, 0, b)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		st, err := h.queue.Stats(h.ctx, messaging.StepResultsQueue)
		return err == nil && st.Depth == 0
	}, 10*time.Second, 10*time.Millisecond)
	require.Len(t, h.steps(task.UUID), 7)
}

// TestBatchParallelismBoundsRunningWorkers: twelve workers with
// parallelism 3 never have more than three busy at once, and all run.
func TestBatchParallelismBoundsRunningWorkers(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tpl := batchTemplate(t, h, "batch_par", 3, "fail_fast")
	s := &batchScript{h: h, outcome: batch.CreateBatches("work", batch.Plan(120, 10, 100, 0), 120)}
	h.drive(tpl.NamespaceName, s.run)
	task := h.create(tpl, `{}`)
	h.waitState(task.UUID, state.TaskComplete)
	require.Len(t, h.steps(task.UUID), 14)
	require.Equal(t, 3, s.maxBusy, "at most parallelism workers hold a slot")
	require.Len(t, s.seen(), 13)
}

// TestBatchNoBatchesCreatesPlaceholder: no_batches creates work_000 (a
// no-op with cursor 0..0) and the convergence step.
func TestBatchNoBatchesCreatesPlaceholder(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tpl := batchTemplate(t, h, "batch_none", 5, "fail_fast")
	s := &batchScript{h: h, outcome: batch.NoBatches()}
	h.drive(tpl.NamespaceName, s.run)
	task := h.create(tpl, `{}`)
	h.waitState(task.UUID, state.TaskComplete)
	steps := h.steps(task.UUID)
	require.Len(t, steps, 3)
	w, ok, err := batch.ParseWorkerInputs(steps["work_000"].Inputs)
	require.NoError(t, err)
	require.True(t, ok)
	require.True(t, w.IsNoOp)
	require.Equal(t, "000", w.Cursor.BatchID)
	require.Equal(t, []string{"work_000"}, steps["gather"].Parents)
}

// TestBatchBadOutcomeFailsTheStep: an outcome naming a step that is not a
// batch_worker fails the batchable step with the reason and creates
// nothing.
func TestBatchBadOutcomeFailsTheStep(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tpl := batchTemplate(t, h, "batch_bad", 5, "fail_fast")
	s := &batchScript{h: h, outcome: batch.CreateBatches("gather", batch.Plan(20, 10, 5, 0), 20)}
	h.drive(tpl.NamespaceName, s.run)
	task := h.create(tpl, `{}`)
	h.waitState(task.UUID, state.TaskError)
	steps := h.steps(task.UUID)
	require.Len(t, steps, 1)
	require.Equal(t, state.StepError, steps["split"].State)
	trans, err := h.store.StepTransitions(h.ctx, task.UUID, steps["split"].UUID)
	require.NoError(t, err)
	require.Contains(t, string(trans[len(trans)-1].Metadata), "is a deferred_convergence step, not a batch_worker")
}

// TestBatchFailureStrategies: four workers run one at a time (parallelism
// 1) and work_002 fails for good. Under continue_on_failure it completes,
// the convergence step sees its failed result and the task completes.
// Under fail_fast it ends in error, the workers after it never start and
// the convergence step never runs. Under isolate it ends in error while
// the other workers still run; the task then waits (error) for an
// operator: resolving work_002 runs the convergence step and completes
// the task.
func TestBatchFailureStrategies(t *testing.T) {
	t.Parallel()
	for _, strategy := range []string{"continue_on_failure", "fail_fast", "isolate"} {
		t.Run(strategy, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			tpl := batchTemplate(t, h, "batch_"+strings.ReplaceAll(strategy, "_", ""), 1, strategy)
			s := &batchScript{h: h, outcome: batch.CreateBatches("work", batch.Plan(40, 10, 10, 0), 40), fail: "work_002"}
			h.drive(tpl.NamespaceName, s.run)
			task := h.create(tpl, `{}`)
			switch strategy {
			case "continue_on_failure":
				h.waitState(task.UUID, state.TaskComplete)
				seen := s.seen()
				require.Len(t, seen, 5)
				var failed struct {
					Success bool `json:"success"`
				}
				require.NoError(t, json.Unmarshal(seen["work_002"], &failed))
				require.False(t, failed.Success, "the convergence step sees the failure")
				require.Equal(t, state.StepComplete, h.steps(task.UUID)["work_002"].State)
			case "fail_fast":
				h.waitState(task.UUID, state.TaskError)
				steps := h.steps(task.UUID)
				require.Equal(t, state.StepError, steps["work_002"].State)
				require.Equal(t, state.StepPending, steps["work_003"].State, "no further worker starts")
				require.Equal(t, state.StepPending, steps["work_004"].State)
				require.Equal(t, state.StepPending, steps["gather"].State)
				require.Nil(t, s.seen())
			case "isolate":
				h.waitState(task.UUID, state.TaskError)
				steps := h.steps(task.UUID)
				require.Equal(t, state.StepError, steps["work_002"].State)
				require.Equal(t, state.StepComplete, steps["work_003"].State, "the other workers still run")
				require.Equal(t, state.StepComplete, steps["work_004"].State)
				require.Equal(t, state.StepPending, steps["gather"].State)
				require.Nil(t, s.seen())
				_, err := h.core.ApplyStepAction(h.ctx, task.UUID, steps["work_002"].UUID,
					store.StepAction{Kind: store.ActionResolveManually, Reason: "bad rows set aside", By: "ops"})
				require.NoError(t, err)
				h.waitState(task.UUID, state.TaskComplete)
				require.Len(t, s.seen(), 5)
			}
		})
	}
}
