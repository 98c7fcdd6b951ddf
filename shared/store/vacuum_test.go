package store_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/store"
)

// TestVacuumStatus: the server's settings as PostgreSQL reports them, the
// engine's tables of this schema only (queue tables included), a table
// whose autovacuum is disabled, and dead rows once the statistics catch up.
func TestVacuumStatus(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	specs := []stepSpec{{name: "only", maxAttempts: 1}}
	e.register("vacuum", "vacuum", specs)
	for range 3 {
		e.createTask(specs, `{}`)
	}

	st, err := e.store.VacuumStatus(e.ctx)
	require.NoError(t, err)
	var autovacuum bool
	require.NoError(t, e.store.Pool().QueryRow(e.ctx, `SELECT current_setting('autovacuum')::bool`).Scan(&autovacuum))
	require.Equal(t, autovacuum, st.Autovacuum)
	require.True(t, st.TrackCounts)
	byName := map[string]store.TableVacuum{}
	for _, tv := range st.Tables {
		byName[tv.Table] = tv
	}
	for _, name := range []string{"tasks", "workflow_steps", "workflow_step_transitions", "mq_worker_vacuum_queue"} {
		require.Contains(t, byName, name)
		require.True(t, byName[name].AutovacuumEnabled, name)
	}
	require.NotContains(t, byName, "named_tasks", "templates do not churn: not reported")

	e.exec(`ALTER TABLE workflow_steps SET (autovacuum_enabled = false)`)
	e.exec(`DELETE FROM workflow_step_transitions`)
	require.Eventually(t, func() bool {
		st, err = e.store.VacuumStatus(e.ctx)
		require.NoError(t, err)
		for _, tv := range st.Tables {
			if tv.Table == "workflow_step_transitions" {
				return tv.DeadRows >= 3
			}
		}
		return false
	}, 15*time.Second, 100*time.Millisecond, "the deleted rows show as dead once the statistics are flushed")
	for _, tv := range st.Tables {
		require.Equal(t, tv.Table != "workflow_steps", tv.AutovacuumEnabled, tv.Table)
	}
	for i := 1; i < len(st.Tables); i++ {
		require.GreaterOrEqual(t, st.Tables[i-1].DeadRows, st.Tables[i].DeadRows, "most dead rows first")
	}
}
