package store_test

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/messaging"
	"github.com/tasker-go/tasker/shared/state"
	"github.com/tasker-go/tasker/shared/store"
)

func TestCancelTask(t *testing.T) {
	e := newEnv(t)
	e.register("can", "can", linear)
	ct := e.createTask(linear, `{}`)
	cs := e.claimAll("w").Claimed[0]
	task, err := e.store.CancelTask(e.ctx, ct.Task.UUID, "operator said so")
	require.NoError(t, err)
	require.Equal(t, state.TaskCancelled, task.State)
	for _, n := range []string{"s1", "s2", "s3", "s4"} {
		require.Equal(t, state.StepCancelled, e.stepState(ct.Task.UUID, n).State)
	}
	// The running worker's result is stale.
	require.Len(t, e.complete("w", cs, true, false).Stale, 1)
	_, err = e.store.CancelTask(e.ctx, ct.Task.UUID, "again")
	require.ErrorIs(t, err, store.ErrInvalidState)
	_, err = e.store.CancelTask(e.ctx, uuid.New(), "")
	require.ErrorIs(t, err, store.ErrNotFound)
}

func TestResetStepRedrivesErroredTask(t *testing.T) {
	e := newEnv(t)
	e.register("reset", "reset", linear)
	ct := e.createTask(linear, `{}`)
	e.complete("w", e.claimAll("w").Claimed[0], false, false)
	e.process()
	require.Equal(t, state.TaskError, e.task(ct.Task.UUID).State)
	_, _, err := e.store.ApplyStepAction(e.ctx, ct.Task.UUID, e.ids["s2"], store.StepAction{Kind: store.ActionResetForRetry})
	require.ErrorIs(t, err, store.ErrInvalidState, "only a step in error can be reset")
	sr, outcomes, err := e.store.ApplyStepAction(e.ctx, ct.Task.UUID, e.ids["s1"],
		store.StepAction{Kind: store.ActionResetForRetry, Reason: "fixed upstream", By: "ops"})
	require.NoError(t, err)
	require.Equal(t, 0, sr.Attempts)
	require.Len(t, outcomes, 1)
	require.Equal(t, state.TaskStepsInProcess, outcomes[0].To, "the task is re-driven at once")
	claimed := e.claimAll("w").Claimed
	require.Equal(t, []string{"s1"}, names(claimed))
	require.Equal(t, 1, claimed[0].Step.Attempts)
}

func TestResolveAndCompleteManually(t *testing.T) {
	e := newEnv(t)
	e.register("manual", "manual", linear)
	ct := e.createTask(linear, `{}`)
	e.complete("w", e.claimAll("w").Claimed[0], false, false)
	e.process()
	_, _, err := e.store.ApplyStepAction(e.ctx, ct.Task.UUID, e.ids["s1"], store.StepAction{Kind: store.ActionResolveManually, By: "ops"})
	require.NoError(t, err)
	s2 := e.claimAll("w").Claimed
	require.Equal(t, []string{"s2"}, names(s2), "a manually resolved step satisfies its dependents")
	_, _, err = e.store.ApplyStepAction(e.ctx, ct.Task.UUID, e.ids["s2"], store.StepAction{
		Kind: store.ActionCompleteManually, Result: json.RawMessage(`{"success":true,"result":{"v":1},"status":"completed"}`)})
	require.NoError(t, err)
	s3 := e.claimAll("w").Claimed
	require.Equal(t, []string{"s3"}, names(s3))
	dep, ok := s3[0].Dependencies["s2"]
	require.True(t, ok)
	require.JSONEq(t, `{"success":true,"result":{"v":1},"status":"completed"}`, string(dep))
	_, _, err = e.store.ApplyStepAction(e.ctx, ct.Task.UUID, e.ids["s3"], store.StepAction{Kind: "explode"})
	require.ErrorIs(t, err, store.ErrInvalidInput)
}

