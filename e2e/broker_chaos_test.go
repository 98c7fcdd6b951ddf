package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/client"
	"github.com/tasker-go/tasker/internal/rabbitnode"
	"github.com/tasker-go/tasker/shared/config"
)

// brokerOutage is how long the broker stays down in TestBrokerStopped.
const brokerOutage = 10 * time.Second

// TestBrokerStopped: a `tasker server` process and two counting workers (in
// this process, on a connection of their own) run 800 tasks on the rabbitmq
// backend, on a private RabbitMQ node (package rabbitnode; the machine's
// shared broker is not touched). While the tasks run, the node is shut down,
// left down for 10 s and started again on the same port and data folder:
// its durable quorum queues and persistent messages are still there. Every
// task must complete (or fail, for the one workflow that fails on purpose)
// without help, every step's handler must have run exactly once (the
// database stayed up, so no claim was lost), every step must have exactly
// one recorded result, and the system takes new work afterwards.
//
// It is skipped when rabbitmq-server is not installed, unless
// TASKER_REQUIRE_RABBITMQ is set (scripts/test.sh): then it fails.
func TestBrokerStopped(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a RabbitMQ node and a server, stops the node for 10 s")
	}
	node := rabbitnode.StartForTest(t, "tasker-chaos")
	b := queueBackend{name: config.BackendRabbitMQ, brokerURL: node.URL()}
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	db, env := b.schemaEnv(t, "TASKER__ORCHESTRATION__INSTANCE_ID=orch-chaos")
	workerInfra := countingInfra(t, db, 12, b)
	pool := workerInfra.Pool
	_, err := pool.Exec(ctx, executionsTable)
	require.NoError(t, err)
	for _, id := range []string{"chaos-worker-a", "chaos-worker-b"} {
		startCountingWorker(t, workerInfra, id)
	}
	srv := start(t, env, "tasker", "server", "--bind", "127.0.0.1:0")
	srvURL := srv.waitLine(t, apiLine)[1]
	c, err := client.New(srvURL)
	require.NoError(t, err)

	demos := reliabilityDemos(t)
	// Enough work that the node's graceful shutdown (4–6 s) cannot outlast
	// it: the workers process their own successes, 300 tasks were done
	// before the node was down.
	const total, initiator = 800, "broker-chaos"
	began := time.Now()
	wantComplete, wantError, wantSteps := submit(t, ctx, c, demos, total, initiator)
	t.Logf("submitted %d tasks (%d steps) in %v", total, wantSteps, time.Since(began).Round(time.Millisecond))

	// Stop the broker once work is flowing, with most of it still to do.
	require.Eventually(t, func() bool { return countTasks(ctx, c, "complete", initiator) >= 10 },
		2*time.Minute, 20*time.Millisecond, "tasks never started completing")
	stopping := time.Now()
	require.NoError(t, node.Stop(ctx))
	doneAtStop := countTasks(ctx, c, "complete", initiator) + countTasks(ctx, c, "error", initiator)
	t.Logf("broker stopped %v after the start (shutdown took %v) with %d/%d tasks finished",
		stopping.Sub(began).Round(time.Millisecond), time.Since(stopping).Round(time.Millisecond), doneAtStop, total)
	require.Less(t, doneAtStop, total, "the broker stopped after the work was done")
	// While the broker is down the server keeps answering (tasks can be
	// read; their messages wait in the outbox).
	<-time.After(brokerOutage)
	require.Equal(t, http.StatusOK, getStatus(ctx, srvURL+"/health"), "server /health while the broker is down")
	doneInOutage := countTasks(ctx, c, "complete", initiator) + countTasks(ctx, c, "error", initiator)
	restarting := time.Now()
	require.NoError(t, node.Start(ctx))
	t.Logf("broker down for %v (%d tasks finished meanwhile, from work claimed before the stop); restarted in %v",
		restarting.Sub(stopping).Round(time.Millisecond), doneInOutage-doneAtStop, time.Since(restarting).Round(time.Millisecond))

	waitTerminal(t, ctx, c, pool, initiator, wantComplete, wantError, 4*time.Minute)
	t.Logf("every task finished %v after the broker came back", time.Since(restarting).Round(time.Millisecond))

	// The system takes new work after the outage.
	moreComplete, moreError, moreSteps := submit(t, ctx, c, demos, 20, initiator+"-after")
	waitTerminal(t, ctx, c, pool, initiator+"-after", moreComplete, moreError, 2*time.Minute)
	requireOnceEach(t, ctx, pool, wantSteps+moreSteps)
	select {
	case <-srv.exited:
		t.Fatalf("tasker server exited: %v", srv.err)
	default:
	}
	require.NotContains(t, strings.ToLower(srv.output()), "panic")
}

