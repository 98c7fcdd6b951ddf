package orchestration

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/batch"
	"github.com/tasker-go/tasker/shared/config"
	"github.com/tasker-go/tasker/shared/messaging"
	"github.com/tasker-go/tasker/shared/messaging/pgqueue"
	"github.com/tasker-go/tasker/shared/state"
	"github.com/tasker-go/tasker/shared/stepresult"
	"github.com/tasker-go/tasker/shared/store"
	"github.com/tasker-go/tasker/shared/template"
	"github.com/tasker-go/tasker/shared/testdb"
)

// TestBatchResultRacingOrchestrators: two orchestrators process the same
// batchable result at the same moment, then it is redelivered. The 50
// workers and the convergence step exist once, each worker is enqueued
// once (parallelism 50), and the redelivery creates nothing.
func TestBatchResultRacingOrchestrators(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	db := testdb.New(t)
	pool := db.Pool(t, 8)
	q, err := pgqueue.New(pgqueue.Config{Pool: pool, Schema: db.Schema})
	require.NoError(t, err)
	st, err := store.New(store.Config{Pool: pool, Queue: q, Schema: db.Schema, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	tpls, err := template.Parse([]byte(`
name: race
namespace_name: batch_race
version: 1.0.0
steps:
  - name: split
    type: batchable
    handler: {callable: split}
  - name: work
    type: batch_worker
    dependencies: [split]
    handler: {callable: work}
    batch_config: {batch_size: 1, parallelism: 50, worker_template: work}
  - name: gather
    type: deferred_convergence
    dependencies: [work]
    handler: {callable: gather}
`), "race.yaml", template.ParseOptions{})
	require.NoError(t, err)
	_, err = st.RegisterTemplates(ctx, tpls)
	require.NoError(t, err)
	queue := messaging.WorkerQueue("batch_race")
	for _, name := range []string{queue, messaging.StepResultsQueue} {
		require.NoError(t, q.Ensure(ctx, name))
	}
	connCfg, err := pgx.ParseConfig(db.URLWithSchema())
	require.NoError(t, err)
	cores := make([]*Core, 2)
	reg := prometheus.NewRegistry()
	for i := range cores {
		cores[i], err = New(Options{Store: st, Queue: q, ConnConfig: connCfg,
			Config: *config.Default(config.ContextOrchestration).Orchestration,
			Logger: slog.New(slog.DiscardHandler), Registerer: reg})
		require.NoError(t, err)
	}
	created, err := cores[0].CreateTask(ctx, TaskRequest{Namespace: "batch_race", Name: "race", Version: "1.0.0"})
	require.NoError(t, err)
	task := created.Task

	// Run split: claim it, report the outcome, take the result message.
	msgs, err := q.Claim(ctx, queue, 10, 30*time.Second)
	require.NoError(t, err)
	require.Len(t, msgs, 1)
	var sm messaging.StepMessage
	require.NoError(t, json.Unmarshal(msgs[0].Payload, &sm))
	claimed, err := st.ClaimSteps(ctx, "w", []store.ClaimRequest{{StepUUID: sm.StepUUID, TaskUUID: sm.TaskUUID,
		MessageID: msgs[0].ID, ReadCount: msgs[0].ReadCount, Deadline: time.Now().Add(30 * time.Second)}})
	require.NoError(t, err)
	cs := claimed.Claimed[0]
	value, err := json.Marshal(map[string]any{batch.ResultField: batch.CreateBatches("work", batch.Plan(50, 1, 50, 0), 50)})
	require.NoError(t, err)
	res, err := json.Marshal(stepresult.Success(cs.Step.UUID, value, nil))
	require.NoError(t, err)
	_, err = st.CompleteSteps(ctx, []store.StepResult{{StepUUID: cs.Step.UUID, TaskUUID: cs.Task.UUID,
		Attempt: cs.Step.Attempts, WorkerID: "w", CorrelationID: cs.Task.CorrelationID, Success: true, Result: res,
		Queue: queue, MessageID: cs.MessageID, ReadCount: cs.ReadCount}})
	require.NoError(t, err)
	rm, err := q.Claim(ctx, messaging.StepResultsQueue, 10, 0)
	require.NoError(t, err)
	require.Len(t, rm, 1)

	var wg sync.WaitGroup
	errs := make([]error, len(cores))
	start := make(chan struct{})
	for i, c := range cores {
		wg.Go(func() {
			<-start
			errs[i] = c.processResults(ctx, rm)
		})
	}
	close(start)
	wg.Wait()
	require.NoError(t, errs[0])
	require.NoError(t, errs[1])
	counter := func(c prometheus.Counter) float64 {
		var m dto.Metric
		require.NoError(t, c.Write(&m))
		return m.GetCounter().GetValue()
	}
	require.Equal(t, 51.0, counter(cores[0].metrics.stepsCreated), "50 workers and gather")
	require.NoError(t, cores[1].processResults(ctx, rm))
	require.Equal(t, 51.0, counter(cores[0].metrics.stepsCreated), "a redelivered batchable result creates nothing")

	steps, err := st.StepReadiness(ctx, []uuid.UUID{task.UUID}, nil)
	require.NoError(t, err)
	require.Len(t, steps, 52)
	enqueued := 0
	for _, s := range steps {
		if s.State == state.StepEnqueued {
			enqueued++
		}
		if s.Name == "gather" {
			require.Len(t, s.Parents, 50)
		}
	}
	require.Equal(t, 50, enqueued)
	depth, err := q.Stats(ctx, queue)
	require.NoError(t, err)
	require.Equal(t, int64(50), depth.Depth, "one message per worker")
}
