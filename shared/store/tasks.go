package store

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tasker-go/tasker/shared/messaging"
	"github.com/tasker-go/tasker/shared/state"
)

// NewTask is everything CreateTask writes for one task: orchestration builds
// it from the template (which steps, which edges) and the request.
type NewTask struct {
	UUID                uuid.UUID
	NamedTaskUUID       uuid.UUID
	Namespace           string
	Context             json.RawMessage
	IdentityHash        string
	Priority            int
	Initiator           string
	SourceSystem        string
	Reason              string
	Tags                []string
	CorrelationID       uuid.UUID
	ParentCorrelationID *uuid.UUID
	RequestedAt         time.Time
	// TraceParent is the W3C traceparent of the span that created the
	// task; empty (stored as NULL) when tracing is off.
	TraceParent string
	Steps       []NewStep
	Edges       []NewEdge
}

// NewStep is one step to create.
type NewStep struct {
	UUID             uuid.UUID       `json:"workflow_step_uuid"`
	NamedStepUUID    uuid.UUID       `json:"named_step_uuid"`
	Name             string          `json:"name"`
	TemplateStepName string          `json:"template_step_name"`
	StepType         string          `json:"step_type"`
	HandlerCallable  string          `json:"handler_callable"`
	HandlerMethod    string          `json:"handler_method"`
	Retryable        bool            `json:"retryable"`
	MaxAttempts      int             `json:"max_attempts"`
	Backoff          string          `json:"backoff"`
	BackoffBaseMs    int             `json:"backoff_base_ms"`
	MaxBackoffMs     int             `json:"max_backoff_ms"`
	BackoffJitter    bool            `json:"backoff_jitter"`
	TimeoutSeconds   int             `json:"timeout_seconds"`
	Inputs           json.RawMessage `json:"inputs"`
	Priority         int             `json:"priority"`
}

// NewEdge is a dependency: To runs after From.
type NewEdge struct {
	From uuid.UUID
	To   uuid.UUID
	Name string
}

// CreatedTask is what CreateTask returns.
type CreatedTask struct {
	Task    Task
	Outcome TaskOutcome
	// Steps are the task's steps with their readiness, as committed.
	Steps []StepReadiness
}

