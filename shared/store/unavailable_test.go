package store_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/messaging/pgqueue"
	"github.com/tasker-go/tasker/shared/store"
)

// storeOn builds a store over pool (a pool that need not reach anything).
func storeOn(t *testing.T, pool *pgxpool.Pool, schema string) *store.Store {
	t.Helper()
	q, err := pgqueue.New(pgqueue.Config{Pool: pool, Schema: schema})
	require.NoError(t, err)
	st, err := store.New(store.Config{Pool: pool, Queue: q, Schema: schema})
	require.NoError(t, err)
	return st
}

// deadAddress is a local TCP address nothing listens on.
func deadAddress(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

func TestUnavailableWhenNothingListens(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pool, err := pgxpool.New(ctx, "postgres://postgres@"+deadAddress(t)+"/postgres?sslmode=disable&connect_timeout=5")
	require.NoError(t, err)
	defer pool.Close()
	st := storeOn(t, pool, "public")

	_, err = st.GetTask(ctx, uuid.New())
	require.ErrorIs(t, err, store.ErrUnavailable)
	var ce *pgconn.ConnectError
	require.ErrorAs(t, err, &ce, "the driver's error stays reachable for logs")
	_, err = st.ListTasks(ctx, store.TaskFilter{Page: 1, PerPage: 10})
	require.ErrorIs(t, err, store.ErrUnavailable)
	_, err = st.CancelTask(ctx, uuid.New(), "x") // a transaction
	require.ErrorIs(t, err, store.ErrUnavailable)
	require.ErrorIs(t, st.Ping(ctx), store.ErrUnavailable)
}

func TestUnavailableWhenPoolClosed(t *testing.T) {
	e := newEnv(t)
	pool := e.db.Pool(t, 2)
	st := storeOn(t, pool, e.db.Schema)
	pool.Close()
	_, err := st.GetTask(e.ctx, uuid.New())
	require.ErrorIs(t, err, store.ErrUnavailable)
	_, err = st.DLQStats(e.ctx) // Query, not QueryRow
	require.ErrorIs(t, err, store.ErrUnavailable)
}

// TestUnavailableOnAcquireTimeout: every connection is taken, so no
// connection comes before the caller's deadline.
func TestUnavailableOnAcquireTimeout(t *testing.T) {
	e := newEnv(t)
	pool := e.db.Pool(t, 1)
	st := storeOn(t, pool, e.db.Schema)
	held, err := pool.Acquire(e.ctx)
	require.NoError(t, err)
	defer held.Release()
	ctx, cancel := context.WithTimeout(e.ctx, 50*time.Millisecond)
	defer cancel()
	_, err = st.GetTask(ctx, uuid.New())
	require.ErrorIs(t, err, store.ErrUnavailable)
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

// TestUnavailableWhenBackendTerminated: the server ends the session while a
// statement waits (as it does to every session when it shuts down).
func TestUnavailableWhenBackendTerminated(t *testing.T) {
	e := newEnv(t)
	e.register("ns", "flow", []stepSpec{{name: "a"}})
	ct := e.createTask([]stepSpec{{name: "a"}}, `{}`)
	locker, err := e.db.Pool(t, 1).Begin(e.ctx)
	require.NoError(t, err)
	defer func() { _ = locker.Rollback(context.Background()) }()
	_, err = locker.Exec(e.ctx, `SELECT 1 FROM tasks WHERE task_uuid = $1 FOR UPDATE`, ct.Task.UUID)
	require.NoError(t, err)
	var lockerPID int
	require.NoError(t, locker.QueryRow(e.ctx, `SELECT pg_backend_pid()`).Scan(&lockerPID))

	errc := make(chan error, 1)
	go func() {
		_, err := e.store.CancelTask(e.ctx, ct.Task.UUID, "terminated")
		errc <- err
	}()
	admin, err := pgx.Connect(e.ctx, e.db.URL)
	require.NoError(t, err)
	defer admin.Close(context.Background())
	var blocked int
	require.Eventually(t, func() bool {
		err := admin.QueryRow(e.ctx, `SELECT pid FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))`, lockerPID).Scan(&blocked)
		return err == nil
	}, 20*time.Second, 10*time.Millisecond, "CancelTask never waited on the lock")
	_, err = admin.Exec(e.ctx, `SELECT pg_terminate_backend($1)`, blocked)
	require.NoError(t, err)
	err = <-errc
	require.ErrorIs(t, err, store.ErrUnavailable)
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		require.Equal(t, "57P01", pe.Code)
	}
}
