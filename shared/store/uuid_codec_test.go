package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/store"
	"github.com/tasker-go/tasker/shared/testdb"
)

// TestUUIDCodec: the store's pools encode and decode uuid.UUID as the 16
// bytes they are (binary and text formats, arrays, pointers, NULL), with
// the values uuid.UUID's own Value and Scan gave.
func TestUUIDCodec(t *testing.T) {
	db := testdb.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pool, err := store.Connect(ctx, store.PoolConfig{URL: db.URL, Schema: db.Schema, MaxConns: 2})
	require.NoError(t, err)
	defer pool.Close()

	a, b := uuid.Must(uuid.NewV7()), uuid.New()
	var one uuid.UUID
	var many []uuid.UUID
	var text string
	require.NoError(t, pool.QueryRow(ctx, `SELECT $1::uuid, $2::uuid[], $1::uuid::text`, a, []uuid.UUID{a, b, uuid.Nil}).
		Scan(&one, &many, &text))
	require.Equal(t, a, one)
	require.Equal(t, []uuid.UUID{a, b, uuid.Nil}, many)
	require.Equal(t, a.String(), text, "the server got the same uuid")

	var ptr *uuid.UUID
	require.NoError(t, pool.QueryRow(ctx, `SELECT $1::uuid`, (*uuid.UUID)(nil)).Scan(&ptr))
	require.Nil(t, ptr, "a nil pointer is NULL, and NULL a nil pointer")
	require.NoError(t, pool.QueryRow(ctx, `SELECT $1::uuid`, &b).Scan(&ptr))
	require.Equal(t, b, *ptr)

	one = a
	require.NoError(t, pool.QueryRow(ctx, `SELECT NULL::uuid`).Scan(&one))
	require.Equal(t, uuid.Nil, one, "NULL into a uuid.UUID is the nil uuid")

	// The text format (the simple protocol) both ways.
	require.NoError(t, pool.QueryRow(ctx, `SELECT $1::uuid`, pgx.QueryExecModeSimpleProtocol, b).Scan(&one))
	require.Equal(t, b, one)
	var fromText uuid.UUID
	require.NoError(t, pool.QueryRow(ctx, `SELECT $1::text::uuid`, pgx.QueryExecModeSimpleProtocol, a.String()).Scan(&fromText))
	require.Equal(t, a, fromText)

	// An invalid uuid sent as a string still fails on the server.
	err = pool.QueryRow(ctx, `SELECT $1::uuid`, "not-a-uuid").Scan(&one)
	require.Error(t, err)
}
