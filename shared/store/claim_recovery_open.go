package store

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tasker-go/tasker/shared/messaging"
)

// Claims in flight through the open tasks. A queue backend whose messages
// are not tables of the schema (a broker) cannot show which messages are
// hidden under a claim, so the recovery reads find the steps in progress
// through the tasks still open instead: tasks_open_idx lists them, and each
// one's steps are read by task (workflow_steps_task_name_idx). A finished
// task has no step in progress, so the cost follows the tasks in flight and
// not the history; and no index on a column that claims change is needed
// (one would cost workflow_steps its HOT updates).
//
// Each statement reads the steps of an open task in a lateral subquery
// kept apart by OFFSET 0: the planner cannot turn it into a join that
// scans workflow_steps whatever its statistics say about open tasks.

// openStepsSQL is the FROM clause of the steps of open tasks whose step
// row satisfies the condition %[1]s (over the workflow_steps columns,
// unqualified), as rows t (the task) and s (the step's columns listed in
// %[2]s).
const openStepsSQL = `tasks t
	CROSS JOIN LATERAL (
		SELECT %[2]s FROM workflow_steps
		WHERE task_uuid = t.task_uuid AND %[1]s OFFSET 0
	) s`

// openTaskSQL is the WHERE condition on t that matches tasks_open_idx's
// predicate (for the planner) and says the task is not finished.
var openTaskSQL = `t.completed_at IS NULL AND t.state NOT IN (` + terminalTaskStates + `)`

// openClaimsSQL counts the steps in progress of open tasks by the liveness
// lock they were claimed under, and says whether a session holds each lock.
var openClaimsSQL = `WITH held AS (
		SELECT DISTINCT (l.classid::int8 << 32) | l.objid::int8 AS lock FROM pg_locks l
		WHERE l.locktype = 'advisory' AND l.objsubid = 1 AND l.granted
		  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
	)
	SELECT COALESCE(s.claimer_lock, 0) AS lock, count(*)::int AS steps, bool_or(h.lock IS NOT NULL) AS held
	FROM ` + fmt.Sprintf(openStepsSQL, `state = 'in_progress'`, `claimer_lock`) + `
	LEFT JOIN held h ON h.lock = s.claimer_lock
	WHERE ` + openTaskSQL + `
	GROUP BY 1 ORDER BY 1`

// claimsInFlightOfOpenTasks is ClaimsInFlight without queue tables.
func (s *Store) claimsInFlightOfOpenTasks(ctx context.Context) (ClaimerLocks, error) {
	var out ClaimerLocks
	b := &pgx.Batch{}
	b.Queue(openClaimsSQL).Query(func(rows pgx.Rows) error {
		var err error
		out.Claimers, err = pgx.CollectRows(rows, pgx.RowToStructByName[ClaimerLock])
		return err
	})
	queueClocks(b, &out)
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return ClaimerLocks{}, fmt.Errorf("finding claims in flight: %w", err)
	}
	return out, nil
}

// expireOpenClaimsSQL ends the claims under liveness lock $1 made before $2
// of the steps of open tasks, unless a session holds the lock (checked in
// the statement: a claimer that took its lock back keeps its claims).
var expireOpenClaimsSQL = `WITH cand AS (
		SELECT s.workflow_step_uuid FROM ` + fmt.Sprintf(openStepsSQL, `state = 'in_progress' AND claimer_lock = $1`,
	`workflow_step_uuid`) + `
		WHERE ` + openTaskSQL + `
	), exp AS (
		UPDATE workflow_steps s SET claim_deadline = now(), updated_at = now()
		WHERE s.workflow_step_uuid IN (SELECT workflow_step_uuid FROM cand)
		  AND s.state = 'in_progress' AND s.claimer_lock = $1 AND s.last_attempted_at < $2
		  AND s.claim_deadline > now() AND NOT ` + fmt.Sprintf(heldLockSQL, "$1::bigint") + `
		RETURNING s.workflow_step_uuid, s.task_uuid, s.handler_callable
	)
	SELECT e.workflow_step_uuid, e.task_uuid, t.namespace, t.correlation_id, e.handler_callable
	FROM exp e CROSS JOIN LATERAL (SELECT namespace, correlation_id FROM tasks WHERE task_uuid = e.task_uuid OFFSET 0) t
	ORDER BY e.workflow_step_uuid`

