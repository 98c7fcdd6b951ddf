package state

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var allTaskEvents = []TaskEvent{
	TaskEventStart, TaskEventReadyStepsFound, TaskEventNoStepsFound, TaskEventNoDependenciesReady,
	TaskEventStepsEnqueued, TaskEventEnqueueFailed, TaskEventStepCompleted, TaskEventStepFailed,
	TaskEventAllStepsSuccessful, TaskEventPermanentFailure, TaskEventRetryScheduled,
	TaskEventDependenciesReady, TaskEventRetryReady, TaskEventGiveUp, TaskEventManualResolution,
	TaskEventCancel, TaskEventResolveManually, TaskEventStalenessTimeout, TaskEventReenqueue,
}

var allStepEvents = []StepEvent{
	StepEventEnqueue, StepEventStart, StepEventEnqueueForOrchestration,
	StepEventEnqueueAsErrorForOrchestration, StepEventComplete, StepEventFail,
	StepEventWaitForRetry, StepEventRetry, StepEventResetForRetry, StepEventCancel,
	StepEventResolveManually, StepEventCompleteManually, StepEventStalenessTimeout,
}

// expectedTask is written out by hand from tasker-core's task state machine (plus our documented
// additions) so that a change to the machine must change this table too.
var expectedTask = map[string]TaskState{
	"pending/start":                               TaskInitializing,
	"initializing/ready_steps_found":              TaskEnqueuingSteps,
	"initializing/no_steps_found":                 TaskComplete,
	"initializing/no_dependencies_ready":          TaskWaitingForDependencies,
	"enqueuing_steps/steps_enqueued":              TaskStepsInProcess,
	"enqueuing_steps/enqueue_failed":              TaskError,
	"steps_in_process/step_completed":             TaskEvaluatingResults,
	"steps_in_process/step_failed":                TaskWaitingForRetry,
	"steps_in_process/staleness_timeout":          TaskError,
	"evaluating_results/all_steps_successful":     TaskComplete,
	"evaluating_results/ready_steps_found":        TaskEnqueuingSteps,
	"evaluating_results/no_dependencies_ready":    TaskWaitingForDependencies,
	"evaluating_results/permanent_failure":        TaskBlockedByFailures,
	"evaluating_results/retry_scheduled":          TaskWaitingForRetry,
	"waiting_for_dependencies/dependencies_ready": TaskEvaluatingResults,
	"waiting_for_dependencies/staleness_timeout":  TaskError,
	"waiting_for_retry/retry_ready":               TaskEnqueuingSteps,
	"waiting_for_retry/staleness_timeout":         TaskError,
	"blocked_by_failures/give_up":                 TaskError,
	"blocked_by_failures/manual_resolution":       TaskResolvedManually,
	"blocked_by_failures/reenqueue":               TaskEvaluatingResults,
	"blocked_by_failures/staleness_timeout":       TaskError,
	"error/reenqueue":                             TaskEvaluatingResults,
}

func init() {
	for _, s := range []TaskState{TaskPending, TaskInitializing, TaskEnqueuingSteps, TaskStepsInProcess,
		TaskEvaluatingResults, TaskWaitingForDependencies, TaskWaitingForRetry, TaskBlockedByFailures} {
		expectedTask[string(s)+"/cancel"] = TaskCancelled
		expectedTask[string(s)+"/resolve_manually"] = TaskResolvedManually
	}
}

func TestTaskMachineEveryPair(t *testing.T) {
	require.Len(t, TaskStates, 12)
	allowed := 0
	for _, from := range TaskStates {
		for _, ev := range allTaskEvents {
			key := fmt.Sprintf("%s/%s", from, ev)
			t.Run(key, func(t *testing.T) {
				got, err := NextTask(from, ev)
				want, ok := expectedTask[key]
				if ok {
					require.NoError(t, err)
					require.Equal(t, want, got)
					return
				}
				var inv *InvalidTransitionError
				require.True(t, errors.As(err, &inv), "forbidden pair must be rejected")
				require.Equal(t, "task", inv.Machine)
				require.Contains(t, err.Error(), string(from))
			})
			if _, ok := expectedTask[key]; ok {
				allowed++
			}
		}
	}
	require.Equal(t, len(expectedTask), allowed)
	require.Len(t, TaskTransitions(), len(expectedTask))
}

func TestTaskTerminalStatesHaveNoExit(t *testing.T) {
	for _, s := range TaskStates {
		for _, ev := range allTaskEvents {
			if _, err := NextTask(s, ev); err == nil && s.Terminal() && s != TaskError {
				t.Fatalf("terminal state %s allows %s", s, ev)
			}
		}
	}
	require.True(t, TaskComplete.Terminal())
	require.True(t, TaskCancelled.Terminal())
	require.False(t, TaskBlockedByFailures.Terminal())
	require.False(t, TaskState("bogus").Valid())
}

