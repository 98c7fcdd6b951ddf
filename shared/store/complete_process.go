package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tasker-go/tasker/shared/messaging"
	"github.com/tasker-go/tasker/shared/state"
	"github.com/tasker-go/tasker/shared/template"
)

// CompleteAndProcessSteps records results like CompleteSteps and, in the
// same transaction, does orchestration's part for the plain successes among
// them: each such step moves on to complete, the children that became
// ready are enqueued, and the task moves to the state its steps call for
// (finalized when it was the last step). No result message travels for
// them, and orchestration has nothing left to do: the step saves the trip
// through the result queue (a commit, a wake-up and orchestration's own
// transaction).
//
// A success is processed here only when its task's lock can be taken at
// once (FOR UPDATE SKIP LOCKED: the worker never waits for orchestration
// nor for another worker), the task was created untraced (orchestration
// records the spans of traced tasks), the step is neither a decision point
// nor batchable (their outcomes extend the graph, which needs the
// template), and its result publishes no domain events. Every other
// recorded result goes to orchestration as a result message, as with
// CompleteSteps. The transaction takes two round trips (one when nothing
// is eligible, or when the worker predicted the graph: see prediction.go).
//
// With next (and the PostgreSQL queue driver) the worker also claims, in
// the same transaction, steps its successes made ready that it can run
// (see Continuation): they go from pending straight to in_progress under
// its claim, with their step message written already claimed (hidden until
// the claim's deadline, delivery count 1), so the heartbeat, the ack at
// completion and every recovery path treat them like any claim; they are
// returned hydrated in CompleteOutcome.Claimed. Their rows are captured
// and decoded after the commit, so the COMMIT still travels with the
// second round trip; should the decoding fail, CompleteOutcome.ClaimErr
// says so and the caller releases what it claimed.
func (s *Store) CompleteAndProcessSteps(ctx context.Context, results []StepResult, next *Continuation) (CompleteOutcome, error) {
	if pr, ok := s.graphs.predict(results); ok {
		out, err := s.completePredicted(ctx, results, pr, next)
		if !errors.Is(err, errMispredicted) {
			return out, err
		}
	}
	cand := processCandidatesOf(results)
	if len(cand.steps) == 0 {
		s.graphs.drop(results, nil)
		return s.CompleteSteps(ctx, results)
	}
	out := CompleteOutcome{Acked: map[string][]int64{}}
	payload, err := json.Marshal(results)
	if err != nil {
		return out, fmt.Errorf("encoding results: %w", err)
	}
	receipts := stepReceipts(results, out.Acked)
	var recorded []uuid.UUID
	var processed []uuid.UUID
	var tasks map[uuid.UUID]*lockedTask
	var took *continued
	var p evalPlan
	err = s.inTxOutbox(ctx, func(o *outbox) error {
		// Round trip 1: record every result, lock the candidates' tasks
		// that are free and complete their steps, read those tasks'
		// graphs (after the completion, in the same snapshot order).
		o.b.Queue(recordProcessSQL, payload, stepIDsOf(results), cand.steps, uniqueSorted(cand.tasks)).
			Query(func(rows pgx.Rows) error {
				var err error
				recorded, processed, tasks, err = scanRecorded(rows)
				return err
			})
		graphs := queueGraphs(o.b, uniqueSorted(cand.tasks))
		if err := o.flush(); err != nil {
			return fmt.Errorf("recording results: %w", err)
		}
		// Round trip 2: enqueue what became ready, move the tasks, send
		// the other results to orchestration, delete the step messages,
		// announce, commit.
		p = s.plan(tasks, graphs, false)
		out.Tasks = p.outcomes
		var err error
		if took, err = s.takeReady(o, tasks, &p, next); err != nil {
			return err
		}
		if err := s.queuePlan(o, tasks, p); err != nil {
			return err
		}
		if err := o.send(messaging.StepResultsQueue, resultMessages(results, recorded, processed), 0); err != nil {
			return err
		}
		if err := o.ackAll(receipts); err != nil {
			return err
		}
		touched := make([]string, 0, len(results))
		for _, id := range tasksOf(results, recorded) {
			touched = append(touched, id.String())
		}
		o.notify(touched)
		return nil
	})
	if err != nil {
		return CompleteOutcome{}, fmt.Errorf("completing steps: %w", err)
	}
	out.Recorded, out.Processed = recorded, processed
	s.graphs.put(tasks, &p, took)
	s.graphs.drop(results, processed)
	if out.Claimed, err = took.claimed(); err != nil {
		out.ClaimErr = err
		s.log.Error("steps claimed with a completion cannot be read; the worker releases them", "err", err)
	}
	out.Stale = staleOf(results, recorded)
	return out, nil
}

