package store

import (
	"context"
	"fmt"
	"time"
)

// purgeFinishedSQL deletes finished tasks ($1 age in µs, $2 limit) with
// their steps, history, result audit and edges (tables without foreign
// keys, see migrations 00016 and 00017; DLQ entries go by their key's
// cascade). The
// chosen ids are deleted by primary key (= ANY of an array): as a join the
// generic plan, which cannot see the limit, may hash the whole table. Every
// table is reached through an index on the task or the step id. The
// statement's parts share one snapshot, in which the tasks' steps are
// still visible to the CTE that lists them while another deletes them.
var purgeFinishedSQL = `
		WITH t AS (
			DELETE FROM tasks WHERE task_uuid = ANY(ARRAY(
				SELECT t.task_uuid FROM tasks t
				WHERE t.created_at < now() - $1 * interval '1 microsecond'
					AND t.completed_at < now() - $1 * interval '1 microsecond'
					AND t.state IN (` + terminalTaskStates + `)
					AND NOT EXISTS (SELECT 1 FROM tasks_dlq d
						WHERE d.task_uuid = t.task_uuid AND d.resolution_status = 'pending')
				ORDER BY t.created_at
				LIMIT $2
				FOR UPDATE OF t SKIP LOCKED))
			RETURNING task_uuid
		), ids AS MATERIALIZED (
			SELECT COALESCE(array_agg(task_uuid), '{}') AS tasks FROM t
		), steps AS MATERIALIZED (
			SELECT COALESCE(array_agg(workflow_step_uuid), '{}') AS steps FROM workflow_steps
			WHERE task_uuid = ANY((SELECT tasks FROM ids)::uuid[])
		), st AS (
			DELETE FROM workflow_step_transitions WHERE workflow_step_uuid = ANY((SELECT steps FROM steps)::uuid[])
		), au AS (
			DELETE FROM workflow_step_result_audit WHERE workflow_step_uuid = ANY((SELECT steps FROM steps)::uuid[])
		), tt AS (
			DELETE FROM task_transitions WHERE task_uuid = ANY((SELECT tasks FROM ids)::uuid[])
		), ed AS (
			DELETE FROM workflow_step_edges WHERE task_uuid = ANY((SELECT tasks FROM ids)::uuid[])
		), sd AS (
			DELETE FROM workflow_steps WHERE task_uuid = ANY((SELECT tasks FROM ids)::uuid[])
		)
		SELECT cardinality(tasks) FROM ids`

// PurgeFinishedTasks deletes up to limit tasks that reached a terminal state
// (complete, error, cancelled, resolved_manually) more than olderThan ago,
// oldest first, with everything that belongs to them: steps, edges, both
// history tables, the result audit and DLQ entries. A task with a pending DLQ entry is kept (its investigation is
// open). Rows another transaction holds are skipped, not waited for. It
// returns how many tasks it deleted.
//
// It walks tasks_created_at_idx from the oldest task up to the cutoff (a
// task finishes after it was created), so each pass reads the tasks it
// deletes plus the old ones that must stay (still open, or under
// investigation); no index of finished tasks is kept for it.
func (s *Store) PurgeFinishedTasks(ctx context.Context, olderThan time.Duration, limit int) (int, error) {
	var n int
	if err := s.pool.QueryRow(ctx, purgeFinishedSQL, olderThan.Microseconds(), limit).Scan(&n); err != nil {
		return 0, fmt.Errorf("purging finished tasks: %w", err)
	}
	return n, nil
}
