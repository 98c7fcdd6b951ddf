package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tasker-go/tasker/shared/state"
)

// ClaimRequest asks to claim the step a queue message announced.
type ClaimRequest struct {
	StepUUID uuid.UUID
	// TaskUUID is the step's task, as the message says (used to read the
	// task's graph by index; a wrong value only costs the hydration of
	// ancestors).
	TaskUUID  uuid.UUID
	MessageID int64
	// ReadCount is the message's delivery count (its receipt).
	ReadCount int
	// Deadline is when the claim lapses: the message's visibility timeout,
	// so the claim expires exactly when the message reappears.
	Deadline time.Time
}

// ClaimedTask is the task-level context a handler sees.
type ClaimedTask struct {
	UUID                uuid.UUID       `json:"task_uuid"`
	Namespace           string          `json:"namespace"`
	Name                string          `json:"name"`
	Version             string          `json:"version"`
	Context             json.RawMessage `json:"context"`
	CorrelationID       uuid.UUID       `json:"correlation_id"`
	ParentCorrelationID *uuid.UUID      `json:"parent_correlation_id"`
	Initiator           string          `json:"initiator"`
	SourceSystem        string          `json:"source_system"`
	Reason              string          `json:"reason"`
	Tags                []string        `json:"tags"`
	Priority            int             `json:"priority"`
}

// ClaimedStep is a step this worker now owns, hydrated with everything its
// handler needs.
type ClaimedStep struct {
	MessageID int64
	// ReadCount is the claimed message's delivery count: pass it back in
	// StepResult so the ack is by receipt.
	ReadCount int
	Step      Step
	Task      ClaimedTask
	// Dependencies maps every completed ancestor's name to its stored result.
	Dependencies map[string]json.RawMessage
	// Reclaimed is set when the previous claim expired (its worker died).
	Reclaimed bool
}

// Deferral hides a message until a step can be claimed (its claim is held by
// a live worker, or its retry time has not come).
type Deferral struct {
	MessageID int64
	Until     time.Time
}

// ClaimOutcome is what ClaimSteps did with each message.
type ClaimOutcome struct {
	Claimed []ClaimedStep
	// Drop lists messages to delete: their step is not claimable and never
	// will be through this message (done, cancelled, claimed through another
	// message, task finished).
	Drop []int64
	// Defer lists messages to hide until a later time.
	Defer []Deferral
	// Exhausted counts steps whose claim expired with no attempts left; they
	// were failed and reported to orchestration.
	Exhausted int
}