// CreateTask writes a task, its steps, edges and initial history, then
// enqueues the steps that can run at once and moves the task on, all in one
// transaction: the task is never visible half-built, and its first step
// messages exist only if it does. A task whose identity hash already exists
// gets ErrConflict.
func (s *Store) CreateTask(ctx context.Context, nt NewTask) (CreatedTask, error) {
	if nt.UUID == uuid.Nil || nt.NamedTaskUUID == uuid.Nil || nt.Namespace == "" || nt.IdentityHash == "" {
		return CreatedTask{}, fmt.Errorf("%w: task uuid, named task, namespace and identity hash are required", ErrInvalidInput)
	}
	if nt.CorrelationID == uuid.Nil {
		nt.CorrelationID = uuid.Must(uuid.NewV7())
	}
	if nt.RequestedAt.IsZero() {
		nt.RequestedAt = time.Now()
	}
	if nt.Tags == nil {
		nt.Tags = []string{}
	}
	if len(nt.Context) == 0 {
		nt.Context = json.RawMessage(`{}`)
	}
	for i := range nt.Steps {
		if len(nt.Steps[i].Inputs) == 0 {
			nt.Steps[i].Inputs = json.RawMessage(`{}`)
		}
		if nt.Steps[i].HandlerMethod == "" {
			nt.Steps[i].HandlerMethod = "call"
		}
		if nt.Steps[i].StepType == "" {
			nt.Steps[i].StepType = "standard"
		}
		if nt.Steps[i].TemplateStepName == "" {
			nt.Steps[i].TemplateStepName = nt.Steps[i].Name
		}
	}
	stepsJSON, err := json.Marshal(nt.Steps)
	if err != nil {
		return CreatedTask{}, fmt.Errorf("encoding steps: %w", err)
	}
	from := make([]uuid.UUID, len(nt.Edges))
	to := make([]uuid.UUID, len(nt.Edges))
	names := make([]string, len(nt.Edges))
	for i, e := range nt.Edges {
		from[i], to[i], names[i] = e.From, e.To, e.Name
		if names[i] == "" {
			names[i] = "provides"
		}
	}
	// The graph is known: every step is pending, the roots can run. The
	// task and its steps are written directly in the state the evaluation
	// leads to (with the history of how they got there), instead of being
	// inserted and then updated.
	g := newTaskGraph()
	for _, st := range nt.Steps {
		g.AddStep(st.UUID, st.Name, state.StepPending)
		g.callables[st.UUID] = st.HandlerCallable
	}
	for _, e := range nt.Edges {
		g.AddEdge(e.From, e.To)
	}
	locked := map[uuid.UUID]*lockedTask{nt.UUID: {
		UUID: nt.UUID, State: state.TaskPending, Namespace: nt.Namespace, CorrelationID: nt.CorrelationID,
		CreatedAt: time.Now(),
	}}
	p := s.plan(locked, map[uuid.UUID]*taskGraph{nt.UUID: g}, false)
	final := locked[nt.UUID].State
	enqueued := map[uuid.UUID]bool{}
	var msgs []json.RawMessage
	for _, id := range p.enqueue[nt.UUID] {
		enqueued[id] = true
		b, err := g.stepMessage(nt.UUID, id, nt.CorrelationID)
		if err != nil {
			return CreatedTask{}, err
		}
		msgs = append(msgs, b)
	}
	type stepRow struct {
		NewStep
		State state.StepState `json:"state"`
	}
	rows := make([]stepRow, len(nt.Steps))
	for i, st := range nt.Steps {
		rows[i] = stepRow{NewStep: st, State: state.StepPending}
		if enqueued[st.UUID] {
			rows[i].State = state.StepEnqueued
		}
	}
	stepsJSON, err = json.Marshal(rows)
	if err != nil {
		return CreatedTask{}, fmt.Errorf("encoding steps: %w", err)
	}
	hFrom, hTo, hEvent := []string{""}, []string{string(state.TaskPending)}, []string{"initialize"}
	for i := range p.tr.hTask {
		hFrom = append(hFrom, p.tr.hFrom[i])
		hTo = append(hTo, p.tr.hTo[i])
		hEvent = append(hEvent, p.tr.hEvent[i])
	}

	var out CreatedTask
	var steps []Step
	var taskRows, stepRows capturedRows
	err = s.atomically(ctx, func(o *outbox) error {
		b := o.b
		b.Queue(`WITH ins AS (
				INSERT INTO tasks (task_uuid, named_task_uuid, namespace, state, complete, completed_at,
					requested_at, initiator, source_system, reason, tags, context, identity_hash, priority,
					correlation_id, parent_correlation_id, trace_parent)
				VALUES ($1, $2, $3, $15::text, $15::text = 'complete',
					CASE WHEN $15::text IN (`+terminalTaskStates+`) THEN now() END,
					$4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $19)
				RETURNING task_uuid
			)
			INSERT INTO task_transitions (task_uuid, from_state, to_state, event, processor_id)
			SELECT ins.task_uuid, NULLIF(h.f, ''), h.t, h.e, $14
			FROM ins, unnest($16::text[], $17::text[], $18::text[]) WITH ORDINALITY AS h(f, t, e, o)
			ORDER BY h.o`,
			nt.UUID, nt.NamedTaskUUID, nt.Namespace, nt.RequestedAt, nullIfEmpty(nt.Initiator),
			nullIfEmpty(nt.SourceSystem), nullIfEmpty(nt.Reason), nt.Tags, nt.Context, nt.IdentityHash,
			nt.Priority, nt.CorrelationID, nt.ParentCorrelationID, nullIfEmpty(s.processorID), string(final),
			hFrom, hTo, hEvent, nullIfEmpty(nt.TraceParent))
		if len(nt.Steps) > 0 {
			b.Queue(`WITH ins AS (
					INSERT INTO workflow_steps (workflow_step_uuid, task_uuid, named_step_uuid, name,
						template_step_name, step_type, state, handler_callable, handler_method, retryable,
						max_attempts, backoff, backoff_base_ms, max_backoff_ms, backoff_jitter,
						timeout_seconds, inputs, priority)
					SELECT s.workflow_step_uuid, $1, s.named_step_uuid, s.name, s.template_step_name,
						s.step_type, s.state, s.handler_callable, s.handler_method, s.retryable, s.max_attempts,
						s.backoff, s.backoff_base_ms, s.max_backoff_ms, s.backoff_jitter,
						s.timeout_seconds, s.inputs, s.priority
					FROM jsonb_to_recordset($2::jsonb) AS s(workflow_step_uuid uuid, named_step_uuid uuid,
						name text, template_step_name text, step_type text, state text, handler_callable text,
						handler_method text, retryable boolean, max_attempts int, backoff text,
						backoff_base_ms int, max_backoff_ms int, backoff_jitter boolean,
						timeout_seconds int, inputs jsonb, priority int)
					RETURNING workflow_step_uuid, state
				)
				INSERT INTO workflow_step_transitions (workflow_step_uuid, task_uuid, from_state, to_state, event)
				SELECT workflow_step_uuid, $1, 'pending', 'enqueued', 'enqueue' FROM ins WHERE state = 'enqueued'`,
				nt.UUID, stepsJSON)
		}
		if len(nt.Edges) > 0 {
			b.Queue(`INSERT INTO workflow_step_edges (task_uuid, from_step_uuid, to_step_uuid, name)
				SELECT $1, f, t, n FROM unnest($2::uuid[], $3::uuid[], $4::text[]) AS e(f, t, n)`,
				nt.UUID, from, to, names)
		}
		if err := o.send(messaging.WorkerQueue(nt.Namespace), msgs, 0); err != nil {
			return err
		}
		o.notify([]string{nt.UUID.String()})
		// The rows as written, captured and decoded after the batch: a
		// batch with no other result callbacks is one round trip, its
		// COMMIT included (see atomically).
		o.captureRows(&taskRows, `SELECT `+taskColumns+taskFrom+`WHERE t.task_uuid = $1`, nt.UUID)
		o.captureRows(&stepRows, `SELECT `+stepColumns+` FROM workflow_steps s WHERE s.task_uuid = $1
			ORDER BY s.created_at, s.workflow_step_uuid`, nt.UUID)
		return nil
	})
	if err != nil {
		if isUniqueViolation(err, "tasks_identity_hash_idx") {
			return CreatedTask{}, fmt.Errorf("a task with the same identity already exists: %w", ErrConflict)
		}
		return CreatedTask{}, fmt.Errorf("creating task: %w", err)
	}
	// The task is committed; a row that cannot be decoded here is a bug
	// between this code and the schema, reported as an error all the same.
	if len(taskRows.rows) != 1 {
		return CreatedTask{}, fmt.Errorf("reading the created task %s: %d rows", nt.UUID, len(taskRows.rows))
	}
	if err := taskRows.each(func(scan func(dest ...any) error) error { return scan(taskDest(&out.Task)...) }); err != nil {
		return CreatedTask{}, fmt.Errorf("reading the created task %s: %w", nt.UUID, err)
	}
	if err := stepRows.each(func(scan func(dest ...any) error) error {
		var st Step
		if err := scan(stepDest(&st)...); err != nil {
			return err
		}
		steps = append(steps, st)
		return nil
	}); err != nil {
		return CreatedTask{}, fmt.Errorf("reading the steps of the created task %s: %w", nt.UUID, err)
	}
	if len(p.outcomes) == 1 {
		out.Outcome = p.outcomes[0]
	}
	// The steps' readiness, from the graph as it now is.
	now := time.Now()
	for _, st := range steps {
		out.Steps = append(out.Steps, readiness(st, g, now))
	}
	return out, nil
}

