package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tasker-go/tasker/shared/messaging"
	"github.com/tasker-go/tasker/shared/stepresult"
)

// StepResult is a worker's result for a step it claimed.
type StepResult struct {
	StepUUID      uuid.UUID       `json:"step_uuid"`
	TaskUUID      uuid.UUID       `json:"task_uuid"`
	Attempt       int             `json:"attempt"`
	WorkerID      string          `json:"worker_id"`
	CorrelationID uuid.UUID       `json:"correlation_id"`
	Success       bool            `json:"success"`
	Result        json.RawMessage `json:"result"`
	ExecutionMs   int64           `json:"execution_time_ms"`
	// ClaimedAt is the claim's start (the claimed step's LastAttemptedAt).
	// When set, the result only counts for that very claim: attempts go back
	// to 0 on reset_for_retry, so attempt and worker id alone could match a
	// later claim of the same step by the same worker.
	ClaimedAt *time.Time `json:"claimed_at,omitempty"`
	// Queue and MessageID identify the step message to ack on success.
	Queue     string `json:"-"`
	MessageID int64  `json:"-"`
	// ReadCount is the delivery count of that message when it was claimed
	// (its receipt); 0 acks it whatever happened since.
	ReadCount int `json:"-"`
}

// CompleteOutcome reports which results were recorded.
type CompleteOutcome struct {
	// Recorded are the steps whose result was stored and reported.
	Recorded []uuid.UUID
	// Stale are results that no longer match the step (its claim expired and
	// another worker took it, or it was cancelled or resolved): dropped.
	Stale []uuid.UUID
	// Acked maps queue to the step messages acked with the results.
	Acked map[string][]int64
	// Processed are the recorded successes CompleteAndProcessSteps also
	// took through orchestration's processing (step complete, children
	// enqueued, task moved); the others went to orchestration.
	Processed []uuid.UUID
	// Tasks are the task outcomes of that processing (tasks that enqueued
	// steps or changed state).
	Tasks []TaskOutcome
	// Claimed are the steps that processing made ready and the worker
	// claimed in the same transaction (see Continuation), hydrated.
	Claimed []ClaimedStep
	// ClaimErr is set when steps were claimed (the transaction committed)
	// but could not be read: the caller must release its orphaned claims.
	ClaimErr error
	// Predicted says the completion planned from the graph the worker's
	// previous completion of the task left, in one round trip (see
	// CompleteAndProcessSteps).
	Predicted bool
}

// CompleteSteps records results in one transaction: each step moves from
// in_progress to enqueued_for_orchestration (success) or
// enqueued_as_error_for_orchestration (failure) storing its result, with a
// history row and an audit row; a result message goes to orchestration and
// the step message is deleted. Only the claim's owner, for the attempt it
// claimed, can record a result. With the Postgres queue this is one round
// trip.
//
// A result that no longer matches its step (the claim lapsed and another
// worker took the step, or the step was cancelled) is not recorded. Its
// result message is still sent (a signal orchestration drops as a
// duplicate), and its step message is deleted only if it was not delivered
// again since it was claimed (the ack is by receipt).
func (s *Store) CompleteSteps(ctx context.Context, results []StepResult) (CompleteOutcome, error) {
	out := CompleteOutcome{Acked: map[string][]int64{}}
	if len(results) == 0 {
		return out, nil
	}
	payload, err := json.Marshal(results)
	if err != nil {
		return out, fmt.Errorf("encoding results: %w", err)
	}
	var msgs []json.RawMessage
	var tasks []string
	for _, r := range results {
		b, err := json.Marshal(messaging.StepMessage{TaskUUID: r.TaskUUID, StepUUID: r.StepUUID,
			CorrelationID: r.CorrelationID, Attempt: r.Attempt})
		if err != nil {
			return out, err
		}
		msgs = append(msgs, b)
		tasks = append(tasks, r.TaskUUID.String())
	}
	receipts := stepReceipts(results, out.Acked)
	var raw [][]byte
	err = s.atomically(ctx, func(o *outbox) error {
		// Captured, decoded after the commit: the write keeps its one
		// round trip (see pipeTx).
		o.capture(&raw, recordSQL, payload, false, stepIDsOf(results))
		if err := o.send(messaging.StepResultsQueue, msgs, 0); err != nil {
			return err
		}
		if err := o.ackAll(receipts); err != nil {
			return err
		}
		o.notify(tasks)
		return nil
	})
	if err != nil {
		return CompleteOutcome{}, fmt.Errorf("completing steps: %w", err)
	}
	recorded := make([]uuid.UUID, 0, len(raw))
	for _, v := range raw {
		id, err := decodeUUID(v)
		if err != nil {
			// Cannot happen (the column is a uuid); the write stands.
			s.log.Error("reading a recorded step's id failed; counted as stale", "err", err)
			continue
		}
		recorded = append(recorded, id)
	}
	out.Recorded = recorded
	out.Stale = staleOf(results, recorded)
	return out, nil
}

