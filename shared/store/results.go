package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tasker-go/tasker/shared/domainevent"
	"github.com/tasker-go/tasker/shared/messaging"
	"github.com/tasker-go/tasker/shared/state"
)

// ResultMessage is one message from orchestration_step_results.
type ResultMessage struct {
	MessageID int64
	// ReadCount is the message's delivery count when claimed (its receipt).
	ReadCount int
	TaskUUID  uuid.UUID
	StepUUID  uuid.UUID
}

// Decision is what orchestration does with a reported step.
type Decision struct {
	// To is complete, waiting_for_retry or error.
	To state.StepState
	// Delay is the retry delay (waiting_for_retry only).
	Delay time.Duration
	// Reason is recorded in the step's history.
	Reason string
	// Extend, with To complete, adds steps and edges to the step's task in
	// the same transaction (see GraphExtension). Ignored otherwise, and
	// when the task has already finished.
	Extend *GraphExtension
}

// Decider decides the fate of a step in one of the two
// enqueued-for-orchestration states, from its row (results included) and
// what is known of its task.
type Decider func(Step, ReportedTask) Decision

// ReportedTask is what a Decider knows of a reported step's task.
type ReportedTask struct {
	UUID          uuid.UUID
	NamedTaskUUID uuid.UUID
	Namespace     string
	// Template is the task's template as registered (named_tasks
	// configuration). It is read only for steps whose result can extend
	// the graph (decision and batchable steps); nil for the others.
	Template json.RawMessage
}

// TracedResult is a processed step result of a task created with a
// traceparent: what the caller needs to record its span after the commit.
type TracedResult struct {
	TaskUUID    uuid.UUID
	StepUUID    uuid.UUID
	StepName    string
	Namespace   string
	Attempt     int
	To          state.StepState
	TraceParent string
}

// ProcessOutcome reports what ProcessResults did.
type ProcessOutcome struct {
	Steps     map[state.StepState]int
	Tasks     []TaskOutcome
	Duplicate int
	// StepsCreated counts the steps graph extensions created.
	StepsCreated int
	// Acked are the result message ids deleted in the transaction.
	Acked []int64
	// Unreadable are the payloads of messages ProcessNextResults deleted
	// because they name no step.
	Unreadable []string
	// DomainEvents are the domain events the committed results published
	// (durable ones were sent to their queues in the transaction); fast ones
	// are for the caller to hand to its in-process subscribers.
	DomainEvents []domainevent.Event
	// Traced lists the processed results of tasks that carry a trace
	// context (none when tracing was off when they were created).
	Traced []TracedResult
}

// ProcessResults handles a batch of result messages in one transaction: it
// locks the tasks involved (in id order), moves each reported step to
// complete, waiting_for_retry (scheduling its delayed re-run in the same
// transaction) or error as decide says, enqueues every child that became
// ready, moves each task to the state its steps call for (finalizing it
// exactly once), and deletes the messages. Messages about steps that are no
// longer waiting for orchestration are duplicates: they are deleted. No
// result is dropped whatever state its task is in.
func (s *Store) ProcessResults(ctx context.Context, msgs []ResultMessage, decide Decider) (ProcessOutcome, error) {
	out := ProcessOutcome{Steps: map[state.StepState]int{}}
	if len(msgs) == 0 {
		return out, nil
	}
	err := s.inTxOutbox(ctx, func(o *outbox) error { return s.processInTx(o, msgs, decide, &out) })
	if err != nil {
		return ProcessOutcome{}, fmt.Errorf("processing results: %w", err)
	}
	return out, nil
}

// ProcessNextResults claims up to n result messages (hiding them for vt)
// inside the unit of work that processes them (see ProcessResults): one
// commit per batch, and a batch whose processing fails or whose process
// dies is visible again at once (the claim is part of the unit; see
// messaging.Work). With the PostgreSQL driver the claim is the first
// statement of the processing transaction. claimed, when not nil, is
// called as soon as the claim returned, with the number of messages it
// took, so the caller can start the next claim while this batch is
// processed. Unreadable messages are deleted in the same unit and counted
// in Unreadable. The ids of the claimed messages are returned even on
// error, for the caller to hide them for a while before they are retried.
func (s *Store) ProcessNextResults(ctx context.Context, n int, vt time.Duration, decide Decider,
	claimed func(int)) (ProcessOutcome, []int64, error) {
	out := ProcessOutcome{Steps: map[state.StepState]int{}}
	var ids []int64
	err := s.inTxOutbox(ctx, func(o *outbox) error {
		src, err := o.claim(messaging.StepResultsQueue, messaging.ClaimOptions{N: n, Visibility: vt})
		if err != nil {
			return err
		}
		type claimedMsg struct {
			ID      int64  `db:"msg_id"`
			Reads   int    `db:"read_ct"`
			Payload []byte `db:"message"`
		}
		var raw []claimedMsg
		o.b.Queue(`WITH m AS (`+src.SQL+`) SELECT msg_id, read_ct, message FROM m ORDER BY msg_id`,
			src.Args...).Query(func(rows pgx.Rows) error {
			var err error
			raw, err = pgx.CollectRows(rows, pgx.RowToStructByName[claimedMsg])
			return err
		})
		if err := o.flush(); err != nil {
			return fmt.Errorf("claiming results: %w", err)
		}
		if claimed != nil {
			claimed(len(raw))
		}
		msgs := make([]ResultMessage, 0, len(raw))
		var bad []messaging.Receipt
		for _, m := range raw {
			ids = append(ids, m.ID)
			sm, ok := messaging.ParseResultMessage(m.Payload)
			if !ok {
				bad = append(bad, messaging.Receipt{ID: m.ID, ReadCount: m.Reads})
				out.Unreadable = append(out.Unreadable, string(m.Payload))
				continue
			}
			msgs = append(msgs, ResultMessage{MessageID: m.ID, ReadCount: m.Reads, TaskUUID: sm.TaskUUID, StepUUID: sm.StepUUID})
		}
		if err := o.ack(messaging.StepResultsQueue, bad); err != nil {
			return err
		}
		if len(msgs) == 0 {
			return nil // the commit deletes the unreadable ones
		}
		return s.processInTx(o, msgs, decide, &out)
	})
	if err != nil {
		return ProcessOutcome{}, ids, fmt.Errorf("processing results: %w", err)
	}
	return out, ids, nil
}

