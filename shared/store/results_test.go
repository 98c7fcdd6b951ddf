package store_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/messaging"
	"github.com/tasker-go/tasker/shared/state"
	"github.com/tasker-go/tasker/shared/store"
)

// TestProcessNextResultsClaimsInsideTheTransaction: with the Postgres
// queue, result messages are claimed by the transaction that processes
// them. A batch whose processing fails leaves its messages visible at once
// and undelivered (the claim rolled back with it), where a separate claim
// would have hidden them for the visibility timeout; an unreadable message
// is deleted with the batch; the claimed callback sees the claim's size
// before the processing.
func TestProcessNextResultsClaimsInsideTheTransaction(t *testing.T) {
	e := newEnv(t)
	specs := []stepSpec{{name: "a", maxAttempts: 1}, {name: "b", deps: []string{"a"}, maxAttempts: 1}}
	e.register("inline", "inline", specs)
	taskID := e.createTask(specs, `{}`).Task.UUID
	claimed := e.claimAll("w").Claimed
	require.Len(t, claimed, 1)
	require.Len(t, e.complete("w", claimed[0], true, false).Recorded, 1)
	require.NoError(t, e.queue.Send(e.ctx, messaging.StepResultsQueue, 0, []byte(`{"step_uuid":"nope"}`)))

	// The decider moves the step somewhere it cannot go: processing fails.
	bad := func(store.Step, store.ReportedTask) store.Decision { return store.Decision{To: state.StepPending} }
	_, ids, err := e.store.ProcessNextResults(e.ctx, 10, time.Minute, bad, nil)
	require.ErrorIs(t, err, store.ErrInvalidState)
	require.Len(t, ids, 2, "the claimed ids come back for the caller to hide")
	msgs, err := e.queue.Claim(e.ctx, messaging.StepResultsQueue, messaging.ClaimOptions{N: 10, Visibility: time.Millisecond})
	require.NoError(t, err)
	require.Len(t, msgs, 2, "both messages are visible again at once")
	for _, m := range msgs {
		require.Equal(t, 1, m.ReadCount, "the failed claim did not count as a delivery")
	}
	time.Sleep(5 * time.Millisecond) // let that claim's 1 ms visibility pass

	var took []int
	out, ids, err := e.store.ProcessNextResults(e.ctx, 10, time.Minute, decide, func(n int) { took = append(took, n) })
	require.NoError(t, err)
	require.Equal(t, []int{2}, took)
	require.Len(t, ids, 2)
	require.Equal(t, []string{`{"step_uuid": "nope"}`}, out.Unreadable)
	require.Equal(t, 1, out.Steps[state.StepComplete])
	require.Len(t, out.Acked, 1)
	st, err := e.queue.Stats(e.ctx, messaging.StepResultsQueue)
	require.NoError(t, err)
	require.Zero(t, st.Depth, "processed and unreadable messages were deleted in the transaction")
	require.Equal(t, state.StepEnqueued, e.stepState(taskID, "b").State, "the child was enqueued")

	// An empty queue: nothing claimed, nothing processed.
	took = nil
	out, ids, err = e.store.ProcessNextResults(e.ctx, 10, time.Minute, decide, func(n int) { took = append(took, n) })
	require.NoError(t, err)
	require.Equal(t, []int{0}, took)
	require.Empty(t, ids)
	require.Empty(t, out.Acked)
}