// taskColumns are the columns of a Task, named as its db tags say.
const taskColumns = `t.task_uuid, t.named_task_uuid, t.namespace, nt.name, nt.version, t.state, t.complete,
	t.requested_at, t.completed_at, COALESCE(t.initiator, '') AS initiator,
	COALESCE(t.source_system, '') AS source_system, COALESCE(t.reason, '') AS reason, t.tags, t.context,
	t.identity_hash, t.priority, t.correlation_id, t.parent_correlation_id, t.state_changed_at, t.created_at,
	t.updated_at, COALESCE(t.trace_parent, '') AS trace_parent`

const taskFrom = ` FROM tasks t JOIN named_tasks nt USING (named_task_uuid) `

// taskDest is the scan destination of a row of taskColumns, by position.
func taskDest(t *Task) []any {
	return []any{&t.UUID, &t.NamedTaskUUID, &t.Namespace, &t.Name, &t.Version, &t.State, &t.Complete,
		&t.RequestedAt, &t.CompletedAt, &t.Initiator, &t.SourceSystem, &t.Reason, &t.Tags, &t.Context,
		&t.IdentityHash, &t.Priority, &t.CorrelationID, &t.ParentCorrelationID, &t.StateChangedAt, &t.CreatedAt,
		&t.UpdatedAt, &t.TraceParent}
}