// processCandidates are the results CompleteAndProcessSteps may process
// itself, as the statement's parameters: successes whose result publishes
// no domain events (the cheap test: the key is absent; a result that only
// mentions it goes the long way, which is always correct).
type processCandidates struct {
	steps, tasks []uuid.UUID
}

func processCandidatesOf(results []StepResult) processCandidates {
	var c processCandidates
	for _, r := range results {
		if !r.Success || bytes.Contains(r.Result, []byte(`"domain_events"`)) {
			continue
		}
		c.steps = append(c.steps, r.StepUUID)
		c.tasks = append(c.tasks, r.TaskUUID)
	}
	return c
}

// resultMessages are the result messages of the recorded results that were
// not processed in the transaction.
func resultMessages(results []StepResult, recorded, processed []uuid.UUID) []json.RawMessage {
	send := make(map[uuid.UUID]bool, len(recorded))
	for _, id := range recorded {
		send[id] = true
	}
	for _, id := range processed {
		delete(send, id)
	}
	var msgs []json.RawMessage
	for _, r := range results {
		if !send[r.StepUUID] {
			continue
		}
		delete(send, r.StepUUID)
		b, _ := json.Marshal(messaging.StepMessage{TaskUUID: r.TaskUUID, StepUUID: r.StepUUID, //nolint:errchkjson // uuids, a string and an int
			CorrelationID: r.CorrelationID, Attempt: r.Attempt})
		msgs = append(msgs, b)
	}
	return msgs
}

// scanRecorded reads recordProcessSQL's rows: the recorded steps, those
// of them completed, and the locked tasks of those.
func scanRecorded(rows pgx.Rows) (recorded, processed []uuid.UUID, tasks map[uuid.UUID]*lockedTask, err error) {
	tasks = map[uuid.UUID]*lockedTask{}
	var step uuid.UUID
	var done bool
	// The task's columns are NULL for a step recorded but not completed.
	var taskID, correlation, named *uuid.UUID
	var st, namespace *string
	var created *time.Time
	_, err = pgx.ForEachRow(rows, []any{&step, &done, &taskID, &st, &namespace, &correlation, &created, &named},
		func() error {
			recorded = append(recorded, step)
			if !done || taskID == nil || st == nil || namespace == nil || correlation == nil || created == nil || named == nil {
				return nil
			}
			processed = append(processed, step)
			if tasks[*taskID] == nil {
				tasks[*taskID] = &lockedTask{UUID: *taskID, State: state.TaskState(*st), Namespace: *namespace,
					CorrelationID: *correlation, CreatedAt: *created, NamedTaskUUID: *named}
			}
			return nil
		})
	return recorded, processed, tasks, err
}

// processedSQL is true for a row of recordProcessSQL's update (w, joined
// with its result r) that the transaction completes: a plain success whose
// task it locked.
const processedSQL = `(r.processable AND w.step_type NOT IN ('` + string(template.StepDecision) + `', '` +
	string(template.StepBatchable) + `'))`

