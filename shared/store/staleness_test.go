package store_test

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/state"
	"github.com/tasker-go/tasker/shared/store"
)

// hourThresholds flags tasks an hour in a waiting state or a day old.
var hourThresholds = store.StalenessThresholds{WaitingForDependencies: time.Hour, WaitingForRetry: time.Hour,
	StepsInProcess: time.Hour, MaxLifetime: 24 * time.Hour}

// staleIDs runs the detector's query and returns the flagged tasks.
func (e *env) staleIDs() []uuid.UUID {
	stale, err := e.store.TasksPastStaleness(e.ctx, hourThresholds, 100)
	require.NoError(e.t, err)
	var out []uuid.UUID
	for _, st := range stale {
		out = append(out, st.TaskUUID)
	}
	return out
}

// exec runs a statement that sets up a test's scene.
func (e *env) exec(sql string, args ...any) {
	_, err := e.store.Pool().Exec(e.ctx, sql, args...)
	require.NoError(e.t, err)
}

// TestStaleTasksSkipLiveWork: a task long in its state is not stale while a
// step runs under a claim its worker keeps alive, or waits for a retry whose
// time has not come; it is once the claim lapses or the retry time passes,
// and it always is past its maximum lifetime.
func TestStaleTasksSkipLiveWork(t *testing.T) {
	e := newEnv(t)
	specs := []stepSpec{{name: "only", retryable: true, maxAttempts: 3}}
	e.register("live", "live", specs)

	running := e.createTask(specs, `{}`).Task.UUID
	require.Len(t, e.claimAll("w").Claimed, 1)
	e.exec(`UPDATE tasks SET state_changed_at = now() - interval '2 hours' WHERE task_uuid = $1`, running)
	require.NotContains(t, e.staleIDs(), running, "its step runs under a live claim")
	e.exec(`UPDATE workflow_steps SET claim_deadline = now() - interval '1 second' WHERE task_uuid = $1`, running)
	require.Contains(t, e.staleIDs(), running, "the claim lapsed: nothing shows the work is alive")

	old := e.createTask(specs, `{}`).Task.UUID
	require.Len(t, e.claimAll("w").Claimed, 1)
	e.exec(`UPDATE tasks SET created_at = now() - interval '25 hours' WHERE task_uuid = $1`, old)
	require.Contains(t, e.staleIDs(), old, "past its lifetime a task is stale whatever runs")

	retrying := e.createTask(specs, `{}`).Task.UUID
	claimed := e.claimAll("w").Claimed
	require.Len(t, claimed, 1)
	e.complete("w", claimed[0], false, true)
	e.process()
	require.Equal(t, state.TaskWaitingForRetry, e.task(retrying).State)
	e.exec(`UPDATE tasks SET state_changed_at = now() - interval '2 hours' WHERE task_uuid = $1`, retrying)
	e.exec(`UPDATE workflow_steps SET next_retry_at = now() + interval '10 minutes' WHERE task_uuid = $1`, retrying)
	require.NotContains(t, e.staleIDs(), retrying, "its retry is scheduled")
	e.exec(`UPDATE workflow_steps SET next_retry_at = now() - interval '10 minutes' WHERE task_uuid = $1`, retrying)
	require.Contains(t, e.staleIDs(), retrying, "its retry time passed and nothing ran it")
}