// stepReceipts groups the receipts of the results' step messages by queue,
// and adds their message ids to acked.
func stepReceipts(results []StepResult, acked map[string][]int64) map[string][]messaging.Receipt {
	receipts := map[string][]messaging.Receipt{}
	for _, r := range results {
		if r.Queue != "" && r.MessageID != 0 {
			receipts[r.Queue] = append(receipts[r.Queue], messaging.Receipt{ID: r.MessageID, ReadCount: r.ReadCount})
			acked[r.Queue] = append(acked[r.Queue], r.MessageID)
		}
	}
	return receipts
}

// staleOf lists the steps of results that were not recorded.
func staleOf(results []StepResult, recorded []uuid.UUID) []uuid.UUID {
	ok := make(map[uuid.UUID]bool, len(recorded))
	for _, id := range recorded {
		ok[id] = true
	}
	var stale []uuid.UUID
	for _, r := range results {
		if !ok[r.StepUUID] {
			stale = append(stale, r.StepUUID)
		}
	}
	return stale
}

// decodeUUID decodes a captured uuid column: 16 bytes in the binary format,
// the text form otherwise.
func decodeUUID(v []byte) (uuid.UUID, error) {
	if len(v) == 16 {
		return uuid.FromBytes(v)
	}
	return uuid.ParseBytes(v)
}

// sendResultMessages sends the result messages of the recorded results in
// tx.
func (s *Store) sendResultMessages(ctx context.Context, tx pgx.Tx, results []StepResult, recorded []uuid.UUID) error {
	msgs := resultMessages(results, recorded, nil)
	if len(msgs) == 0 {
		return nil
	}
	o := s.txOutbox(ctx, tx)
	if err := o.send(messaging.StepResultsQueue, msgs, 0); err != nil {
		return err
	}
	return o.flush()
}