// reenqueued is a step whose claim a recovery statement ended, with what
// its new message carries.
type reenqueued struct {
	Step          uuid.UUID `db:"workflow_step_uuid"`
	Task          uuid.UUID `db:"task_uuid"`
	Namespace     string    `db:"namespace"`
	CorrelationID uuid.UUID `db:"correlation_id"`
	Callable      string    `db:"handler_callable"`
}

// sendStepMessages sends a fresh step message for each of steps to its
// namespace's worker queue, in o's unit of work.
func sendStepMessages(o *outbox, steps []reenqueued) error {
	sends := map[string][]json.RawMessage{}
	for _, r := range steps {
		msg, err := json.Marshal(messaging.StepMessage{TaskUUID: r.Task, StepUUID: r.Step, CorrelationID: r.CorrelationID,
			Callable: r.Callable})
		if err != nil {
			return err
		}
		q := messaging.WorkerQueue(r.Namespace)
		sends[q] = append(sends[q], msg)
	}
	for _, q := range slices.Sorted(maps.Keys(sends)) {
		if err := o.send(q, sends[q], 0); err != nil {
			return err
		}
	}
	return nil
}

// reenqueue runs sql, a statement that moves steps and returns them as
// reenqueued rows, and sends each of them a fresh step message, in one unit
// of work.
func (s *Store) reenqueue(ctx context.Context, sql string, args ...any) ([]reenqueued, error) {
	var rows []reenqueued
	err := s.inTxOutbox(ctx, func(o *outbox) error {
		o.b.Queue(sql, args...).Query(func(r pgx.Rows) error {
			var err error
			rows, err = pgx.CollectRows(r, pgx.RowToStructByName[reenqueued])
			return err
		})
		if err := o.flush(); err != nil {
			return err
		}
		return sendStepMessages(o, rows)
	})
	return rows, err
}

// expireDeadClaimsOfOpenTasks is ExpireDeadClaims without queue tables:
// the old deliveries of the steps cannot be found, so each step gets a new
// message in the same unit of work. Whichever delivery a worker claims
// first reclaims the step (its deadline has passed); the other one is a
// duplicate the claim drops or defers.
func (s *Store) expireDeadClaimsOfOpenTasks(ctx context.Context, lock int64, claimedBefore time.Time) ([]uuid.UUID, error) {
	rows, err := s.reenqueue(ctx, expireOpenClaimsSQL, lock, claimedBefore)
	if err != nil {
		return nil, fmt.Errorf("expiring dead claims: %w", err)
	}
	out := make([]uuid.UUID, len(rows))
	for i, r := range rows {
		out[i] = r.Step
	}
	return out, nil
}

// releaseOpenOrphansSQL gives back ($1 worker id, $2 liveness lock, $3 the
// steps it runs, $4 the namespace) the steps of open tasks in progress
// under that claimer that it does not run.
var releaseOpenOrphansSQL = `WITH cand AS (
		SELECT s.workflow_step_uuid FROM ` + fmt.Sprintf(openStepsSQL,
	`state = 'in_progress' AND claimed_by = $1 AND claimer_lock IS NOT DISTINCT FROM NULLIF($2::bigint, 0)`,
	`workflow_step_uuid`) + `
		WHERE ` + openTaskSQL + ` AND t.namespace = $4
	), upd AS (
		UPDATE workflow_steps SET ` + unclaimSet + `
		WHERE workflow_step_uuid IN (SELECT workflow_step_uuid FROM cand)
		  AND workflow_step_uuid <> ALL(COALESCE($3::uuid[], '{}'))
		  AND state = 'in_progress' AND claimed_by = $1 AND claimer_lock IS NOT DISTINCT FROM NULLIF($2::bigint, 0)
		RETURNING workflow_step_uuid, task_uuid, handler_callable
	), hist AS (` + unclaimedHistory("claim_outcome_unknown", "$1") + `)
	SELECT u.workflow_step_uuid, u.task_uuid, $4::text AS namespace, t.correlation_id, u.handler_callable
	FROM upd u CROSS JOIN LATERAL (SELECT correlation_id FROM tasks WHERE task_uuid = u.task_uuid OFFSET 0) t
	ORDER BY u.workflow_step_uuid`

