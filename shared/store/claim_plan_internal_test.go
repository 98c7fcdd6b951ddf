package store

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/messaging"
)

// historyFixture fills the schema with finished tasks of one step each,
// analyzes it (as the statistics keeper does once history dominates the
// tables), and then adds open tasks with an enqueued step each: the
// statistics now say there is next to no open task.
func historyFixture(t *testing.T, e internalEnv, finished, open int) {
	t.Helper()
	_, err := e.store.pool.Exec(e.ctx, `
		WITH ns AS (INSERT INTO task_namespaces (name) VALUES ('plan') RETURNING task_namespace_uuid),
		nt AS (INSERT INTO named_tasks (task_namespace_uuid, name, version, configuration)
			SELECT task_namespace_uuid, 'plan', '1.0.0', '{}' FROM ns RETURNING named_task_uuid),
		nst AS (INSERT INTO named_steps (name) VALUES ('plan_step') RETURNING named_step_uuid),
		tk AS (INSERT INTO tasks (task_uuid, named_task_uuid, namespace, state, complete, completed_at, identity_hash,
				correlation_id)
			SELECT gen_random_uuid(), nt.named_task_uuid, 'plan', 'complete', true, now(), 'plan-' || i,
				gen_random_uuid()
			FROM nt, generate_series(1, $1) AS i RETURNING task_uuid)
		INSERT INTO workflow_steps (workflow_step_uuid, task_uuid, named_step_uuid, name, template_step_name, state,
			handler_callable, attempts, processed)
		SELECT gen_random_uuid(), tk.task_uuid, nst.named_step_uuid, 'plan_step', 'plan_step', 'complete', 'plan', 1, true
		FROM tk, nst`, finished)
	require.NoError(t, err)
	_, err = e.store.pool.Exec(e.ctx, `ANALYZE tasks; ANALYZE workflow_steps`)
	require.NoError(t, err)
	_, err = e.store.pool.Exec(e.ctx, `
		WITH tk AS (INSERT INTO tasks (task_uuid, named_task_uuid, namespace, state, identity_hash, correlation_id)
			SELECT gen_random_uuid(), named_task_uuid, 'plan', 'steps_in_process', 'open-' || i, gen_random_uuid()
			FROM named_tasks, generate_series(1, $1) AS i RETURNING task_uuid)
		INSERT INTO workflow_steps (workflow_step_uuid, task_uuid, named_step_uuid, name, template_step_name, state,
			handler_callable)
		SELECT gen_random_uuid(), tk.task_uuid, named_step_uuid, 'plan_step', 'plan_step', 'enqueued', 'plan'
		FROM tk, named_steps`, open)
	require.NoError(t, err)
}

// genericPlan returns the JSON plan PostgreSQL makes for sql as a generic
// plan, the plan the store's connections use for their prepared
// statements.
func genericPlan(t *testing.T, e internalEnv, sql string, args ...string) string {
	t.Helper()
	conn, err := e.store.pool.Acquire(e.ctx)
	require.NoError(t, err)
	defer conn.Release()
	_, err = conn.Exec(e.ctx, `SET plan_cache_mode = force_generic_plan`)
	require.NoError(t, err)
	_, err = conn.Exec(e.ctx, `PREPARE plan_probe AS `+sql)
	require.NoError(t, err)
	defer func() { _, _ = conn.Exec(e.ctx, `DEALLOCATE plan_probe; RESET plan_cache_mode`) }()
	var plan string
	q := `EXPLAIN (FORMAT JSON) EXECUTE plan_probe`
	if len(args) > 0 {
		q += "("
		for i, a := range args {
			if i > 0 {
				q += ", "
			}
			q += a
		}
		q += ")"
	}
	require.NoError(t, conn.QueryRow(e.ctx, q).Scan(&plan))
	return plan
}

// The worker's claim reads the claimed messages' steps and tasks by primary
// key whatever the statistics say. Once ANALYZE has seen a tasks table of
// finished tasks, an ordinary join was planned from the open-tasks index
// (one open task estimated), reading every open task's steps on every
// claim: the claim's cost grew with the tasks in flight once history had
// skewed the statistics.
func TestClaimReadsStepsByPrimaryKeyWithHistory(t *testing.T) {
	e := newInternalEnv(t)
	historyFixture(t, e, 3000, 50)
	queue := messaging.WorkerQueue("plan")
	require.NoError(t, e.queue.Ensure(e.ctx, queue))
	w := e.queue.NewWork()
	plain, err := w.Claim(e.ctx, queue, messaging.ClaimOptions{N: 10, Visibility: time.Minute})
	require.NoError(t, err)
	routed, err := w.Claim(e.ctx, queue, messaging.ClaimOptions{N: 10, Visibility: time.Minute, Routes: []string{"plan"}})
	require.NoError(t, err)
	statement := func(src messaging.ClaimSource) string {
		sql, _ := claimStatement(src, Claimer{ID: "w"})
		return sql
	}
	for _, tc := range []struct {
		name string
		sql  string
		args []string
	}{
		{"claim", statement(plain), []string{"10", "60000000", "'w'", "0"}},
		{"routed claim", statement(routed), []string{"10", "60000000", "'{plan}'", "'w'", "0"}},
		{"claim of requests", statement(messaging.ClaimedSource(nil)),
			[]string{"'{}'", "'{}'", "'{}'", "'{}'", "'{}'", "'w'", "0"}},
	} {
		plan := genericPlan(t, e, tc.sql, tc.args...)
		require.Falsef(t, strings.Contains(plan, `"tasks_open_idx"`), "%s: the claim walks the open tasks:\n%s", tc.name, plan)
		require.Falsef(t, strings.Contains(plan, `"Seq Scan"`), "%s: a sequential scan:\n%s", tc.name, plan)
		require.Contains(t, plan, `"Index Name": "workflow_steps_pkey"`, tc.name)
		require.Contains(t, plan, `"Index Name": "tasks_pkey"`, tc.name)
	}
}
