package store

import (
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/tasker-go/tasker/shared/messaging"
)

// claimVerdict is what the claim statement says of one message.
type claimVerdict struct {
	StepUUID      uuid.UUID  `db:"step_uuid"`
	MessageID     int64      `db:"msg_id"`
	ReadCount     int        `db:"read_ct"`
	TaskUUID      *uuid.UUID `db:"task_uuid"`
	Deadline      time.Time  `db:"deadline"`
	Claimed       bool       `db:"claimed"`
	Action        string     `db:"action"`
	State         *string    `db:"state"`
	TaskState     *string    `db:"task_state"`
	ClaimDeadline *time.Time `db:"claim_deadline"`
	NextRetryAt   *time.Time `db:"next_retry_at"`
	Eligible      bool       `db:"eligible"`
	Now           time.Time  `db:"now"`
}

// claimStatement is the claim: one statement that reads the messages of a
// unit of work's claim (src: the PostgreSQL driver's claim statement, or a
// broker's deliveries as rows), claims every claimable step they announce,
// and records the claims. src's parameters come first; the worker id and
// its liveness lock follow them. A message whose ids are not UUIDs gets a
// zero step id (and is dropped).
func claimStatement(src messaging.ClaimSource, c Claimer) (string, []any) {
	n := len(src.Args)
	args := append(append(make([]any, 0, n+2), src.Args...), c.ID, c.Lock)
	return `
WITH msgs AS (` + src.SQL + `), ` + claimRequestsSQL +
		fmt.Sprintf(claimBodySQL, "$"+strconv.Itoa(n+1), "$"+strconv.Itoa(n+2)), args
}

// claimRequestsSQL reads the step and task each message names.
const claimRequestsSQL = `req AS (
	SELECT CASE WHEN message->>'step_uuid' ~* '^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$'
			THEN (message->>'step_uuid')::uuid ELSE '00000000-0000-0000-0000-000000000000'::uuid END AS step_uuid,
		msg_id, vt AS deadline, read_ct,
		CASE WHEN message->>'task_uuid' ~* '^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$'
			THEN (message->>'task_uuid')::uuid END AS task_uuid
	FROM msgs
), `

// claimBodySQL is the claim proper; %[1]s is the
// worker id parameter and %[2]s its liveness lock (0: none). It leaves the
// claimed steps and their tasks in the transaction-local settings read by
// claimedStepsSQL and claimedTasksSQL.
//
// The requested steps and their tasks are read by primary key, one lateral
// lookup per message (OFFSET 0 keeps each lookup from being flattened into
// a join the planner may reorder). With an ordinary join, the generic plan
// made after ANALYZE had seen a table of finished tasks estimated one open
// task and drove the join from the open-tasks index: every open task's
// steps were read for every claim, 25 ms per claim with 500 tasks in flight
// and 300,000 finished steps, against 0.5 ms by primary key.
var claimBodySQL = `cand AS (
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
	CROSS JOIN LATERAL (
		SELECT workflow_step_uuid, task_uuid, state, attempts, claimed_by, next_retry_at, retryable,
			max_attempts, claim_deadline
		FROM workflow_steps WHERE workflow_step_uuid = r.step_uuid OFFSET 0
	) s
	CROSS JOIN LATERAL (SELECT state FROM tasks WHERE task_uuid = s.task_uuid OFFSET 0) t
	WHERE t.state NOT IN (` + terminalTaskStates + `)
), upd AS (
	UPDATE workflow_steps w SET state = 'in_progress', in_process = true, attempts = w.attempts + 1,
		last_attempted_at = now(), claimed_by = %[1]s, claimer_lock = NULLIF(%[2]s::bigint, 0),
		claim_deadline = c.deadline, next_retry_at = NULL,
		state_changed_at = now(), updated_at = now()
	FROM cand c
	WHERE w.workflow_step_uuid = c.workflow_step_uuid AND c.action <> 'skip'
		AND w.state = c.from_state AND w.attempts = c.attempts
		AND (c.action <> 'reclaim' OR w.claim_deadline < now())
	RETURNING w.workflow_step_uuid, w.task_uuid, c.action, c.msg_id, c.prev_claimer
), hist AS (
	INSERT INTO workflow_step_transitions (workflow_step_uuid, task_uuid, from_state, to_state, event, metadata)
	SELECT u.workflow_step_uuid, u.task_uuid, x.from_state, x.to_state, x.event,
		CASE WHEN x.event = 'start' THEN jsonb_build_object('worker_id', %[1]s::text)
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
), mark AS (
	SELECT set_config('tasker.claimed_steps', COALESCE(array_agg(workflow_step_uuid), '{}')::text, true),
		set_config('tasker.claimed_tasks', COALESCE(array_agg(DISTINCT task_uuid), '{}')::text, true)
	FROM upd
)
SELECT r.step_uuid, r.msg_id, r.read_ct, r.task_uuid, r.deadline, u.workflow_step_uuid IS NOT NULL AS claimed,
	COALESCE(u.action, 'skip') AS action, s.state::text AS state, t.state::text AS task_state, s.claim_deadline,
	s.next_retry_at, COALESCE(s.attempts = 0 OR (s.retryable AND s.attempts < s.max_attempts), false) AS eligible,
	now() AS now
FROM req r
CROSS JOIN mark
LEFT JOIN upd u ON u.workflow_step_uuid = r.step_uuid AND u.msg_id = r.msg_id
LEFT JOIN workflow_steps s ON s.workflow_step_uuid = r.step_uuid
LEFT JOIN tasks t ON t.task_uuid = s.task_uuid
ORDER BY r.msg_id`