// releaseOrphanedClaimsOfOpenTasks is ReleaseOrphanedClaims without queue
// tables: the steps are found through the open tasks of queue's namespace,
// and each gets a new message in the same unit of work (the delivery of the
// lost claim, given back to the broker when the claim's outcome was not
// confirmed, is dropped or deferred as a duplicate when it comes).
func (s *Store) releaseOrphanedClaimsOfOpenTasks(ctx context.Context, c Claimer, queue string, running []uuid.UUID) (int, error) {
	ns, ok := workerQueueNamespace(queue)
	if !ok {
		return 0, fmt.Errorf("%w: releasing orphaned claims: %q is not a worker queue (worker_<namespace>_queue)",
			ErrInvalidInput, queue)
	}
	rows, err := s.reenqueue(ctx, releaseOpenOrphansSQL, c.ID, c.Lock, running, ns)
	if err != nil {
		return 0, fmt.Errorf("releasing orphaned claims: %w", err)
	}
	return len(rows), nil
}

// workerQueueNamespace is the namespace of a worker queue's name
// (worker_<namespace>_queue).
func workerQueueNamespace(queue string) (string, bool) {
	const prefix, suffix = "worker_", "_queue"
	if messaging.ValidateQueueName(queue) != nil || len(queue) <= len(prefix)+len(suffix) ||
		!strings.HasPrefix(queue, prefix) || !strings.HasSuffix(queue, suffix) {
		return "", false
	}
	return queue[len(prefix) : len(queue)-len(suffix)], true
}

// unservedOpenStepsSQL counts the steps of open tasks that wait for a worker
// (enqueued, waiting for a retry, or in progress: the steps whose message
// is still out) and that no live worker of their namespace serves, by
// namespace and callable. How long they have waited is counted from when
// each was last enqueued: the state change for a step enqueued or waiting
// for its retry (its message was sent in that transaction), its last
// enqueue transition for a step in progress.
var unservedOpenStepsSQL = `WITH live AS MATERIALIZED (
		SELECT namespaces, callables FROM workers w WHERE ` + fmt.Sprintf(heldLockSQL, "w.liveness_lock") + `
	), unserved AS (
		SELECT t.namespace, s.handler_callable AS callable, s.workflow_step_uuid, s.state, s.state_changed_at
		FROM ` + fmt.Sprintf(openStepsSQL, `state IN ('enqueued', 'waiting_for_retry', 'in_progress')`,
	`workflow_step_uuid, handler_callable, state, state_changed_at`) + `
		WHERE ` + openTaskSQL + `
		  AND NOT EXISTS (SELECT 1 FROM live l WHERE t.namespace = ANY(l.namespaces)
			AND (l.callables IS NULL OR s.handler_callable = ANY(l.callables)))
	)
	SELECT u.namespace, u.callable, count(*) AS steps,
		GREATEST(EXTRACT(EPOCH FROM now() - min(CASE WHEN u.state <> 'in_progress' THEN u.state_changed_at
			ELSE COALESCE((SELECT tr.created_at FROM workflow_step_transitions tr
				WHERE tr.workflow_step_uuid = u.workflow_step_uuid AND tr.to_state = 'enqueued'
				ORDER BY tr.id DESC LIMIT 1), u.state_changed_at) END)), 0)::float8 AS oldest_seconds
	FROM unserved u
	GROUP BY 1, 2 ORDER BY 1, 2`

// unservedStepsOfOpenTasks is UnservedSteps without queue tables.
func (s *Store) unservedStepsOfOpenTasks(ctx context.Context) ([]UnservedSteps, error) {
	rows, err := s.pool.Query(ctx, unservedOpenStepsSQL)
	if err != nil {
		return nil, fmt.Errorf("counting unserved steps: %w", err)
	}
	out, err := pgx.CollectRows(rows, rowToUnserved)
	if err != nil {
		return nil, fmt.Errorf("counting unserved steps: %w", err)
	}
	return out, nil
}
