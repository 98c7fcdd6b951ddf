package state

import (
	"fmt"
	"slices"
)

// TaskState is the current state of a task.
type TaskState string

// The 12 task states.
const (
	TaskPending                TaskState = "pending"
	TaskInitializing           TaskState = "initializing"
	TaskEnqueuingSteps         TaskState = "enqueuing_steps"
	TaskStepsInProcess         TaskState = "steps_in_process"
	TaskEvaluatingResults      TaskState = "evaluating_results"
	TaskWaitingForDependencies TaskState = "waiting_for_dependencies"
	TaskWaitingForRetry        TaskState = "waiting_for_retry"
	TaskBlockedByFailures      TaskState = "blocked_by_failures"
	TaskComplete               TaskState = "complete"
	TaskError                  TaskState = "error"
	TaskCancelled              TaskState = "cancelled"
	TaskResolvedManually       TaskState = "resolved_manually"
)

// TaskStates lists every task state in lifecycle order.
var TaskStates = []TaskState{
	TaskPending, TaskInitializing, TaskEnqueuingSteps, TaskStepsInProcess,
	TaskEvaluatingResults, TaskWaitingForDependencies, TaskWaitingForRetry,
	TaskBlockedByFailures, TaskComplete, TaskError, TaskCancelled, TaskResolvedManually,
}

// Valid reports whether s is one of the 12 task states.
func (s TaskState) Valid() bool { return slices.Contains(TaskStates, s) }

// Terminal reports whether no transition leaves s.
func (s TaskState) Terminal() bool {
	switch s {
	case TaskComplete, TaskError, TaskCancelled, TaskResolvedManually:
		return true
	}
	return false
}

// Active reports whether s is one of the states in which orchestration is
// working on the task right now (a crashed instance can leave a task here;
// the reconciler re-drives such tasks).
func (s TaskState) Active() bool {
	switch s {
	case TaskInitializing, TaskEnqueuingSteps, TaskEvaluatingResults:
		return true
	}
	return false
}

// Waiting reports whether s is a state in which the task waits for something
// outside orchestration (a worker, a retry delay, an operator).
func (s TaskState) Waiting() bool {
	switch s {
	case TaskStepsInProcess, TaskWaitingForDependencies, TaskWaitingForRetry, TaskBlockedByFailures:
		return true
	}
	return false
}

// TaskEvent names why a task changes state. It is recorded in the history.
type TaskEvent string

// Task events.
const (
	TaskEventStart               TaskEvent = "start"
	TaskEventReadyStepsFound     TaskEvent = "ready_steps_found"
	TaskEventNoStepsFound        TaskEvent = "no_steps_found"
	TaskEventNoDependenciesReady TaskEvent = "no_dependencies_ready"
	TaskEventStepsEnqueued       TaskEvent = "steps_enqueued"
	TaskEventEnqueueFailed       TaskEvent = "enqueue_failed"
	TaskEventStepCompleted       TaskEvent = "step_completed"
	TaskEventStepFailed          TaskEvent = "step_failed"
	TaskEventAllStepsSuccessful  TaskEvent = "all_steps_successful"
	TaskEventPermanentFailure    TaskEvent = "permanent_failure"
	TaskEventRetryScheduled      TaskEvent = "retry_scheduled"
	TaskEventDependenciesReady   TaskEvent = "dependencies_ready"
	TaskEventRetryReady          TaskEvent = "retry_ready"
	TaskEventGiveUp              TaskEvent = "give_up"
	TaskEventManualResolution    TaskEvent = "manual_resolution"
	TaskEventCancel              TaskEvent = "cancel"
	TaskEventResolveManually     TaskEvent = "resolve_manually"
	TaskEventStalenessTimeout    TaskEvent = "staleness_timeout"
	TaskEventReenqueue           TaskEvent = "reenqueue"
)

// TaskTransition is one allowed move of the task machine.
type TaskTransition struct {
	From  TaskState
	Event TaskEvent
	To    TaskState
}

