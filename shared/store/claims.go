package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/tasker-go/tasker/shared/messaging"

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
	// The rest of the task row, for handlers that see it whole (the C
	// ABI's step events carry tasker-core's task record).
	NamedTaskUUID uuid.UUID `json:"named_task_uuid"`
	Complete      bool      `json:"complete"`
	RequestedAt   time.Time `json:"requested_at"`
	IdentityHash  string    `json:"identity_hash"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
	// TraceParent is the W3C traceparent stored with the task, the parent
	// of the worker's spans; empty when the task was created untraced.
	TraceParent string `json:"trace_parent,omitempty"`
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
	// Deadline is when the claim lapses unless extended (the message's
	// visibility timeout).
	Deadline time.Time
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
	// Messages is how many messages the claim considered.
	Messages int
	// Settled says Drop and Defer were already applied to the queue in the
	// claim's transaction (ClaimNext with the Postgres queue): they are for
	// information only.
	Settled bool
}

// Claimer identifies who claims steps: the worker id recorded as the
// claimer (claimed_by), and the key of the liveness lock its process holds
// while it lives (see Store.HoldLiveness). Orchestration reclaims the steps
// of a claimer whose lock is free at once; with Lock 0 only the claim
// deadline tells that the worker is gone.
//
// Callables routes the claims of ClaimNext: when not nil, only messages of
// steps with one of these handler callables are claimed (an empty, non-nil
// list claims nothing), so a worker never takes a step it cannot run. Nil
// claims every message of the queue (a worker whose executor does not list
// what it runs).
type Claimer struct {
	ID        string
	Lock      int64
	Callables []string
}

// ClaimSteps claims steps for a worker (without a liveness lock) in one
// transaction: it moves each announced step to in_progress (counting the
// attempt, recording the claimer and deadline) and loads its task context
// and ancestor results.
//
// A step can be claimed when it is enqueued, when it is waiting for a retry
// whose time has come, or when it is in progress under a claim that expired
// (its worker died) and it has attempts left. A claim that expired with no
// attempts left fails the step (error type worker_lost) and reports it to
// orchestration. Steps of finished tasks are not claimed; steps of a task
// blocked by a failure are (they were enqueued before the failure, and the
// task ends once nothing is left in flight).
func (s *Store) ClaimSteps(ctx context.Context, workerID string, reqs []ClaimRequest) (ClaimOutcome, error) {
	return s.claimSteps(ctx, Claimer{ID: workerID}, reqs)
}

func (s *Store) claimSteps(ctx context.Context, c Claimer, reqs []ClaimRequest) (ClaimOutcome, error) {
	if len(reqs) == 0 {
		return ClaimOutcome{}, nil
	}
	stepIDs := make([]uuid.UUID, len(reqs))
	msgIDs := make([]int64, len(reqs))
	deadlines := make([]time.Time, len(reqs))
	reads := make([]int32, len(reqs))
	msgTasks := make([]uuid.UUID, len(reqs))
	for i, r := range reqs {
		stepIDs[i], msgIDs[i], deadlines[i] = r.StepUUID, r.MessageID, r.Deadline
		reads[i], msgTasks[i] = int32(r.ReadCount), r.TaskUUID //nolint:gosec // read_ct is an int4 column: the value came from it
	}
	p, err := s.pipe(ctx)
	if err != nil {
		return ClaimOutcome{}, err
	}
	defer p.close()
	b := &pgx.Batch{}
	var verdicts []claimVerdict
	b.Queue(claimSQL, stepIDs, msgIDs, deadlines, c.ID, reads, msgTasks, c.Lock).Query(func(rows pgx.Rows) error {
		var err error
		verdicts, err = pgx.CollectRows(rows, pgx.RowToStructByPos[claimVerdict])
		return err
	})
	h := s.queueHydrate(b, c.ID)
	// The batch reads what it claimed, so its COMMIT takes a round trip of
	// its own (see pipeTx).
	if err := p.commit(b); err != nil {
		return ClaimOutcome{}, fmt.Errorf("claiming steps: %w", err)
	}
	return s.finishClaim(ctx, judge(verdicts), h), nil
}

// ClaimNext claims up to n messages of queue and their steps for a worker,
// hiding the messages for vt. With the Postgres queue it is one transaction
// of two round trips: the first claims the messages and their steps in one
// statement and reads everything the handlers need (steps, task contexts,
// ancestor results); the second deletes or hides again the messages that
// cannot be claimed, and commits (Settled is set: the caller has nothing
// left to do with Drop and Defer). The second carries no result callbacks,
// so its COMMIT travels with it, and any failure of the first (reading or
// decoding its results included) rolls the whole claim back: an error means
// nothing was claimed. With any other queue it claims through the queue and
// then claims the steps like ClaimSteps.
func (s *Store) ClaimNext(ctx context.Context, c Claimer, queue string, n int, vt time.Duration) (ClaimOutcome, error) {
	if n <= 0 {
		return ClaimOutcome{}, nil
	}
	if c.Callables != nil && len(c.Callables) == 0 {
		return ClaimOutcome{}, nil
	}
	if s.tables == nil {
		return s.claimThroughQueue(ctx, c, queue, n, vt)
	}
	args := []any{n, vt.Microseconds(), c.ID, c.Lock}
	var qsql string
	var err error
	if c.Callables != nil {
		qsql, err = s.tables.RoutedClaimSQL(ctx, queue, "$5", len(c.Callables))
		args = append(args, c.Callables)
	} else {
		qsql, err = s.tables.ClaimSQL(ctx, queue)
	}
	if err != nil {
		return ClaimOutcome{}, err
	}
	p, err := s.pipe(ctx)
	if err != nil {
		return ClaimOutcome{}, err
	}
	defer p.close()
	b := &pgx.Batch{}
	var verdicts []claimVerdict
	b.Queue(fmt.Sprintf(claimFromQueueSQL, qsql)+fmt.Sprintf(claimBodySQL, "$3", "$4"), args...).
		Query(func(rows pgx.Rows) error {
			var err error
			verdicts, err = pgx.CollectRows(rows, pgx.RowToStructByPos[claimVerdict])
			return err
		})
	h := s.queueHydrate(b, c.ID)
	if err := p.send(b); err != nil {
		return ClaimOutcome{}, fmt.Errorf("claiming steps: %w", err)
	}
	j := judge(verdicts)
	b = &pgx.Batch{}
	var receipts []messaging.Receipt
	for _, id := range j.drop {
		receipts = append(receipts, messaging.Receipt{ID: id, ReadCount: j.reads[id]})
	}
	if err := s.tables.QueueAck(ctx, b, queue, receipts); err != nil {
		return ClaimOutcome{}, err
	}
	for _, d := range j.deferrals {
		if err := s.tables.QueueNack(ctx, b, queue, d.MessageID, d.Until); err != nil {
			return ClaimOutcome{}, err
		}
	}
	if err := p.commit(b); err != nil {
		return ClaimOutcome{}, fmt.Errorf("claiming steps: %w", err)
	}
	out := s.finishClaim(ctx, j, h)
	if out.Exhausted > 0 {
		// Their messages were not acked above: do it now that the steps
		// are failed. Should this fail, the messages reappear at their
		// visibility timeout and are dropped then.
		b := &pgx.Batch{}
		var rs []messaging.Receipt
		for _, step := range j.exhausted {
			rs = append(rs, messaging.Receipt{ID: j.exhaustedMsgs[step], ReadCount: j.reads[j.exhaustedMsgs[step]]})
		}
		err := s.tables.QueueAck(ctx, b, queue, rs)
		if err == nil {
			err = s.pool.SendBatch(ctx, b).Close()
		}
		if err != nil {
			s.log.Warn("deleting the messages of failed lost claims failed; they are dropped when they reappear",
				"queue", queue, "messages", len(rs), "err", err)
		}
	}
	out.Settled = true
	return out, nil
}

// claimThroughQueue is ClaimNext for queues that are not tables.
func (s *Store) claimThroughQueue(ctx context.Context, c Claimer, queue string, n int, vt time.Duration) (ClaimOutcome, error) {
	var msgs []messaging.Message
	var err error
	switch rq, ok := s.queue.(messaging.RoutedQueue); {
	case c.Callables == nil:
		msgs, err = s.queue.Claim(ctx, queue, n, vt)
	case ok:
		msgs, err = rq.ClaimRouted(ctx, queue, c.Callables, n, vt)
	default:
		return ClaimOutcome{}, fmt.Errorf("claiming from %s: the queue backend cannot claim by callable", queue)
	}
	if err != nil || len(msgs) == 0 {
		return ClaimOutcome{}, err
	}
	reqs := make([]ClaimRequest, 0, len(msgs))
	var bad []int64
	for _, m := range msgs {
		var sm messaging.StepMessage
		if err := json.Unmarshal(m.Payload, &sm); err != nil || sm.StepUUID == uuid.Nil {
			bad = append(bad, m.ID)
			continue
		}
		reqs = append(reqs, ClaimRequest{StepUUID: sm.StepUUID, TaskUUID: sm.TaskUUID, MessageID: m.ID,
			ReadCount: m.ReadCount, Deadline: m.VisibleAt})
	}
	out, err := s.claimSteps(ctx, c, reqs)
	if err != nil {
		// Nothing was claimed: make the messages visible again at once.
		var errs []error
		for _, r := range reqs {
			if nerr := s.queue.Nack(ctx, queue, r.MessageID, 0); nerr != nil {
				errs = append(errs, nerr)
			}
		}
		if len(errs) > 0 {
			s.log.Warn("making unclaimed messages visible again failed; they reappear at their visibility timeout",
				"queue", queue, "messages", len(errs), "err", errors.Join(errs...))
		}
		return ClaimOutcome{}, err
	}
	out.Drop = append(out.Drop, bad...)
	out.Messages += len(bad)
	return out, nil
}

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
	h := &hydration{rows: map[uuid.UUID]Step{}, tasks: map[uuid.UUID]ClaimedTask{},
		deps: map[uuid.UUID]map[string]json.RawMessage{}}
	b.Queue(hydrateSQL, workerID, s.eventsChannel).Query(func(rows pgx.Rows) error {
		if testHookClaimRead != nil {
			if err := testHookClaimRead(); err != nil {
				return err
			}
		}
		for rows.Next() {
			var st Step
			var t ClaimedTask
			var deps []byte
			var announced int
			dest := append(stepDest(&st), &t.Namespace, &t.Name, &t.Version, &t.Context, &t.CorrelationID,
				&t.ParentCorrelationID, &t.Initiator, &t.SourceSystem, &t.Reason, &t.Tags, &t.Priority,
				&t.NamedTaskUUID, &t.Complete, &t.RequestedAt, &t.IdentityHash, &t.CreatedAt, &t.UpdatedAt, &t.TraceParent,
				&deps, &announced)
			if err := rows.Scan(dest...); err != nil {
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
		}
		return rows.Err()
	})
	return h
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

// judgement sorts a claim's verdicts.
type judgement struct {
	verdicts      []claimVerdict
	claimed       []uuid.UUID
	drop          []int64
	deferrals     []Deferral
	exhausted     []uuid.UUID
	exhaustedMsgs map[uuid.UUID]int64
	reads         map[int64]int
}

// judge decides what happens to each message of a claim: claimed, deleted
// (its step is not claimable through it and never will be), hidden until
// the step can be claimed (a live claim, a retry not yet due), or its step
// failed because its claim lapsed with no attempts left.
func judge(verdicts []claimVerdict) judgement {
	j := judgement{verdicts: verdicts, exhaustedMsgs: map[uuid.UUID]int64{}, reads: map[int64]int{}}
	for _, v := range verdicts {
		j.reads[v.MessageID] = v.ReadCount
		switch {
		case v.StepUUID == uuid.Nil:
			j.drop = append(j.drop, v.MessageID)
		case v.Claimed:
			j.claimed = append(j.claimed, v.StepUUID)
		case v.State == nil || v.TaskState == nil:
			j.drop = append(j.drop, v.MessageID)
		case state.TaskState(*v.TaskState).Terminal():
			j.drop = append(j.drop, v.MessageID)
		case *v.State == string(state.StepInProgress) && v.ClaimDeadline != nil && v.ClaimDeadline.After(v.Now):
			j.deferrals = append(j.deferrals, Deferral{MessageID: v.MessageID, Until: *v.ClaimDeadline})
		case *v.State == string(state.StepInProgress) && !v.Eligible:
			j.exhausted = append(j.exhausted, v.StepUUID)
			j.exhaustedMsgs[v.StepUUID] = v.MessageID
		case *v.State == string(state.StepWaitingForRetry) && v.NextRetryAt != nil && v.NextRetryAt.After(v.Now):
			j.deferrals = append(j.deferrals, Deferral{MessageID: v.MessageID, Until: *v.NextRetryAt})
		default:
			j.drop = append(j.drop, v.MessageID)
		}
	}
	return j
}

// finishClaim assembles the claimed steps and, after the claim committed,
// fails lapsed claims with no attempts left. That is a transaction of its
// own: should it fail, the error is logged (the claim itself stands) and the
// steps are failed when their messages reappear.
func (s *Store) finishClaim(ctx context.Context, j judgement, h *hydration) ClaimOutcome {
	out := ClaimOutcome{Messages: len(j.verdicts)}
	for _, v := range j.verdicts {
		if !v.Claimed || v.StepUUID == uuid.Nil {
			continue
		}
		st, ok := h.rows[v.StepUUID]
		if !ok {
			continue // cannot happen: the claim and its reads share a transaction
		}
		d := h.deps[v.StepUUID]
		if d == nil {
			d = map[string]json.RawMessage{}
		}
		out.Claimed = append(out.Claimed, ClaimedStep{
			MessageID: v.MessageID, ReadCount: v.ReadCount, Step: st, Task: h.tasks[v.StepUUID], Dependencies: d,
			Reclaimed: v.Action == "reclaim", Deadline: v.Deadline,
		})
	}
	out.Drop = append(out.Drop, j.drop...)
	out.Defer = j.deferrals
	if len(j.exhausted) > 0 {
		n, err := s.failLostClaims(ctx, j.exhausted)
		if err != nil {
			s.log.Warn("failing steps whose claim lapsed with no attempts left failed; retried when their messages reappear",
				"steps", len(j.exhausted), "err", err)
			return out
		}
		out.Exhausted = n
		for _, id := range j.exhausted {
			out.Drop = append(out.Drop, j.exhaustedMsgs[id])
		}
	}
	return out
}

type claimVerdict struct {
	StepUUID      uuid.UUID
	MessageID     int64
	ReadCount     int
	TaskUUID      *uuid.UUID
	Deadline      time.Time
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
var claimSQL = `
WITH req AS (
	SELECT * FROM unnest($1::uuid[], $2::bigint[], $3::timestamptz[], $5::int[], $6::uuid[])
		AS r(step_uuid, msg_id, deadline, read_ct, task_uuid)
), ` + fmt.Sprintf(claimBodySQL, "$4", "$7")

// claimFromQueueSQL is claimSQL fed by a queue claim instead of arrays: the
// queue's claim statement (parameters $1 and $2) is embedded as the msgs
// CTE, the worker is $3 and its liveness lock $4. A message whose ids are not UUIDs gets a zero
// step id (and is dropped).
const claimFromQueueSQL = `
WITH msgs AS (%s), req AS (
	SELECT CASE WHEN message->>'step_uuid' ~* '^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$'
			THEN (message->>'step_uuid')::uuid ELSE '00000000-0000-0000-0000-000000000000'::uuid END AS step_uuid,
		msg_id, vt AS deadline, read_ct,
		CASE WHEN message->>'task_uuid' ~* '^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$'
			THEN (message->>'task_uuid')::uuid END AS task_uuid
	FROM msgs
), `

// claimBodySQL is the part of the claim shared by both forms; %[1]s is the
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
SELECT r.step_uuid, r.msg_id, r.read_ct, r.task_uuid, r.deadline, u.workflow_step_uuid IS NOT NULL, COALESCE(u.action, 'skip'),
	s.state::text, t.state::text, s.claim_deadline, s.next_retry_at,
	COALESCE(s.attempts = 0 OR (s.retryable AND s.attempts < s.max_attempts), false), now()
FROM req r
CROSS JOIN mark
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
