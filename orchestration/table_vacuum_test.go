package orchestration_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/config"
)

// TestTableVacuumLoop: the leader vacuums a queue table whose dead rows
// pass the thresholds (autovacuum is off for it), and counts it.
func TestTableVacuumLoop(t *testing.T) {
	h := newHarness(t, func(o *config.Orchestration) {
		o.Vacuum = config.Vacuum{Enabled: true, Interval: time.Second, MinDeadRows: 200, DeadFraction: 0.2}
	})
	const queue = "worker_vacuumed_queue"
	require.NoError(t, h.queue.Ensure(h.ctx, queue))
	// 500 messages sent and acked, on one connection whose statistics are
	// flushed at once (they otherwise reach pg_stat_user_tables seconds
	// late).
	conn, err := h.pool.Acquire(h.ctx)
	require.NoError(t, err)
	defer conn.Release()
	for _, sql := range []string{
		`ALTER TABLE mq_worker_vacuumed_queue SET (autovacuum_enabled = false)`,
		`INSERT INTO mq_worker_vacuumed_queue (message) SELECT '{}' FROM generate_series(1, 500)`,
		`DELETE FROM mq_worker_vacuumed_queue`,
		`SELECT pg_stat_force_next_flush()`,
		`SELECT 1`,
	} {
		_, err := conn.Exec(h.ctx, sql)
		require.NoError(t, err)
	}

	require.Eventually(t, func() bool {
		var vacuumed bool
		require.NoError(t, h.pool.QueryRow(h.ctx, `SELECT last_vacuum IS NOT NULL FROM pg_stat_user_tables
			WHERE schemaname = current_schema() AND relname = 'mq_worker_vacuumed_queue'`).Scan(&vacuumed))
		return vacuumed
	}, 30*time.Second, 100*time.Millisecond)
	require.Eventually(t, func() bool {
		families, err := h.metrics.Gather()
		require.NoError(t, err)
		for _, f := range families {
			if f.GetName() == "tasker_table_vacuums_total" {
				return f.GetMetric()[0].GetCounter().GetValue() >= 1
			}
		}
		return false
	}, 10*time.Second, 50*time.Millisecond)
}
