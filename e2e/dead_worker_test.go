package e2e

import (
	"context"
	"regexp"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/client"
)

// deadWorkerEnv is the environment of the dead-worker tests: the claim
// deadline is 30 s (the production default), so a step that runs again
// within seconds was given back by dead worker detection, not by the
// deadline.
var deadWorkerEnv = []string{"TASKER__WORKER__CLAIMS__VISIBILITY_TIMEOUT=30s",
	"TASKER__WORKER__CLAIMS__HEARTBEAT_INTERVAL=10s",
	"TASKER__WORKER__HANDLERS__MIN_CONCURRENT=8", "TASKER__WORKER__HANDLERS__MAX_CONCURRENT=8"}

var workerStarted = regexp.MustCompile(`tasker-worker started`)

// claims reads, for each step, who claims it, in which state, and when its
// claim lapses.
type claimRow struct {
	state, by string
	deadline  time.Time
}

func readClaims(t *testing.T, ctx context.Context, pool *pgxpool.Pool, steps []uuid.UUID) map[uuid.UUID]claimRow {
	t.Helper()
	rows, err := pool.Query(ctx, `SELECT workflow_step_uuid, state, COALESCE(claimed_by, ''),
		COALESCE(claim_deadline, 'epoch') FROM workflow_steps WHERE workflow_step_uuid = ANY($1)`, steps)
	require.NoError(t, err)
	defer rows.Close()
	out := map[uuid.UUID]claimRow{}
	for rows.Next() {
		var id uuid.UUID
		var r claimRow
		require.NoError(t, rows.Scan(&id, &r.state, &r.by, &r.deadline))
		out[id] = r
	}
	require.NoError(t, rows.Err())
	return out
}

// slowSteps creates n slow tasks and returns them and their steps once every
// step is in progress under worker. The tasks are all created before the
// first wait, so the steps start close together and none has finished
// before the last one started.
func slowSteps(t *testing.T, ctx context.Context, c *client.Client, pool *pgxpool.Pool, n, sleepMS int, worker string) ([]uuid.UUID, []uuid.UUID) {
	t.Helper()
	var tasks, steps []uuid.UUID
	for range n {
		tasks = append(tasks, slowTask(t, ctx, c, sleepMS))
	}
	for _, id := range tasks {
		steps = append(steps, waitStep(t, ctx, c, id, "in_progress").StepUUID)
	}
	for id, r := range readClaims(t, ctx, pool, steps) {
		require.Equal(t, worker, r.by, "claimer of step %s (now %s)", id, r.state)
	}
	return tasks, steps
}

// requireOneResult checks that each task completed with exactly one recorded
// result per step, by worker, after attempts runs.
func requireOneResult(t *testing.T, ctx context.Context, c *client.Client, tasks []uuid.UUID, worker string, attempts int) {
	t.Helper()
	for _, id := range tasks {
		final, err := c.Wait(ctx, id, nil)
		require.NoError(t, err)
		require.Equal(t, "complete", final.Status)
		require.Equal(t, attempts, final.Steps[0].Attempts)
		audit, err := c.StepAudit(ctx, id, final.Steps[0].StepUUID)
		require.NoError(t, err)
		require.Len(t, audit, 1, "exactly one recorded result")
		require.Equal(t, worker, audit[0].WorkerID)
	}
}

// TestKilledWorkerIsNoticedInSeconds: a worker is SIGKILLed while it runs
// four steps. Its liveness lock dies with its process, orchestration notices
// and another (already running) worker takes the steps long before their
// 30 s claim deadline; each step has exactly one recorded result, from the
// second worker, and the lost run counts as an attempt. The time from the
// kill to all four steps running again is logged (it is a measurement, not
// an assertion).
//
// Both queue backends run it (on rabbitmq the claims in flight are found
// through the open tasks instead of the queue tables).
func TestKilledWorkerIsNoticedInSeconds(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	onBackends(t, runKilledWorkerIsNoticed)
}

