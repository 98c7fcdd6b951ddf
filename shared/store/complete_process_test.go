package store_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/messaging"
	"github.com/tasker-go/tasker/shared/state"
	"github.com/tasker-go/tasker/shared/store"
)

// completeAndProcess reports results through CompleteAndProcessSteps.
func (e *env) completeAndProcess(rs ...store.StepResult) store.CompleteOutcome {
	out, err := e.store.CompleteAndProcessSteps(e.ctx, rs)
	require.NoError(e.t, err)
	return out
}

// resultDepth is the number of result messages waiting for orchestration.
func (e *env) resultDepth() int64 {
	st, err := e.queue.Stats(e.ctx, messaging.StepResultsQueue)
	require.NoError(e.t, err)
	return st.Depth
}

// stepHistory is a task's step history as "name:from>to:event" lines, in
// order.
func (e *env) stepHistory(task uuid.UUID) []string {
	rows, err := e.store.StepTransitions(e.ctx, task, uuid.Nil)
	require.NoError(e.t, err)
	out := make([]string, 0, len(rows))
	for _, r := range rows {
		from := ""
		if r.FromState != nil {
			from = *r.FromState
		}
		out = append(out, fmt.Sprintf("%s:%s>%s:%s", r.StepName, from, r.ToState, r.Event))
	}
	return out
}

// TestCompleteAndProcessRunsALinearTask runs a linear task with every
// result processed by the worker's transaction: no result message is sent,
// each completion enqueues the next step, the last one finishes the task,
// and the step and task histories are the ones orchestration's processing
// writes.
func TestCompleteAndProcessRunsALinearTask(t *testing.T) {
	e := newEnv(t)
	e.register("lin", "linear", linear)
	ct := e.createTask(linear, `{}`)
	s1 := e.ids["s1"]
	for i, name := range []string{"s1", "s2", "s3", "s4"} {
		claimed := e.claimAll("w1")
		require.Equal(t, []string{name}, names(claimed.Claimed), "step %d", i)
		out := e.completeAndProcess(e.result("w1", claimed.Claimed[0], true, false))
		require.Equal(t, []uuid.UUID{claimed.Claimed[0].Step.UUID}, out.Recorded)
		require.Equal(t, out.Recorded, out.Processed)
		require.Zero(t, e.resultDepth(), "a processed result sends no message")
		require.Equal(t, state.StepComplete, e.stepState(ct.Task.UUID, name).State)
		require.Len(t, out.Tasks, 1)
		if name == "s4" {
			require.Equal(t, state.TaskComplete, out.Tasks[0].To)
		} else {
			require.Equal(t, 1, out.Tasks[0].EnqueuedSteps)
		}
	}
	task := e.task(ct.Task.UUID)
	require.Equal(t, state.TaskComplete, task.State)
	require.NotNil(t, task.CompletedAt)
	st, err := e.queue.Stats(e.ctx, messaging.WorkerQueue("lin"))
	require.NoError(t, err)
	require.Zero(t, st.Depth, "step messages are deleted on completion")

	// The same task through result messages and orchestration's
	// processing leaves the same histories.
	ref := e.createTask(linear, `{}`)
	for range linear {
		e.complete("w1", e.claimAll("w1").Claimed[0], true, false)
		e.process()
	}
	require.Equal(t, e.taskHistory(ref.Task.UUID), e.taskHistory(ct.Task.UUID))
	require.Equal(t, e.stepHistory(ref.Task.UUID), e.stepHistory(ct.Task.UUID))

	rows, err := e.store.StepTransitions(e.ctx, ct.Task.UUID, s1)
	require.NoError(t, err)
	last := rows[len(rows)-1]
	require.Equal(t, "complete", last.ToState)
	require.JSONEq(t, `{"processed_by":"w1"}`, string(last.Metadata), "the history names who processed the result")
}