// templatesOfDynamicSteps reads the registered templates of the tasks whose
// reported steps can extend the graph (decision and batchable steps), for
// the Decider. Results of other steps, the hot path, cost nothing: the
// extra round trip happens only when such a step reported.
func (s *Store) templatesOfDynamicSteps(o *outbox, steps []Step) (map[uuid.UUID]json.RawMessage, error) {
	var ids []uuid.UUID
	for _, st := range steps {
		if st.StepType == "decision" || st.StepType == "batchable" {
			ids = append(ids, st.TaskUUID)
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	out := make(map[uuid.UUID]json.RawMessage, len(ids))
	o.b.Queue(`SELECT t.task_uuid, nt.configuration FROM tasks t JOIN named_tasks nt USING (named_task_uuid)
		WHERE t.task_uuid = ANY($1)`, uniqueSorted(ids)).Query(func(rows pgx.Rows) error {
		var id uuid.UUID
		var cfg json.RawMessage
		_, err := pgx.ForEachRow(rows, []any{&id, &cfg}, func() error {
			out[id] = cfg
			return nil
		})
		return err
	})
	if err := o.flush(); err != nil {
		return nil, fmt.Errorf("reading the templates of decision and batchable steps: %w", err)
	}
	return out, nil
}

// processInTx is ProcessResults inside o's pipelined transaction.
func (s *Store) processInTx(o *outbox, msgs []ResultMessage, decide Decider, out *ProcessOutcome) error {
	taskIDs := make([]uuid.UUID, 0, len(msgs))
	stepIDs := make([]uuid.UUID, 0, len(msgs))
	receipts := make([]messaging.Receipt, 0, len(msgs))
	for _, m := range msgs {
		taskIDs = append(taskIDs, m.TaskUUID)
		stepIDs = append(stepIDs, m.StepUUID)
		receipts = append(receipts, messaging.Receipt{ID: m.MessageID, ReadCount: m.ReadCount})
		out.Acked = append(out.Acked, m.MessageID)
	}
	// Round trip 1: lock the tasks (in id order: concurrent batches
	// never deadlock) and read the reported steps.
	var tasks map[uuid.UUID]*lockedTask
	queueLockTasks(o.b, taskIDs, &tasks)
	var steps []Step
	o.b.Queue(`SELECT `+stepColumns+` FROM workflow_steps s
		WHERE s.workflow_step_uuid = ANY($1)
		AND s.state IN ('enqueued_for_orchestration', 'enqueued_as_error_for_orchestration')`, stepIDs).
		Query(func(rows pgx.Rows) error {
			var err error
			steps, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Step, error) {
				var st Step
				return st, r.Scan(stepDest(&st)...)
			})
			return err
		})
	if err := o.flush(); err != nil {
		return fmt.Errorf("loading reported steps: %w", err)
	}
	templates, err := s.templatesOfDynamicSteps(o, steps)
	if err != nil {
		return err
	}
	out.Duplicate = len(msgs) - len(steps)

	// Round trip 2: move the steps, schedule retries, extend the graphs,
	// read the graphs.
	var ch stepChanges
	var events domainEventBatch
	now := time.Now().UTC()
	var ext extensionRows
	for _, st := range steps {
		rt := ReportedTask{UUID: st.TaskUUID, Template: templates[st.TaskUUID]}
		if t := tasks[st.TaskUUID]; t != nil {
			rt.NamedTaskUUID, rt.Namespace = t.NamedTaskUUID, t.Namespace
		}
		d := decide(st, rt)
		if t := tasks[st.TaskUUID]; t != nil && t.TraceParent != "" {
			out.Traced = append(out.Traced, TracedResult{TaskUUID: st.TaskUUID, StepUUID: st.UUID, StepName: st.Name,
				Namespace: t.Namespace, Attempt: st.Attempts, To: d.To, TraceParent: t.TraceParent})
		}
		ev, ok := eventFor(st.State, d.To)
		if !ok {
			return fmt.Errorf("decider moved step %s from %s to %s: %w", st.UUID, st.State, d.To, ErrInvalidState)
		}
		ch.add(st, d, ev)
		events.add(st, d, tasks[st.TaskUUID], now)
		if d.Extend != nil && d.To == state.StepComplete {
			if t := tasks[st.TaskUUID]; t != nil && !t.State.Terminal() {
				if err := ext.add(st.TaskUUID, d.Extend); err != nil {
					return fmt.Errorf("extending task %s after step %s: %w", st.TaskUUID, st.Name, err)
				}
			}
		}
		out.Steps[d.To]++
		if d.To != state.StepWaitingForRetry {
			continue
		}
		t := tasks[st.TaskUUID]
		if t == nil {
			continue
		}
		b, err := json.Marshal(messaging.StepMessage{TaskUUID: st.TaskUUID, StepUUID: st.UUID, CorrelationID: t.CorrelationID,
			Callable: st.HandlerCallable})
		if err != nil {
			return err
		}
		if err := o.send(messaging.WorkerQueue(t.Namespace), []json.RawMessage{b}, d.Delay); err != nil {
			return fmt.Errorf("scheduling retry: %w", err)
		}
	}
	if len(ch.ids) > 0 {
		o.b.Queue(stepChangesSQL, ch.args()...)
	}
	if err := events.queue(o); err != nil {
		return err
	}
	out.DomainEvents = events.events
	if err := ext.queue(o.b, &out.StepsCreated); err != nil {
		return err
	}
	graphs := queueGraphs(o.b, evaluable(tasks, false))
	if err := o.flush(); err != nil {
		return fmt.Errorf("transitioning steps: %w", err)
	}

	// Round trip 3: enqueue what became ready, move the tasks, announce,
	// and delete the result messages; the commit follows.
	p := s.plan(tasks, graphs, false)
	out.Tasks = p.outcomes
	if err := s.queuePlan(o, tasks, p); err != nil {
		return err
	}
	touched := make([]string, 0, len(steps))
	for _, st := range steps {
		touched = append(touched, st.TaskUUID.String())
	}
	o.notify(touched)
	return o.ack(messaging.StepResultsQueue, receipts)
}

