package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

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
		o.b.Queue(recordSQL, payload, false, stepIDsOf(results)).Query(func(rows pgx.Rows) error {
			var err error
			recorded, err = pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
			return err
		})
		o.b.Queue(processSuccessesSQL, cand.steps, cand.tasks, cand.workers).Query(func(rows pgx.Rows) error {
			var err error
			processed, tasks, err = scanProcessed(rows)
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
	workers      []string
}

func processCandidatesOf(results []StepResult) processCandidates {
	var c processCandidates
	for _, r := range results {
		if !r.Success || bytes.Contains(r.Result, []byte(`"domain_events"`)) {
			continue
		}
		c.steps = append(c.steps, r.StepUUID)
		c.tasks = append(c.tasks, r.TaskUUID)
		c.workers = append(c.workers, r.WorkerID)
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

// scanProcessed reads processSuccessesSQL's rows: the completed steps and
// the locked tasks they belong to.
func scanProcessed(rows pgx.Rows) ([]uuid.UUID, map[uuid.UUID]*lockedTask, error) {
	var steps []uuid.UUID
	tasks := map[uuid.UUID]*lockedTask{}
	var step uuid.UUID
	var t lockedTask
	_, err := pgx.ForEachRow(rows, []any{&step, &t.UUID, &t.State, &t.Namespace, &t.CorrelationID, &t.CreatedAt,
		&t.NamedTaskUUID}, func() error {
		steps = append(steps, step)
		if tasks[t.UUID] == nil {
			c := t
			tasks[c.UUID] = &c
		}
		return nil
	})
	return steps, tasks, err
}

// processSuccessesSQL locks the candidates' tasks that are free and
// untraced (in uuid order, skipping those another transaction holds), and
// moves the candidates of those tasks that are plain steps and were just
// recorded as successes on to complete, with their history. "Just
// recorded" is updated_at = now(): recordSQL, earlier in the same
// transaction, set it; a step another claim's result left waiting for
// orchestration is left to that result's message. $1 are the
// candidate steps, $2 their tasks, $3 the workers that reported them. It
// returns one row per completed step, with its task's row.
var processSuccessesSQL = `
	WITH c AS (
		SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[]) AS c(step_uuid, task_uuid, worker_id)
	), locked AS MATERIALIZED (
		SELECT task_uuid, state, namespace, correlation_id, created_at, named_task_uuid FROM tasks
		WHERE task_uuid = ANY($2::uuid[]) AND trace_parent IS NULL
		ORDER BY task_uuid FOR UPDATE SKIP LOCKED
	), upd AS (
		UPDATE workflow_steps w SET state = 'complete', processed = true, processed_at = now(), in_process = false,
			next_retry_at = NULL, state_changed_at = now(), updated_at = now()
		FROM c JOIN locked l USING (task_uuid)
		WHERE w.workflow_step_uuid = c.step_uuid AND w.workflow_step_uuid = ANY($1::uuid[])
			AND w.state = 'enqueued_for_orchestration' AND w.updated_at = now() AND w.step_type NOT IN ('` +
	string(template.StepDecision) + `', '` + string(template.StepBatchable) + `')
		RETURNING w.workflow_step_uuid, w.task_uuid, c.worker_id
	), hist AS (
		INSERT INTO workflow_step_transitions (workflow_step_uuid, task_uuid, from_state, to_state, event, metadata)
		SELECT workflow_step_uuid, task_uuid, '` + string(state.StepEnqueuedForOrchestration) + `', '` +
	string(state.StepComplete) + `', '` + string(state.StepEventComplete) + `',
			jsonb_build_object('processed_by', worker_id)
		FROM upd
	)
	SELECT u.workflow_step_uuid, l.task_uuid, l.state, l.namespace, l.correlation_id, l.created_at, l.named_task_uuid
	FROM upd u JOIN locked l USING (task_uuid)
	ORDER BY l.task_uuid, u.workflow_step_uuid`
