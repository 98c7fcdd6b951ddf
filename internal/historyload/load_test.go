package historyload_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tasker-go/tasker/internal/historyload"
	"github.com/tasker-go/tasker/internal/systest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestLoad: the history of 100 linear tasks is what a finished run leaves:
// complete tasks whose steps carry their results, and one dead row per
// step in the worker queue and the results queue (acked messages, not yet
// vacuumed).
func TestLoad(t *testing.T) {
	sys := systest.Start(t, systest.Options{})
	conn, err := pgx.Connect(sys.Ctx, sys.DB.URL)
	require.NoError(t, err)
	defer conn.Close(context.WithoutCancel(sys.Ctx))

	res, err := historyload.Load(sys.Ctx, conn, sys.DB.Schema, 402)
	require.NoError(t, err)
	require.Equal(t, 100, res.Tasks)
	require.Equal(t, 400, res.Steps)
	require.Equal(t, int64(100), res.Rows["tasks"])
	require.Equal(t, int64(400), res.Rows["workflow_steps"])
	require.Equal(t, int64(400), res.Rows["mq_worker_examples_linear_queue (dead)"])
	require.Equal(t, int64(400), res.Rows["mq_orchestration_step_results (dead)"])

	sch := pgx.Identifier{sys.DB.Schema}.Sanitize()
	var complete, results, queued int
	require.NoError(t, conn.QueryRow(sys.Ctx, `SELECT count(*) FROM `+sch+`.tasks
		WHERE initiator = $1 AND state = 'complete' AND completed_at IS NOT NULL`, historyload.Initiator).Scan(&complete))
	require.Equal(t, 100, complete)
	require.NoError(t, conn.QueryRow(sys.Ctx, `SELECT count(*) FROM `+sch+`.workflow_steps
		WHERE state = 'complete' AND (results->'result'->>'result')::numeric > 0`).Scan(&results))
	require.Equal(t, 400, results)
	require.NoError(t, conn.QueryRow(sys.Ctx, `SELECT count(*) FROM `+sch+`.mq_worker_examples_linear_queue`).Scan(&queued))
	require.Zero(t, queued, "the acked messages are gone, only their dead rows stay")
	require.Eventually(t, func() bool {
		var dead int64
		require.NoError(t, conn.QueryRow(sys.Ctx, `SELECT n_dead_tup FROM pg_stat_user_tables
			WHERE schemaname = $1 AND relname = 'mq_worker_examples_linear_queue'`, sys.DB.Schema).Scan(&dead))
		return dead >= 400
	}, 30*time.Second, 100*time.Millisecond, "the statistics see the dead rows")

	_, err = historyload.Load(sys.Ctx, conn, sys.DB.Schema, 3)
	require.ErrorContains(t, err, "at least 4 steps")
}
