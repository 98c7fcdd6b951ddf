package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// TaskEventsChannel is the NOTIFY channel on which every transaction that
// changes task or step state announces the tasks it touched (a
// comma-separated list of task uuids). Live event streams listen to it and
// then read the new history rows: notifications drive the reads, nothing
// polls.
func TaskEventsChannel(schema string) string { return schema + ".task_events" }

// EventsChannel is the task events channel this store notifies ("" when it
// was built without a schema and sends no task events).
func (s *Store) EventsChannel() string { return s.eventsChannel }

// notifyChunk keeps a payload under PostgreSQL's 8000-byte limit.
const notifyChunk = 200

// notifyChunkSQL is notifyChunk in SQL text.
const notifyChunkSQL = "200"

// notifyTasks announces, in tx, that tasks changed.
func (s *Store) notifyTasks(ctx context.Context, tx pgx.Tx, ids []uuid.UUID) error {
	if s.eventsChannel == "" || len(ids) == 0 {
		return nil
	}
	ids = uniqueSorted(ids)
	for len(ids) > 0 {
		n := min(len(ids), notifyChunk)
		parts := make([]string, n)
		for i, id := range ids[:n] {
			parts[i] = id.String()
		}
		if _, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, s.eventsChannel, strings.Join(parts, ",")); err != nil {
			return fmt.Errorf("announcing task events: %w", err)
		}
		ids = ids[n:]
	}
	return nil
}

// TaskEvent is one committed transition of a task or of one of its steps.
type TaskEvent struct {
	// ID orders events of one kind; pass the last seen ids to
	// TaskEventsAfter.
	ID        int64      `db:"id"`
	Kind      string     `db:"kind"` // "task" or "step"
	TaskUUID  uuid.UUID  `db:"task_uuid"`
	StepUUID  *uuid.UUID `db:"workflow_step_uuid"`
	StepName  string     `db:"step_name"`
	FromState *string    `db:"from_state"`
	ToState   string     `db:"to_state"`
	Event     string     `db:"event"`
	At        time.Time  `db:"created_at"`
}

// EventCursor is how far a reader of task events got.
type EventCursor struct {
	TaskID int64
	StepID int64
}

// TaskEventsAfter returns a task's transitions newer than the cursor, oldest
// first, and the advanced cursor.
func (s *Store) TaskEventsAfter(ctx context.Context, taskID uuid.UUID, c EventCursor) ([]TaskEvent, EventCursor, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT id, 'task' AS kind, task_uuid, NULL::uuid AS workflow_step_uuid, '' AS step_name, from_state, to_state,
			event, created_at
		FROM task_transitions WHERE task_uuid = $1 AND id > $2
		UNION ALL
		SELECT t.id, 'step', t.task_uuid, t.workflow_step_uuid, s.name, t.from_state, t.to_state, t.event, t.created_at
		FROM workflow_step_transitions t JOIN workflow_steps s USING (workflow_step_uuid)
		WHERE s.task_uuid = $1 AND t.id > $3
		ORDER BY 9, 2, 1`, taskID, c.TaskID, c.StepID)
	if err != nil {
		return nil, c, fmt.Errorf("reading task events: %w", err)
	}
	evs, err := pgx.CollectRows(rows, pgx.RowToStructByName[TaskEvent])
	if err != nil {
		return nil, c, fmt.Errorf("reading task events: %w", err)
	}
	for _, e := range evs {
		if e.Kind == "task" {
			c.TaskID = max(c.TaskID, e.ID)
		} else {
			c.StepID = max(c.StepID, e.ID)
		}
	}
	return evs, c, nil
}
