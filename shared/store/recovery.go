package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tasker-go/tasker/shared/messaging"
	"github.com/tasker-go/tasker/shared/state"
)

// StalledStep is a step whose message may have been lost: it sits in a state
// that a message should move on, and has not moved for a long time.
type StalledStep struct {
	StepUUID      uuid.UUID
	TaskUUID      uuid.UUID
	Namespace     string
	CorrelationID uuid.UUID
	State         state.StepState
}

// StalledSteps finds steps that have waited longer than olderThan for the
// message that should move them: enqueued (no worker took it), in progress
// under a claim that lapsed, waiting for a retry whose time passed, or
// waiting for orchestration. Steps nudged within olderThan are skipped.
func (s *Store) StalledSteps(ctx context.Context, olderThan time.Duration, limit int) ([]StalledStep, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT s.workflow_step_uuid, s.task_uuid, t.namespace, t.correlation_id, s.state
		FROM tasks t JOIN workflow_steps s USING (task_uuid)
		WHERE t.state NOT IN ('complete', 'error', 'cancelled', 'resolved_manually')
		  AND s.state IN ('enqueued', 'in_progress', 'waiting_for_retry',
		                  'enqueued_for_orchestration', 'enqueued_as_error_for_orchestration')
		  AND COALESCE(s.nudged_at, s.state_changed_at) < now() - $1 * interval '1 millisecond'
		  AND CASE s.state
		        WHEN 'in_progress' THEN s.claim_deadline < now() - $1 * interval '1 millisecond'
		        WHEN 'waiting_for_retry' THEN COALESCE(s.next_retry_at, s.state_changed_at) < now() - $1 * interval '1 millisecond'
		        ELSE true END
		ORDER BY s.state_changed_at LIMIT $2`, olderThan.Milliseconds(), limit)
	if err != nil {
		return nil, fmt.Errorf("finding stalled steps: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (StalledStep, error) {
		var st StalledStep
		err := r.Scan(&st.StepUUID, &st.TaskUUID, &st.Namespace, &st.CorrelationID, &st.State)
		return st, err
	})
	if err != nil {
		return nil, fmt.Errorf("finding stalled steps: %w", err)
	}
	return out, nil
}

// NudgeSteps re-sends the messages of stalled steps (to the worker queue, or
// to orchestration for results) and records the nudge. A duplicate message
// is harmless: the first one to arrive moves the step, the others are
// dropped.
func (s *Store) NudgeSteps(ctx context.Context, steps []StalledStep) error {
	if len(steps) == 0 {
		return nil
	}
	byQueue := map[string][]json.RawMessage{}
	ids := make([]uuid.UUID, 0, len(steps))
	for _, st := range steps {
		b, err := json.Marshal(messaging.StepMessage{TaskUUID: st.TaskUUID, StepUUID: st.StepUUID, CorrelationID: st.CorrelationID})
		if err != nil {
			return err
		}
		q := messaging.WorkerQueue(st.Namespace)
		if st.State == state.StepEnqueuedForOrchestration || st.State == state.StepEnqueuedAsErrorForOrchestration {
			q = messaging.StepResultsQueue
		}
		byQueue[q] = append(byQueue[q], b)
		ids = append(ids, st.StepUUID)
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE workflow_steps SET nudged_at = now() WHERE workflow_step_uuid = ANY($1)`, ids); err != nil {
			return err
		}
		return s.sendAll(ctx, tx, byQueue)
	})
	if err != nil {
		return fmt.Errorf("nudging steps: %w", err)
	}
	return nil
}

// StuckTasks finds open tasks that nothing will move: unchanged for longer
// than olderThan, and either left in a transient state (a crashed instance)
// or with no step out with a worker, in backoff or awaiting orchestration.
func (s *Store) StuckTasks(ctx context.Context, olderThan time.Duration, limit int) ([]uuid.UUID, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT t.task_uuid FROM tasks t
		WHERE t.state NOT IN ('complete', 'error', 'cancelled', 'resolved_manually')
		  AND t.state_changed_at < now() - $1 * interval '1 millisecond'
		  AND (t.state IN ('pending', 'initializing', 'enqueuing_steps', 'evaluating_results')
		       OR NOT EXISTS (SELECT 1 FROM workflow_steps s WHERE s.task_uuid = t.task_uuid
		                      AND s.state IN ('enqueued', 'in_progress', 'waiting_for_retry',
		                                      'enqueued_for_orchestration', 'enqueued_as_error_for_orchestration')))
		ORDER BY t.state_changed_at LIMIT $2`, olderThan.Milliseconds(), limit)
	if err != nil {
		return nil, fmt.Errorf("finding stuck tasks: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return nil, fmt.Errorf("finding stuck tasks: %w", err)
	}
	return ids, nil
}
