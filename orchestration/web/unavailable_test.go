package web_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/orchestration"
	"github.com/tasker-go/tasker/orchestration/web"
	"github.com/tasker-go/tasker/shared/config"
	"github.com/tasker-go/tasker/shared/messaging/pgqueue"
	"github.com/tasker-go/tasker/shared/store"
	"github.com/tasker-go/tasker/shared/testdb"
)

// apiOn serves the API over a store on pool (which need not reach a
// database); the orchestration core is built but not started.
func apiOn(t *testing.T, pool *pgxpool.Pool, schema string, wcfg func(*config.OrchestrationWeb)) *harness {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	q, err := pgqueue.New(pgqueue.Config{Pool: pool, Schema: schema})
	require.NoError(t, err)
	st, err := store.New(store.Config{Pool: pool, Queue: q, Schema: schema, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	connCfg, err := pgx.ParseConfig(pool.Config().ConnString())
	require.NoError(t, err)
	ocfg := *config.Default(config.ContextOrchestration).Orchestration
	core, err := orchestration.New(orchestration.Options{Store: st, Queue: q, ConnConfig: connCfg, Config: ocfg,
		Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	w := ocfg.Web
	if wcfg != nil {
		wcfg(&w)
	}
	srv, err := web.New(web.Options{Core: core, Config: w, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	h := &harness{t: t, ctx: ctx, store: st, server: srv, http: httptest.NewServer(srv.Handler())}
	t.Cleanup(func() {
		require.NoError(t, srv.Stop(context.Background()))
		h.http.Close()
	})
	return h
}

func requireUnavailable(t *testing.T, res response) {
	t.Helper()
	e := res.requireError(t, http.StatusServiceUnavailable, web.CodeServiceUnavailable)
	require.Equal(t, "5", res.header.Get("Retry-After"), "body: %s", res.body)
	require.Equal(t, 5, e.Error.RetryAfterSeconds)
}

// TestDeadDatabaseAnswers503: with nothing listening where the database
// should be, and with the pool closed, every route that needs the database
// answers 503 with Retry-After.
func TestDeadDatabaseAnswers503(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	dead := ln.Addr().String()
	require.NoError(t, ln.Close())
	deadPool, err := pgxpool.New(context.Background(), "postgres://postgres@"+dead+"/postgres?sslmode=disable&connect_timeout=5")
	require.NoError(t, err)
	t.Cleanup(deadPool.Close)

	db := testdb.New(t)
	closedPool := db.Pool(t, 2)
	closed := apiOn(t, closedPool, db.Schema, nil)
	closedPool.Close()

	create, err := json.Marshal(map[string]any{"namespace": "ns", "name": "flow", "context": map[string]any{}})
	require.NoError(t, err)
	for _, h := range []*harness{apiOn(t, deadPool, "public", nil), closed} {
		requireUnavailable(t, h.do(http.MethodGet, "/v1/tasks", nil))
		requireUnavailable(t, h.do(http.MethodGet, "/v1/tasks/"+uuid.NewString(), nil))
		requireUnavailable(t, h.do(http.MethodPost, "/v1/tasks", string(create)))
		requireUnavailable(t, h.do(http.MethodDelete, "/v1/tasks/"+uuid.NewString(), nil))
		requireUnavailable(t, h.do(http.MethodGet, "/v1/templates", nil))
		requireUnavailable(t, h.do(http.MethodGet, "/v1/dlq/stats", nil))
		requireUnavailable(t, h.do(http.MethodPatch, "/v1/dlq/entry/"+uuid.NewString(), `{"resolution_notes": "x"}`))
	}
}

// TestNoFreeConnectionAnswers503: every pool connection is taken, so none
// comes before the request's deadline.
func TestNoFreeConnectionAnswers503(t *testing.T) {
	t.Parallel()
	db := testdb.New(t)
	pool := db.Pool(t, 1)
	h := apiOn(t, pool, db.Schema, func(w *config.OrchestrationWeb) { w.RequestTimeout = 300 * time.Millisecond })
	held, err := pool.Acquire(h.ctx)
	require.NoError(t, err)
	defer held.Release()
	requireUnavailable(t, h.do(http.MethodGet, "/v1/tasks/"+uuid.NewString(), nil))
}

// TestTerminatedSessionAnswers503: the server ends the session of a
// request waiting on a lock, as it ends every session when it shuts down
// (57P01): 503, not 500 DATABASE_ERROR.
func TestTerminatedSessionAnswers503(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tpl := h.fixture("rust/mathematical_sequence.yaml")
	task := h.createTask(tpl, input)
	locker, err := h.db.Pool(t, 1).Begin(h.ctx)
	require.NoError(t, err)
	defer func() { _ = locker.Rollback(context.Background()) }()
	_, err = locker.Exec(h.ctx, `SELECT 1 FROM tasks WHERE task_uuid = $1 FOR UPDATE`, task.TaskUUID)
	require.NoError(t, err)
	var lockerPID int
	require.NoError(t, locker.QueryRow(h.ctx, `SELECT pg_backend_pid()`).Scan(&lockerPID))

	answer := make(chan response, 1)
	go func() {
		req, err := http.NewRequestWithContext(h.ctx, http.MethodDelete, h.http.URL+"/v1/tasks/"+task.TaskUUID.String(), nil)
		if err != nil {
			answer <- response{}
			return
		}
		res, err := h.http.Client().Do(req)
		if err != nil {
			answer <- response{}
			return
		}
		defer res.Body.Close()
		var body json.RawMessage
		_ = json.NewDecoder(res.Body).Decode(&body)
		answer <- response{status: res.StatusCode, header: res.Header, body: body}
	}()
	admin, err := pgx.Connect(h.ctx, h.db.URL)
	require.NoError(t, err)
	defer admin.Close(context.Background())
	var blocked int
	require.Eventually(t, func() bool {
		return admin.QueryRow(h.ctx, `SELECT pid FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))`, lockerPID).
			Scan(&blocked) == nil
	}, 20*time.Second, 10*time.Millisecond, "the cancel never waited on the lock")
	_, err = admin.Exec(h.ctx, `SELECT pg_terminate_backend($1)`, blocked)
	require.NoError(t, err)
	requireUnavailable(t, <-answer)
}
