package e2e

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/client"
	"github.com/tasker-go/tasker/internal/systest"
	"github.com/tasker-go/tasker/worker"
	"github.com/tasker-go/tasker/workers/native"
)

// TestThreeWorkersTwoOrchestrators runs 500 tasks of five workflow shapes
// through two orchestrators and three workers sharing one database, on each
// queue backend: every task completes and every step runs exactly once.
func TestThreeWorkersTwoOrchestrators(t *testing.T) {
	if testing.Short() {
		t.Skip("500 tasks")
	}
	onBackends(t, runThreeWorkersTwoOrchestrators)
}

func runThreeWorkersTwoOrchestrators(t *testing.T, b queueBackend) {
	sys := systest.Start(t, b.options(systest.Options{Workers: -1, Orchestrators: 2, PoolSize: 20}))
	_, err := sys.Store.Pool().Exec(sys.Ctx, executionsTable)
	require.NoError(t, err)
	examples, err := native.Templates()
	require.NoError(t, err)
	for i := range 3 {
		id := "scale-worker-" + string(rune('a'+i))
		opts := systest.Options{Registry: func() *worker.Registry { return countingHandlers(t, sys.Store.Pool(), id) }}
		sys.StartWorker(id, opts, examples)
	}
	c, err := client.New(sys.URL)
	require.NoError(t, err)

	var demos []native.Demo
	for _, d := range native.Demos() {
		if d.Expect.Complete && !strings.Contains(d.Key, "retry") && !strings.Contains(d.Key, "slow") {
			demos = append(demos, d)
		}
	}
	const total = 500
	ids := make([]client.Task, total)
	var wg sync.WaitGroup
	errs := make(chan error, total)
	sem := make(chan struct{}, 16)
	for i := range total {
		d := demos[i%len(demos)]
		parts := strings.SplitN(d.Key, "/", 3)
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			task, err := c.CreateTask(sys.Ctx, client.TaskRequest{Namespace: parts[0], Name: parts[1], Version: parts[2],
				Context: json.RawMessage(d.Input), Initiator: "scale-test"})
			if err != nil {
				errs <- err
				return
			}
			ids[i] = *task
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	deadline := time.Now().Add(3 * time.Minute)
	for {
		list, err := c.ListTasks(sys.Ctx, client.ListOptions{Status: []string{"complete"}, PerPage: 1}, client.WithInitiator("scale-test"))
		require.NoError(t, err)
		if list.Pagination.TotalCount == total {
			break
		}
		require.True(t, time.Now().Before(deadline), "only %d of %d tasks completed", list.Pagination.TotalCount, total)
		<-time.After(200 * time.Millisecond)
	}
	wantSteps := 0
	for i := range total {
		wantSteps += demos[i%len(demos)].Expect.Steps
	}
	var steps, executions, distinct, repeated int
	pool := sys.Store.Pool()
	require.NoError(t, pool.QueryRow(sys.Ctx, `SELECT count(*) FROM workflow_steps WHERE state = 'complete'`).Scan(&steps))
	require.NoError(t, pool.QueryRow(sys.Ctx, `SELECT count(*), count(DISTINCT step_uuid) FROM e2e_executions`).Scan(&executions, &distinct))
	require.NoError(t, pool.QueryRow(sys.Ctx, `SELECT count(*) FROM (SELECT step_uuid FROM e2e_executions GROUP BY step_uuid HAVING count(*) > 1) x`).Scan(&repeated))
	require.Equal(t, wantSteps, steps, "every step of every task completed")
	require.Equal(t, wantSteps, distinct, "every step was executed")
	require.Zero(t, repeated, "no step was executed twice")
	require.Equal(t, wantSteps, executions)
	for _, w := range sys.Workers {
		require.Positive(t, w.Stats().Recorded, "worker %s took part", w.WorkerID())
	}
	// Reported, not asserted (speed belongs to benchmarks): server-side
	// steps/s from the first task created to the last one completed.
	var secs float64
	require.NoError(t, pool.QueryRow(sys.Ctx, `SELECT extract(epoch FROM max(completed_at) - min(created_at))::float8
		FROM tasks WHERE initiator = 'scale-test'`).Scan(&secs))
	if secs > 0 {
		t.Logf("%d tasks, %d steps in %.2f s: %.0f steps/s (first created_at to last completed_at)",
			total, wantSteps, secs, float64(wantSteps)/secs)
	}
}
