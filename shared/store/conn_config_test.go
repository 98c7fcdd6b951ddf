package store_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/store"
	"github.com/tasker-go/tasker/shared/testdb"
)

// TestConnectionsRunWithoutJIT: the store's connections turn JIT off (a
// short statement with an inflated cost estimate would otherwise be
// compiled for seconds).
func TestConnectionsRunWithoutJIT(t *testing.T) {
	db := testdb.New(t)
	cfg, err := store.ParseConnConfig(store.PoolConfig{URL: db.URL, Schema: db.Schema})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	require.NoError(t, err)
	defer func() { _ = conn.Close(context.Background()) }()
	var jit string
	require.NoError(t, conn.QueryRow(ctx, `SHOW jit`).Scan(&jit))
	require.Equal(t, "off", jit)
}

// TestConnectionsHaveNoDescriptionCache: under the default execution mode
// the connections make no description cache (it would never be read), and
// statements, batches and queries still run through the statement cache;
// a URL choosing the cache_describe mode keeps the cache it needs.
func TestConnectionsHaveNoDescriptionCache(t *testing.T) {
	db := testdb.New(t)
	cfg, err := store.ParseConnConfig(store.PoolConfig{URL: db.URL, Schema: db.Schema})
	require.NoError(t, err)
	require.Equal(t, pgx.QueryExecModeCacheStatement, cfg.DefaultQueryExecMode)
	require.Zero(t, cfg.DescriptionCacheCapacity)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	require.NoError(t, err)
	defer func() { _ = conn.Close(context.Background()) }()
	for i := range 2 { // the second time from the statement cache
		var n int
		require.NoError(t, conn.QueryRow(ctx, `SELECT $1::int + 1`, i).Scan(&n))
		require.Equal(t, i+1, n)
		br := conn.SendBatch(ctx, &pgx.Batch{QueuedQueries: []*pgx.QueuedQuery{{SQL: `SELECT $1::int`, Arguments: []any{i}}}})
		require.NoError(t, br.QueryRow().Scan(&n))
		require.Equal(t, i, n)
		require.NoError(t, br.Close())
	}

	sep := "?"
	if strings.Contains(db.URL, "?") {
		sep = "&"
	}
	cfg, err = store.ParseConnConfig(store.PoolConfig{URL: db.URL + sep + "default_query_exec_mode=cache_describe", Schema: db.Schema})
	require.NoError(t, err)
	require.Equal(t, pgx.QueryExecModeCacheDescribe, cfg.DefaultQueryExecMode)
	require.NotZero(t, cfg.DescriptionCacheCapacity)
	conn2, err := pgx.ConnectConfig(ctx, cfg)
	require.NoError(t, err)
	defer func() { _ = conn2.Close(context.Background()) }()
	var n int
	require.NoError(t, conn2.QueryRow(ctx, `SELECT $1::int + 1`, 1).Scan(&n))
	require.Equal(t, 2, n)
}