func runKilledWorkerIsNoticed(t *testing.T, b queueBackend) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	db, env := b.schemaEnv(t, deadWorkerEnv...)
	pool := db.Pool(t, 4)
	c := startServer(t, env)
	victim := start(t, append(env, "TASKER__WORKER__WORKER_ID=victim"), "tasker-worker")
	victim.waitLine(t, workerStarted)
	tasks, steps := slowSteps(t, ctx, c, pool, 4, 3000, "victim")
	rescuer := start(t, append(env, "TASKER__WORKER__WORKER_ID=rescuer"), "tasker-worker")
	rescuer.waitLine(t, workerStarted)
	before := readClaims(t, ctx, pool, steps)

	killed := time.Now()
	require.NoError(t, victim.cmd.Process.Signal(syscall.SIGKILL))
	<-victim.exited
	var running time.Duration
	require.Eventually(t, func() bool {
		rows, err := pool.Query(ctx, `SELECT count(*) FROM workflow_steps
			WHERE workflow_step_uuid = ANY($1) AND state = 'in_progress' AND claimed_by = 'rescuer'`, steps)
		if err != nil {
			return false
		}
		defer rows.Close()
		var n int
		if !rows.Next() || rows.Scan(&n) != nil || n < len(steps) {
			return false
		}
		running = time.Since(killed)
		return true
	}, 60*time.Second, 10*time.Millisecond, "the killed worker's steps never ran again")
	t.Logf("SIGKILL → all %d steps running again on another worker: %v (claim deadline %v away at the kill)",
		len(steps), running.Round(time.Millisecond), before[steps[0]].deadline.Sub(killed).Round(time.Second))

	requireReclaimedBefore(t, ctx, pool, steps, before)
	requireOneResult(t, ctx, c, tasks, "rescuer", 2)
}

// requireReclaimedBefore checks that each step ran again before the claim
// it had in before lapsed: dead worker detection, not the deadline, gave
// it back.
func requireReclaimedBefore(t *testing.T, ctx context.Context, pool *pgxpool.Pool, steps []uuid.UUID, before map[uuid.UUID]claimRow) {
	t.Helper()
	for _, id := range steps {
		var reclaimed time.Time
		require.NoError(t, pool.QueryRow(ctx, `SELECT max(created_at) FROM workflow_step_transitions
			WHERE workflow_step_uuid = $1 AND to_state = 'in_progress'`, id).Scan(&reclaimed))
		require.True(t, reclaimed.Before(before[id].deadline), "step %s reclaimed at %v, its claim lapsed at %v",
			id, reclaimed, before[id].deadline)
	}
}

// TestStoppedWorkerKeepsItsClaims: a worker that is only slow, stopped with
// SIGSTOP for 10 s while it runs four steps and another worker is idle,
// keeps its claims (its liveness session stays open), and after SIGCONT
// completes them itself: one attempt, one recorded result, no second run.
// It runs on each queue backend.
func TestStoppedWorkerKeepsItsClaims(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	onBackends(t, runStoppedWorkerKeepsItsClaims)
}

func runStoppedWorkerKeepsItsClaims(t *testing.T, b queueBackend) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	db, env := b.schemaEnv(t, deadWorkerEnv...)
	pool := db.Pool(t, 4)
	c := startServer(t, env)
	sleeper := start(t, append(env, "TASKER__WORKER__WORKER_ID=sleeper"), "tasker-worker")
	sleeper.waitLine(t, workerStarted)
	tasks, steps := slowSteps(t, ctx, c, pool, 4, 2000, "sleeper")
	other := start(t, append(env, "TASKER__WORKER__WORKER_ID=other"), "tasker-worker")
	other.waitLine(t, workerStarted)

	require.NoError(t, sleeper.cmd.Process.Signal(syscall.SIGSTOP))
	stopped := time.Now()
	// Throughout the stop, every step stays claimed by the stopped worker.
	for time.Since(stopped) < 10*time.Second {
		for id, r := range readClaims(t, ctx, pool, steps) {
			require.Equal(t, "in_progress", r.state, "step %s", id)
			require.Equal(t, "sleeper", r.by, "step %s was taken from a stopped (not dead) worker", id)
		}
		<-time.After(100 * time.Millisecond)
	}
	require.NoError(t, sleeper.cmd.Process.Signal(syscall.SIGCONT))
	requireOneResult(t, ctx, c, tasks, "sleeper", 1)
	for _, id := range steps {
		var starts int
		require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM workflow_step_transitions
			WHERE workflow_step_uuid = $1 AND to_state = 'in_progress'`, id).Scan(&starts))
		require.Equal(t, 1, starts, "step %s ran once", id)
	}
}
