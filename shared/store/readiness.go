package store

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tasker-go/tasker/shared/dag"
)

// stepColumns are the columns of a Step (alias s), named as its db tags
// and its RetryPolicy's say; scan them by name with scanStep. stepDest is
// the positional form, kept for the claim and result statements.
const stepColumns = `s.workflow_step_uuid, s.task_uuid, s.named_step_uuid, s.name, s.template_step_name,
	s.step_type, s.state, s.handler_callable, s.handler_method, s.retryable, s.max_attempts, s.backoff,
	s.backoff_base_ms, s.max_backoff_ms, s.backoff_jitter, s.timeout_seconds, s.attempts, s.in_process,
	s.processed, s.processed_at, s.last_attempted_at, s.backoff_request_seconds, s.next_retry_at,
	COALESCE(s.claimed_by, '') AS claimed_by, s.claim_deadline, s.inputs, s.results, s.checkpoint, s.priority,
	s.state_changed_at, s.created_at, s.updated_at`

// stepRow is a Step as rows of stepColumns hold it: the retry policy's
// columns are flattened in by the embedded RetryPolicy.
type stepRow struct {
	Step
	RetryPolicy
}

// step is the row as a Step.
func (r stepRow) step() Step {
	st := r.Step
	st.Retry = r.RetryPolicy
	return st
}

// scanStep scans a row of stepColumns by column name.
func scanStep(row pgx.CollectableRow) (Step, error) {
	r, err := pgx.RowToStructByName[stepRow](row)
	return r.step(), err
}

// stepDest is the scan destination of a row of stepColumns, by position.
func stepDest(st *Step) []any {
	return []any{&st.UUID, &st.TaskUUID, &st.NamedStepUUID, &st.Name, &st.TemplateStepName, &st.StepType,
		&st.State, &st.HandlerCallable, &st.HandlerMethod, &st.Retry.Retryable, &st.Retry.MaxAttempts,
		&st.Retry.Backoff, &st.Retry.BackoffBase, &st.Retry.MaxBackoffMs, &st.Retry.Jitter, &st.TimeoutSeconds,
		&st.Attempts, &st.InProcess, &st.Processed, &st.ProcessedAt, &st.LastAttemptedAt,
		&st.BackoffRequestSeconds, &st.NextRetryAt, &st.ClaimedBy, &st.ClaimDeadline, &st.Inputs, &st.Results,
		&st.Checkpoint, &st.Priority, &st.StateChangedAt, &st.CreatedAt, &st.UpdatedAt}
}

// readiness is st with its readiness facts, from the rules (dag) applied
// to its row and its task's graph g (nil: no parents known).
func readiness(st Step, g *taskGraph, now time.Time) StepReadiness {
	f := dag.StepFacts{State: st.State, Attempts: st.Attempts, Retryable: st.Retry.Retryable,
		MaxAttempts: st.Retry.MaxAttempts, Processed: st.Processed, InProcess: st.InProcess, NextRetryAt: st.NextRetryAt}
	sr := StepReadiness{Step: st}
	if g != nil {
		f.TotalParents, f.SatisfiedParents = g.Satisfied(st.UUID)
		sr.Parents = g.ParentNames(st.UUID)
	}
	r := dag.StepReadiness(f, now)
	sr.TotalParents, sr.CompletedParents = f.TotalParents, f.SatisfiedParents
	sr.DependenciesSatisfied, sr.RetryEligible, sr.ReadyForExecution = r.DependenciesSatisfied, r.RetryEligible, r.ReadyForExecution
	if st.State.SatisfiesDependents() {
		sr.CompletedAt = st.ProcessedAt
	}
	return sr
}

// StepReadiness returns every step of the given tasks with readiness facts,
// in creation order. With stepIDs non-empty only those steps are returned.
func (s *Store) StepReadiness(ctx context.Context, taskIDs []uuid.UUID, stepIDs []uuid.UUID) ([]StepReadiness, error) {
	return stepReadiness(ctx, s.pool, taskIDs, stepIDs)
}

func stepReadiness(ctx context.Context, q interface {
	querier
	batcher
}, taskIDs, stepIDs []uuid.UUID) ([]StepReadiness, error) {
	graphs, err := loadGraphs(ctx, q, taskIDs)
	if err != nil {
		return nil, err
	}
	rows, err := q.Query(ctx, `SELECT `+stepColumns+`, now() AS read_at, lf.at AS last_failure_at
		FROM workflow_steps s
		LEFT JOIN LATERAL (
			SELECT max(a.recorded_at) AS at FROM workflow_step_result_audit a
			WHERE a.workflow_step_uuid = s.workflow_step_uuid AND NOT a.success
		) lf ON true
		WHERE s.task_uuid = ANY($1) AND (COALESCE(cardinality($2::uuid[]), 0) = 0 OR s.workflow_step_uuid = ANY($2))
		ORDER BY s.task_uuid, s.created_at, s.workflow_step_uuid`, taskIDs, stepIDs)
	if err != nil {
		return nil, fmt.Errorf("reading step readiness: %w", err)
	}
	type readinessRow struct {
		stepRow
		ReadAt        time.Time  `db:"read_at"`
		LastFailureAt *time.Time `db:"last_failure_at"`
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (StepReadiness, error) {
		row, err := pgx.RowToStructByName[readinessRow](r)
		if err != nil {
			return StepReadiness{}, err
		}
		st := row.step()
		sr := readiness(st, graphs[st.TaskUUID], row.ReadAt)
		sr.LastFailureAt = row.LastFailureAt
		return sr, nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading step readiness: %w", err)
	}
	return out, nil
}

// GetStep loads one step of a task with its readiness facts.
func (s *Store) GetStep(ctx context.Context, taskID, stepID uuid.UUID) (StepReadiness, error) {
	rs, err := s.StepReadiness(ctx, []uuid.UUID{taskID}, []uuid.UUID{stepID})
	if err != nil {
		return StepReadiness{}, err
	}
	if len(rs) == 0 {
		return StepReadiness{}, fmt.Errorf("step %s of task %s: %w", stepID, taskID, ErrNotFound)
	}
	return rs[0], nil
}
