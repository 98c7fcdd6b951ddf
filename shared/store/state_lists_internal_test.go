package store

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/dag"
	"github.com/tasker-go/tasker/shared/state"
)

// TestStateListsMatchTheSchema: the lists written into statements are the
// ones the schema's partial indexes and checks name, so a change to
// shared/state that the schema does not follow (a new terminal state)
// fails here instead of silently losing the indexes' use.
func TestStateListsMatchTheSchema(t *testing.T) {
	require.Equal(t, "'complete', 'error', 'cancelled', 'resolved_manually'", terminalTaskStates)
	require.Equal(t, "'complete', 'cancelled', 'resolved_manually'", terminalStepStates)
	for _, m := range []string{"00001_schema.sql", "00003_finished_tasks_index.sql", "00011_hot_updates.sql"} {
		b, err := os.ReadFile(filepath.Join("migrations", m))
		require.NoError(t, err)
		require.Contains(t, string(b), "IN ("+terminalTaskStates+")", m)
	}
}

// TestRuleListsInStatements: the statements that evaluate a graph rule in
// SQL (for an index or a set-based scan) take their state lists from the
// rule's one definition in Go (dag.InFlight, state.TaskState.Waiting), so
// the rule and the SQL cannot drift apart. A change of either list shows
// here.
func TestRuleListsInStatements(t *testing.T) {
	require.Equal(t, "'enqueued', 'in_progress', 'enqueued_for_orchestration', "+
		"'enqueued_as_error_for_orchestration', 'waiting_for_retry'", inFlightStepStates)
	require.Equal(t, "'steps_in_process', 'waiting_for_dependencies', 'waiting_for_retry', 'blocked_by_failures'",
		waitingTaskStates)
	for _, st := range state.StepStates {
		require.Equal(t, dag.InFlight(st), strings.Contains(inFlightStepStates, "'"+string(st)+"'"), st)
	}
	require.Contains(t, staleQuery(""), "t.state IN ("+waitingTaskStates+")")
}
