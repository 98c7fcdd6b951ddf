package orchestration

import (
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/config"
	"github.com/tasker-go/tasker/shared/messaging"
	"github.com/tasker-go/tasker/shared/messaging/pgqueue"
	"github.com/tasker-go/tasker/shared/state"
	"github.com/tasker-go/tasker/shared/stepresult"
	"github.com/tasker-go/tasker/shared/store"
	"github.com/tasker-go/tasker/shared/template"
	"github.com/tasker-go/tasker/shared/testdb"
)

// TestDecisionResultRacingOrchestrators: two orchestrators (not started:
// the test hands each the same decision result at the same moment) process
// one routing_decision result concurrently, then it is redelivered. Each
// chosen step and the convergence step exist exactly once, and the
// redelivery creates nothing.
func TestDecisionResultRacingOrchestrators(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	db := testdb.New(t)
	pool := db.Pool(t, 8)
	q, err := pgqueue.New(pgqueue.Config{Pool: pool, Schema: db.Schema})
	require.NoError(t, err)
	st, err := store.New(store.Config{Pool: pool, Queue: q, Schema: db.Schema, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	tpls, err := template.ParseFile(filepath.Join(testdb.FixturesDir(t), "task_templates", "rust",
		"conditional_approval_rust.yaml"), template.ParseOptions{})
	require.NoError(t, err)
	_, err = st.RegisterTemplates(ctx, tpls)
	require.NoError(t, err)
	queue := messaging.WorkerQueue("conditional_approval_rust")
	for _, name := range []string{queue, messaging.StepResultsQueue} {
		require.NoError(t, q.Ensure(ctx, name))
	}
	connCfg, err := pgx.ParseConfig(db.URLWithSchema())
	require.NoError(t, err)
	cores := make([]*Core, 2)
	reg := prometheus.NewRegistry() // shared: both count into one series
	for i := range cores {
		cores[i], err = New(Options{Store: st, Queue: q, ConnConfig: connCfg,
			Config: *config.Default(config.ContextOrchestration).Orchestration,
			Logger: slog.New(slog.DiscardHandler), Registerer: reg})
		require.NoError(t, err)
	}
	created, err := cores[0].CreateTask(ctx, TaskRequest{Namespace: "conditional_approval_rust", Name: "approval_routing",
		Version: "1.0.0", Context: json.RawMessage(`{"amount": 10000, "requester": "r", "purpose": "p"}`)})
	require.NoError(t, err)
	task := created.Task

	// runStep claims the one enqueued step, reports value for it and
	// returns the result message.
	runStep := func(name string, value string) messaging.Message {
		t.Helper()
		msgs, err := q.Claim(ctx, queue, 10, 30*time.Second)
		require.NoError(t, err)
		require.Len(t, msgs, 1)
		var sm messaging.StepMessage
		require.NoError(t, json.Unmarshal(msgs[0].Payload, &sm))
		claimed, err := st.ClaimSteps(ctx, "w", []store.ClaimRequest{{StepUUID: sm.StepUUID, TaskUUID: sm.TaskUUID,
			MessageID: msgs[0].ID, ReadCount: msgs[0].ReadCount, Deadline: time.Now().Add(30 * time.Second)}})
		require.NoError(t, err)
		require.Len(t, claimed.Claimed, 1)
		cs := claimed.Claimed[0]
		require.Equal(t, name, cs.Step.Name)
		res, err := json.Marshal(stepresult.Success(cs.Step.UUID, json.RawMessage(value), nil))
		require.NoError(t, err)
		_, err = st.CompleteSteps(ctx, []store.StepResult{{StepUUID: cs.Step.UUID, TaskUUID: cs.Task.UUID,
			Attempt: cs.Step.Attempts, WorkerID: "w", CorrelationID: cs.Task.CorrelationID, Success: true, Result: res,
			Queue: queue, MessageID: cs.MessageID, ReadCount: cs.ReadCount}})
		require.NoError(t, err)
		rm, err := q.Claim(ctx, messaging.StepResultsQueue, 10, 0)
		require.NoError(t, err)
		require.Len(t, rm, 1)
		return rm[0]
	}
	require.NoError(t, cores[0].processResults(ctx, []messaging.Message{runStep("validate_request", `{"amount": 10000}`)}))
	raw := runStep("routing_decision",
		`{"decision_point_outcome": {"type": "create_steps", "step_names": ["manager_approval", "finance_review"]}}`)

	// Both orchestrators' result handlers get the same message at once.
	var wg sync.WaitGroup
	errs := make([]error, len(cores))
	start := make(chan struct{})
	for i, c := range cores {
		wg.Go(func() {
			<-start
			errs[i] = c.processResults(ctx, []messaging.Message{raw})
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
	require.Equal(t, 3.0, counter(cores[0].metrics.stepsCreated), "manager_approval, finance_review, finalize_approval")
	require.Equal(t, 1.0, counter(cores[0].metrics.duplicates), "the second orchestrator found the step processed")

	// Redelivered: nothing is created.
	require.NoError(t, cores[1].processResults(ctx, []messaging.Message{raw}))
	require.Equal(t, 3.0, counter(cores[0].metrics.stepsCreated), "a redelivered decision result creates nothing")
	require.Equal(t, 2.0, counter(cores[0].metrics.duplicates))

	steps, err := st.StepReadiness(ctx, []uuid.UUID{task.UUID}, nil)
	require.NoError(t, err)
	byName := map[string]store.StepReadiness{}
	for _, s := range steps {
		byName[s.Name] = s
	}
	require.Len(t, byName, 5)
	require.Len(t, steps, 5)
	require.Equal(t, state.StepEnqueued, byName["manager_approval"].State)
	require.Equal(t, state.StepEnqueued, byName["finance_review"].State)
	require.Equal(t, state.StepPending, byName["finalize_approval"].State)
	require.Equal(t, []string{"finance_review", "manager_approval"}, byName["finalize_approval"].Parents)
	stats, err := q.Stats(ctx, queue)
	require.NoError(t, err)
	require.EqualValues(t, 2, stats.Visible, "each created branch is enqueued once")
}
