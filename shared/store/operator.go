package store

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tasker-go/tasker/shared/state"
)

// CancelTask cancels a task and every step that has not finished, in one
// transaction. A task already in a terminal state gets ErrInvalidState.
// Workers running a cancelled step are not interrupted; their result no
// longer matches the step and is dropped.
func (s *Store) CancelTask(ctx context.Context, taskID uuid.UUID, reason string) (Task, error) {
	var out Task
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		tasks, err := lockTasks(ctx, tx, []uuid.UUID{taskID})
		if err != nil {
			return err
		}
		t := tasks[taskID]
		if t == nil {
			return fmt.Errorf("task %s: %w", taskID, ErrNotFound)
		}
		if t.State.Terminal() {
			return fmt.Errorf("task %s is %s and cannot be cancelled: %w", taskID, t.State, ErrInvalidState)
		}
		meta, _ := json.Marshal(map[string]string{"reason": reason})
		_, err = tx.Exec(ctx, `
			WITH upd AS (
				UPDATE workflow_steps SET state = 'cancelled', processed = true, processed_at = now(),
					in_process = false, claimed_by = NULL, claim_deadline = NULL,
					state_changed_at = now(), updated_at = now()
				FROM (SELECT workflow_step_uuid, state AS old_state FROM workflow_steps
				      WHERE task_uuid = $1 AND state NOT IN (`+terminalStepStates+`)
				      FOR UPDATE) old
				WHERE workflow_steps.workflow_step_uuid = old.workflow_step_uuid
				RETURNING workflow_steps.workflow_step_uuid, old.old_state
			)
			INSERT INTO workflow_step_transitions (workflow_step_uuid, task_uuid, from_state, to_state, event, metadata)
			SELECT workflow_step_uuid, $1, old_state, 'cancelled', 'cancel', $2 FROM upd`, taskID, meta)
		if err != nil {
			return fmt.Errorf("cancelling steps: %w", err)
		}
		var tr taskTransitionRows
		tr.add(taskID, t.State, state.TaskCancelled, []state.TaskTransition{{From: t.State, Event: state.TaskEventCancel, To: state.TaskCancelled}})
		tr.hMeta[len(tr.hMeta)-1] = string(meta)
		if err := s.applyTaskTransitions(ctx, tx, &tr, nil); err != nil {
			return err
		}
		if err := s.notifyTasks(ctx, tx, []uuid.UUID{taskID}); err != nil {
			return err
		}
		out, err = getTask(ctx, tx, taskID)
		return err
	})
	if err != nil {
		return Task{}, fmt.Errorf("cancelling task: %w", err)
	}
	return out, nil
}

// StepAction is an operator's fix to a step.
type StepAction struct {
	// Kind is reset_for_retry, resolve_manually or complete_manually.
	Kind string
	// Reason and By are recorded in the step's history.
	Reason string
	By     string
	// Result is the step's result for complete_manually (the full stored
	// execution result JSON).
	Result json.RawMessage
}

// Step action kinds.
const (
	ActionResetForRetry    = "reset_for_retry"
	ActionResolveManually  = "resolve_manually"
	ActionCompleteManually = "complete_manually"
)

// ApplyStepAction applies an operator's fix to a step and re-drives its task
// at once, in one transaction: a reset or resolved step lets the task move on
// immediately, even out of blocked_by_failures or error.
func (s *Store) ApplyStepAction(ctx context.Context, taskID, stepID uuid.UUID, a StepAction) (StepReadiness, []TaskOutcome, error) {
	var ev state.StepEvent
	switch a.Kind {
	case ActionResetForRetry:
		ev = state.StepEventResetForRetry
	case ActionResolveManually:
		ev = state.StepEventResolveManually
	case ActionCompleteManually:
		ev = state.StepEventCompleteManually
	default:
		return StepReadiness{}, nil, fmt.Errorf("%w: unknown step action %q", ErrInvalidInput, a.Kind)
	}
	var outcomes []TaskOutcome
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		tasks, err := lockTasks(ctx, tx, []uuid.UUID{taskID})
		if err != nil {
			return err
		}
		t := tasks[taskID]
		if t == nil {
			return fmt.Errorf("task %s: %w", taskID, ErrNotFound)
		}
		if t.State == state.TaskCancelled || t.State == state.TaskComplete || t.State == state.TaskResolvedManually {
			return fmt.Errorf("task %s is %s: %w", taskID, t.State, ErrInvalidState)
		}
		var cur state.StepState
		if err := tx.QueryRow(ctx, `SELECT state FROM workflow_steps WHERE workflow_step_uuid = $1 AND task_uuid = $2 FOR UPDATE`,
			stepID, taskID).Scan(&cur); err != nil {
			return notFound(fmt.Sprintf("step %s of task %s", stepID, taskID), err)
		}
		to, err := state.NextStep(cur, ev)
		if err != nil {
			return fmt.Errorf("step %s is %s: %w", stepID, cur, ErrInvalidState)
		}
		meta, _ := json.Marshal(map[string]string{"reason": a.Reason, "by": a.By, "action": a.Kind})
		var result any
		if len(a.Result) > 0 {
			result = a.Result
		}
		_, err = tx.Exec(ctx, `
			WITH upd AS (
				UPDATE workflow_steps SET state = $3::text,
					processed = $3::text IN ('complete', 'resolved_manually'),
					processed_at = CASE WHEN $3::text IN ('complete', 'resolved_manually') THEN now() END,
					in_process = false, claimed_by = NULL, claim_deadline = NULL, next_retry_at = NULL,
					attempts = CASE WHEN $4::text = 'reset_for_retry' THEN 0 ELSE attempts END,
					results = COALESCE($5::jsonb, results),
					state_changed_at = now(), updated_at = now()
				WHERE workflow_step_uuid = $1 AND state = $2::text
				RETURNING workflow_step_uuid, task_uuid
			)
			INSERT INTO workflow_step_transitions (workflow_step_uuid, task_uuid, from_state, to_state, event, metadata)
			SELECT workflow_step_uuid, task_uuid, $2::text, $3::text, $6::text, $7 FROM upd`,
			stepID, string(cur), string(to), a.Kind, result, string(ev), meta)
		if err != nil {
			return fmt.Errorf("applying %s: %w", a.Kind, err)
		}
		outcomes, err = s.evaluate(ctx, tx, tasks, true)
		if err != nil {
			return err
		}
		return s.notifyTasks(ctx, tx, []uuid.UUID{taskID})
	})
	if err != nil {
		return StepReadiness{}, nil, fmt.Errorf("step action: %w", err)
	}
	sr, err := s.GetStep(ctx, taskID, stepID)
	return sr, outcomes, err
}

// Reevaluate locks tasks and drives each forward as its steps call for
// (enqueue ready steps, finalize). Pollers use it to recover tasks whose
// wake-up was lost; it is safe to call on any task at any time.
func (s *Store) Reevaluate(ctx context.Context, taskIDs []uuid.UUID) ([]TaskOutcome, error) {
	var out []TaskOutcome
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		tasks, err := lockTasks(ctx, tx, taskIDs)
		if err != nil {
			return err
		}
		out, err = s.evaluate(ctx, tx, tasks, false)
		if err != nil {
			return err
		}
		ids := make([]uuid.UUID, 0, len(out))
		for _, o := range out {
			ids = append(ids, o.TaskUUID)
		}
		return s.notifyTasks(ctx, tx, ids)
	})
	if err != nil {
		return nil, fmt.Errorf("re-evaluating tasks: %w", err)
	}
	return out, nil
}
