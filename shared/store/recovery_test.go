package store_test

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/messaging"
	"github.com/tasker-go/tasker/shared/state"
	"github.com/tasker-go/tasker/shared/store"
)

// messagesFor counts the messages about a step in a queue.
func (e *env) messagesFor(queue string, step uuid.UUID) int {
	var n int
	require.NoError(e.t, e.store.Pool().QueryRow(e.ctx, `SELECT count(*) FROM "mq_`+queue+`"
		WHERE message->>'step_uuid' = $1`, step.String()).Scan(&n))
	return n
}

// TestNudgeResendsOnlyLostMessages: under a deep backlog every step has
// waited long, but only the one whose message is gone gets a new message;
// steps whose message (step or result) is still queued get none. Every step
// looked at is stamped, so the next pass looks at others.
func TestNudgeResendsOnlyLostMessages(t *testing.T) {
	e := newEnv(t)
	specs := []stepSpec{{name: "only", retryable: true}}
	e.register("deep", "deep", specs)
	q := messaging.WorkerQueue("deep")
	stepOf := map[uuid.UUID]uuid.UUID{}
	create := func() uuid.UUID {
		id := e.createTask(specs, `{}`).Task.UUID
		stepOf[id] = e.ids["only"]
		return id
	}
	reported := create()
	e.complete("w", e.claimAll("w").Claimed[0], true, false) // result queued, not processed
	queued, lost := create(), create()
	e.exec(`DELETE FROM "mq_`+q+`" WHERE message->>'step_uuid' = $1`, stepOf[lost].String())
	e.exec(`UPDATE workflow_steps SET state_changed_at = now() - interval '1 hour'`)

	stalled, err := e.store.OverdueSteps(e.ctx, time.Minute, 100)
	require.NoError(t, err)
	require.Len(t, stalled, 3)
	sent, err := e.store.NudgeSteps(e.ctx, stalled)
	require.NoError(t, err)
	require.Equal(t, 1, sent)
	require.Equal(t, 1, e.messagesFor(q, stepOf[queued]), "no duplicate behind a deep queue")
	require.Equal(t, 1, e.messagesFor(q, stepOf[lost]), "the lost message is re-sent")
	require.Equal(t, 1, e.messagesFor(messaging.StepResultsQueue, stepOf[reported]), "no duplicate result")
	again, err := e.store.OverdueSteps(e.ctx, time.Minute, 100)
	require.NoError(t, err)
	require.Empty(t, again, "every step looked at was stamped")

	claimed := e.claimAll("w").Claimed
	require.Len(t, claimed, 2)
	require.ElementsMatch(t, []uuid.UUID{queued, lost}, []uuid.UUID{claimed[0].Task.UUID, claimed[1].Task.UUID})
	e.ids["only"] = stepOf[reported]
	require.Equal(t, state.StepEnqueuedForOrchestration, e.stepState(reported, "only").State)
}

// TestNudgeWithoutTableQueueResendsAll: with a queue whose messages the
// store cannot see, every stalled step gets its message again.
func TestNudgeWithoutTableQueueResendsAll(t *testing.T) {
	e := newEnv(t)
	st, err := store.New(store.Config{Pool: e.store.Pool(), Queue: plainQueue{e.queue}, ProcessorID: "test", Schema: e.db.Schema})
	require.NoError(t, err)
	specs := []stepSpec{{name: "only", retryable: true}}
	e.register("plainnudge", "plainnudge", specs)
	taskID := e.createTask(specs, `{}`).Task.UUID
	e.exec(`UPDATE workflow_steps SET state_changed_at = now() - interval '1 hour'`)
	stalled, err := st.OverdueSteps(e.ctx, time.Minute, 100)
	require.NoError(t, err)
	require.Len(t, stalled, 1)
	sent, err := st.NudgeSteps(e.ctx, stalled)
	require.NoError(t, err)
	require.Equal(t, 1, sent)
	require.Equal(t, 2, e.messagesFor(messaging.WorkerQueue("plainnudge"), e.stepState(taskID, "only").UUID))
}
