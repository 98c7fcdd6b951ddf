package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/client"
	"github.com/tasker-go/tasker/workers/native"
)

// reliabilityDemos are the example workflows the reliability tests run: every
// multi-step shape that completes, and one that fails permanently (its
// single step also runs exactly once). Demos whose handlers fail on purpose
// and retry, or sleep, are left out.
func reliabilityDemos(t *testing.T) []native.Demo {
	var out []native.Demo
	for _, d := range native.Demos() {
		if (d.Expect.Complete && d.Expect.Steps > 1) || strings.HasPrefix(d.Key, "examples_errors/permanent_error/") {
			out = append(out, d)
		}
	}
	require.GreaterOrEqual(t, len(out), 5)
	return out
}

// submit creates n tasks cycling through demos, 16 requests at a time.
func submit(t *testing.T, ctx context.Context, c *client.Client, demos []native.Demo, n int, initiator string) (wantComplete, wantError, wantSteps int) {
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 16)
	for i := range n {
		d := demos[i%len(demos)]
		if d.Expect.Complete {
			wantComplete++
		} else {
			wantError++
		}
		wantSteps += d.Expect.Steps
		parts := strings.SplitN(d.Key, "/", 3)
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			_, err := c.CreateTask(ctx, client.TaskRequest{Namespace: parts[0], Name: parts[1], Version: parts[2],
				Context: json.RawMessage(d.Input), Initiator: initiator})
			if err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	return wantComplete, wantError, wantSteps
}

// countTasks counts the tasks of an initiator in a status (-1 when the
// server does not answer; safe inside require.Eventually).
func countTasks(ctx context.Context, c *client.Client, status, initiator string) int {
	list, err := c.ListTasks(ctx, client.ListOptions{Status: []string{status}, PerPage: 1}, client.WithInitiator(initiator))
	if err != nil {
		return -1
	}
	return list.Pagination.TotalCount
}

// waitTerminal waits until the initiator's tasks are all complete or in
// error as expected, dumping the schema when they are not in time.
func waitTerminal(t *testing.T, ctx context.Context, c *client.Client, pool *pgxpool.Pool, initiator string, wantComplete, wantError int, within time.Duration) {
	deadline := time.Now().Add(within)
	for {
		done, failed := countTasks(ctx, c, "complete", initiator), countTasks(ctx, c, "error", initiator)
		if done == wantComplete && failed == wantError {
			return
		}
		if time.Now().After(deadline) {
			dumpSchema(t, pool)
			t.Fatalf("%s: %d of %d tasks complete and %d of %d in error after %v", initiator, done, wantComplete,
				failed, wantError, within)
		}
		<-time.After(100 * time.Millisecond)
	}
}

// killMidBatch SIGKILLs the orchestrator process p (application_name app)
// in the middle of a result batch's transaction. Catching the short gaps
// between a batch's round trips from outside is a matter of luck, so the
// test makes the gap: it locks every open task row, waits until p's batch
// transaction (which locks its tasks first) is blocked on those locks, and
// kills p then. The transaction can no longer commit: its COMMIT travels
// with a later round trip that p never sends. The locks are released once
// p is dead. It returns the pid of p's backend and the statement it was
// blocked in.
func killMidBatch(t *testing.T, ctx context.Context, pool *pgxpool.Pool, p *proc, app string) (pid int, query string) {
	for attempt := 0; attempt < 5; attempt++ {
		tx, err := pool.Begin(ctx)
		require.NoError(t, err)
		// Released whatever happens: a transaction left open would hold
		// every task and hang the processes and the pool's Close.
		defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
		// In task id order, the order result batches lock their tasks in:
		// no deadlock with a batch that holds some of them.
		_, err = tx.Exec(ctx, `SELECT 1 FROM tasks WHERE state NOT IN ('complete', 'error', 'cancelled', 'resolved_manually')
			ORDER BY task_uuid FOR UPDATE`)
		require.NoError(t, err)
		// Below the processes' statement_timeout (10 s in the test
		// environment): a blocked batch must not time out on its own.
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			err = pool.QueryRow(ctx, `SELECT pid, left(regexp_replace(query, '\s+', ' ', 'g'), 100) FROM pg_stat_activity
				WHERE application_name = $1 AND xact_start IS NOT NULL AND wait_event_type = 'Lock'
					AND wait_event <> 'advisory'`, app).Scan(&pid, &query)
			if err == nil {
				break
			}
			<-time.After(10 * time.Millisecond)
		}
		if err == nil {
			require.NoError(t, p.cmd.Process.Signal(syscall.SIGKILL))
			<-p.exited
		}
		require.NoError(t, tx.Rollback(ctx))
		if err == nil {
			return pid, query
		}
		t.Logf("orchestrator %s had no batch in flight within 5 s; trying again", app)
	}
	t.Fatalf("orchestrator %s was never caught inside a result batch", app)
	return 0, ""
}

