package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/messaging"
	"github.com/tasker-go/tasker/shared/messaging/pgqueue"
	"github.com/tasker-go/tasker/shared/store"
	"github.com/tasker-go/tasker/shared/testdb"
)

// TestVacuumHotTablesKeepsClaimsCheap: every acked message leaves a dead row,
// and until a vacuum the claim's scan walks past them all. With autovacuum
// off for the queue, 20,000 messages make the claim's scan read some 2,000
// buffers; VacuumHotTables picks the table from its statistics and vacuums it,
// and with it vacuuming as the messages go, 20,000 more leave the claim no
// dearer than after the first vacuum (without it, the cost doubles). A
// table without dead rows, and one whose few dead rows sit beside a large
// backlog, are left alone.
func TestVacuumHotTablesKeepsClaimsCheap(t *testing.T) {
	// A database of its own: a vacuum cannot remove rows that a snapshot
	// of any session of the same database may still see, and other tests'
	// transactions would hold it back.
	e := newEnvInOwnDatabase(t)
	const queue = "worker_vac_queue"
	require.NoError(t, e.queue.Ensure(e.ctx, queue))
	require.NoError(t, e.queue.Ensure(e.ctx, "worker_idle_queue"))
	_, err := e.store.Pool().Exec(e.ctx, `ALTER TABLE mq_worker_vac_queue SET (autovacuum_enabled = false)`)
	require.NoError(t, err)

	batch := make([]json.RawMessage, 1000)
	for i := range batch {
		batch[i] = json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))
	}
	churn := func(queue string, rounds int) {
		for range rounds {
			require.NoError(t, e.queue.Send(e.ctx, queue, 0, batch...))
			msgs, err := e.queue.Claim(e.ctx, queue, messaging.ClaimOptions{N: len(batch), Visibility: time.Minute})
			require.NoError(t, err)
			require.Len(t, msgs, len(batch))
			receipts := make([]messaging.Receipt, len(msgs))
			for i, m := range msgs {
				receipts[i] = messaging.Receipt{ID: m.ID, ReadCount: m.ReadCount}
			}
			require.NoError(t, e.queue.Ack(e.ctx, queue, receipts...))
		}
	}
	// Buffers read by the claim's choice of messages (the driver picks the
	// ids with this query, then updates them by primary key), whatever
	// plan the statistics lead to.
	buffers := func() int {
		var plan []map[string]any
		require.NoError(t, e.store.Pool().QueryRow(e.ctx, `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON)
			SELECT msg_id FROM mq_worker_vac_queue WHERE vt <= clock_timestamp()
			ORDER BY msg_id LIMIT 5 FOR UPDATE SKIP LOCKED`).Scan(&plan))
		top := plan[0]["Plan"].(map[string]any)
		return int(top["Shared Hit Blocks"].(float64) + top["Shared Read Blocks"].(float64))
	}
	// vacuum waits for the statistics to show the dead rows (they reach
	// pg_stat_user_tables a few seconds late) and for the table's vacuum.
	vacuum := func() []string {
		var vacuumed []string
		require.Eventually(t, func() bool {
			tables, err := e.store.VacuumHotTables(e.ctx, 1000, 0.2)
			require.NoError(t, err)
			vacuumed = append(vacuumed, tables...)
			return slices.Contains(vacuumed, "mq_worker_vac_queue")
		}, 30*time.Second, 100*time.Millisecond)
		return vacuumed
	}

	churn(queue, 20)
	require.NoError(t, e.queue.Send(e.ctx, queue, 0, batch[:5]...))
	bloated := buffers()
	vacuumed := vacuum()
	require.NotContains(t, vacuumed, "mq_worker_idle_queue", "no dead rows: not vacuumed")
	cleaned := buffers()
	for range 2 {
		churn(queue, 10)
		vacuum()
	}
	steady := buffers()
	t.Logf("claim scan after 20,000 messages: %d buffers; vacuumed: %d; 20,000 more, vacuumed as they go: %d",
		bloated, cleaned, steady)
	require.Greater(t, bloated, 1000, "20,000 acked messages leave dead rows the claim walks past")
	require.Less(t, cleaned, bloated/2)
	require.LessOrEqual(t, steady, cleaned+cleaned/4, "the vacuumed queue does not grow with the messages it moved")

	// Just vacuumed: the next pass leaves it alone.
	tables, err := e.store.VacuumHotTables(e.ctx, 1000, 0.2)
	require.NoError(t, err)
	require.NotContains(t, tables, "mq_worker_vac_queue")

	// A backlog raises the bar: 100 dead rows beside 10,000 live ones stay
	// below the fraction.
	const backlog = "worker_backlog_queue"
	big := make([]json.RawMessage, 10000)
	for i := range big {
		big[i] = json.RawMessage(`{}`)
	}
	require.NoError(t, e.queue.Ensure(e.ctx, backlog))
	require.NoError(t, e.queue.Send(e.ctx, backlog, 0, big...))
	msgs, err := e.queue.Claim(e.ctx, backlog, messaging.ClaimOptions{N: 100, Visibility: time.Minute})
	require.NoError(t, err)
	receipts := make([]messaging.Receipt, len(msgs))
	for i, m := range msgs {
		receipts[i] = messaging.Receipt{ID: m.ID, ReadCount: m.ReadCount}
	}
	require.NoError(t, e.queue.Ack(e.ctx, backlog, receipts...))
	// A loop of its own rather than require.Never, whose last check may
	// still run in its goroutine when the test ends and its context is
	// cancelled (a flake seen under load).
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(250 * time.Millisecond) {
		tables, err := e.store.VacuumHotTables(e.ctx, 50, 0.2)
		require.NoError(t, err)
		require.NotContains(t, tables, "mq_"+backlog)
	}
}