func TestStalledStepsAreNudged(t *testing.T) {
	e := newEnv(t)
	e.register("nudge", "nudge", linear)
	ct := e.createTask(linear, `{}`)
	q := messaging.WorkerQueue("nudge")
	// Lose the message.
	msgs, err := e.queue.Claim(e.ctx, q, messaging.ClaimOptions{N: 10, Visibility: time.Hour})
	require.NoError(t, err)
	require.NoError(t, e.queue.Ack(e.ctx, q, messaging.Receipt{ID: msgs[0].ID}))
	// Long enqueued; a window of seconds keeps the test immune to a slow
	// machine between the nudge and the second look.
	e.exec(`UPDATE workflow_steps SET state_changed_at = now() - interval '1 hour'`)
	stalled, err := e.store.OverdueSteps(e.ctx, 10*time.Second, 10)
	require.NoError(t, err)
	require.Len(t, stalled, 1)
	require.Equal(t, state.StepEnqueued, stalled[0].State)
	sent, err := e.store.NudgeSteps(e.ctx, stalled)
	require.NoError(t, err)
	require.Equal(t, 1, sent)
	again, err := e.store.OverdueSteps(e.ctx, 10*time.Second, 10)
	require.NoError(t, err)
	require.Empty(t, again, "a nudged step is not nudged again at once")
	claimed := e.claimAll("w").Claimed
	require.Equal(t, []string{"s1"}, names(claimed))
	_ = ct
}

func TestStuckTasksAreReevaluated(t *testing.T) {
	e := newEnv(t)
	e.register("stuck", "stuck", linear)
	ct := e.createTask(linear, `{}`)
	// Simulate a crash that left the task mid-evaluation with its first
	// step back in pending.
	_, err := e.store.Pool().Exec(e.ctx, `UPDATE tasks SET state = 'evaluating_results'`)
	require.NoError(t, err)
	_, err = e.store.Pool().Exec(e.ctx, `UPDATE workflow_steps SET state = 'pending'`)
	require.NoError(t, err)
	var ids []uuid.UUID
	require.Eventually(t, func() bool {
		ids, err = e.store.TasksToReconcile(e.ctx, 50*time.Millisecond, 10)
		require.NoError(t, err)
		return len(ids) == 1
	}, 10*time.Second, 20*time.Millisecond)
	out, err := e.store.Reevaluate(e.ctx, ids)
	require.NoError(t, err)
	require.Equal(t, state.TaskStepsInProcess, out[0].To)
	require.Equal(t, ct.Task.UUID, out[0].TaskUUID)
	require.NotEmpty(t, e.claimAll("w").Claimed)
}

func TestStalenessOpensDLQAndFails(t *testing.T) {
	e := newEnv(t)
	specs := []stepSpec{{name: "only", retryable: true}}
	e.register("stale", "stale", specs)
	ct := e.createTask(specs, `{}`)
	_, err := e.store.Pool().Exec(e.ctx, `UPDATE tasks SET state_changed_at = now() - interval '2 hours'`)
	require.NoError(t, err)
	th := store.StalenessThresholds{WaitingForDependencies: time.Hour, WaitingForRetry: time.Hour,
		StepsInProcess: time.Hour, MaxLifetime: 24 * time.Hour}
	mon, err := e.store.StalenessMonitor(e.ctx, th, 10)
	require.NoError(t, err)
	require.Equal(t, "stale", mon[0].HealthStatus)
	stale, err := e.store.TasksPastStaleness(e.ctx, th, 10)
	require.NoError(t, err)
	require.Len(t, stale, 1)
	require.Equal(t, state.TaskStepsInProcess, stale[0].State)
	done, err := e.store.HandleStaleTask(e.ctx, stale[0], store.StaleAction{DLQ: true, Fail: true})
	require.NoError(t, err)
	require.True(t, done)
	require.Equal(t, state.TaskError, e.task(ct.Task.UUID).State)
	entry, err := e.store.DLQForTask(e.ctx, ct.Task.UUID)
	require.NoError(t, err)
	require.Equal(t, "staleness_timeout", entry.Reason)
	require.Equal(t, "pending", entry.ResolutionStatus)
	var snap map[string]any
	require.NoError(t, json.Unmarshal(entry.TaskSnapshot, &snap))
	require.Equal(t, "steps_in_process", snap["current_state"])
	// Handling the same (now outdated) flag again does nothing.
	done, err = e.store.HandleStaleTask(e.ctx, stale[0], store.StaleAction{DLQ: true, Fail: true})
	require.NoError(t, err)
	require.False(t, done)
	resolved := "manually_resolved"
	notes := "restarted upstream"
	upd, err := e.store.UpdateDLQ(e.ctx, entry.UUID, store.DLQUpdate{ResolutionStatus: &resolved, ResolutionNotes: &notes})
	require.NoError(t, err)
	require.NotNil(t, upd.ResolutionTimestamp)
	stats, err := e.store.DLQStats(e.ctx)
	require.NoError(t, err)
	require.Equal(t, 1, stats[0].ManuallyResolved)
	list, err := e.store.ListDLQ(e.ctx, "manually_resolved", 10, 0)
	require.NoError(t, err)
	require.Len(t, list, 1)
	_, err = e.store.UpdateDLQ(e.ctx, uuid.New(), store.DLQUpdate{})
	require.ErrorIs(t, err, store.ErrNotFound)
	counts, err := e.store.CountStates(e.ctx)
	require.NoError(t, err)
	require.Equal(t, int64(1), counts.Tasks[state.TaskError])
}

