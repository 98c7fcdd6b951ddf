package store

import (
	"encoding/json"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// hydration collects what the hydrate statements read.
type hydration struct {
	rows  map[uuid.UUID]Step
	tasks map[uuid.UUID]ClaimedTask
	deps  map[uuid.UUID]map[string]json.RawMessage
}

// claimedStepsSQL and claimedTasksSQL are the steps the claim statement of
// the current transaction claimed and their tasks. The claim leaves them in
// transaction-local settings, so the statements that read what handlers
// need travel in the claim's round trip (they cannot get the ids as
// parameters) and run before its COMMIT.
const (
	claimedStepsSQL = `COALESCE(NULLIF(current_setting('tasker.claimed_steps', true), ''), '{}')::uuid[]`
	claimedTasksSQL = `COALESCE(NULLIF(current_setting('tasker.claimed_tasks', true), ''), '{}')::uuid[]`
)

// testHookClaimRead, when set (tests only), runs in the callback that reads
// a claim's steps and may fail it: it stands for any Go-side failure while
// a claim's results are read.
var testHookClaimRead func() error

// queueHydrate adds to b, after a claim statement, the one statement that
// reads what the handlers of the claimed steps need (the step, its task's
// context, the results of its completed ancestors by name) and announces the
// claimed tasks on the task events channel. With nothing claimed it reads
// nothing.
func (s *Store) queueHydrate(b *pgx.Batch, workerID string) *hydration {
	h := newHydration()
	b.Queue(hydrateSQL, workerID, s.eventsChannel).Query(func(rows pgx.Rows) error {
		if testHookClaimRead != nil {
			if err := testHookClaimRead(); err != nil {
				return err
			}
		}
		for rows.Next() {
			if err := h.add(rows.Scan); err != nil {
				return err
			}
		}
		return rows.Err()
	})
	return h
}

func newHydration() *hydration {
	return &hydration{rows: map[uuid.UUID]Step{}, tasks: map[uuid.UUID]ClaimedTask{},
		deps: map[uuid.UUID]map[string]json.RawMessage{}}
}

// add reads one row of hydrateSQL through scan.
func (h *hydration) add(scan func(dest ...any) error) error {
	var st Step
	var t ClaimedTask
	var deps []byte
	var announced int
	dest := append(stepDest(&st), &t.Namespace, &t.Name, &t.Version, &t.Context, &t.CorrelationID,
		&t.ParentCorrelationID, &t.Initiator, &t.SourceSystem, &t.Reason, &t.Tags, &t.Priority,
		&t.NamedTaskUUID, &t.Complete, &t.RequestedAt, &t.IdentityHash, &t.CreatedAt, &t.UpdatedAt, &t.TraceParent,
		&deps, &announced)
	if err := scan(dest...); err != nil {
		return err
	}
	d := map[string]json.RawMessage{}
	if err := json.Unmarshal(deps, &d); err != nil {
		return fmt.Errorf("decoding the ancestor results of step %s: %w", st.UUID, err)
	}
	t.UUID = st.TaskUUID
	h.rows[st.UUID] = st
	h.tasks[st.UUID] = t
	h.deps[st.UUID] = d
	return nil
}

// queueHydrateCaptured is queueHydrate with the rows captured (see
// outbox.captureRows), so the batch keeps its COMMIT; decode them with
// hydrateCaptured after the batch returned.
func (s *Store) queueHydrateCaptured(o *outbox, workerID string, dst *capturedRows) {
	o.captureRows(dst, hydrateSQL, workerID, s.eventsChannel)
}

// hydrateCaptured decodes rows captured by queueHydrateCaptured.
func hydrateCaptured(c *capturedRows) (*hydration, error) {
	if testHookClaimRead != nil {
		if err := testHookClaimRead(); err != nil {
			return nil, err
		}
	}
	h := newHydration()
	if err := c.each(h.add); err != nil {
		return nil, fmt.Errorf("reading the claimed steps: %w", err)
	}
	return h, nil
}

// hydrateSQL reads the steps the claim of the current transaction claimed
// for worker $1, with their tasks and their completed ancestors' results,
// and notifies channel $2 (when not empty) of their tasks, in payloads of
// at most notifyChunk tasks (PostgreSQL refuses payloads over 8000 bytes). Ancestry is
// walked over the edges of the claimed steps' tasks only (read by task id),
// and each ancestor's row is then read by primary key: the plan stays
// index-driven whatever the table statistics say. A batchable ancestor's
// result is handed without its outcome's cursor_configs: each worker has
// its own range in its inputs, and a batch of N workers would otherwise
// carry N ranges to each of them.
var hydrateSQL = `WITH RECURSIVE claimed AS (
		SELECT ` + claimedStepsSQL + ` AS steps, ` + claimedTasksSQL + ` AS tasks
	), announce AS (
		SELECT pg_notify($2, string_agg(u.t::text, ',')) FROM claimed c, unnest(c.tasks) WITH ORDINALITY AS u(t, i)
		WHERE $2 <> '' GROUP BY (u.i - 1) / ` + notifyChunkSQL + `
	), e AS MATERIALIZED (
		SELECT from_step_uuid, to_step_uuid FROM workflow_step_edges
		WHERE (SELECT cardinality(tasks) > 0 FROM claimed) AND task_uuid = ANY((SELECT tasks FROM claimed)::uuid[])
	), anc AS (
		SELECT e.to_step_uuid AS step, e.from_step_uuid AS anc FROM e WHERE e.to_step_uuid = ANY((SELECT steps FROM claimed)::uuid[])
		UNION
		SELECT a.step, e.from_step_uuid FROM anc a JOIN e ON e.to_step_uuid = a.anc
	), deps AS (
		SELECT a.step, jsonb_object_agg(p.name, COALESCE(CASE WHEN p.step_type = 'batchable'
			THEN p.results #- '{result,batch_processing_outcome,cursor_configs}' ELSE p.results END,
			'null'::jsonb)) AS deps FROM anc a
		CROSS JOIN LATERAL (
			SELECT name, results, state, step_type FROM workflow_steps
			WHERE workflow_step_uuid = a.anc OFFSET 0
		) p
		WHERE p.state IN ('complete', 'resolved_manually')
		GROUP BY a.step
	)
	SELECT ` + stepColumns + `, t.namespace, nt.name, nt.version, t.context, t.correlation_id,
		t.parent_correlation_id, COALESCE(t.initiator, ''), COALESCE(t.source_system, ''),
		COALESCE(t.reason, ''), t.tags, t.priority, t.named_task_uuid, t.complete, t.requested_at,
		t.identity_hash, t.created_at, t.updated_at, COALESCE(t.trace_parent, ''), COALESCE(d.deps, '{}'::jsonb),
		(SELECT count(*) FROM announce)::int
	FROM workflow_steps s JOIN tasks t USING (task_uuid) JOIN named_tasks nt USING (named_task_uuid)
	LEFT JOIN deps d ON d.step = s.workflow_step_uuid
	WHERE s.workflow_step_uuid = ANY((SELECT steps FROM claimed)::uuid[]) AND s.state = 'in_progress' AND s.claimed_by = $1`
