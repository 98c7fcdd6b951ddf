package store

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// TaskTransitions returns a task's state history, oldest first.
func (s *Store) TaskTransitions(ctx context.Context, taskID uuid.UUID) ([]TaskTransition, error) {
	rows, err := s.pool.Query(ctx, `SELECT task_transition_uuid, task_uuid, from_state, to_state, event,
			metadata, COALESCE(processor_id, '') AS processor_id, created_at
		FROM task_transitions WHERE task_uuid = $1 ORDER BY id`, taskID)
	if err != nil {
		return nil, fmt.Errorf("reading task history: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByName[TaskTransition])
	if err != nil {
		return nil, fmt.Errorf("reading task history: %w", err)
	}
	return out, nil
}

// StepTransitions returns the state history of a task's steps (or of one step
// when stepID is not Nil), oldest first.
func (s *Store) StepTransitions(ctx context.Context, taskID, stepID uuid.UUID) ([]StepTransition, error) {
	rows, err := s.pool.Query(ctx, `SELECT t.workflow_step_transition_uuid, t.workflow_step_uuid, t.task_uuid,
			s.name AS step_name, t.from_state, t.to_state, t.event, t.metadata, t.created_at
		FROM workflow_step_transitions t JOIN workflow_steps s USING (workflow_step_uuid)
		WHERE s.task_uuid = $1 AND ($2 = '00000000-0000-0000-0000-000000000000'::uuid OR t.workflow_step_uuid = $2)
		ORDER BY t.id`, taskID, stepID)
	if err != nil {
		return nil, fmt.Errorf("reading step history: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByName[StepTransition])
	if err != nil {
		return nil, fmt.Errorf("reading step history: %w", err)
	}
	return out, nil
}

// StepAudit returns every result workers reported for a step, oldest first.
func (s *Store) StepAudit(ctx context.Context, taskID, stepID uuid.UUID) ([]AuditEntry, error) {
	rows, err := s.pool.Query(ctx, `SELECT a.workflow_step_result_audit_uuid, a.workflow_step_uuid, a.task_uuid,
			s.name AS step_name, a.attempt, COALESCE(a.worker_id, '') AS worker_id, a.correlation_id, a.success, a.execution_time_ms,
			a.from_state, a.to_state, a.result, a.recorded_at,
			COALESCE(tr.workflow_step_transition_uuid, $3) AS workflow_step_transition_uuid
		FROM workflow_step_result_audit a JOIN workflow_steps s USING (workflow_step_uuid)
		-- The transition written by the same statement as the audit row
		-- (recordSQL): same step, same move, the nearest in time.
		LEFT JOIN LATERAL (SELECT t.workflow_step_transition_uuid FROM workflow_step_transitions t
			WHERE t.workflow_step_uuid = a.workflow_step_uuid AND t.from_state = a.from_state
				AND t.to_state = a.to_state
			ORDER BY abs(extract(epoch FROM t.created_at - a.recorded_at)) LIMIT 1) tr ON true
		WHERE a.task_uuid = $1 AND a.workflow_step_uuid = $2 ORDER BY a.id`, taskID, stepID, uuid.Nil)
	if err != nil {
		return nil, fmt.Errorf("reading step audit: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByName[AuditEntry])
	if err != nil {
		return nil, fmt.Errorf("reading step audit: %w", err)
	}
	return out, nil
}
