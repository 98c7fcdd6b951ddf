package migrations_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tasker-go/tasker/shared/store/migrations"
	"github.com/tasker-go/tasker/shared/testdb"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestUpDownUp(t *testing.T) {
	ctx := context.Background()
	db := testdb.Empty(t)
	m, err := migrations.Open(ctx, db.URL, db.Schema)
	require.NoError(t, err)
	defer m.Close()
	st, err := m.Status(ctx)
	require.NoError(t, err)
	require.NotEmpty(t, st)
	for _, s := range st {
		require.False(t, s.Applied)
	}
	n, err := m.Up(ctx)
	require.NoError(t, err)
	require.Equal(t, len(st), n)
	n, err = m.Up(ctx)
	require.NoError(t, err)
	require.Zero(t, n, "up is idempotent")
	n, err = m.Down(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	n, err = m.Up(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n, "down then up re-applies cleanly")
}

func TestValidSchema(t *testing.T) {
	require.True(t, migrations.ValidSchema("tasker"))
	require.True(t, migrations.ValidSchema("t_01"))
	for _, bad := range []string{"", "Tasker", "1abc", "a-b", `x"y`} {
		require.False(t, migrations.ValidSchema(bad), bad)
		_, err := migrations.Open(context.Background(), testdb.URL(), bad)
		require.Error(t, err)
	}
}

// TestDownToNothingDropsQueueTables: rolling every migration back leaves no
// Tasker table behind, the queue tables the Postgres backend created at run
// time included; other tables in the schema are not touched.
func TestDownToNothingDropsQueueTables(t *testing.T) {
	ctx := context.Background()
	db := testdb.Empty(t)
	m, err := migrations.Open(ctx, db.URL, db.Schema)
	require.NoError(t, err)
	defer m.Close()
	st, err := m.Status(ctx)
	require.NoError(t, err)
	_, err = m.Up(ctx)
	require.NoError(t, err)
	pool := db.Pool(t, 1)
	_, err = pool.Exec(ctx, `CREATE TABLE mq_worker_payments_queue (msg_id bigint);
		CREATE TABLE mq_orchestration_step_results (msg_id bigint); CREATE TABLE keep_me (id int)`)
	require.NoError(t, err)
	for range st {
		n, err := m.Down(ctx)
		require.NoError(t, err)
		require.Equal(t, 1, n)
	}
	var left []string
	rows, err := pool.Query(ctx, `SELECT tablename FROM pg_tables WHERE schemaname = $1 ORDER BY 1`, db.Schema)
	require.NoError(t, err)
	for rows.Next() {
		var name string
		require.NoError(t, rows.Scan(&name))
		left = append(left, name)
	}
	require.NoError(t, rows.Err())
	require.Equal(t, []string{"goose_db_version", "keep_me"}, left)
}
