package state

import (
	"slices"
)

// StepState is the current state of a workflow step.
type StepState string

// The 10 step states.
const (
	StepPending                         StepState = "pending"
	StepEnqueued                        StepState = "enqueued"
	StepInProgress                      StepState = "in_progress"
	StepEnqueuedForOrchestration        StepState = "enqueued_for_orchestration"
	StepEnqueuedAsErrorForOrchestration StepState = "enqueued_as_error_for_orchestration"
	StepWaitingForRetry                 StepState = "waiting_for_retry" //nolint:gosec // a state name, not a credential
	StepComplete                        StepState = "complete"
	StepError                           StepState = "error"
	StepCancelled                       StepState = "cancelled"
	StepResolvedManually                StepState = "resolved_manually"
)

// StepStates lists every step state in lifecycle order.
var StepStates = []StepState{
	StepPending, StepEnqueued, StepInProgress, StepEnqueuedForOrchestration,
	StepEnqueuedAsErrorForOrchestration, StepWaitingForRetry, StepComplete,
	StepError, StepCancelled, StepResolvedManually,
}

// Valid reports whether s is one of the 10 step states.
func (s StepState) Valid() bool { return slices.Contains(StepStates, s) }

// Terminal reports whether no transition leaves s. A step in error is not
// terminal: an operator may reset it for retry.
func (s StepState) Terminal() bool {
	switch s {
	case StepComplete, StepCancelled, StepResolvedManually:
		return true
	}
	return false
}

// SatisfiesDependents reports whether a parent in state s lets its children
// run.
func (s StepState) SatisfiesDependents() bool {
	return s == StepComplete || s == StepResolvedManually
}

// StepEvent names why a step changes state. It is recorded in the history.
type StepEvent string

// Step events.
const (
	StepEventEnqueue                        StepEvent = "enqueue"
	StepEventStart                          StepEvent = "start"
	StepEventEnqueueForOrchestration        StepEvent = "enqueue_for_orchestration"
	StepEventEnqueueAsErrorForOrchestration StepEvent = "enqueue_as_error_for_orchestration"
	StepEventComplete                       StepEvent = "complete"
	StepEventFail                           StepEvent = "fail"
	StepEventWaitForRetry                   StepEvent = "wait_for_retry"
	StepEventRetry                          StepEvent = "retry"
	StepEventResetForRetry                  StepEvent = "reset_for_retry"
	StepEventCancel                         StepEvent = "cancel"
	StepEventResolveManually                StepEvent = "resolve_manually"
	StepEventCompleteManually               StepEvent = "complete_manually"
	// StepEventStalenessTimeout fails a step that had not finished when the
	// staleness detector moved its task to error, so an operator can reset
	// it for retry.
	StepEventStalenessTimeout StepEvent = "staleness_timeout"
)

// StepTransition is one allowed move of the step machine.
type StepTransition struct {
	From  StepState
	Event StepEvent
	To    StepState
}

// stepTransitions is tasker-core's step guard table. The
// legacy direct moves (pending→in_progress, in_progress→complete/error) are
// left out: nothing here drives them. wait_for_retry from in_progress is kept:
// it records a claim that expired because its worker died. staleness_timeout
// (ours) moves every unfinished step to error when the staleness detector
// fails its task.
var stepTransitions = func() []StepTransition {
	t := []StepTransition{
		{StepPending, StepEventEnqueue, StepEnqueued},
		{StepEnqueued, StepEventStart, StepInProgress},
		{StepInProgress, StepEventEnqueueForOrchestration, StepEnqueuedForOrchestration},
		{StepInProgress, StepEventEnqueueAsErrorForOrchestration, StepEnqueuedAsErrorForOrchestration},
		{StepEnqueuedForOrchestration, StepEventComplete, StepComplete},
		{StepEnqueuedForOrchestration, StepEventFail, StepError},
		{StepEnqueuedAsErrorForOrchestration, StepEventWaitForRetry, StepWaitingForRetry},
		{StepEnqueuedAsErrorForOrchestration, StepEventFail, StepError},
		{StepEnqueuedAsErrorForOrchestration, StepEventComplete, StepComplete},
		{StepWaitingForRetry, StepEventRetry, StepPending},
		{StepError, StepEventRetry, StepPending},
		{StepError, StepEventResetForRetry, StepPending},
		{StepInProgress, StepEventWaitForRetry, StepWaitingForRetry},
		{StepEnqueued, StepEventWaitForRetry, StepWaitingForRetry},
		{StepPending, StepEventWaitForRetry, StepWaitingForRetry},
	}
	for _, s := range StepStates {
		if !s.Terminal() && s != StepError {
			t = append(t, StepTransition{s, StepEventStalenessTimeout, StepError})
		}
	}
	for _, s := range StepStates {
		if s.Terminal() {
			continue
		}
		t = append(t,
			StepTransition{s, StepEventCancel, StepCancelled},
			StepTransition{s, StepEventResolveManually, StepResolvedManually},
			StepTransition{s, StepEventCompleteManually, StepComplete},
		)
	}
	return t
}()

// StepTransitions returns a copy of every allowed step transition.
func StepTransitions() []StepTransition { return slices.Clone(stepTransitions) }

// NextStep returns the state that event ev moves a step in state from to, or
// an *InvalidTransitionError when the machine does not allow it.
func NextStep(from StepState, ev StepEvent) (StepState, error) {
	for _, t := range stepTransitions {
		if t.From == from && t.Event == ev {
			return t.To, nil
		}
	}
	return "", &InvalidTransitionError{Machine: "step", From: string(from), Event: string(ev)}
}

// StepSourcesFor returns every state from which event ev is allowed, in
// lifecycle order. The store uses it to build the `state = ANY(...)` guard of
// a compare-and-swap.
func StepSourcesFor(ev StepEvent) []StepState {
	var out []StepState
	for _, s := range StepStates {
		if _, err := NextStep(s, ev); err == nil {
			out = append(out, s)
		}
	}
	return out
}

// TaskSourcesFor returns every task state from which event ev is allowed.
func TaskSourcesFor(ev TaskEvent) []TaskState {
	var out []TaskState
	for _, s := range TaskStates {
		if _, err := NextTask(s, ev); err == nil {
			out = append(out, s)
		}
	}
	return out
}
