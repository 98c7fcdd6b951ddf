package store_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/domainevent"
	"github.com/tasker-go/tasker/shared/messaging"
	"github.com/tasker-go/tasker/shared/state"
	"github.com/tasker-go/tasker/shared/stepresult"
	"github.com/tasker-go/tasker/shared/store"
)

// completeWithEvents reports cs's result carrying events (name, condition,
// delivery mode), as a worker does for a handler that published them.
func (e *env) completeWithEvents(cs store.ClaimedStep, success, retryable bool, evs ...[3]string) []uuid.UUID {
	var res stepresult.Result
	if success {
		res = stepresult.Success(cs.Step.UUID, json.RawMessage(`{}`), nil)
	} else {
		res = stepresult.Failure(cs.Step.UUID, stepresult.StatusFailed, "boom", stepresult.ErrorTypeRetryable, retryable)
	}
	var ids []uuid.UUID
	for i, ev := range evs {
		id := uuid.Must(uuid.NewV7())
		ids = append(ids, id)
		res.DomainEvents = append(res.DomainEvents, stepresult.DomainEvent{
			EventID: id, Name: ev[0], Condition: ev[1], DeliveryMode: ev[2],
			Payload: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i)), FiredAt: time.Now(), FiredBy: "H",
		})
	}
	b, err := json.Marshal(res)
	require.NoError(e.t, err)
	_, err = e.store.CompleteSteps(e.ctx, []store.StepResult{{
		StepUUID: cs.Step.UUID, TaskUUID: cs.Task.UUID, Attempt: cs.Step.Attempts, WorkerID: "w",
		CorrelationID: cs.Task.CorrelationID, Success: success, Result: b, ClaimedAt: cs.Step.LastAttemptedAt,
		Queue: messaging.WorkerQueue(cs.Task.Namespace), MessageID: cs.MessageID, ReadCount: cs.ReadCount,
	}})
	require.NoError(e.t, err)
	return ids
}

func (e *env) durableEvents(ns string) []domainevent.Event {
	msgs, err := e.queue.Claim(e.ctx, domainevent.QueueName(ns), messaging.ClaimOptions{N: 100, Visibility: time.Minute})
	require.NoError(e.t, err)
	var out []domainevent.Event
	for _, m := range msgs {
		ev, err := domainevent.Parse(m.Payload)
		require.NoError(e.t, err)
		out = append(out, ev)
	}
	return out
}

func eventNames(evs []domainevent.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.EventName
	}
	return out
}

// TestDomainEventsPublishWithTheCommittedResult: the events a result
// carries are published by the transaction that commits it, filtered by
// their condition against the outcome orchestration decided: durable and
// broadcast ones in the namespace's queue, every one recorded for the task;
// the envelope names the task, step, namespace and correlation id. A
// redelivered result message publishes nothing again, and a result that is
// reported but not yet processed has published nothing.
func TestDomainEventsPublishWithTheCommittedResult(t *testing.T) {
	e := newEnv(t)
	specs := []stepSpec{{name: "pay", maxAttempts: 2, retryable: true}, {name: "ship", deps: []string{"pay"}, maxAttempts: 1}}
	e.register("shop", "order", specs)
	ct := e.createTask(specs, `{}`)

	// Attempt 1 fails retryably.
	cs := e.claimAll("w").Claimed[0]
	e.completeWithEvents(cs, false, true,
		[3]string{"pay.ok", "success", "durable"},
		[3]string{"pay.failed", "failure", "durable"},
		[3]string{"pay.retrying", "retryable_failure", "fast"},
		[3]string{"pay.gave_up", "permanent_failure", "durable"},
		[3]string{"pay.tried", "always", "broadcast"})
	require.Empty(t, e.durableEvents("shop"), "nothing is published before orchestration commits the result")
	recs, err := e.store.DomainEvents(e.ctx, ct.Task.UUID, 0, 0)
	require.NoError(t, err)
	require.Empty(t, recs)

	out := e.process()
	require.Equal(t, 1, out.Steps[state.StepWaitingForRetry])
	require.ElementsMatch(t, []string{"pay.failed", "pay.retrying", "pay.tried"}, eventNames(out.DomainEvents))
	durable := e.durableEvents("shop")
	require.ElementsMatch(t, []string{"pay.failed", "pay.tried"}, eventNames(durable))
	ev := durable[0]
	require.Equal(t, ct.Task.UUID, ev.Metadata.TaskUUID)
	require.Equal(t, cs.Step.UUID, ev.Metadata.StepUUID)
	require.Equal(t, "pay", ev.Metadata.StepName)
	require.Equal(t, "shop", ev.Metadata.Namespace)
	require.Equal(t, cs.Task.CorrelationID, ev.Metadata.CorrelationID)
	require.Equal(t, domainevent.Version, ev.EventVersion)
	require.False(t, ev.Metadata.StepSucceeded)
	require.Equal(t, 1, ev.Metadata.Attempt)

	// Attempt 2 succeeds; then its result message arrives a second time.
	var cs2 store.ClaimedStep
	require.Eventually(t, func() bool {
		c := e.claimAll("w").Claimed
		if len(c) == 1 {
			cs2 = c[0]
		}
		return len(c) == 1
	}, 5*time.Second, 10*time.Millisecond)
	ids := e.completeWithEvents(cs2, true, false,
		[3]string{"pay.ok", "success", "durable"}, [3]string{"pay.failed", "failure", "durable"})
	out = e.process()
	require.Equal(t, []string{"pay.ok"}, eventNames(out.DomainEvents))
	require.Equal(t, ids[0], out.DomainEvents[0].EventID)
	require.True(t, out.DomainEvents[0].Metadata.StepSucceeded)
	b, _ := json.Marshal(messaging.StepMessage{TaskUUID: ct.Task.UUID, StepUUID: cs.Step.UUID})
	require.NoError(t, e.queue.Send(e.ctx, messaging.StepResultsQueue, 0, b))
	out = e.process()
	require.Equal(t, 1, out.Duplicate)
	require.Empty(t, out.DomainEvents, "a redelivered result publishes nothing")
	require.Equal(t, []string{"pay.ok"}, eventNames(e.durableEvents("shop")))

	recs, err = e.store.DomainEvents(e.ctx, ct.Task.UUID, 0, 0)
	require.NoError(t, err)
	var got []string
	for _, r := range recs {
		got = append(got, r.Event.EventName)
	}
	require.Equal(t, []string{"pay.failed", "pay.retrying", "pay.tried", "pay.ok"}, got, "every published event, in order")
	later, err := e.store.DomainEvents(e.ctx, ct.Task.UUID, recs[1].ID, 0)
	require.NoError(t, err)
	require.Len(t, later, 2)
	require.Equal(t, recs[2].Event.EventID, later[0].Event.EventID)
}