// ClaimSteps claims steps for a worker in one round trip: it moves each
// announced step to in_progress (counting the attempt, recording the claimer
// and deadline) and loads its task context and ancestor results.
//
// A step can be claimed when it is enqueued, when it is waiting for a retry
// whose time has come, or when it is in progress under a claim that expired
// (its worker died) and it has attempts left. A claim that expired with no
// attempts left fails the step (error type worker_lost) and reports it to
// orchestration. Steps of finished tasks are not claimed; steps of a task
// blocked by a failure are (they were enqueued before the failure, and the
// task ends once nothing is left in flight).
func (s *Store) ClaimSteps(ctx context.Context, workerID string, reqs []ClaimRequest) (ClaimOutcome, error) {
	var out ClaimOutcome
	if len(reqs) == 0 {
		return out, nil
	}
	stepIDs := make([]uuid.UUID, len(reqs))
	taskIDs := make([]uuid.UUID, 0, len(reqs))
	msgIDs := make([]int64, len(reqs))
	deadlines := make([]time.Time, len(reqs))
	for i, r := range reqs {
		stepIDs[i], msgIDs[i], deadlines[i] = r.StepUUID, r.MessageID, r.Deadline
		taskIDs = append(taskIDs, r.TaskUUID)
	}
	taskIDs = uniqueSorted(taskIDs)
	readCounts := make(map[int64]int, len(reqs))
	for _, r := range reqs {
		readCounts[r.MessageID] = r.ReadCount
	}
	b := &pgx.Batch{}
	var verdicts []claimVerdict
	b.Queue(claimSQL, stepIDs, msgIDs, deadlines, workerID).Query(func(rows pgx.Rows) error {
		var err error
		verdicts, err = pgx.CollectRows(rows, pgx.RowToStructByPos[claimVerdict])
		return err
	})
	claimedRows := map[uuid.UUID]Step{}
	tasks := map[uuid.UUID]ClaimedTask{}
	b.Queue(`SELECT `+stepColumns+`, t.namespace, nt.name, nt.version, t.context, t.correlation_id,
			t.parent_correlation_id, COALESCE(t.initiator, ''), COALESCE(t.source_system, ''),
			COALESCE(t.reason, ''), t.tags, t.priority
		FROM workflow_steps s JOIN tasks t USING (task_uuid) JOIN named_tasks nt USING (named_task_uuid)
		WHERE s.workflow_step_uuid = ANY($1) AND s.state = 'in_progress' AND s.claimed_by = $2`,
		stepIDs, workerID).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var st Step
			var t ClaimedTask
			dest := append(stepDest(&st), &t.Namespace, &t.Name, &t.Version, &t.Context, &t.CorrelationID,
				&t.ParentCorrelationID, &t.Initiator, &t.SourceSystem, &t.Reason, &t.Tags, &t.Priority)
			if err := rows.Scan(dest...); err != nil {
				return err
			}
			t.UUID = st.TaskUUID
			claimedRows[st.UUID] = st
			tasks[st.UUID] = t
		}
		return rows.Err()
	})
	deps := map[uuid.UUID]map[string]json.RawMessage{}
	queueAncestry(b, stepIDs, taskIDs, deps)
	if s.eventsChannel != "" {
		b.Queue(`SELECT pg_notify($1, string_agg(DISTINCT task_uuid::text, ','))
			FROM workflow_steps WHERE workflow_step_uuid = ANY($2) AND state = 'in_progress' AND claimed_by = $3
			HAVING count(*) > 0`, s.eventsChannel, stepIDs, workerID)
	}
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return out, fmt.Errorf("claiming steps: %w", err)
	}
	// A message that named the wrong task (or none) would leave its step
	// without ancestors: read those again by the task the claim found.
	known := map[uuid.UUID]bool{}
	for _, id := range taskIDs {
		known[id] = true
	}
	var missingSteps, missingTasks []uuid.UUID
	for id, st := range claimedRows {
		if !known[st.TaskUUID] {
			missingSteps = append(missingSteps, id)
			missingTasks = append(missingTasks, st.TaskUUID)
		}
	}
	if len(missingSteps) > 0 {
		b := &pgx.Batch{}
		queueAncestry(b, missingSteps, uniqueSorted(missingTasks), deps)
		if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
			return out, fmt.Errorf("reading ancestors: %w", err)
		}
	}
	var exhausted []uuid.UUID
	exhaustedMsgs := map[uuid.UUID]int64{}
	for _, v := range verdicts {
		switch {
		case v.Claimed:
			st, ok := claimedRows[v.StepUUID]
			if !ok {
				out.Drop = append(out.Drop, v.MessageID)
				continue
			}
			d := deps[v.StepUUID]
			if d == nil {
				d = map[string]json.RawMessage{}
			}
			out.Claimed = append(out.Claimed, ClaimedStep{
				MessageID: v.MessageID, ReadCount: readCounts[v.MessageID], Step: st, Task: tasks[v.StepUUID], Dependencies: d,
				Reclaimed: v.Action == "reclaim",
			})
		case v.State == nil || v.TaskState == nil:
			out.Drop = append(out.Drop, v.MessageID)
		case state.TaskState(*v.TaskState).Terminal():
			out.Drop = append(out.Drop, v.MessageID)
		case *v.State == string(state.StepInProgress) && v.ClaimDeadline != nil && v.ClaimDeadline.After(v.Now):
			out.Defer = append(out.Defer, Deferral{MessageID: v.MessageID, Until: *v.ClaimDeadline})
		case *v.State == string(state.StepInProgress) && !v.Eligible:
			exhausted = append(exhausted, v.StepUUID)
			exhaustedMsgs[v.StepUUID] = v.MessageID
		case *v.State == string(state.StepWaitingForRetry) && v.NextRetryAt != nil && v.NextRetryAt.After(v.Now):
			out.Defer = append(out.Defer, Deferral{MessageID: v.MessageID, Until: *v.NextRetryAt})
		default:
			out.Drop = append(out.Drop, v.MessageID)
		}
	}
	if len(exhausted) > 0 {
		n, err := s.failLostClaims(ctx, exhausted)
		if err != nil {
			return out, err
		}
		out.Exhausted = n
		for _, id := range exhausted {
			out.Drop = append(out.Drop, exhaustedMsgs[id])
		}
	}
	return out, nil
}