// collectTask scans the one row of taskColumns rows holds, by column name
// (pgx.ErrNoRows when there is none).
func collectTask(rows pgx.Rows) (Task, error) {
	return pgx.CollectOneRow(rows, pgx.RowToStructByName[Task])
}

type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

func getTask(ctx context.Context, q querier, id uuid.UUID) (Task, error) {
	rows, err := q.Query(ctx, `SELECT `+taskColumns+taskFrom+`WHERE t.task_uuid = $1`, id)
	var t Task
	if err == nil {
		t, err = collectTask(rows)
	}
	if err != nil {
		return Task{}, notFound("task "+id.String(), err)
	}
	return t, nil
}

// GetTask loads one task.
func (s *Store) GetTask(ctx context.Context, id uuid.UUID) (Task, error) {
	return getTask(ctx, s.pool, id)
}

// TaskFilter selects tasks for ListTasks.
type TaskFilter struct {
	Namespace    string
	Name         string
	States       []state.TaskState
	Initiator    string
	SourceSystem string
	Page         int // 1-based
	PerPage      int
}

// TaskPage is one page of tasks.
type TaskPage struct {
	Tasks      []Task
	TotalCount int
}

// ListTasks lists tasks newest first.
func (s *Store) ListTasks(ctx context.Context, f TaskFilter) (TaskPage, error) {
	if f.Page < 1 {
		f.Page = 1
	}
	if f.PerPage < 1 {
		f.PerPage = 25
	}
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	if f.Namespace != "" {
		where = append(where, "t.namespace = "+arg(f.Namespace))
	}
	if f.Name != "" {
		where = append(where, "nt.name = "+arg(f.Name))
	}
	if len(f.States) > 0 {
		ss := make([]string, len(f.States))
		for i, st := range f.States {
			ss[i] = string(st)
		}
		where = append(where, "t.state = ANY("+arg(ss)+")")
		if !slices.ContainsFunc(f.States, state.TaskState.Terminal) {
			// Only open tasks: read through the open-tasks index (its
			// predicate), not every task of the history.
			where = append(where, "t.completed_at IS NULL")
		}
	}
	if f.Initiator != "" {
		where = append(where, "t.initiator = "+arg(f.Initiator))
	}
	if f.SourceSystem != "" {
		where = append(where, "t.source_system = "+arg(f.SourceSystem))
	}
	cond := ""
	if len(where) > 0 {
		cond = "WHERE " + strings.Join(where, " AND ")
	}
	var page TaskPage
	if err := s.pool.QueryRow(ctx, `SELECT count(*)`+taskFrom+cond, args...).Scan(&page.TotalCount); err != nil {
		return page, fmt.Errorf("counting tasks: %w", err)
	}
	limit, offset := arg(f.PerPage), arg((f.Page-1)*f.PerPage)
	rows, err := s.pool.Query(ctx, `SELECT `+taskColumns+taskFrom+cond+
		` ORDER BY t.created_at DESC, t.task_uuid DESC LIMIT `+limit+` OFFSET `+offset, args...)
	if err != nil {
		return page, fmt.Errorf("listing tasks: %w", err)
	}
	page.Tasks, err = pgx.CollectRows(rows, pgx.RowToStructByName[Task])
	if err != nil {
		return page, fmt.Errorf("listing tasks: %w", err)
	}
	return page, nil
}
