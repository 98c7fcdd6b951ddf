package store

import (
	"strings"

	"github.com/tasker-go/tasker/shared/dag"
	"github.com/tasker-go/tasker/shared/state"
)

// The state lists statements test against, taken from shared/state and
// written into the statements' text as literals, not passed as parameters:
// with plan_cache_mode = force_generic_plan the planner can match a partial
// index or a check only when the query names its states literally.
//
// Open tasks are found through tasks_open_idx, whose predicate is
// "completed_at IS NULL", not a state list: no index of tasks may refer to
// a column that transitions change, or task updates stop being HOT
// (migration 00011). A statement that reads open tasks says
// "t.completed_at IS NULL" for the planner to use that index, and keeps its
// state condition (a finished task always has completed_at, enforced by the
// check tasks_open_has_no_completed_at, which names terminalTaskStates).
var (
	// terminalTaskStates is the SQL list of task states no transition leaves.
	terminalTaskStates = sqlList(state.TaskStates, state.TaskState.Terminal)
	// terminalStepStates is the SQL list of step states no transition leaves.
	terminalStepStates = sqlList(state.StepStates, state.StepState.Terminal)
	// inFlightStepStates is the SQL list of the step states in flight
	// (dag.InFlight): out with a worker, reported, or waiting for a retry.
	inFlightStepStates = sqlList(state.StepStates, dag.InFlight)
	// waitingTaskStates is the SQL list of the task states in which a task
	// waits for something outside orchestration (state.TaskState.Waiting):
	// the states the staleness thresholds apply to.
	waitingTaskStates = sqlList(state.TaskStates, state.TaskState.Waiting)
)

// sqlList is the states of all that keep accepts, as a list of SQL string
// literals in all's order: 'a', 'b'.
func sqlList[S ~string](all []S, keep func(S) bool) string {
	var parts []string
	for _, s := range all {
		if keep(s) {
			parts = append(parts, "'"+string(s)+"'")
		}
	}
	return strings.Join(parts, ", ")
}