type claimVerdict struct {
	StepUUID      uuid.UUID
	MessageID     int64
	Claimed       bool
	Action        string
	State         *string
	TaskState     *string
	ClaimDeadline *time.Time
	NextRetryAt   *time.Time
	Eligible      bool
	Now           time.Time
}

// claimSQL claims every claimable step among the requests in one statement.
// The UPDATE re-checks state and attempts (the attempts counter is the
// claim's version), so two workers racing for one step through two messages
// cannot both win.
const claimSQL = `
WITH req AS (
	SELECT * FROM unnest($1::uuid[], $2::bigint[], $3::timestamptz[]) AS r(step_uuid, msg_id, deadline)
), cand AS (
	SELECT s.workflow_step_uuid, s.state AS from_state, s.attempts, s.claimed_by AS prev_claimer,
		r.msg_id, r.deadline,
		CASE
			WHEN s.state = 'enqueued' THEN 'claim'
			WHEN s.state = 'waiting_for_retry' AND (s.next_retry_at IS NULL OR s.next_retry_at <= now())
				AND (s.attempts = 0 OR (s.retryable AND s.attempts < s.max_attempts)) THEN 'retry'
			WHEN s.state = 'in_progress' AND s.claim_deadline < now()
				AND s.retryable AND s.attempts < s.max_attempts THEN 'reclaim'
			ELSE 'skip'
		END AS action
	FROM req r
	JOIN workflow_steps s ON s.workflow_step_uuid = r.step_uuid
	JOIN tasks t ON t.task_uuid = s.task_uuid
	WHERE t.state NOT IN ('complete', 'error', 'cancelled', 'resolved_manually')
), upd AS (
	UPDATE workflow_steps w SET state = 'in_progress', in_process = true, attempts = w.attempts + 1,
		last_attempted_at = now(), claimed_by = $4, claim_deadline = c.deadline, next_retry_at = NULL,
		state_changed_at = now(), updated_at = now()
	FROM cand c
	WHERE w.workflow_step_uuid = c.workflow_step_uuid AND c.action <> 'skip'
		AND w.state = c.from_state AND w.attempts = c.attempts
		AND (c.action <> 'reclaim' OR w.claim_deadline < now())
	RETURNING w.workflow_step_uuid, w.task_uuid, c.action, c.msg_id, c.prev_claimer
), hist AS (
	INSERT INTO workflow_step_transitions (workflow_step_uuid, task_uuid, from_state, to_state, event, metadata)
	SELECT u.workflow_step_uuid, u.task_uuid, x.from_state, x.to_state, x.event,
		CASE WHEN x.event = 'start' THEN jsonb_build_object('worker_id', $4::text)
		     WHEN u.action = 'reclaim' AND x.ord = 1 THEN
		         jsonb_build_object('reason', 'claim_expired', 'previous_claimer', u.prev_claimer)
		END
	FROM upd u CROSS JOIN LATERAL (VALUES
		(1, 'in_progress', 'waiting_for_retry', 'wait_for_retry', u.action = 'reclaim'),
		(2, 'waiting_for_retry', 'pending', 'retry', u.action IN ('retry', 'reclaim')),
		(3, 'pending', 'enqueued', 'enqueue', u.action IN ('retry', 'reclaim')),
		(4, 'enqueued', 'in_progress', 'start', true)
	) AS x(ord, from_state, to_state, event, applies)
	WHERE x.applies
	ORDER BY u.workflow_step_uuid, x.ord
)
SELECT r.step_uuid, r.msg_id, u.workflow_step_uuid IS NOT NULL, COALESCE(u.action, 'skip'),
	s.state::text, t.state::text, s.claim_deadline, s.next_retry_at,
	COALESCE(s.attempts = 0 OR (s.retryable AND s.attempts < s.max_attempts), false), now()
FROM req r
LEFT JOIN upd u ON u.workflow_step_uuid = r.step_uuid AND u.msg_id = r.msg_id
LEFT JOIN workflow_steps s ON s.workflow_step_uuid = r.step_uuid
LEFT JOIN tasks t ON t.task_uuid = s.task_uuid
ORDER BY r.msg_id`

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
// shutting down): each goes back to enqueued without the attempt counting, so
// the caller can make its message visible at once.
func (s *Store) ReleaseClaims(ctx context.Context, workerID string, steps []uuid.UUID) (int, error) {
	if len(steps) == 0 {
		return 0, nil
	}
	var n int
	err := s.pool.QueryRow(ctx, `
		WITH upd AS (
			UPDATE workflow_steps SET state = 'enqueued', in_process = false, attempts = GREATEST(attempts - 1, 0),
				claimed_by = NULL, claim_deadline = NULL, state_changed_at = now(), updated_at = now()
			WHERE workflow_step_uuid = ANY($1) AND state = 'in_progress' AND claimed_by = $2
			RETURNING workflow_step_uuid, task_uuid
		), hist AS (
			INSERT INTO workflow_step_transitions (workflow_step_uuid, task_uuid, from_state, to_state, event, metadata)
			SELECT u.workflow_step_uuid, u.task_uuid, x.f, x.t, x.e,
				CASE WHEN x.o = 1 THEN jsonb_build_object('reason', 'released', 'worker_id', $2::text) END
			FROM upd u CROSS JOIN LATERAL (VALUES
				(1, 'in_progress', 'waiting_for_retry', 'wait_for_retry'),
				(2, 'waiting_for_retry', 'pending', 'retry'),
				(3, 'pending', 'enqueued', 'enqueue')) AS x(o, f, t, e)
			ORDER BY u.workflow_step_uuid, x.o
		)
		SELECT count(*) FROM upd`, steps, workerID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("releasing claims: %w", err)
	}
	return n, nil
}

