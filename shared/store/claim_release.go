package store

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tasker-go/tasker/shared/messaging"
)

// ExtendClaims pushes the deadline of this worker's claims (heartbeat for
// long-running handlers). It returns the steps whose claim is no longer this
// worker's.
func (s *Store) ExtendClaims(ctx context.Context, workerID string, steps []uuid.UUID, deadline time.Time) ([]uuid.UUID, error) {
	if len(steps) == 0 {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, `
		WITH upd AS (
			UPDATE workflow_steps SET claim_deadline = $3
			WHERE workflow_step_uuid = ANY($1) AND state = 'in_progress' AND claimed_by = $2
			RETURNING workflow_step_uuid
		)
		SELECT id FROM unnest($1::uuid[]) AS id WHERE id NOT IN (SELECT workflow_step_uuid FROM upd)`,
		steps, workerID, deadline)
	if err != nil {
		return nil, fmt.Errorf("extending claims: %w", err)
	}
	lost, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return nil, fmt.Errorf("extending claims: %w", err)
	}
	return lost, nil
}

// ReleaseClaims gives back steps this worker claimed but will not run (it is
// shutting down): each goes back to enqueued without the attempt counting,
// and the messages given (by queue) become visible again at once, in the
// same unit of work, so a shutdown pressed for time settles both or
// neither. It returns how many steps were released.
func (s *Store) ReleaseClaims(ctx context.Context, workerID string, steps []uuid.UUID, messages map[string][]messaging.Receipt) (int, error) {
	if len(steps) == 0 {
		return 0, nil
	}
	// The count is captured, not read by a callback, so the batch commits
	// as it runs: one round trip (see atomically).
	var counted capturedRows
	err := s.atomically(ctx, func(o *outbox) error {
		o.captureRows(&counted, `
			WITH upd AS (
				UPDATE workflow_steps SET `+unclaimSet+`
				WHERE workflow_step_uuid = ANY($1) AND state = 'in_progress' AND claimed_by = $2
				RETURNING workflow_step_uuid, task_uuid
			), hist AS (`+unclaimedHistory("released", "$2")+`)
			SELECT count(*)::int FROM upd`, steps, workerID)
		now := time.Now()
		for _, q := range slices.Sorted(maps.Keys(messages)) {
			for _, r := range messages[q] {
				if err := o.deferMessage(q, r, now); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("releasing claims: %w", err)
	}
	var n int
	if err := counted.each(func(scan func(dest ...any) error) error { return scan(&n) }); err != nil {
		return 0, fmt.Errorf("releasing claims: the steps were released, their count cannot be read: %w", err)
	}
	return n, nil
}

// unclaimSet is the SET list that gives a claimed step back to enqueued
// without its attempt counting.
const unclaimSet = `state = 'enqueued', in_process = false, attempts = GREATEST(attempts - 1, 0),
	claimed_by = NULL, claim_deadline = NULL, state_changed_at = now(), updated_at = now()`

// unclaimedHistory is the INSERT that records, for each step of the CTE upd
// (workflow_step_uuid, task_uuid) given back by unclaimSet, the legal path
// in_progress → waiting_for_retry → pending → enqueued, the first
// transition carrying reason and the worker id in workerParam (e.g. "$2").
func unclaimedHistory(reason, workerParam string) string {
	return `
			INSERT INTO workflow_step_transitions (workflow_step_uuid, task_uuid, from_state, to_state, event, metadata)
			SELECT u.workflow_step_uuid, u.task_uuid, x.f, x.t, x.e,
				CASE WHEN x.o = 1 THEN jsonb_build_object('reason', '` + reason + `', 'worker_id', ` + workerParam + `::text) END
			FROM upd u CROSS JOIN LATERAL (VALUES
				(1, 'in_progress', 'waiting_for_retry', 'wait_for_retry'),
				(2, 'waiting_for_retry', 'pending', 'retry'),
				(3, 'pending', 'enqueued', 'enqueue')) AS x(o, f, t, e)
			ORDER BY u.workflow_step_uuid, x.o
		`
}