// TestStaleTaskFailsUnfinishedStepsForReset: a task whose running step's
// worker stopped heartbeating goes stale. Its unfinished steps go to error
// with it, so the worker's late result is dropped, and an operator can reset
// them: the task then runs to completion. The DLQ entry stays open until the
// operator resolves it.
func TestStaleTaskFailsUnfinishedStepsForReset(t *testing.T) {
	e := newEnv(t)
	specs := []stepSpec{{name: "first", retryable: true}, {name: "second", deps: []string{"first"}, retryable: true}}
	e.register("reset", "reset", specs)
	taskID := e.createTask(specs, `{}`).Task.UUID
	late := e.claimAll("w1").Claimed[0]
	e.exec(`UPDATE tasks SET state_changed_at = now() - interval '2 hours'`)
	e.exec(`UPDATE workflow_steps SET claim_deadline = now() - interval '1 second' WHERE state = 'in_progress'`)
	stale, err := e.store.TasksPastStaleness(e.ctx, hourThresholds, 10)
	require.NoError(t, err)
	require.Len(t, stale, 1)
	done, err := e.store.HandleStaleTask(e.ctx, stale[0], store.StaleAction{DLQ: true, Fail: true})
	require.NoError(t, err)
	require.True(t, done)

	require.Equal(t, state.TaskError, e.task(taskID).State)
	for _, n := range []string{"first", "second"} {
		st := e.stepState(taskID, n)
		require.Equal(t, state.StepError, st.State, n)
		require.Empty(t, st.ClaimedBy, n)
		require.Nil(t, st.ClaimDeadline, n)
		require.False(t, st.InProcess, n)
	}
	hist, err := e.store.StepTransitions(e.ctx, taskID, e.ids["first"])
	require.NoError(t, err)
	last := hist[len(hist)-1]
	require.Equal(t, "in_progress", *last.FromState)
	require.Equal(t, "error", last.ToState)
	require.Equal(t, string(state.StepEventStalenessTimeout), last.Event)
	var meta map[string]any
	require.NoError(t, json.Unmarshal(last.Metadata, &meta))
	require.Equal(t, "task_staleness_timeout", meta["reason"])
	require.Equal(t, "steps_in_process", meta["task_state"])

	// The worker that was running first reports late: dropped.
	out := e.complete("w1", late, true, false)
	require.Equal(t, []uuid.UUID{e.ids["first"]}, out.Stale)
	require.Empty(t, out.Recorded)
	require.Equal(t, 1, e.process().Duplicate)
	require.Equal(t, state.StepError, e.stepState(taskID, "first").State)
	require.Empty(t, e.claimAll("w2").Claimed)

	// The operator resets the steps; the last reset re-opens the task.
	_, outcomes, err := e.store.ApplyStepAction(e.ctx, taskID, e.ids["first"],
		store.StepAction{Kind: store.ActionResetForRetry, By: "ops", Reason: "worker restarted"})
	require.NoError(t, err)
	require.Empty(t, outcomes, "second is still in error: the task stays in error")
	_, outcomes, err = e.store.ApplyStepAction(e.ctx, taskID, e.ids["second"],
		store.StepAction{Kind: store.ActionResetForRetry, By: "ops"})
	require.NoError(t, err)
	require.Len(t, outcomes, 1)
	require.Equal(t, state.TaskStepsInProcess, outcomes[0].To)
	for i, n := range []string{"first", "second"} {
		claimed := e.claimAll("w2").Claimed
		require.Equal(t, []string{n}, names(claimed), "step %d", i)
		require.Equal(t, 1, claimed[0].Step.Attempts)
		require.Len(t, e.complete("w2", claimed[0], true, false).Recorded, 1)
		e.process()
	}
	require.Equal(t, state.TaskComplete, e.task(taskID).State)
	hs := e.taskHistory(taskID)
	require.True(t, slices.Contains(hs, "error"))
	require.Equal(t, "complete", hs[len(hs)-1])

	// The investigation stays open until the operator closes it.
	entry, err := e.store.DLQForTask(e.ctx, taskID)
	require.NoError(t, err)
	require.Equal(t, "pending", entry.ResolutionStatus)
	resolved, notes := "manually_resolved", "reset after worker restart"
	upd, err := e.store.UpdateDLQ(e.ctx, entry.UUID, store.DLQUpdate{ResolutionStatus: &resolved, ResolutionNotes: &notes})
	require.NoError(t, err)
	require.Equal(t, "manually_resolved", upd.ResolutionStatus)
	require.NotNil(t, upd.ResolutionTimestamp)
}

