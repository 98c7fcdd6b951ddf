package store_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/state"
	"github.com/tasker-go/tasker/shared/testdb"
)

// newEnvInOwnDatabase is newEnv in a database of its own, created for the
// test: PostgreSQL prunes the old versions of rows only once no
// transaction of the same database can still see them, and other tests'
// long transactions in the shared database would hold that back.
func newEnvInOwnDatabase(t *testing.T) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg, err := pgx.ParseConfig(testdb.URL())
	require.NoError(t, err)
	admin, err := pgx.ConnectConfig(ctx, cfg)
	require.NoError(t, err)
	defer admin.Close(ctx)
	name := "tasker_hot_" + strings.ReplaceAll(uuid.NewString()[:13], "-", "")
	_, err = admin.Exec(ctx, "CREATE DATABASE "+name)
	require.NoError(t, err)
	t.Cleanup(func() {
		// Dropping a database waits for its files to go, which takes long
		// on a busy server.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		conn, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			t.Errorf("dropping database %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("dropping database %s: %v", name, err)
		}
	})
	u, err := url.Parse(testdb.URL())
	require.NoError(t, err)
	u.Path = "/" + name
	t.Setenv("DATABASE_URL", u.String())
	return newEnvOn(t, testdb.New(t))
}

// updateCounts are a table's row updates and how many of them were HOT
// (heap-only: no index entry written, the old version pruned without
// vacuum).
type updateCounts struct{ updates, hot int64 }

// tableUpdates reads the update counters of the test schema's tables after
// every connection of the store's pool has flushed its pending statistics
// (a backend reports them at most once a second otherwise; the flush is
// done before the backend answers, so nothing is timed here).
func (e *env) tableUpdates(tables ...string) map[string]updateCounts {
	e.t.Helper()
	pool := e.store.Pool()
	for _, c := range pool.AcquireAllIdle(e.ctx) {
		_, err := c.Exec(e.ctx, `SELECT pg_stat_force_next_flush()`)
		c.Release()
		require.NoError(e.t, err)
	}
	_, err := pool.Exec(e.ctx, `SELECT pg_stat_clear_snapshot()`)
	require.NoError(e.t, err)
	rows, err := pool.Query(e.ctx, `SELECT relname, n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables
		WHERE schemaname = current_schema() AND relname = ANY($1)`, tables)
	require.NoError(e.t, err)
	defer rows.Close()
	out := map[string]updateCounts{}
	for rows.Next() {
		var name string
		var c updateCounts
		require.NoError(e.t, rows.Scan(&name, &c.updates, &c.hot))
		out[name] = c
	}
	require.NoError(e.t, rows.Err())
	return out
}

// runAll plays worker and orchestration until every task is terminal: each
// round claims every visible step, reports a result for each (the first
// attempt of s1 of the tasks in failOnce fails retryably) and processes the
// results.
func (e *env) runAll(tasks []uuid.UUID, failOnce map[uuid.UUID]bool) {
	e.t.Helper()
	open := func() int {
		n := 0
		for _, id := range tasks {
			if !e.task(id).State.Terminal() {
				n++
			}
		}
		return n
	}
	require.Eventually(e.t, func() bool {
		claimed := e.claimAll("w").Claimed
		for _, cs := range claimed {
			fail := failOnce[cs.Task.UUID] && cs.Step.Name == "s1" && cs.Step.Attempts == 1
			e.complete("w", cs, !fail, fail)
		}
		if len(claimed) > 0 {
			e.process()
		}
		return open() == 0
	}, 30*time.Second, 5*time.Millisecond)
}

// Task and step rows are updated in place (HOT) on the hot path: no index
// of tasks or workflow_steps covers a column that a step's or a task's
// transition changes, except the task's one move from open to finished
// (its completed_at, which the open-tasks index is defined by). A HOT
// update writes no index entry, and the versions it leaves behind are
// pruned from their page without vacuum.
//
// Before migration 00011 the open-tasks index was keyed on (state,
// state_changed_at), so no task update at all was HOT.
func TestTaskAndStepUpdatesAreHOT(t *testing.T) {
	e := newEnvInOwnDatabase(t)
	e.register("hot", "linear", linear)
	const waves, perWave = 12, 4
	var tasks []uuid.UUID
	failOnce := map[uuid.UUID]bool{}
	for range waves {
		var wave []uuid.UUID
		for i := range perWave {
			ct := e.createTask(linear, `{"even_number":6}`)
			wave = append(wave, ct.Task.UUID)
			if i%2 == 0 {
				// A retried step moves its task to waiting_for_retry and
				// back: task updates that are not its last.
				failOnce[ct.Task.UUID] = true
			}
		}
		e.runAll(wave, failOnce)
		tasks = append(tasks, wave...)
	}
	for _, id := range tasks {
		require.Equal(t, state.TaskComplete, e.task(id).State)
	}

	c := e.tableUpdates("tasks", "workflow_steps")
	tk, st := c["tasks"], c["workflow_steps"]
	t.Logf("tasks: %d of %d updates HOT; workflow_steps: %d of %d", tk.hot, tk.updates, st.hot, st.updates)
	finishing := int64(len(tasks))
	require.Greater(t, tk.updates, finishing, "the retried tasks change state before they finish")
	require.GreaterOrEqual(t, tk.hot, tk.updates-finishing,
		"every task update but the one that finishes the task is HOT")
	// A step update is HOT when its page has room for the new version
	// (fillfactor) and the versions before it were pruned: most, not all,
	// are (the steps of a batch share pages, and one transaction's new
	// versions cannot be pruned before it ends; 83-88 % in this test with
	// four tasks a wave, ~55 % with twelve). An index on a column that a
	// step transition changes makes none of them HOT.
	require.Greater(t, st.updates, int64(len(tasks)*len(linear)))
	require.GreaterOrEqual(t, st.hot*3, st.updates*2, "at least two thirds of the step updates are HOT")
}
