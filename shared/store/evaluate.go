package store

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tasker-go/tasker/shared/messaging"
	"github.com/tasker-go/tasker/shared/state"
)

// lockedTask is a task row locked FOR UPDATE by the current transaction.
type lockedTask struct {
	UUID          uuid.UUID
	State         state.TaskState
	Namespace     string
	CorrelationID uuid.UUID
	CreatedAt     time.Time
}

// TaskOutcome reports what an evaluation did to one task.
type TaskOutcome struct {
	TaskUUID      uuid.UUID       `json:"task_uuid"`
	From          state.TaskState `json:"from"`
	To            state.TaskState `json:"to"`
	EnqueuedSteps int             `json:"enqueued_steps"`
	// CreatedAt is when the task was created; FinishedAt when this outcome
	// was decided (for latency metrics).
	CreatedAt  time.Time `json:"-"`
	FinishedAt time.Time `json:"-"`
}

// lockTasks locks tasks in uuid order (so concurrent batches never deadlock)
// and returns their current state. Missing tasks are skipped.
func lockTasks(ctx context.Context, tx pgx.Tx, ids []uuid.UUID) (map[uuid.UUID]*lockedTask, error) {
	ids = uniqueSorted(ids)
	rows, err := tx.Query(ctx, `SELECT task_uuid, state, namespace, correlation_id, created_at FROM tasks
		WHERE task_uuid = ANY($1) ORDER BY task_uuid FOR UPDATE`, ids)
	if err != nil {
		return nil, fmt.Errorf("locking tasks: %w", err)
	}
	out := make(map[uuid.UUID]*lockedTask, len(ids))
	var t lockedTask
	_, err = pgx.ForEachRow(rows, []any{&t.UUID, &t.State, &t.Namespace, &t.CorrelationID, &t.CreatedAt}, func() error {
		c := t
		out[c.UUID] = &c
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("locking tasks: %w", err)
	}
	return out, nil
}

func uniqueSorted(ids []uuid.UUID) []uuid.UUID {
	out := slices.Clone(ids)
	slices.SortFunc(out, func(a, b uuid.UUID) int { return compareUUID(a, b) })
	return slices.Compact(out)
}

func compareUUID(a, b uuid.UUID) int {
	for i := range a {
		if a[i] != b[i] {
			if a[i] < b[i] {
				return -1
			}
			return 1
		}
	}
	return 0
}

// evaluate drives locked tasks forward: it enqueues every step whose parents
// are satisfied (unless the task is blocked by a failure), then moves each
// task to the state its steps call for, recording a legal path through the
// task machine. reopen lets a task in error be re-driven (operator fixes).
func (s *Store) evaluate(ctx context.Context, tx pgx.Tx, tasks map[uuid.UUID]*lockedTask, reopen bool) ([]TaskOutcome, error) {
	if len(tasks) == 0 {
		return nil, nil
	}
	ids := make([]uuid.UUID, 0, len(tasks))
	for id, t := range tasks {
		if t.State.Terminal() && !(reopen && t.State == state.TaskError) {
			continue
		}
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	graphs, err := loadGraphs(ctx, tx, ids)
	if err != nil {
		return nil, err
	}
	counts := make(map[uuid.UUID]StepCounts, len(ids))
	var toEnqueue []uuid.UUID
	for _, id := range ids {
		g := graphs[id]
		counts[id] = g.counts()
		// Blocked before ready: a task with a permanently failed step does
		// not start anything new.
		if counts[id].Classify() == StatusHasReadySteps {
			toEnqueue = append(toEnqueue, g.ready()...)
		}
	}
	enqueued, err := s.enqueueSteps(ctx, tx, toEnqueue, tasks)
	if err != nil {
		return nil, err
	}
	var outcomes []TaskOutcome
	var tr taskTransitionRows
	for _, id := range ids {
		t := tasks[id]
		c := counts[id]
		n := enqueued[id]
		c.Ready -= min(n, c.Ready)
		c.Pending -= n
		c.Enqueued += n
		target := TargetState(t.State, c, reopen)
		now := time.Now()
		if target == t.State {
			if n > 0 {
				outcomes = append(outcomes, TaskOutcome{TaskUUID: id, From: t.State, To: target, EnqueuedSteps: n,
					CreatedAt: t.CreatedAt, FinishedAt: now})
			}
			continue
		}
		path := state.TaskPath(t.State, target)
		if path == nil {
			s.log.Warn("no legal task path", "task", id, "from", t.State, "to", target)
			continue
		}
		tr.add(id, t.State, target, path)
		outcomes = append(outcomes, TaskOutcome{TaskUUID: id, From: t.State, To: target, EnqueuedSteps: n,
			CreatedAt: t.CreatedAt, FinishedAt: now})
		t.State = target
	}
	if err := s.applyTaskTransitions(ctx, tx, &tr, nil); err != nil {
		return nil, err
	}
	return outcomes, nil
}

// enqueueSteps moves ready pending steps to enqueued and sends their
// messages in the same transaction. It returns how many steps each task had
// enqueued.
func (s *Store) enqueueSteps(ctx context.Context, tx pgx.Tx, steps []uuid.UUID, tasks map[uuid.UUID]*lockedTask) (map[uuid.UUID]int, error) {
	out := map[uuid.UUID]int{}
	if len(steps) == 0 {
		return out, nil
	}
	rows, err := tx.Query(ctx, `
		WITH upd AS (
			UPDATE workflow_steps SET state = 'enqueued', state_changed_at = now(), updated_at = now()
			WHERE workflow_step_uuid = ANY($1) AND state = 'pending'
			RETURNING workflow_step_uuid, task_uuid
		), hist AS (
			INSERT INTO workflow_step_transitions (workflow_step_uuid, task_uuid, from_state, to_state, event)
			SELECT workflow_step_uuid, task_uuid, 'pending', 'enqueued', 'enqueue' FROM upd
		)
		SELECT workflow_step_uuid, task_uuid FROM upd ORDER BY task_uuid, workflow_step_uuid`, steps)
	if err != nil {
		return nil, fmt.Errorf("enqueueing ready steps: %w", err)
	}
	byQueue := map[string][]json.RawMessage{}
	var stepID, taskID uuid.UUID
	_, err = pgx.ForEachRow(rows, []any{&stepID, &taskID}, func() error {
		t := tasks[taskID]
		b, err := json.Marshal(messaging.StepMessage{TaskUUID: taskID, StepUUID: stepID, CorrelationID: t.CorrelationID})
		if err != nil {
			return err
		}
		q := messaging.WorkerQueue(t.Namespace)
		byQueue[q] = append(byQueue[q], b)
		out[taskID]++
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("enqueueing ready steps: %w", err)
	}
	if err := s.sendAll(ctx, tx, byQueue); err != nil {
		return nil, err
	}
	return out, nil
}

// sendAll sends messages to several queues in tx, in a stable queue order.
func (s *Store) sendAll(ctx context.Context, tx pgx.Tx, byQueue map[string][]json.RawMessage) error {
	queues := make([]string, 0, len(byQueue))
	for q := range byQueue {
		queues = append(queues, q)
	}
	slices.Sort(queues)
	for _, q := range queues {
		if err := s.queue.SendTx(ctx, tx, q, byQueue[q], 0); err != nil {
			return fmt.Errorf("sending to %s: %w", q, err)
		}
	}
	return nil
}

// taskTransitionRows collects task state changes and their history rows for
// one set-based statement.
type taskTransitionRows struct {
	ids, from, to []string
	hTask, hFrom  []string
	hTo, hEvent   []string
	hMeta         []string
	completeFlags []bool
	terminalFlags []bool
}

func (r *taskTransitionRows) add(id uuid.UUID, from, to state.TaskState, path []state.TaskTransition) {
	r.ids = append(r.ids, id.String())
	r.from = append(r.from, string(from))
	r.to = append(r.to, string(to))
	r.completeFlags = append(r.completeFlags, to == state.TaskComplete)
	r.terminalFlags = append(r.terminalFlags, to.Terminal())
	for _, p := range path {
		r.hTask = append(r.hTask, id.String())
		r.hFrom = append(r.hFrom, string(p.From))
		r.hTo = append(r.hTo, string(p.To))
		r.hEvent = append(r.hEvent, string(p.Event))
		r.hMeta = append(r.hMeta, "")
	}
}

// applyTaskTransitions CASes every task from its recorded state to its target
// and writes the history rows of the tasks whose CAS succeeded, in order. It
// returns the ids that moved (when moved is non-nil).
func (s *Store) applyTaskTransitions(ctx context.Context, tx pgx.Tx, r *taskTransitionRows, moved *[]uuid.UUID) error {
	if len(r.ids) == 0 {
		return nil
	}
	rows, err := tx.Query(ctx, `
		WITH t AS (
			SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::bool[], $5::bool[])
				AS t(task_uuid, from_state, to_state, is_complete, is_terminal)
		), upd AS (
			UPDATE tasks SET state = t.to_state, complete = t.is_complete,
				completed_at = CASE WHEN t.is_terminal THEN now() ELSE NULL END,
				state_changed_at = now(), updated_at = now()
			FROM t WHERE tasks.task_uuid = t.task_uuid AND tasks.task_uuid = ANY($1::uuid[])
				AND tasks.state = t.from_state
			RETURNING tasks.task_uuid
		), hist AS (
			INSERT INTO task_transitions (task_uuid, from_state, to_state, event, metadata, processor_id)
			SELECT h.task_uuid, h.from_state, h.to_state, h.event, NULLIF(h.meta, '')::jsonb, $11
			FROM unnest($6::uuid[], $7::text[], $8::text[], $9::text[], $10::text[])
				WITH ORDINALITY AS h(task_uuid, from_state, to_state, event, meta, ord)
			WHERE h.task_uuid IN (SELECT task_uuid FROM upd)
			ORDER BY h.ord
		)
		SELECT task_uuid FROM upd`,
		r.ids, r.from, r.to, r.completeFlags, r.terminalFlags,
		r.hTask, r.hFrom, r.hTo, r.hEvent, r.hMeta, nullIfEmpty(s.processorID))
	if err != nil {
		return fmt.Errorf("transitioning tasks: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return fmt.Errorf("transitioning tasks: %w", err)
	}
	if moved != nil {
		*moved = ids
	}
	return nil
}
