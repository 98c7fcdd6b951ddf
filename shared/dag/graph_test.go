package dag_test

import (
	"fmt"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tasker-go/tasker/shared/dag"
	"github.com/tasker-go/tasker/shared/state"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestInFlight(t *testing.T) {
	want := map[state.StepState]bool{
		state.StepEnqueued: true, state.StepInProgress: true, state.StepEnqueuedForOrchestration: true,
		state.StepEnqueuedAsErrorForOrchestration: true, state.StepWaitingForRetry: true,
	}
	for _, s := range state.StepStates {
		require.Equal(t, want[s], dag.InFlight(s), s)
	}
}

func TestSatisfiedAndParentNames(t *testing.T) {
	g := dag.New()
	a, b, c, d := uuid.New(), uuid.New(), uuid.New(), uuid.New()
	g.AddStep(a, "zeta", state.StepComplete)
	g.AddStep(b, "alpha", state.StepResolvedManually)
	g.AddStep(c, "mid", state.StepError)
	g.AddStep(d, "join", state.StepPending)
	for _, p := range []uuid.UUID{a, b, c} {
		g.AddEdge(p, d)
	}
	total, done := g.Satisfied(d)
	require.Equal(t, 3, total)
	require.Equal(t, 2, done, "complete and resolved by hand satisfy; error does not")
	require.Equal(t, []string{"alpha", "mid", "zeta"}, g.ParentNames(d))
	total, done = g.Satisfied(a)
	require.Zero(t, total)
	require.Zero(t, done)
	require.Empty(t, g.ParentNames(a))
	require.Empty(t, g.Ready(), "the join waits for its failed parent")
	g.AddStep(c, "mid", state.StepComplete)
	require.Equal(t, []uuid.UUID{d}, g.Ready())
	require.Equal(t, state.StepComplete, g.State(c))
}

func TestReadyHoldsBatchWorkersToTheirParallelism(t *testing.T) {
	g := dag.New()
	parent := uuid.New()
	g.AddStep(parent, "analyze", state.StepComplete)
	ids := make([]uuid.UUID, 6)
	name := func(i int) string { return fmt.Sprintf("work_%03d", i+1) }
	setBatch := func(b dag.BatchSlot) {
		for _, id := range ids {
			g.SetBatch(id, b)
		}
	}
	for i := range ids {
		ids[i] = uuid.New()
		g.AddStep(ids[i], name(i), state.StepPending)
		g.AddEdge(parent, ids[i])
	}
	setBatch(dag.BatchSlot{Template: "work", Limit: 2})
	other := uuid.New()
	g.AddStep(other, "side", state.StepPending)
	g.AddEdge(parent, other)

	require.ElementsMatch(t, []uuid.UUID{other, ids[0], ids[1]}, g.Ready(), "two workers at once, lowest names first")
	g.AddStep(ids[0], name(0), state.StepInProgress)
	g.AddStep(ids[1], name(1), state.StepWaitingForRetry)
	g.AddStep(other, "side", state.StepComplete)
	require.Empty(t, g.Ready(), "both slots busy (a worker waiting to retry keeps its slot)")
	g.AddStep(ids[0], name(0), state.StepComplete)
	require.Equal(t, []uuid.UUID{ids[2]}, g.Ready())
	g.AddStep(ids[1], name(1), state.StepError)
	require.Equal(t, []uuid.UUID{ids[2], ids[3]}, g.Ready())
	require.Equal(t, 4, g.Counts().Ready, "counts ignore the parallelism")

	// Without a limit every ready worker goes at once.
	setBatch(dag.BatchSlot{Template: "work"})
	require.Len(t, g.Ready(), 4)

	// A failed worker of an isolating batch leaves its siblings runnable;
	// any other failure does not.
	setBatch(dag.BatchSlot{Template: "work", Limit: 2, Isolate: true})
	require.True(t, g.IsolatedFailures())
	require.Equal(t, []uuid.UUID{ids[2], ids[3]}, g.ReadyIsolated())
	g.AddStep(other, "side", state.StepError)
	require.False(t, g.IsolatedFailures(), "a failed step outside the batch blocks the task")
}

func TestReadyKeepsBatchesApart(t *testing.T) {
	g := dag.New()
	a1, a2, b1 := uuid.New(), uuid.New(), uuid.New()
	g.AddStep(a1, "a_001", state.StepInProgress)
	g.AddStep(a2, "a_002", state.StepPending)
	g.AddStep(b1, "b_001", state.StepPending)
	g.SetBatch(a1, dag.BatchSlot{Template: "a", Limit: 1})
	g.SetBatch(a2, dag.BatchSlot{Template: "a", Limit: 1})
	g.SetBatch(b1, dag.BatchSlot{Template: "b", Limit: 1})
	require.Equal(t, []uuid.UUID{b1}, g.Ready(), "a's slot is taken, b's is free")
	require.False(t, g.IsolatedFailures(), "no failure at all")
}
