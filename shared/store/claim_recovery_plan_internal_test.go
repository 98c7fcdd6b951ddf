package store

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The recovery statements of a backend without queue tables find the steps
// in progress (or waiting for a worker) through the open tasks: they read
// tasks through tasks_open_idx and each open task's steps through
// workflow_steps_task_name_idx, and scan neither tasks nor workflow_steps,
// however many finished tasks the history holds. Checked with the
// statistics taken over finished tasks only (right after a large load) and
// again once the open tasks were analyzed.
func TestOpenTaskRecoveryStatementsDoNotScanHistory(t *testing.T) {
	e := newInternalEnv(t)
	historyFixture(t, e, 5000, 50)
	for _, analyzed := range []bool{false, true} {
		if analyzed {
			_, err := e.store.pool.Exec(e.ctx, `ANALYZE tasks; ANALYZE workflow_steps`)
			require.NoError(t, err)
		}
		for _, tc := range []struct {
			name, sql string
			args      []string
		}{
			{"claims in flight", openClaimsSQL, nil},
			{"expire dead claims", expireOpenClaimsSQL, []string{"42", "now()"}},
			{"release orphaned claims", releaseOpenOrphansSQL, []string{"'w'", "42", "'{}'", "'plan'"}},
			{"unserved steps", unservedOpenStepsSQL, nil},
		} {
			plan := genericPlan(t, e, tc.sql, tc.args...)
			require.Containsf(t, plan, `"Index Name": "tasks_open_idx"`, "%s (analyzed: %v):\n%s", tc.name, analyzed, plan)
			require.Containsf(t, plan, `"Index Name": "workflow_steps_task_name_idx"`, "%s (analyzed: %v):\n%s", tc.name, analyzed, plan)
			require.Falsef(t, scansTasks(plan), "%s (analyzed: %v) scans tasks:\n%s", tc.name, analyzed, plan)
			require.Falsef(t, scansSteps(plan), "%s (analyzed: %v) scans workflow_steps:\n%s", tc.name, analyzed, plan)
		}
	}
}

// scansSteps reports whether a JSON plan reads workflow_steps sequentially.
func scansSteps(plan string) bool {
	for _, node := range strings.Split(plan, `"Node Type": `)[1:] {
		if strings.HasPrefix(node, `"Seq Scan"`) &&
			strings.Contains(strings.SplitN(node, `"Node Type"`, 2)[0], `"Relation Name": "workflow_steps"`) {
			return true
		}
	}
	return false
}
