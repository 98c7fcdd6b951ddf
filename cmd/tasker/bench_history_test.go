package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/config"
)

// TestWaitForCatchUp: a loaded queue table with more dead rows than the
// table vacuum's threshold keeps the history scenario waiting until it is
// vacuumed; a disabled loop is not waited for.
func TestWaitForCatchUp(t *testing.T) {
	db := benchDatabase(t)
	conn, err := pgx.Connect(t.Context(), db.URL)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close(t.Context()) })
	ctx := t.Context()
	schema := "hist_" + strings.ReplaceAll(uuid.NewString(), "-", "")
	_, err = conn.Exec(ctx, `CREATE SCHEMA `+schema+`; CREATE TABLE `+schema+`.mq_q (id int);
		INSERT INTO `+schema+`.mq_q SELECT generate_series(1, 3000); DELETE FROM `+schema+`.mq_q`)
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = conn.Exec(context.Background(), `DROP SCHEMA `+schema+` CASCADE`) })
	rows := map[string]int64{"mq_q (dead)": 3000}
	th := catchUp{vacuum: config.Vacuum{Enabled: true, MinDeadRows: 100, DeadFraction: 0.2}}

	took, ok, err := waitForCatchUp(ctx, conn, schema, rows, th, 600*time.Millisecond)
	require.NoError(t, err)
	require.False(t, ok, "3,000 dead rows are above the vacuum's threshold")
	require.GreaterOrEqual(t, took, 0.6)

	off := th
	off.vacuum.Enabled = false
	_, ok, err = waitForCatchUp(ctx, conn, schema, rows, off, time.Minute)
	require.NoError(t, err)
	require.True(t, ok, "a disabled table vacuum is not waited for")

	_, err = conn.Exec(ctx, `VACUUM `+schema+`.mq_q`)
	require.NoError(t, err)
	_, ok, err = waitForCatchUp(ctx, conn, schema, rows, th, time.Minute)
	require.NoError(t, err)
	require.True(t, ok, "vacuumed")
}
