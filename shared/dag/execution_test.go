package dag_test

import (
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/dag"
	"github.com/tasker-go/tasker/shared/state"
)

func TestClassifyPrecedence(t *testing.T) {
	for _, tc := range []struct {
		c    dag.StepCounts
		want dag.ExecutionStatus
	}{
		{dag.StepCounts{Total: 3, Failed: 1, Ready: 1, InProgress: 1}, dag.StatusBlockedByFailures},
		{dag.StepCounts{Total: 3, Ready: 1, InProgress: 1}, dag.StatusHasReadySteps},
		{dag.StepCounts{Total: 3, EnqueuedAsErrorForOrchestration: 1, Pending: 2}, dag.StatusProcessing},
		{dag.StepCounts{Total: 2, Completed: 2}, dag.StatusAllComplete},
		{dag.StepCounts{Total: 2, Completed: 1, WaitingForRetry: 1}, dag.StatusWaitingForDependencies},
		{dag.StepCounts{}, dag.StatusWaitingForDependencies},
	} {
		require.Equal(t, tc.want, tc.c.Classify(), "%+v", tc.c)
	}
}

func TestTargetState(t *testing.T) {
	for _, tc := range []struct {
		current state.TaskState
		c       dag.StepCounts
		reopen  bool
		want    state.TaskState
	}{
		{state.TaskStepsInProcess, dag.StepCounts{Total: 2, Failed: 1, InProgress: 1}, false, state.TaskBlockedByFailures},
		{state.TaskBlockedByFailures, dag.StepCounts{Total: 2, Failed: 1, Completed: 1}, false, state.TaskError},
		{state.TaskPending, dag.StepCounts{Total: 1, Pending: 1, Ready: 1}, false, state.TaskStepsInProcess},
		{state.TaskStepsInProcess, dag.StepCounts{Total: 1, Enqueued: 1}, false, state.TaskStepsInProcess},
		{state.TaskStepsInProcess, dag.StepCounts{Total: 1, Completed: 1}, false, state.TaskComplete},
		{state.TaskPending, dag.StepCounts{}, false, state.TaskComplete},
		{state.TaskStepsInProcess, dag.StepCounts{Total: 2, Completed: 1, WaitingForRetry: 1}, false, state.TaskWaitingForRetry},
		{state.TaskStepsInProcess, dag.StepCounts{Total: 2, Completed: 1, Pending: 1}, false, state.TaskWaitingForDependencies},
		{state.TaskComplete, dag.StepCounts{Total: 1, Pending: 1, Ready: 1}, true, state.TaskComplete},
		{state.TaskError, dag.StepCounts{Total: 1, Pending: 1, Ready: 1}, false, state.TaskError},
		{state.TaskError, dag.StepCounts{Total: 1, Pending: 1, Ready: 1}, true, state.TaskStepsInProcess},
	} {
		require.Equal(t, tc.want, dag.TargetState(tc.current, tc.c, tc.reopen), "%s %+v reopen=%v", tc.current, tc.c, tc.reopen)
	}
}

func TestExecutionContexts(t *testing.T) {
	a, b, idle := uuid.New(), uuid.New(), uuid.New()
	ecs := dag.ExecutionContexts(map[uuid.UUID]state.TaskState{a: state.TaskStepsInProcess, b: state.TaskBlockedByFailures,
		idle: state.TaskPending}, []dag.StepStatus{
		{TaskUUID: a, State: state.StepComplete}, {TaskUUID: a, State: state.StepPending, Ready: true},
		{TaskUUID: a, State: state.StepWaitingForRetry},
		{TaskUUID: b, State: state.StepError}, {TaskUUID: b, State: state.StepResolvedManually},
		{TaskUUID: uuid.New(), State: state.StepPending, Ready: true}, // another task: ignored
	})
	require.Len(t, ecs, 3)
	ea := ecs[a]
	require.Equal(t, dag.StepCounts{Total: 3, Pending: 1, WaitingForRetry: 1, Completed: 1, Ready: 1}, ea.StepCounts)
	require.Equal(t, dag.StatusHasReadySteps, ea.ExecutionStatus)
	require.Equal(t, "execute_ready_steps", ea.RecommendedAction)
	require.InDelta(t, 33.33, ea.CompletionPercentage, 0.001)
	require.Equal(t, "recovering", ea.HealthStatus)
	eb := ecs[b]
	require.Equal(t, dag.StatusBlockedByFailures, eb.ExecutionStatus)
	require.Equal(t, "handle_failures", eb.RecommendedAction)
	require.Equal(t, "blocked", eb.HealthStatus)
	require.InDelta(t, 50.0, eb.CompletionPercentage, 0.001)
	ei := ecs[idle]
	require.Equal(t, state.TaskPending, ei.Status)
	require.Zero(t, ei.Total)
	require.Equal(t, "healthy", ei.HealthStatus)
	require.Equal(t, "wait_for_dependencies", ei.RecommendedAction)
}
