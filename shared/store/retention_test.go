package store_test

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/state"
	"github.com/tasker-go/tasker/shared/store"
)

// TestPurgeFinishedTasks: only tasks finished longer ago than the age go,
// oldest first and at most limit per call, each with all its rows; open
// tasks and tasks with an open investigation stay.
func TestPurgeFinishedTasks(t *testing.T) {
	e := newEnv(t)
	specs := []stepSpec{{name: "first", maxAttempts: 1}, {name: "second", deps: []string{"first"}, maxAttempts: 1}}
	e.register("purge", "purge", specs)
	run := func(success bool) uuid.UUID {
		id := e.createTask(specs, `{}`).Task.UUID
		for {
			claimed := e.claimAll("w").Claimed
			if len(claimed) == 0 {
				return id
			}
			require.Len(t, claimed, 1)
			e.complete("w", claimed[0], success, false)
			e.process()
		}
	}
	oldest, old, recent := run(true), run(true), run(true)
	investigated := run(false)
	require.Equal(t, state.TaskError, e.task(investigated).State)
	open := e.createTask(specs, `{}`).Task.UUID
	// Move tasks back in time: created a minute before they last changed
	// state (and finished, when they did).
	back := func(ago string, ids ...uuid.UUID) {
		e.exec(`UPDATE tasks SET state_changed_at = now() - $2::interval,
			completed_at = CASE WHEN completed_at IS NOT NULL THEN now() - $2::interval END,
			created_at = now() - $2::interval - interval '1 minute' WHERE task_uuid = ANY($1)`, ids, ago)
	}
	back("3 hours", oldest, investigated, open)
	back("2 hours", old)
	e.exec(`INSERT INTO tasks_dlq (task_uuid, original_state, dlq_reason, task_snapshot)
		VALUES ($1, 'error', 'manual_dlq', '{}')`, investigated)

	rows := func(id uuid.UUID) int {
		var n int
		require.NoError(t, e.store.Pool().QueryRow(e.ctx, `SELECT
			(SELECT count(*) FROM tasks WHERE task_uuid = $1) +
			(SELECT count(*) FROM workflow_steps WHERE task_uuid = $1) +
			(SELECT count(*) FROM task_transitions WHERE task_uuid = $1) +
			(SELECT count(*) FROM workflow_step_transitions WHERE task_uuid = $1) +
			(SELECT count(*) FROM workflow_step_result_audit WHERE task_uuid = $1) +
			(SELECT count(*) FROM workflow_step_edges WHERE task_uuid = $1) +
			(SELECT count(*) FROM tasks_dlq WHERE task_uuid = $1)`, id).Scan(&n))
		return n
	}
	require.Positive(t, rows(oldest))
	var edges int
	require.NoError(t, e.store.Pool().QueryRow(e.ctx, `SELECT count(*) FROM workflow_step_edges WHERE task_uuid = $1`, oldest).
		Scan(&edges))
	require.Equal(t, 1, edges)

	n, err := e.store.PurgeFinishedTasks(e.ctx, time.Hour, 1)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Zero(t, rows(oldest), "the oldest finished task went first, with all its rows")
	require.Positive(t, rows(old))

	n, err = e.store.PurgeFinishedTasks(e.ctx, time.Hour, 100)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Zero(t, rows(old))
	for _, id := range []uuid.UUID{recent, investigated, open} {
		_, err := e.store.GetTask(e.ctx, id)
		require.NoError(t, err, "recent, under investigation or open: kept")
	}

	e.exec(`UPDATE tasks_dlq SET resolution_status = 'permanently_failed' WHERE task_uuid = $1`, investigated)
	n, err = e.store.PurgeFinishedTasks(e.ctx, time.Hour, 100)
	require.NoError(t, err)
	require.Equal(t, 1, n, "the closed investigation no longer holds it")
	_, err = e.store.GetTask(e.ctx, investigated)
	require.ErrorIs(t, err, store.ErrNotFound)
}
