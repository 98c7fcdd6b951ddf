package store

import (
	"fmt"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/state"
)

func TestReadyHoldsBatchWorkersToTheirParallelism(t *testing.T) {
	g := newTaskGraph()
	parent := uuid.New()
	g.steps[parent], g.names[parent] = state.StepComplete, "analyze"
	ids := make([]uuid.UUID, 6)
	for i := range ids {
		ids[i] = uuid.New()
		g.steps[ids[i]], g.names[ids[i]] = state.StepPending, fmt.Sprintf("work_%03d", i+1)
		g.parents[ids[i]] = []uuid.UUID{parent}
		g.batches[ids[i]] = batchSlot{template: "work", limit: 2}
	}
	other := uuid.New()
	g.steps[other], g.names[other] = state.StepPending, "side"
	g.parents[other] = []uuid.UUID{parent}

	require.ElementsMatch(t, []uuid.UUID{other, ids[0], ids[1]}, g.ready(), "two workers at once, lowest names first")
	g.steps[ids[0]], g.steps[ids[1]], g.steps[other] = state.StepInProgress, state.StepWaitingForRetry, state.StepComplete
	require.Empty(t, g.ready(), "both slots busy (a worker waiting to retry keeps its slot)")
	g.steps[ids[0]] = state.StepComplete
	require.Equal(t, []uuid.UUID{ids[2]}, g.ready())
	g.steps[ids[1]] = state.StepError
	require.Equal(t, []uuid.UUID{ids[2], ids[3]}, g.ready())

	// Without a limit every ready worker goes at once.
	for _, id := range ids {
		g.batches[id] = batchSlot{template: "work"}
	}
	require.Len(t, g.ready(), 4)

	// A failed worker of an isolating batch leaves its siblings runnable;
	// any other failure does not.
	for _, id := range ids {
		g.batches[id] = batchSlot{template: "work", limit: 2, isolate: true}
	}
	require.True(t, g.isolatedFailures())
	require.Equal(t, []uuid.UUID{ids[2], ids[3]}, g.readyIsolated())
	g.steps[other] = state.StepError
	require.False(t, g.isolatedFailures(), "a failed step outside the batch blocks the task")
}