// recordProcessSQL records results like recordSQL (each step the claim
// still owns moves out of in_progress, storing its result, with history
// and audit rows) and, in the same statement, does orchestration's part of
// the plain successes it can: it locks the candidates' tasks ($4, in uuid
// order, skipping those another transaction holds; untraced only), and a
// candidate ($3: a success whose result publishes no domain events) of a
// locked task that is neither a decision point nor batchable goes straight
// on to complete (history in_progress → enqueued_for_orchestration →
// complete, processed_by the worker): one new version of the step row
// instead of two. $1 are the results, $2 their steps. It returns one row
// per recorded step: whether it was completed, and then its locked task.
var recordProcessSQL = `
	WITH locked AS MATERIALIZED (
		SELECT task_uuid, state, namespace, correlation_id, created_at, named_task_uuid FROM tasks
		WHERE task_uuid = ANY($4::uuid[]) AND trace_parent IS NULL
		ORDER BY task_uuid FOR UPDATE SKIP LOCKED
	), r AS (
		SELECT r.*, r.step_uuid = ANY($3::uuid[]) AND EXISTS (SELECT 1 FROM locked l WHERE l.task_uuid = r.task_uuid)
			AS processable
		FROM jsonb_to_recordset($1::jsonb) AS r(step_uuid uuid, task_uuid uuid, attempt int,
			worker_id text, correlation_id uuid, success boolean, result jsonb, execution_time_ms bigint,
			claimed_at timestamptz)
	), upd AS (
		UPDATE workflow_steps w SET
			state = CASE WHEN ` + processedSQL + ` THEN '` + string(state.StepComplete) + `'
			             WHEN r.success THEN 'enqueued_for_orchestration'
			             ELSE 'enqueued_as_error_for_orchestration' END,
			processed = w.processed OR ` + processedSQL + `,
			processed_at = CASE WHEN ` + processedSQL + ` THEN now() ELSE w.processed_at END,
			next_retry_at = CASE WHEN ` + processedSQL + ` THEN NULL ELSE w.next_retry_at END,
			in_process = false, results = r.result, claimed_by = NULL, claim_deadline = NULL,
			state_changed_at = now(), updated_at = now()
		FROM r
		WHERE w.workflow_step_uuid = r.step_uuid AND w.workflow_step_uuid = ANY($2::uuid[]) AND w.state = 'in_progress'
			AND w.attempts = r.attempt AND w.claimed_by = r.worker_id
			AND (r.claimed_at IS NULL OR w.last_attempted_at = r.claimed_at)
		RETURNING w.workflow_step_uuid, w.task_uuid, w.state = '` + string(state.StepComplete) + `' AS done,
			w.attempts, r.worker_id, r.correlation_id, r.success, r.result, r.execution_time_ms
	), hist AS (
		INSERT INTO workflow_step_transitions (workflow_step_uuid, task_uuid, from_state, to_state, event, metadata)
		SELECT u.workflow_step_uuid, u.task_uuid, x.from_state, x.to_state, x.event, x.meta
		FROM upd u CROSS JOIN LATERAL (VALUES
			(1, 'in_progress',
				CASE WHEN u.success THEN 'enqueued_for_orchestration' ELSE 'enqueued_as_error_for_orchestration' END,
				CASE WHEN u.success THEN 'enqueue_for_orchestration' ELSE 'enqueue_as_error_for_orchestration' END,
				jsonb_build_object('worker_id', u.worker_id, 'correlation_id', u.correlation_id,
					'execution_time_ms', u.execution_time_ms)),
			(2, '` + string(state.StepEnqueuedForOrchestration) + `', '` + string(state.StepComplete) + `', '` +
	string(state.StepEventComplete) + `', jsonb_build_object('processed_by', u.worker_id))
		) AS x(ord, from_state, to_state, event, meta)
		WHERE x.ord = 1 OR u.done
		ORDER BY u.workflow_step_uuid, x.ord
	), aud AS (
		INSERT INTO workflow_step_result_audit (workflow_step_uuid, task_uuid, attempt, worker_id,
			correlation_id, success, execution_time_ms, from_state, to_state, result)
		SELECT workflow_step_uuid, task_uuid, attempts, worker_id, correlation_id, success,
			execution_time_ms, 'in_progress',
			CASE WHEN success THEN 'enqueued_for_orchestration' ELSE 'enqueued_as_error_for_orchestration' END, result
		FROM upd
	)
	SELECT u.workflow_step_uuid, u.done, l.task_uuid, l.state, l.namespace, l.correlation_id, l.created_at,
		l.named_task_uuid
	FROM upd u LEFT JOIN locked l ON l.task_uuid = u.task_uuid AND u.done
	ORDER BY u.workflow_step_uuid`