func eventFor(from, to state.StepState) (state.StepEvent, bool) {
	for _, t := range state.StepTransitions() {
		if t.From == from && t.To == to {
			return t.Event, true
		}
	}
	return "", false
}

// stepChanges collects orchestration-side step transitions for one
// set-based statement.
type stepChanges struct {
	ids, from, to, event, reason []string
	delayMs                      []int64
}

func (c *stepChanges) add(st Step, d Decision, ev state.StepEvent) {
	c.ids = append(c.ids, st.UUID.String())
	c.from = append(c.from, string(st.State))
	c.to = append(c.to, string(d.To))
	c.event = append(c.event, string(ev))
	c.reason = append(c.reason, d.Reason)
	c.delayMs = append(c.delayMs, d.Delay.Milliseconds())
}

// stepChangesSQL applies orchestration's step transitions with history.
var stepChangesSQL = `
		WITH c AS (
			SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[])
				AS c(step_uuid, from_state, to_state, event, reason, delay_ms)
		), upd AS (
			UPDATE workflow_steps w SET state = c.to_state,
				processed = c.to_state IN (` + terminalStepStates + `),
				processed_at = CASE WHEN c.to_state IN (` + terminalStepStates + `) THEN now() END,
				in_process = false,
				next_retry_at = CASE WHEN c.to_state = 'waiting_for_retry'
					THEN now() + c.delay_ms * interval '1 millisecond' END,
				backoff_request_seconds = CASE WHEN c.to_state = 'waiting_for_retry'
					THEN ceil(c.delay_ms / 1000.0)::int ELSE w.backoff_request_seconds END,
				state_changed_at = now(), updated_at = now()
			FROM c WHERE w.workflow_step_uuid = c.step_uuid AND w.workflow_step_uuid = ANY($1::uuid[])
				AND w.state = c.from_state
			RETURNING w.workflow_step_uuid, w.task_uuid, c.from_state, c.to_state, c.event, c.reason, c.delay_ms
		)
		INSERT INTO workflow_step_transitions (workflow_step_uuid, task_uuid, from_state, to_state, event, metadata)
		SELECT workflow_step_uuid, task_uuid, from_state, to_state, event,
			jsonb_strip_nulls(jsonb_build_object('reason', NULLIF(reason, ''),
				'retry_delay_ms', CASE WHEN to_state = 'waiting_for_retry' THEN delay_ms END))
		FROM upd`

func (c *stepChanges) args() []any {
	return []any{c.ids, c.from, c.to, c.event, c.reason, c.delayMs}
}
