package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tasker-go/tasker/shared/messaging"
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

// ClaimOutcome is what a claim did with each message. ClaimNext has already
// applied Drop and Defer to the queue, in the claim's unit of work: they are
// for information.
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

// ClaimSteps claims, for a worker (without a liveness lock), the steps of
// messages claimed elsewhere (reqs carry what their messages said): the
// same claim as ClaimNext's, fed by the requests instead of a queue. Drop
// and Defer are left to the caller (there is no queue to apply them to).
//
// A step can be claimed when it is enqueued, when it is waiting for a retry
// whose time has come, or when it is in progress under a claim that expired
// (its worker died) and it has attempts left. A claim that expired with no
// attempts left fails the step (error type worker_lost) and reports it to
// orchestration. Steps of finished tasks are not claimed; steps of a task
// blocked by a failure are (they were enqueued before the failure, and the
// task ends once nothing is left in flight).
func (s *Store) ClaimSteps(ctx context.Context, workerID string, reqs []ClaimRequest) (ClaimOutcome, error) {
	if len(reqs) == 0 {
		return ClaimOutcome{}, nil
	}
	msgs := make([]messaging.Message, len(reqs))
	for i, r := range reqs {
		payload, err := json.Marshal(messaging.StepMessage{TaskUUID: r.TaskUUID, StepUUID: r.StepUUID})
		if err != nil {
			return ClaimOutcome{}, fmt.Errorf("claiming steps: %w", err)
		}
		msgs[i] = messaging.Message{ID: r.MessageID, ReadCount: r.ReadCount, Payload: payload, VisibleAt: r.Deadline}
	}
	src := messaging.ClaimedSource(msgs)
	return s.claim(ctx, Claimer{ID: workerID}, "", func(*outbox) (messaging.ClaimSource, error) { return src, nil })
}

// ClaimNext claims up to n messages of queue (of c.Callables, when set) and
// their steps for a worker, hiding the messages for vt (the claims' deadline:
// a claim lapses exactly when its message reappears). It is one unit of work
// of two round trips, whatever the queue driver: the first claims the
// messages and their steps in one statement and reads everything the
// handlers need (steps, task contexts, ancestor results); the second
// deletes the messages that can never be claimed, hides again those whose
// step cannot be claimed yet (see ClaimOutcome), and commits. The second
// carries no result callbacks, so its COMMIT travels with it, and any
// failure of the first (reading or decoding its results included) rolls the
// whole claim back: an error means nothing was claimed, and the messages are
// visible again at once.
func (s *Store) ClaimNext(ctx context.Context, c Claimer, queue string, n int, vt time.Duration) (ClaimOutcome, error) {
	if n <= 0 || (c.Callables != nil && len(c.Callables) == 0) {
		return ClaimOutcome{}, nil
	}
	opts := messaging.ClaimOptions{N: n, Visibility: vt, Routes: c.Callables}
	return s.claim(ctx, c, queue, func(o *outbox) (messaging.ClaimSource, error) { return o.claim(queue, opts) })
}

// claim is the one claim path: source gives the unit of work's messages as
// a relation, one statement claims their steps, and the messages that
// cannot be claimed are settled in the same unit (when they came from
// queue; not for ClaimSteps). Steps whose claim lapsed with no attempts left
// are failed after the commit (see finishClaim), and their messages acked.
func (s *Store) claim(ctx context.Context, c Claimer, queue string,
	source func(o *outbox) (messaging.ClaimSource, error)) (ClaimOutcome, error) {
	var j judgement
	var h *hydration
	err := s.inTxOutbox(ctx, func(o *outbox) error {
		src, err := source(o)
		if err != nil {
			return err
		}
		sql, args := claimStatement(src, c)
		var verdicts []claimVerdict
		o.b.Queue(sql, args...).Query(func(rows pgx.Rows) error {
			var err error
			verdicts, err = pgx.CollectRows(rows, pgx.RowToStructByName[claimVerdict])
			return err
		})
		h = s.queueHydrate(o.b, c.ID)
		// The batch reads what it claimed, so it cannot carry the COMMIT
		// (see pipeTx): the settling batch below does.
		if err := o.flush(); err != nil {
			return err
		}
		j = judge(verdicts)
		if queue == "" {
			return nil
		}
		drops := make([]messaging.Receipt, 0, len(j.drop))
		for _, id := range j.drop {
			drops = append(drops, messaging.Receipt{ID: id, ReadCount: j.reads[id]})
		}
		if err := o.ack(queue, drops); err != nil {
			return err
		}
		for _, d := range j.deferrals {
			if err := o.deferMessage(queue, messaging.Receipt{ID: d.MessageID, ReadCount: j.reads[d.MessageID]}, d.Until); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return ClaimOutcome{}, fmt.Errorf("claiming steps: %w", err)
	}
	out := s.finishClaim(ctx, j, h)
	if queue != "" && out.Exhausted > 0 {
		// Their messages were not acked above: do it now that the steps
		// are failed. Should this fail, the messages reappear at their
		// visibility timeout and are dropped then.
		rs := make([]messaging.Receipt, 0, len(j.exhausted))
		for _, step := range j.exhausted {
			id := j.exhaustedMsgs[step]
			rs = append(rs, messaging.Receipt{ID: id, ReadCount: j.reads[id]})
		}
		if err := s.queue.Ack(ctx, queue, rs...); err != nil {
			s.log.Warn("deleting the messages of failed lost claims failed; they are dropped when they reappear",
				"queue", queue, "messages", len(rs), "err", err)
		}
	}
	return out, nil
}