// requireOnceEach checks the schema's steps after a fault: there are
// wantSteps, each complete or in error after one attempt, each handler ran
// exactly once (e2e_executions), each step has exactly one recorded result
// (workflow_step_result_audit), and no step entered any state twice.
func requireOnceEach(t *testing.T, ctx context.Context, pool *pgxpool.Pool, wantSteps int) {
	t.Helper()
	var steps, finished, firstAttempt, executions, distinct, repeated int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE state IN ('complete', 'error')),
		count(*) FILTER (WHERE attempts = 1) FROM workflow_steps`).Scan(&steps, &finished, &firstAttempt))
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*), count(DISTINCT step_uuid) FROM e2e_executions`).Scan(&executions, &distinct))
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM (SELECT step_uuid FROM e2e_executions
		GROUP BY step_uuid HAVING count(*) > 1) x`).Scan(&repeated))
	results, withOneResult := countResults(t, ctx, pool)
	var doubled int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM (SELECT workflow_step_uuid, to_state
		FROM workflow_step_transitions GROUP BY 1, 2 HAVING count(*) > 1) x`).Scan(&doubled))
	t.Logf("%d steps: %d finished, %d on their first attempt, %d executions of %d steps, %d results",
		steps, finished, firstAttempt, executions, distinct, results)
	if repeated > 0 || firstAttempt != steps || withOneResult != steps {
		logRepeats(t, ctx, pool)
		logResultCounts(t, ctx, pool)
	}
	require.Equal(t, wantSteps, steps)
	require.Equal(t, steps, finished, "every step is complete or in error")
	require.Equal(t, steps, distinct, "every step's handler ran")
	require.Zero(t, repeated, "no handler ran twice")
	require.Equal(t, steps, executions)
	require.Equal(t, steps, withOneResult, "every step has exactly one recorded result")
	require.Equal(t, steps, results)
	require.Equal(t, steps, firstAttempt, "every step finished on its first attempt")
	require.Zero(t, doubled, "steps that entered a state twice")
}

// countResults counts the recorded results (workflow_step_result_audit
// rows) of the schema's steps, and the steps that have exactly one.
// logResultCounts logs the history of steps that do not have exactly one
// recorded result.
func logResultCounts(t *testing.T, ctx context.Context, pool *pgxpool.Pool) {
	rows, err := pool.Query(ctx, `SELECT s.workflow_step_uuid::text, s.name, s.state,
			(SELECT count(*) FROM workflow_step_result_audit a WHERE a.workflow_step_uuid = s.workflow_step_uuid),
			COALESCE((SELECT string_agg(t.to_state || ':' || t.event || COALESCE(' ' || t.metadata::text, ''), ' > ' ORDER BY t.id)
				FROM workflow_step_transitions t WHERE t.workflow_step_uuid = s.workflow_step_uuid), '')
		FROM workflow_steps s
		WHERE (SELECT count(*) FROM workflow_step_result_audit a WHERE a.workflow_step_uuid = s.workflow_step_uuid) <> 1
		LIMIT 20`)
	if err != nil {
		t.Logf("result counts: %v", err)
		return
	}
	defer rows.Close()
	for rows.Next() {
		var step, name, state, history string
		var n int
		_ = rows.Scan(&step, &name, &state, &n, &history)
		t.Logf("step %s %s (%s) has %d recorded results; history: %s", step, name, state, n, history)
	}
}

func countResults(t *testing.T, ctx context.Context, pool *pgxpool.Pool) (results, withOneResult int) {
	t.Helper()
	require.NoError(t, pool.QueryRow(ctx, `SELECT COALESCE(sum(n), 0), count(*) FILTER (WHERE n = 1) FROM (
		SELECT s.workflow_step_uuid, count(a.workflow_step_uuid) AS n FROM workflow_steps s
		LEFT JOIN workflow_step_result_audit a USING (workflow_step_uuid) GROUP BY 1) x`).Scan(&results, &withOneResult))
	return results, withOneResult
}
