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

	"github.com/tasker-go/tasker/shared/dag"
	"github.com/tasker-go/tasker/shared/messaging"
	"github.com/tasker-go/tasker/shared/state"
)

// lockedTask is a task row locked FOR UPDATE by the current transaction.
type lockedTask struct {
	UUID          uuid.UUID
	NamedTaskUUID uuid.UUID
	State         state.TaskState
	Namespace     string
	CorrelationID uuid.UUID
	CreatedAt     time.Time
	TraceParent   string
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
	// TraceParent is the task's stored W3C traceparent (empty when it was
	// created untraced), the parent of the span recording this outcome.
	TraceParent string `json:"-"`
}

// lockTasks locks tasks in uuid order (so concurrent batches never deadlock)
// and returns their current state. Missing tasks are skipped.
func lockTasks(ctx context.Context, tx pgx.Tx, ids []uuid.UUID) (map[uuid.UUID]*lockedTask, error) {
	ids = uniqueSorted(ids)
	rows, err := tx.Query(ctx, `SELECT task_uuid, state, namespace, correlation_id, created_at, named_task_uuid,
		COALESCE(trace_parent, '') FROM tasks
		WHERE task_uuid = ANY($1) ORDER BY task_uuid FOR UPDATE`, ids)
	if err != nil {
		return nil, fmt.Errorf("locking tasks: %w", err)
	}
	out := make(map[uuid.UUID]*lockedTask, len(ids))
	var t lockedTask
	_, err = pgx.ForEachRow(rows, []any{&t.UUID, &t.State, &t.Namespace, &t.CorrelationID, &t.CreatedAt,
		&t.NamedTaskUUID, &t.TraceParent}, func() error {
		c := t
		out[c.UUID] = &c
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("locking tasks: %w", err)
	}
	return out, nil
}

// queueLockTasks adds to b the lock of tasks (in uuid order) and the read of
// their state; *out is filled when b runs.
func queueLockTasks(b *pgx.Batch, ids []uuid.UUID, out *map[uuid.UUID]*lockedTask) {
	ids = uniqueSorted(ids)
	*out = make(map[uuid.UUID]*lockedTask, len(ids))
	b.Queue(`SELECT task_uuid, state, namespace, correlation_id, created_at, named_task_uuid,
		COALESCE(trace_parent, '') FROM tasks
		WHERE task_uuid = ANY($1) ORDER BY task_uuid FOR UPDATE`, ids).Query(func(rows pgx.Rows) error {
		var t lockedTask
		_, err := pgx.ForEachRow(rows, []any{&t.UUID, &t.State, &t.Namespace, &t.CorrelationID, &t.CreatedAt,
			&t.NamedTaskUUID, &t.TraceParent}, func() error {
			c := t
			(*out)[c.UUID] = &c
			return nil
		})
		return err
	})
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

// evalPlan is what evaluation decided for a set of locked tasks.
type evalPlan struct {
	enqueue  map[uuid.UUID][]uuid.UUID // task → steps to enqueue
	graphs   map[uuid.UUID]*taskGraph  // the graphs the plan was made from
	tr       taskTransitionRows
	outcomes []TaskOutcome
}

// evaluable lists the tasks evaluation may move (dag.Evaluable), in uuid
// order.
func evaluable(tasks map[uuid.UUID]*lockedTask, reopen bool) []uuid.UUID {
	ids := make([]uuid.UUID, 0, len(tasks))
	for id, t := range tasks {
		if dag.Evaluable(t.State, reopen) {
			ids = append(ids, id)
		}
	}
	return uniqueSorted(ids)
}

// plan applies the graph rules (dag.PlanTask) to each locked task and
// gathers what they decided into the statements that carry it out: the
// steps to enqueue, and each task's move along a legal path through the
// task machine with its outcome.
func (s *Store) plan(tasks map[uuid.UUID]*lockedTask, graphs map[uuid.UUID]*taskGraph, reopen bool) evalPlan {
	p := evalPlan{enqueue: map[uuid.UUID][]uuid.UUID{}, graphs: graphs}
	now := time.Now()
	for _, id := range evaluable(tasks, reopen) {
		t, g := tasks[id], graphs[id]
		if g == nil {
			continue
		}
		d := dag.PlanTask(t.State, g.Graph, reopen)
		n := len(d.Enqueue)
		if n > 0 {
			p.enqueue[id] = d.Enqueue
		}
		if d.Target == t.State {
			if n > 0 {
				p.outcomes = append(p.outcomes, TaskOutcome{TaskUUID: id, From: t.State, To: d.Target, EnqueuedSteps: n,
					CreatedAt: t.CreatedAt, FinishedAt: now, TraceParent: t.TraceParent})
			}
			continue
		}
		if !d.Moves() {
			s.log.Warn("no legal task path", "task", id, "from", t.State, "to", d.Target)
			continue
		}
		p.tr.add(id, t.State, d.Target, d.Path)
		p.outcomes = append(p.outcomes, TaskOutcome{TaskUUID: id, From: t.State, To: d.Target, EnqueuedSteps: n,
			CreatedAt: t.CreatedAt, FinishedAt: now, TraceParent: t.TraceParent})
		t.State = d.Target
	}
	return p
}

// enqueueSQL moves steps from pending to enqueued with their history.
const enqueueSQL = `
	WITH upd AS (
		UPDATE workflow_steps SET state = 'enqueued', state_changed_at = now(), updated_at = now()
		WHERE workflow_step_uuid = ANY($1) AND state = 'pending'
		RETURNING workflow_step_uuid, task_uuid
	)
	INSERT INTO workflow_step_transitions (workflow_step_uuid, task_uuid, from_state, to_state, event)
	SELECT workflow_step_uuid, task_uuid, 'pending', 'enqueued', 'enqueue' FROM upd`

// queuePlan adds a plan's statements and messages to the outbox: the
// enqueued steps with their messages (state and message commit together;
// the tasks are locked, so the pending steps cannot change under us), and
// the task transitions.
func (s *Store) queuePlan(o *outbox, tasks map[uuid.UUID]*lockedTask, p evalPlan) error {
	var steps []uuid.UUID
	byQueue := map[string][]json.RawMessage{}
	for _, taskID := range slices.SortedFunc(maps.Keys(p.enqueue), compareUUID) {
		t := tasks[taskID]
		for _, stepID := range p.enqueue[taskID] {
			b, err := p.graphs[taskID].stepMessage(taskID, stepID, t.CorrelationID)
			if err != nil {
				return err
			}
			q := messaging.WorkerQueue(t.Namespace)
			byQueue[q] = append(byQueue[q], b)
			steps = append(steps, stepID)
		}
	}
	if len(steps) > 0 {
		o.b.Queue(enqueueSQL, steps)
	}
	for _, q := range slices.Sorted(maps.Keys(byQueue)) {
		if err := o.send(q, byQueue[q], 0); err != nil {
			return fmt.Errorf("sending to %s: %w", q, err)
		}
	}
	s.queueTaskTransitions(o.b, &p.tr)
	return nil
}

// evaluate drives locked tasks forward in tx: read their graphs, plan, and
// apply the plan. reopen lets a task in error be re-driven (operator fixes).
// The hot paths run the same plan inside their own batches.
func (s *Store) evaluate(ctx context.Context, tx pgx.Tx, tasks map[uuid.UUID]*lockedTask, reopen bool) ([]TaskOutcome, error) {
	ids := evaluable(tasks, reopen)
	if len(ids) == 0 {
		return nil, nil
	}
	o := &outbox{s: s, ctx: ctx, tx: tx, b: &pgx.Batch{}}
	graphs := queueGraphs(o.b, ids)
	if err := o.flush(); err != nil {
		return nil, fmt.Errorf("reading task graphs: %w", err)
	}
	p := s.plan(tasks, graphs, reopen)
	if err := s.queuePlan(o, tasks, p); err != nil {
		return nil, err
	}
	if err := o.flush(); err != nil {
		return nil, fmt.Errorf("applying evaluation: %w", err)
	}
	return p.outcomes, nil
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

const taskTransitionSQL = `
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
	SELECT task_uuid FROM upd`

func (s *Store) taskTransitionArgs(r *taskTransitionRows) []any {
	return []any{r.ids, r.from, r.to, r.completeFlags, r.terminalFlags,
		r.hTask, r.hFrom, r.hTo, r.hEvent, r.hMeta, nullIfEmpty(s.processorID)}
}

// queueTaskTransitions adds the CAS of every task from its recorded state to
// its target, with the history rows of those that moved, to b.
func (s *Store) queueTaskTransitions(b *pgx.Batch, r *taskTransitionRows) {
	if len(r.ids) == 0 {
		return
	}
	b.Queue(taskTransitionSQL, s.taskTransitionArgs(r)...)
}

// applyTaskTransitions runs the task CAS in tx and returns the ids that
// moved (when moved is non-nil).
func (s *Store) applyTaskTransitions(ctx context.Context, tx pgx.Tx, r *taskTransitionRows, moved *[]uuid.UUID) error {
	if len(r.ids) == 0 {
		return nil
	}
	rows, err := tx.Query(ctx, taskTransitionSQL, s.taskTransitionArgs(r)...)
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