// taskTransitions is the task machine. It is tasker-core's guard table
// without the legacy shortcuts no code path uses, plus the
// moves tasker-core declared but never drove and we do:
//   - evaluating_results --retry_scheduled--> waiting_for_retry: a step is in
//     retry backoff and nothing else is in flight;
//   - waiting states --staleness_timeout--> error: the staleness detector;
//   - error/blocked --reenqueue--> evaluating_results: an operator fixed a
//     step and the task is re-driven at once.
var taskTransitions = func() []TaskTransition {
	t := []TaskTransition{
		{TaskPending, TaskEventStart, TaskInitializing},
		{TaskInitializing, TaskEventReadyStepsFound, TaskEnqueuingSteps},
		{TaskInitializing, TaskEventNoStepsFound, TaskComplete},
		{TaskInitializing, TaskEventNoDependenciesReady, TaskWaitingForDependencies},
		{TaskEnqueuingSteps, TaskEventStepsEnqueued, TaskStepsInProcess},
		{TaskEnqueuingSteps, TaskEventEnqueueFailed, TaskError},
		{TaskStepsInProcess, TaskEventStepCompleted, TaskEvaluatingResults},
		{TaskStepsInProcess, TaskEventStepFailed, TaskWaitingForRetry},
		{TaskEvaluatingResults, TaskEventAllStepsSuccessful, TaskComplete},
		{TaskEvaluatingResults, TaskEventReadyStepsFound, TaskEnqueuingSteps},
		{TaskEvaluatingResults, TaskEventNoDependenciesReady, TaskWaitingForDependencies},
		{TaskEvaluatingResults, TaskEventPermanentFailure, TaskBlockedByFailures},
		{TaskEvaluatingResults, TaskEventRetryScheduled, TaskWaitingForRetry},
		{TaskWaitingForDependencies, TaskEventDependenciesReady, TaskEvaluatingResults},
		{TaskWaitingForRetry, TaskEventRetryReady, TaskEnqueuingSteps},
		{TaskBlockedByFailures, TaskEventGiveUp, TaskError},
		{TaskBlockedByFailures, TaskEventManualResolution, TaskResolvedManually},
		{TaskBlockedByFailures, TaskEventReenqueue, TaskEvaluatingResults},
		{TaskError, TaskEventReenqueue, TaskEvaluatingResults},
		{TaskWaitingForDependencies, TaskEventStalenessTimeout, TaskError},
		{TaskWaitingForRetry, TaskEventStalenessTimeout, TaskError},
		{TaskStepsInProcess, TaskEventStalenessTimeout, TaskError},
		{TaskBlockedByFailures, TaskEventStalenessTimeout, TaskError},
	}
	for _, s := range TaskStates {
		if s.Terminal() {
			continue
		}
		t = append(t,
			TaskTransition{s, TaskEventCancel, TaskCancelled},
			TaskTransition{s, TaskEventResolveManually, TaskResolvedManually},
		)
	}
	return t
}()

// TaskTransitions returns a copy of every allowed task transition.
func TaskTransitions() []TaskTransition { return slices.Clone(taskTransitions) }

// NextTask returns the state that event ev moves a task in state from to, or
// an *InvalidTransitionError when the machine does not allow it.
func NextTask(from TaskState, ev TaskEvent) (TaskState, error) {
	for _, t := range taskTransitions {
		if t.From == from && t.Event == ev {
			return t.To, nil
		}
	}
	return "", &InvalidTransitionError{Machine: "task", From: string(from), Event: string(ev)}
}

// TaskEventFor returns the event that moves a task directly from one state to
// another, and whether such a transition exists.
func TaskEventFor(from, to TaskState) (TaskEvent, bool) {
	for _, t := range taskTransitions {
		if t.From == from && t.To == to {
			return t.Event, true
		}
	}
	return "", false
}

// pathExcluded are events TaskPath never uses: they record a specific
// decision (an operator's, the staleness detector's, a failed enqueue) and
// are applied with NextTask by the code that made it.
var pathExcluded = map[TaskEvent]bool{
	TaskEventStalenessTimeout: true,
	TaskEventEnqueueFailed:    true,
	TaskEventCancel:           true,
	TaskEventResolveManually:  true,
	TaskEventManualResolution: true,
}

// TaskPath returns the shortest chain of allowed transitions that takes a task
// from one state to another, or nil when to is not reachable (or equals from).
//
// Orchestration is state driven: after a batch of results it decides where a
// task should be (say, steps_in_process because new steps were enqueued) and
// records the legal path there, so the history always reads as a valid walk of
// the machine whatever state a concurrent event left the task in. Terminal
// states are never intermediate hops.
func TaskPath(from, to TaskState) []TaskTransition {
	if from == to {
		return nil
	}
	type node struct {
		state TaskState
		path  []TaskTransition
	}
	seen := map[TaskState]bool{from: true}
	queue := []node{{state: from}}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		for _, t := range taskTransitions {
			if t.From != n.state || seen[t.To] {
				continue
			}
			if pathExcluded[t.Event] || (t.To != to && t.To.Terminal()) {
				continue
			}
			p := append(slices.Clone(n.path), t)
			if t.To == to {
				return p
			}
			seen[t.To] = true
			queue = append(queue, node{state: t.To, path: p})
		}
	}
	return nil
}

// InvalidTransitionError reports an event that the machine does not allow in
// the current state.
type InvalidTransitionError struct {
	Machine string
	From    string
	Event   string
}

func (e *InvalidTransitionError) Error() string {
	return fmt.Sprintf("%s state machine: event %q is not allowed in state %q", e.Machine, e.Event, e.From)
}
