package dag

import (
	"math"

	"github.com/google/uuid"

	"github.com/tasker-go/tasker/shared/state"
)

// ExecutionStatus summarises what a task's steps allow next.
type ExecutionStatus string

// Execution statuses, in precedence order.
const (
	StatusBlockedByFailures      ExecutionStatus = "blocked_by_failures"
	StatusHasReadySteps          ExecutionStatus = "has_ready_steps"
	StatusProcessing             ExecutionStatus = "processing"
	StatusAllComplete            ExecutionStatus = "all_complete"
	StatusWaitingForDependencies ExecutionStatus = "waiting_for_dependencies"
)

// StepCounts are a task's steps counted by state.
type StepCounts struct {
	Total                           int
	Pending                         int
	Enqueued                        int
	InProgress                      int
	EnqueuedForOrchestration        int
	EnqueuedAsErrorForOrchestration int
	WaitingForRetry                 int
	Completed                       int
	Failed                          int
	Cancelled                       int
	// Ready counts steps that can be enqueued now.
	Ready int
}

// Processing counts steps out with workers or waiting for orchestration.
func (c StepCounts) Processing() int {
	return c.Enqueued + c.InProgress + c.EnqueuedForOrchestration + c.EnqueuedAsErrorForOrchestration
}

// Add counts one step.
func (c *StepCounts) Add(s state.StepState, ready bool) {
	c.Total++
	switch s {
	case state.StepPending:
		c.Pending++
	case state.StepEnqueued:
		c.Enqueued++
	case state.StepInProgress:
		c.InProgress++
	case state.StepEnqueuedForOrchestration:
		c.EnqueuedForOrchestration++
	case state.StepEnqueuedAsErrorForOrchestration:
		c.EnqueuedAsErrorForOrchestration++
	case state.StepWaitingForRetry:
		c.WaitingForRetry++
	case state.StepComplete, state.StepResolvedManually:
		c.Completed++
	case state.StepError:
		c.Failed++
	case state.StepCancelled:
		c.Cancelled++
	}
	if ready {
		c.Ready++
	}
}

// Classify applies the execution-status precedence. Blocked comes before
// ready: with parallel branches a task can have a permanently failed step and
// a ready one at once, and it must report blocked.
func (c StepCounts) Classify() ExecutionStatus {
	switch {
	case c.Failed > 0:
		return StatusBlockedByFailures
	case c.Ready > 0:
		return StatusHasReadySteps
	case c.Processing() > 0:
		return StatusProcessing
	case c.Total > 0 && c.Completed == c.Total:
		return StatusAllComplete
	default:
		return StatusWaitingForDependencies
	}
}

// ExecutionContext is a task's aggregated progress.
type ExecutionContext struct {
	TaskUUID uuid.UUID
	Status   state.TaskState
	StepCounts
	ExecutionStatus      ExecutionStatus
	RecommendedAction    string
	CompletionPercentage float64
	HealthStatus         string
}

// NewExecutionContext derives the context of counts.
func NewExecutionContext(task uuid.UUID, st state.TaskState, c StepCounts) ExecutionContext {
	ec := ExecutionContext{TaskUUID: task, Status: st, StepCounts: c, ExecutionStatus: c.Classify()}
	switch ec.ExecutionStatus {
	case StatusBlockedByFailures:
		ec.RecommendedAction = "handle_failures"
	case StatusHasReadySteps:
		ec.RecommendedAction = "execute_ready_steps"
	case StatusProcessing:
		ec.RecommendedAction = "wait_for_completion"
	case StatusAllComplete:
		ec.RecommendedAction = "finalize_task"
	default:
		ec.RecommendedAction = "wait_for_dependencies"
	}
	if c.Total > 0 {
		ec.CompletionPercentage = math.Round(float64(c.Completed)/float64(c.Total)*10000) / 100
	}
	switch {
	case c.Failed > 0:
		ec.HealthStatus = "blocked"
	case c.WaitingForRetry > 0:
		ec.HealthStatus = "recovering"
	default:
		ec.HealthStatus = "healthy"
	}
	return ec
}

// TargetState is where a task should be, given its current state and its
// steps. Terminal tasks stay where they are unless reopen is set (an operator
// fixed a step of a task in error). A task with a permanently failed step is
// blocked_by_failures while other steps are still out, and error once nothing
// is left in flight.
func TargetState(current state.TaskState, c StepCounts, reopen bool) state.TaskState {
	if current.Terminal() && !(reopen && current == state.TaskError) {
		return current
	}
	switch c.Classify() {
	case StatusBlockedByFailures:
		if c.Processing() > 0 {
			return state.TaskBlockedByFailures
		}
		return state.TaskError
	case StatusHasReadySteps, StatusProcessing:
		return state.TaskStepsInProcess
	case StatusAllComplete:
		return state.TaskComplete
	default:
		if c.Total == 0 {
			return state.TaskComplete
		}
		if c.WaitingForRetry > 0 {
			return state.TaskWaitingForRetry
		}
		return state.TaskWaitingForDependencies
	}
}

// StepStatus is one step as its task's execution context counts it.
type StepStatus struct {
	TaskUUID uuid.UUID
	State    state.StepState
	// Ready: the step can be enqueued now (StepReadiness).
	Ready bool
}

// ExecutionContexts counts steps into the execution contexts of tasks
// (task id → current state). Steps of other tasks are ignored.
func ExecutionContexts(tasks map[uuid.UUID]state.TaskState, steps []StepStatus) map[uuid.UUID]ExecutionContext {
	counts := make(map[uuid.UUID]StepCounts, len(tasks))
	for _, s := range steps {
		c := counts[s.TaskUUID]
		c.Add(s.State, s.Ready)
		counts[s.TaskUUID] = c
	}
	out := make(map[uuid.UUID]ExecutionContext, len(tasks))
	for id, st := range tasks {
		out[id] = NewExecutionContext(id, st, counts[id])
	}
	return out
}
