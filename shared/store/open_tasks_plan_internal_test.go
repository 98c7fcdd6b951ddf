package store

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The statements that look for open tasks (the pollers) read them through
// tasks_open_idx, and retention walks tasks_created_at_idx: none of them
// scans tasks, however many finished tasks the history holds. Checked with
// the statistics taken over finished tasks only (right after a large load,
// as the statistics keeper sees it) and again once open tasks were
// analyzed.
func TestOpenTaskStatementsUseTheirIndexesWithHistory(t *testing.T) {
	e := newInternalEnv(t)
	historyFixture(t, e, 5000, 50)
	thresholds := []string{"60", "60", "60", "1440", "10"}
	for _, analyzed := range []bool{false, true} {
		if analyzed {
			_, err := e.store.pool.Exec(e.ctx, `ANALYZE tasks; ANALYZE workflow_steps`)
			require.NoError(t, err)
		}
		for _, tc := range []struct {
			name, sql, index string
			args             []string
		}{
			{"overdue steps", overdueStepsSQL, "tasks_open_idx", []string{"1000", "100"}},
			{"tasks to reconcile", tasksToReconcileSQL, "tasks_open_idx", []string{"1000", "100"}},
			{"stale tasks", pastStalenessSQL, "tasks_open_idx", thresholds},
			{"staleness monitor", staleQuery(`ORDER BY t.state_changed_at LIMIT $5`), "tasks_open_idx", thresholds},
			{"retention", purgeFinishedSQL, "tasks_created_at_idx", []string{"3600000000", "100"}},
		} {
			plan := genericPlan(t, e, tc.sql, tc.args...)
			require.Containsf(t, plan, `"Index Name": "`+tc.index+`"`, "%s (analyzed: %v):\n%s", tc.name, analyzed, plan)
			require.Falsef(t, scansTasks(plan), "%s (analyzed: %v) scans tasks:\n%s", tc.name, analyzed, plan)
		}
	}
}

// The hot statements that change task and step rows find them by primary
// key with a large history, so their cost does not grow with it.
func TestTransitionStatementsUsePrimaryKeysWithHistory(t *testing.T) {
	e := newInternalEnv(t)
	historyFixture(t, e, 5000, 50)
	arrays := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = "'{}'"
		}
		return out
	}
	for _, tc := range []struct {
		name, sql, index string
		args             []string
	}{
		{"task transitions", taskTransitionSQL, "tasks_pkey", append(arrays(10), "'p'")},
		{"enqueue steps", enqueueSQL, "workflow_steps_pkey", arrays(1)},
		{"record results", recordSQL, "workflow_steps_pkey", []string{"'[]'", "false", "'{}'"}},
	} {
		plan := genericPlan(t, e, tc.sql, tc.args...)
		require.Containsf(t, plan, `"Index Name": "`+tc.index+`"`, "%s:\n%s", tc.name, plan)
		require.NotContainsf(t, plan, `"Seq Scan"`, "%s:\n%s", tc.name, plan)
	}
}

// scansTasks reports whether a JSON plan reads the tasks table
// sequentially.
func scansTasks(plan string) bool {
	for _, node := range strings.Split(plan, `"Node Type": `)[1:] {
		if strings.HasPrefix(node, `"Seq Scan"`) && strings.Contains(strings.SplitN(node, `"Node Type"`, 2)[0], `"Relation Name": "tasks"`) {
			return true
		}
	}
	return false
}
