package store

import (
	"encoding/json"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// GraphExtension is a set of steps to add to a running task, with the
// edges that join them to each other and to the steps already there. A
// Decider attaches one to the Decision that completes a step (a decision
// point choosing its branches, a batchable step creating its workers): it
// is written in the transaction that processes the step's result, before
// the task is evaluated, so the new steps whose parents are satisfied are
// enqueued in that same transaction.
//
// Applying it is idempotent: a step whose name the task already has is not
// created again (the unique (task, name) index arbitrates, not a read made
// beforehand), and an edge that exists is not added twice. A result
// processed twice, or by two orchestrators at once, therefore creates each
// step exactly once.
type GraphExtension struct {
	// Steps are the steps to create. Name must be unique within the task;
	// TemplateStepName is the template step it instantiates (the same as
	// Name for a plain template step; the worker template's name for a
	// batch worker `{template}_{NNN}`). UUID is assigned when nil;
	// NamedStepUUID, when nil, is the named step of TemplateStepName.
	// Inputs are the step's own inputs (a batch worker's cursor, for one).
	Steps []NewStep
	// Edges join steps by name: the new steps and those the task already
	// has.
	Edges []NamedEdge
	// CreatedBy names the step whose result caused the extension; it is
	// recorded in each created step's first history row.
	CreatedBy string
}

// NamedEdge is a dependency between two steps of a task, by name: To runs
// after From. When the task has no step named From, the edge comes from
// the step named Else instead, or is left out when Else is empty (a
// deferred convergence step depends only on the branches that exist).
type NamedEdge struct {
	From, To string
	Else     string
}

// validate checks the extension before any of it is written.
func (x *GraphExtension) validate() error {
	seen := make(map[string]bool, len(x.Steps))
	for i := range x.Steps {
		st := &x.Steps[i]
		switch {
		case st.Name == "":
			return fmt.Errorf("%w: graph extension step %d has no name", ErrInvalidInput, i)
		case seen[st.Name]:
			return fmt.Errorf("%w: graph extension names step %q twice", ErrInvalidInput, st.Name)
		case st.HandlerCallable == "":
			return fmt.Errorf("%w: graph extension step %q has no handler", ErrInvalidInput, st.Name)
		}
		seen[st.Name] = true
	}
	for _, e := range x.Edges {
		if e.From == "" || e.To == "" {
			return fmt.Errorf("%w: graph extension edge %q -> %q lacks a step name", ErrInvalidInput, e.From, e.To)
		}
	}
	return nil
}

// extensionRows collects the extensions of one batch of results for two
// set-based statements: the steps first, then the edges (which must see
// the steps the first statement created).
type extensionRows struct {
	steps             []extensionStep
	eTask             []uuid.UUID
	eFrom, eTo, eElse []string
}

type extensionStep struct {
	NewStep
	TaskUUID  uuid.UUID `json:"task_uuid"`
	CreatedBy string    `json:"created_by"`
}

func (r *extensionRows) add(task uuid.UUID, x *GraphExtension) error {
	if err := x.validate(); err != nil {
		return err
	}
	for _, st := range x.Steps {
		if st.UUID == uuid.Nil {
			st.UUID = uuid.Must(uuid.NewV7())
		}
		if len(st.Inputs) == 0 {
			st.Inputs = json.RawMessage(`{}`)
		}
		if st.HandlerMethod == "" {
			st.HandlerMethod = "call"
		}
		if st.StepType == "" {
			st.StepType = "standard"
		}
		if st.TemplateStepName == "" {
			st.TemplateStepName = st.Name
		}
		r.steps = append(r.steps, extensionStep{NewStep: st, TaskUUID: task, CreatedBy: x.CreatedBy})
	}
	for _, e := range x.Edges {
		r.eTask = append(r.eTask, task)
		r.eFrom = append(r.eFrom, e.From)
		r.eTo = append(r.eTo, e.To)
		r.eElse = append(r.eElse, e.Else)
	}
	return nil
}

// extensionStepsSQL creates the steps a task does not have yet, each with a
// first history row (created, pending) that the live event stream shows,
// and returns the ids it created. The named step defaults to the template
// step's.
const extensionStepsSQL = `
	WITH s AS (
		SELECT * FROM jsonb_to_recordset($1::jsonb) AS s(task_uuid uuid, workflow_step_uuid uuid,
			named_step_uuid uuid, name text, template_step_name text, step_type text,
			handler_callable text, handler_method text, retryable boolean, max_attempts int, backoff text,
			backoff_base_ms int, max_backoff_ms int, backoff_jitter boolean, timeout_seconds int,
			inputs jsonb, priority int, created_by text)
	), ins AS (
		INSERT INTO workflow_steps (workflow_step_uuid, task_uuid, named_step_uuid, name, template_step_name,
			step_type, state, handler_callable, handler_method, retryable, max_attempts, backoff,
			backoff_base_ms, max_backoff_ms, backoff_jitter, timeout_seconds, inputs, priority)
		SELECT s.workflow_step_uuid, s.task_uuid,
			COALESCE(NULLIF(s.named_step_uuid, '00000000-0000-0000-0000-000000000000'), ns.named_step_uuid),
			s.name, s.template_step_name, s.step_type, 'pending', s.handler_callable, s.handler_method,
			s.retryable, s.max_attempts, s.backoff, s.backoff_base_ms, s.max_backoff_ms, s.backoff_jitter,
			s.timeout_seconds, s.inputs, s.priority
		FROM s LEFT JOIN named_steps ns ON ns.name = s.template_step_name
		ON CONFLICT (task_uuid, name) DO NOTHING
		RETURNING workflow_step_uuid, task_uuid
	), hist AS (
		INSERT INTO workflow_step_transitions (workflow_step_uuid, task_uuid, from_state, to_state, event, metadata)
		SELECT ins.workflow_step_uuid, ins.task_uuid, NULL, 'pending', 'create',
			jsonb_strip_nulls(jsonb_build_object('created_by', NULLIF(s.created_by, '')))
		FROM ins JOIN s USING (workflow_step_uuid)
	)
	SELECT workflow_step_uuid FROM ins`

// extensionEdgesSQL adds the edges whose endpoints exist (From, else Else),
// once each.
const extensionEdgesSQL = `
	INSERT INTO workflow_step_edges (task_uuid, from_step_uuid, to_step_uuid, name)
	SELECT DISTINCT e.task_uuid, COALESCE(f.workflow_step_uuid, x.workflow_step_uuid), t.workflow_step_uuid, 'provides'
	FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[]) AS e(task_uuid, from_name, to_name, else_name)
	JOIN workflow_steps t ON t.task_uuid = e.task_uuid AND t.name = e.to_name
	LEFT JOIN workflow_steps f ON f.task_uuid = e.task_uuid AND f.name = e.from_name
	LEFT JOIN workflow_steps x ON x.task_uuid = e.task_uuid AND x.name = NULLIF(e.else_name, '')
	WHERE COALESCE(f.workflow_step_uuid, x.workflow_step_uuid) IS NOT NULL
		AND COALESCE(f.workflow_step_uuid, x.workflow_step_uuid) <> t.workflow_step_uuid
	ON CONFLICT DO NOTHING`

// queue adds the extensions' statements to b; created is set to the number
// of steps created when b runs.
func (r *extensionRows) queue(b *pgx.Batch, created *int) error {
	if len(r.steps) > 0 {
		js, err := json.Marshal(r.steps)
		if err != nil {
			return fmt.Errorf("encoding graph extension: %w", err)
		}
		b.Queue(extensionStepsSQL, js).Query(func(rows pgx.Rows) error {
			for rows.Next() {
				*created++
			}
			return rows.Err()
		})
	}
	if len(r.eTask) > 0 {
		b.Queue(extensionEdgesSQL, r.eTask, r.eFrom, r.eTo, r.eElse)
	}
	return nil
}