// TestVacuumHotTablesTakesTasks: finished tasks leave dead rows in tasks
// (their finishing update is not HOT: it takes them out of the index of
// open tasks); past the thresholds the table is vacuumed like a queue.
func TestVacuumHotTablesTakesTasks(t *testing.T) {
	e := newEnv(t)
	e.register("vac", "vac", linear)
	for range 60 {
		e.createTask(linear, `{}`)
	}
	_, err := e.store.Pool().Exec(e.ctx, `UPDATE tasks SET state = 'cancelled', completed_at = now()`)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		tables, err := e.store.VacuumHotTables(e.ctx, 50, 0.2)
		require.NoError(t, err)
		require.NotContains(t, tables, "workflow_steps", "not a table the loop vacuums")
		return slices.Contains(tables, "tasks")
	}, 30*time.Second, 200*time.Millisecond)
}

// TestVacuumHotTablesRunsWithoutTheStatementTimeout: the vacuum of a large
// table must not be cut short by the pool's statement timeout (it would
// start over on every pass and never finish), so VacuumHotTables runs it
// on a connection without one, and gives that connection its timeout back.
func TestVacuumHotTablesRunsWithoutTheStatementTimeout(t *testing.T) {
	db := testdb.New(t)
	cfg, err := pgxpool.ParseConfig(db.URL)
	require.NoError(t, err)
	cfg.ConnConfig.RuntimeParams["search_path"] = db.Schema
	cfg.ConnConfig.RuntimeParams["statement_timeout"] = "20000"
	cfg.MaxConns = 1 // the one connection the vacuum ran on is checked after
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	require.NoError(t, err)
	defer pool.Close()
	q, err := pgqueue.New(pgqueue.Config{Pool: pool, Schema: db.Schema})
	require.NoError(t, err)
	st, err := store.New(store.Config{Pool: pool, Queue: q, ProcessorID: "test", Schema: db.Schema})
	require.NoError(t, err)
	require.NoError(t, q.Ensure(ctx, "worker_timeout_queue"))
	for _, sql := range []string{
		`INSERT INTO mq_worker_timeout_queue (message) SELECT '{}' FROM generate_series(1, 3000)`,
		`DELETE FROM mq_worker_timeout_queue`,
		`SELECT pg_stat_force_next_flush()`,
		`SELECT 1`,
	} {
		_, err := pool.Exec(ctx, sql)
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool {
		tables, err := st.VacuumHotTables(ctx, 1000, 0.2)
		require.NoError(t, err)
		return slices.Contains(tables, "mq_worker_timeout_queue")
	}, 30*time.Second, 100*time.Millisecond)
	var timeout string
	require.NoError(t, pool.QueryRow(ctx, `SHOW statement_timeout`).Scan(&timeout))
	require.Equal(t, "20s", timeout, "the connection has its statement timeout back")
}