// TestCompleteAndProcessJoinsOnce completes the two branches of a diamond
// in two concurrent transactions, many times: whichever way the task lock
// falls (both processed in turn, or one left to orchestration), the join
// step is enqueued exactly once.
func TestCompleteAndProcessJoinsOnce(t *testing.T) {
	e := newEnv(t)
	e.register("dia", "diamond", diamond)
	for range 10 {
		ct := e.createTask(diamond, `{}`)
		e.completeAndProcess(e.result("w", e.claimAll("w").Claimed[0], true, false))
		branches := e.claimAll("w").Claimed
		require.ElementsMatch(t, []string{"b", "c"}, names(branches))
		errs := make(chan error, 2)
		for _, b := range branches {
			go func() {
				_, err := e.store.CompleteAndProcessSteps(e.ctx, []store.StepResult{e.result("w", b, true, false)})
				errs <- err
			}()
		}
		require.NoError(t, <-errs)
		require.NoError(t, <-errs)
		e.process() // a branch whose task lock was taken went to orchestration
		end := e.claimAll("w").Claimed
		require.Equal(t, []string{"end"}, names(end))
		require.Len(t, end[0].Dependencies, 3)
		e.completeAndProcess(e.result("w", end[0], true, false))
		require.Equal(t, state.TaskComplete, e.task(ct.Task.UUID).State)
		require.Empty(t, e.claimAll("w").Claimed, "the join was enqueued once")
	}
}

// TestCompleteAndProcessLeavesTheRestToOrchestration: failures, results of
// tasks whose lock another transaction holds, traced tasks, results that
// publish domain events and decision points are recorded and sent to
// orchestration as before; stale results are neither recorded nor sent.
func TestCompleteAndProcessLeavesTheRestToOrchestration(t *testing.T) {
	one := []stepSpec{{name: "only", retryable: true, maxAttempts: 3}}
	cases := map[string]struct {
		specs   []stepSpec
		prepare func(e *env, task uuid.UUID) func()
		result  func(e *env, cs store.ClaimedStep) store.StepResult
	}{
		"failure": {specs: one, result: func(e *env, cs store.ClaimedStep) store.StepResult {
			return e.result("w", cs, false, true)
		}},
		"task locked elsewhere": {specs: one, prepare: func(e *env, task uuid.UUID) func() {
			tx, err := e.db.Pool(e.t, 1).Begin(e.ctx)
			require.NoError(e.t, err)
			_, err = tx.Exec(e.ctx, `SELECT 1 FROM tasks WHERE task_uuid = $1 FOR UPDATE`, task)
			require.NoError(e.t, err)
			return func() { require.NoError(e.t, tx.Rollback(e.ctx)) }
		}},
		"traced task": {specs: one, prepare: func(e *env, task uuid.UUID) func() {
			_, err := e.db.Pool(e.t, 1).Exec(e.ctx, `UPDATE tasks SET trace_parent = $2 WHERE task_uuid = $1`, task,
				"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
			require.NoError(e.t, err)
			return func() {}
		}},
		"domain events": {specs: one, result: func(e *env, cs store.ClaimedStep) store.StepResult {
			r := e.result("w", cs, true, false)
			var m map[string]any
			require.NoError(e.t, json.Unmarshal(r.Result, &m))
			m["domain_events"] = []any{map[string]any{"event_id": uuid.NewString(), "name": "x.done", "condition": "success"}}
			r.Result, _ = json.Marshal(m)
			return r
		}},
		"decision point": {specs: []stepSpec{{name: "only", stepType: "decision"}}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			e.register("ns", "one", c.specs)
			ct := e.createTask(c.specs, `{}`)
			cs := e.claimAll("w").Claimed[0]
			done := func() {}
			if c.prepare != nil {
				done = c.prepare(e, ct.Task.UUID)
			}
			r := e.result("w", cs, true, false)
			if c.result != nil {
				r = c.result(e, cs)
			}
			out := e.completeAndProcess(r)
			done()
			require.Equal(t, []uuid.UUID{cs.Step.UUID}, out.Recorded)
			require.Empty(t, out.Processed)
			require.Empty(t, out.Tasks)
			require.EqualValues(t, 1, e.resultDepth(), "the result goes to orchestration")
			require.Contains(t, []state.StepState{state.StepEnqueuedForOrchestration, state.StepEnqueuedAsErrorForOrchestration},
				e.stepState(ct.Task.UUID, "only").State)
			n := 0
			for _, k := range e.process().Steps {
				n += k
			}
			require.Equal(t, 1, n, "orchestration processes the result")
		})
	}

	t.Run("stale", func(t *testing.T) {
		e := newEnv(t)
		e.register("ns", "one", one)
		ct := e.createTask(one, `{}`)
		cs := e.claimAll("w").Claimed[0]
		r := e.result("other-worker", cs, true, false)
		out := e.completeAndProcess(r)
		require.Empty(t, out.Recorded)
		require.Equal(t, []uuid.UUID{cs.Step.UUID}, out.Stale)
		require.Empty(t, out.Processed)
		require.Zero(t, e.resultDepth())
		require.Equal(t, state.StepInProgress, e.stepState(ct.Task.UUID, "only").State)
	})
}