func TestAnalyzeStale(t *testing.T) {
	e := newEnv(t)
	e.register("an", "an", linear)
	for range 30 {
		e.createTask(linear, `{}`)
	}
	// pg_stat counters are flushed asynchronously: poll.
	require.Eventually(t, func() bool {
		tables, err := e.store.AnalyzeStale(e.ctx, 10, 0.1)
		require.NoError(t, err)
		return slices.Contains(tables, "workflow_steps")
	}, 20*time.Second, 200*time.Millisecond)
	tables, err := e.store.AnalyzeStale(e.ctx, 10, 0.1)
	require.NoError(t, err)
	require.NotContains(t, tables, "workflow_steps", "just analyzed")
}

// TestLateResultDoesNotMatchClaimAfterReset: reset_for_retry sets attempts
// back to 0, so the step's next claim by the same worker has the attempt
// number of an old claim. A result held back from that old claim (its
// worker's writes stalled while the claim lapsed, another worker failed
// the step for good, and an operator reset it) must not be taken for the
// new claim's result: the claim time tells them apart.
func TestLateResultDoesNotMatchClaimAfterReset(t *testing.T) {
	e := newEnv(t)
	specs := []stepSpec{{name: "only", retryable: true, maxAttempts: 3}}
	e.register("late", "late", specs)
	taskID := e.createTask(specs, `{}`).Task.UUID

	old := e.claimAll("w").Claimed
	require.Len(t, old, 1)
	require.Equal(t, 1, old[0].Step.Attempts)
	require.NotNil(t, old[0].Step.LastAttemptedAt, "a claimed step carries its claim time")
	// w stalls; its claim lapses and w2 takes the step and fails it for good.
	e.exec(`UPDATE workflow_steps SET claim_deadline = now() - interval '1 second' WHERE task_uuid = $1`, taskID)
	e.exec(`UPDATE "mq_worker_late_queue" SET vt = now() - interval '1 second'`)
	other := e.claimAll("w2").Claimed
	require.Len(t, other, 1)
	require.Equal(t, 2, other[0].Step.Attempts)
	require.Len(t, e.complete("w2", other[0], false, false).Recorded, 1)
	e.process()
	require.Equal(t, state.StepError, e.stepState(taskID, "only").State)

	_, _, err := e.store.ApplyStepAction(e.ctx, taskID, e.ids["only"],
		store.StepAction{Kind: store.ActionResetForRetry, By: "ops"})
	require.NoError(t, err)
	again := e.claimAll("w").Claimed
	require.Len(t, again, 1)
	require.Equal(t, 1, again[0].Step.Attempts, "same worker, same attempt number as the old claim")

	late := e.complete("w", old[0], true, false)
	require.Equal(t, []uuid.UUID{e.ids["only"]}, late.Stale, "the old claim's result is dropped")
	require.Empty(t, late.Recorded)
	require.Equal(t, state.StepInProgress, e.stepState(taskID, "only").State)

	require.Len(t, e.complete("w", again[0], true, false).Recorded, 1)
	e.process()
	require.Equal(t, state.TaskComplete, e.task(taskID).State)
}
