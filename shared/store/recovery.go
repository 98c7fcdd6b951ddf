package store

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tasker-go/tasker/shared/messaging"
	"github.com/tasker-go/tasker/shared/state"
)

// OverdueStep is a step whose message may have been lost: it sits in a state
// that a message should move on, and has not moved for a long time.
type OverdueStep struct {
	StepUUID      uuid.UUID       `db:"workflow_step_uuid"`
	TaskUUID      uuid.UUID       `db:"task_uuid"`
	Namespace     string          `db:"namespace"`
	CorrelationID uuid.UUID       `db:"correlation_id"`
	State         state.StepState `db:"state"`
	// Callable is the step's handler.callable (its message's route).
	Callable string `db:"handler_callable"`
}

// overdueStepsSQL selects the overdue steps ($1 olderThan in ms, $2 limit)
// of open tasks, read through tasks_open_idx.
var overdueStepsSQL = `
		SELECT s.workflow_step_uuid, s.task_uuid, t.namespace, t.correlation_id, s.state, s.handler_callable
		FROM tasks t JOIN workflow_steps s USING (task_uuid)
		WHERE t.completed_at IS NULL AND t.state NOT IN (` + terminalTaskStates + `)
		  AND s.state IN (` + inFlightStepStates + `)
		  AND COALESCE(s.nudged_at, s.state_changed_at) < now() - $1 * interval '1 millisecond'
		  AND CASE s.state
		        WHEN 'in_progress' THEN s.claim_deadline < now() - $1 * interval '1 millisecond'
		        WHEN 'waiting_for_retry' THEN COALESCE(s.next_retry_at, s.state_changed_at) < now() - $1 * interval '1 millisecond'
		        ELSE true END
		ORDER BY s.state_changed_at LIMIT $2`

