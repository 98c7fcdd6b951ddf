package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/internal/devpg"
	"github.com/tasker-go/tasker/shared/config"
	"github.com/tasker-go/tasker/shared/infra"
	"github.com/tasker-go/tasker/shared/testdb"
	"github.com/tasker-go/tasker/worker"
	"github.com/tasker-go/tasker/workers/native"
)

// schemaEnv is processEnv that also returns the schema, for tests that
// inspect it or run an in-process worker on it.
func schemaEnv(t *testing.T, extra ...string) (testdb.DB, []string) {
	db := testdb.New(t)
	return db, append([]string{"DATABASE_URL=" + db.URL, "TASKER__DATABASE__SCHEMA=" + db.Schema, "TASKER_ENV=test",
		"TASKER__WORKER__WEB__ENABLED=false", "TASKER_TEMPLATE_PATH="}, extra...)
}

// executionsTable counts handler executions: one row per call.
const executionsTable = `CREATE TABLE e2e_executions (step_uuid uuid NOT NULL, attempt int NOT NULL,
	worker text NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp())`

// countingHandlers is the native handlers, each of which first inserts a
// row into e2e_executions (step, attempt, worker id) and then runs.
func countingHandlers(t testing.TB, pool *pgxpool.Pool, workerID string) *worker.Registry {
	inner := worker.NewRegistry()
	require.NoError(t, native.Register(inner))
	reg := worker.NewRegistry()
	for _, c := range inner.Callables() {
		h, _ := inner.Lookup(c)
		require.NoError(t, reg.RegisterExecutor(c, countingExecutor{pool: pool, workerID: workerID, next: h}))
	}
	return reg
}

// countingExecutor inserts a row into e2e_executions, then runs next.
type countingExecutor struct {
	pool     *pgxpool.Pool
	workerID string
	next     worker.Executor
}

func (x countingExecutor) Execute(ctx context.Context, step *worker.StepContext) worker.Result {
	_, err := x.pool.Exec(ctx, `INSERT INTO e2e_executions (step_uuid, attempt, worker) VALUES ($1, $2, $3)`,
		step.StepUUID(), step.Attempt(), x.workerID)
	if err != nil {
		return worker.ResultOf(nil, fmt.Errorf("counting execution: %w", err))
	}
	return x.next.Execute(ctx, step)
}

// countingInfra connects the infrastructure the counting workers of a test
// share (pool, LISTEN connection, queue, store) on db's schema and the
// queue backend b; its pool of maxConns connections also serves the
// handlers' inserts.
func countingInfra(t *testing.T, db testdb.DB, maxConns int, b queueBackend) *infra.Infra {
	t.Helper()
	cfg := config.Default(config.ContextWorker)
	cfg.Database.URL, cfg.Database.Schema = db.URL, db.Schema
	cfg.Database.Pool.MaxConnections, cfg.Database.Pool.MinConnections = maxConns, 0
	cfg.Queues.PollInterval = 200 * time.Millisecond
	b.configure(cfg)
	in, err := infra.Connect(context.Background(), cfg, "e2e-workers", slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	t.Cleanup(in.Close)
	return in
}

// startCountingWorker runs a native Go worker inside the test process on
// in (assembled by worker.Open), whose handlers each insert a row into
// e2e_executions before they run (the tasker-worker binary cannot count its
// executions). It registers the example templates and is stopped when the
// test ends.
func startCountingWorker(t *testing.T, in *infra.Infra, id string) *worker.Core {
	t.Helper()
	reg := countingHandlers(t, in.Pool, id)
	examples, err := native.Templates()
	require.NoError(t, err)
	cfg := config.Default(config.ContextWorker)
	cfg.Database, cfg.Queues = in.Config.Database, in.Config.Queues
	wcfg := cfg.Worker
	wcfg.WorkerID = id
	wcfg.Web.Enabled = false
	w, err := worker.Open(context.Background(), worker.OpenOptions{Config: cfg, Infra: in, Registry: reg,
		Templates: examples, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	require.NoError(t, w.Start(context.Background()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = w.Stop(ctx)
	})
	return w.Core()
}

// dumpSchema logs where tasks and steps stand and what the queues hold, to
// explain a test that timed out.
func dumpSchema(t *testing.T, pool *pgxpool.Pool) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, q := range []string{
		`SELECT 'task ' || state, count(*) FROM tasks GROUP BY state`,
		`SELECT 'step ' || state || ' attempts=' || attempts, count(*) FROM workflow_steps GROUP BY state, attempts`,
		`SELECT 'queue ' || relname, n_live_tup FROM pg_stat_user_tables WHERE relname LIKE 'mq\_%' AND schemaname = current_schema()`,
	} {
		rows, err := pool.Query(ctx, q)
		if err != nil {
			t.Logf("dump: %v", err)
			continue
		}
		for rows.Next() {
			var k string
			var n int64
			_ = rows.Scan(&k, &n)
			t.Logf("dump: %-60s %d", k, n)
		}
		rows.Close()
	}
	rows, err := pool.Query(ctx, `SELECT t.task_uuid, t.state, s.name, s.state, s.attempts FROM tasks t
		JOIN workflow_steps s USING (task_uuid) WHERE t.state NOT IN ('complete', 'error') ORDER BY t.task_uuid LIMIT 20`)
	if err == nil {
		for rows.Next() {
			var task, ts, name, ss string
			var attempts int
			_ = rows.Scan(&task, &ts, &name, &ss, &attempts)
			t.Logf("dump: unfinished task %s (%s) step %s %s attempts=%d", task, ts, name, ss, attempts)
		}
		rows.Close()
	}
}

// getStatus GETs url and returns the HTTP status (0 when unreachable).
func getStatus(ctx context.Context, url string) int {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// startPrivatePostgres creates and starts a throw-away cluster (package
// devpg, as `tasker dev` does); a restart keeps its port, so processes
// reconnect to it. It is stopped and deleted when the test ends (after the
// processes registered later are killed). The test is skipped when the
// server binaries are missing.
func startPrivatePostgres(t *testing.T) *devpg.Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// The unprivileged server user (when running as root) must reach the
	// folder, so it cannot live under t.TempDir (whose parent is private).
	base, err := os.MkdirTemp("", "tasker-e2e-pg-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(base) })
	require.NoError(t, os.Chmod(base, 0o755))
	c, err := devpg.New(filepath.Join(base, "pg"))
	if err != nil {
		t.Skip("this test restarts a private cluster: ", err)
	}
	require.NoError(t, os.MkdirAll(c.Dir, 0o755))
	require.NoError(t, c.Init(ctx))
	require.NoError(t, c.Start(ctx))
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := c.Stop(sctx); err != nil {
			t.Logf("stopping the private cluster: %v", err)
		}
		if t.Failed() {
			if b, err := os.ReadFile(c.LogFile()); err == nil {
				t.Logf("private PostgreSQL log:\n%s", b)
			}
		}
	})
	return c
}