// TestStaleTaskFailsEveryUnfinishedState: whatever state an unfinished step
// is in, failing its stale task moves it to error; finished steps stay.
func TestStaleTaskFailsEveryUnfinishedState(t *testing.T) {
	e := newEnv(t)
	unfinished := []state.StepState{state.StepPending, state.StepEnqueued, state.StepInProgress,
		state.StepWaitingForRetry, state.StepEnqueuedForOrchestration, state.StepEnqueuedAsErrorForOrchestration}
	var specs []stepSpec
	for _, s := range unfinished {
		specs = append(specs, stepSpec{name: string(s), retryable: true})
	}
	specs = append(specs, stepSpec{name: "complete", retryable: true}, stepSpec{name: "cancelled", retryable: true})
	e.register("every", "every", specs)
	taskID := e.createTask(specs, `{}`).Task.UUID
	for _, sp := range specs {
		e.exec(`UPDATE workflow_steps SET state = $2 WHERE workflow_step_uuid = $1`, e.ids[sp.name], sp.name)
	}
	task := e.task(taskID)
	done, err := e.store.HandleStaleTask(e.ctx, store.StaleTask{TaskUUID: taskID, State: task.State},
		store.StaleAction{Fail: true})
	require.NoError(t, err)
	require.True(t, done)
	for _, s := range unfinished {
		require.Equal(t, state.StepError, e.stepState(taskID, string(s)).State, s)
	}
	require.Equal(t, state.StepComplete, e.stepState(taskID, "complete").State)
	require.Equal(t, state.StepCancelled, e.stepState(taskID, "cancelled").State)
}

// TestLifetimeRestartsWhenOperatorReopens: a task past its maximum lifetime
// is failed (action "error": no DLQ entry to hold the detector back); an
// operator resets its step and the task runs again. It is not flagged
// again at once: its lifetime counts from the re-opening, and only once
// that is a lifetime ago is it stale again.
func TestLifetimeRestartsWhenOperatorReopens(t *testing.T) {
	e := newEnv(t)
	specs := []stepSpec{{name: "only", retryable: true, maxAttempts: 3}}
	e.register("old", "old", specs)
	taskID := e.createTask(specs, `{}`).Task.UUID
	require.Len(t, e.claimAll("w").Claimed, 1)
	e.exec(`UPDATE tasks SET created_at = now() - interval '25 hours' WHERE task_uuid = $1`, taskID)
	stale, err := e.store.TasksPastStaleness(e.ctx, hourThresholds, 10)
	require.NoError(t, err)
	require.Len(t, stale, 1)
	done, err := e.store.HandleStaleTask(e.ctx, stale[0], store.StaleAction{Fail: true})
	require.NoError(t, err)
	require.True(t, done)
	require.Equal(t, state.TaskError, e.task(taskID).State)

	_, outcomes, err := e.store.ApplyStepAction(e.ctx, taskID, e.ids["only"],
		store.StepAction{Kind: store.ActionResetForRetry, By: "ops", Reason: "re-drive an old task"})
	require.NoError(t, err)
	require.Len(t, outcomes, 1, "the reset re-opens the task")
	require.NotContains(t, e.staleIDs(), taskID, "its lifetime counts from the re-opening")

	e.exec(`UPDATE task_transitions SET created_at = now() - interval '25 hours'
		WHERE task_uuid = $1 AND from_state = 'error'`, taskID)
	require.Contains(t, e.staleIDs(), taskID, "a lifetime after the re-opening it is stale again")
}

// TestStaleTasksCarryTheTemplatesAction: the template's lifecycle action and
// auto flags come with each stale task (only booleans count as flags), so
// the detector can act per template.
func TestStaleTasksCarryTheTemplatesAction(t *testing.T) {
	e := newEnv(t)
	specs := []stepSpec{{name: "only", retryable: true, maxAttempts: 3}}
	e.register("act", "act", specs)
	e.exec(`UPDATE named_tasks SET configuration = configuration || '{"lifecycle": {"staleness_action": "none",
		"auto_dlq_on_timeout": true, "auto_fail_on_timeout": "yes"}}'`)
	taskID := e.createTask(specs, `{}`).Task.UUID
	e.exec(`UPDATE tasks SET created_at = now() - interval '25 hours' WHERE task_uuid = $1`, taskID)
	stale, err := e.store.TasksPastStaleness(e.ctx, hourThresholds, 10)
	require.NoError(t, err)
	require.Len(t, stale, 1)
	require.Equal(t, "none", stale[0].StalenessAction)
	require.NotNil(t, stale[0].AutoDLQ)
	require.True(t, *stale[0].AutoDLQ)
	require.Nil(t, stale[0].AutoFail, "not a boolean: ignored")

	e.exec(`UPDATE named_tasks SET configuration = configuration - 'lifecycle'`)
	stale, err = e.store.TasksPastStaleness(e.ctx, hourThresholds, 10)
	require.NoError(t, err)
	require.Len(t, stale, 1)
	require.Empty(t, stale[0].StalenessAction)
	require.Nil(t, stale[0].AutoDLQ)
}
