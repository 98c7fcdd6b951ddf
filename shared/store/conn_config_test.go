package store_test

import (
	"context"
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
