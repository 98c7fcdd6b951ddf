package store

import (
	"context"
	"fmt"
	"time"
)

// PurgeFinishedTasks deletes up to limit tasks that reached a terminal state
// (complete, error, cancelled, resolved_manually) more than olderThan ago,
// oldest first, with everything that belongs to them: the foreign keys
// cascade to steps, edges, both history tables, the result audit and DLQ
// entries. A task with a pending DLQ entry is kept (its investigation is
// open). Rows another transaction holds are skipped, not waited for. It
// returns how many tasks it deleted.
func (s *Store) PurgeFinishedTasks(ctx context.Context, olderThan time.Duration, limit int) (int, error) {
	tag, err := s.pool.Exec(ctx, `
		DELETE FROM tasks WHERE task_uuid IN (
			SELECT t.task_uuid FROM tasks t
			WHERE t.state IN (`+terminalTaskStates+`)
				AND t.state_changed_at < now() - $1 * interval '1 microsecond'
				AND NOT EXISTS (SELECT 1 FROM tasks_dlq d
					WHERE d.task_uuid = t.task_uuid AND d.resolution_status = 'pending')
			ORDER BY t.state_changed_at
			LIMIT $2
			FOR UPDATE OF t SKIP LOCKED)`, olderThan.Microseconds(), limit)
	if err != nil {
		return 0, fmt.Errorf("purging finished tasks: %w", err)
	}
	return int(tag.RowsAffected()), nil
}