// TestOrchestratorKilledMidBatch: two `tasker server` processes share a
// schema with two workers; one orchestrator is SIGKILLed while it holds a
// result batch's transaction open. PostgreSQL rolls that transaction back.
// On the postgres backend the claim of its result messages goes with it
// (they are claimed inside the batch's transaction); on rabbitmq they are
// unacknowledged on the killed process's connection, and the broker
// delivers them again when that connection drops. Either way the surviving
// orchestrator finishes every task. No worker failed, so every step's
// handler ran exactly once (counted in e2e_executions). The killed
// instance is then restarted and takes work again. It runs on each queue
// backend.
func TestOrchestratorKilledMidBatch(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	onBackends(t, runOrchestratorKilledMidBatch)
}

func runOrchestratorKilledMidBatch(t *testing.T, b queueBackend) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	db, env := b.schemaEnv(t,
		// Small batches so the kill lands in one with others still queued
		// behind it; a claim that outlived its process (another queue
		// backend) would reappear after 2 s.
		"TASKER__ORCHESTRATION__RESULTS__CLAIM_VISIBILITY=2s", "TASKER__ORCHESTRATION__RESULTS__BATCH_SIZE=20",
		"TASKER__QUEUES__POLL_INTERVAL=100ms", "TASKER__ORCHESTRATION__LEADER__RENEW_INTERVAL=500ms")
	workerInfra := countingInfra(t, db, 12, b)
	pool := workerInfra.Pool
	_, err := pool.Exec(ctx, executionsTable)
	require.NoError(t, err)
	// The workers register the templates the servers instantiate.
	workers := []string{"kill-worker-a", "kill-worker-b"}
	for _, id := range workers {
		startCountingWorker(t, workerInfra, id)
	}

	// The survivor starts first and becomes the leader, so the victim runs
	// only the result and request consumers: the transaction it is killed
	// in is a result batch.
	// The instance ids (and so the application_name killMidBatch looks
	// for) name the backend: both variants run at the same time.
	survivorID, victimID := "orch-survivor-"+string(b.name), "orch-victim-"+string(b.name)
	survivor := start(t, append(env[:len(env):len(env)], "TASKER__ORCHESTRATION__INSTANCE_ID="+survivorID),
		"tasker", "server", "--bind", "127.0.0.1:0")
	c, err := client.New(survivor.waitLine(t, apiLine)[1])
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		h, err := c.DetailedHealth(ctx)
		return err == nil && h.Leader
	}, 10*time.Second, 50*time.Millisecond, "the first orchestrator never became leader")
	victimEnv := append(env[:len(env):len(env)], "TASKER__ORCHESTRATION__INSTANCE_ID="+victimID)
	victim := start(t, victimEnv, "tasker", "server", "--bind", "127.0.0.1:0")
	vc, err := client.New(victim.waitLine(t, apiLine)[1])
	require.NoError(t, err)

	demos := reliabilityDemos(t)
	const total, initiator = 300, "orch-kill"
	began := time.Now()
	wantComplete, wantError, wantSteps := submit(t, ctx, c, demos, total, initiator)
	t.Logf("submitted %d tasks (%d steps) in %v", total, wantSteps, time.Since(began).Round(time.Millisecond))

	// Let a fraction finish, so both orchestrators are busy with results.
	require.Eventually(t, func() bool { return countTasks(ctx, c, "complete", initiator) >= total/5 },
		60*time.Second, 20*time.Millisecond, "tasks never started completing")
	vh, err := vc.DetailedHealth(ctx)
	require.NoError(t, err)
	require.False(t, vh.Leader, "the victim must not run the leader's loops")
	pid, doing := killMidBatch(t, ctx, pool, victim, victimID)
	killed := time.Since(began)
	completeAtKill := countTasks(ctx, c, "complete", initiator)
	t.Logf("SIGKILLed %s at %v with %d/%d tasks complete, inside a result batch (backend %d blocked in %q)",
		victimID, killed.Round(time.Millisecond), completeAtKill, total, pid, doing)
	if !b.onBroker() {
		var inFlight int
		require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM mq_orchestration_step_results`).Scan(&inFlight))
		t.Logf("%d result messages queued, the killed batch's among them (its claim rolled back)", inFlight)
	}
	require.Less(t, completeAtKill, total, "the kill came after the work was done")
	// The backend that held the transaction ends: PostgreSQL rolled it back.
	require.Eventually(t, func() bool {
		n := -1
		_ = pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE pid = $1`, pid).Scan(&n)
		return n == 0
	}, 10*time.Second, 10*time.Millisecond, "the killed orchestrator's backend %d lingers", pid)
	// The survivor alone finishes everything.
	waitTerminal(t, ctx, c, pool, initiator, wantComplete, wantError, 60*time.Second)
	t.Logf("survivor finished every task %v after the start", time.Since(began).Round(time.Millisecond))

	// The killed instance comes back and takes work again.
	restarted := start(t, victimEnv, "tasker", "server", "--bind", "127.0.0.1:0")
	rc, err := client.New(restarted.waitLine(t, apiLine)[1])
	require.NoError(t, err)
	const more = 20
	moreComplete, moreError, moreSteps := submit(t, ctx, rc, demos, more, initiator+"-after")
	waitTerminal(t, ctx, rc, pool, initiator+"-after", moreComplete, moreError, 60*time.Second)
	h, err := rc.DetailedHealth(ctx)
	require.NoError(t, err)
	require.Equal(t, "healthy", h.Status)

	// Every step ran exactly once, on its first attempt, with one
	// recorded result.
	requireOnceEach(t, ctx, pool, wantSteps+moreSteps)
}

// logRepeats logs the history of steps that ran more than once.
func logRepeats(t *testing.T, ctx context.Context, pool *pgxpool.Pool) {
	rows, err := pool.Query(ctx, `SELECT e.step_uuid, e.attempt, e.worker, e.at, s.name, s.state, s.attempts
		FROM e2e_executions e JOIN workflow_steps s ON s.workflow_step_uuid = e.step_uuid
		WHERE e.step_uuid IN (SELECT step_uuid FROM e2e_executions GROUP BY step_uuid HAVING count(*) > 1)
			OR s.attempts <> 1
		ORDER BY e.step_uuid, e.at LIMIT 40`)
	if err != nil {
		t.Logf("repeats: %v", err)
		return
	}
	defer rows.Close()
	for rows.Next() {
		var step, worker, name, state string
		var attempt, attempts int
		var at time.Time
		_ = rows.Scan(&step, &attempt, &worker, &at, &name, &state, &attempts)
		t.Logf("repeat: step %s %-22s ran attempt %d on %s at %s (now %s, attempts %d)", step, name, attempt, worker,
			at.Format("15:04:05.000"), state, attempts)
	}
}
