package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/config"
	"github.com/tasker-go/tasker/shared/state"
	"github.com/tasker-go/tasker/shared/stepresult"
	"github.com/tasker-go/tasker/shared/store"
	"github.com/tasker-go/tasker/shared/template"
)

// TestCompletionBatching: a lone result is written at once; results that
// arrive while that write is in flight share the next transaction.
func TestCompletionBatching(t *testing.T) {
	h := newHarness(t)
	tpl := parseTemplate(t, `name: single
namespace_name: group_ns
version: "1"
steps: [{name: only, handler: {callable: group.only}}]
`)
	h.register(tpl)
	const n = 10
	tasks := make([]task, n)
	for i := range tasks {
		tasks[i] = h.createTask(tpl, fmt.Sprintf(`{"i": %d}`, i))
	}
	reg := NewRegistry()
	handle(t, reg, "group.only", func(_ context.Context, s *Step[json.RawMessage]) (json.RawMessage, error) {
		return s.Input, nil
	})
	gate := make(chan struct{})
	var spy *spyStore
	c := h.newCore(coreSpec{templates: []*template.Template{tpl}, registry: reg,
		config: func(w *config.Worker) { w.Handlers.MaxConcurrent = 1 },
		before: func(c *Core) { spy = spyOn(c, gate) }})
	h.waitFor("the other results to queue behind the first write", func() bool { return c.completer.waiting() == n-1 })
	close(gate)
	h.waitFor("all results", func() bool { return c.Stats().Recorded == n })
	_, completes := spy.calls()
	require.Equal(t, []int{1, n - 1}, completes)
	require.EqualValues(t, 2, c.Stats().CompletionBatches)
	// The audit rows show two transactions (rows written by one transaction
	// share its xmin).
	var txs int
	require.NoError(t, h.pool.QueryRow(h.ctx,
		`SELECT count(DISTINCT xmin::text) FROM workflow_step_result_audit`).Scan(&txs))
	require.Equal(t, 2, txs)
	for _, tk := range tasks {
		require.Equal(t, state.StepEnqueuedForOrchestration, h.step(tk, "only").State)
	}
}

// failingStore fails CompleteSteps while fail says so.
type failingStore struct {
	stepStore
	calls atomic.Int64
	fail  func(call int64, rs []store.StepResult) bool
}

func (s *failingStore) CompleteSteps(ctx context.Context, rs []store.StepResult) (store.CompleteOutcome, error) {
	if s.fail(s.calls.Add(1), rs) {
		return store.CompleteOutcome{}, errors.New("simulated database failure")
	}
	return s.stepStore.CompleteSteps(ctx, rs)
}

func (s *failingStore) CompleteAndProcessSteps(ctx context.Context, rs []store.StepResult, next *store.Continuation) (store.CompleteOutcome, error) {
	if s.fail(s.calls.Add(1), rs) {
		return store.CompleteOutcome{}, errors.New("simulated database failure")
	}
	return s.stepStore.CompleteAndProcessSteps(ctx, rs, next)
}

// TestCompletionRetriesAndIsolatesUnstorableResults: failed commits are
// retried; a result the database keeps rejecting is split from the others
// and finally replaced by a failure result, so every step gets a result.
func TestCompletionRetriesAndIsolatesUnstorableResults(t *testing.T) {
	h := newHarness(t)
	tpl := parseTemplate(t, `name: retry_commit
namespace_name: commit_ns
version: "1"
steps:
  - {name: good1, handler: {callable: commit.ok}}
  - {name: good2, handler: {callable: commit.ok}}
  - {name: poison, handler: {callable: commit.ok}}
`)
	h.register(tpl)
	tk := h.createTask(tpl, `{}`)
	reg := NewRegistry()
	handle(t, reg, "commit.ok", noop)
	poison := tk.steps["poison"]
	c := h.newCore(coreSpec{templates: []*template.Template{tpl}, registry: reg, before: func(c *Core) {
		c.store = &failingStore{stepStore: c.store, fail: func(call int64, rs []store.StepResult) bool {
			if call <= 2 {
				return true // an outage: everything fails at first
			}
			for _, r := range rs {
				if r.StepUUID == poison && r.Success {
					return true // this one result is never accepted
				}
			}
			return false
		}}
	}})
	h.waitFor("every step to have a result", func() bool { return c.Stats().Recorded == 3 })
	require.Equal(t, state.StepEnqueuedForOrchestration, h.step(tk, "good1").State)
	require.Equal(t, state.StepEnqueuedForOrchestration, h.step(tk, "good2").State)
	bad := h.step(tk, "poison")
	require.Equal(t, state.StepEnqueuedAsErrorForOrchestration, bad.State)
	res := stepresult.Parse(bad.Results)
	require.Equal(t, stepresult.ErrorTypeInvalidResult, res.Error.ErrorType)
	require.Contains(t, res.Error.Message, "simulated database failure")
}