// recordResults CASes steps from in_progress to the two
// enqueued-for-orchestration states. With force the claimer and attempt are
// not checked (failing an abandoned claim).
func recordResults(ctx context.Context, tx pgx.Tx, results []StepResult, force bool) ([]uuid.UUID, error) {
	payload, err := json.Marshal(results)
	if err != nil {
		return nil, fmt.Errorf("encoding results: %w", err)
	}
	rows, err := tx.Query(ctx, recordSQL, payload, force, stepIDsOf(results))
	if err != nil {
		return nil, fmt.Errorf("recording results: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return nil, fmt.Errorf("recording results: %w", err)
	}
	return ids, nil
}

// recordSQL CASes steps from in_progress to the two
// enqueued-for-orchestration states, with history and audit rows. $2 (force)
// skips the claimer, attempt and claim-time check.
const recordSQL = `
		WITH r AS (
			SELECT * FROM jsonb_to_recordset($1::jsonb) AS r(step_uuid uuid, task_uuid uuid, attempt int,
				worker_id text, correlation_id uuid, success boolean, result jsonb, execution_time_ms bigint,
				claimed_at timestamptz)
		), upd AS (
			UPDATE workflow_steps w SET
				state = CASE WHEN r.success THEN 'enqueued_for_orchestration'
				             ELSE 'enqueued_as_error_for_orchestration' END,
				in_process = false, results = r.result, claimed_by = NULL, claim_deadline = NULL,
				state_changed_at = now(), updated_at = now()
			FROM r
			WHERE w.workflow_step_uuid = r.step_uuid AND w.workflow_step_uuid = ANY($3) AND w.state = 'in_progress'
				AND ($2 OR (w.attempts = r.attempt AND w.claimed_by = r.worker_id
					AND (r.claimed_at IS NULL OR w.last_attempted_at = r.claimed_at)))
			RETURNING w.workflow_step_uuid, w.task_uuid, w.state, w.attempts, r.worker_id, r.correlation_id,
				r.success, r.result, r.execution_time_ms
		), hist AS (
			INSERT INTO workflow_step_transitions (workflow_step_uuid, task_uuid, from_state, to_state, event, metadata)
			SELECT workflow_step_uuid, task_uuid, 'in_progress', state,
				CASE WHEN success THEN 'enqueue_for_orchestration' ELSE 'enqueue_as_error_for_orchestration' END,
				jsonb_build_object('worker_id', worker_id, 'correlation_id', correlation_id,
					'execution_time_ms', execution_time_ms)
			FROM upd
		), aud AS (
			INSERT INTO workflow_step_result_audit (workflow_step_uuid, task_uuid, attempt, worker_id,
				correlation_id, success, execution_time_ms, from_state, to_state, result)
			SELECT workflow_step_uuid, task_uuid, attempts, worker_id, correlation_id, success,
				execution_time_ms, 'in_progress', state, result
			FROM upd
		)
		SELECT workflow_step_uuid FROM upd`

// failLostClaims fails steps whose claim expired with no attempts left: the
// worker that held them is gone, and the step is reported to orchestration as
// a non-retryable worker_lost failure.
func (s *Store) failLostClaims(ctx context.Context, steps []uuid.UUID) (int, error) {
	var n int
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT s.workflow_step_uuid, s.task_uuid, s.attempts, t.correlation_id,
				COALESCE(s.claimed_by, '')
			FROM workflow_steps s JOIN tasks t USING (task_uuid)
			WHERE s.workflow_step_uuid = ANY($1) AND s.state = 'in_progress' AND s.claim_deadline < now()
			FOR UPDATE OF s`, steps)
		if err != nil {
			return err
		}
		var results []StepResult
		var r StepResult
		_, err = pgx.ForEachRow(rows, []any{&r.StepUUID, &r.TaskUUID, &r.Attempt, &r.CorrelationID, &r.WorkerID}, func() error {
			res := stepresult.Failure(r.StepUUID, stepresult.StatusError,
				fmt.Sprintf("worker %q stopped responding during attempt %d and no attempts are left", r.WorkerID, r.Attempt),
				stepresult.ErrorTypeWorkerLost, false)
			b, err := json.Marshal(res)
			if err != nil {
				return err
			}
			c := r
			c.Result = b
			results = append(results, c)
			return nil
		})
		if err != nil {
			return err
		}
		rec, err := recordResults(ctx, tx, results, true)
		if err != nil {
			return err
		}
		n = len(rec)
		if err := s.notifyTasks(ctx, tx, tasksOf(results, rec)); err != nil {
			return err
		}
		return s.sendResultMessages(ctx, tx, results, rec)
	})
	if err != nil {
		return 0, fmt.Errorf("failing lost claims: %w", err)
	}
	return n, nil
}

// tasksOf returns the tasks of the recorded results.
func tasksOf(results []StepResult, recorded []uuid.UUID) []uuid.UUID {
	ok := make(map[uuid.UUID]bool, len(recorded))
	for _, id := range recorded {
		ok[id] = true
	}
	var out []uuid.UUID
	for _, r := range results {
		if ok[r.StepUUID] {
			out = append(out, r.TaskUUID)
		}
	}
	return out
}

func stepIDsOf(results []StepResult) []uuid.UUID {
	out := make([]uuid.UUID, len(results))
	for i, r := range results {
		out[i] = r.StepUUID
	}
	return out
}