var expectedStep = map[string]StepState{
	"pending/enqueue":                                    StepEnqueued,
	"enqueued/start":                                     StepInProgress,
	"in_progress/enqueue_for_orchestration":              StepEnqueuedForOrchestration,
	"in_progress/enqueue_as_error_for_orchestration":     StepEnqueuedAsErrorForOrchestration,
	"enqueued_for_orchestration/complete":                StepComplete,
	"enqueued_for_orchestration/fail":                    StepError,
	"enqueued_as_error_for_orchestration/wait_for_retry": StepWaitingForRetry,
	"enqueued_as_error_for_orchestration/fail":           StepError,
	"enqueued_as_error_for_orchestration/complete":       StepComplete,
	"waiting_for_retry/retry":                            StepPending,
	"error/retry":                                        StepPending,
	"error/reset_for_retry":                              StepPending,
	"in_progress/wait_for_retry":                         StepWaitingForRetry,
	"enqueued/wait_for_retry":                            StepWaitingForRetry,
	"pending/wait_for_retry":                             StepWaitingForRetry,
}

func init() {
	for _, s := range []StepState{StepPending, StepEnqueued, StepInProgress, StepEnqueuedForOrchestration,
		StepEnqueuedAsErrorForOrchestration, StepWaitingForRetry, StepError} {
		expectedStep[string(s)+"/cancel"] = StepCancelled
		expectedStep[string(s)+"/resolve_manually"] = StepResolvedManually
		expectedStep[string(s)+"/complete_manually"] = StepComplete
		if s != StepError {
			expectedStep[string(s)+"/staleness_timeout"] = StepError
		}
	}
}

func TestStepMachineEveryPair(t *testing.T) {
	require.Len(t, StepStates, 10)
	for _, from := range StepStates {
		for _, ev := range allStepEvents {
			key := fmt.Sprintf("%s/%s", from, ev)
			t.Run(key, func(t *testing.T) {
				got, err := NextStep(from, ev)
				if want, ok := expectedStep[key]; ok {
					require.NoError(t, err)
					require.Equal(t, want, got)
					return
				}
				var inv *InvalidTransitionError
				require.True(t, errors.As(err, &inv), "forbidden pair must be rejected")
				require.Equal(t, "step", inv.Machine)
			})
		}
	}
	require.Len(t, StepTransitions(), len(expectedStep))
}

func TestStepTerminalAndDependents(t *testing.T) {
	for _, s := range StepStates {
		if !s.Terminal() {
			continue
		}
		for _, ev := range allStepEvents {
			_, err := NextStep(s, ev)
			require.Error(t, err, "%s must not allow %s", s, ev)
		}
	}
	require.False(t, StepError.Terminal(), "error can be reset by an operator")
	require.True(t, StepComplete.SatisfiesDependents())
	require.True(t, StepResolvedManually.SatisfiesDependents())
	require.False(t, StepError.SatisfiesDependents())
	require.False(t, StepCancelled.SatisfiesDependents())
}

func TestSourcesFor(t *testing.T) {
	require.Equal(t, []StepState{StepPending}, StepSourcesFor(StepEventEnqueue))
	require.Equal(t, []StepState{StepEnqueuedForOrchestration, StepEnqueuedAsErrorForOrchestration},
		StepSourcesFor(StepEventComplete))
	require.Len(t, TaskSourcesFor(TaskEventCancel), 8)
}

func TestTaskPath(t *testing.T) {
	cases := []struct {
		from, to TaskState
		want     []TaskEvent
	}{
		{TaskPending, TaskStepsInProcess, []TaskEvent{TaskEventStart, TaskEventReadyStepsFound, TaskEventStepsEnqueued}},
		{TaskStepsInProcess, TaskComplete, []TaskEvent{TaskEventStepCompleted, TaskEventAllStepsSuccessful}},
		{TaskStepsInProcess, TaskStepsInProcess, nil},
		{TaskStepsInProcess, TaskBlockedByFailures, []TaskEvent{TaskEventStepCompleted, TaskEventPermanentFailure}},
		{TaskWaitingForRetry, TaskEvaluatingResults, []TaskEvent{TaskEventRetryReady, TaskEventStepsEnqueued, TaskEventStepCompleted}},
		{TaskPending, TaskComplete, []TaskEvent{TaskEventStart, TaskEventNoStepsFound}},
		{TaskBlockedByFailures, TaskError, []TaskEvent{TaskEventGiveUp}},
		{TaskError, TaskStepsInProcess, []TaskEvent{TaskEventReenqueue, TaskEventReadyStepsFound, TaskEventStepsEnqueued}},
		{TaskComplete, TaskPending, nil},
		{TaskStepsInProcess, TaskError, []TaskEvent{TaskEventStepCompleted, TaskEventPermanentFailure, TaskEventGiveUp}},
		{TaskStepsInProcess, TaskCancelled, nil},
		{TaskStepsInProcess, TaskWaitingForRetry, []TaskEvent{TaskEventStepFailed}},
		{TaskEvaluatingResults, TaskWaitingForRetry, []TaskEvent{TaskEventRetryScheduled}},
		{TaskCancelled, TaskStepsInProcess, nil},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s->%s", c.from, c.to), func(t *testing.T) {
			path := TaskPath(c.from, c.to)
			var evs []TaskEvent
			cur := c.from
			for _, tr := range path {
				require.Equal(t, cur, tr.From)
				next, err := NextTask(tr.From, tr.Event)
				require.NoError(t, err)
				require.Equal(t, tr.To, next)
				cur = next
				evs = append(evs, tr.Event)
			}
			require.Equal(t, c.want, evs)
		})
	}
}