// queueAncestry adds to b the query that reads, for each step, the results
// of its completed ancestors by name. Ancestry is walked over the edges of
// the given tasks only (read by task id), and each ancestor's row is then
// read by primary key: the plan stays index-driven whatever the table
// statistics say.
func queueAncestry(b *pgx.Batch, stepIDs, taskIDs []uuid.UUID, deps map[uuid.UUID]map[string]json.RawMessage) {
	b.Queue(`WITH RECURSIVE e AS MATERIALIZED (
			SELECT from_step_uuid, to_step_uuid FROM workflow_step_edges WHERE task_uuid = ANY($2)
		), anc AS (
			SELECT e.to_step_uuid AS step, e.from_step_uuid AS anc FROM e WHERE e.to_step_uuid = ANY($1)
			UNION
			SELECT a.step, e.from_step_uuid FROM anc a JOIN e ON e.to_step_uuid = a.anc
		)
		SELECT a.step, p.name, COALESCE(p.results, 'null'::jsonb) FROM anc a
		CROSS JOIN LATERAL (
			SELECT name, results, state FROM workflow_steps
			WHERE workflow_step_uuid = a.anc OFFSET 0
		) p
		WHERE p.state IN ('complete', 'resolved_manually')`, stepIDs, taskIDs).Query(func(rows pgx.Rows) error {
		var step uuid.UUID
		var name string
		var res []byte
		_, err := pgx.ForEachRow(rows, []any{&step, &name, &res}, func() error {
			if deps[step] == nil {
				deps[step] = map[string]json.RawMessage{}
			}
			deps[step][name] = json.RawMessage(res)
			return nil
		})
		return err
	})
}
