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
	for i := range cores {
		cores[i], err = New(Options{Store: st, Queue: q, ConnConfig: connCfg,
			Config: *config.Default(config.ContextOrchestration).Orchestration,
			Logger: slog.New(slog.DiscardHandler), Registerer: prometheus.NewRegistry()})
		require.NoError(t, err)
	}
	task, err := cores[0].CreateTask(ctx, TaskRequest{Namespace: "conditional_approval_rust", Name: "approval_routing",
		Version: "1.0.0", Context: json.RawMessage(`{"amount": 10000, "requester": "r", "purpose": "p"}`)})
	require.NoError(t, err)

	// runStep claims the one enqueued step, reports value for it and
	// returns the result message.
	runStep := func(name string, value string) store.ResultMessage {
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
		return store.ResultMessage{MessageID: rm[0].ID, ReadCount: rm[0].ReadCount, TaskUUID: cs.Task.UUID, StepUUID: cs.Step.UUID}
	}
	msg := runStep("validate_request", `{"amount": 10000}`)
	_, err = st.ProcessResults(ctx, []store.ResultMessage{msg}, cores[0].decide)
	require.NoError(t, err)
	msg = runStep("routing_decision",
		`{"decision_point_outcome": {"type": "create_steps", "step_names": ["manager_approval", "finance_review"]}}`)

	var wg sync.WaitGroup
	outs := make([]store.ProcessOutcome, len(cores))
	errs := make([]error, len(cores))
	start := make(chan struct{})
	for i, c := range cores {
		wg.Go(func() {
			<-start
			outs[i], errs[i] = st.ProcessResults(ctx, []store.ResultMessage{msg}, c.decide)
		})
	}
	close(start)
	wg.Wait()
	require.NoError(t, errs[0])
	require.NoError(t, errs[1])
	require.Equal(t, 3, outs[0].StepsCreated+outs[1].StepsCreated, "manager_approval, finance_review, finalize_approval")
	require.Equal(t, 1, outs[0].Duplicate+outs[1].Duplicate)

	again, err := st.ProcessResults(ctx, []store.ResultMessage{msg}, cores[1].decide)
	require.NoError(t, err)
	require.Zero(t, again.StepsCreated, "a redelivered decision result creates nothing")
	require.Equal(t, 1, again.Duplicate)

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