// OverdueSteps finds steps that have waited longer than olderThan for the
// message that should move them: enqueued (no worker took it), in progress
// under a claim that lapsed, waiting for a retry whose time passed, or
// waiting for orchestration. Steps nudged within olderThan are skipped.
func (s *Store) OverdueSteps(ctx context.Context, olderThan time.Duration, limit int) ([]OverdueStep, error) {
	rows, err := s.pool.Query(ctx, overdueStepsSQL, olderThan.Milliseconds(), limit)
	if err != nil {
		return nil, fmt.Errorf("finding stalled steps: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByName[OverdueStep])
	if err != nil {
		return nil, fmt.Errorf("finding stalled steps: %w", err)
	}
	return out, nil
}

// NudgeSteps re-sends the messages of stalled steps (to the worker queue, or
// to orchestration for results) whose message is really gone, and records
// the nudge of every step it looked at, so the next pass looks at others. It
// returns how many messages it sent.
//
// With the Postgres queue a step's state change and its message commit
// together, so a step waiting long is usually just behind a deep queue (or a
// delayed retry, or a claim about to lapse): a step that still has a message
// in its queue gets none. With any other queue every step gets one. A
// duplicate message is harmless: the first one to arrive moves the step, the
// others are dropped.
func (s *Store) NudgeSteps(ctx context.Context, steps []OverdueStep) (int, error) {
	if len(steps) == 0 {
		return 0, nil
	}
	queued, err := s.queuedSteps(ctx, steps)
	if err != nil {
		return 0, fmt.Errorf("nudging steps: %w", err)
	}
	byQueue := map[string][]json.RawMessage{}
	ids := make([]uuid.UUID, 0, len(steps))
	sent := 0
	for _, st := range steps {
		ids = append(ids, st.StepUUID)
		if queued[st.StepUUID] {
			continue
		}
		m := messaging.StepMessage{TaskUUID: st.TaskUUID, StepUUID: st.StepUUID, CorrelationID: st.CorrelationID}
		if nudgeQueue(st) != messaging.StepResultsQueue {
			m.Callable = st.Callable
		}
		b, err := json.Marshal(m)
		if err != nil {
			return 0, err
		}
		q := nudgeQueue(st)
		byQueue[q] = append(byQueue[q], b)
		sent++
	}
	err = s.atomically(ctx, func(o *outbox) error {
		o.b.Queue(`UPDATE workflow_steps SET nudged_at = now() WHERE workflow_step_uuid = ANY($1)`, ids)
		for _, q := range slices.Sorted(maps.Keys(byQueue)) {
			if err := o.send(q, byQueue[q], 0); err != nil {
				return fmt.Errorf("sending to %s: %w", q, err)
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("nudging steps: %w", err)
	}
	return sent, nil
}

// nudgeQueue is the queue that carries the message a stalled step waits
// for: orchestration's for a reported result, else its namespace's.
func nudgeQueue(st OverdueStep) string {
	if st.State == state.StepEnqueuedForOrchestration || st.State == state.StepEnqueuedAsErrorForOrchestration {
		return messaging.StepResultsQueue
	}
	return messaging.WorkerQueue(st.Namespace)
}

// queuedSteps returns which of the steps still have a message, visible or
// hidden, in the queue their message goes to. It only knows with the
// Postgres queue (its queues are tables of our schema) and then reads every
// queue involved in one round trip, one scan per queue for the whole batch;
// with any other queue it reports none.
func (s *Store) queuedSteps(ctx context.Context, steps []OverdueStep) (map[uuid.UUID]bool, error) {
	out := map[uuid.UUID]bool{}
	if s.tables == nil {
		return out, nil
	}
	byQueue := map[string][]string{}
	for _, st := range steps {
		q := nudgeQueue(st)
		byQueue[q] = append(byQueue[q], st.StepUUID.String())
	}
	b := &pgx.Batch{}
	for _, q := range slices.Sorted(maps.Keys(byQueue)) {
		table, err := s.queueTable(ctx, q)
		if err != nil {
			return nil, err
		}
		// One scan of the queue probing a hash of the batch's ids (an
		// = ANY filter with a parameter array compares every row with
		// every id). Compared as text: a malformed payload must not fail
		// the read.
		b.Queue(`SELECT DISTINCT id FROM `+table+` m JOIN unnest($1::text[]) AS id
			ON m.message->>'step_uuid' = id`, byQueue[q]).Query(func(rows pgx.Rows) error {
			var id string
			_, err := pgx.ForEachRow(rows, []any{&id}, func() error {
				if u, err := uuid.Parse(id); err == nil {
					out[u] = true
				}
				return nil
			})
			return err
		})
	}
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return nil, fmt.Errorf("looking for queued messages: %w", err)
	}
	return out, nil
}

// queueTable returns the quoted name of the table that holds a queue's
// messages with the Postgres queue, creating the queue if it does not exist
// yet.
func (s *Store) queueTable(ctx context.Context, queue string) (string, error) {
	t, err := s.tables.Table(ctx, queue)
	if err != nil {
		return "", fmt.Errorf("ensuring queue %s: %w", queue, err)
	}
	return t, nil
}

// tasksToReconcileSQL selects stuck open tasks ($1 olderThan in ms, $2
// limit), read through tasks_open_idx.
var tasksToReconcileSQL = `
		SELECT t.task_uuid FROM tasks t
		WHERE t.completed_at IS NULL AND t.state NOT IN (` + terminalTaskStates + `)
		  AND t.state_changed_at < now() - $1 * interval '1 millisecond'
		  AND (t.state IN ('pending', 'initializing', 'enqueuing_steps', 'evaluating_results')
		       OR NOT EXISTS (SELECT 1 FROM workflow_steps s WHERE s.task_uuid = t.task_uuid
		                      AND s.state IN (` + inFlightStepStates + `)))
		ORDER BY t.state_changed_at LIMIT $2`

// TasksToReconcile finds open tasks that nothing will move: unchanged for longer
// than olderThan, and either left in a transient state (a crashed instance)
// or with no step out with a worker, in backoff or awaiting orchestration.
func (s *Store) TasksToReconcile(ctx context.Context, olderThan time.Duration, limit int) ([]uuid.UUID, error) {
	rows, err := s.pool.Query(ctx, tasksToReconcileSQL, olderThan.Milliseconds(), limit)
	if err != nil {
		return nil, fmt.Errorf("finding stuck tasks: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return nil, fmt.Errorf("finding stuck tasks: %w", err)
	}
	return ids, nil
}
