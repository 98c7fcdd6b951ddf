package orchestration_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/dag"
	"github.com/tasker-go/tasker/shared/state"
	"github.com/tasker-go/tasker/shared/store"
)

// shape is one workflow fixture with an early, a middle and a late step.
type shape struct {
	name, fixture       string
	early, middle, late string
	sibling             string // a step running in parallel with middle (mixed-failure test)
}

var shapes = []shape{
	{name: "linear", fixture: "rust/mathematical_sequence.yaml",
		early: "linear_step_1", middle: "linear_step_2", late: "linear_step_4"},
	{name: "diamond", fixture: "rust/diamond_pattern.yaml",
		early: "diamond_start", middle: "diamond_branch_b", late: "diamond_end", sibling: "diamond_branch_c"},
	{name: "tree", fixture: "rust/hierarchical_tree.yaml",
		early: "tree_root", middle: "tree_branch_left", late: "tree_final_convergence", sibling: "tree_branch_right"},
	{name: "mixed_dag", fixture: "rust/complex_dag.yaml",
		early: "dag_init", middle: "dag_process_left", late: "dag_finalize", sibling: "dag_process_right"},
}

const input = `{"even_number": 6}`

func TestShapesHappyPath(t *testing.T) {
	for _, sh := range shapes {
		t.Run(sh.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			tpl := h.fixture(sh.fixture, false)
			d := h.drive(tpl.NamespaceName, succeed)
			task := h.create(tpl, input)
			done := h.waitState(task.UUID, state.TaskComplete, state.TaskError)
			require.Equal(t, state.TaskComplete, done.State)
			require.True(t, done.Complete)
			steps := h.steps(task.UUID)
			require.Len(t, steps, len(tpl.Steps))
			for _, n := range stepNames(tpl) {
				require.Equal(t, state.StepComplete, steps[n].State, n)
				require.Equal(t, 1, steps[n].Attempts, n)
			}
			for id, n := range d.executions() {
				require.Equal(t, 1, n, "step %s ran once", id)
			}
			hist := h.taskHistory(task.UUID)
			require.Equal(t, "pending", hist[0])
			require.Equal(t, "complete", hist[len(hist)-1])
			require.Equal(t, dag.StatusAllComplete, h.executionStatus(task.UUID))
		})
	}
}

func TestShapesPermanentFailure(t *testing.T) {
	for _, sh := range shapes {
		for _, where := range []string{"early", "middle", "late"} {
			step := map[string]string{"early": sh.early, "middle": sh.middle, "late": sh.late}[where]
			t.Run(sh.name+"/"+where, func(t *testing.T) {
				t.Parallel()
				h := newHarness(t)
				tpl := h.fixture(sh.fixture, true)
				h.drive(tpl.NamespaceName, failAt(step, false, 0))
				task := h.create(tpl, input)
				done := h.waitState(task.UUID, state.TaskError, state.TaskComplete)
				require.Equal(t, state.TaskError, done.State)
				steps := h.steps(task.UUID)
				require.Equal(t, state.StepError, steps[step].State)
				require.Equal(t, 1, steps[step].Attempts, "a permanent failure is not retried")
				for _, n := range stepNames(tpl) {
					for _, p := range steps[n].Parents {
						if p == step {
							require.Equal(t, state.StepPending, steps[n].State, "%s depends on the failed step", n)
						}
					}
				}
				hist := h.taskHistory(task.UUID)
				require.Equal(t, []string{"blocked_by_failures", "error"}, hist[len(hist)-2:])
			})
		}
	}
}

func TestShapesRetryThenSuccess(t *testing.T) {
	for _, sh := range shapes {
		t.Run(sh.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			tpl := h.fixture(sh.fixture, true)
			h.drive(tpl.NamespaceName, failAt(sh.middle, true, 1))
			task := h.create(tpl, input)
			done := h.waitState(task.UUID, state.TaskComplete, state.TaskError)
			require.Equal(t, state.TaskComplete, done.State)
			steps := h.steps(task.UUID)
			require.Equal(t, 2, steps[sh.middle].Attempts)
			require.NotNil(t, steps[sh.middle].LastFailureAt)
			if sh.sibling == "" {
				require.Contains(t, h.taskHistory(task.UUID), "waiting_for_retry",
					"the task shows waiting_for_retry while the only step left is in backoff")
			}
		})
	}
}

func TestShapesRetryExhaustion(t *testing.T) {
	for _, sh := range shapes {
		t.Run(sh.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			tpl := h.fixture(sh.fixture, true)
			st, _ := tpl.Step(sh.late)
			h.drive(tpl.NamespaceName, failAt(sh.late, true, 1000))
			task := h.create(tpl, input)
			done := h.waitState(task.UUID, state.TaskError, state.TaskComplete)
			require.Equal(t, state.TaskError, done.State)
			steps := h.steps(task.UUID)
			require.Equal(t, state.StepError, steps[sh.late].State)
			require.Equal(t, st.Retry.MaxAttempts, steps[sh.late].Attempts)
			audit, err := h.store.StepAudit(h.ctx, task.UUID, steps[sh.late].UUID)
			require.NoError(t, err)
			require.Len(t, audit, st.Retry.MaxAttempts, "one audit row per attempt")
		})
	}
}

// TestMixedFailureAndReadyStepBlocks: a branch fails permanently while its
// sibling is still out; the task must report blocked_by_failures (not
// enqueue anything else) and end in error once the sibling is back.
func TestMixedFailureAndReadyStepBlocks(t *testing.T) {
	for _, sh := range shapes {
		if sh.sibling == "" {
			continue
		}
		t.Run(sh.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			tpl := h.fixture(sh.fixture, true)
			gate := make(chan struct{})
			h.drive(tpl.NamespaceName, func(cs store.ClaimedStep) outcome {
				switch cs.Step.Name {
				case sh.middle:
					return outcome{fail: true}
				case sh.sibling:
					return outcome{hold: gate}
				}
				return outcome{}
			})
			task := h.create(tpl, input)
			h.waitState(task.UUID, state.TaskBlockedByFailures)
			require.Equal(t, dag.StatusBlockedByFailures, h.executionStatus(task.UUID))
			close(gate)
			done := h.waitState(task.UUID, state.TaskError)
			require.Equal(t, state.TaskError, done.State)
			steps := h.steps(task.UUID)
			require.Equal(t, state.StepComplete, steps[sh.sibling].State, "the sibling's result is still processed")
			require.Equal(t, state.StepPending, steps[sh.late].State)
		})
	}
}
