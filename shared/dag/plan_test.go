package dag_test

import (
	"slices"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/dag"
	"github.com/tasker-go/tasker/shared/state"
)

// node is one step of a test graph: its name, state, parents and (for a
// batch worker) its batch slot.
type node struct {
	name    string
	st      state.StepState
	parents []string
	batch   *dag.BatchSlot
}

// build makes a graph of nodes; ids maps names to step ids.
func build(nodes ...node) (g *dag.Graph, ids map[string]uuid.UUID) {
	g, ids = dag.New(), map[string]uuid.UUID{}
	for _, n := range nodes {
		ids[n.name] = uuid.New()
		g.AddStep(ids[n.name], n.name, n.st)
	}
	for _, n := range nodes {
		for _, p := range n.parents {
			g.AddEdge(ids[p], ids[n.name])
		}
		if n.batch != nil {
			g.SetBatch(ids[n.name], *n.batch)
		}
	}
	return g, ids
}

func TestPlanTask(t *testing.T) {
	iso := &dag.BatchSlot{Template: "w", Limit: 1, Isolate: true}
	for _, tc := range []struct {
		name    string
		current state.TaskState
		reopen  bool
		nodes   []node
		enqueue []string
		target  state.TaskState
	}{
		{name: "a new task enqueues its roots", current: state.TaskPending,
			nodes:   []node{{name: "a", st: state.StepPending}, {name: "b", st: state.StepPending}, {name: "c", st: state.StepPending, parents: []string{"a", "b"}}},
			enqueue: []string{"a", "b"}, target: state.TaskStepsInProcess},
		{name: "a task with no steps is complete", current: state.TaskPending, target: state.TaskComplete},
		{name: "a finished parent releases its child", current: state.TaskStepsInProcess,
			nodes:   []node{{name: "a", st: state.StepComplete}, {name: "b", st: state.StepPending, parents: []string{"a"}}},
			enqueue: []string{"b"}, target: state.TaskStepsInProcess},
		{name: "steps out with workers keep the task in process", current: state.TaskStepsInProcess,
			nodes:  []node{{name: "a", st: state.StepInProgress}, {name: "b", st: state.StepPending, parents: []string{"a"}}},
			target: state.TaskStepsInProcess},
		{name: "all steps done completes the task", current: state.TaskStepsInProcess,
			nodes:  []node{{name: "a", st: state.StepComplete}, {name: "b", st: state.StepResolvedManually, parents: []string{"a"}}},
			target: state.TaskComplete},
		{name: "a retry in backoff, nothing else out", current: state.TaskStepsInProcess,
			nodes:  []node{{name: "a", st: state.StepWaitingForRetry}, {name: "b", st: state.StepPending, parents: []string{"a"}}},
			target: state.TaskWaitingForRetry},
		{name: "a failure with a sibling still running blocks", current: state.TaskStepsInProcess,
			nodes:  []node{{name: "a", st: state.StepError}, {name: "b", st: state.StepInProgress}, {name: "c", st: state.StepPending}},
			target: state.TaskBlockedByFailures},
		{name: "a failure with nothing in flight ends in error, starting nothing", current: state.TaskBlockedByFailures,
			nodes:  []node{{name: "a", st: state.StepError}, {name: "c", st: state.StepPending}},
			target: state.TaskError},
		{name: "an isolating batch's failure lets its siblings run", current: state.TaskStepsInProcess,
			nodes: []node{{name: "w_001", st: state.StepError, batch: iso}, {name: "w_002", st: state.StepPending, batch: iso},
				{name: "w_003", st: state.StepPending, batch: iso}, {name: "other", st: state.StepPending}},
			enqueue: []string{"w_002"}, target: state.TaskBlockedByFailures},
		{name: "a finished task stays", current: state.TaskComplete,
			nodes: []node{{name: "a", st: state.StepPending}}, target: state.TaskComplete},
		{name: "a task in error stays without reopen", current: state.TaskError,
			nodes: []node{{name: "a", st: state.StepPending}}, target: state.TaskError},
		{name: "reopen re-drives a task in error", current: state.TaskError, reopen: true,
			nodes: []node{{name: "a", st: state.StepPending}}, enqueue: []string{"a"}, target: state.TaskStepsInProcess},
		{name: "reopen does not re-drive a cancelled task", current: state.TaskCancelled, reopen: true,
			nodes: []node{{name: "a", st: state.StepPending}}, target: state.TaskCancelled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, ids := build(tc.nodes...)
			p := dag.PlanTask(tc.current, g, tc.reopen)
			var want []uuid.UUID
			for _, n := range tc.enqueue {
				want = append(want, ids[n])
			}
			require.ElementsMatch(t, want, p.Enqueue)
			require.True(t, slices.IsSortedFunc(p.Enqueue, func(a, b uuid.UUID) int {
				return slices.Compare(a[:], b[:])
			}), "uuid order")
			require.Equal(t, tc.target, p.Target)
			if tc.target == tc.current {
				require.Empty(t, p.Path)
				require.False(t, p.Moves())
				return
			}
			require.True(t, p.Moves())
			require.Equal(t, tc.current, p.Path[0].From)
			require.Equal(t, tc.target, p.Path[len(p.Path)-1].To)
			for i := 1; i < len(p.Path); i++ {
				require.Equal(t, p.Path[i-1].To, p.Path[i].From, "a connected path")
			}
		})
	}
}

func TestEvaluable(t *testing.T) {
	for _, s := range state.TaskStates {
		require.Equal(t, !s.Terminal(), dag.Evaluable(s, false), s)
		require.Equal(t, !s.Terminal() || s == state.TaskError, dag.Evaluable(s, true), s)
	}
}
