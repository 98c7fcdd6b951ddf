package store_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/messaging"
	"github.com/tasker-go/tasker/shared/state"
	"github.com/tasker-go/tasker/shared/store"
)

// completeAndProcess reports results through CompleteAndProcessSteps.
func (e *env) completeAndProcess(rs ...store.StepResult) store.CompleteOutcome {
	out, err := e.store.CompleteAndProcessSteps(e.ctx, rs, nil)
	require.NoError(e.t, err)
	return out
}

// completeAndProcessNext reports results through CompleteAndProcessSteps
// with a continuation.
func (e *env) completeAndProcessNext(next *store.Continuation, rs ...store.StepResult) store.CompleteOutcome {
	out, err := e.store.CompleteAndProcessSteps(e.ctx, rs, next)
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
	s1, s3 := e.ids["s1"], e.ids["s3"]
	for i, name := range []string{"s1", "s2", "s3", "s4"} {
		claimed := e.claimAll("w1")
		require.Equal(t, []string{name}, names(claimed.Claimed), "step %d", i)
		out := e.completeAndProcess(e.result("w1", claimed.Claimed[0], true, false))
		require.Equal(t, []uuid.UUID{claimed.Claimed[0].Step.UUID}, out.Recorded)
		require.Equal(t, out.Recorded, out.Processed)
		require.Equal(t, i > 0, out.Predicted, "step %d: the steps after the first complete on the graph the one before left", i)
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

	// A predicted completion (s3's) writes the rows the long way writes.
	rows, err = e.store.StepTransitions(e.ctx, ct.Task.UUID, s3)
	require.NoError(t, err)
	require.Len(t, rows, 4)
	require.Equal(t, "enqueued_for_orchestration", rows[2].ToState)
	var meta map[string]any
	require.NoError(t, json.Unmarshal(rows[2].Metadata, &meta))
	require.Equal(t, "w1", meta["worker_id"])
	require.Equal(t, ct.Task.CorrelationID.String(), meta["correlation_id"])
	require.Contains(t, meta, "execution_time_ms")
	require.JSONEq(t, `{"processed_by":"w1"}`, string(rows[3].Metadata))
	audit, err := e.store.StepAudit(e.ctx, ct.Task.UUID, s3)
	require.NoError(t, err)
	require.Len(t, audit, 1)
	require.True(t, audit[0].Success)
	require.Equal(t, "w1", audit[0].WorkerID)
	require.Equal(t, "enqueued_for_orchestration", audit[0].ToState)
	require.Equal(t, rows[2].UUID, audit[0].TransitionUUID, "the audit row points at the history row of the result")
	step, err := e.store.GetStep(e.ctx, ct.Task.UUID, s3)
	require.NoError(t, err)
	require.JSONEq(t, string(step.Results), string(audit[0].Result))
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
				_, err := e.store.CompleteAndProcessSteps(e.ctx, []store.StepResult{e.result("w", b, true, false)}, nil)
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

	t.Run("stale, the step already reported", func(t *testing.T) {
		e := newEnv(t)
		e.register("ns", "one", one)
		ct := e.createTask(one, `{}`)
		r := e.result("w", e.claimAll("w").Claimed[0], true, false)
		_, err := e.store.CompleteSteps(e.ctx, []store.StepResult{r})
		require.NoError(t, err)
		out := e.completeAndProcess(r) // the same result again: a retried write
		require.Empty(t, out.Recorded)
		require.Empty(t, out.Processed, "a step this transaction did not record is left to its result message")
		require.Equal(t, state.StepEnqueuedForOrchestration, e.stepState(ct.Task.UUID, "only").State)
		require.EqualValues(t, 1, e.resultDepth())
	})
}

// TestContinuationClaimsTheNextStep runs a linear task on one worker that
// claims, with each success, the step it made ready: the step comes back
// hydrated (its task's context, its ancestors' results), its message is
// written already claimed (hidden, one delivery) and acked when the step
// completes, and the task completes without any claim through the queue.
func TestContinuationClaimsTheNextStep(t *testing.T) {
	e := newEnv(t)
	e.register("lin", "linear", linear)
	ct := e.createTask(linear, `{"n":1}`)
	queue := messaging.WorkerQueue("lin")
	next := &store.Continuation{Claimer: store.Claimer{ID: "w1"}, Queues: []string{queue}, Max: 1, Visibility: 30 * time.Second}
	cs := e.claimAll("w1").Claimed[0]
	for i, name := range []string{"s2", "s3", "s4"} {
		out := e.completeAndProcessNext(next, e.result("w1", cs, true, false))
		require.Equal(t, i > 0, out.Predicted, "the completion after the first plans on the graph the one before left")
		require.Len(t, out.Claimed, 1, name)
		cs = out.Claimed[0]
		require.Equal(t, name, cs.Step.Name)
		require.Equal(t, state.StepInProgress, cs.Step.State)
		require.Equal(t, 1, cs.Step.Attempts)
		require.Equal(t, "w1", cs.Step.ClaimedBy)
		require.JSONEq(t, `{"n":1}`, string(cs.Task.Context))
		require.Len(t, cs.Dependencies, i+1, "every completed ancestor is hydrated")
		require.NotZero(t, cs.MessageID)
		require.Equal(t, 1, cs.ReadCount)
		require.WithinDuration(t, time.Now().Add(30*time.Second), cs.Deadline, 10*time.Second)
		st, err := e.queue.Stats(e.ctx, queue)
		require.NoError(t, err)
		require.EqualValues(t, 1, st.Depth, "the claimed step's message exists")
		require.Empty(t, e.claimAll("w2").Claimed, "and is hidden from other workers")
	}
	out := e.completeAndProcessNext(next, e.result("w1", cs, true, false))
	require.True(t, out.Predicted)
	require.Empty(t, out.Claimed)
	require.Equal(t, state.TaskComplete, e.task(ct.Task.UUID).State)
	st, err := e.queue.Stats(e.ctx, queue)
	require.NoError(t, err)
	require.Zero(t, st.Depth, "every message was acked")
	require.Zero(t, e.resultDepth())
	rows, err := e.store.StepTransitions(e.ctx, ct.Task.UUID, e.ids["s2"])
	require.NoError(t, err)
	var path []string
	for _, r := range rows {
		path = append(path, r.ToState)
	}
	require.Equal(t, []string{"enqueued", "in_progress", "enqueued_for_orchestration", "complete"}, path)
}

// TestContinuationTakesOnlyWhatTheWorkerRuns: the steps a worker cannot
// run (another callable, another namespace's queue, beyond Max) are
// enqueued for the claim loops as usual.
func TestContinuationTakesOnlyWhatTheWorkerRuns(t *testing.T) {
	fan := []stepSpec{{name: "root"}, {name: "a", deps: []string{"root"}}, {name: "b", deps: []string{"root"}},
		{name: "c", deps: []string{"root"}}}
	cases := map[string]struct {
		next  func(q string) *store.Continuation
		taken int
	}{
		"callables": {next: func(q string) *store.Continuation {
			return &store.Continuation{Claimer: store.Claimer{ID: "w", Callables: []string{"h.a", "h.c"}}, Queues: []string{q}, Max: 10,
				Visibility: time.Minute}
		}, taken: 2},
		"max": {next: func(q string) *store.Continuation {
			return &store.Continuation{Claimer: store.Claimer{ID: "w"}, Queues: []string{q}, Max: 1, Visibility: time.Minute}
		}, taken: 1},
		"other queue": {next: func(string) *store.Continuation {
			return &store.Continuation{Claimer: store.Claimer{ID: "w"}, Queues: []string{"worker_other_queue"}, Max: 10, Visibility: time.Minute}
		}, taken: 0},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			e.register("fan", "fan", fan)
			e.createTask(fan, `{}`)
			q := messaging.WorkerQueue("fan")
			out := e.completeAndProcessNext(c.next(q), e.result("w", e.claimAll("w").Claimed[0], true, false))
			require.Len(t, out.Claimed, c.taken)
			for _, cs := range out.Claimed {
				if name == "callables" {
					require.Contains(t, []string{"a", "c"}, cs.Step.Name)
				}
			}
			require.Len(t, e.claimAll("w2").Claimed, 3-c.taken, "the rest is enqueued")
		})
	}
}
