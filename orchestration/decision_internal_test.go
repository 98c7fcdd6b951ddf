package orchestration

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/messaging"
	"github.com/tasker-go/tasker/shared/state"
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
	tpls, err := template.ParseFile(filepath.Join(testdb.FixturesDir(t), "task_templates", "rust",
		"conditional_approval_rust.yaml"), template.ParseOptions{})
	require.NoError(t, err)
	e := newRaceEnv(t, "conditional_approval_rust", tpls)
	created, err := e.cores[0].CreateTask(e.ctx, TaskRequest{Namespace: "conditional_approval_rust", Name: "approval_routing",
		Version: "1.0.0", Context: json.RawMessage(`{"amount": 10000, "requester": "r", "purpose": "p"}`)})
	require.NoError(t, err)
	task := created.Task

	require.NoError(t, processGiven(e.ctx, e.cores[0],
		[]messaging.Message{e.runStep("validate_request", json.RawMessage(`{"amount": 10000}`))}))
	raw := e.runStep("routing_decision",
		json.RawMessage(`{"decision_point_outcome": {"type": "create_steps", "step_names": ["manager_approval", "finance_review"]}}`))

	// Both orchestrators' result handlers get the same message at once.
	e.processAtOnce(raw)
	require.Equal(t, 3.0, e.count(e.cores[0].metrics.stepsCreated), "manager_approval, finance_review, finalize_approval")
	require.Equal(t, 1.0, e.count(e.cores[0].metrics.duplicates), "the second orchestrator found the step processed")

	// Redelivered: nothing is created.
	require.NoError(t, processGiven(e.ctx, e.cores[1], []messaging.Message{raw}))
	require.Equal(t, 3.0, e.count(e.cores[0].metrics.stepsCreated), "a redelivered decision result creates nothing")
	require.Equal(t, 2.0, e.count(e.cores[0].metrics.duplicates))

	steps, err := e.st.StepReadiness(e.ctx, []uuid.UUID{task.UUID}, nil)
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
	stats, err := e.q.Stats(e.ctx, e.queue)
	require.NoError(t, err)
	require.EqualValues(t, 2, stats.Visible, "each created branch is enqueued once")
}
