package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// MaxCheckpointHistory bounds the history a step's checkpoint record keeps:
// the oldest entries are dropped beyond it, so a step that yields often
// does not grow its row without limit.
const MaxCheckpointHistory = 100

// Checkpoint is a batch step's progress as its handler reports it.
type Checkpoint struct {
	// Cursor is where the step got to (any JSON; required).
	Cursor json.RawMessage
	// ItemsProcessed counts the items done so far.
	ItemsProcessed int64
	// AccumulatedResults is what the handler carries from one part of the
	// work to the next (any JSON, or nil).
	AccumulatedResults json.RawMessage
	// At is when the checkpoint was taken.
	At time.Time
}

// SaveCheckpoint stores cp as the checkpoint record of a step that workerID
// holds under claim attempt attempts (in_progress, claimed by it, attempts
// unchanged): {"cursor", "items_processed", "accumulated_results",
// "timestamp", "history": [{"cursor", "timestamp"}, ...]}, the history
// gaining this checkpoint (at most MaxCheckpointHistory entries, newest
// last). The claim and the attempt count are left as they are. It returns
// the stored record, or an error wrapping ErrInvalidState when the worker
// no longer holds that claim, or ErrInvalidInput for a cursor that is not
// JSON.
func (s *Store) SaveCheckpoint(ctx context.Context, workerID string, step uuid.UUID, attempts int, cp Checkpoint) (json.RawMessage, error) {
	if len(cp.Cursor) == 0 || !json.Valid(cp.Cursor) {
		return nil, fmt.Errorf("%w: checkpoint cursor must be JSON", ErrInvalidInput)
	}
	var acc any
	if len(cp.AccumulatedResults) > 0 {
		if !json.Valid(cp.AccumulatedResults) {
			return nil, fmt.Errorf("%w: checkpoint accumulated_results must be JSON", ErrInvalidInput)
		}
		acc = string(cp.AccumulatedResults)
	}
	at := cp.At
	if at.IsZero() {
		at = time.Now()
	}
	var rec json.RawMessage
	err := s.pool.QueryRow(ctx, `
		UPDATE workflow_steps SET checkpoint = jsonb_build_object(
				'cursor', $4::jsonb, 'items_processed', $5::bigint, 'accumulated_results', $6::jsonb,
				'timestamp', $7::text,
				'history', (
					SELECT COALESCE(jsonb_agg(h.e ORDER BY h.i), '[]'::jsonb) FROM (
						SELECT x.e, x.i FROM jsonb_array_elements(
							CASE WHEN jsonb_typeof(checkpoint -> 'history') = 'array'
								THEN checkpoint -> 'history' ELSE '[]'::jsonb END
							|| jsonb_build_array(jsonb_build_object('cursor', $4::jsonb, 'timestamp', $7::text))
						) WITH ORDINALITY AS x(e, i)
						ORDER BY x.i DESC LIMIT $8
					) h)),
			updated_at = now()
		WHERE workflow_step_uuid = $1 AND state = 'in_progress' AND claimed_by = $2 AND attempts = $3
		RETURNING checkpoint`,
		step, workerID, attempts, string(cp.Cursor), cp.ItemsProcessed, acc,
		at.UTC().Format(time.RFC3339Nano), MaxCheckpointHistory).Scan(&rec)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("saving checkpoint of step %s: the claim of %s (attempt %d) is not held: %w",
			step, workerID, attempts, ErrInvalidState)
	}
	if err != nil {
		return nil, fmt.Errorf("saving checkpoint of step %s: %w", step, err)
	}
	return rec, nil
}
