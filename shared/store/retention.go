package store

import (
	"context"
	"fmt"
	"time"
)

// purgeFinishedSQL deletes finished tasks ($1 age in µs, $2 limit). The
// chosen ids are deleted by primary key (= ANY of an array): as a join the
// generic plan, which cannot see the limit, may hash the whole table.
var purgeFinishedSQL = `
		DELETE FROM tasks WHERE task_uuid = ANY(ARRAY(
			SELECT t.task_uuid FROM tasks t
			WHERE t.created_at < now() - $1 * interval '1 microsecond'
				AND t.completed_at < now() - $1 * interval '1 microsecond'
				AND t.state IN (` + terminalTaskStates + `)
				AND NOT EXISTS (SELECT 1 FROM tasks_dlq d
					WHERE d.task_uuid = t.task_uuid AND d.resolution_status = 'pending')
			ORDER BY t.created_at
			LIMIT $2
			FOR UPDATE OF t SKIP LOCKED))`

// PurgeFinishedTasks deletes up to limit tasks that reached a terminal state
// (complete, error, cancelled, resolved_manually) more than olderThan ago,
// oldest first, with everything that belongs to them: the foreign keys
// cascade to steps, edges, both history tables, the result audit and DLQ
// entries. A task with a pending DLQ entry is kept (its investigation is
// open). Rows another transaction holds are skipped, not waited for. It
// returns how many tasks it deleted.
//
// It walks tasks_created_at_idx from the oldest task up to the cutoff (a
// task finishes after it was created), so each pass reads the tasks it
// deletes plus the old ones that must stay (still open, or under
// investigation); no index of finished tasks is kept for it.
func (s *Store) PurgeFinishedTasks(ctx context.Context, olderThan time.Duration, limit int) (int, error) {
	tag, err := s.pool.Exec(ctx, purgeFinishedSQL, olderThan.Microseconds(), limit)
	if err != nil {
		return 0, fmt.Errorf("purging finished tasks: %w", err)
	}
	return int(tag.RowsAffected()), nil
}
