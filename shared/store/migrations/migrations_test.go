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

// TestRoutingMigratesQueueTables: the step-routing migration gives the
// queue tables that exist when it runs their callable column and index, and
// fills in the callable of the step messages already waiting from their
// steps.
func TestRoutingMigratesQueueTables(t *testing.T) {
	ctx := context.Background()
	db := testdb.Empty(t)
	m, err := migrations.Open(ctx, db.URL, db.Schema)
	require.NoError(t, err)
	defer m.Close()
	_, err = m.Up(ctx)
	require.NoError(t, err)
	applied := func(version int64) bool {
		st, err := m.Status(ctx)
		require.NoError(t, err)
		for _, s := range st {
			if s.Version == version {
				return s.Applied
			}
		}
		t.Fatalf("no migration %d", version)
		return false
	}
	for applied(5) {
		_, err := m.Down(ctx)
		require.NoError(t, err)
	}
	pool := db.Pool(t, 1)
	_, err = pool.Exec(ctx, `
		INSERT INTO task_namespaces (task_namespace_uuid, name) VALUES ('00000000-0000-0000-0000-00000000000a', 'pay');
		INSERT INTO named_tasks (named_task_uuid, task_namespace_uuid, name, version, configuration)
			VALUES ('00000000-0000-0000-0000-00000000000b', '00000000-0000-0000-0000-00000000000a', 't', '1', '{}');
		INSERT INTO named_steps (named_step_uuid, name) VALUES ('00000000-0000-0000-0000-00000000000c', 's');
		INSERT INTO tasks (task_uuid, named_task_uuid, namespace, identity_hash, correlation_id)
			VALUES ('00000000-0000-0000-0000-00000000000d', '00000000-0000-0000-0000-00000000000b', 'pay', 'h',
			        '00000000-0000-0000-0000-00000000000e');
		INSERT INTO workflow_steps (workflow_step_uuid, task_uuid, named_step_uuid, name, template_step_name, handler_callable)
			VALUES ('00000000-0000-0000-0000-00000000000f', '00000000-0000-0000-0000-00000000000d',
			        '00000000-0000-0000-0000-00000000000c', 's', 's', 'Pay::Charge');
		CREATE TABLE mq_worker_pay_queue (msg_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
			read_ct integer NOT NULL DEFAULT 0, enqueued_at timestamptz NOT NULL DEFAULT now(),
			vt timestamptz NOT NULL DEFAULT now(), message jsonb NOT NULL);
		INSERT INTO mq_worker_pay_queue (message) VALUES
			('{"task_uuid": "00000000-0000-0000-0000-00000000000d", "step_uuid": "00000000-0000-0000-0000-00000000000f"}'),
			('{"step_uuid": "not a uuid"}');
		CREATE TABLE mq_orchestration_step_results (msg_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
			read_ct integer NOT NULL DEFAULT 0, enqueued_at timestamptz NOT NULL DEFAULT now(),
			vt timestamptz NOT NULL DEFAULT now(), message jsonb NOT NULL)`)
	require.NoError(t, err)
	_, err = m.Up(ctx)
	require.NoError(t, err)
	rows, err := pool.Query(ctx, `SELECT callable, message->>'callable' FROM mq_worker_pay_queue ORDER BY msg_id`)
	require.NoError(t, err)
	var got [][2]*string
	for rows.Next() {
		var c, mc *string
		require.NoError(t, rows.Scan(&c, &mc))
		got = append(got, [2]*string{c, mc})
	}
	require.NoError(t, rows.Err())
	require.Len(t, got, 2)
	require.NotNil(t, got[0][0])
	require.Equal(t, "Pay::Charge", *got[0][0])
	require.Equal(t, "Pay::Charge", *got[0][1], "the message carries its callable too")
	require.Nil(t, got[1][0], "a message naming no step is left without a route")
	var indexes int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM pg_indexes WHERE schemaname = $1
		AND indexname IN ('mq_worker_pay_queue_callable', 'mq_orchestration_step_results_callable')`, db.Schema).Scan(&indexes))
	require.Equal(t, 2, indexes)
	var workers bool
	require.NoError(t, pool.QueryRow(ctx, `SELECT to_regclass('workers') IS NOT NULL`).Scan(&workers))
	require.True(t, workers)
}

// TestForeignKeysAreIndexed: every foreign key's columns lead an index of
// the referencing table (one without a predicate), so that deleting a
// referenced row (retention deletes tasks, which cascades to their steps
// and DLQ entries) finds the referencing rows through an index instead of
// reading the whole table once per deleted row; and the tables retention
// deletes from by itself are indexed on the column it deletes by.
func TestForeignKeysAreIndexed(t *testing.T) {
	ctx := context.Background()
	db := testdb.New(t)
	pool := db.Pool(t, 1)
	rows, err := pool.Query(ctx, `
		SELECT c.conrelid::regclass::text || ' ' || c.conname FROM pg_constraint c
		WHERE c.contype = 'f' AND c.connamespace = $1::regnamespace
		  AND NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.conrelid AND i.indpred IS NULL
			AND (string_to_array(i.indkey::text, ' ')::int2[])[1:cardinality(c.conkey)] = c.conkey)
		ORDER BY 1`, db.Schema)
	require.NoError(t, err)
	var unindexed []string
	for rows.Next() {
		var s string
		require.NoError(t, rows.Scan(&s))
		unindexed = append(unindexed, s)
	}
	require.NoError(t, rows.Err())
	require.Empty(t, unindexed, "foreign keys whose referencing rows no index finds")
	var fks int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM pg_constraint WHERE contype = 'f'
		AND connamespace = $1::regnamespace`, db.Schema).Scan(&fks))
	require.GreaterOrEqual(t, fks, 3, "the check saw the schema's foreign keys")

	// The tables retention deletes from without a cascade (migrations
	// 00016 and 00017) are reached by an index on the column it deletes by.
	for table, column := range map[string]string{"workflow_steps": "task_uuid", "workflow_step_transitions": "workflow_step_uuid",
		"workflow_step_result_audit": "workflow_step_uuid", "task_transitions": "task_uuid", "workflow_step_edges": "task_uuid"} {
		var leads bool
		require.NoError(t, pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_index i
			JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
			WHERE i.indrelid = ($1 || '.' || $2)::regclass AND i.indpred IS NULL AND a.attname = $3)`,
			db.Schema, table, column).Scan(&leads))
		require.True(t, leads, "%s: no index leads with %s", table, column)
	}
}
