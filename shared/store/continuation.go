package store

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/tasker-go/tasker/shared/messaging"
)

// Continuation lets CompleteAndProcessSteps claim, for the worker that
// reports the results, up to Max of the steps its successes made ready: a
// linear workflow's next step runs on the worker that finished the one
// before, without waiting for a message, a wake-up and a claim. Only steps
// of Queues whose callable the worker runs (Claimer.Callables; nil: any)
// are taken; the others are enqueued as usual. It applies with the
// PostgreSQL queue driver only (a broker's message would reach another
// consumer).
type Continuation struct {
	Claimer Claimer
	// Queues are the worker queues the worker claims from.
	Queues []string
	// Max is how many steps the worker has free handler slots for.
	Max int
	// Visibility is the claim's lifetime, as for ClaimNext.
	Visibility time.Duration
}

// continued is what takeReady claimed, captured when its batch runs and
// decoded after the commit.
type continued struct {
	steps    []uuid.UUID     // the steps claimed
	messages []*capturedRows // msg_id, step_uuid of each queue's claimed messages
	hydrated capturedRows
}

// takeReady picks, among the steps plan p enqueues, those next can claim,
// takes them out of p, and queues on o their claim (pending → in_progress
// with the history of both moves), their messages (already claimed) and
// the read of what their handlers need. Nothing is taken without next, on
// a broker, or when nothing qualifies.
func (s *Store) takeReady(o *outbox, tasks map[uuid.UUID]*lockedTask, p *evalPlan, next *Continuation) (*continued, error) {
	if next == nil || next.Max <= 0 || s.tables == nil || len(p.enqueue) == 0 {
		return nil, nil
	}
	var allowed map[string]bool
	if next.Claimer.Callables != nil {
		allowed = make(map[string]bool, len(next.Claimer.Callables))
		for _, c := range next.Claimer.Callables {
			allowed[c] = true
		}
	}
	var steps []uuid.UUID
	byQueue := map[string][]json.RawMessage{}
	for _, taskID := range slices.SortedFunc(maps.Keys(p.enqueue), compareUUID) {
		t, g := tasks[taskID], p.graphs[taskID]
		q := messaging.WorkerQueue(t.Namespace)
		if !slices.Contains(next.Queues, q) {
			continue
		}
		var rest []uuid.UUID
		for _, id := range p.enqueue[taskID] {
			callable := g.callables[id]
			if len(steps) >= next.Max || (allowed != nil && !allowed[callable]) {
				rest = append(rest, id)
				continue
			}
			msg, err := g.stepMessage(taskID, id, t.CorrelationID)
			if err != nil {
				return nil, err
			}
			steps = append(steps, id)
			byQueue[q] = append(byQueue[q], msg)
		}
		if len(rest) == 0 {
			delete(p.enqueue, taskID)
		} else {
			p.enqueue[taskID] = rest
		}
	}
	if len(steps) == 0 {
		return nil, nil
	}
	c := &continued{steps: steps}
	vtMs := next.Visibility.Milliseconds()
	o.b.Queue(continueClaimSQL, steps, next.Claimer.ID, next.Claimer.Lock, vtMs)
	for _, q := range slices.Sorted(maps.Keys(byQueue)) {
		table, err := s.tables.Table(o.ctx, q)
		if err != nil {
			return nil, fmt.Errorf("ensuring queue %s: %w", q, err)
		}
		rows := &capturedRows{}
		o.captureRows(rows, `INSERT INTO `+table+` (vt, read_ct, message, callable)
			SELECT now() + $2 * interval '1 millisecond', 1, m, m->>'`+messaging.RouteKey+`' FROM unnest($1::jsonb[]) AS m
			RETURNING msg_id, (message->>'step_uuid')::uuid`, byQueue[q], vtMs)
		c.messages = append(c.messages, rows)
	}
	s.queueHydrateCaptured(o, next.Claimer.ID, &c.hydrated)
	return c, nil
}

// claimed decodes the steps takeReady claimed (none when it took
// nothing). The claims are committed: an error here means steps are
// claimed that no handler will run, for the caller to release.
func (c *continued) claimed() ([]ClaimedStep, error) {
	if c == nil {
		return nil, nil
	}
	messages := map[uuid.UUID]int64{}
	var id int64
	var step uuid.UUID
	for _, rows := range c.messages {
		if err := rows.each(func(scan func(dest ...any) error) error {
			if err := scan(&id, &step); err != nil {
				return err
			}
			messages[step] = id
			return nil
		}); err != nil {
			return nil, fmt.Errorf("reading the claimed steps' messages: %w", err)
		}
	}
	h, err := hydrateCaptured(&c.hydrated)
	if err != nil {
		return nil, err
	}
	out := make([]ClaimedStep, 0, len(h.rows))
	for _, id := range slices.SortedFunc(maps.Keys(h.rows), compareUUID) {
		st := h.rows[id]
		d := h.deps[id]
		if d == nil {
			d = map[string]json.RawMessage{}
		}
		cs := ClaimedStep{MessageID: messages[id], ReadCount: 1, Step: st, Task: h.tasks[id], Dependencies: d}
		if st.ClaimDeadline != nil {
			cs.Deadline = *st.ClaimDeadline
		}
		out = append(out, cs)
	}
	return out, nil
}

// continueClaimSQL claims steps ($1) that the same transaction found ready
// for worker $2 (liveness lock $3, 0: none) for $4 ms: pending → in_progress
// with the history of pending → enqueued → in_progress, and leaves them in
// the transaction-local settings the hydration reads (see hydrateSQL).
const continueClaimSQL = `
	WITH upd AS (
		UPDATE workflow_steps w SET state = 'in_progress', in_process = true, attempts = w.attempts + 1,
			last_attempted_at = now(), claimed_by = $2, claimer_lock = NULLIF($3::bigint, 0),
			claim_deadline = now() + $4 * interval '1 millisecond', next_retry_at = NULL,
			state_changed_at = now(), updated_at = now()
		WHERE w.workflow_step_uuid = ANY($1) AND w.state = 'pending'
		RETURNING w.workflow_step_uuid, w.task_uuid
	), hist AS (
		INSERT INTO workflow_step_transitions (workflow_step_uuid, task_uuid, from_state, to_state, event, metadata)
		SELECT u.workflow_step_uuid, u.task_uuid, x.from_state, x.to_state, x.event,
			CASE WHEN x.event = 'start' THEN jsonb_build_object('worker_id', $2::text) END
		FROM upd u CROSS JOIN LATERAL (VALUES
			(1, 'pending', 'enqueued', 'enqueue'),
			(2, 'enqueued', 'in_progress', 'start')
		) AS x(ord, from_state, to_state, event)
		ORDER BY u.workflow_step_uuid, x.ord
	)
	SELECT set_config('tasker.claimed_steps', COALESCE(array_agg(workflow_step_uuid), '{}')::text, true),
		set_config('tasker.claimed_tasks', COALESCE(array_agg(DISTINCT task_uuid), '{}')::text, true)
	FROM upd`
